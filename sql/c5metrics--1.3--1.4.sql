/* c5metrics 1.3 -> 1.4: survive dump/restore, renames, schema changes and ORM types (issue 15) */
\echo Use "ALTER EXTENSION c5metrics UPDATE TO '1.4'" to load this file. \quit

-- ---------------------------------------------------------------------
-- References by name (lead): see docs/DESIGN.md, "How attachments are
-- kept".
-- ---------------------------------------------------------------------

-- 1.3 wrote the OIDs of the tables a trigger reads (the guard's
-- sales_table, the refund-in check's refunds_table) into its arguments.
-- pg_dump copies trigger arguments literally, so in a restored database
-- those OIDs named nothing, or another table, and the guard stood aside.
-- 1.4 writes schema-qualified names, which a dump carries and which mean
-- the same table in the restored database; the library keeps them (and
-- the column names) right when a referenced table, column or schema is
-- renamed (src/ddl.c), and c5metrics.tracked reports any reference that
-- no longer resolves in its `problem` column.
-- ---------------------------------------------------------------------

-- The schema-qualified name of a table, as the trigger arguments keep it.
CREATE FUNCTION _qualified(rel regclass) RETURNS text
LANGUAGE sql STABLE STRICT SET search_path = pg_catalog, pg_temp
AS $$
  SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.oid = rel
$$;

-- The table a trigger argument names (a qualified name, or a 1.3 OID),
-- or null; never raises, whatever the argument holds.
CREATE FUNCTION _table_ref(text) RETURNS regclass
AS 'MODULE_PATHNAME', 'c5metrics_table_ref'
LANGUAGE C STRICT STABLE PARALLEL SAFE;

-- What the arguments of one of c5metrics' triggers say, by name; null for
-- a trigger of another function.  `own` are the columns of the trigger's
-- table by argument position, `ref` the table it reads and `refcols` that
-- table's columns.
CREATE FUNCTION _trigger_config(tg oid,
    OUT flow text, OUT a text[], OUT own int[], OUT ref int, OUT refcols int[])
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE p.proname
              WHEN '_sales_trigger' THEN 'sales' WHEN '_stock_trigger' THEN 'stock'
              WHEN '_refunds_trigger' THEN 'refunds' WHEN '_refunds_after_trigger' THEN 'refunds'
              WHEN '_leads_trigger' THEN 'leads' END,
         @extschema@._trigger_args(t.tgargs, t.tgnargs),
         CASE p.proname
              WHEN '_sales_trigger' THEN '{1,3}'::int[] WHEN '_stock_trigger' THEN '{1,4,5}'
              WHEN '_leads_trigger' THEN '{1,2}' ELSE '{1,2,3,4}' END,
         CASE p.proname WHEN '_stock_trigger' THEN 6 WHEN '_sales_trigger' THEN NULL
              WHEN '_leads_trigger' THEN NULL ELSE 5 END,
         CASE p.proname WHEN '_stock_trigger' THEN '{7}'::int[] WHEN '_sales_trigger' THEN NULL
              WHEN '_leads_trigger' THEN NULL ELSE '{6,7}' END
    FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
   WHERE t.oid = tg AND p.pronamespace = '@extschema@'::regnamespace
     AND p.proname IN ('_sales_trigger', '_stock_trigger', '_refunds_trigger',
                       '_refunds_after_trigger', '_leads_trigger')
$$;

-- The triggers calling c5metrics' trigger functions: the DDL hook asks
-- about them on every ALTER TABLE of a database with the extension (a
-- restore runs thousands), so pg_trigger is read through its function.
CREATE FUNCTION _our_triggers() RETURNS SETOF pg_trigger
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
  SELECT t.* FROM pg_proc p JOIN pg_trigger t ON t.tgfoid = p.oid
   WHERE p.pronamespace = '@extschema@'::regnamespace
     AND p.proname IN ('_sales_trigger', '_stock_trigger', '_refunds_trigger',
                       '_refunds_after_trigger', '_leads_trigger')
$$;

-- Those of them that are on one of the tables `rels` or may read one: a
-- cheap first cut, by the table's name (or 1.3's OID) in the arguments,
-- so that no question the DDL hook asks costs more with the number of
-- triggers a role writes on its own tables.  The callers then decode the
-- arguments of these few.
CREATE FUNCTION _mentioning(rels oid[]) RETURNS SETOF pg_trigger
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
  SELECT t.* FROM @extschema@._our_triggers() t
   WHERE t.tgrelid = ANY (rels)
      OR EXISTS (SELECT 1 FROM pg_class r
                  WHERE r.oid = ANY (rels)
                    AND (position(convert_to(r.relname::text, getdatabaseencoding()) IN t.tgargs) > 0
                         OR position(convert_to(r.oid::text, getdatabaseencoding()) IN t.tgargs) > 0
                         OR strpos(r.relname, '"') > 0))
$$;

-- The c5metrics call that attaches a table as trigger `tg` says, for
-- hints: what to run again after a schema change.
CREATE FUNCTION _track_call(tg oid, on_table regclass DEFAULT NULL, guard boolean DEFAULT true)
RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  c record;
  tbl text;
  lit text[];
