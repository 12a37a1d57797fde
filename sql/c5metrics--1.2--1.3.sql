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
