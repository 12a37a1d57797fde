-- Nothing in a user's data makes a trigger raise or a label unbounded:
-- tables without any constraint, fed NULLs, negative numbers, huge and
-- non-UTF-8 text.
CREATE TABLE raw_sales (id text, status text, total numeric);
CREATE TABLE raw_moves (kind text, sale text, qty numeric);
CREATE TABLE raw_refunds (sale text, amount numeric, kind text, ikey text UNIQUE);
CREATE TABLE raw_leads (email text, ip text);
SELECT c5metrics.track_sales('raw_sales');
SELECT c5metrics.track_stock('raw_moves', type_column => 'kind', sale_column => 'sale',
                             quantity_column => 'qty', refunds_table => 'raw_refunds',
                             refunds_sale_column => 'sale');
SELECT c5metrics.track_refunds('raw_refunds', sale_column => 'sale', type_column => 'kind',
                               key_column => 'ikey', sales_table => 'raw_sales');
SELECT c5metrics.track_leads('raw_leads', ip_column => 'ip');
SELECT c5metrics.reset();

INSERT INTO raw_sales VALUES (NULL, NULL, NULL), ('s1', 'new', -5), ('s2', repeat('z', 100000), 10);
UPDATE raw_sales SET status = 'paid';
UPDATE raw_sales SET status = NULL WHERE id = 's1';
INSERT INTO raw_moves VALUES (NULL, NULL, NULL), ('consume', NULL, -3), ('refund_in', 's1', -7),
                             ('refund_in', NULL, 1), (repeat('k', 5000), 's2', 1e30);
INSERT INTO raw_refunds VALUES (NULL, NULL, NULL, NULL), ('s1', NULL, 'full', 'a'),
                               ('s1', -10, 'partial', 'b'), ('nope', 5, 'partial', 'c');
-- the only error any of this raises: the guard, asked for 1e20 of a 10 sale
INSERT INTO raw_refunds VALUES ('s2', 1e20, repeat('x', 3000), 'd');
SET c5metrics.lead_throttle = on;
INSERT INTO raw_leads VALUES (NULL, NULL), (repeat('e', 100000), repeat('i', 100000));
RESET c5metrics.lead_throttle;

SELECT * FROM nz;
SELECT value AS lost FROM c5metrics.metrics WHERE metric = 'c5metrics_events_lost_total';

-- Bytes that are not UTF-8 (possible in a SQL_ASCII database) never
-- become a label: the exposition stays valid UTF-8.
SELECT current_database() AS regress_db \gset
CREATE DATABASE c5_ascii ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c c5_ascii
CREATE EXTENSION c5metrics;
CREATE TABLE s (id int PRIMARY KEY, status text);
SELECT c5metrics.track_sales('s');
INSERT INTO s VALUES (1, 'ok');
SELECT c5metrics.reset();
UPDATE s SET status = E'caf\351';
SELECT labels, value FROM c5metrics.metrics
 WHERE metric = 'sales_transition_total' AND value > 0;
SELECT count(*) AS invalid_lines
  FROM regexp_split_to_table(c5metrics.exposition(), E'\n') AS line
 WHERE line ~ '[\x80-\xff]';
\c :regress_db
DROP DATABASE c5_ascii;
