/* c5metrics 1.4 -> 1.5: the status page; the first packaged release */
\echo Use "ALTER EXTENSION c5metrics UPDATE TO '1.5'" to load this file. \quit

-- Nothing in the SQL surface changes.  What 1.5 adds is in the library:
-- the HTTP listener serves a status page of the SLOs and flows at "/" and
-- its data at "/slo.json", and exports the SLO objectives
-- (c5metrics_slo_objective{slo}) and the lead throttle's limits
-- (c5metrics_lead_throttle_limit_per_minute{scope}) as gauges, which the
-- c5metrics.metrics view and c5metrics.exposition() show as they show every
-- family of the catalog.  1.5 is also the first release shipped as a
-- Debian package and on PGXN.  The script exists so that the SQL version,
-- the control file's default_version and c5metrics_build_info stay one
-- version (docs/PACKAGING.md, "Versions").
