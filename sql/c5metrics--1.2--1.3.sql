/* c5metrics 1.2 -> 1.3: safe against every role (docs/SECURITY.md) */
\echo Use "ALTER EXTENSION c5metrics UPDATE TO '1.3'" to load this file. \quit

-- ---------------------------------------------------------------------
-- c5metrics.tracked never fails, whatever triggers exist (issue 14).
-- Any role may create a trigger of its own calling one of c5metrics'
-- trigger functions, with any arguments: 1.2's view raised for every
-- reader (and so every attach and _sync_tracked()) once one had arguments
-- it could not decode -- a sales table that is not an OID, bytes that are
-- not valid in the database encoding.  Such a trigger is still listed: it
-- runs c5metrics' code on its table, so a DBA should see it, and the
-- trigger counts its table as tracked when it fires.  What its arguments
-- cannot say is null: a missing argument, one that is not valid text, and
-- a table argument that is not an OID.  A table OID that names no
-- relation (dropped since) is shown as the number, as before.
-- ---------------------------------------------------------------------
-- A trigger's arguments (pg_trigger.tgargs, tgnargs) as text, each null
-- where it is not valid in the database encoding; never raises.
CREATE FUNCTION _trigger_args(bytea, smallint) RETURNS text[]
AS 'MODULE_PATHNAME', 'c5metrics_trigger_args'
LANGUAGE C STRICT STABLE PARALLEL SAFE;

-- The relation an argument holding an OID names, or null when it is no OID.
CREATE FUNCTION _table_arg(text) RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE WHEN $1 ~ '^[0-9]{1,10}$' THEN
              CASE WHEN $1::bigint BETWEEN 1 AND 4294967295 THEN $1::oid::regclass::text END
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
                'refunds_table', @extschema@._table_arg(a[6]),
                'refunds_sale_column', a[7])
            WHEN '_refunds_trigger' THEN jsonb_build_object(
                'sale_column', a[1], 'amount_column', a[2], 'type_column', a[3],
                'key_column', nullif(a[4], ''),
                'sales_table', @extschema@._table_arg(a[5]), 'sales_id_column', a[6],
                'sales_total_column', a[7])
            WHEN '_leads_trigger' THEN jsonb_build_object(
                'ip_column', nullif(a[1], ''), 'email_column', nullif(a[2], ''))
       END AS config
  FROM pg_catalog.pg_trigger t
  JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
 CROSS JOIN LATERAL (SELECT @extschema@._trigger_args(t.tgargs, t.tgnargs)) AS args(a)
 WHERE p.pronamespace = '@extschema@'::regnamespace
   AND p.proname IN ('_sales_trigger', '_stock_trigger', '_refunds_trigger', '_leads_trigger');

-- ---------------------------------------------------------------------
-- Attach validates the tables named by sales_table (track_refunds) and
-- refunds_table (track_stock).  c5metrics reads them with the rights of
-- the tracked table's owner -- the over-refund guard also locks the sale
-- row -- so they must be tables that this owner could read (and lock)
-- with plain SQL: plain tables only (no view, foreign table, partitioned
-- table or other relation kind, whose reading could run code or is not
-- supported), no system catalog, no temporary table of another session
-- (nor of this one for a permanent table), SELECT on the columns read,
-- UPDATE for the guard's row lock, and for the guard no row-level
-- security applying to the owner.  The library checks the same again
-- each time the guard or the refund-in check runs (src/guards.c), since
-- anyone may create a trigger calling the trigger functions directly.
-- ---------------------------------------------------------------------

CREATE FUNCTION _check_source(tbl regclass, src regclass, param text, cols name[],
                              guard boolean)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  s pg_class;
  t pg_class;
  owner regrole;
  col name;
  kind text;
