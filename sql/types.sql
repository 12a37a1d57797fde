-- Column types on every mapped column of every flow (issue 15, "a guard
-- never stands aside silently"): text, varchar(n), char(n), citext, uuid,
-- the integers, enums and domains over each.  Every combination either
-- works -- counted exactly, the over-refund guard blocks and lets a retry
-- of a used key through as a conflict, no event lost -- or is refused when
-- attaching, with an errcode and the reason.  Never accepted and then
-- ignored.
--
-- Each case creates its tables, attaches them, drives the flow one
-- committed transaction at a time (procedures that COMMIT: counters move
-- at commit) and writes one line to ty.results; the tables are dropped
-- after it.  Errors are caught and shown by message, not by SQLSTATE,
-- where the SQLSTATE is the guard's or the throttle's.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS c5metrics;
RESET client_min_messages;
CREATE SCHEMA ty;
CREATE EXTENSION citext SCHEMA ty;
-- statuses are labels: start from an empty dictionary (16 values at most)
SELECT c5metrics.reset_labels();

CREATE TYPE ty.word AS ENUM ('pending', 'paid', 'consume', 'refund_in', 'receive',
                             'partial', 'full');
CREATE DOMAIN ty.d_word AS ty.word;
CREATE DOMAIN ty.d_text AS text;
CREATE DOMAIN ty.d_varchar AS varchar(40);
CREATE DOMAIN ty.d_char AS char(40);
CREATE DOMAIN ty.d_citext AS ty.citext;
CREATE DOMAIN ty.d_uuid AS uuid;
CREATE DOMAIN ty.d_int2 AS smallint;
CREATE DOMAIN ty.d_int4 AS integer CHECK (VALUE > 0);
CREATE DOMAIN ty.d_int8 AS bigint;
CREATE DOMAIN ty.dd_int8 AS ty.d_int8;		-- a domain over a domain
CREATE DOMAIN ty.d_numeric AS numeric(12,2) CHECK (VALUE >= 0);
CREATE DOMAIN ty.d_inet AS inet;
CREATE DOMAIN ty.d_short AS varchar(3);
CREATE DOMAIN ty.d_state AS ty.d_short CHECK (VALUE <> 'x');

-- The kinds under test: their SQL type, and the family their values are
-- written in (ty.val).
CREATE TABLE ty.kinds (ord serial, kind text PRIMARY KEY, sqltype text NOT NULL, fam text NOT NULL);
INSERT INTO ty.kinds (kind, sqltype, fam) VALUES
  ('text', 'text', 'text'), ('varchar', 'varchar(40)', 'text'), ('char', 'char(40)', 'text'),
  ('citext', 'ty.citext', 'text'), ('uuid', 'uuid', 'uuid'),
  ('int2', 'smallint', 'int'), ('int4', 'integer', 'int'), ('int8', 'bigint', 'int'),
  ('d_text', 'ty.d_text', 'text'), ('d_varchar', 'ty.d_varchar', 'text'),
  ('d_char', 'ty.d_char', 'text'), ('d_citext', 'ty.d_citext', 'text'),
  ('d_uuid', 'ty.d_uuid', 'uuid'), ('d_int2', 'ty.d_int2', 'int'),
  ('d_int4', 'ty.d_int4', 'int'), ('dd_int8', 'ty.dd_int8', 'int'),
  ('name', 'name', 'text'), ('enum', 'ty.word', 'word'), ('d_enum', 'ty.d_word', 'word'),
  ('numeric', 'numeric(12,2)', 'num'), ('d_numeric', 'ty.d_numeric', 'num'),
  ('float8', 'double precision', 'num'), ('money', 'money', 'num'),
  ('inet', 'inet', 'inet'), ('d_inet', 'ty.d_inet', 'inet'), ('cidr', 'cidr', 'inet'),
  ('oid', 'oid', 'int'), ('jsonb', 'jsonb', 'json'), ('bool', 'boolean', 'bool');
-- the sale-id kinds of the matrices
CREATE VIEW ty.ids AS
SELECT ord, kind FROM ty.kinds WHERE ord <= 16;

CREATE FUNCTION ty.t(k text) RETURNS text LANGUAGE sql STABLE
AS $$ SELECT sqltype FROM ty.kinds WHERE kind = k $$;

-- Value number i of a kind, as the text of a literal.
CREATE FUNCTION ty.val(k text, i int) RETURNS text LANGUAGE sql STABLE
AS $$
  SELECT CASE fam WHEN 'int' THEN i::text
                  WHEN 'num' THEN i::text
                  WHEN 'uuid' THEN '00000000-0000-4000-8000-' || lpad(i::text, 12, '0')
                  WHEN 'json' THEN format('{"id": %s}', i)
                  ELSE 'S-' || i END
    FROM ty.kinds WHERE kind = k
$$;

-- One counter, summed over the series whose labels contain l.
CREATE FUNCTION ty.n(m text, l jsonb DEFAULT '{}') RETURNS bigint LANGUAGE sql
AS $$ SELECT coalesce(sum(value), 0)::bigint FROM c5metrics.metrics WHERE metric = m AND labels @> l $$;

-- Run a statement: 'ok', or 'refused SQLSTATE' and, unless brief, the
-- message, detail and hint.
CREATE FUNCTION ty.try(stmt text, brief boolean DEFAULT false) RETURNS text LANGUAGE plpgsql
AS $$
DECLARE
  st text;
  msg text;
  det text;
  hnt text;
BEGIN
  EXECUTE stmt;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                          det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
  IF brief THEN
    RETURN 'refused ' || st;
  END IF;
  RETURN concat_ws(E'\n', 'refused ' || st || ': ' || msg, 'DETAIL: ' || nullif(det, ''),
                   'HINT: ' || nullif(hnt, ''));
END
$$;

-- Write one row: what became of it, the guard's and the throttle's errors
-- told by their messages.
CREATE FUNCTION ty.attempt(stmt text) RETURNS text LANGUAGE plpgsql
AS $$
BEGIN
  EXECUTE stmt;
  RETURN 'accepted';
EXCEPTION
  WHEN unique_violation THEN
    RETURN 'duplicate';
  WHEN OTHERS THEN
    RETURN CASE SQLERRM WHEN 'refund exceeds the refundable remainder of its sale' THEN 'over-refund'
                        WHEN 'lead throttled' THEN 'throttled'
                        ELSE SQLSTATE || ' ' || SQLERRM END;
END
$$;

CREATE SEQUENCE ty.seq;
CREATE SEQUENCE ty.leadseq;
CREATE TABLE ty.results (seq serial, grp text, a text, b text, outcome text);

-- Sales: status_column of kind st, id_column of kind id, and the stock
-- table's sale_column of kind ms.  Two sales paid, one consumed.
CREATE PROCEDURE ty.sales_case(grp text, st text, id text, ms text)
LANGUAGE plpgsql AS $$
DECLARE
  n int := nextval('ty.seq');
  s text := 'ty.sales_' || n;
  m text := 'ty.moves_' || n;
  res text;
BEGIN
  EXECUTE format('CREATE TABLE %s (id %s PRIMARY KEY, status %s NOT NULL)', s, ty.t(id), ty.t(st));
  EXECUTE format('CREATE TABLE %s (kind text NOT NULL, sale_id %s, qty int NOT NULL)', m, ty.t(ms));
  res := ty.try(format('SELECT c5metrics.track_sales(%L)', s));
  IF res = 'ok' THEN
    res := ty.try(format('SELECT c5metrics.track_stock(%L, type_column => %L, quantity_column => %L)',
                         m, 'kind', 'qty'));
  END IF;
  IF res = 'ok' THEN
    COMMIT;
    PERFORM c5metrics.reset();
    EXECUTE format('INSERT INTO %s VALUES (%L, %L), (%L, %L)', s,
                   ty.val(id, 1), 'pending', ty.val(id, 2), 'pending');
    COMMIT;
    EXECUTE format('UPDATE %s SET status = %L WHERE id = %L', s, 'paid', ty.val(id, 1));
    EXECUTE format('INSERT INTO %s VALUES (%L, %L, 1)', m, 'consume', ty.val(ms, 1));
    COMMIT;
    EXECUTE format('UPDATE %s SET status = %L WHERE id = %L', s, 'paid', ty.val(id, 2));
    COMMIT;
    res := format('paid=%s consumed=%s missing=%s lost=%s',
                  ty.n('sales_transition_total', '{"from_status": "pending", "to_status": "paid", "result": "success"}'),
                  ty.n('sales_paid_stock_consume_total', '{"result": "success"}'),
                  ty.n('sales_paid_stock_consume_total', '{"result": "missing"}'),
                  ty.n('c5metrics_events_lost_total'));
  END IF;
  INSERT INTO ty.results (grp, a, b, outcome) VALUES (grp, st, id || '/' || ms, res);
  EXECUTE format('DROP TABLE %s, %s', s, m);
  COMMIT;
END
$$;

-- Stock: type_column of kind ty_, sale_column of kind sk, quantity_column
-- of kind q, and the refunds table's sale column of kind rk.  Sale 1:
-- consumed 2, refunded, 1 put back (consistent); sale 2: 1 put back with
-- nothing consumed nor refunded (both mismatches).
CREATE PROCEDURE ty.stock_case(grp text, ty_ text, sk text, q text, rk text)
LANGUAGE plpgsql AS $$
DECLARE
  n int := nextval('ty.seq');
  m text := 'ty.moves_' || n;
  r text := 'ty.refunds_' || n;
  res text;
BEGIN
  EXECUTE format('CREATE TABLE %s (kind %s NOT NULL, sale_id %s, qty %s NOT NULL)', m, ty.t(ty_), ty.t(sk), ty.t(q));
  EXECUTE format('CREATE TABLE %s (sale_id %s NOT NULL, amount numeric NOT NULL)', r, ty.t(rk));
  res := ty.try(format('SELECT c5metrics.track_stock(%L, type_column => %L, quantity_column => %L, '
                       'refunds_table => %L)', m, 'kind', 'qty', r));
  IF res = 'ok' THEN
    COMMIT;
    PERFORM c5metrics.reset();
    EXECUTE format('INSERT INTO %s VALUES (%L, %L, 2)', m, 'consume', ty.val(sk, 1));
    COMMIT;
    EXECUTE format('INSERT INTO %s VALUES (%L, 10)', r, ty.val(rk, 1));
    EXECUTE format('INSERT INTO %s VALUES (%L, %L, 1)', m, 'refund_in', ty.val(sk, 1));
    COMMIT;
    EXECUTE format('INSERT INTO %s VALUES (%L, %L, 1)', m, 'refund_in', ty.val(sk, 2));
    COMMIT;
    EXECUTE format('INSERT INTO %s VALUES (%L, %L, 5)', m, 'receive', ty.val(sk, 3));
    COMMIT;
    res := format('refund_in=%s over_restock=%s no_refund=%s lost=%s',
                  ty.n('stock_refund_in_total', '{"result": "success"}'),
                  ty.n('stock_refund_in_mismatch_total', '{"type": "over_restock"}'),
                  ty.n('stock_refund_in_mismatch_total', '{"type": "no_refund"}'),
                  ty.n('c5metrics_events_lost_total'));
  END IF;
  INSERT INTO ty.results (grp, a, b, outcome)
  VALUES (grp, ty_ || '/' || q, sk || '/' || rk, res);
  EXECUTE format('DROP TABLE %s, %s', m, r);
  COMMIT;
END
$$;

-- Refunds with the guard: sale_column of kind sk, the sales table's id of
-- kind ik, key_column of kind kk, type_column of kind tk, amount_column of
-- kind ak, the sales total of kind tot.  layout 'pk': the sale found
-- through the sales table's primary key, the refunds by a scan; 'scan':
-- the sale by a scan, the refunds through an index on their sale column.
-- A sale of 100: 60 refunded, 50 more blocked, the 60 retried with its key
-- (ON CONFLICT DO NOTHING, then plainly), the remaining 40 refunded.
CREATE PROCEDURE ty.refunds_case(grp text, sk text, ik text, kk text DEFAULT 'text',
                                 tk text DEFAULT 'text', ak text DEFAULT 'numeric',
                                 tot text DEFAULT 'numeric', layout text DEFAULT 'pk',
                                 brief boolean DEFAULT true)
LANGUAGE plpgsql AS $$
DECLARE
  n int := nextval('ty.seq');
  s text := 'ty.sales_' || n;
  r text := 'ty.refunds_' || n;
  ins text;
  sale text := ty.val(sk, 7);
  res text;
  a text[];
BEGIN
  EXECUTE format('CREATE TABLE %s (id %s %s, total %s NOT NULL)', s, ty.t(ik),
                 CASE layout WHEN 'pk' THEN 'PRIMARY KEY' ELSE '' END, ty.t(tot));
  EXECUTE format('CREATE TABLE %s (id serial PRIMARY KEY, sale_id %s NOT NULL, amount %s NOT NULL, '
                 'kind %s NOT NULL, ikey %s NOT NULL UNIQUE)', r, ty.t(sk), ty.t(ak), ty.t(tk), ty.t(kk));
  IF layout = 'scan' THEN
    EXECUTE format('CREATE INDEX ON %s (sale_id)', r);
  END IF;
  res := ty.try(format('SELECT c5metrics.track_refunds(%L, type_column => %L, key_column => %L, '
                       'sales_table => %L)', r, 'kind', 'ikey', s), brief);
  IF res = 'ok' THEN
    COMMIT;
    PERFORM c5metrics.reset();
    EXECUTE format('INSERT INTO %s VALUES (%L, 100)', s, ty.val(ik, 7));
    COMMIT;
    ins := 'INSERT INTO ' || r || ' (sale_id, amount, kind, ikey) VALUES (%L, %s, %L, %L)';
    a[1] := ty.attempt(format(ins, sale, 60, 'partial', ty.val(kk, 1)));
    COMMIT;
    a[2] := ty.attempt(format(ins, sale, 50, 'partial', ty.val(kk, 2)));
    COMMIT;
    a[3] := ty.attempt(format(ins, sale, 60, 'partial', ty.val(kk, 1)) || ' ON CONFLICT DO NOTHING');
    COMMIT;
    a[4] := ty.attempt(format(ins, sale, 60, 'partial', ty.val(kk, 1)));
    COMMIT;
    a[5] := ty.attempt(format(ins, sale, 40, 'full', ty.val(kk, 3)));
    COMMIT;
    res := format('%s over=%s conflicts=%s partial=%s full=%s lost=%s', array_to_string(a, ' '),
                  ty.n('sale_refund_over_refund_attempts_total'),
                  ty.n('sale_refund_idempotency_conflicts_total'),
                  ty.n('sale_refunds_total', '{"type": "partial", "result": "success"}'),
                  ty.n('sale_refunds_total', '{"type": "full", "result": "success"}'),
                  ty.n('c5metrics_events_lost_total'));
  END IF;
  INSERT INTO ty.results (grp, a, b, outcome)
  VALUES (grp, sk || '/' || ik, format('key %s, type %s, amount %s, total %s, %s', kk, tk, ak, tot, layout), res);
  EXECUTE format('DROP TABLE %s, %s', r, s);
  COMMIT;
END
$$;
-- What a guarded case writes.  One conflict: the skip of ON CONFLICT DO
-- NOTHING; the duplicate's unique violation, trapped by ty.attempt()'s
-- EXCEPTION block, is never reported, so it counts as a plain rollback
-- (docs/METRICS.md, "Known limits").
CREATE VIEW ty.guarded(outcome) AS
VALUES ('accepted over-refund accepted duplicate accepted over=1 conflicts=1 partial=1 full=1 lost=0');

-- Leads: ip_column of kind ipk, email_column of kind ek, the throttle on.
-- Per address: the 2nd lead from one address is throttled; per email: the
-- 2nd from one address written in other letter cases is throttled.  Then
-- the buckets are refilled, for the next case's keys that share them.
CREATE PROCEDURE ty.leads_case(grp text, ipk text, ek text)
LANGUAGE plpgsql AS $$
DECLARE
  n int := nextval('ty.seq');
  l text := 'ty.leads_' || n;
  ins text := 'INSERT INTO ' || l || ' (ip, email) VALUES (%L, %L)';
  ip text := '198.18.' || nextval('ty.leadseq') || '.';
  res text;
  a text[];
BEGIN
  EXECUTE format('CREATE TABLE %s (id serial PRIMARY KEY, ip %s, email %s)', l, ty.t(ipk), ty.t(ek));
  res := ty.try(format('SELECT c5metrics.track_leads(%L, ip_column => %L, email_column => %L)',
                       l, 'ip', 'email'));
  IF res = 'ok' THEN
    COMMIT;
    PERFORM c5metrics.reset();
    PERFORM set_config('c5metrics.lead_throttle', 'on', false);
    PERFORM set_config('c5metrics.lead_global_per_minute', '10000000', false);
    PERFORM set_config('c5metrics.lead_ip_per_minute', '1', false);
    PERFORM set_config('c5metrics.lead_email_per_minute', '1000000', false);
    a[1] := ty.attempt(format(ins, ip || '1', 'a' || n || '@example.com'));
    COMMIT;
    a[2] := ty.attempt(format(ins, ip || '1', 'b' || n || '@example.com'));
    COMMIT;
    PERFORM set_config('c5metrics.lead_ip_per_minute', '1000000', false);
    PERFORM set_config('c5metrics.lead_email_per_minute', '1', false);
    a[3] := ty.attempt(format(ins, ip || '2', 'Mixed' || n || '@Example.com'));
    COMMIT;
    a[4] := ty.attempt(format(ins, ip || '3', 'mixed' || n || '@example.COM'));
    COMMIT;
    res := format('%s created=%s throttled ip=%s email=%s lost=%s', array_to_string(a, ' '),
                  ty.n('public_leads_requests_total', '{"result": "created"}'),
                  ty.n('public_leads_throttled_total', '{"scope": "ip"}'),
                  ty.n('public_leads_throttled_total', '{"scope": "email"}'),
                  ty.n('c5metrics_events_lost_total'));
    PERFORM set_config('c5metrics.lead_email_per_minute', '1000000', false);
    PERFORM pg_sleep(0.01);
    EXECUTE format(ins, ip || '1', 'mixed' || n || '@example.com');
    COMMIT;
    PERFORM set_config('c5metrics.lead_throttle', 'off', false);
  END IF;
  INSERT INTO ty.results (grp, a, b, outcome) VALUES (grp, ipk, ek, res);
  EXECUTE format('DROP TABLE %s', l);
  COMMIT;
END
$$;

-- 1. Sales: every text-like status kind (id bigint), every sale-id kind
-- on both tables, and the sale ids of the two tables in other kinds.
DO $$
DECLARE
  k record;
BEGIN
  FOR k IN SELECT kind FROM ty.kinds
            WHERE kind IN ('text', 'varchar', 'char', 'citext', 'name', 'enum', 'd_text',
                           'd_varchar', 'd_char', 'd_citext', 'd_enum')
            ORDER BY ord LOOP
    CALL ty.sales_case('status', k.kind, 'int8', 'int8');
  END LOOP;
  FOR k IN SELECT kind FROM ty.ids ORDER BY ord LOOP
    CALL ty.sales_case('id', 'text', k.kind, k.kind);
  END LOOP;
  CALL ty.sales_case('id', 'text', 'int4', 'int8');
  CALL ty.sales_case('id', 'text', 'int8', 'int2');
  CALL ty.sales_case('id', 'text', 'd_int4', 'dd_int8');
  CALL ty.sales_case('id', 'text', 'text', 'varchar');
  CALL ty.sales_case('id', 'text', 'd_varchar', 'text');
  CALL ty.sales_case('id', 'text', 'char', 'text');
  CALL ty.sales_case('id', 'text', 'varchar', 'd_char');
  CALL ty.sales_case('id', 'text', 'citext', 'text');
END
$$;
SELECT a AS status, b AS "id/stock sale", outcome FROM ty.results WHERE grp IN ('status', 'id') ORDER BY seq;

-- 2. Stock: every text-like type kind, every quantity kind, every sale-id
-- kind on both tables, and the pairs of sale-id kinds that compare.
DO $$
DECLARE
  k record;
BEGIN
  FOR k IN SELECT kind FROM ty.kinds
            WHERE kind IN ('text', 'varchar', 'char', 'citext', 'name', 'enum', 'd_text',
                           'd_varchar', 'd_char', 'd_citext', 'd_enum')
            ORDER BY ord LOOP
    CALL ty.stock_case('stock type', k.kind, 'int8', 'int4', 'int8');
  END LOOP;
  FOR k IN SELECT kind FROM ty.kinds
            WHERE kind IN ('int2', 'int4', 'int8', 'd_int2', 'd_int4', 'dd_int8', 'numeric',
                           'd_numeric', 'float8', 'money')
            ORDER BY ord LOOP
    CALL ty.stock_case('stock quantity', 'text', 'int8', k.kind, 'int8');
  END LOOP;
  FOR k IN SELECT a.kind AS sk, b.kind AS rk FROM ty.ids a, ty.ids b
            WHERE c5metrics._comparable(ty.t(a.kind)::regtype, ty.t(b.kind)::regtype)
            ORDER BY a.ord, b.ord LOOP
    CALL ty.stock_case('stock sale', 'text', k.sk, 'int4', k.rk);
  END LOOP;
END
$$;
SELECT a AS "type/quantity", b AS "sale/refunds sale", outcome FROM ty.results
 WHERE grp LIKE 'stock%' ORDER BY seq;

-- 3. Refunds and the over-refund guard.  Every pair of sale-id kinds of
-- the refunds and the sales table: guarded, or refused when attaching.
DO $$
DECLARE
  k record;
BEGIN
  FOR k IN SELECT a.kind AS sk, b.kind AS ik FROM ty.ids a, ty.ids b ORDER BY a.ord, b.ord LOOP
    CALL ty.refunds_case('pairs', k.sk, k.ik);
  END LOOP;
END
$$;
SELECT split_part(a, '/', 1) AS "refunds sale",
       string_agg(split_part(a, '/', 2), ' ' ORDER BY seq)
         FILTER (WHERE outcome = (SELECT outcome FROM ty.guarded)) AS "guarded with sales id",
       string_agg(split_part(a, '/', 2), ' ' ORDER BY seq)
         FILTER (WHERE outcome = 'refused 42804') AS "refused (42804) with",
       string_agg(split_part(a, '/', 2) || ': ' || outcome, '; ' ORDER BY seq)
         FILTER (WHERE outcome NOT IN ((SELECT outcome FROM ty.guarded), 'refused 42804')) AS wrong
  FROM ty.results WHERE grp = 'pairs'
 GROUP BY 1 ORDER BY min(seq);
-- attach accepts exactly the pairs c5metrics._comparable() accepts
SELECT count(*) AS disagree FROM ty.results
 WHERE grp = 'pairs'
   AND c5metrics._comparable(ty.t(split_part(a, '/', 1))::regtype, ty.t(split_part(a, '/', 2))::regtype)
       IS DISTINCT FROM (outcome <> 'refused 42804');

-- The guard the other way round: the sale found by a scan, the refunds
-- through an index on their sale column; every kind, and mixed kinds.
DO $$
DECLARE
  k record;
BEGIN
  FOR k IN SELECT kind FROM ty.ids ORDER BY ord LOOP
    CALL ty.refunds_case('scan', k.kind, k.kind, layout => 'scan');
  END LOOP;
  CALL ty.refunds_case('scan', 'int4', 'int8', layout => 'scan');
  CALL ty.refunds_case('scan', 'dd_int8', 'int2', layout => 'scan');
  CALL ty.refunds_case('scan', 'varchar', 'text', layout => 'scan');
  CALL ty.refunds_case('scan', 'text', 'd_varchar', layout => 'scan');
END
$$;
SELECT a AS "refunds sale/sales id", outcome = (SELECT outcome FROM ty.guarded) AS guarded,
       nullif(outcome, (SELECT outcome FROM ty.guarded)) AS otherwise
  FROM ty.results WHERE grp = 'scan' ORDER BY seq;

-- Every idempotency-key kind, every refund-type kind, every amount and
-- total kind (sale ids bigint).
DO $$
DECLARE
  k record;
BEGIN
  FOR k IN SELECT kind FROM ty.ids ORDER BY ord LOOP
    CALL ty.refunds_case('key', 'int8', 'int8', kk => k.kind);
  END LOOP;
  FOR k IN SELECT kind FROM ty.kinds
            WHERE kind IN ('text', 'varchar', 'char', 'citext', 'name', 'enum', 'd_text',
                           'd_varchar', 'd_char', 'd_citext', 'd_enum')
            ORDER BY ord LOOP
    CALL ty.refunds_case('type', 'int8', 'int8', tk => k.kind);
  END LOOP;
  FOR k IN SELECT kind FROM ty.kinds
            WHERE kind IN ('int2', 'int4', 'int8', 'd_int2', 'd_int4', 'dd_int8', 'numeric',
                           'd_numeric', 'float8', 'money')
            ORDER BY ord LOOP
    CALL ty.refunds_case('amount', 'int8', 'int8', ak => k.kind);
    CALL ty.refunds_case('total', 'int8', 'int8', tot => k.kind);
  END LOOP;
END
$$;
SELECT grp, b AS "columns", outcome = (SELECT outcome FROM ty.guarded) AS guarded,
       nullif(outcome, (SELECT outcome FROM ty.guarded)) AS otherwise
  FROM ty.results WHERE grp IN ('key', 'type', 'amount', 'total') ORDER BY seq;

-- 4. Leads: address and email kinds, with the throttle.
DO $$
DECLARE
  k record;
BEGIN
  FOR k IN SELECT kind FROM ty.kinds
            WHERE kind IN ('inet', 'd_inet', 'cidr', 'text', 'varchar', 'char', 'citext', 'd_text')
            ORDER BY ord LOOP
    CALL ty.leads_case('leads', k.kind, 'text');
  END LOOP;
  FOR k IN SELECT kind FROM ty.kinds
            WHERE kind IN ('varchar', 'char', 'citext', 'd_text', 'd_varchar', 'd_char', 'd_citext')
            ORDER BY ord LOOP
    CALL ty.leads_case('leads', 'inet', k.kind);
  END LOOP;
END
$$;
SELECT a AS ip, b AS email, outcome FROM ty.results WHERE grp = 'leads' ORDER BY seq;

-- 5. What cannot work is refused when attaching, with the reason.
CREATE TABLE ty.wrong (id bigint PRIMARY KEY, u uuid, i integer, j jsonb, b boolean, o oid,
                       t text, n numeric, ip inet, w ty.word, dw ty.d_word, dn ty.d_numeric,
                       short varchar(3), fixed char(2), du ty.d_uuid, ds ty.d_state,
                       dv ty.d_varchar);
SELECT stmt, ty.try(stmt) AS result
  FROM (VALUES
    ('SELECT c5metrics.track_sales(''ty.wrong'', status_column => ''u'')'),
    ('SELECT c5metrics.track_sales(''ty.wrong'', status_column => ''du'')'),
    ('SELECT c5metrics.track_sales(''ty.wrong'', status_column => ''i'')'),
    ('SELECT c5metrics.track_sales(''ty.wrong'', status_column => ''j'')'),
    ('SELECT c5metrics.track_sales(''ty.wrong'', status_column => ''short'')'),
    ('SELECT c5metrics.track_sales(''ty.wrong'', status_column => ''fixed'', paid_value => ''paid'')'),
    ('SELECT c5metrics.track_sales(''ty.wrong'', status_column => ''dw'', paid_value => ''PAID'')'),
    ('SELECT c5metrics.track_sales(''ty.wrong'', status_column => ''ds'')'),
    ('SELECT c5metrics.track_sales(''ty.wrong'', status_column => ''dv'')'),
    ('SELECT c5metrics.track_sales(''ty.wrong'', status_column => ''fixed'', paid_value => ''p '')'),
    ('SELECT c5metrics.track_stock(''ty.wrong'', type_column => ''u'', sale_column => ''id'', quantity_column => ''n'')'),
    ('SELECT c5metrics.track_stock(''ty.wrong'', type_column => ''t'', sale_column => ''id'', quantity_column => ''o'')'),
    ('SELECT c5metrics.track_stock(''ty.wrong'', type_column => ''t'', sale_column => ''id'', quantity_column => ''b'')'),
    ('SELECT c5metrics.track_stock(''ty.wrong'', type_column => ''dw'', consume_value => ''take'', sale_column => ''id'', quantity_column => ''n'')'),
    ('SELECT c5metrics.track_refunds(''ty.wrong'', sale_column => ''id'', amount_column => ''t'', type_column => ''t'', key_column => NULL)'),
    ('SELECT c5metrics.track_refunds(''ty.wrong'', sale_column => ''id'', amount_column => ''o'', type_column => ''t'', key_column => NULL)'),
    ('SELECT c5metrics.track_refunds(''ty.wrong'', sale_column => ''id'', amount_column => ''n'', type_column => ''i'', key_column => NULL)'),
    ('SELECT c5metrics.track_leads(''ty.wrong'', ip_column => ''u'', email_column => ''t'')'),
    ('SELECT c5metrics.track_leads(''ty.wrong'', ip_column => ''ip'', email_column => ''ip'')')
  ) AS v(stmt);
-- the one accepted: a domain's varchar(40) holds 'paid'
SELECT c5metrics.untrack('ty.wrong');

-- _comparable() on types the matrices above leave out.
SELECT a, b, c5metrics._comparable(a, b)
  FROM (VALUES ('ty.word'::regtype, 'ty.word'::regtype), ('ty.word', 'ty.d_word'),
               ('ty.word', 'ty.citext'), ('integer', 'numeric'), ('numeric', 'numeric'),
               ('integer[]', 'integer[]'), ('integer[]', 'bigint[]'), ('jsonb', 'jsonb'),
               ('json', 'json'), ('point', 'point'), ('name', 'text'), ('text', 'name'),
               ('date', 'date'), ('12345678'::oid::regtype, 'text')) AS v(a, b);

-- Nothing of the cases is left attached.
SELECT count(*) AS attached FROM c5metrics.tracked WHERE table_name::text LIKE 'ty.%';
SET client_min_messages = warning;
DROP SCHEMA ty CASCADE;
RESET client_min_messages;
SELECT c5metrics.reset();
