-- Cardinality is bounded by construction.  This instance runs with
-- c5metrics.max_label_values = 16 and c5metrics.max_series = 500.
CREATE TABLE card_sales (id int PRIMARY KEY, status text);
SELECT c5metrics.track_sales('card_sales');
INSERT INTO card_sales SELECT g, 's0' FROM generate_series(1, 3000) g;
SELECT c5metrics.reset();

-- 3000 rows, each to a status of its own.
UPDATE card_sales SET status = 's' || id;

-- At most 16 statuses exist (other, none and 14 values), the series count
-- stays under the cap, and the rest is counted as overflow.
SELECT count(DISTINCT labels ->> 'to_status') <= 16 AS statuses_bounded,
       count(*) <= 500 AS series_bounded,
       sum(value) AS transitions
  FROM c5metrics.metrics WHERE metric = 'sales_transition_total';
SELECT (SELECT value FROM c5metrics.metrics WHERE metric = 'c5metrics_series')
       <= (SELECT value FROM c5metrics.metrics WHERE metric = 'c5metrics_series_limit') AS under_cap;
SELECT labels ->> 'metric' AS metric, value > 0 AS overflowed
  FROM c5metrics.metrics WHERE metric = 'c5metrics_label_overflow_total'
 ORDER BY labels ->> 'metric' COLLATE "C";
SELECT sum(value) AS folded_into_other FROM c5metrics.metrics
 WHERE metric = 'sales_transition_total' AND labels ->> 'to_status' = 'other';

-- Exhaust the series cap: every pair of the 16 interned statuses would
-- need 16 * 15 * 3 = 720 series, more than the cap leaves.
CREATE TABLE pair_sales (id serial PRIMARY KEY, status text, next text);
INSERT INTO pair_sales (status, next)
WITH statuses AS (
  SELECT labels ->> 'to_status' AS name FROM c5metrics.metrics
   WHERE metric = 'sales_transition_total'
  UNION
  SELECT labels ->> 'from_status' FROM c5metrics.metrics
   WHERE metric = 'sales_transition_total')
SELECT a.name, b.name FROM statuses a, statuses b WHERE a.name <> b.name;
SELECT count(*) AS pairs FROM pair_sales;
SELECT c5metrics.track_sales('pair_sales');
SELECT sum(value) AS before FROM c5metrics.metrics WHERE metric = 'sales_transition_total' \gset
UPDATE pair_sales SET status = next;
SELECT value > 0 AS series_overflowed FROM c5metrics.metrics WHERE metric = 'c5metrics_series_overflow_total';
SELECT (SELECT count(*) FROM c5metrics.metrics WHERE metric = 'sales_transition_total') <= 500 AS bounded;
SELECT (SELECT value FROM c5metrics.metrics WHERE metric = 'c5metrics_series')
       <= (SELECT value FROM c5metrics.metrics WHERE metric = 'c5metrics_series_limit') AS under_cap;
-- Nothing was lost: every transition is in some series.
SELECT sum(value) - :before = (SELECT count(*) FROM pair_sales) AS all_counted
  FROM c5metrics.metrics WHERE metric = 'sales_transition_total';

-- An allow-list: anything else is "other".
CREATE TABLE allow_sales (id int PRIMARY KEY, status text);
SELECT c5metrics.track_sales('allow_sales', allowed_statuses => ARRAY['new', 'paid']);
INSERT INTO allow_sales VALUES (1, 'new'), (2, 'new');
SELECT c5metrics.reset();
UPDATE allow_sales SET status = 'paid' WHERE id = 1;
UPDATE allow_sales SET status = 'hacked' WHERE id = 2;
SELECT labels, value FROM nz WHERE metric = 'sales_transition_total';

-- Unsafe values (too long, control characters, invalid UTF-8 is impossible
-- in this database) become "other" and never a label.
CREATE TABLE odd_sales (id int PRIMARY KEY, status text);
SELECT c5metrics.track_sales('odd_sales');
INSERT INTO odd_sales VALUES (1, 'x'), (2, 'x'), (3, 'x');
SELECT c5metrics.reset();
UPDATE odd_sales SET status = repeat('a', 500) WHERE id = 1;
UPDATE odd_sales SET status = E'line\nbreak' WHERE id = 2;
UPDATE odd_sales SET status = NULL WHERE id = 3;
SELECT labels, value FROM nz WHERE metric = 'sales_transition_total';

-- Refund types are a fixed set: 50 unknown types give no new series.
CREATE TABLE card_refunds (sale_id int, amount numeric, refund_type text,
                           idempotency_key text UNIQUE);
SELECT c5metrics.track_refunds('card_refunds');
SELECT count(*) AS refund_series_before FROM c5metrics.metrics WHERE metric = 'sale_refunds_total';
INSERT INTO card_refunds SELECT 500, 1, 'type-' || g, 'card-' || g FROM generate_series(1, 50) g;
SELECT value AS other_refunds FROM c5metrics.metrics
 WHERE metric = 'sale_refunds_total' AND labels = '{"type": "other", "result": "success"}';
SELECT count(*) AS refund_series_after FROM c5metrics.metrics WHERE metric = 'sale_refunds_total';

-- No id, email, address or amount is ever a label value.
SELECT key FROM c5metrics.metrics, jsonb_object_keys(labels) key
 GROUP BY key ORDER BY key COLLATE "C";

-- The transaction buffer's memory is bounded: 20000 subtransactions, each
-- with a transition, in one transaction.
CREATE TABLE mem_sales (id int PRIMARY KEY, status text);
SELECT c5metrics.track_sales('mem_sales', allowed_statuses => ARRAY['a', 'b']);
INSERT INTO mem_sales SELECT g, 'a' FROM generate_series(1, 20000) g;
SELECT c5metrics.reset();
DO $$
DECLARE
  bytes bigint;
BEGIN
  FOR i IN 1..20000 LOOP
    BEGIN
      UPDATE mem_sales SET status = 'b' WHERE id = i;
    EXCEPTION WHEN others THEN
      NULL;
    END;
  END LOOP;
  SELECT total_bytes INTO bytes FROM pg_backend_memory_contexts
   WHERE name = 'TopTransactionContext';
  RAISE NOTICE 'transaction memory under 2 MB: %', bytes < 2 * 1024 * 1024;
END
$$;
SELECT labels, value FROM nz WHERE metric = 'sales_transition_total';
