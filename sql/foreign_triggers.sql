-- Triggers that call c5metrics' trigger functions without having been made
-- by the attach functions.  Any role may create one on a table of its own,
-- with any arguments.  c5metrics.tracked must keep working for everyone
-- (and with it every attach, which refreshes the shared tracked-table list
-- through it): each such trigger is listed with what its arguments say, and
-- null for what they cannot.
\set VERBOSITY terse
CREATE ROLE c5_ft_owner LOGIN;
CREATE ROLE c5_ft_other LOGIN;
CREATE SCHEMA ft AUTHORIZATION c5_ft_owner;
CREATE SCHEMA ft_other AUTHORIZATION c5_ft_other;

SET ROLE c5_ft_owner;
CREATE TABLE ft.r (sale_id bigint, amount numeric, refund_type text, idempotency_key text);
CREATE TABLE ft.s (status text, id bigint);
CREATE TABLE ft.m (movement_type text, sale_id bigint, quantity integer);
CREATE TABLE ft.l (source_ip text, email text);
CREATE TABLE ft.gone (id bigint, total numeric);
SELECT 'ft.gone'::regclass::oid AS gone_oid \gset
DROP TABLE ft.gone;
-- a sales table that is no OID, or no OID that fits
CREATE TRIGGER a_not_a_number BEFORE INSERT ON ft.r FOR EACH ROW
  EXECUTE FUNCTION c5metrics._refunds_trigger('sale_id', 'amount', 'refund_type', '',
                                              'not-a-number', 'id', 'total');
CREATE TRIGGER b_too_big BEFORE INSERT ON ft.r FOR EACH ROW
  EXECUTE FUNCTION c5metrics._refunds_trigger('sale_id', 'amount', 'refund_type', '',
                                              '99999999999', 'id', 'total');
CREATE TRIGGER c_negative BEFORE INSERT ON ft.r FOR EACH ROW
  EXECUTE FUNCTION c5metrics._refunds_trigger('sale_id', 'amount', 'refund_type', '',
                                              '-1', 'id', 'total');
CREATE TRIGGER d_empty BEFORE INSERT ON ft.r FOR EACH ROW
  EXECUTE FUNCTION c5metrics._refunds_trigger('sale_id', 'amount', 'refund_type', '',
                                              '', 'id', 'total');
-- the OID of a relation dropped since
CREATE TRIGGER e_dropped BEFORE INSERT ON ft.r FOR EACH ROW
  EXECUTE FUNCTION c5metrics._refunds_trigger('sale_id', 'amount', 'refund_type', '',
                                              :'gone_oid', 'id', 'total');
-- the wrong number of arguments, fewer and more
CREATE TRIGGER f_no_args BEFORE INSERT ON ft.r FOR EACH ROW
  EXECUTE FUNCTION c5metrics._refunds_trigger();
CREATE TRIGGER g_one_arg BEFORE UPDATE ON ft.s FOR EACH ROW
  EXECUTE FUNCTION c5metrics._sales_trigger('status');
CREATE TRIGGER h_no_args BEFORE UPDATE ON ft.s FOR EACH ROW
  EXECUTE FUNCTION c5metrics._sales_trigger();
CREATE TRIGGER i_many_args BEFORE INSERT ON ft.m FOR EACH ROW
  EXECUTE FUNCTION c5metrics._stock_trigger('movement_type', 'consume', 'refund_in', 'sale_id',
                                            'quantity', 'x1', 'sale_id', 'extra', 'more');
CREATE TRIGGER j_no_args BEFORE INSERT ON ft.l FOR EACH ROW
  EXECUTE FUNCTION c5metrics._leads_trigger();
-- fired the wrong way round: an AFTER DELETE statement trigger
CREATE TRIGGER k_wrong_event AFTER DELETE ON ft.l FOR EACH STATEMENT
  EXECUTE FUNCTION c5metrics._leads_trigger('source_ip', 'email');

-- The owner reads the view: every trigger, what can be decoded, null for
-- the rest (the dropped table's OID, which differs from run to run, is
-- shown as <gone>).
\pset format unaligned
SELECT table_name, flow, replace(config::text, :'gone_oid', '<gone>') AS config
  FROM c5metrics.tracked
 WHERE table_name::text LIKE 'ft.%'
 ORDER BY table_name::text COLLATE "C", config::text COLLATE "C";
