-- Privileges, secrets and injection.  sql/privileges.sql covers the basics
-- (the metrics view and exposition() for pg_monitor and pg_read_all_stats,
-- reset() for nobody, track_leads()/untrack() of another role's table
-- refused, the namespace's SQL functions pinned); this file covers the
-- rest of the surface an unprivileged role can reach.
\set VERBOSITY terse
CREATE ROLE c5_sec_nobody LOGIN;
CREATE ROLE c5_sec_stats LOGIN IN ROLE pg_read_all_stats;
CREATE ROLE c5_sec_monitor LOGIN IN ROLE pg_monitor;
CREATE ROLE c5_sec_owner LOGIN;
CREATE ROLE c5_sec_member LOGIN IN ROLE c5_sec_owner;
CREATE ROLE c5_sec_ops LOGIN;

-- 1. Who may execute or read what, for every object of the schema: a role
-- with no grant (PUBLIC), pg_read_all_stats, pg_monitor.  Reading the
-- registry is for the monitoring roles only; what PUBLIC may run is the
-- attach API (checked against table ownership), the trigger functions
-- and internal helpers that act with the caller's own rights.
SELECT p.oid::regprocedure AS function,
       has_function_privilege('c5_sec_nobody', p.oid, 'EXECUTE') AS public,
       has_function_privilege('c5_sec_stats', p.oid, 'EXECUTE') AS read_all_stats,
       has_function_privilege('c5_sec_monitor', p.oid, 'EXECUTE') AS monitor
  FROM pg_proc p
 WHERE p.pronamespace = 'c5metrics'::regnamespace
 ORDER BY p.oid::regprocedure::text COLLATE "C";
SELECT c.relname AS relation, c.relkind,
       has_table_privilege('c5_sec_nobody', c.oid, 'SELECT') AS public,
       has_table_privilege('c5_sec_stats', c.oid, 'SELECT') AS read_all_stats,
       has_table_privilege('c5_sec_monitor', c.oid, 'SELECT') AS monitor
  FROM pg_class c
 WHERE c.relnamespace = 'c5metrics'::regnamespace
 ORDER BY c.relname COLLATE "C";
-- nobody but superusers may write anything there, or create objects in it
SELECT c.relname, p.privilege
  FROM pg_class c,
       unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'TRIGGER', 'REFERENCES']) AS p(privilege),
       unnest(ARRAY['c5_sec_nobody', 'c5_sec_stats', 'c5_sec_monitor']) AS r(role)
 WHERE c.relnamespace = 'c5metrics'::regnamespace
   AND has_table_privilege(r.role, c.oid, p.privilege);
SELECT has_schema_privilege('c5_sec_monitor', 'c5metrics', 'CREATE') AS monitor_may_create;

-- 2. Without a monitoring role, the SLIs are closed too; with
-- pg_read_all_stats they are open.
SET ROLE c5_sec_nobody;
SELECT count(*) FROM c5metrics.sli;
SELECT count(*) FROM c5metrics.error_budget;
SELECT c5metrics.histogram_quantile(0.5, 'sale_refund_duration_seconds', '1 hour');
SELECT count(*) FROM c5metrics._sli_windows();
SELECT count(*) FROM c5metrics.read_metrics();
RESET ROLE;
SET ROLE c5_sec_stats;
SELECT count(*) > 0 AS can_read_sli FROM c5metrics.sli;
SELECT count(*) > 0 AS can_read_budget FROM c5metrics.error_budget;
SELECT c5metrics.reset();
RESET ROLE;

-- 3. Reset is for whoever is granted it, and no grant opens the SLI
-- ring's test functions to a non-superuser (checked in C as well).
GRANT EXECUTE ON FUNCTION c5metrics.reset() TO c5_sec_ops;
GRANT EXECUTE ON FUNCTION c5metrics._sli_clear(boolean) TO c5_sec_ops;
GRANT EXECUTE ON FUNCTION c5metrics._sli_feed(timestamptz, bigint[], bigint[], bigint[], bigint[]) TO c5_sec_ops;
SET ROLE c5_sec_ops;
SELECT c5metrics.reset();
SELECT c5metrics._sli_clear(false);
SELECT c5metrics._sli_feed(now(), '{}', '{}', '{}', '{}');
RESET ROLE;
REVOKE EXECUTE ON FUNCTION c5metrics.reset() FROM c5_sec_ops;
REVOKE EXECUTE ON FUNCTION c5metrics._sli_clear(boolean) FROM c5_sec_ops;
REVOKE EXECUTE ON FUNCTION c5metrics._sli_feed(timestamptz, bigint[], bigint[], bigint[], bigint[]) FROM c5_sec_ops;

