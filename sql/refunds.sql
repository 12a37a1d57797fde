-- Flow 2: refunds, idempotency, the over-refund guard.
INSERT INTO shop.sales (id, total, status) VALUES (200, 100, 'paid'), (201, 100, 'paid'), (202, 30, 'paid');
SELECT c5metrics.reset();

-- Full and partial refunds commit.
INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (200, 40, 'partial', 'k-200-1');
INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (201, 100, 'full', 'k-201-1');
SELECT * FROM nz;

-- The same key again: a unique violation, counted as a conflict and as a
-- rollback with reason idempotency_conflict.
SELECT c5metrics.reset();
INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (200, 10, 'partial', 'k-200-1');
SELECT * FROM nz;

-- ON CONFLICT DO NOTHING: the skipped row is a conflict, not a refund.
SELECT c5metrics.reset();
INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key)
VALUES (200, 10, 'partial', 'k-200-1'), (200, 10, 'partial', 'k-200-2')
ON CONFLICT (idempotency_key) DO NOTHING;
SELECT * FROM nz;

-- Over-refund: blocked with SQLSTATE 23M01, counted as an attempt.
SELECT c5metrics.reset();
INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (200, 60, 'partial', 'k-200-3');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM nz;

-- Exactly the remainder is allowed.
SELECT c5metrics.reset();
INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (200, 50, 'partial', 'k-200-4');
SELECT * FROM nz;

-- A retry of a refund already made is a conflict, not an over-refund.
SELECT c5metrics.reset();
INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (201, 100, 'full', 'k-201-1')
ON CONFLICT DO NOTHING;
SELECT * FROM nz;

-- Observe-only: the over-refund passes and is counted.
SELECT c5metrics.reset();
SET c5metrics.refund_guard = off;
INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (202, 31, 'full', 'k-202-1');
RESET c5metrics.refund_guard;
SELECT * FROM nz;

-- The guard's error trapped by a PL/pgSQL handler: still over_refund, rejected.
SELECT c5metrics.reset();
DO $$
BEGIN
  INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (200, 1, 'partial', 'k-200-5');
EXCEPTION WHEN sqlstate '23M01' THEN
  RAISE NOTICE 'blocked: %', SQLERRM;
END
$$;
SELECT * FROM nz;

-- An unknown refund type is "other"; a NULL amount is refused by the table,
-- not by a trigger.
SELECT c5metrics.reset();
\set VERBOSITY terse
INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (201, NULL, 'store_credit', 'k-201-2');
\set VERBOSITY default
SELECT * FROM nz;

-- The refund-latency histogram counts committed refunds.
SELECT c5metrics.reset();
INSERT INTO shop.sales (id, total, status) VALUES (203, 100, 'paid');
INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key)
VALUES (203, 10, 'partial', 'k-203-1'), (203, 10, 'partial', 'k-203-2');
SELECT metric, labels ->> 'le' AS le, value FROM c5metrics.metrics
 WHERE metric LIKE 'sale_refund_duration_seconds%'
   AND (labels ->> 'le' IN ('0.8', '+Inf') OR metric LIKE '%count')
 ORDER BY 1, 2;

-- The guard reads through an index on the refunds' sale column when there
-- is one, else scans the table; amounts of another numeric type than the
-- sale's total compare as numeric; earlier rows of the same statement
-- count.
CREATE TABLE plain_sales (sale_no int PRIMARY KEY, amount_due numeric(10,2));
CREATE TABLE plain_refunds (sale_no bigint, cents_back int, kind text);
SELECT c5metrics.track_refunds('plain_refunds', sale_column => 'sale_no', amount_column => 'cents_back',
                               type_column => 'kind', key_column => NULL,
                               sales_table => 'plain_sales', sales_id_column => 'sale_no',
                               sales_total_column => 'amount_due');
INSERT INTO plain_sales VALUES (1, 10.50), (2, 5);
SELECT c5metrics.reset();
INSERT INTO plain_refunds VALUES (1, 6, 'partial'), (1, 4, 'partial');
INSERT INTO plain_refunds VALUES (1, 1, 'partial');
-- 3 + 3 > 5: the second row of one statement sees the first
INSERT INTO plain_refunds VALUES (2, 3, 'partial'), (2, 3, 'partial');
SELECT * FROM nz;
SELECT c5metrics.untrack('plain_refunds');
DROP TABLE plain_refunds, plain_sales;

-- One statement may refund any number of sales: the guard's locks are row
-- locks, which take no lock-table entry (64 per connection by default).
INSERT INTO shop.sales (id, total, status) SELECT g, 10, 'paid' FROM generate_series(10001, 30000) g;
SELECT c5metrics.reset();
INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key)
SELECT g, 10, 'full', 'bulk-' || g FROM generate_series(10001, 30000) g;
SELECT * FROM nz WHERE metric IN ('sale_refunds_total', 'sale_refund_over_refund_attempts_total');

-- An idempotency key the way Django declares it, CharField(unique=True): a
-- varchar column, compared through the text operators of its unique index.
-- The guard runs (1.2 found no varchar equality there and stood aside,
-- counting a lost event for every refund).
CREATE TABLE dj_sales (id bigint PRIMARY KEY, total numeric(12,2) NOT NULL);
CREATE TABLE dj_refunds (id bigserial PRIMARY KEY, sale_id bigint NOT NULL,
                         amount numeric(12,2) NOT NULL, kind varchar(16) NOT NULL,
                         idem_key varchar(64) NOT NULL UNIQUE);
SELECT c5metrics.track_refunds('dj_refunds', type_column => 'kind', key_column => 'idem_key',
                               sales_table => 'dj_sales');
INSERT INTO dj_sales VALUES (1, 50);
SELECT c5metrics.reset();
INSERT INTO dj_refunds (sale_id, amount, kind, idem_key) VALUES (1, 80, 'partial', 'dj-1');
INSERT INTO dj_refunds (sale_id, amount, kind, idem_key) VALUES (1, 30, 'partial', 'dj-2');
-- a retry of a used key is a conflict, not an over-refund
INSERT INTO dj_refunds (sale_id, amount, kind, idem_key) VALUES (1, 30, 'partial', 'dj-2')
    ON CONFLICT (idem_key) DO NOTHING;
SELECT * FROM nz WHERE metric IN ('sale_refund_over_refund_attempts_total',
                                  'sale_refund_idempotency_conflicts_total',
                                  'c5metrics_events_lost_total');
SELECT c5metrics.untrack('dj_refunds');
DROP TABLE dj_refunds, dj_sales;
