-- Reading is for monitoring roles; reset and attaching are not for everyone.
CREATE ROLE c5_app LOGIN;
CREATE ROLE c5_monitor LOGIN IN ROLE pg_monitor;
CREATE ROLE c5_stats LOGIN IN ROLE pg_read_all_stats;
GRANT USAGE ON SCHEMA shop TO c5_app;

SET ROLE c5_app;
SELECT count(*) FROM c5metrics.metrics;
SELECT c5metrics.exposition();
SELECT c5metrics.reset();
SELECT c5metrics._tracked_sync('{}', '{}', '{}');
-- a role may not attach someone else's table, nor detach it
\set VERBOSITY terse
SELECT c5metrics.track_leads('shop.public_leads');
SELECT c5metrics.untrack('shop.public_leads');
\set VERBOSITY default
RESET ROLE;

SET ROLE c5_monitor;
SELECT count(*) > 100 AS can_read FROM c5metrics.metrics;
SELECT length(c5metrics.exposition()) > 1000 AS can_render;
SELECT c5metrics.reset();
RESET ROLE;

SET ROLE c5_stats;
SELECT count(*) > 100 AS can_read FROM c5metrics.metrics;
RESET ROLE;

-- A table owner may attach their own table, without any grant on c5metrics.
CREATE SCHEMA app AUTHORIZATION c5_app;
SET ROLE c5_app;
CREATE TABLE app.leads (id serial, email text, source_ip inet);
SELECT c5metrics.track_leads('app.leads');
INSERT INTO app.leads (email, source_ip) VALUES ('x@example.com', '203.0.113.9');
SELECT c5metrics.untrack('app.leads');
RESET ROLE;

-- The guard reads the sales table with the rights of the refunds table's
-- owner: the role inserting refunds needs no privilege on sales (and,
-- not able to read the sale, is not shown its remainder).
CREATE TABLE app_sales (id int PRIMARY KEY, total numeric);
CREATE TABLE app_refunds (id serial, sale_id int, amount numeric, refund_type text,
                          idempotency_key text UNIQUE);
SELECT c5metrics.track_refunds('app_refunds', sales_table => 'app_sales');
INSERT INTO app_sales VALUES (1, 10);
GRANT INSERT ON app_refunds TO c5_app;
GRANT USAGE ON SEQUENCE app_refunds_id_seq TO c5_app;
SET ROLE c5_app;
INSERT INTO app_refunds (sale_id, amount, refund_type, idempotency_key) VALUES (1, 8, 'partial', 'p1');
INSERT INTO app_refunds (sale_id, amount, refund_type, idempotency_key) VALUES (1, 8, 'partial', 'p2');
RESET ROLE;

-- The owner of a refunds table must be able to read the sales table it is
-- guarded against, and lock its rows: attaching says so, with the GRANT
-- to run.
SET ROLE c5_app;
CREATE TABLE app.refunds (id serial, sale_id int, amount numeric, refund_type text,
                          idempotency_key text UNIQUE);
SELECT c5metrics.track_refunds('app.refunds', sales_table => 'app_sales');
RESET ROLE;
-- Read access revoked after attaching: the guard cannot run.  It does
-- not stand aside silently: the refund is refused (55M01), naming the
-- table; with c5metrics.guard_unavailable = count it goes through,
-- counted as a lost event, with a WARNING.
GRANT SELECT ON app_sales TO c5_app;
SET ROLE c5_app;
SELECT c5metrics.track_refunds('app.refunds', sales_table => 'app_sales');
RESET ROLE;
GRANT UPDATE ON app_sales TO c5_app;
SET ROLE c5_app;
SELECT c5metrics.track_refunds('app.refunds', sales_table => 'app_sales');
RESET ROLE;
REVOKE SELECT, UPDATE ON app_sales FROM c5_app;
SELECT c5metrics.reset();
SET ROLE c5_app;
INSERT INTO app.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (1, 80, 'partial', 'q1');
RESET ROLE;
SELECT problem FROM c5metrics.tracked WHERE table_name = 'app.refunds'::regclass;
SET c5metrics.guard_unavailable = count;
SET ROLE c5_app;
INSERT INTO app.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (1, 80, 'partial', 'q1');
INSERT INTO app.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (1, 80, 'partial', 'q2');
RESET ROLE;
RESET c5metrics.guard_unavailable;
SELECT metric, value FROM c5metrics.metrics
 WHERE metric IN ('c5metrics_events_lost_total', 'sale_refund_over_refund_attempts_total');
SELECT c5metrics.untrack('app.refunds');
DROP TABLE app.refunds;

-- Every function written in SQL or PL/pgSQL pins its search_path; only the
-- functions that must are SECURITY DEFINER.
SELECT p.proname, l.lanname
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'c5metrics'::regnamespace
   AND l.lanname IN ('sql', 'plpgsql')
   AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)
 ORDER BY 1;
SELECT proname FROM pg_proc
 WHERE pronamespace = 'c5metrics'::regnamespace AND prosecdef ORDER BY 1;

-- Who may execute what.
SELECT p.proname, has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute
  FROM pg_proc p
 WHERE p.pronamespace = 'c5metrics'::regnamespace
   AND p.proname IN ('read_metrics', 'exposition', 'reset', '_tracked_sync', 'track_sales', 'untrack')
 ORDER BY 1;