-- 4. The listener's secret file and TLS key paths are superuser-only
-- settings: a role without pg_read_all_settings cannot learn them through
-- SHOW, current_setting(), pg_settings, the configuration files or
-- pg_read_file() (test/t/014_secrets.pl checks the same with real values).
SET ROLE c5_sec_nobody;
SHOW c5metrics.http_auth_file;
SHOW c5metrics.http_tls_cert_file;
SHOW c5metrics.http_tls_key_file;
SELECT current_setting('c5metrics.http_auth_file');
SELECT current_setting('c5metrics.http_tls_key_file', true);
SELECT name FROM pg_settings WHERE name LIKE 'c5metrics.http%' ORDER BY 1;
SELECT count(*) FROM pg_show_all_settings() WHERE name LIKE 'c5metrics.http\_%file';
SELECT count(*) FROM pg_file_settings;
SELECT count(*) FROM pg_show_all_file_settings();
SELECT pg_read_file('postgresql.auto.conf');
SELECT pg_read_file('postgresql.conf');
RESET ROLE;
SET ROLE c5_sec_stats;
SHOW c5metrics.http_auth_file;
SELECT count(*) FROM pg_settings WHERE name LIKE 'c5metrics.http\_%file';
RESET ROLE;
-- pg_monitor includes pg_read_all_settings, which PostgreSQL lets see
-- superuser-only settings (docs/HTTP.md): the paths, never the files.
SET ROLE c5_sec_monitor;
SELECT name FROM pg_settings WHERE name LIKE 'c5metrics.http\_%file' ORDER BY 1;
SELECT pg_read_file('postgresql.auto.conf');
SELECT pg_read_binary_file('postgresql.conf');
RESET ROLE;

-- 5. Attaching needs ownership of the table, for every flow: privileges on
-- the table, even TRIGGER, are not enough; membership in the owning role is.
CREATE SCHEMA sec AUTHORIZATION c5_sec_owner;
SET ROLE c5_sec_owner;
CREATE TABLE sec.sales (id bigint PRIMARY KEY, status text NOT NULL, total numeric NOT NULL);
CREATE TABLE sec.moves (movement_type text, sale_id bigint, quantity integer);
CREATE TABLE sec.refunds (sale_id bigint, amount numeric, refund_type text,
                          idempotency_key text UNIQUE);
CREATE TABLE sec.leads (email text, source_ip inet);
INSERT INTO sec.sales VALUES (1, 'pending', 10);
GRANT USAGE ON SCHEMA sec TO c5_sec_nobody;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA sec TO c5_sec_nobody;
RESET ROLE;
SET ROLE c5_sec_nobody;
SELECT c5metrics.track_sales('sec.sales');
SELECT c5metrics.track_stock('sec.moves');
SELECT c5metrics.track_refunds('sec.refunds');
SELECT c5metrics.track_refunds('sec.refunds', sales_table => 'sec.sales');
-- the trigger functions are executable by anyone, but PostgreSQL asks for
-- the table's TRIGGER privilege to attach one directly
CREATE TRIGGER zz_c5metrics_sales BEFORE UPDATE ON sec.sales FOR EACH ROW
  EXECUTE FUNCTION c5metrics._sales_trigger('status', 'paid', 'id');
RESET ROLE;
GRANT TRIGGER ON sec.sales TO c5_sec_nobody;
SET ROLE c5_sec_nobody;
SELECT c5metrics.track_sales('sec.sales');
RESET ROLE;
REVOKE TRIGGER ON sec.sales FROM c5_sec_nobody;
SET ROLE c5_sec_member;
SELECT c5metrics.track_leads('sec.leads');
SELECT c5metrics.untrack('sec.leads');
RESET ROLE;
SELECT count(*) AS triggers_left FROM pg_trigger WHERE tgrelid IN
  ('sec.sales'::regclass, 'sec.moves'::regclass, 'sec.refunds'::regclass, 'sec.leads'::regclass);