BEGIN
  SELECT * INTO c FROM @extschema@._trigger_config(tg);
  SELECT @extschema@._qualified(coalesce(on_table, tgrelid)) INTO tbl FROM pg_trigger WHERE oid = tg;
  IF c.flow IS NULL THEN
    RETURN NULL;
  END IF;
  SELECT array_agg(CASE WHEN x IS NULL OR x = '' THEN 'NULL' ELSE quote_literal(x) END ORDER BY i)
    INTO lit FROM unnest(c.a) WITH ORDINALITY AS u(x, i);
  RETURN CASE c.flow
    WHEN 'sales' THEN format('SELECT c5metrics.track_sales(%L, status_column => %s, paid_value => %s, id_column => %s%s);',
                             tbl, lit[1], lit[2], lit[3],
                             CASE WHEN cardinality(c.a) > 3
                                  THEN ', allowed_statuses => ' || quote_literal(c.a[4:]::text) END)
    WHEN 'stock' THEN format('SELECT c5metrics.track_stock(%L, type_column => %s, consume_value => %s, refund_in_value => %s, sale_column => %s, quantity_column => %s, refunds_table => %s, refunds_sale_column => %s);',
                             tbl, lit[1], lit[2], lit[3], lit[4], lit[5],
                             coalesce(quote_literal(nullif(nullif(c.a[6], ''), '0')), 'NULL'), lit[7])
    WHEN 'refunds' THEN format('SELECT c5metrics.track_refunds(%L, sale_column => %s, amount_column => %s, type_column => %s, key_column => %s%s);',
                             tbl, lit[1], lit[2], lit[3], lit[4],
                             CASE WHEN cardinality(c.a) >= 7 AND guard
                                  THEN format(', sales_table => %s, sales_id_column => %s, sales_total_column => %s',
                                              lit[5], lit[6], lit[7]) END)
    ELSE format('SELECT c5metrics.track_leads(%L, ip_column => %s, email_column => %s);',
                tbl, lit[1], lit[2])
  END;
END
$$;

-- Raise what is wrong with trigger `tg`'s attachment now, as attaching it
-- again would: a column gone or of a type its flow cannot read, a table it
-- reads gone, not a plain table, a partition, or not readable by its
-- owner.  Ownership is not asked: anyone may read c5metrics.tracked.
CREATE FUNCTION _validate(tg oid) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  c record;
  t pg_trigger;
  tbl regclass;
  src regclass;
  parent regclass;
BEGIN
  SELECT * INTO c FROM @extschema@._trigger_config(tg);
  SELECT * INTO t FROM pg_trigger WHERE oid = tg;
  tbl := t.tgrelid;
  IF c.flow IS NULL
     OR cardinality(c.a) < (CASE c.flow WHEN 'sales' THEN 3 WHEN 'stock' THEN 7
                                        WHEN 'refunds' THEN 4 ELSE 2 END)
     OR array_position(c.a, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'the trigger''s arguments are not those of c5metrics.track_%()', c.flow
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- the trigger of a partition fires only for that partition's rows
  SELECT i.inhparent INTO parent FROM pg_inherits i JOIN pg_class r ON r.oid = i.inhrelid
   WHERE i.inhrelid = tbl AND r.relispartition;
  IF parent IS NOT NULL AND t.tgparentid = 0
     AND NOT EXISTS (SELECT 1 FROM pg_trigger p WHERE p.tgrelid = parent AND p.tgfoid = t.tgfoid) THEN
    RAISE EXCEPTION 'table % is now a partition of %, which is not tracked', tbl, parent
      USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = 'Rows of the other partitions are not counted.',
            HINT = format('Track the partitioned table, whose partitions follow it, before attaching the partition: %s SELECT c5metrics.untrack(%L);',
                          @extschema@._track_call(tg, parent), @extschema@._qualified(tbl));
  END IF;
  CASE c.flow
  WHEN 'sales' THEN
    PERFORM @extschema@._check_column(tbl, c.a[1], 'status_column', 'text');
    PERFORM @extschema@._check_value(tbl, c.a[1], c.a[2], 'paid_value');
    PERFORM @extschema@._check_column(tbl, c.a[3], 'id_column', 'any');
  WHEN 'stock' THEN
    PERFORM @extschema@._check_column(tbl, c.a[1], 'type_column', 'text');
    PERFORM @extschema@._check_column(tbl, c.a[4], 'sale_column', 'any');
    PERFORM @extschema@._check_column(tbl, c.a[5], 'quantity_column', 'number');
    IF c.a[6] NOT IN ('', '0') THEN
      src := @extschema@._table_ref(c.a[6]);
      IF src IS NULL AND c.a[6] ~ '^[0-9]+$' THEN
        RAISE EXCEPTION 'refunds_table is given by OID %, as c5metrics 1.3 wrote it', c.a[6]
          USING ERRCODE = 'undefined_table',
                DETAIL = 'A dump carries the number, which names nothing or another table in the restored database.';
      ELSIF src IS NULL THEN
        RAISE EXCEPTION 'refunds_table % does not exist', c.a[6]
          USING ERRCODE = 'undefined_table';
      END IF;
      PERFORM @extschema@._check_source(tbl, src, 'refunds_table', ARRAY[c.a[7]]::name[], false);
      PERFORM @extschema@._check_column(src, c.a[7], 'refunds_sale_column', 'any');
      PERFORM @extschema@._check_sale_ids(tbl, c.a[4], src, c.a[7]);
    END IF;
  WHEN 'refunds' THEN
    PERFORM @extschema@._check_column(tbl, c.a[1], 'sale_column', 'any');
    PERFORM @extschema@._check_column(tbl, c.a[2], 'amount_column', 'number');
    PERFORM @extschema@._check_column(tbl, c.a[3], 'type_column', 'text');
    IF c.a[4] <> '' THEN
      PERFORM @extschema@._check_column(tbl, c.a[4], 'key_column', 'any');
    END IF;
    IF cardinality(c.a) >= 7 THEN
      src := @extschema@._table_ref(c.a[5]);
      IF src IS NULL AND c.a[5] ~ '^[0-9]+$' THEN
        RAISE EXCEPTION 'sales_table is given by OID %, as c5metrics 1.3 wrote it', c.a[5]
          USING ERRCODE = 'undefined_table',
                DETAIL = 'A dump carries the number, which names nothing or another table in the restored database.';
      ELSIF src IS NULL THEN
        RAISE EXCEPTION 'sales_table % does not exist', c.a[5]
          USING ERRCODE = 'undefined_table';
      END IF;
      IF (SELECT relispartition FROM pg_class WHERE oid = src) THEN
        RAISE EXCEPTION 'sales_table % is a partition of %', src,
                        (SELECT inhparent::regclass FROM pg_inherits WHERE inhrelid = src)
          USING ERRCODE = 'object_not_in_prerequisite_state',
                DETAIL = 'The over-refund guard finds sales in one plain table; sales in other partitions would escape it.',
                HINT = format('Count the refunds without the guard before partitioning the sales: %s',
                              @extschema@._track_call(tg, NULL, false));
      END IF;
      PERFORM @extschema@._check_source(tbl, src, 'sales_table', ARRAY[c.a[6], c.a[7]]::name[], true);
      PERFORM @extschema@._check_column(src, c.a[6], 'sales_id_column', 'any');
      PERFORM @extschema@._check_column(src, c.a[7], 'sales_total_column', 'number');
      PERFORM @extschema@._check_sale_ids(tbl, c.a[1], src, c.a[6]);
    END IF;
  ELSE
    IF c.a[1] <> '' THEN
      PERFORM @extschema@._check_column(tbl, c.a[1], 'ip_column', 'text_or_inet');
    END IF;
    IF c.a[2] <> '' THEN
      PERFORM @extschema@._check_column(tbl, c.a[2], 'email_column', 'text');
    END IF;
  END CASE;
END
$$;

-- What is wrong with trigger `tg`'s attachment, in words, or null.
CREATE FUNCTION _problem(tg oid) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t pg_trigger;
  c record;
BEGIN
  SELECT * INTO t FROM pg_trigger WHERE oid = tg;
  BEGIN
    PERFORM @extschema@._validate(tg);
  EXCEPTION WHEN OTHERS THEN
    RETURN SQLERRM;
  END;
  IF t.tgenabled = 'D' THEN
    RETURN 'trigger ' || quote_ident(t.tgname) || ' is disabled';
  END IF;
  SELECT * INTO c FROM @extschema@._trigger_config(tg);
  -- the refunds flow is two triggers; tracked lists the first
  IF c.flow = 'refunds' AND t.tgname = 'zz_c5metrics_refunds' THEN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = t.tgrelid
                      AND tgname = 'zz_c5metrics_refunds_after') THEN
      RETURN 'trigger zz_c5metrics_refunds_after is missing';
    ELSIF (SELECT tgenabled FROM pg_trigger WHERE tgrelid = t.tgrelid
              AND tgname = 'zz_c5metrics_refunds_after') = 'D' THEN
      RETURN 'trigger zz_c5metrics_refunds_after is disabled';
    END IF;
  END IF;
  IF c.flow = 'refunds' AND c.a[4] <> '' AND NOT EXISTS (
      SELECT 1 FROM pg_index i
       WHERE i.indrelid = t.tgrelid AND i.indisunique AND i.indisvalid AND i.indnkeyatts = 1
         AND i.indpred IS NULL
         AND i.indkey[0] = (SELECT attnum FROM pg_attribute
                             WHERE attrelid = t.tgrelid AND attname = c.a[4])) THEN
    RETURN format('key column "%s" has no unique index of its own', c.a[4]);
  END IF;
  RETURN NULL;
