-- The Prometheus text format: HELP and TYPE once per family, escaped label
-- values, cumulative buckets, +Inf equal to _count, exact sums.
CREATE TABLE esc_sales (id int PRIMARY KEY, status text);
SELECT c5metrics.track_sales('esc_sales');
INSERT INTO esc_sales VALUES (1, 'a"b'), (2, 'c\d');
SELECT c5metrics.reset();
UPDATE esc_sales SET status = 'ok' WHERE id IN (1, 2);

CREATE TEMP TABLE lines AS
SELECT row_number() OVER () AS n, line
  FROM regexp_split_to_table(c5metrics.exposition(), E'\n') AS line;

SELECT line FROM lines WHERE line LIKE 'sales_transition_total{from_status="a%'
   OR line LIKE 'sales_transition_total{from_status="c%' ORDER BY n;

-- HELP and TYPE exactly once per family, TYPE right after HELP.
SELECT count(*) AS families,
       count(DISTINCT split_part(line, ' ', 3)) AS distinct_families
  FROM lines WHERE line LIKE '# TYPE %';
SELECT count(*) AS type_not_after_help
  FROM lines t JOIN lines h ON h.n = t.n - 1
 WHERE t.line LIKE '# TYPE %'
   AND split_part(h.line, ' ', 3) <> split_part(t.line, ' ', 3);
SELECT split_part(line, ' ', 4) AS type, count(*) FROM lines
 WHERE line LIKE '# TYPE %' GROUP BY 1 ORDER BY 1;

-- No series twice.
SELECT count(*) AS duplicate_series FROM (
  SELECT split_part(line, ' ', 1) FROM lines WHERE line NOT LIKE '#%' AND line <> ''
  GROUP BY 1 HAVING count(*) > 1) d;

-- Every sample line is a name, optional labels and a number.
SELECT count(*) AS malformed FROM lines
 WHERE line NOT LIKE '#%' AND line <> ''
   AND line !~ '^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? -?[0-9.e+]+$';

-- The text and the view describe the same series.
SELECT (SELECT count(*) FROM lines WHERE line NOT LIKE '#%' AND line <> '')
     = (SELECT count(*) FROM c5metrics.metrics) AS same_series;

-- Histograms: cumulative, +Inf = _count, sum in seconds with microseconds.
INSERT INTO shop.sales (id, total, status) VALUES (600, 10, 'paid');
INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (600, 1, 'partial', 'e-1');
BEGIN;
INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (600, 1, 'partial', 'e-2');
SELECT pg_sleep(0.9);
COMMIT;
-- The autocommit refund is fast, but how fast depends on the machine (a
-- loaded or sanitizer-built server takes more than 5 ms): below 0.25 s its
-- bucket is not pinned down.
SELECT metric, labels ->> 'le' AS le,
       CASE WHEN (labels ->> 'le')::float8 < 0.25 AND value IN (0, 1) THEN '0 or 1'
            ELSE value::text END AS value
  FROM c5metrics.metrics
 WHERE metric LIKE 'sale_refund_duration_seconds%' AND metric <> 'sale_refund_duration_seconds_sum'
 ORDER BY metric, (labels ->> 'le')::float8;
SELECT value BETWEEN 0.9 AND 5 AS sum_in_seconds, value <> round(value::numeric) AS not_truncated
  FROM c5metrics.metrics WHERE metric = 'sale_refund_duration_seconds_sum';
SELECT line ~ '^sale_refund_duration_seconds_sum [0-9]+\.[0-9]{6}$' AS six_decimals
  FROM regexp_split_to_table(c5metrics.exposition(), E'\n') AS line
 WHERE line LIKE 'sale_refund_duration_seconds_sum %';