-- 6. Trigger functions attached by hand to one's own table, aimed at
-- tables one cannot read, learn nothing from them: the over-refund guard
-- cannot run: it refuses the refund with 55M01, the same whatever the sale
-- (no 23M01 telling the sale's remainder); the refund-in check, whose
-- refunds table an OID in 1.4 no longer names, checks only over_restock
-- on the role's own table (no no_refund telling whether a refund exists).
-- Both count a lost event.
REVOKE ALL ON sec.sales, sec.refunds FROM c5_sec_nobody;
CREATE SCHEMA nob AUTHORIZATION c5_sec_nobody;
SELECT 'sec.sales'::regclass::oid AS sales_oid, 'sec.refunds'::regclass::oid AS refunds_oid \gset
SELECT c5metrics.reset();
SET ROLE c5_sec_nobody;
CREATE TABLE nob.refunds (sale_id bigint, amount numeric, refund_type text,
                          idempotency_key text UNIQUE);
CREATE TRIGGER zz_c5metrics_refunds BEFORE INSERT ON nob.refunds FOR EACH ROW
  EXECUTE FUNCTION c5metrics._refunds_trigger('sale_id', 'amount', 'refund_type',
                                              'idempotency_key', :'sales_oid', 'id', 'total');
INSERT INTO nob.refunds VALUES (1, 1000000, 'full', 'probe-1');
CREATE TABLE nob.moves (movement_type text, sale_id bigint, quantity integer);
CREATE TRIGGER zz_c5metrics_stock BEFORE INSERT ON nob.moves FOR EACH ROW
  EXECUTE FUNCTION c5metrics._stock_trigger('movement_type', 'consume', 'refund_in', 'sale_id',
                                            'quantity', :'refunds_oid', 'sale_id');
INSERT INTO nob.moves VALUES ('refund_in', 1, 1);
RESET ROLE;
SELECT metric, labels, value FROM c5metrics.metrics
 WHERE metric IN ('sale_refund_over_refund_attempts_total', 'stock_refund_in_mismatch_total',
                  'c5metrics_events_lost_total')
 ORDER BY metric COLLATE "C", labels::text COLLATE "C";

-- 7. Hostile identifiers and values: quotes, semicolons, comment markers,
-- mixed case, spaces, format() and parameter markers, names of 63 bytes
-- and longer.  They cannot inject SQL, and where legitimate they work.
SET ROLE c5_sec_owner;
CREATE TABLE sec.canary (x int);
CREATE TABLE sec."Sales; DROP TABLE sec.canary; --" (
  "Id ""1""" bigint PRIMARY KEY,
  "Status'); DROP TABLE sec.canary; --" text NOT NULL,
  "Grand 'Total'" numeric NOT NULL);
CREATE TABLE sec."Stock 'Moves'" ("Kind""" text, "sale-id" bigint, "Qty;" integer);
CREATE TABLE sec."REFUNDS $1 %s %I" ("Sale Id" bigint, "Amount') --" numeric,
                                    "TYPE" text, "Key;" text UNIQUE);
CREATE TABLE sec.leads_that_have_a_name_of_sixty_three_bytes_xxxxxxxxxxxxxxxxxxxxx (
  "IP" inet,
  "email_column_whose_name_is_longer_than_sixty_three_bytes_and_so_truncated" text);
-- injection through the arguments fails cleanly
SELECT c5metrics.track_sales('sec.canary; DROP TABLE sec.canary');
SELECT c5metrics.track_sales('sec."Sales; DROP TABLE sec.canary; --"',
                             status_column => 'x"; DROP TABLE sec.canary; --');
SELECT c5metrics.track_leads('sec.leads_that_have_a_name_of_sixty_three_bytes_xxxxxxxxxxxxxxxxxxxxx',
                             ip_column => 'IP', email_column => $$email'); DROP TABLE sec.canary; --$$);
-- and the legitimate names and values attach
SELECT c5metrics.track_sales('sec."Sales; DROP TABLE sec.canary; --"',
                             status_column => 'Status''); DROP TABLE sec.canary; --',
                             paid_value => $$it's paid'); DROP TABLE sec.canary; --$$,
                             id_column => 'Id "1"',
                             allowed_statuses => ARRAY['new', $$it's paid'); DROP TABLE sec.canary; --$$,
                                                       'x"y; --', 'Mixed Case', E'back\\slash', 'payé']);
SELECT c5metrics.track_stock('sec."Stock ''Moves''"', type_column => 'Kind"',
                             consume_value => $$take'; DROP TABLE sec.canary; --$$,
                             refund_in_value => 'back"in %s $1',
                             sale_column => 'sale-id', quantity_column => 'Qty;',
                             refunds_table => 'sec."REFUNDS $1 %s %I"',
                             refunds_sale_column => 'Sale Id');
SELECT c5metrics.track_refunds('sec."REFUNDS $1 %s %I"', sale_column => 'Sale Id',
                               amount_column => 'Amount'') --', type_column => 'TYPE',
                               key_column => 'Key;',
                               sales_table => 'sec."Sales; DROP TABLE sec.canary; --"',
                               sales_id_column => 'Id "1"', sales_total_column => 'Grand ''Total''');