END
$$;

CREATE OR REPLACE VIEW tracked AS
SELECT t.tgrelid::regclass AS table_name,
       CASE p.proname
            WHEN '_sales_trigger' THEN 'sales'
            WHEN '_stock_trigger' THEN 'stock'
            WHEN '_refunds_trigger' THEN 'refunds'
            WHEN '_leads_trigger' THEN 'leads'
       END AS flow,
       CASE p.proname
            WHEN '_sales_trigger' THEN jsonb_build_object(
                'status_column', a[1], 'paid_value', a[2], 'id_column', a[3],
                'allowed_statuses', to_jsonb(a[4:]))
            WHEN '_stock_trigger' THEN jsonb_build_object(
                'type_column', a[1], 'consume_value', a[2], 'refund_in_value', a[3],
                'sale_column', a[4], 'quantity_column', a[5],
                'refunds_table', coalesce(@extschema@._qualified(@extschema@._table_ref(a[6])),
                                          nullif(nullif(a[6], ''), '0')),
                'refunds_sale_column', a[7])
            WHEN '_refunds_trigger' THEN jsonb_build_object(
                'sale_column', a[1], 'amount_column', a[2], 'type_column', a[3],
                'key_column', nullif(a[4], ''),
                'sales_table', coalesce(@extschema@._qualified(@extschema@._table_ref(a[5])), nullif(a[5], '')),
                'sales_id_column', a[6], 'sales_total_column', a[7])
            WHEN '_leads_trigger' THEN jsonb_build_object(
                'ip_column', nullif(a[1], ''), 'email_column', nullif(a[2], ''))
       END AS config,
       @extschema@._problem(t.oid) AS problem
  FROM pg_catalog.pg_trigger t
  JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
 CROSS JOIN LATERAL (SELECT @extschema@._trigger_args(t.tgargs, t.tgnargs)) AS args(a)
 WHERE p.pronamespace = '@extschema@'::regnamespace
   AND p.proname IN ('_sales_trigger', '_stock_trigger', '_refunds_trigger', '_leads_trigger');

-- The tracked list in shared memory now says which attachments have a
-- problem (c5metrics_attachment_problems, /readyz).
CREATE FUNCTION _tracked_sync(oid[], text[], boolean[]) RETURNS void
AS 'MODULE_PATHNAME', 'c5metrics_tracked_sync' LANGUAGE C STRICT;
REVOKE ALL ON FUNCTION _tracked_sync(oid[], text[], boolean[]) FROM PUBLIC;

