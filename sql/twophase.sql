-- Two-phase commit: the outcome is counted when the prepared transaction
-- is finished, in whichever session finishes it.
INSERT INTO shop.sales (id, total, status) VALUES (400, 100, 'pending'), (401, 100, 'pending');
SELECT c5metrics.reset();

BEGIN;
UPDATE shop.sales SET status = 'paid' WHERE id = 400;
INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (400, 5, 'partial', 'tp-1');
PREPARE TRANSACTION 'c5-tp-1';
-- prepared, not yet committed: nothing counted
SELECT * FROM nz;
COMMIT PREPARED 'c5-tp-1';
SELECT * FROM nz;

SELECT c5metrics.reset();
BEGIN;
UPDATE shop.sales SET status = 'paid' WHERE id = 401;
INSERT INTO shop.refunds (sale_id, amount, refund_type, idempotency_key) VALUES (401, 5, 'partial', 'tp-2');
PREPARE TRANSACTION 'c5-tp-2';
ROLLBACK PREPARED 'c5-tp-2';
SELECT * FROM nz;

-- Finishing an unknown GID fails as usual and counts nothing.
SELECT c5metrics.reset();
COMMIT PREPARED 'c5-no-such';
SELECT * FROM nz;

-- A refund-in movement with no refund: checked at PREPARE (when the whole
-- transaction is visible), counted when COMMIT PREPARED finishes it.
SELECT c5metrics.reset();
BEGIN;
INSERT INTO shop.stock_movements (movement_type, product_id, sale_id, quantity)
VALUES ('refund_in', 1, 401, 1);
PREPARE TRANSACTION 'c5-tp-3';
SELECT * FROM nz;
COMMIT PREPARED 'c5-tp-3';
SELECT * FROM nz;
