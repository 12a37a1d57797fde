/* c5metrics 1.2 -> 1.3: safe against every role (docs/SECURITY.md) */
\echo Use "ALTER EXTENSION c5metrics UPDATE TO '1.3'" to load this file. \quit

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