-- The shared list holds at most 256 tables of a database
-- (C5M_MAX_TRACKED_PER_DB): only those are checked, oldest trigger first,
-- so that the cost of a sync stays bounded however many triggers of its
-- own a role writes.
CREATE OR REPLACE FUNCTION _sync_tracked() RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
  WITH t AS MATERIALIZED (
    SELECT t.oid AS tg, t.tgrelid AS rel
      FROM @extschema@._our_triggers() t
     WHERE t.tgfoid <> '@extschema@._refunds_after_trigger()'::regprocedure
     ORDER BY t.oid LIMIT 256)
  SELECT @extschema@._tracked_sync(
           coalesce(array_agg(t.rel), '{}'),
           coalesce(array_agg(c.flow), '{}'),
           coalesce(array_agg(@extschema@._problem(t.tg) IS NOT NULL), '{}'))
    FROM t, @extschema@._trigger_config(t.tg) c
$$;
DROP FUNCTION _tracked_sync(oid[], text[]);

-- The statement that makes trigger `tg` again with arguments `args`, as
-- its table's owner may run it: only for the shapes the attach functions
-- create (a BEFORE or AFTER INSERT, or BEFORE UPDATE OF, row trigger with
-- no WHEN clause, transition table or constraint); null for any other.
-- CREATE OR REPLACE TRIGGER enables the trigger; the statement restates
-- a disabled or replica trigger's state.
CREATE FUNCTION _trigger_stmt(tg oid, args text[]) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
  SELECT format('CREATE OR REPLACE TRIGGER %I %s ON %s FOR EACH ROW EXECUTE FUNCTION @extschema@.%I(%s)',
                t.tgname,
                CASE t.tgtype
                     WHEN 7 THEN 'BEFORE INSERT' WHEN 5 THEN 'AFTER INSERT'
                     ELSE 'BEFORE UPDATE OF ' ||
                          (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.i)
                             FROM unnest(t.tgattr::int2[]) WITH ORDINALITY AS k(n, i)
                             JOIN pg_attribute a ON a.attrelid = t.tgrelid AND a.attnum = k.n)
                END,
                @extschema@._qualified(t.tgrelid), p.proname,
                @extschema@._args(VARIADIC args))
         || CASE t.tgenabled
                 WHEN 'D' THEN format('; ALTER TABLE %s DISABLE TRIGGER %I', @extschema@._qualified(t.tgrelid), t.tgname)
                 WHEN 'R' THEN format('; ALTER TABLE %s ENABLE REPLICA TRIGGER %I', @extschema@._qualified(t.tgrelid), t.tgname)
                 WHEN 'A' THEN format('; ALTER TABLE %s ENABLE ALWAYS TRIGGER %I', @extschema@._qualified(t.tgrelid), t.tgname)
                 ELSE '' END
    FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
   WHERE t.oid = tg AND t.tgname LIKE 'zz\_c5metrics\_%'
     AND (t.tgtype IN (5, 7) OR (t.tgtype = 19 AND cardinality(t.tgattr::int2[]) > 0))
     AND t.tgqual IS NULL AND t.tgconstraint = 0 AND t.tgparentid = 0
     AND t.tgoldtable IS NULL AND t.tgnewtable IS NULL
     AND cardinality(args) > 0
$$;

-- ---------------------------------------------------------------------
-- Following renames.  Before a RENAME or SET SCHEMA, the library takes
-- _refs(): every table and column the triggers of c5metrics name, by OID
-- and attribute number.  After it, _follow() compares their names now
-- with the arguments and returns, per trigger whose names changed, the
-- statement that makes it again with the new names, for the library to
-- run as the table's owner (src/ddl.c).
-- ---------------------------------------------------------------------
-- The triggers a rename of `rels` may concern: those mentioning them, or
-- every one for a schema renamed (rels null).
CREATE FUNCTION _scope(rels oid[]) RETURNS SETOF pg_trigger
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
  SELECT * FROM @extschema@._our_triggers() WHERE rels IS NULL
  UNION ALL
  SELECT * FROM @extschema@._mentioning(rels) WHERE rels IS NOT NULL
$$;

CREATE FUNCTION _refs(rels oid[]) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(jsonb_agg(jsonb_build_array(r.tg, r.pos, r.rel, r.att)), '[]')
    FROM (
      SELECT t.oid AS tg, o AS pos, t.tgrelid AS rel, a.attnum AS att
        FROM @extschema@._scope(rels) t, @extschema@._trigger_config(t.oid) c, unnest(c.own) o
        JOIN pg_attribute a ON true
       WHERE c.flow IS NOT NULL AND a.attrelid = t.tgrelid AND a.attname = c.a[o]
         AND a.attnum > 0 AND NOT a.attisdropped
      UNION ALL
      SELECT t.oid, c.ref, @extschema@._table_ref(c.a[c.ref]), 0
        FROM @extschema@._scope(rels) t, @extschema@._trigger_config(t.oid) c
       WHERE c.flow IS NOT NULL AND c.ref IS NOT NULL
         AND @extschema@._table_ref(c.a[c.ref]) IS NOT NULL
      UNION ALL
      SELECT t.oid, o, @extschema@._table_ref(c.a[c.ref]), a.attnum
        FROM @extschema@._scope(rels) t, @extschema@._trigger_config(t.oid) c, unnest(c.refcols) o
        JOIN pg_attribute a ON true
       WHERE c.flow IS NOT NULL AND c.ref IS NOT NULL
         AND a.attrelid = @extschema@._table_ref(c.a[c.ref]) AND a.attname = c.a[o]
         AND a.attnum > 0 AND NOT a.attisdropped
    ) r
$$;

CREATE FUNCTION _follow(before jsonb, OUT rel oid, OUT stmt text) RETURNS SETOF record
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  tg oid;
  args text[];
  changed boolean;
  r jsonb;
  now text;
