/* c5metrics 1.1 -> 1.2 */
\echo Use "ALTER EXTENSION c5metrics UPDATE TO '1.2'" to load this file. \quit

-- ---------------------------------------------------------------------
-- The sales table's statement trigger goes away.  It marked an UPDATE of
-- the status column as sales-flow work, so that a failure while locking
-- rows (serialization failure, deadlock, lock timeout) counts against the
-- sales flow.  The library now does this when the executor starts such a
-- statement (an ExecutorStart hook looking for the sales row trigger among
-- the statement's result relations), without a trigger call per statement.
-- ---------------------------------------------------------------------

DO $$
DECLARE
  t record;
BEGIN
  FOR t IN SELECT tgrelid::regclass AS tbl, tgname FROM pg_trigger
            WHERE tgfoid = '@extschema@._sales_stmt_trigger()'::regprocedure
              AND tgparentid = 0
  LOOP
    EXECUTE format('DROP TRIGGER %I ON %s', t.tgname, t.tbl);
  END LOOP;
END
$$;
DROP FUNCTION _sales_stmt_trigger();

CREATE OR REPLACE FUNCTION track_sales(
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
  PERFORM @extschema@._sync_tracked();
END
$$;
