-- test/sli-feed-30d.sql: fill the SLI ring with 31 days of synthetic
-- samples on the three tiers' grids, ending now (superuser; feeding keeps
-- the worker from sampling).  Used by test/t/024_status_page.pl and
-- bench/status_page.sh; leaves a temporary table `feed` (s: the sample's
-- Unix time) for the caller's own queries.  What the history holds is
-- described in bench/status_page.sh, above fill_sql.
SET client_min_messages = warning;
CREATE FUNCTION pg_temp.buckets(fast float8, slow float8) RETURNS bigint[]
LANGUAGE sql IMMUTABLE AS $$
  SELECT array_agg(c ORDER BY i) FROM (
    SELECT i, (sum(floor(fast * (ARRAY[.05, .25, .35, .15, .12, .08, 0, 0, 0, 0, 0, 0, 0])[i]
                         + slow * (ARRAY[0, 0, 0, 0, 0, 0, 0, 0, .3, .45, .15, .07, .03])[i]))
               OVER (ORDER BY i))::bigint AS c
      FROM generate_series(1, 13) i) b
$$;
CREATE TEMP TABLE feed AS
WITH e AS (SELECT floor(extract(epoch FROM now()))::bigint / 10 * 10 AS e),
ts AS (
  SELECT DISTINCT g.s, e.e FROM e, LATERAL (
    SELECT generate_series(e.e - 8100, e.e, 10)
    UNION ALL SELECT generate_series((e.e - 266400) / 120 * 120, e.e, 120)
    UNION ALL SELECT generate_series((e.e - 2667600) / 900 * 900, e.e, 900)) g(s)),
x AS (
  SELECT s, e - s AS age, s - lag(s, 1, s - 10) OVER (ORDER BY s) AS dt,
         0.6 + 0.4 * sin(2 * pi() * s / 86400.0) AS traffic,
         0.5 + 0.5 * sin(2 * pi() * (s / 86400.0 + 0.25)) AS wave
    FROM ts),
r AS (
  SELECT s, dt, 2.0 * traffic AS paid_n, 0.3 * traffic AS refund_n, 0.5 * traffic AS lead_n,
         0.0002 + 0.0004 * wave
           + CASE WHEN age < 4200 THEN 0.03 WHEN age >= 777600 AND age < 788400 THEN 0.02 ELSE 0 END AS paid_bad,
         0.01 + 0.02 * wave + CASE WHEN age >= 1728000 AND age < 1749600 THEN 0.3 ELSE 0 END AS consume_slow,
         0.001 + 0.002 * wave + CASE WHEN age < 172800 THEN 0.018 ELSE 0 END AS refund_bad,
         0.01 + 0.02 * wave + CASE WHEN age >= 1036800 AND age < 1051200 THEN 0.5 ELSE 0 END AS refund_slow,
         0.002 + 0.004 * wave + CASE WHEN age >= 2160000 AND age < 2163600 THEN 0.2 ELSE 0 END AS lead_bad
    FROM x),
c AS (
  SELECT s,
         sum(dt * paid_n * (1 - paid_bad)) OVER w AS paid_g,
         sum(dt * paid_n * paid_bad) OVER w AS paid_b,
         sum(dt * refund_n * (1 - refund_bad)) OVER w AS refund_g,
         sum(dt * refund_n * refund_bad) OVER w AS refund_b,
         sum(dt * lead_n * (1 - lead_bad)) OVER w AS lead_g,
         sum(dt * lead_n * lead_bad) OVER w AS lead_b,
         sum(dt * paid_n * (1 - paid_bad) * (1 - consume_slow)) OVER w AS consume_fast,
         sum(dt * paid_n * (1 - paid_bad) * consume_slow) OVER w AS consume_slow,
         sum(dt * refund_n * (1 - refund_bad) * (1 - refund_slow)) OVER w AS refund_fast,
         sum(dt * refund_n * (1 - refund_bad) * refund_slow) OVER w AS refund_slow
    FROM r WINDOW w AS (ORDER BY s))
SELECT s,
       ARRAY[floor(paid_g), floor(refund_g), floor(lead_g)]::bigint[] AS good,
       ARRAY[floor(paid_g) + floor(paid_b), floor(refund_g) + floor(refund_b),
             floor(lead_g) + floor(lead_b)]::bigint[] AS total,
       pg_temp.buckets(consume_fast, consume_slow) AS consume,
       pg_temp.buckets(refund_fast, refund_slow) AS refund
  FROM c;
SELECT c5metrics._sli_clear(true);
DO $$
DECLARE
  f record;
BEGIN
  FOR f IN SELECT * FROM feed ORDER BY s LOOP
    PERFORM c5metrics._sli_feed(to_timestamp(f.s), f.good, f.total, f.consume, f.refund);
  END LOOP;
END
$$;