\pset format aligned
-- each trigger exactly once, its dropped sales table as the OID it was
SELECT v.table_name, v.flow, count(*) AS triggers
  FROM c5metrics.tracked v
 WHERE v.table_name::text LIKE 'ft.%'
 GROUP BY v.table_name, v.flow
 ORDER BY v.table_name::text COLLATE "C", v.flow COLLATE "C";
SELECT count(*) AS dropped_shown_as_oid FROM c5metrics.tracked
 WHERE table_name = 'ft.r'::regclass AND config ->> 'sales_table' = :'gone_oid';

-- Writing through those triggers never fails the write, except the one
-- fired the wrong way: like any trigger function misused, it says so --
-- on its owner's own table.
INSERT INTO ft.r VALUES (1, 10, 'full', 'k1');
INSERT INTO ft.m VALUES ('consume', 1, 1);
INSERT INTO ft.l VALUES ('10.0.0.1', 'a@example.com');
DELETE FROM ft.l;
INSERT INTO ft.s VALUES ('pending', 1);
UPDATE ft.s SET status = 'paid';
RESET ROLE;

-- Another role reads the view and attaches a table of its own.
SET ROLE c5_ft_other;
SELECT count(*) AS foreign_rows FROM c5metrics.tracked WHERE table_name::text LIKE 'ft.%';
CREATE TABLE ft_other.leads (source_ip inet, email text);
SELECT c5metrics.track_leads('ft_other.leads');
SELECT table_name, flow, config FROM c5metrics.tracked WHERE table_name::text LIKE 'ft_other.%';
SELECT c5metrics._sync_tracked();
SELECT c5metrics.untrack('ft_other.leads');
RESET ROLE;

-- And so does the superuser.
SELECT count(*) AS foreign_rows FROM c5metrics.tracked WHERE table_name::text LIKE 'ft.%';
CREATE TABLE ft_other.sales (status text, id bigint);
SELECT c5metrics.track_sales('ft_other.sales');
SELECT table_name, flow FROM c5metrics.tracked WHERE table_name::text LIKE 'ft_other.%';
SELECT c5metrics.untrack('ft_other.sales');
-- the shared list counts the foreign triggers' tables like any other
SELECT c5metrics._sync_tracked();

-- The decoder itself: the trigger manager's reading of tgargs, never an
-- error: arguments beyond tgargs are left out, a last one without its
-- terminator is read to the end.
SELECT c5metrics._trigger_args('\x6100'::bytea, 5::smallint) AS past_the_end,
       c5metrics._trigger_args('\x610062'::bytea, 2::smallint) AS unterminated,
       c5metrics._trigger_args('\x6100620063'::bytea, 2::smallint) AS more_than_tgnargs,
       c5metrics._trigger_args('\x'::bytea, 2::smallint) AS empty,
       c5metrics._trigger_args('\x6100'::bytea, 0::smallint) AS none,
       c5metrics._trigger_args('\x000000'::bytea, 3::smallint) AS empty_strings;

-- Bytes that are not valid in the database encoding.  The attach functions
-- and CREATE TRIGGER cannot store them, but a superuser can write the
-- catalog directly.  In a UTF8 database:
CREATE DATABASE c5_ft_utf8 ENCODING 'UTF8' LOCALE 'C' TEMPLATE template0;
\c c5_ft_utf8
SET client_min_messages = warning;
CREATE EXTENSION c5metrics;
RESET client_min_messages;
CREATE TABLE s (status text, id bigint);
CREATE TRIGGER valid_utf8 BEFORE UPDATE ON s FOR EACH ROW
  EXECUTE FUNCTION c5metrics._sales_trigger('status', U&'pay\00E9', 'id');
CREATE TRIGGER invalid_utf8 BEFORE UPDATE ON s FOR EACH ROW
  EXECUTE FUNCTION c5metrics._sales_trigger('status', 'x', 'id');
UPDATE pg_trigger
   SET tgargs = convert_to('status', 'UTF8') || '\x00ff00'::bytea || convert_to('id', 'UTF8') || '\x00'::bytea
 WHERE tgname = 'invalid_utf8';
SELECT c5metrics._trigger_args('\x61c3a900ff00c300'::bytea, 3::smallint) AS decoded;
\pset format unaligned
SELECT table_name, flow, config FROM c5metrics.tracked ORDER BY config::text COLLATE "C";
\pset format aligned
SELECT c5metrics._sync_tracked();
\c contrib_regression
DROP DATABASE c5_ft_utf8;

-- Clean up.
DROP SCHEMA ft CASCADE;
DROP SCHEMA ft_other CASCADE;
DROP ROLE c5_ft_owner, c5_ft_other;
