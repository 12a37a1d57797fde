-- Stock: refund-in movements and the commit-time consistency check.
SELECT c5metrics.reset();

-- A refund with restock: a refund-in movement, consistent with the sale.
INSERT INTO shop.sales (id, total, status) VALUES (100, 50, 'pending');
INSERT INTO shop.sale_items (sale_id, product_id, quantity, unit_price) VALUES (100, 2, 2, 25);
SELECT shop.pay_sale(100);
SELECT c5metrics.reset();
SELECT shop.refund_sale(100, 50, 'full', 'r-100', true);
SELECT * FROM nz;

-- Putting back more than was consumed, with no refund: both mismatches,
-- counted once for the sale although two rows are involved.
SELECT c5metrics.reset();
INSERT INTO shop.sales (id, total, status) VALUES (101, 10, 'paid');
BEGIN;
INSERT INTO shop.stock_movements (movement_type, product_id, sale_id, quantity) VALUES ('refund_in', 2, 101, 5);
INSERT INTO shop.stock_movements (movement_type, product_id, sale_id, quantity) VALUES ('refund_in', 2, 101, 1);
COMMIT;
SELECT * FROM nz;

-- The refund that comes later in the same transaction is seen: the check
-- runs at commit.
SELECT c5metrics.reset();
INSERT INTO shop.sales (id, total, status) VALUES (102, 10, 'paid');
INSERT INTO shop.stock_movements (movement_type, product_id, sale_id, quantity) VALUES ('consume', 2, 102, 1);
BEGIN;
INSERT INTO shop.stock_movements (movement_type, product_id, sale_id, quantity) VALUES ('refund_in', 2, 102, 1);
INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (102, 10, 'full', 'r-102');
COMMIT;
SELECT * FROM nz;

-- A rolled-back refund-in is a failure and is not checked.
SELECT c5metrics.reset();
BEGIN;
INSERT INTO shop.stock_movements (movement_type, product_id, sale_id, quantity) VALUES ('refund_in', 2, 101, 3);
ROLLBACK;
SELECT * FROM nz;

-- A refund-in refused by a CHECK constraint: rejected.
SELECT c5metrics.reset();
\set VERBOSITY terse
INSERT INTO shop.stock_movements (movement_type, product_id, sale_id, quantity) VALUES ('refund_in', 2, 101, 0);
\set VERBOSITY default
SELECT * FROM nz;

-- Other movement types touch the stock flow only; NULL values do not break anything.
SELECT c5metrics.reset();
INSERT INTO shop.stock_movements (movement_type, product_id, quantity) VALUES ('receive', 2, 10), ('adjust', 2, 1);
INSERT INTO shop.stock_movements (movement_type, product_id, sale_id, quantity) VALUES ('consume', 2, NULL, 1);
SELECT * FROM nz;

-- Many sales with two refund-in rows each: one check per sale.
SELECT c5metrics.reset();
INSERT INTO shop.sales (id, total, status) SELECT g, 10, 'paid' FROM generate_series(1000, 1099) g;
INSERT INTO shop.stock_movements (movement_type, product_id, sale_id, quantity)
SELECT 'refund_in', 2, g, 1 FROM generate_series(1000, 1099) g, generate_series(1, 2);
SELECT labels, value FROM nz WHERE metric = 'stock_refund_in_mismatch_total';

-- The check sees the committing statement's own rows, with no foreign key
-- to have made them visible first (autocommit).
CREATE TABLE bare_moves (movement_type text, sale_id bigint, quantity int);
SELECT c5metrics.track_stock('bare_moves');
SELECT c5metrics.reset();
INSERT INTO bare_moves VALUES ('consume', 1, 2);
INSERT INTO bare_moves VALUES ('refund_in', 1, 5);
SELECT labels, value FROM nz WHERE metric = 'stock_refund_in_mismatch_total';
SELECT c5metrics.untrack('bare_moves');
DROP TABLE bare_moves;