BEGIN
  SELECT * INTO s FROM pg_class WHERE oid = src;
  SELECT * INTO t FROM pg_class WHERE oid = tbl;
  owner := t.relowner::regrole;
  IF src::oid < 16384 THEN
    RAISE EXCEPTION 'cannot use system catalog % as %', src, param
      USING ERRCODE = 'insufficient_privilege',
            DETAIL = 'c5metrics reads only tables created after the cluster was initialized.';
  END IF;
  IF s.relkind <> 'r' THEN
    kind := CASE s.relkind
              WHEN 'p' THEN 'partitioned table' WHEN 'v' THEN 'view'
              WHEN 'm' THEN 'materialized view' WHEN 'f' THEN 'foreign table'
              WHEN 'S' THEN 'sequence' WHEN 'i' THEN 'index'
              WHEN 'I' THEN 'partitioned index' WHEN 't' THEN 'TOAST table'
              WHEN 'c' THEN 'composite type' ELSE 'relation' END;
    IF s.relkind = 'p' THEN
      RAISE EXCEPTION 'cannot use partitioned table % as %', src, param
        USING ERRCODE = 'wrong_object_type',
              DETAIL = CASE WHEN guard
                THEN 'The over-refund guard finds and locks the sale row in one table, through its indexes; it does not route through partitions.'
                ELSE 'The refund-in check reads only plain tables.' END,
              HINT = 'Use a plain table, or the partition that holds the rows.';
    END IF;
    RAISE EXCEPTION 'cannot use % % as %', kind, src, param
      USING ERRCODE = 'wrong_object_type',
            DETAIL = 'c5metrics reads only plain tables: reading a view, a materialized view or a foreign table could run code of their owners.',
            HINT = format('Pass the table that holds the rows as %s.', param);
  END IF;
  IF s.relpersistence = 't' AND s.relnamespace IS DISTINCT FROM pg_my_temp_schema() THEN
    RAISE EXCEPTION 'cannot use temporary table % of another session as %', src, param
      USING ERRCODE = 'feature_not_supported';
  END IF;
  IF s.relpersistence = 't' AND t.relpersistence <> 't' THEN
    RAISE EXCEPTION 'cannot use temporary table % as % of permanent table %', src, param, tbl
      USING ERRCODE = 'invalid_table_definition',
            DETAIL = 'The temporary table goes away with this session, and the trigger would still name it.';
  END IF;
  -- a column missing is for _check_column to report, after this
  FOREACH col IN ARRAY cols LOOP
    IF EXISTS (SELECT 1 FROM pg_attribute
                WHERE attrelid = src AND attname = col AND attnum > 0 AND NOT attisdropped)
       AND NOT has_column_privilege(owner, src, col, 'SELECT') THEN
      RAISE EXCEPTION 'owner % of table % cannot read column "%" of %', owner, tbl, col, src
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = CASE WHEN guard
                THEN 'The over-refund guard reads the sale with the rights of the refunds table''s owner.'
                ELSE 'The refund-in check reads the refunds with the rights of the stock table''s owner.' END,
              HINT = CASE WHEN guard THEN format('GRANT SELECT, UPDATE ON %s TO %s;', src, owner)
                          ELSE format('GRANT SELECT ON %s TO %s;', src, owner) END;
    END IF;
  END LOOP;
  IF guard THEN
    IF NOT has_any_column_privilege(owner, src, 'UPDATE') THEN
      RAISE EXCEPTION 'owner % of table % cannot lock rows of %', owner, tbl, src
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = 'The over-refund guard locks the sale row, as SELECT ... FOR NO KEY UPDATE would, with the rights of the refunds table''s owner; that needs the UPDATE privilege.',
              HINT = format('GRANT SELECT, UPDATE ON %s TO %s;', src, owner);
    END IF;
    -- check_enable_rls(): policies apply unless the role bypasses them or
    -- owns the table without FORCE ROW LEVEL SECURITY
    IF s.relrowsecurity
       AND NOT (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE oid = owner)
       AND NOT (pg_has_role(owner, s.relowner, 'USAGE') AND NOT s.relforcerowsecurity) THEN
      RAISE EXCEPTION 'row-level security of % applies to owner % of table %', src, owner, tbl
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = 'The over-refund guard reads and locks the sale whatever the policies say, so it refuses a sales table whose policies apply to the refunds table''s owner.',
              HINT = 'Use a refunds table owned by the sales table''s owner or by a role with BYPASSRLS.';
    END IF;
  END IF;