SELECT c5metrics.track_leads('sec.leads_that_have_a_name_of_sixty_three_bytes_xxxxxxxxxxxxxxxxxxxxx',
                             ip_column => 'IP',
                             email_column => 'email_column_whose_name_is_longer_than_sixty_three_bytes_and_so_truncated');
-- c5metrics.tracked decodes the configuration back, byte for byte
\pset format unaligned
SELECT table_name, flow, config FROM c5metrics.tracked
 WHERE table_name::text LIKE 'sec.%' ORDER BY flow COLLATE "C";
\pset format aligned
SELECT tgrelid::regclass AS table_name, tgname FROM pg_trigger
 WHERE tgrelid::regclass::text LIKE 'sec.%' ORDER BY tgname COLLATE "C";
RESET ROLE;

-- Every flow counts through them: a sale paid with stock consumed, a
-- refund and an over-refund (the guard's remainder read through the
-- hostile names), a refund-in beyond what was consumed (the pre-commit
-- check's query built from them), a throttled lead.  Nothing is lost.
SELECT c5metrics.reset();
SET c5metrics.lead_throttle = on;
SET c5metrics.lead_ip_per_minute = 1;
SET ROLE c5_sec_owner;
INSERT INTO sec."Sales; DROP TABLE sec.canary; --" VALUES (1, 'new', 100);
BEGIN;
UPDATE sec."Sales; DROP TABLE sec.canary; --"
   SET "Status'); DROP TABLE sec.canary; --" = $$it's paid'); DROP TABLE sec.canary; --$$;
INSERT INTO sec."Stock 'Moves'" VALUES ($$take'; DROP TABLE sec.canary; --$$, 1, 2);
COMMIT;
INSERT INTO sec."REFUNDS $1 %s %I" VALUES (1, 30, 'partial', 'k1');
\set VERBOSITY default
INSERT INTO sec."REFUNDS $1 %s %I" VALUES (1, 80, 'partial', 'k2');
\set VERBOSITY terse
BEGIN;
INSERT INTO sec."Stock 'Moves'" VALUES ('back"in %s $1', 1, 5);
COMMIT;
INSERT INTO sec.leads_that_have_a_name_of_sixty_three_bytes_xxxxxxxxxxxxxxxxxxxxx
  VALUES ('192.0.2.7', 'a@example.com'), ('192.0.2.8', 'b@example.com');
INSERT INTO sec.leads_that_have_a_name_of_sixty_three_bytes_xxxxxxxxxxxxxxxxxxxxx
  VALUES ('192.0.2.7', 'c@example.com');
RESET ROLE;
RESET c5metrics.lead_throttle;
RESET c5metrics.lead_ip_per_minute;
SELECT metric, labels, value FROM c5metrics.metrics
 WHERE value <> 0 AND type <> 'histogram'
   AND metric NOT IN ('sales_transition_total', 'exceptions_total')
   AND metric NOT LIKE 'c5metrics\_%'
 ORDER BY metric COLLATE "C", labels::text COLLATE "C";
SELECT value AS events_lost FROM c5metrics.metrics WHERE metric = 'c5metrics_events_lost_total';
SELECT count(*) AS canary_rows FROM sec.canary;
-- detaching works on the same names
SET ROLE c5_sec_owner;
SELECT c5metrics.untrack('sec."Sales; DROP TABLE sec.canary; --"');
SELECT c5metrics.untrack('sec."Stock ''Moves''"');
SELECT c5metrics.untrack('sec."REFUNDS $1 %s %I"');
SELECT c5metrics.untrack('sec.leads_that_have_a_name_of_sixty_three_bytes_xxxxxxxxxxxxxxxxxxxxx');
RESET ROLE;
SELECT count(*) AS still_tracked FROM c5metrics.tracked WHERE table_name::text LIKE 'sec.%';

-- 8. A role that may only insert cannot make c5metrics run its code with
-- the table owner's rights by shadowing operators in its search_path
-- (pg_catalog placed after its own schema): every query c5metrics runs on
-- behalf of an owner resolves only pg_catalog's objects.
SET ROLE c5_sec_owner;
SELECT c5metrics.track_stock('sec.moves', refunds_table => 'sec.refunds');
SELECT c5metrics.track_refunds('sec.refunds', sales_table => 'sec.sales');
SELECT c5metrics.track_sales('sec.sales', paid_value => 'paid');
GRANT INSERT ON sec.moves, sec.refunds TO c5_sec_nobody;
GRANT UPDATE ON sec.sales TO c5_sec_nobody;
RESET ROLE;
SELECT c5metrics.reset();
SET ROLE c5_sec_nobody;
CREATE TABLE nob.log (who name, via text);
GRANT USAGE ON SCHEMA nob TO PUBLIC;
GRANT INSERT ON nob.log TO PUBLIC;
CREATE FUNCTION nob.spy(via text) RETURNS void LANGUAGE sql
  AS $$ INSERT INTO nob.log VALUES (current_user, via) $$;
CREATE FUNCTION nob.eq_text(text, text) RETURNS boolean LANGUAGE plpgsql
  AS $$ BEGIN PERFORM nob.spy('text = text'); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE FUNCTION nob.eq_int8(bigint, bigint) RETURNS boolean LANGUAGE plpgsql
  AS $$ BEGIN PERFORM nob.spy('bigint = bigint'); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE FUNCTION nob.eq_int4(integer, integer) RETURNS boolean LANGUAGE plpgsql
  AS $$ BEGIN PERFORM nob.spy('integer = integer'); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE FUNCTION nob.lt_int8(bigint, bigint) RETURNS boolean LANGUAGE plpgsql
  AS $$ BEGIN PERFORM nob.spy('bigint < bigint'); RETURN $1 OPERATOR(pg_catalog.<) $2; END $$;
CREATE FUNCTION nob.lt_numeric(numeric, numeric) RETURNS boolean LANGUAGE plpgsql
  AS $$ BEGIN PERFORM nob.spy('numeric < numeric'); RETURN $1 OPERATOR(pg_catalog.<) $2; END $$;
CREATE OPERATOR nob.= (LEFTARG = text, RIGHTARG = text, FUNCTION = nob.eq_text);
CREATE OPERATOR nob.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = nob.eq_int8);
CREATE OPERATOR nob.= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = nob.eq_int4);
CREATE OPERATOR nob.< (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = nob.lt_int8);
CREATE OPERATOR nob.< (LEFTARG = numeric, RIGHTARG = numeric, FUNCTION = nob.lt_numeric);
CREATE TABLE nob.leads (email text, source_ip inet);
SET search_path = nob, pg_catalog;
BEGIN;
INSERT INTO sec.refunds VALUES (1, 1, 'partial', 'spy-1');
INSERT INTO sec.moves VALUES ('consume', 1, 1), ('refund_in', 1, 2);
UPDATE sec.sales SET status = 'paid';
COMMIT;
SELECT c5metrics.track_leads('nob.leads');
SELECT count(*) AS tracked_rows FROM c5metrics.tracked WHERE table_name = 'nob.leads'::regclass;
SELECT c5metrics.untrack('nob.leads');
RESET search_path;
SELECT who, via FROM nob.log;
RESET ROLE;
-- and the check still counted, with nothing lost
SELECT metric, labels, value FROM c5metrics.metrics
 WHERE metric IN ('stock_refund_in_mismatch_total', 'c5metrics_events_lost_total')
 ORDER BY metric COLLATE "C", labels::text COLLATE "C";

