/* c5metrics 1.0 -> 1.1 */
\echo Use "ALTER EXTENSION c5metrics UPDATE TO '1.1'" to load this file. \quit

-- ---------------------------------------------------------------------
-- The refund-in check runs before commit from the stock trigger's notes:
-- the deferred constraint trigger (and its WHEN clause, compiled again
-- by PostgreSQL for every INSERT statement) goes away.
-- ---------------------------------------------------------------------

DO $$
DECLARE
  t record;
BEGIN
  FOR t IN SELECT tgrelid::regclass AS tbl, tgname FROM pg_trigger
            WHERE tgfoid = '@extschema@._refund_in_check()'::regprocedure
  LOOP
    EXECUTE format('DROP TRIGGER %I ON %s', t.tgname, t.tbl);
  END LOOP;
END
$$;
DROP FUNCTION _refund_in_check();

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

-- The over-refund guard reads the sale; it no longer locks its row.
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
    IF NOT has_table_privilege(owner, sales_table, 'SELECT') THEN
      RAISE EXCEPTION 'owner % of table % cannot read %', owner, tbl, sales_table
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = 'The over-refund guard reads the sale for the refunds table''s owner.',
              HINT = format('GRANT SELECT ON %s TO %s;', sales_table, owner);
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

-- The tracked view decodes trigger arguments as text in the database
-- encoding (1.0 showed backslashes doubled and non-ASCII bytes as octal).
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
       -- each argument is stored NUL-terminated, in the database encoding
       SELECT array_agg(convert_from(decode(x.m[1], 'hex'), pg_catalog.getdatabaseencoding())
                        ORDER BY x.n)
         FROM regexp_matches(encode(t.tgargs, 'hex'), '((?:[0-9a-f]{2})*?)00', 'g')
              WITH ORDINALITY AS x(m, n)) AS args(a)
 WHERE p.pronamespace = '@extschema@'::regnamespace
   AND p.proname IN ('_sales_trigger', '_stock_trigger', '_refunds_trigger', '_leads_trigger');

-- ---------------------------------------------------------------------
-- SLIs, error budgets and burn rates (README section 6b)
-- ---------------------------------------------------------------------

CREATE FUNCTION _sli_windows(
    OUT slo text, OUT window_name text, OUT window_seconds integer,
    OUT good bigint, OUT total bigint, OUT objective double precision,
    OUT covered_seconds double precision, OUT as_of timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'c5metrics_sli_windows'
LANGUAGE C STRICT VOLATILE;

CREATE VIEW sli AS
SELECT slo, window_name, window_seconds, good, total,
       CASE WHEN total > 0 THEN good::double precision / total END AS sli,
       objective,
       CASE WHEN total > 0 THEN (total - good)::double precision / total / (1 - objective)
            ELSE 0 END AS burn_rate,
       covered_seconds,
       least(covered_seconds / window_seconds, 1) AS coverage,
       as_of
  FROM @extschema@._sli_windows()
 WHERE window_name <> 'budget';
COMMENT ON VIEW sli IS
  'Per SLO and window (5m to 30d): good and total events, SLI, objective, burn rate, and how much of the window the history covers';

CREATE VIEW error_budget AS
WITH w AS (
  SELECT slo, window_name, window_seconds, good, total, objective, covered_seconds, as_of,
         CASE WHEN total > 0 THEN (total - good)::double precision / total / (1 - objective)
              ELSE 0 END AS burn
    FROM @extschema@._sli_windows()
), b AS (
  SELECT slo,
         max(burn) FILTER (WHERE window_name = '5m') AS b5m,
         max(burn) FILTER (WHERE window_name = '30m') AS b30m,
         max(burn) FILTER (WHERE window_name = '1h') AS b1h,
         max(burn) FILTER (WHERE window_name = '2h') AS b2h,
         max(burn) FILTER (WHERE window_name = '6h') AS b6h,
         max(burn) FILTER (WHERE window_name = '1d') AS b1d,
         max(burn) FILTER (WHERE window_name = '3d') AS b3d
    FROM w GROUP BY slo
)
SELECT w.slo, w.objective,
       make_interval(days => w.window_seconds / 86400) AS budget_window,
       w.good, w.total,
       w.burn AS budget_consumed,
       1 - w.burn AS budget_remaining,
       b.b1h > 14.4 AND b.b5m > 14.4 AS page_1h_5m,
       b.b6h > 6 AND b.b30m > 6 AS page_6h_30m,
       b.b1d > 3 AND b.b2h > 3 AS ticket_1d_2h,
       b.b3d > 1 AND b.b6h > 1 AS ticket_3d_6h,
       CASE WHEN (b.b1h > 14.4 AND b.b5m > 14.4) OR (b.b6h > 6 AND b.b30m > 6) THEN 'page'
            WHEN (b.b1d > 3 AND b.b2h > 3) OR (b.b3d > 1 AND b.b6h > 1) THEN 'ticket'
            ELSE 'none' END AS alerting,
       least(w.covered_seconds / w.window_seconds, 1) AS coverage,
       w.as_of
  FROM w JOIN b USING (slo)
 WHERE w.window_name = 'budget';
COMMENT ON VIEW error_budget IS
  'Per SLO over the budget window (c5metrics.budget_window): budget consumed and remaining, and which burn-rate alert conditions hold now';

CREATE FUNCTION histogram_quantile(q double precision, histogram text, over interval)
RETURNS double precision
AS 'MODULE_PATHNAME', 'c5metrics_histogram_quantile'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION histogram_quantile(double precision, text, interval) IS
  'Quantile of a latency histogram over the last interval, interpolated as PromQL''s histogram_quantile; NULL without observations';

-- Test support: feed the ring deterministically.  Superuser only (also
-- checked in C).
CREATE FUNCTION _sli_feed(at timestamptz, good bigint[], total bigint[],
                          consume_buckets bigint[], refund_buckets bigint[])
RETURNS void
AS 'MODULE_PATHNAME', 'c5metrics_sli_feed'
LANGUAGE C STRICT VOLATILE;
CREATE FUNCTION _sli_clear(paused boolean)
RETURNS void
AS 'MODULE_PATHNAME', 'c5metrics_sli_clear'
LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION _sli_feed(timestamptz, bigint[], bigint[], bigint[], bigint[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION _sli_clear(boolean) FROM PUBLIC;

REVOKE ALL ON FUNCTION _sli_windows() FROM PUBLIC;
REVOKE ALL ON FUNCTION histogram_quantile(double precision, text, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION _sli_windows() TO pg_monitor, pg_read_all_stats;
GRANT EXECUTE ON FUNCTION histogram_quantile(double precision, text, interval) TO pg_monitor, pg_read_all_stats;
GRANT SELECT ON sli, error_budget TO pg_monitor, pg_read_all_stats;
