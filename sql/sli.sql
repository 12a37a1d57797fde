-- SLIs, error budgets and burn rates from the SLI ring.  The ring is fed
-- deterministically with c5metrics._sli_feed() (superuser only), which
-- records cumulative samples at given times and keeps the worker out.
SELECT c5metrics._sli_clear(true);

-- No data is not an error: NULL SLI, zero burn, nothing covered.
SELECT slo, window_name, good, total, sli, burn_rate, coverage
  FROM c5metrics.sli WHERE window_name IN ('5m', '30d') ORDER BY slo, window_seconds;
SELECT slo, budget_consumed, budget_remaining, alerting FROM c5metrics.error_budget ORDER BY slo;
SELECT c5metrics.histogram_quantile(0.5, 'sale_refund_duration_seconds', '1 hour');

-- 31 days of history ending at E = 2026-02-01 00:00 UTC: a sample every
-- 15 minutes, and every 10 seconds in the last two hours.  Cumulative
-- values are step functions of time:
--   refunds: 1000 good at E-29d; 1000 more with 10 failed at E-2d; 100 more
--            with 50 failed at E-10min (90 of them within 0.8 s)
--   paid:    1000 with 20 failed at E-3min
--   leads, stock consumption: nothing
CREATE TEMP TABLE feed AS
SELECT t,
       (CASE WHEN t >= e - '3 min'::interval THEN 980 ELSE 0 END) AS paid_good,
       (CASE WHEN t >= e - '3 min'::interval THEN 1000 ELSE 0 END) AS paid_total,
       (CASE WHEN t >= e - '29 days'::interval THEN 1000 ELSE 0 END
        + CASE WHEN t >= e - '2 days'::interval THEN 990 ELSE 0 END
        + CASE WHEN t >= e - '10 min'::interval THEN 50 ELSE 0 END) AS refund_good,
       (CASE WHEN t >= e - '29 days'::interval THEN 1000 ELSE 0 END
        + CASE WHEN t >= e - '2 days'::interval THEN 1000 ELSE 0 END
        + CASE WHEN t >= e - '10 min'::interval THEN 100 ELSE 0 END) AS refund_total,
       t >= e - '10 min'::interval AS recent
  FROM (SELECT '2026-02-01 00:00:00+00'::timestamptz AS e) x,
       LATERAL (SELECT generate_series(e - '31 days'::interval, e - '2 hours'::interval, '15 min') AS t
                UNION ALL
                SELECT generate_series(e - '2 hours'::interval + '10 s'::interval, e, '10 s')) g;
-- refund latency buckets (cumulative, le = 0.005 ... 10, +Inf): the recent
-- 100 refunds are spread 10/20/30/30/5/5 over le 0.1 .. 2.5
SELECT count(*) FROM (
  SELECT c5metrics._sli_feed(t, ARRAY[paid_good, refund_good, 0], ARRAY[paid_total, refund_total, 0],
                             array_fill(0::bigint, ARRAY[13]),
                             CASE WHEN recent THEN ARRAY[0,0,0,0,10,30,60,90,95,100,100,100,100]::bigint[]
                                  ELSE array_fill(0::bigint, ARRAY[13]) END)
    FROM feed ORDER BY t) f;

SELECT slo, window_name, good, total, round(sli::numeric, 4) AS sli, objective,
       round(burn_rate::numeric, 2) AS burn_rate, coverage, as_of
  FROM c5metrics.sli ORDER BY slo, window_seconds;

-- The error budget over 30 days, and the burn-rate conditions: paid burns
-- 20x over 5m and 1h (page); refunds burn 100x over 30m and 6h (page).
SELECT slo, objective, budget_window, good, total,
       round(budget_consumed::numeric, 4) AS consumed, round(budget_remaining::numeric, 4) AS remaining,
       page_1h_5m, page_6h_30m, ticket_1d_2h, ticket_3d_6h, alerting
  FROM c5metrics.error_budget ORDER BY slo;

-- Objectives and the budget window change without a restart.
SET c5metrics.objective_refund_availability = 99;
SET c5metrics.budget_window = 7;
SELECT slo, objective, budget_window, good, total, round(budget_consumed::numeric, 4) AS consumed
  FROM c5metrics.error_budget WHERE slo = 'refund_availability';
RESET c5metrics.objective_refund_availability;
RESET c5metrics.budget_window;

-- Quantiles interpolate as PromQL's histogram_quantile: rank 50 of 100
-- falls in (0.25, 0.5] holding 30, 20 into it: 0.25 + 0.25 * 20/30.
SELECT round(c5metrics.histogram_quantile(0.5, 'sale_refund_duration_seconds', '30 min')::numeric, 6) AS p50,
       round(c5metrics.histogram_quantile(0.99, 'sale_refund_duration_seconds', '30 min')::numeric, 6) AS p99,
       c5metrics.histogram_quantile(1, 'sale_refund_duration_seconds', '30 min') AS p100,
       c5metrics.histogram_quantile(0, 'sale_refund_duration_seconds', '30 min') AS p0,
       c5metrics.histogram_quantile(1.5, 'sale_refund_duration_seconds', '30 min') AS above_one,
       c5metrics.histogram_quantile(0.5, 'sale_refund_duration_seconds', '5 min') AS no_data,
       c5metrics.histogram_quantile(0.5, 'sales_paid_stock_consume_duration_seconds', '30 days') AS never;
SELECT c5metrics.histogram_quantile(0.5, 'flow_transaction_duration_seconds', '1 hour');

-- A server up for ten minutes says so: the history covers a third of 30m.
SELECT c5metrics._sli_clear(true);
SELECT count(*) FROM (
  SELECT c5metrics._sli_feed(t, ARRAY[0, (extract(epoch FROM t - '2026-02-01 00:00:00+00') / 10)::bigint, 0],
                             ARRAY[0, (extract(epoch FROM t - '2026-02-01 00:00:00+00') / 10)::bigint, 0],
                             array_fill(0::bigint, ARRAY[13]), array_fill(0::bigint, ARRAY[13]))
    FROM generate_series('2026-02-01 00:00:00+00'::timestamptz, '2026-02-01 00:10:00+00', '10 s') t) f;
SELECT window_name, good, total, sli, covered_seconds, round(coverage::numeric, 4) AS coverage
  FROM c5metrics.sli WHERE slo = 'refund_availability' ORDER BY window_seconds;

-- Only a superuser may feed or clear the ring; monitoring roles read it.
CREATE ROLE c5_sli_reader IN ROLE pg_monitor;
SET ROLE c5_sli_reader;
SELECT count(*) FROM c5metrics.sli;
SELECT count(*) FROM c5metrics.error_budget;
SELECT c5metrics._sli_clear(false);
RESET ROLE;
DROP ROLE c5_sli_reader;

-- Leave the worker to it.
SELECT c5metrics._sli_clear(false);
