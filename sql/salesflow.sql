-- Which statements count as sales-flow work (flow_transactions_total for
-- the sales flow) even when no row trigger runs: an UPDATE that fails
-- while locking rows must still count against the flow (isolation test
-- "concurrency").  Since 1.2 the library decides this when the executor
-- starts a statement, by PostgreSQL's own rule for BEFORE UPDATE OF
-- triggers; this file pins that rule down statement by statement.
CREATE SCHEMA sf;
CREATE TABLE sf.sales (id int PRIMARY KEY, status text NOT NULL DEFAULT 'pending', note text);
SELECT c5metrics.track_sales('sf.sales');
INSERT INTO sf.sales (id) SELECT g FROM generate_series(1, 20) g;

-- Counts the sales flow's committed transactions since the last reset.
CREATE FUNCTION sf.flow() RETURNS bigint LANGUAGE sql AS $$
  SELECT coalesce(sum(value), 0)::bigint FROM c5metrics.metrics
   WHERE metric = 'flow_transactions_total' AND labels @> '{"flow": "sales"}'
$$;

-- Statements that set the status column count, whether or not a row
-- matches and whether or not the value changes.
SELECT c5metrics.reset();
UPDATE sf.sales SET status = 'paid' WHERE id = 1;
UPDATE sf.sales SET status = status WHERE id = 2;
UPDATE sf.sales SET status = 'paid' WHERE false;
SELECT sf.flow() AS "3 statements";

-- Statements that do not set it, or do not run, do not.
SELECT c5metrics.reset();
UPDATE sf.sales SET note = 'x' WHERE id = 3;
EXPLAIN (COSTS OFF) UPDATE sf.sales SET status = 'paid' WHERE id = 3;
SELECT * FROM sf.sales WHERE id = 3 FOR UPDATE;
INSERT INTO sf.sales (id) VALUES (21);
DELETE FROM sf.sales WHERE id = 21;
SELECT sf.flow() AS "none";

-- EXPLAIN ANALYZE runs the statement: it counts.  (Only its trigger line is
-- shown: the plan's other lines differ between PostgreSQL majors.)
SELECT c5metrics.reset();
CREATE FUNCTION sf.explain_triggers(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
        IF line LIKE 'Trigger %' THEN
            RETURN NEXT line;
        END IF;
    END LOOP;
END $$;
SELECT sf.explain_triggers($$UPDATE sf.sales SET status = 'paid' WHERE id = 4$$);
SELECT sf.flow() AS "1";

-- INSERT ... ON CONFLICT DO UPDATE counts when it sets the status (even
-- when it inserts), as PostgreSQL fires BEFORE UPDATE OF statement
-- triggers for it; DO NOTHING and DO UPDATE of another column do not.
SELECT c5metrics.reset();
INSERT INTO sf.sales (id) VALUES (5) ON CONFLICT (id) DO UPDATE SET status = 'paid';
INSERT INTO sf.sales (id) VALUES (22) ON CONFLICT (id) DO UPDATE SET status = 'paid';
SELECT sf.flow() AS "2";
SELECT c5metrics.reset();
INSERT INTO sf.sales (id) VALUES (6) ON CONFLICT (id) DO UPDATE SET note = 'y';
INSERT INTO sf.sales (id) VALUES (6) ON CONFLICT DO NOTHING;
SELECT sf.flow() AS "none";

-- MERGE: an UPDATE action setting the status counts; INSERT-only does not.
SELECT c5metrics.reset();
MERGE INTO sf.sales s USING (VALUES (7), (23)) v(id) ON s.id = v.id
 WHEN MATCHED THEN UPDATE SET status = 'paid'
 WHEN NOT MATCHED THEN INSERT (id) VALUES (v.id);
SELECT sf.flow() AS "1";
SELECT c5metrics.reset();
MERGE INTO sf.sales s USING (VALUES (24)) v(id) ON s.id = v.id
 WHEN NOT MATCHED THEN INSERT (id) VALUES (v.id);
MERGE INTO sf.sales s USING (VALUES (8)) v(id) ON s.id = v.id
 WHEN MATCHED THEN UPDATE SET note = 'z';
SELECT sf.flow() AS "none";

-- A data-modifying CTE, and an UPDATE run by a function.
SELECT c5metrics.reset();
WITH u AS (UPDATE sf.sales SET status = 'paid' WHERE id = 9 RETURNING id) SELECT count(*) FROM u;
DO $$ BEGIN UPDATE sf.sales SET status = 'paid' WHERE id = 10; END $$;
SELECT sf.flow() AS "2";

-- A trigger that would not fire does not count: disabled, or not firing
-- under session_replication_role = replica.
SELECT c5metrics.reset();
ALTER TABLE sf.sales DISABLE TRIGGER zz_c5metrics_sales;
UPDATE sf.sales SET status = 'paid' WHERE id = 11;
ALTER TABLE sf.sales ENABLE TRIGGER zz_c5metrics_sales;
SET session_replication_role = replica;
UPDATE sf.sales SET status = 'paid' WHERE id = 12;
RESET session_replication_role;
SELECT sf.flow() AS "none";
ALTER TABLE sf.sales ENABLE ALWAYS TRIGGER zz_c5metrics_sales;
SET session_replication_role = replica;
UPDATE sf.sales SET status = 'paid' WHERE id = 12;
RESET session_replication_role;
ALTER TABLE sf.sales ENABLE TRIGGER zz_c5metrics_sales;
SELECT sf.flow() AS "1 (ENABLE ALWAYS)";

-- A PL/pgSQL trigger function and trigger with c5metrics' names are not
-- c5metrics' trigger.
SELECT c5metrics.reset();
CREATE TABLE sf.other (id int PRIMARY KEY, status text);
INSERT INTO sf.other VALUES (1, 'a');
CREATE FUNCTION sf._sales_trigger() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER zz_c5metrics_sales BEFORE UPDATE OF status ON sf.other
  FOR EACH ROW EXECUTE FUNCTION sf._sales_trigger();
UPDATE sf.other SET status = 'b';
SELECT sf.flow() AS "none";

-- Partitions: updating the partitioned table or one partition directly
-- counts; a statement whose partitions are all pruned still does, as the
-- statement trigger of 1.1 did.
CREATE TABLE sf.psales (id int, status text NOT NULL DEFAULT 'pending') PARTITION BY RANGE (id);
CREATE TABLE sf.psales_1 PARTITION OF sf.psales FOR VALUES FROM (0) TO (100);
CREATE TABLE sf.psales_2 PARTITION OF sf.psales FOR VALUES FROM (100) TO (200);
SELECT c5metrics.track_sales('sf.psales');
INSERT INTO sf.psales (id) VALUES (1), (150);
SELECT c5metrics.reset();
UPDATE sf.psales SET status = 'paid' WHERE id = 1;
UPDATE sf.psales_2 SET status = 'paid' WHERE id = 150;
UPDATE sf.psales SET status = 'paid' WHERE id = 500;
SELECT sf.flow() AS "3";
SELECT * FROM nz WHERE metric = 'sales_transition_total';

-- After untrack, nothing counts.
SELECT c5metrics.untrack('sf.sales');
SELECT c5metrics.reset();
UPDATE sf.sales SET status = 'paid' WHERE id = 13;
SELECT sf.flow() AS "none";

DROP SCHEMA sf CASCADE;
