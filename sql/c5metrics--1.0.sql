/* c5metrics--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION c5metrics" to load this file. \quit

-- Fail at once, with the fix, when the library is not preloaded.
CREATE FUNCTION _check_preloaded() RETURNS void
AS 'MODULE_PATHNAME', 'c5metrics_check_preloaded' LANGUAGE C STRICT;
SELECT @extschema@._check_preloaded();

------------------------------------------------------------------------
-- Reading
------------------------------------------------------------------------

CREATE FUNCTION read_metrics(
    OUT metric text, OUT labels jsonb, OUT value double precision, OUT type text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'c5metrics_read_metrics' LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION read_metrics() IS
  'Every series of the registry: metric name (with _bucket/_sum/_count for histograms), labels, value, family type';

CREATE VIEW metrics AS SELECT * FROM @extschema@.read_metrics();
COMMENT ON VIEW metrics IS 'Every series c5metrics exposes: the rows of c5metrics.exposition()';

CREATE FUNCTION exposition() RETURNS text
AS 'MODULE_PATHNAME', 'c5metrics_exposition' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION exposition() IS 'The registry in Prometheus text format 0.0.4';

CREATE FUNCTION reset() RETURNS void
AS 'MODULE_PATHNAME', 'c5metrics_reset' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION reset() IS 'Zero every counter and histogram and move the stats-reset time';

------------------------------------------------------------------------
-- Capture: trigger functions (attached by the track_* functions below)
------------------------------------------------------------------------

CREATE FUNCTION _sales_trigger() RETURNS trigger
AS 'MODULE_PATHNAME', 'c5metrics_sales_trigger' LANGUAGE C;
CREATE FUNCTION _sales_stmt_trigger() RETURNS trigger
AS 'MODULE_PATHNAME', 'c5metrics_sales_stmt_trigger' LANGUAGE C;
CREATE FUNCTION _stock_trigger() RETURNS trigger
AS 'MODULE_PATHNAME', 'c5metrics_stock_trigger' LANGUAGE C;
CREATE FUNCTION _refund_in_check() RETURNS trigger
AS 'MODULE_PATHNAME', 'c5metrics_refund_in_check' LANGUAGE C;
CREATE FUNCTION _refunds_trigger() RETURNS trigger
AS 'MODULE_PATHNAME', 'c5metrics_refunds_trigger' LANGUAGE C;
CREATE FUNCTION _refunds_after_trigger() RETURNS trigger
AS 'MODULE_PATHNAME', 'c5metrics_refunds_after_trigger' LANGUAGE C;
CREATE FUNCTION _leads_trigger() RETURNS trigger
AS 'MODULE_PATHNAME', 'c5metrics_leads_trigger' LANGUAGE C;

CREATE FUNCTION _tracked_sync(oid[], text[]) RETURNS void
AS 'MODULE_PATHNAME', 'c5metrics_tracked_sync' LANGUAGE C STRICT;

------------------------------------------------------------------------
-- Attaching
------------------------------------------------------------------------

-- What is tracked, decoded from the triggers themselves: there is no
-- second copy of the configuration to drift out of date.
CREATE VIEW tracked AS
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
                'refunds_table', nullif(a[6], '0')::oid::regclass::text,
                'refunds_sale_column', a[7])
            WHEN '_refunds_trigger' THEN jsonb_build_object(
                'sale_column', a[1], 'amount_column', a[2], 'type_column', a[3],
                'key_column', nullif(a[4], ''),
                'sales_table', a[5]::oid::regclass::text, 'sales_id_column', a[6],
                'sales_total_column', a[7])
            WHEN '_leads_trigger' THEN jsonb_build_object(
                'ip_column', nullif(a[1], ''), 'email_column', nullif(a[2], ''))
       END AS config
  FROM pg_catalog.pg_trigger t
  JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
 CROSS JOIN LATERAL (
       SELECT (string_to_array(encode(t.tgargs, 'escape'), '\000'))[1:t.tgnargs]) AS args(a)
 WHERE p.pronamespace = '@extschema@'::regnamespace
   AND p.proname IN ('_sales_trigger', '_stock_trigger', '_refunds_trigger', '_leads_trigger');
COMMENT ON VIEW tracked IS 'Tables attached to c5metrics, with their flow and column mapping';

-- Push the complete list of this database's tracked tables to shared memory.
-- SECURITY DEFINER: table owners attach and drop tables, but only this
-- function, which takes no input, may write the shared list.
CREATE FUNCTION _sync_tracked() RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
  SELECT @extschema@._tracked_sync(
           coalesce(array_agg(table_name::oid), '{}'),
           coalesce(array_agg(flow), '{}'))
    FROM @extschema@.tracked
$$;

-- Ownership, relation kind and column checks shared by the track_* functions.
CREATE FUNCTION _check_table(tbl regclass, flow text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  c pg_class;
BEGIN
  SELECT * INTO c FROM pg_class WHERE oid = tbl;
  IF c.relkind NOT IN ('r', 'p') THEN
    RAISE EXCEPTION 'cannot track % for %: it is not a table', tbl, flow
      USING ERRCODE = 'wrong_object_type';
  END IF;
  IF NOT pg_has_role(current_user, c.relowner, 'USAGE') THEN
    RAISE EXCEPTION 'must be owner of table %', tbl
      USING ERRCODE = 'insufficient_privilege',
            HINT = format('Only its owner (%s) or a superuser may attach or detach it.', c.relowner::regrole);
  END IF;
END
$$;

-- Type of a column, or an error naming the table, column, parameter and fix.
-- kinds: 'text' (string category or enum), 'number', 'any'.
CREATE FUNCTION _check_column(tbl regclass, col name, param text, kinds text)
RETURNS regtype
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t regtype;
  cat "char";
  typ "char";
BEGIN
  IF col IS NULL THEN
    RAISE EXCEPTION '% must not be NULL', param USING ERRCODE = 'null_value_not_allowed';
  END IF;
  SELECT a.atttypid, ty.typcategory, ty.typtype INTO t, cat, typ
    FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid
   WHERE a.attrelid = tbl AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
  IF t IS NULL THEN
    RAISE EXCEPTION 'column "%" of table % does not exist', col, tbl
      USING ERRCODE = 'undefined_column',
            HINT = format('Pass the name of the table''s column as %s => ''...''.', param);
  END IF;
  IF kinds = 'text' AND NOT (cat = 'S' OR typ = 'e') THEN
    RAISE EXCEPTION 'column "%" of table % has type %, but % needs a text or enum column', col, tbl, t, param
      USING ERRCODE = 'datatype_mismatch',
            HINT = format('Use a text, varchar, char or enum column for %s.', param);
  ELSIF kinds = 'number' AND cat <> 'N' THEN
    RAISE EXCEPTION 'column "%" of table % has type %, but % needs a numeric column', col, tbl, t, param
      USING ERRCODE = 'datatype_mismatch',
            HINT = format('Use a numeric, integer or floating-point column for %s.', param);
  ELSIF kinds = 'text_or_inet' AND NOT (cat IN ('S', 'I') OR typ = 'e') THEN
    RAISE EXCEPTION 'column "%" of table % has type %, but % needs a text or inet column', col, tbl, t, param
      USING ERRCODE = 'datatype_mismatch';
  END IF;
  RETURN t;
END
$$;

-- An enum column must know the configured value.
CREATE FUNCTION _check_value(tbl regclass, col name, val text, param text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t oid;
BEGIN
  IF val IS NULL OR val = '' THEN
    RAISE EXCEPTION '% must not be empty', param USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT a.atttypid INTO t FROM pg_attribute a
   WHERE a.attrelid = tbl AND a.attname = col AND a.attnum > 0;
  IF (SELECT typtype FROM pg_type WHERE oid = t) = 'e'
     AND NOT EXISTS (SELECT 1 FROM pg_enum WHERE enumtypid = t AND enumlabel = val) THEN
    RAISE EXCEPTION 'value "%" is not a label of enum type % (column "%" of table %)', val, t::regtype, col, tbl
      USING ERRCODE = 'invalid_parameter_value',
            HINT = format('Pass one of the enum''s labels as %s.', param);
  END IF;
END
$$;

-- Drop the c5metrics triggers of one flow from a table.
CREATE FUNCTION _drop_triggers(tbl regclass, flow text) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  tg name;
  n integer := 0;
BEGIN
  FOR tg IN SELECT tgname FROM pg_trigger
             WHERE tgrelid = tbl AND tgname LIKE 'zz_c5metrics_' || flow || '%'
  LOOP
    EXECUTE format('DROP TRIGGER %I ON %s', tg, tbl);
    n := n + 1;
  END LOOP;
  RETURN n;
END
$$;

CREATE FUNCTION _args(VARIADIC a text[]) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$ SELECT string_agg(quote_literal(coalesce(x, '')), ', ') FROM unnest(a) x $$;

CREATE FUNCTION track_sales(
    tbl regclass,
    status_column name DEFAULT 'status',
    paid_value text DEFAULT 'paid',
    id_column name DEFAULT 'id',
    allowed_statuses text[] DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM @extschema@._check_table(tbl, 'sales');
  PERFORM @extschema@._check_column(tbl, status_column, 'status_column', 'text');
  PERFORM @extschema@._check_value(tbl, status_column, paid_value, 'paid_value');
  PERFORM @extschema@._check_column(tbl, id_column, 'id_column', 'any');
  IF cardinality(allowed_statuses) > 64 THEN
    RAISE EXCEPTION 'allowed_statuses has % values, at most 64 are allowed', cardinality(allowed_statuses)
      USING ERRCODE = 'program_limit_exceeded';
  END IF;
  PERFORM @extschema@._drop_triggers(tbl, 'sales');
  EXECUTE format('CREATE TRIGGER zz_c5metrics_sales BEFORE UPDATE OF %I ON %s '
                 'FOR EACH ROW EXECUTE FUNCTION @extschema@._sales_trigger(%s)',
                 status_column, tbl,
                 @extschema@._args(VARIADIC ARRAY[status_column::text, paid_value, id_column::text]
                                   || coalesce(allowed_statuses, '{}')));
  EXECUTE format('CREATE TRIGGER zz_c5metrics_sales_stmt BEFORE UPDATE OF %I ON %s '
                 'FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._sales_stmt_trigger()',
                 status_column, tbl);
  PERFORM @extschema@._sync_tracked();
END
$$;
COMMENT ON FUNCTION track_sales(regclass, name, text, name, text[]) IS
  'Count status transitions and paid sales of a sales table';

CREATE FUNCTION track_stock(
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
    PERFORM @extschema@._check_column(refunds_table, refunds_sale_column, 'refunds_sale_column', 'any');
  END IF;
  PERFORM @extschema@._drop_triggers(tbl, 'stock');
  args := @extschema@._args(type_column, consume_value, refund_in_value, sale_column,
                            quantity_column, coalesce(refunds_table::oid, 0)::text,
                            refunds_sale_column);
  EXECUTE format('CREATE TRIGGER zz_c5metrics_stock BEFORE INSERT ON %s '
                 'FOR EACH ROW EXECUTE FUNCTION @extschema@._stock_trigger(%s)', tbl, args);
  EXECUTE format('CREATE CONSTRAINT TRIGGER zz_c5metrics_stock_refund_in_check AFTER INSERT ON %s '
                 'DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.%I::text = %L) '
                 'EXECUTE FUNCTION @extschema@._refund_in_check(%s)',
                 tbl, type_column, refund_in_value, args);
  PERFORM @extschema@._sync_tracked();
END
$$;
COMMENT ON FUNCTION track_stock(regclass, name, text, text, name, name, regclass, name) IS
  'Count stock consumption for paid sales and refund-in movements of a stock-movement table';

CREATE FUNCTION track_refunds(
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
  owner regrole;
BEGIN
  PERFORM @extschema@._check_table(tbl, 'refunds');
  PERFORM @extschema@._check_column(tbl, sale_column, 'sale_column', 'any');
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
    PERFORM @extschema@._check_column(sales_table, sales_id_column, 'sales_id_column', 'any');
    PERFORM @extschema@._check_column(sales_table, sales_total_column, 'sales_total_column', 'number');
    SELECT relowner::regrole INTO owner FROM pg_class WHERE oid = tbl;
    IF NOT has_table_privilege(owner, sales_table, 'SELECT, UPDATE') THEN
      RAISE EXCEPTION 'owner % of table % cannot lock rows of %', owner, tbl, sales_table
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = 'The over-refund guard locks the sale row as the refunds table''s owner.',
              HINT = format('GRANT SELECT, UPDATE ON %s TO %s;', sales_table, owner);
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
COMMENT ON FUNCTION track_refunds(regclass, name, name, name, name, regclass, name, name) IS
  'Count refunds, conflicts and rollbacks of a refunds table; with sales_table, guard against over-refunds';

CREATE FUNCTION track_leads(
    tbl regclass,
    ip_column name DEFAULT 'source_ip',
    email_column name DEFAULT 'email')
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM @extschema@._check_table(tbl, 'leads');
  IF ip_column IS NOT NULL THEN
    PERFORM @extschema@._check_column(tbl, ip_column, 'ip_column', 'text_or_inet');
  END IF;
  IF email_column IS NOT NULL THEN
    PERFORM @extschema@._check_column(tbl, email_column, 'email_column', 'text');
  END IF;
  PERFORM @extschema@._drop_triggers(tbl, 'leads');
  EXECUTE format('CREATE TRIGGER zz_c5metrics_leads BEFORE INSERT ON %s '
                 'FOR EACH ROW EXECUTE FUNCTION @extschema@._leads_trigger(%s)',
                 tbl, @extschema@._args(ip_column, email_column));
  PERFORM @extschema@._sync_tracked();
END
$$;
COMMENT ON FUNCTION track_leads(regclass, name, name) IS
  'Count lead inserts of a public-lead table and throttle them when c5metrics.lead_throttle is on';

CREATE FUNCTION untrack(tbl regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  n integer := 0;
BEGIN
  PERFORM @extschema@._check_table(tbl, 'any flow');
  n := n + @extschema@._drop_triggers(tbl, 'sales')
         + @extschema@._drop_triggers(tbl, 'stock')
         + @extschema@._drop_triggers(tbl, 'refunds')
         + @extschema@._drop_triggers(tbl, 'leads');
  IF n = 0 THEN
    RAISE NOTICE 'table % is not tracked', tbl;
  END IF;
  PERFORM @extschema@._sync_tracked();
END
$$;
COMMENT ON FUNCTION untrack(regclass) IS 'Remove the c5metrics triggers from a table';

-- Keep c5metrics_tracked_tables right when a tracked table is dropped.
CREATE FUNCTION _on_sql_drop() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_event_trigger_dropped_objects()
              WHERE object_type IN ('table', 'trigger')) THEN
    PERFORM @extschema@._sync_tracked();
  END IF;
END
$$;
CREATE EVENT TRIGGER c5metrics_sql_drop ON sql_drop
  EXECUTE FUNCTION _on_sql_drop();

------------------------------------------------------------------------
-- Reference schema: the shop of the operational guide
------------------------------------------------------------------------

CREATE FUNCTION create_reference_schema(schema_name name DEFAULT 'shop', track boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  s text := quote_ident(schema_name);
BEGIN
  EXECUTE format('CREATE SCHEMA %s', s);
  -- @s@ stands for the quoted schema name
  EXECUTE replace($sql$
    CREATE TABLE @s@.products (
      id bigserial PRIMARY KEY,
      sku text NOT NULL UNIQUE,
      name text NOT NULL,
      price numeric(12,2) NOT NULL CHECK (price >= 0));

    CREATE TABLE @s@.stock_lots (
      id bigserial PRIMARY KEY,
      product_id bigint NOT NULL REFERENCES @s@.products,
      expires_on date NOT NULL,
      quantity_on_hand integer NOT NULL CHECK (quantity_on_hand >= 0));
    CREATE INDEX ON @s@.stock_lots (product_id, expires_on, id);

    CREATE TABLE @s@.sales (
      id bigserial PRIMARY KEY,
      status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('draft', 'pending', 'paid', 'cancelled', 'refunded', 'partially_refunded')),
      total numeric(12,2) NOT NULL CHECK (total >= 0),
      created_at timestamptz NOT NULL DEFAULT now(),
      paid_at timestamptz);

    CREATE TABLE @s@.sale_items (
      id bigserial PRIMARY KEY,
      sale_id bigint NOT NULL REFERENCES @s@.sales,
      product_id bigint NOT NULL REFERENCES @s@.products,
      quantity integer NOT NULL CHECK (quantity > 0),
      unit_price numeric(12,2) NOT NULL CHECK (unit_price >= 0));
    CREATE INDEX ON @s@.sale_items (sale_id);

    CREATE TABLE @s@.stock_movements (
      id bigserial PRIMARY KEY,
      movement_type text NOT NULL
        CHECK (movement_type IN ('consume', 'refund_in', 'receive', 'adjust')),
      product_id bigint NOT NULL REFERENCES @s@.products,
      lot_id bigint REFERENCES @s@.stock_lots,
      sale_id bigint REFERENCES @s@.sales,
      quantity integer NOT NULL CHECK (quantity > 0),
      created_at timestamptz NOT NULL DEFAULT now());
    CREATE INDEX ON @s@.stock_movements (sale_id);

    CREATE TABLE @s@.refunds (
      id bigserial PRIMARY KEY,
      sale_id bigint NOT NULL REFERENCES @s@.sales,
      amount numeric(12,2) NOT NULL CHECK (amount > 0),
      refund_type text NOT NULL CHECK (refund_type IN ('full', 'partial')),
      idempotency_key text NOT NULL UNIQUE,
      created_at timestamptz NOT NULL DEFAULT now());
    CREATE INDEX ON @s@.refunds (sale_id);

    CREATE TABLE @s@.public_leads (
      id bigserial PRIMARY KEY,
      email text NOT NULL CHECK (email LIKE '%_@_%'),
      source_ip inet,
      name text,
      message text,
      created_at timestamptz NOT NULL DEFAULT now());

    -- Pay a sale: the paid transition, then first-expired-first-out
    -- consumption of its items from unexpired lots.
    CREATE FUNCTION @s@.pay_sale(p_sale bigint) RETURNS void
    LANGUAGE plpgsql AS $body$
    DECLARE
      item record;
      lot record;
      need integer;
      take integer;
    BEGIN
      UPDATE @s@.sales SET status = 'paid', paid_at = now()
       WHERE id = p_sale AND status = 'pending';
      IF NOT FOUND THEN
        RAISE EXCEPTION 'sale % is not pending', p_sale;
      END IF;
      FOR item IN SELECT product_id, quantity FROM @s@.sale_items
                   WHERE sale_id = p_sale ORDER BY id
      LOOP
        need := item.quantity;
        FOR lot IN SELECT id, quantity_on_hand FROM @s@.stock_lots
                    WHERE product_id = item.product_id AND quantity_on_hand > 0
                      AND expires_on >= current_date
                    ORDER BY expires_on, id
                    FOR UPDATE
        LOOP
          take := least(need, lot.quantity_on_hand);
          UPDATE @s@.stock_lots SET quantity_on_hand = quantity_on_hand - take
           WHERE id = lot.id;
          INSERT INTO @s@.stock_movements (movement_type, product_id, lot_id, sale_id, quantity)
          VALUES ('consume', item.product_id, lot.id, p_sale, take);
          need := need - take;
          EXIT WHEN need = 0;
        END LOOP;
        IF need > 0 THEN
          RAISE EXCEPTION 'insufficient stock for product %', item.product_id
            USING ERRCODE = 'check_violation', DETAIL = format('%s more units are needed.', need);
        END IF;
      END LOOP;
    END
    $body$;

    -- Refund a sale, optionally putting its consumed stock back.
    CREATE FUNCTION @s@.refund_sale(p_sale bigint, p_amount numeric, p_type text,
                                     p_key text, p_restock boolean DEFAULT false)
    RETURNS void
    LANGUAGE plpgsql AS $body$
    DECLARE
      m record;
    BEGIN
      INSERT INTO @s@.refunds (sale_id, amount, refund_type, idempotency_key)
      VALUES (p_sale, p_amount, p_type, p_key);
      IF p_restock THEN
        FOR m IN SELECT product_id, lot_id, quantity FROM @s@.stock_movements
                  WHERE sale_id = p_sale AND movement_type = 'consume'
        LOOP
          UPDATE @s@.stock_lots SET quantity_on_hand = quantity_on_hand + m.quantity
           WHERE id = m.lot_id;
          INSERT INTO @s@.stock_movements (movement_type, product_id, lot_id, sale_id, quantity)
          VALUES ('refund_in', m.product_id, m.lot_id, p_sale, m.quantity);
        END LOOP;
      END IF;
      UPDATE @s@.sales
         SET status = CASE WHEN p_type = 'full' THEN 'refunded' ELSE 'partially_refunded' END
       WHERE id = p_sale;
    END
    $body$;
  $sql$, '@s@', s);

  IF track THEN
    PERFORM @extschema@.track_sales(format('%s.sales', s)::regclass);
    PERFORM @extschema@.track_stock(format('%s.stock_movements', s)::regclass,
                                    refunds_table => format('%s.refunds', s)::regclass);
    PERFORM @extschema@.track_refunds(format('%s.refunds', s)::regclass,
                                      sales_table => format('%s.sales', s)::regclass);
    PERFORM @extschema@.track_leads(format('%s.public_leads', s)::regclass);
  END IF;
END
$fn$;
COMMENT ON FUNCTION create_reference_schema(name, boolean) IS
  'Create the demo shop (products, FEFO stock lots, sales, refunds, leads) and track it';

------------------------------------------------------------------------
-- Privileges: read for monitoring roles, reset for nobody by default,
-- attaching for table owners (checked by the functions).
------------------------------------------------------------------------

GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;
REVOKE ALL ON FUNCTION read_metrics() FROM PUBLIC;
REVOKE ALL ON FUNCTION exposition() FROM PUBLIC;
REVOKE ALL ON FUNCTION reset() FROM PUBLIC;
REVOKE ALL ON FUNCTION _tracked_sync(oid[], text[]) FROM PUBLIC;
REVOKE ALL ON metrics FROM PUBLIC;
GRANT EXECUTE ON FUNCTION read_metrics() TO pg_monitor, pg_read_all_stats;
GRANT EXECUTE ON FUNCTION exposition() TO pg_monitor, pg_read_all_stats;
GRANT SELECT ON metrics TO pg_monitor, pg_read_all_stats;
-- pg_trigger, which it decodes, is readable by everyone anyway: table
-- owners see what they attached.
GRANT SELECT ON tracked TO PUBLIC;

-- A previous installation in this database may have left entries behind.
SELECT @extschema@._sync_tracked();
