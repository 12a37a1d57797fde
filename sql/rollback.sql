-- What rolled back is counted as what it is: result and reason by SQLSTATE.
INSERT INTO shop.sales (id, total, status) SELECT g, 1000, 'paid' FROM generate_series(300, 320) g;

CREATE VIEW rb AS
SELECT metric, labels::text AS labels, value FROM nz
 WHERE metric IN ('sale_refund_rollback_total', 'sale_refunds_total', 'exceptions_total',
                  'flow_transactions_total');

-- Plain ROLLBACK: failure, reason rollback, no exception.
SELECT c5metrics.reset();
BEGIN;
INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (300, 1, 'partial', 'rb-1');
ROLLBACK;
SELECT * FROM rb;

-- Application RAISE: rejected.
SELECT c5metrics.reset();
DO $$
BEGIN
  INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (300, 1, 'partial', 'rb-2');
  RAISE EXCEPTION 'refund not allowed today';
END
$$;
SELECT * FROM rb;

-- Foreign key: rejected.
SELECT c5metrics.reset();
INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (99999, 1, 'partial', 'rb-3');
SELECT * FROM rb;

-- Statement timeout: failure, query_canceled.
SELECT c5metrics.reset();
BEGIN;
INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (301, 1, 'partial', 'rb-4');
SET LOCAL statement_timeout = '50ms';
SELECT pg_sleep(5);
ROLLBACK;
SELECT * FROM rb;

-- An internal-looking error (division by zero): failure, reason other.
SELECT c5metrics.reset();
BEGIN;
INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (302, 1, 'partial', 'rb-5');
SELECT 1 / 0;
ROLLBACK;
SELECT * FROM rb;

-- ROLLBACK TO SAVEPOINT reclassifies only the work inside it; the rest commits.
SELECT c5metrics.reset();
BEGIN;
INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (303, 1, 'partial', 'rb-6');
SAVEPOINT a;
INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (304, 1, 'full', 'rb-7');
INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (304, 1, 'full', 'rb-7');
ROLLBACK TO SAVEPOINT a;
INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (305, 1, 'partial', 'rb-8');
COMMIT;
SELECT * FROM rb;

-- RELEASE then COMMIT: success; nested savepoints merge upwards.
SELECT c5metrics.reset();
BEGIN;
SAVEPOINT a;
INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (306, 1, 'partial', 'rb-9');
SAVEPOINT b;
INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (306, 1, 'partial', 'rb-10');
RELEASE SAVEPOINT b;
RELEASE SAVEPOINT a;
COMMIT;
SELECT * FROM rb;

-- A savepoint rolled back without an error, then the whole transaction.
SELECT c5metrics.reset();
BEGIN;
INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (307, 1, 'partial', 'rb-11');
SAVEPOINT a;
INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (307, 1, 'partial', 'rb-12');
ROLLBACK TO SAVEPOINT a;
ROLLBACK;
SELECT * FROM rb;

-- An error trapped by an EXCEPTION block is never reported: its
-- subtransaction counts as a plain rollback; the function's other work commits.
SELECT c5metrics.reset();
DO $$
BEGIN
  INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (308, 1, 'partial', 'rb-13');
  BEGIN
    INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (308, 1, 'partial', 'rb-13');
  EXCEPTION WHEN unique_violation THEN
    NULL;
  END;
END
$$;
SELECT * FROM rb;

-- An error after the transaction failed does not count twice.
SELECT c5metrics.reset();
BEGIN;
\set VERBOSITY terse
INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (309, 1, 'bogus', 'rb-14');
\set VERBOSITY default
SELECT 1;
ROLLBACK;
SELECT * FROM rb;

-- Work in a transaction that touched no tracked table is not counted.
SELECT c5metrics.reset();
BEGIN;
SELECT 1 / 0;
ROLLBACK;
SELECT * FROM rb;

-- An error in a savepoint without tracked work is not blamed on a later
-- plain ROLLBACK.
SELECT c5metrics.reset();
BEGIN;
INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (310, 1, 'partial', 'rb-15');
SAVEPOINT a;
SELECT 1 / 0;
ROLLBACK TO SAVEPOINT a;
ROLLBACK;
SELECT * FROM rb;