END
$$;

-- The base type of a domain, or the type itself.
CREATE FUNCTION _base_type(t regtype) RETURNS regtype
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
  WITH RECURSIVE d(oid, base) AS (
    SELECT oid, typbasetype FROM pg_type WHERE oid = t
    UNION ALL
    SELECT ty.oid, ty.typbasetype FROM pg_type ty JOIN d ON ty.oid = d.base
  )
  SELECT oid::regtype FROM d WHERE base = 0
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
  END IF;
  PERFORM @extschema@._drop_triggers(tbl, 'stock');
  args := @extschema@._args(type_column, consume_value, refund_in_value, sale_column,
                            quantity_column, coalesce(refunds_table::oid, 0)::text,
                            refunds_sale_column);
  EXECUTE format('CREATE TRIGGER zz_c5metrics_stock BEFORE INSERT ON %s '
                 'FOR EACH ROW EXECUTE FUNCTION @extschema@._stock_trigger(%s)', tbl, args);
  PERFORM @extschema@._sync_tracked();
END
$$;

-- The guard locks the sale row (SELECT and UPDATE for the owner, as in
-- 1.0), and the sale ids of both tables must compare.
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
    id_type := @extschema@._check_column(sales_table, sales_id_column, 'sales_id_column', 'any');
    PERFORM @extschema@._check_column(sales_table, sales_total_column, 'sales_total_column', 'number');
    sale_type := @extschema@._base_type(sale_type);
    id_type := @extschema@._base_type(id_type);
    IF NOT (sale_type = id_type
            OR (sale_type IN ('smallint', 'integer', 'bigint')
                AND id_type IN ('smallint', 'integer', 'bigint'))
            OR (sale_type IN ('text', 'character varying')
                AND id_type IN ('text', 'character varying')))
       OR NOT EXISTS (SELECT 1 FROM pg_opclass oc
                       WHERE oc.opcmethod = (SELECT oid FROM pg_am WHERE amname = 'btree')
                         AND oc.opcdefault
                         AND (oc.opcintype = id_type
                              OR EXISTS (SELECT 1 FROM pg_cast
                                          WHERE castsource = id_type AND casttarget = oc.opcintype
                                            AND castmethod = 'b'))) THEN
      RAISE EXCEPTION 'column "%" of table % has type %, which cannot be compared with column "%" of table % (type %)',
                      sale_column, tbl, sale_type, sales_id_column, sales_table, id_type
        USING ERRCODE = 'datatype_mismatch',
              HINT = 'The over-refund guard finds the sale by equality: use the same type for both columns (or two integer types, or text and varchar).';
    END IF;
    args := args || ', ' || @extschema@._args(sales_table::oid::text, sales_id_column,
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

-- ---------------------------------------------------------------------------
-- Issue 14, per-database fairness: clearing the status dictionary.
-- c5metrics.reset_labels() empties the cluster-wide status dictionary and the
-- series of sales_transition_total and exceptions_total, so that statuses and
-- series taken by a database (within its quota, see
-- c5metrics.max_label_values_per_database and max_series_per_database) can be
-- given back without a restart.  Like reset(), nobody but a superuser may
-- call it until granted.
-- ---------------------------------------------------------------------------
CREATE FUNCTION reset_labels() RETURNS void
AS 'MODULE_PATHNAME', 'c5metrics_reset_labels' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION reset_labels() IS 'Empty the status dictionary and the label-valued series of every database, and move the stats-reset time';
REVOKE ALL ON FUNCTION reset_labels() FROM PUBLIC;