BEGIN
  FOR tg IN SELECT DISTINCT (e->>0)::oid FROM jsonb_array_elements(before) e LOOP
    SELECT c.a INTO args FROM @extschema@._trigger_config(tg) c;
    CONTINUE WHEN args IS NULL;
    changed := false;
    FOR r IN SELECT e FROM jsonb_array_elements(before) e WHERE (e->>0)::oid = tg LOOP
      IF (r->>3)::int = 0 THEN
        now := @extschema@._qualified((r->>2)::oid);
      ELSE
        SELECT attname INTO now FROM pg_attribute
         WHERE attrelid = (r->>2)::oid AND attnum = (r->>3)::int AND NOT attisdropped;
      END IF;
      IF now IS NOT NULL AND now IS DISTINCT FROM args[(r->>1)::int] THEN
        args[(r->>1)::int] := now;
        changed := true;
      END IF;
    END LOOP;
    IF changed THEN
      rel := (SELECT tgrelid FROM pg_trigger WHERE oid = tg);
      stmt := @extschema@._trigger_stmt(tg, args);
      IF stmt IS NOT NULL THEN
        RETURN NEXT;
      END IF;
    END IF;
  END LOOP;
END
$$;

-- ---------------------------------------------------------------------
-- Schema changes.  The sales trigger fires on UPDATE OF the status
-- column, so PostgreSQL refuses to change that column's type while it
-- exists ("cannot alter type of a column used in a trigger definition"):
-- a migration that widens a varchar(20) status could not run.  Around an
-- ALTER TABLE ... ALTER COLUMN ... TYPE of such a column, the library
-- parks the trigger (_park: drop it, remembering the statement that makes
-- it again) and restores it after (_unpark), in the same transaction.
-- Any ALTER TABLE of a table that c5metrics' triggers are on or read is
-- then checked (_after_alter): an attachment that it broke -- a mapped
-- column dropped or turned into a type its flow cannot read, a tracked
-- table attached as a partition -- fails the statement, with a HINT
-- giving the statements that detach and attach again.
-- ---------------------------------------------------------------------
CREATE FUNCTION _park(rel oid, cols name[]) RETURNS text[]
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t record;
  stmts text[] := '{}';
BEGIN
  -- a role that may not alter the table gets PostgreSQL's own error
  IF NOT pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = rel), 'USAGE') THEN
    RETURN stmts;
  END IF;
  FOR t IN SELECT tg.oid, tg.tgname, c.a FROM @extschema@._mentioning(ARRAY[rel]) tg, @extschema@._trigger_config(tg.oid) c
            WHERE tg.tgrelid = rel AND c.flow = 'sales' AND tg.tgparentid = 0
              AND EXISTS (SELECT 1 FROM unnest(tg.tgattr::int2[]) k(n)
                            JOIN pg_attribute a ON a.attrelid = rel AND a.attnum = k.n
                           WHERE a.attname = ANY (cols))
  LOOP
    CONTINUE WHEN @extschema@._trigger_stmt(t.oid, t.a) IS NULL;
    stmts := stmts || @extschema@._trigger_stmt(t.oid, t.a);
    EXECUTE format('DROP TRIGGER %I ON %s', t.tgname, rel::regclass);
  END LOOP;
  RETURN stmts;
END
$$;

