-- The extension installs, and every expected series exists at 0.
CREATE EXTENSION c5metrics;

-- A compact view of the business series that are not zero, used by the
-- other tests.  Sums of durations vary from run to run and are left out.
CREATE VIEW nz AS
SELECT metric, labels::text AS labels, value
  FROM c5metrics.metrics
 WHERE value <> 0
   AND metric NOT LIKE 'c5metrics\_%'
   AND metric NOT LIKE '%\_bucket'
   AND metric NOT LIKE '%\_sum'
 ORDER BY metric COLLATE "C", labels::text COLLATE "C";

SELECT c5metrics.reset();
SELECT * FROM nz;

-- Every family with its series count and type, from the start.
SELECT family, type, count(*) AS series, sum(value) AS total
  FROM (SELECT CASE WHEN type = 'histogram'
                    THEN regexp_replace(metric, '_(bucket|sum|count)$', '')
                    ELSE metric END AS family, type, value
          FROM c5metrics.metrics
         WHERE metric NOT IN ('c5metrics_stats_reset_timestamp_seconds',
                              'c5metrics_build_info')) f
 GROUP BY family, type ORDER BY family COLLATE "C";

-- build_info carries the library's version, the control file's default.
SELECT labels ->> 'version' = (SELECT default_version FROM pg_available_extensions
                                WHERE name = 'c5metrics') AS control_version,
       labels ->> 'version' = (SELECT extversion FROM pg_extension
                                WHERE extname = 'c5metrics') AS installed_version,
       value
  FROM c5metrics.metrics WHERE metric = 'c5metrics_build_info';

-- The stats-reset time is recent.
SELECT value BETWEEN extract(epoch FROM now()) - 60 AND extract(epoch FROM now()) + 1 AS recent
  FROM c5metrics.metrics WHERE metric = 'c5metrics_stats_reset_timestamp_seconds';

-- Settings exist, with their documented defaults or test values.
SELECT name, setting, context FROM pg_settings
 WHERE name LIKE 'c5metrics.%' ORDER BY name COLLATE "C";

-- A bad value is rejected with the setting's name.
SET c5metrics.lead_ip_per_minute = -1;
SET c5metrics.no_such_setting = 1;