-- 9. SECURITY DEFINER and search_path, over every function that belongs
-- to the extension (by pg_depend, whatever its schema): the one definer
-- function takes no argument, is owned by a superuser and pins its
-- search_path; no SQL or PL/pgSQL member leaves search_path open.
SELECT p.oid::regprocedure AS function, p.pronargs AS arguments, p.proconfig,
       r.rolsuper AS owned_by_superuser
  FROM pg_depend d
  JOIN pg_proc p ON p.oid = d.objid
  JOIN pg_roles r ON r.oid = p.proowner
 WHERE d.classid = 'pg_proc'::regclass AND d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'c5metrics')
   AND d.deptype = 'e' AND p.prosecdef;
SELECT p.oid::regprocedure AS unpinned
  FROM pg_depend d
  JOIN pg_proc p ON p.oid = d.objid
  JOIN pg_language l ON l.oid = p.prolang
 WHERE d.classid = 'pg_proc'::regclass AND d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'c5metrics')
   AND d.deptype = 'e' AND l.lanname NOT IN ('c', 'internal')
   AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false);

-- Clean up.
SELECT c5metrics.untrack(t) FROM (VALUES ('sec.sales'::regclass), ('sec.moves'), ('sec.refunds')) v(t);
DROP SCHEMA nob CASCADE;
DROP SCHEMA sec CASCADE;
DROP OWNED BY c5_sec_nobody, c5_sec_stats, c5_sec_monitor, c5_sec_owner, c5_sec_member, c5_sec_ops;
DROP ROLE c5_sec_nobody, c5_sec_stats, c5_sec_monitor, c5_sec_owner, c5_sec_member, c5_sec_ops;