CREATE FUNCTION _unpark(stmts text[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  s text;
BEGIN
  FOREACH s IN ARRAY stmts LOOP
    EXECUTE s;
  END LOOP;
END
$$;

-- The triggers of c5metrics on, or reading, the tables `rels`, with the
-- problem each has now.
CREATE FUNCTION _problems(rels oid[]) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(jsonb_object_agg(t.oid::text, @extschema@._problem(t.oid)), '{}')
    FROM @extschema@._mentioning(rels) t, @extschema@._trigger_config(t.oid) c
   WHERE c.flow IS NOT NULL
     AND (t.tgrelid = ANY (rels)
          OR (c.ref IS NOT NULL AND @extschema@._table_ref(c.a[c.ref]) = ANY (rels)))
$$;

CREATE FUNCTION _after_alter(rels oid[], before jsonb) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t record;
  h text;
  p text;
  changed boolean := false;
  n integer := 0;
BEGIN
  -- the attachments reading the altered tables first, each in the order
  -- it was made: the first problem reported is always the same
  FOR t IN SELECT tg.oid, tg.tgrelid::regclass AS tbl, tg.tgparentid
             FROM @extschema@._mentioning(rels) tg, @extschema@._trigger_config(tg.oid) c
            WHERE c.flow IS NOT NULL
              AND (tg.tgrelid = ANY (rels)
                   OR (c.ref IS NOT NULL AND @extschema@._table_ref(c.a[c.ref]) = ANY (rels)))
            ORDER BY tg.tgrelid = ANY (rels), tg.oid
  LOOP
    n := n + 1;
    p := @extschema@._problem(t.oid);
    changed := changed OR NOT before ? t.oid::text OR p IS DISTINCT FROM before->>(t.oid::text);
    CONTINUE WHEN p IS NULL OR t.tgparentid <> 0;
    -- only what this statement broke: a broken attachment must not stop
    -- the ALTER TABLE that would mend it
    CONTINUE WHEN before ? t.oid::text AND before->>(t.oid::text) IS NOT NULL;
    -- and only attachments of the role's own tables: another role's
    -- guard reading this table must not stop its owner from changing it
    -- (enabling row-level security, say); that attachment then has a
    -- problem, reported in c5metrics.tracked and
    -- c5metrics_attachment_problems, and its guard refuses refunds
    CONTINUE WHEN NOT pg_has_role(current_user,
                                  (SELECT relowner FROM pg_class WHERE oid = t.tbl), 'USAGE');
    -- a disabled trigger or a key without its unique index is reported,
    -- not refused: the attachment still runs as configured
    BEGIN
      PERFORM @extschema@._validate(t.oid);
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT;
      RAISE EXCEPTION 'this change breaks the c5metrics attachment of table %', t.tbl
        USING ERRCODE = 'dependent_objects_still_exist',
              DETAIL = SQLERRM,
              HINT = CASE WHEN SQLSTATE = '55000' AND h <> '' THEN h
                ELSE format('Detach the table, make the change, then attach it again: SELECT c5metrics.untrack(%L); then the change; then %s',
                            @extschema@._qualified(t.tbl), @extschema@._track_call(t.oid)) END;
    END;
  END LOOP;
  -- whether the problems in shared memory need refreshing
  RETURN changed OR n <> (SELECT count(*) FROM jsonb_object_keys(before));
END
$$;

-- Whether any of c5metrics' triggers is on, or reads, one of `rels`: the
-- DDL hook asks before doing anything for a GRANT, CREATE INDEX, CREATE
-- TRIGGER or rename.
CREATE FUNCTION _concerned(rels oid[]) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
  SELECT EXISTS (
    SELECT 1 FROM @extschema@._mentioning(rels) t, @extschema@._trigger_config(t.oid) c
     WHERE t.tgrelid = ANY (rels)
        OR (c.ref IS NOT NULL AND @extschema@._table_ref(c.a[c.ref]) = ANY (rels)))
$$;

-- Refresh the problems in shared memory when an index, column or trigger
-- is dropped too (a unique key index, say), not only a table.
CREATE OR REPLACE FUNCTION _on_sql_drop() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_event_trigger_dropped_objects()
              WHERE object_type IN ('table', 'trigger', 'index', 'table column')) THEN
    PERFORM @extschema@._sync_tracked();
  END IF;
END
$$;

-- ---------------------------------------------------------------------
-- The attach functions that name another table write its qualified name.
-- ---------------------------------------------------------------------
-- The sale ids of two tables must compare, as the over-refund guard and
-- the refund-in check compare them (_comparable: the same base type, or
-- one btree family, as two integer widths or text and varchar).
CREATE FUNCTION _check_sale_ids(tbl regclass, col name, src regclass, srccol name)
RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  a regtype;
  b regtype;
BEGIN
  SELECT atttypid INTO a FROM pg_attribute WHERE attrelid = tbl AND attname = col AND NOT attisdropped;
  SELECT atttypid INTO b FROM pg_attribute WHERE attrelid = src AND attname = srccol AND NOT attisdropped;
  a := @extschema@._base_type(a);
  b := @extschema@._base_type(b);
  IF NOT @extschema@._comparable(a, b) THEN
    RAISE EXCEPTION 'column "%" of table % has type %, which cannot be compared with column "%" of table % (type %)',
                    col, tbl, a, srccol, src, b
      USING ERRCODE = 'datatype_mismatch',
            DETAIL = 'char ignores trailing blanks and citext letter case, where text and varchar do not; a uuid, a number and a string never compare.',
            HINT = 'Sales are found by equality: use the same type for both columns, or two integer types, or text and varchar.';
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION track_stock(
    tbl regclass,
    type_column name DEFAULT 'movement_type',
    consume_value text DEFAULT 'consume',
    refund_in_value text DEFAULT 'refund_in',
    sale_column name DEFAULT 'sale_id',
    quantity_column name DEFAULT 'quantity',
    refunds_table regclass DEFAULT NULL,
    refunds_sale_column name DEFAULT 'sale_id')
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  args text;
BEGIN
  PERFORM @extschema@._check_table(tbl, 'stock');
  PERFORM @extschema@._check_column(tbl, type_column, 'type_column', 'text');
  PERFORM @extschema@._check_value(tbl, type_column, consume_value, 'consume_value');
  PERFORM @extschema@._check_value(tbl, type_column, refund_in_value, 'refund_in_value');
  PERFORM @extschema@._check_column(tbl, sale_column, 'sale_column', 'any');
  PERFORM @extschema@._check_column(tbl, quantity_column, 'quantity_column', 'number');
  IF refunds_table IS NOT NULL THEN
    PERFORM @extschema@._check_source(tbl, refunds_table, 'refunds_table',
                                      ARRAY[refunds_sale_column], false);
    PERFORM @extschema@._check_column(refunds_table, refunds_sale_column, 'refunds_sale_column', 'any');
    PERFORM @extschema@._check_sale_ids(tbl, sale_column, refunds_table, refunds_sale_column);
  END IF;
  PERFORM @extschema@._drop_triggers(tbl, 'stock');
  args := @extschema@._args(type_column, consume_value, refund_in_value, sale_column,
                            quantity_column, @extschema@._qualified(refunds_table),
                            refunds_sale_column);
  EXECUTE format('CREATE TRIGGER zz_c5metrics_stock BEFORE INSERT ON %s '
                 'FOR EACH ROW EXECUTE FUNCTION @extschema@._stock_trigger(%s)', tbl, args);
  PERFORM @extschema@._sync_tracked();
END
$$;

CREATE OR REPLACE FUNCTION track_refunds(
    tbl regclass,
    sale_column name DEFAULT 'sale_id',
    amount_column name DEFAULT 'amount',
    type_column name DEFAULT 'refund_type',
    key_column name DEFAULT 'idempotency_key',
    sales_table regclass DEFAULT NULL,
    sales_id_column name DEFAULT 'id',
    sales_total_column name DEFAULT 'total')
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  args text;
  sale_type regtype;
  id_type regtype;
BEGIN
  PERFORM @extschema@._check_table(tbl, 'refunds');
  sale_type := @extschema@._check_column(tbl, sale_column, 'sale_column', 'any');
  PERFORM @extschema@._check_column(tbl, amount_column, 'amount_column', 'number');
  PERFORM @extschema@._check_column(tbl, type_column, 'type_column', 'text');
  IF key_column IS NOT NULL THEN
    PERFORM @extschema@._check_column(tbl, key_column, 'key_column', 'any');
    IF NOT EXISTS (
        SELECT 1 FROM pg_index i
         WHERE i.indrelid = tbl AND i.indisunique AND i.indnkeyatts = 1
           AND i.indkey[0] = (SELECT attnum FROM pg_attribute
                               WHERE attrelid = tbl AND attname = key_column)) THEN
      RAISE WARNING 'column "%" of table % has no unique index of its own', key_column, tbl
        USING DETAIL = 'Duplicate idempotency keys can then not be detected.',
              HINT = format('CREATE UNIQUE INDEX ON %s (%I);', tbl, key_column);
    END IF;
  END IF;
  args := @extschema@._args(sale_column, amount_column, type_column, key_column);
  IF sales_table IS NOT NULL THEN
    IF (SELECT relkind FROM pg_class WHERE oid = tbl) = 'p' THEN
      RAISE EXCEPTION 'cannot guard partitioned table % against over-refunds', tbl
        USING ERRCODE = 'feature_not_supported',
              DETAIL = 'The guard sums a sale''s refunds in the partition a refund goes to: refunds of one sale in several partitions would escape it.',
              HINT = 'Track the partitioned table without sales_table, or guard a plain refunds table.';
    END IF;
    PERFORM @extschema@._check_source(tbl, sales_table, 'sales_table',
                                      ARRAY[sales_id_column, sales_total_column], true);
    IF (SELECT relispartition FROM pg_class WHERE oid = sales_table) THEN
      RAISE EXCEPTION 'cannot use partition % as sales_table', sales_table
        USING ERRCODE = 'wrong_object_type',
              DETAIL = 'The over-refund guard finds sales in one plain table; sales in the other partitions would escape it.';
    END IF;
    id_type := @extschema@._check_column(sales_table, sales_id_column, 'sales_id_column', 'any');
    PERFORM @extschema@._check_column(sales_table, sales_total_column, 'sales_total_column', 'number');
    PERFORM @extschema@._check_sale_ids(tbl, sale_column, sales_table, sales_id_column);
    args := args || ', ' || @extschema@._args(@extschema@._qualified(sales_table), sales_id_column,
                                              sales_total_column);
  END IF;
  PERFORM @extschema@._drop_triggers(tbl, 'refunds');
  EXECUTE format('CREATE TRIGGER zz_c5metrics_refunds BEFORE INSERT ON %s '
                 'FOR EACH ROW EXECUTE FUNCTION @extschema@._refunds_trigger(%s)', tbl, args);
  EXECUTE format('CREATE TRIGGER zz_c5metrics_refunds_after AFTER INSERT ON %s '
                 'FOR EACH ROW EXECUTE FUNCTION @extschema@._refunds_after_trigger(%s)', tbl, args);
  PERFORM @extschema@._sync_tracked();
END
$$;


-- ---------------------------------------------------------------------
-- Column types (h1): every type a user can reasonably map works for
-- every mapped column, or is refused when attaching, with the reason
-- (issue 15, "a guard never stands aside silently"; sql/types.sql tries
-- them all).
-- - _check_column: a column read as text (status, movement type, refund
--   type, email) is text, varchar, char, name, a type stored as text
--   (citext: implicitly binary-coercible to text), an enum, or a domain
--   over one of them: what the library reads as text (c5m_resolve_col).
--   1.3 took any type of the string category, citext included, which the
--   library then could not read (every status "other", no paid
--   transition, no refund type, no refund-in), and refused a domain over
--   an enum.  A number (amount, total, quantity) must be readable as
--   numeric: oid and the reg* types, which the guard and the refund-in
--   check could not read, are refused.
-- - _check_value: a configured value must be one the column can hold: a
--   value longer than a varchar(n) or char(n) (also one set by a domain),
--   a char(n) value with trailing blanks, or not a label of the enum (also
--   under a domain) would never match any row.
-- - _comparable: the sale-id types of a refunds table and of its sales
--   table that the over-refund guard can compare, decided by the library
--   with the equality the guard uses (c5m_guard_comparable); the
--   attach functions call it.
-- ---------------------------------------------------------------------
CREATE OR REPLACE FUNCTION _check_column(tbl regclass, col name, param text, kinds text)
RETURNS regtype
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t regtype;
  base regtype;
  b pg_type;
BEGIN
  IF col IS NULL THEN
    RAISE EXCEPTION '% must not be NULL', param USING ERRCODE = 'null_value_not_allowed';
  END IF;
  SELECT a.atttypid INTO t
    FROM pg_attribute a
   WHERE a.attrelid = tbl AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
  IF t IS NULL THEN
    RAISE EXCEPTION 'column "%" of table % does not exist', col, tbl
      USING ERRCODE = 'undefined_column',
            HINT = format('Pass the name of the table''s column as %s => ''...''.', param);
  END IF;
  base := @extschema@._base_type(t);
  SELECT * INTO b FROM pg_type WHERE oid = base;
  IF kinds = 'text' AND NOT (b.typcategory = 'S' OR b.typtype = 'e') THEN
    RAISE EXCEPTION 'column "%" of table % has type %, but % needs a text or enum column', col, tbl, t, param
      USING ERRCODE = 'datatype_mismatch',
            HINT = format('Use a text, varchar, char, citext or enum column for %s.', param);
  ELSIF kinds = 'text' AND NOT (
          b.typtype = 'e'
          OR base IN ('text', 'character varying', 'character', 'name')
          OR (b.typlen = -1
              AND EXISTS (SELECT 1 FROM pg_cast
                           WHERE castsource = base AND casttarget = 'text'::regtype
                             AND castmethod = 'b' AND castcontext = 'i'))) THEN
    RAISE EXCEPTION 'column "%" of table % has type %, but % needs a text or enum column', col, tbl, t, param
      USING ERRCODE = 'datatype_mismatch',
            DETAIL = format('Values of type %s are not stored as text, so c5metrics cannot read them.', base),
            HINT = format('Use a text, varchar, char, citext or enum column for %s.', param);
  ELSIF kinds = 'number' AND b.typcategory <> 'N' THEN
    RAISE EXCEPTION 'column "%" of table % has type %, but % needs a numeric column', col, tbl, t, param
      USING ERRCODE = 'datatype_mismatch',
            HINT = format('Use a numeric, integer or floating-point column for %s.', param);
  ELSIF kinds = 'number' AND base <> 'numeric'::regtype
        AND NOT EXISTS (SELECT 1 FROM pg_cast
                         WHERE castsource = base AND casttarget = 'numeric'::regtype) THEN
    RAISE EXCEPTION 'column "%" of table % has type %, but % needs a numeric column', col, tbl, t, param
      USING ERRCODE = 'datatype_mismatch',
            DETAIL = format('Values of type %s cannot be read as numeric.', base),
            HINT = format('Use a numeric, integer or floating-point column for %s.', param);
  ELSIF kinds = 'text_or_inet' AND NOT (b.typcategory IN ('S', 'I') OR b.typtype = 'e') THEN
    RAISE EXCEPTION 'column "%" of table % has type %, but % needs a text or inet column', col, tbl, t, param
      USING ERRCODE = 'datatype_mismatch',
            HINT = format('Use an inet, text or varchar column for %s.', param);
  END IF;
  RETURN t;
END
$$;

CREATE OR REPLACE FUNCTION _check_value(tbl regclass, col name, val text, param text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t regtype;
  typmod integer;
  base regtype;
BEGIN
  IF val IS NULL OR val = '' THEN
    RAISE EXCEPTION '% must not be empty', param USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT a.atttypid, a.atttypmod INTO t, typmod FROM pg_attribute a
   WHERE a.attrelid = tbl AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
  IF t IS NULL THEN
    RETURN;				-- for _check_column to report
  END IF;
  base := @extschema@._base_type(t);
  IF (SELECT typtype FROM pg_type WHERE oid = base) = 'e'
     AND NOT EXISTS (SELECT 1 FROM pg_enum WHERE enumtypid = base AND enumlabel = val) THEN
    RAISE EXCEPTION 'value "%" is not a label of enum type % (column "%" of table %)', val, base, col, tbl
      USING ERRCODE = 'invalid_parameter_value',
            HINT = format('Pass one of the enum''s labels as %s.', param);
  END IF;
  -- The length limit of a varchar(n) or char(n), perhaps set by a domain:
  -- the column's own, else the nearest domain's.  Read from the catalogs
  -- only (tracked's problem column runs this for any reader).
  IF typmod < 0 THEN
    WITH RECURSIVE d(base, typmod, depth) AS (
      SELECT typbasetype, typtypmod, 0 FROM pg_type WHERE oid = t
      UNION ALL
      SELECT ty.typbasetype, ty.typtypmod, d.depth + 1 FROM pg_type ty JOIN d ON ty.oid = d.base
    )
    SELECT d.typmod INTO typmod FROM d WHERE d.typmod >= 0 ORDER BY depth LIMIT 1;
  END IF;
  IF base IN ('character varying', 'character') AND typmod >= 4 AND char_length(val) > typmod - 4 THEN
    RAISE EXCEPTION 'column "%" of table % cannot hold value "%" of %', col, tbl, val, param
      USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('Its values are at most %s characters long, so no row could match it.', typmod - 4),
            HINT = format('Pass %s as the column stores it, or widen the column.', param);
  ELSIF base = 'character'::regtype AND val <> rtrim(val, ' ') THEN
    RAISE EXCEPTION 'column "%" of table % cannot hold value "%" of %', col, tbl, val, param
      USING ERRCODE = 'invalid_parameter_value',
            DETAIL = 'c5metrics reads char(n) values without their trailing blanks, so no row could match it.',
            HINT = format('Pass %s without trailing blanks.', param);
  ELSIF base = 'name'::regtype AND octet_length(val) > 63 THEN
    RAISE EXCEPTION 'column "%" of table % cannot hold value "%" of %', col, tbl, val, param
      USING ERRCODE = 'invalid_parameter_value',
            DETAIL = 'Its values are at most 63 bytes long, so no row could match it.',
            HINT = format('Pass %s as the column stores it, or use a text column.', param);
  END IF;
END
$$;

CREATE FUNCTION _comparable(a regtype, b regtype) RETURNS boolean
AS 'MODULE_PATHNAME', 'c5metrics_comparable'
LANGUAGE C STRICT STABLE PARALLEL SAFE;

-- ---------------------------------------------------------------------
-- Last, with every function in place (lead).
-- ---------------------------------------------------------------------
-- The triggers attached by 1.3 and before name their tables by OID: name
-- them instead, keeping each trigger's enabled state.
DO $$
DECLARE
  t record;
  args text[];
BEGIN
  FOR t IN SELECT tg.oid, c.a, c.ref FROM @extschema@._our_triggers() tg, @extschema@._trigger_config(tg.oid) c
            WHERE c.ref IS NOT NULL AND c.a[c.ref] ~ '^[0-9]+$'
  LOOP
    args := t.a;
    -- (not _table_ref(), which trusts no OID once the extension is 1.4)
    args[t.ref] := coalesce((SELECT @extschema@._qualified(c.oid) FROM pg_class c
                              WHERE length(t.a[t.ref]) <= 10
                                AND t.a[t.ref]::bigint BETWEEN 1 AND 4294967295
                                AND c.oid = t.a[t.ref]::bigint::oid),
                            CASE WHEN t.a[t.ref] = '0' THEN '' ELSE t.a[t.ref] END);
    IF @extschema@._trigger_stmt(t.oid, args) IS NOT NULL THEN
      EXECUTE @extschema@._trigger_stmt(t.oid, args);
    END IF;
  END LOOP;
END
$$;
SELECT @extschema@._sync_tracked();
