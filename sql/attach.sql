-- Attaching tables: the reference schema, a user's own tables, and every
-- mistake a user can make.
SELECT c5metrics.create_reference_schema('shop');
SELECT table_name, flow, config FROM c5metrics.tracked ORDER BY flow COLLATE "C";
SELECT labels ->> 'flow' AS flow, value FROM c5metrics.metrics
 WHERE metric = 'c5metrics_tracked_tables' ORDER BY labels ->> 'flow' COLLATE "C";

-- Attaching twice is idempotent: still one set of triggers.
SELECT c5metrics.track_sales('shop.sales');
SELECT c5metrics.track_stock('shop.stock_movements', refunds_table => 'shop.refunds');
SELECT tgrelid::regclass AS tbl, tgname FROM pg_trigger
 WHERE tgname LIKE 'zz_c5metrics%' ORDER BY tgrelid::regclass::text COLLATE "C", tgname COLLATE "C";

-- A Django application's tables, under their own names.
CREATE TABLE sales_sale (id bigserial PRIMARY KEY, state varchar(20) NOT NULL,
                         grand_total numeric(12,2) NOT NULL);
CREATE TABLE inventory_stockmovement (id bigserial PRIMARY KEY, kind varchar(16) NOT NULL,
                                      sale_id bigint, qty integer NOT NULL);
CREATE TABLE refunds_refund (id bigserial PRIMARY KEY, sale_id bigint NOT NULL,
                             amount numeric(12,2) NOT NULL, kind varchar(16) NOT NULL,
                             idem_key uuid NOT NULL UNIQUE);
CREATE TABLE leads_publiclead (id bigserial PRIMARY KEY, email varchar(254) NOT NULL,
                               ip_address inet);
SELECT c5metrics.track_sales('sales_sale', status_column => 'state', paid_value => 'PAID',
                             allowed_statuses => ARRAY['DRAFT', 'PENDING', 'PAID', 'CANCELLED']);
SELECT c5metrics.track_stock('inventory_stockmovement', type_column => 'kind',
                             consume_value => 'OUT', refund_in_value => 'RETURN',
                             quantity_column => 'qty', refunds_table => 'refunds_refund');
SELECT c5metrics.track_refunds('refunds_refund', type_column => 'kind', key_column => 'idem_key',
                               sales_table => 'sales_sale', sales_total_column => 'grand_total');
SELECT c5metrics.track_leads('leads_publiclead', ip_column => 'ip_address');
SELECT table_name, flow FROM c5metrics.tracked ORDER BY flow COLLATE "C", table_name::text COLLATE "C";

SELECT c5metrics.reset();
INSERT INTO sales_sale (state, grand_total) VALUES ('PENDING', 50);
BEGIN;
UPDATE sales_sale SET state = 'PAID' WHERE id = 1;
INSERT INTO inventory_stockmovement (kind, sale_id, qty) VALUES ('OUT', 1, 2);
COMMIT;
INSERT INTO refunds_refund (sale_id, amount, kind, idem_key)
VALUES (1, 20, 'partial', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
INSERT INTO refunds_refund (sale_id, amount, kind, idem_key)
VALUES (1, 40, 'partial', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12');
INSERT INTO refunds_refund (sale_id, amount, kind, idem_key)
VALUES (1, 5, 'partial', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')
ON CONFLICT DO NOTHING;
INSERT INTO leads_publiclead (email, ip_address) VALUES ('ana@example.com', '192.0.2.1');
SELECT * FROM nz;

-- Schema-qualified, quoted, mixed-case identifiers.
CREATE SCHEMA "Odd Schema";
CREATE TABLE "Odd Schema"."Sales; Table" (id int PRIMARY KEY, "Status""Col" text);
SELECT c5metrics.track_sales('"Odd Schema"."Sales; Table"', status_column => 'Status"Col');
SELECT c5metrics.reset();
INSERT INTO "Odd Schema"."Sales; Table" VALUES (1, 'new');
UPDATE "Odd Schema"."Sales; Table" SET "Status""Col" = 'paid';
SELECT * FROM nz;

-- Mistakes: each error names the table, the column or value, and the fix.
\set SHOW_CONTEXT never
SELECT c5metrics.track_sales('shop.sales', status_column => 'state');
SELECT c5metrics.track_sales('shop.sales', status_column => 'total');
SELECT c5metrics.track_sales('shop.sales', paid_value => '');
SELECT c5metrics.track_sales('shop.no_such_table');
SELECT c5metrics.track_stock('shop.stock_movements', quantity_column => 'movement_type');
SELECT c5metrics.track_refunds('shop.refunds', amount_column => 'refund_type');
SELECT c5metrics.track_refunds('shop.refunds', sales_table => 'shop.sales',
                               sales_total_column => 'totl');
SELECT c5metrics.track_leads('shop.public_leads', email_column => 'created_at');
CREATE VIEW shop.sales_view AS SELECT * FROM shop.sales;
SELECT c5metrics.track_sales('shop.sales_view');
CREATE TYPE sale_state AS ENUM ('new', 'paid');
CREATE TABLE enum_sales (id int PRIMARY KEY, status sale_state);
SELECT c5metrics.track_sales('enum_sales', paid_value => 'PAID');
SELECT c5metrics.track_sales('enum_sales');
CREATE TABLE no_key_refunds (sale_id int, amount numeric, refund_type text, idempotency_key text);
SELECT c5metrics.track_refunds('no_key_refunds');
-- sales_table and refunds_table are plain tables of the cluster's users,
-- whose sale ids compare (test/t/016_adversarial_attach.pl tries the rest)
SELECT c5metrics.track_refunds('no_key_refunds', key_column => NULL, sales_table => 'shop.sales_view');
CREATE TABLE part_sales (id bigint, total numeric) PARTITION BY RANGE (id);
SELECT c5metrics.track_refunds('no_key_refunds', key_column => NULL, sales_table => 'part_sales');
SELECT c5metrics.track_stock('shop.stock_movements', refunds_table => 'part_sales');
SELECT c5metrics.track_refunds('no_key_refunds', key_column => NULL, sales_table => 'pg_class',
                               sales_id_column => 'oid', sales_total_column => 'relpages');
CREATE TABLE text_refunds (sale_id text, amount numeric, refund_type text);
SELECT c5metrics.track_refunds('text_refunds', key_column => NULL, sales_table => 'shop.sales');
DROP TABLE part_sales, text_refunds;

-- Enum statuses work as labels.
SELECT c5metrics.reset();
INSERT INTO enum_sales VALUES (1, 'new');
UPDATE enum_sales SET status = 'paid';
SELECT * FROM nz;

-- Only the owner attaches (the hint names the owner, which varies).
\set VERBOSITY terse
CREATE ROLE c5_stranger;
GRANT USAGE ON SCHEMA shop TO c5_stranger;
SET ROLE c5_stranger;
SELECT c5metrics.track_sales('shop.sales');
SELECT c5metrics.untrack('shop.sales');
RESET ROLE;
\set VERBOSITY default

-- Untracking removes the triggers; untracking again only says so.
SELECT c5metrics.untrack('enum_sales');
SELECT c5metrics.untrack('enum_sales');
SELECT count(*) FROM pg_trigger WHERE tgrelid = 'enum_sales'::regclass;

-- Dropping a tracked table updates the tracked-table gauge.
DROP TABLE "Odd Schema"."Sales; Table";
SELECT labels ->> 'flow' AS flow, value FROM c5metrics.metrics
 WHERE metric = 'c5metrics_tracked_tables' ORDER BY labels ->> 'flow' COLLATE "C";
