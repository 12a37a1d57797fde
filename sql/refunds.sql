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

-- Over-refund: blocked with SQLSTATE C5M01, counted as an attempt.
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
EXCEPTION WHEN sqlstate 'C5M01' THEN
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
