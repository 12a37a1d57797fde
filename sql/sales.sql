-- Flow 1: sale status transitions, paid sales and their stock consumption.
INSERT INTO shop.products (sku, name, price) VALUES ('CREAM', 'Night cream', 10), ('SERUM', 'Serum', 20);
INSERT INTO shop.stock_lots (product_id, expires_on, quantity_on_hand) VALUES
  (1, current_date + 30, 10), (1, current_date + 10, 3), (2, current_date + 60, 100),
  (1, current_date - 1, 50);
INSERT INTO shop.sales (total) SELECT 100 FROM generate_series(1, 12);
INSERT INTO shop.sale_items (sale_id, product_id, quantity, unit_price)
SELECT s, 1, 2, 10 FROM generate_series(1, 12) s;

SELECT c5metrics.reset();

-- An UPDATE that leaves the status as it is: no transition (a statement
-- that sets the status column still counts as sales-flow work).
UPDATE shop.sales SET total = total WHERE id = 1;
UPDATE shop.sales SET status = status WHERE id = 1;
SELECT * FROM nz;

-- The FEFO payment: one transition, consumed from the earliest unexpired lot.
SELECT shop.pay_sale(1);
SELECT id, quantity_on_hand FROM shop.stock_lots ORDER BY id;
SELECT * FROM nz;

-- Paid with no consumption: "missing".
SELECT c5metrics.reset();
UPDATE shop.sales SET status = 'paid' WHERE id = 2;
SELECT * FROM nz;

-- Consumption first, then the transition, in one transaction: success.
SELECT c5metrics.reset();
BEGIN;
INSERT INTO shop.stock_movements (movement_type, product_id, sale_id, quantity) VALUES ('consume', 1, 3, 1);
UPDATE shop.sales SET status = 'paid' WHERE id = 3;
COMMIT;
SELECT * FROM nz;

-- A status changed twice in one transaction is two transitions.
SELECT c5metrics.reset();
BEGIN;
UPDATE shop.sales SET status = 'cancelled' WHERE id = 4;
UPDATE shop.sales SET status = 'pending' WHERE id = 4;
COMMIT;
SELECT * FROM nz;

-- Rolled back: failure, with no reason but the ROLLBACK itself.
SELECT c5metrics.reset();
BEGIN;
SELECT shop.pay_sale(5);
ROLLBACK;
SELECT * FROM nz;

-- Insufficient stock: the pay function raises check_violation -> rejected.
SELECT c5metrics.reset();
UPDATE shop.sale_items SET quantity = 1000 WHERE sale_id = 6;
SELECT shop.pay_sale(6);
SELECT * FROM nz;

-- A status refused by the table's CHECK constraint: rejected, its label kept.
SELECT c5metrics.reset();
\set VERBOSITY terse
UPDATE shop.sales SET status = 'shipped' WHERE id = 7;
\set VERBOSITY default
SELECT * FROM nz;

-- The consumption undone by ROLLBACK TO SAVEPOINT: the commit is "missing".
SELECT c5metrics.reset();
BEGIN;
UPDATE shop.sales SET status = 'paid' WHERE id = 8;
SAVEPOINT consume;
INSERT INTO shop.stock_movements (movement_type, product_id, sale_id, quantity) VALUES ('consume', 1, 8, 1);
ROLLBACK TO SAVEPOINT consume;
COMMIT;
SELECT * FROM nz;

-- Multi-row: 3 sales paid by one statement, 2 of them consumed by another.
SELECT c5metrics.reset();
BEGIN;
UPDATE shop.sales SET status = 'paid' WHERE id IN (9, 10, 11);
INSERT INTO shop.stock_movements (movement_type, product_id, sale_id, quantity)
SELECT 'consume', 2, s, 1 FROM generate_series(9, 10) s;
COMMIT;
SELECT * FROM nz;

-- The consume-latency histogram: one observation per committed consumption.
SELECT metric, labels ->> 'le' AS le, value FROM c5metrics.metrics
 WHERE metric LIKE 'sales_paid_stock_consume_duration_seconds%'
   AND (labels ->> 'le' IN ('0.5', '+Inf') OR metric NOT LIKE '%bucket')
   AND metric NOT LIKE '%sum'
 ORDER BY 1, 2;

-- More consumed sales than a level keeps one by one (8): a filter takes
-- them over.  One transaction with a released savepoint, then one whose
-- savepoint brings the filter to a parent that kept its sales one by one:
-- 11 consumed of 12 paid in each.
INSERT INTO shop.sales (id, total) SELECT g, 10 FROM generate_series(9100, 9123) g;
SELECT c5metrics.reset();
BEGIN;
UPDATE shop.sales SET status = 'paid' WHERE id BETWEEN 9100 AND 9111;
SAVEPOINT a;
INSERT INTO shop.stock_movements (movement_type, product_id, sale_id, quantity)
SELECT 'consume', 2, s, 1 FROM generate_series(9100, 9104) s;
RELEASE SAVEPOINT a;
INSERT INTO shop.stock_movements (movement_type, product_id, sale_id, quantity)
SELECT 'consume', 2, s, 1 FROM generate_series(9105, 9110) s;
COMMIT;
SELECT * FROM nz;
SELECT c5metrics.reset();
BEGIN;
UPDATE shop.sales SET status = 'paid' WHERE id BETWEEN 9112 AND 9123;
INSERT INTO shop.stock_movements (movement_type, product_id, sale_id, quantity)
SELECT 'consume', 2, s, 1 FROM generate_series(9112, 9113) s;
SAVEPOINT b;
INSERT INTO shop.stock_movements (movement_type, product_id, sale_id, quantity)
SELECT 'consume', 2, s, 1 FROM generate_series(9114, 9122) s;
RELEASE SAVEPOINT b;
COMMIT;
SELECT * FROM nz;
