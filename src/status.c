/*-------------------------------------------------------------------------
 *
 * status.c
 *		The status page at / and its data at /slo.json: the SLOs, the flows
 *		and the registry at a glance, without Prometheus or Grafana.
 *
 * Both are rendered by the HTTP worker from what /metrics and the views
 * read: a registry snapshot and the SLI ring (sli.c, c5m_sli_report).  The
 * SLO figures are computed as c5metrics.sli and c5metrics.error_budget
 * compute them, from the same sample, so they are equal at the same
 * moment.  The flows' "last 5 minutes" come from the worker's own samples
 * of flow_transactions_total (c5m_status_tick), kept in its memory: after
 * the worker starts, the page says how much of the 5 minutes it covers.
 *
 * The page is one self-contained document: its only style sheet is inline
 * and allowed by the nonce of its Content-Security-Policy, it has no
 * script at all (a meta refresh reloads it), and its charts are inline
 * SVG.  Every text that came from the data -- status names above all,
 * which are whatever the shop's sales table holds -- is escaped.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <time.h>

#include "common/shortest_dec.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#include "exposition.h"
#include "settings.h"
#include "sli.h"
#include "sqlstate.h"
#include "status.h"

/* The windows of a report (sli.c), by place. */
enum
{
	W_5M, W_30M, W_1H, W_2H, W_6H, W_1D, W_3D, W_30D, W_BUDGET
};

/*
 * The burn-rate alert conditions of c5metrics.error_budget (and of the
 * Prometheus rules): both windows burning faster than the factor.
 */
static const struct
{
	const char *name;
	bool		page;			/* else a ticket */
	int			longw,
				shortw;
	double		factor;
}			conditions[] = {
	{"page_1h_5m", true, W_1H, W_5M, 14.4},
	{"page_6h_30m", true, W_6H, W_30M, 6},
	{"ticket_1d_2h", false, W_1D, W_2H, 3},
	{"ticket_3d_6h", false, W_3D, W_6H, 1},
};

#define N_CONDITIONS lengthof(conditions)

/* The sparklines: points of step seconds. */
#define DAY_POINTS		96
#define DAY_STEP		900
#define MONTH_POINTS	120
#define MONTH_STEP		21600

/* The rows of the transition and exception tables. */
#define TOP_ROWS		20

/* One SLO's figures, as the views compute them. */
typedef struct SloFigures
{
	double		objective;
	double		sli[C5M_SLI_NWINDOWS];	/* NaN: no events */
	double		burn[C5M_SLI_NWINDOWS]; /* 0 without events, as the views */
	double		coverage[C5M_SLI_NWINDOWS];
	bool		cond[N_CONDITIONS];
	const char *alerting;		/* page, ticket, none */
} SloFigures;

/* A counted triple of the transition or exception tables. */
typedef struct TopRow
{
	const char *a;
	const char *b;
	const char *c;
	uint64		count;
} TopRow;

/* Everything a page or a JSON document shows, taken once. */
typedef struct StatusModel
{
	C5Snapshot *snap;
	TimestampTz now;
	C5SliReport r;
	SloFigures slo[C5_NSLOS];
	C5SliPoint day[DAY_POINTS];
	C5SliPoint month[MONTH_POINTS];
	uint64		since_reset[C5_NFLOWS][C5_NRESULTS];
	uint64		recent[C5_NFLOWS][C5_NRESULTS];
	bool		have_recent;
	double		recent_covered; /* seconds */
	int			tracked;
	TopRow	   *transitions;
	int			ntransitions;
	TopRow	   *exceptions;
	int			nexceptions;
} StatusModel;

/* ---- the worker's samples of the flows ---- */

#define FLOW_SAMPLES	320		/* 5 min at the shortest sample interval, 1 s */
#define RECENT_SECONDS	300

typedef struct FlowSample
{
	TimestampTz at;
	uint64		acc[C5_NFLOWS][C5_NRESULTS];
} FlowSample;

/* Process-local: only the HTTP worker samples, and only it renders. */
static FlowSample flow_samples[FLOW_SAMPLES];
static int	nflow_samples;
static int	next_flow_sample;	/* where the next one goes */
static uint64 flow_acc[C5_NFLOWS][C5_NRESULTS];	/* what the samples counted */
static uint64 flow_last[C5_NFLOWS][C5_NRESULTS];	/* registry values last seen */
static TimestampTz flow_last_reset;
static TimestampTz flow_next_tick;

static void
flow_counters(const C5Layout *l, uint64 (*raw)[C5_NRESULTS], const uint64 *ctr)
{
	int			f,
				r;

	for (f = 0; f < C5_NFLOWS; f++)
		for (r = 0; r < C5_NRESULTS; r++)
		{
			int			idx = l->base[C5_STORE_FLOW_TX] + f * C5_NRESULTS + r;

			raw[f][r] = ctr != NULL ? ctr[idx] : c5m_counter_read(idx);
		}
}

/* What the flows counted by now: the samples' count plus the gain since. */
static void
flow_accumulate(uint64 (*raw)[C5_NRESULTS], TimestampTz reset, uint64 (*acc)[C5_NRESULTS])
{
	int			f,
				r;

	for (f = 0; f < C5_NFLOWS; f++)
		for (r = 0; r < C5_NRESULTS; r++)
		{
			uint64		now = raw[f][r],
						before = flow_last[f][r];

			/* after c5metrics.reset() a counter starts over: all of it is new */
			acc[f][r] = flow_acc[f][r] +
				((reset != flow_last_reset || now < before) ? now : now - before);
		}
}

/*
 * Called by the worker after every wake-up: samples the flows' counters
 * every c5metrics.sli_sample_interval.  Reads shared memory only.
 */
void
c5m_status_tick(void)
{
	TimestampTz now = GetCurrentTimestamp();
	uint64		raw[C5_NFLOWS][C5_NRESULTS];
	TimestampTz reset;
	FlowSample *s;

	if (!c5m_registry_ready() || now < flow_next_tick)
		return;
	flow_next_tick = now + (int64) c5m_sli_sample_interval * USECS_PER_SEC;

	flow_counters(&c5m_shared->layout, raw, NULL);
	LWLockAcquire(c5m_shared->lock, LW_SHARED);
	reset = c5m_shared->stats_reset;
	LWLockRelease(c5m_shared->lock);

	s = &flow_samples[next_flow_sample];
	flow_accumulate(raw, reset, s->acc);
	s->at = now;
	memcpy(flow_acc, s->acc, sizeof(flow_acc));
	memcpy(flow_last, raw, sizeof(flow_last));
	flow_last_reset = reset;
	next_flow_sample = (next_flow_sample + 1) % FLOW_SAMPLES;
	nflow_samples = Min(nflow_samples + 1, FLOW_SAMPLES);
}

/* The flows over the last 5 minutes: from the oldest sample within them. */
static void
flow_recent(StatusModel *m)
{
	uint64		acc[C5_NFLOWS][C5_NRESULTS];
	const FlowSample *first = NULL;
	int			i,
				f,
				r;

	for (i = nflow_samples; i > 0; i--)
	{
		const FlowSample *s = &flow_samples[(next_flow_sample - i + FLOW_SAMPLES) % FLOW_SAMPLES];

		if (s->at >= m->now - (int64) RECENT_SECONDS * USECS_PER_SEC && s->at <= m->now)
		{
			first = s;
			break;
		}
	}
	m->have_recent = first != NULL;
	if (first == NULL)
		return;
	flow_accumulate(m->since_reset, m->snap->stats_reset, acc);
	m->recent_covered = (m->now - first->at) / 1000000.0;
	for (f = 0; f < C5_NFLOWS; f++)
		for (r = 0; r < C5_NRESULTS; r++)
			m->recent[f][r] = acc[f][r] - first->acc[f][r];
}

/* ---- the model ---- */

static int
top_cmp(const void *a, const void *b)
{
	const TopRow *x = a,
			   *y = b;
	int			c;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	if ((c = strcmp(x->a, y->a)) != 0)
		return c;
	if ((c = strcmp(x->b, y->b)) != 0)
		return c;
	return strcmp(x->c, y->c);
}

/* The biggest counted triples of the transitions and the exceptions. */
static void
top_rows(StatusModel *m)
{
	const C5Snapshot *s = m->snap;
	const C5Layout *l = &s->l;
	int			i,
				j,
				r,
				n;

	/* only live series can have counted: room for those */
	n = 1;
	for (i = 0; i < l->nstatus * l->nstatus; i++)
		if (s->live[l->live_transitions + i])
			n += C5_NRESULTS;
	m->transitions = palloc(sizeof(TopRow) * n);
	n = 0;
	for (i = 0; i < l->nstatus; i++)
		for (j = 0; j < l->nstatus; j++)
		{
			int			pair = i * l->nstatus + j;

			if (!s->live[l->live_transitions + pair])
				continue;
			for (r = 0; r < C5_NRESULTS; r++)
			{
				uint64		c = s->ctr[l->base[C5_STORE_TRANSITIONS] + pair * C5_NRESULTS + r];

				if (c == 0)
					continue;
				m->transitions[n++] = (TopRow)
				{
					s->names[i], s->names[j], c5m_domain_value(C5_DOM_RESULT, r), c
				};
			}
		}
	qsort(m->transitions, n, sizeof(TopRow), top_cmp);
	m->ntransitions = Min(n, TOP_ROWS);

	m->exceptions = palloc(sizeof(TopRow) * (c5m_condition_count() * C5_NFLOWS + 1));
	n = 0;
	for (i = 0; i < c5m_condition_count(); i++)
		for (j = 0; j < C5_NFLOWS; j++)
		{
			int			cell = i * C5_NFLOWS + j;
			uint64		c = s->ctr[l->base[C5_STORE_EXCEPTIONS] + cell];

			if (!s->live[l->live_exceptions + cell] || c == 0)
				continue;
			m->exceptions[n++] = (TopRow)
			{
				c5m_condition_name(i), c5m_flow_name(j), "", c
			};
		}
	qsort(m->exceptions, n, sizeof(TopRow), top_cmp);
	m->nexceptions = Min(n, TOP_ROWS);
}

/* Each SLO's figures, computed as the views compute them. */
static void
slo_figures(StatusModel *m)
{
	int			slo,
				w,
				c;

	for (slo = 0; slo < C5_NSLOS; slo++)
	{
		SloFigures *f = &m->slo[slo];
		bool		page = false,
					ticket = false;

		f->objective = c5m_objective_ratio(slo);
		for (w = 0; w < C5M_SLI_NWINDOWS; w++)
		{
			const C5SliWindow *win = &m->r.w[w];
			uint64		good = win->good[slo],
						total = win->total[slo];

			f->sli[w] = total > 0 ? (double) good / (double) total : NAN;
			f->burn[w] = total > 0 ?
				(double) (total - good) / (double) total / (1 - f->objective) : 0;
			f->coverage[w] = Min(win->covered / win->seconds, 1.0);
		}
		for (c = 0; c < (int) N_CONDITIONS; c++)
		{
			f->cond[c] = f->burn[conditions[c].longw] > conditions[c].factor &&
				f->burn[conditions[c].shortw] > conditions[c].factor;
			if (f->cond[c] && conditions[c].page)
				page = true;
			else if (f->cond[c])
				ticket = true;
		}
		f->alerting = page ? "page" : ticket ? "ticket" : "none";
	}
}

static void
build_model(StatusModel *m, C5Snapshot *snap)
{
	int			f;

	memset(m, 0, sizeof(*m));
	m->snap = snap;
	m->now = GetCurrentTimestamp();
	c5m_sli_report(&m->r);
	slo_figures(m);
	c5m_sli_series(&m->r, DAY_STEP, DAY_POINTS, m->day);
	c5m_sli_series(&m->r, MONTH_STEP, MONTH_POINTS, m->month);
	flow_counters(&snap->l, m->since_reset, snap->ctr);
	flow_recent(m);
	for (f = 0; f < C5_NFLOWS; f++)
		m->tracked += snap->tracked[f];
	top_rows(m);
}

/* ---- formatting ---- */

/* A time as ISO 8601 in UTC, to the microsecond as the views keep it. */
static void
iso_time(TimestampTz t, char *buf, size_t len)
{
	time_t		secs = (time_t) timestamptz_to_time_t(t);
	int			usecs = (int) (t - time_t_to_timestamptz((pg_time_t) secs));
	struct tm	tm;
	char		whole[32];

	if (usecs < 0)
	{
		secs--;
		usecs += 1000000;
	}
	if (gmtime_r(&secs, &tm) == NULL ||
		strftime(whole, sizeof(whole), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		strlcpy(buf, "", len);
	else
		snprintf(buf, len, "%s.%06dZ", whole, usecs);
}

/* A double, exactly and shortest (what float8out prints). */
static void
put_num(StringInfo out, double v)
{
	char		buf[DOUBLE_SHORTEST_DECIMAL_LEN];

	double_to_shortest_decimal_buf(v, buf);
	appendStringInfoString(out, buf);
}

/* Text for HTML content or a quoted attribute. */
static void
put_html(StringInfo out, const char *s)
{
	for (; *s; s++)
		switch (*s)
		{
			case '&':
				appendStringInfoString(out, "&amp;");
				break;
			case '<':
				appendStringInfoString(out, "&lt;");
				break;
			case '>':
				appendStringInfoString(out, "&gt;");
				break;
			case '"':
				appendStringInfoString(out, "&quot;");
				break;
			case '\'':
				appendStringInfoString(out, "&#39;");
				break;
			default:
				appendStringInfoChar(out, *s);
		}
}

/* ---- JSON ---- */

static void
json_num_or_null(StringInfo out, double v)
{
	if (isnan(v))
		appendStringInfoString(out, "null");
	else
		put_num(out, v);
}

static void
json_time(StringInfo out, TimestampTz t)
{
	char		buf[40];

	if (t == 0)
	{
		appendStringInfoString(out, "null");
		return;
	}
	iso_time(t, buf, sizeof(buf));
	escape_json(out, buf);
}

static void
json_spark(StringInfo out, const char *key, const C5SliPoint *p, int n, int step, int slo)
{
	int			k;

	appendStringInfo(out, ",\"%s\":{\"step_seconds\":%d,\"points\":[", key, step);
	for (k = 0; k < n; k++)
	{
		appendStringInfo(out, "%s[" INT64_FORMAT ",", k ? "," : "",
						 (int64) timestamptz_to_time_t(p[k].at));
		if (p[k].have && p[k].total[slo] > 0)
			put_num(out, (double) p[k].good[slo] / (double) p[k].total[slo]);
		else
			appendStringInfoString(out, "null");
		appendStringInfoChar(out, ']');
	}
	appendStringInfoString(out, "]}");
}

static void
json_counts(StringInfo out, const uint64 *c)
{
	int			r;

	for (r = 0; r < C5_NRESULTS; r++)
		appendStringInfo(out, "%s\"%s\":" UINT64_FORMAT, r ? "," : "",
						 c5m_domain_value(C5_DOM_RESULT, r), c[r]);
}

/*
 * /slo.json: the page's data (docs/HTTP.md has the schema).  Numbers are
 * exact, null where there is no data.
 */
void
c5m_render_status_json(C5Snapshot *snap, StringInfo out)
{
	StatusModel *m = palloc(sizeof(StatusModel));
	int			slo,
				w,
				c,
				f,
				i;

	build_model(m, snap);
	appendStringInfoString(out, "{\"as_of\":");
	json_time(out, m->r.as_of);
	appendStringInfoString(out, ",\"generated_at\":");
	json_time(out, m->now);
	appendStringInfo(out, ",\"role\":\"%s\",\"version\":", snap->in_recovery ? "standby" : "primary");
	escape_json(out, C5M_VERSION);
	appendStringInfoString(out, ",\"postgres\":");
	escape_json(out, PG_VERSION);
	appendStringInfoString(out, ",\"stats_reset\":");
	json_time(out, snap->stats_reset);
	appendStringInfo(out, ",\"tracked_tables\":%d,\"budget_window_days\":%d,\"slos\":[",
					 m->tracked, c5m_budget_days);
	for (slo = 0; slo < C5_NSLOS; slo++)
	{
		SloFigures *fig = &m->slo[slo];
		const C5SliWindow *b = &m->r.w[W_BUDGET];

		appendStringInfo(out, "%s{\"slo\":\"%s\",\"objective\":", slo ? "," : "", c5m_slo_names[slo]);
		put_num(out, fig->objective);
		appendStringInfoString(out, ",\"windows\":{");
		for (w = 0; w < W_BUDGET; w++)
		{
			const C5SliWindow *win = &m->r.w[w];

			appendStringInfo(out, "%s\"%s\":{\"seconds\":%d,\"good\":" UINT64_FORMAT
							 ",\"total\":" UINT64_FORMAT ",\"sli\":",
							 w ? "," : "", win->name, win->seconds,
							 win->good[slo], win->total[slo]);
			json_num_or_null(out, fig->sli[w]);
			appendStringInfoString(out, ",\"burn_rate\":");
			put_num(out, fig->burn[w]);
			appendStringInfoString(out, ",\"coverage\":");
			put_num(out, fig->coverage[w]);
			appendStringInfoChar(out, '}');
		}
		appendStringInfo(out, "},\"budget\":{\"seconds\":%d,\"good\":" UINT64_FORMAT
						 ",\"total\":" UINT64_FORMAT ",\"consumed\":",
						 b->seconds, b->good[slo], b->total[slo]);
		json_num_or_null(out, b->total[slo] > 0 ? fig->burn[W_BUDGET] : NAN);
		appendStringInfoString(out, ",\"remaining\":");
		json_num_or_null(out, b->total[slo] > 0 ? 1 - fig->burn[W_BUDGET] : NAN);
		appendStringInfoString(out, ",\"coverage\":");
		put_num(out, fig->coverage[W_BUDGET]);
		appendStringInfoString(out, "},\"conditions\":{");
		for (c = 0; c < (int) N_CONDITIONS; c++)
			appendStringInfo(out, "%s\"%s\":%s", c ? "," : "", conditions[c].name,
							 fig->cond[c] ? "true" : "false");
		appendStringInfo(out, "},\"alerting\":\"%s\"", fig->alerting);
		json_spark(out, "spark_24h", m->day, DAY_POINTS, DAY_STEP, slo);
		json_spark(out, "spark_30d", m->month, MONTH_POINTS, MONTH_STEP, slo);
		appendStringInfoChar(out, '}');
	}
	appendStringInfoString(out, "],\"flows\":[");
	for (f = 0; f < C5_NFLOWS; f++)
	{
		appendStringInfo(out, "%s{\"flow\":\"%s\",\"last_5m\":", f ? "," : "", c5m_flow_name(f));
		if (m->have_recent)
		{
			appendStringInfoChar(out, '{');
			json_counts(out, m->recent[f]);
			appendStringInfoString(out, ",\"covered_seconds\":");
			put_num(out, m->recent_covered);
			appendStringInfoChar(out, '}');
		}
		else
			appendStringInfoString(out, "null");
		appendStringInfoString(out, ",\"since_reset\":{");
		json_counts(out, m->since_reset[f]);
		appendStringInfoString(out, "}}");
	}
	appendStringInfoString(out, "],\"transitions\":[");
	for (i = 0; i < m->ntransitions; i++)
	{
		TopRow	   *t = &m->transitions[i];

		appendStringInfo(out, "%s{\"from\":", i ? "," : "");
		escape_json(out, t->a);
		appendStringInfoString(out, ",\"to\":");
		escape_json(out, t->b);
		appendStringInfo(out, ",\"result\":\"%s\",\"count\":" UINT64_FORMAT "}", t->c, t->count);
	}
	appendStringInfoString(out, "],\"exceptions\":[");
	for (i = 0; i < m->nexceptions; i++)
	{
		TopRow	   *t = &m->exceptions[i];

		appendStringInfo(out, "%s{\"condition\":", i ? "," : "");
		escape_json(out, t->a);
		appendStringInfo(out, ",\"flow\":\"%s\",\"count\":" UINT64_FORMAT "}", t->b, t->count);
	}
	appendStringInfoString(out, "]}\n");
}

/* ---- HTML ---- */

/*
 * The page's only style sheet; the Content-Security-Policy allows it by
 * its nonce, and nothing else.
 */
static const char page_css[] =
"body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}"
"header{background:#24292f;color:#f6f8fa;padding:12px 24px;display:flex;flex-wrap:wrap;align-items:baseline;gap:8px 24px}"
"header h1{font-size:20px;margin:0}header a{color:#9ecbff}nav a{margin-right:12px}"
"#as-of{margin:0;flex:1;color:#d0d7de}"
"main{padding:8px 24px 24px}h2{font-size:16px;margin:20px 0 8px}"
"table{border-collapse:collapse;background:#fff;border:1px solid #d0d7de}"
"th,td{padding:4px 8px;border-bottom:1px solid #eaeef2;text-align:right}td{white-space:nowrap}"
"th{background:#f6f8fa;font-weight:600}th[scope],th.l,td.l{text-align:left}"
"tr.a-page th[scope=row]{border-left:6px solid #cf222e}tr.a-ticket th[scope=row]{border-left:6px solid #bf8700}"
"tr.a-none th[scope=row]{border-left:6px solid #1a7f37}tr.a-nodata th[scope=row]{border-left:6px solid #8c959f}"
".alert-page{color:#fff;background:#cf222e;font-weight:600}.alert-ticket{background:#fff8c5;color:#7d4e00;font-weight:600}"
".alert-none{color:#1a7f37}.nodata{color:#8c959f;font-style:italic}"
".bad{color:#cf222e;font-weight:600}.good{color:#1a7f37}"
"svg.spark{display:block}svg.spark path{fill:none;stroke:#0969da;stroke-width:1.5;stroke-linecap:round;stroke-linejoin:round}"
"svg.spark line{stroke:#cf222e;stroke-width:1;stroke-dasharray:3 2}svg.spark text{fill:#8c959f;font-size:10px}"
"dl{display:grid;grid-template-columns:max-content auto;gap:4px 16px;background:#fff;border:1px solid #d0d7de;padding:10px 14px;margin:0;max-width:640px}"
"dt{font-weight:600}dd{margin:0}.cols{display:flex;flex-wrap:wrap;gap:0 32px}"
"footer{padding:0 24px 24px;color:#57606a;font-size:12px}";

static void
html_time(StringInfo out, const char *id, TimestampTz t)
{
	char		buf[40];

	if (t == 0)
	{
		appendStringInfo(out, "<time%s%s%s data-v=\"\" class=\"nodata\">no data</time>",
						 id ? " id=\"" : "", id ? id : "", id ? "\"" : "");
		return;
	}
	iso_time(t, buf, sizeof(buf));
	appendStringInfo(out, "<time%s%s%s datetime=\"%s\" data-v=\"%s\">%.10s %.8s UTC</time>",
					 id ? " id=\"" : "", id ? id : "", id ? "\"" : "", buf, buf, buf, buf + 11);
}

/* A cell: data-k and the exact value in data-v, the text for people. */
static void
html_cell(StringInfo out, const char *key, double v, const char *text, const char *class)
{
	appendStringInfo(out, "<td data-k=\"%s\" data-v=\"", key);
	if (!isnan(v))
		put_num(out, v);
	appendStringInfoString(out, "\"");
	if (isnan(v))
		appendStringInfoString(out, " class=\"nodata\">no data</td>");
	else
		appendStringInfo(out, "%s%s%s>%s</td>", class ? " class=\"" : "", class ? class : "",
						 class ? "\"" : "", text);
}

/* A ratio as a percentage; `class` colours it (NULL: none). */
static void
html_pct_cell(StringInfo out, const char *key, double v, int decimals, const char *class)
{
	char		text[64];

	snprintf(text, sizeof(text), "%.*f&#8201;%%", decimals, v * 100);
	html_cell(out, key, v, text, class);
}

/* An SLI: green when it meets the objective, red when it does not. */
static const char *
sli_class(double sli, double objective)
{
	return isnan(sli) ? NULL : sli >= objective ? "good" : "bad";
}

/*
 * A sparkline of an SLO's SLI per interval: a line through the intervals
 * that had events (a gap where none), the objective as a dashed line.
 */
static void
html_spark(StringInfo out, const char *key, const char *what, const C5SliPoint *p,
		   int n, int slo, double objective)
{
	const int	width = 112,
				height = 30;
	double		lo = objective - 2 * (1 - objective);
	int			k,
				have = 0,
				run = 0;
	double		min = 1;

	for (k = 0; k < n; k++)
		if (p[k].have && p[k].total[slo] > 0)
		{
			double		v = (double) p[k].good[slo] / (double) p[k].total[slo];

			have++;
			min = Min(min, v);
		}
	lo = Max(Min(lo, min), 0);
	appendStringInfo(out, "<td class=\"l\"><svg class=\"spark\" data-spark=\"%s\" role=\"img\" "
					 "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\"><title>%s, %s: ",
					 key, width, height, width, height, c5m_slo_names[slo], what);
	if (have == 0)
	{
		appendStringInfo(out, "no data</title><text x=\"4\" y=\"%d\">no data</text></svg></td>",
						 height / 2 + 4);
		return;
	}
	appendStringInfo(out, "%d of %d intervals with events, lowest %.3f%%</title>",
					 have, n, min * 100);
	appendStringInfo(out, "<line x1=\"0\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/><path d=\"",
					 width, height - 2 - (objective - lo) / (1 - lo) * (height - 4),
					 height - 2 - (objective - lo) / (1 - lo) * (height - 4));
	for (k = 0; k <= n; k++)
	{
		bool		point = k < n && p[k].have && p[k].total[slo] > 0;

		if (point)
		{
			double		v = (double) p[k].good[slo] / (double) p[k].total[slo];

			appendStringInfo(out, "%s%.1f %.1f", run ? " L" : " M", (k + 0.5) * width / n,
							 height - 2 - (v - lo) / (1 - lo) * (height - 4));
			run++;
		}
		else
		{
			/* a lone point: a dot (round caps) */
			if (run == 1)
				appendStringInfoString(out, " h0.1");
			run = 0;
		}
	}
	appendStringInfoString(out, "\"/></svg></td>");
}

static void
html_slos(StringInfo out, StatusModel *m)
{
	static const struct
	{
		const char *key;
		int			w;
	}			sli_cells[] = {
		{"sli-5m", W_5M}, {"sli-1h", W_1H}, {"sli-1d", W_1D}, {"sli-30d", W_30D},
	};
	int			slo,
				i;

	appendStringInfo(out,
					 "<h2>Service level objectives</h2><table id=\"slos\"><thead><tr>"
					 "<th scope=\"col\">SLO</th><th>Objective</th><th>SLI 5&#8201;m</th><th>1&#8201;h</th>"
					 "<th>1&#8201;d</th><th>30&#8201;d</th><th>Burn rate 1&#8201;h</th>"
					 "<th>Budget left (%d&#8201;d)</th><th>Alert</th>"
					 "<th class=\"l\">Last 24&#8201;h</th><th class=\"l\">Last 30&#8201;d</th></tr></thead><tbody>",
					 c5m_budget_days);
	for (slo = 0; slo < C5_NSLOS; slo++)
	{
		SloFigures *f = &m->slo[slo];
		const char *state = m->r.as_of == 0 ? "nodata" : f->alerting;
		bool		budget = m->r.w[W_BUDGET].total[slo] > 0;
		char		text[64];

		appendStringInfo(out, "<tr data-slo=\"%s\" data-alert=\"%s\" class=\"a-%s\">"
						 "<th scope=\"row\">%s</th>",
						 c5m_slo_names[slo], state, state, c5m_slo_names[slo]);
		html_pct_cell(out, "objective", f->objective, 2, NULL);
		for (i = 0; i < (int) lengthof(sli_cells); i++)
			html_pct_cell(out, sli_cells[i].key, f->sli[sli_cells[i].w], 3,
						  sli_class(f->sli[sli_cells[i].w], f->objective));
		snprintf(text, sizeof(text), "%.2f&#215;", f->burn[W_1H]);
		html_cell(out, "burn-1h", m->r.w[W_1H].total[slo] > 0 ? f->burn[W_1H] : NAN, text,
				  f->burn[W_1H] > 1 ? "bad" : NULL);
		/* an overspent budget is negative, and shown red */
		html_pct_cell(out, "budget-remaining", budget ? 1 - f->burn[W_BUDGET] : NAN, 1,
					  budget && f->burn[W_BUDGET] > 1 ? "bad" : NULL);
		if (m->r.as_of == 0)
			appendStringInfo(out, "<td data-k=\"alert\" data-v=\"%s\" class=\"nodata\">no data</td>",
							 f->alerting);
		else
			appendStringInfo(out, "<td data-k=\"alert\" data-v=\"%s\" class=\"alert-%s\">%s</td>",
							 f->alerting, f->alerting, f->alerting);
		html_spark(out, "24h", "SLI per 15 minutes over the last 24 hours",
				   m->day, DAY_POINTS, slo, f->objective);
		html_spark(out, "30d", "SLI per 6 hours over the last 30 days",
				   m->month, MONTH_POINTS, slo, f->objective);
		appendStringInfoString(out, "</tr>");
	}
	appendStringInfoString(out, "</tbody></table>");
}

static void
html_flows(StringInfo out, StatusModel *m)
{
	int			f,
				r;

	appendStringInfoString(out,
						   "<h2>Flows</h2><table id=\"flows\"><thead><tr><th scope=\"col\">Flow</th>"
						   "<th>Success 5&#8201;m</th><th>Rejected 5&#8201;m</th><th>Failure 5&#8201;m</th>"
						   "<th>Covered</th><th>Success</th><th>Rejected</th><th>Failure</th></tr>"
						   "</thead><tbody>");
	for (f = 0; f < C5_NFLOWS; f++)
	{
		appendStringInfo(out, "<tr data-flow=\"%s\"><th scope=\"row\">%s</th>",
						 c5m_flow_name(f), c5m_flow_name(f));
		for (r = 0; r < C5_NRESULTS; r++)
		{
			char		key[32],
						text[32];

			snprintf(key, sizeof(key), "%s-5m", c5m_domain_value(C5_DOM_RESULT, r));
			snprintf(text, sizeof(text), UINT64_FORMAT, m->recent[f][r]);
			html_cell(out, key, m->have_recent ? (double) m->recent[f][r] : NAN, text,
					  r == C5_FAILURE && m->recent[f][r] > 0 ? "bad" : NULL);
		}
		{
			char		text[32];

			snprintf(text, sizeof(text), "last %.0f&#8201;s", m->recent_covered);
			html_cell(out, "covered-5m", m->have_recent ? m->recent_covered : NAN, text, NULL);
		}
		for (r = 0; r < C5_NRESULTS; r++)
		{
			char		key[32],
						text[32];

			snprintf(key, sizeof(key), "%s-total", c5m_domain_value(C5_DOM_RESULT, r));
			snprintf(text, sizeof(text), UINT64_FORMAT, m->since_reset[f][r]);
			html_cell(out, key, (double) m->since_reset[f][r], text, NULL);
		}
		appendStringInfoString(out, "</tr>");
	}
	appendStringInfoString(out, "</tbody></table>");
}

static void
html_top(StringInfo out, const char *id, const char *title, const char *const *keys,
		 int nkeys, const TopRow *rows, int n)
{
	int			i,
				k;

	appendStringInfo(out, "<div><h2>%s</h2><table id=\"%s\"><thead><tr>", title, id);
	for (k = 0; k < nkeys; k++)
		appendStringInfo(out, "<th%s>%s</th>", k < nkeys - 1 ? " class=\"l\"" : "", keys[k]);
	appendStringInfoString(out, "</tr></thead><tbody>");
	for (i = 0; i < n; i++)
	{
		const char *v[3] = {rows[i].a, rows[i].b, rows[i].c};

		appendStringInfoString(out, "<tr>");
		for (k = 0; k < nkeys - 1; k++)
		{
			appendStringInfo(out, "<td class=\"l\" data-k=\"%s\">", keys[k]);
			put_html(out, v[k]);
			appendStringInfoString(out, "</td>");
		}
		appendStringInfo(out, "<td data-k=\"count\">" UINT64_FORMAT "</td></tr>", rows[i].count);
	}
	if (n == 0)
		appendStringInfo(out, "<tr><td class=\"nodata l\" colspan=\"%d\">none since the reset</td></tr>",
						 nkeys);
	appendStringInfoString(out, "</tbody></table></div>");
}

/*
 * The status page.  `nonce` allows its style sheet under the response's
 * Content-Security-Policy (the caller makes one per response).
 */
void
c5m_render_status_html(C5Snapshot *snap, const char *nonce, StringInfo out)
{
	static const char *const transition_keys[] = {"from", "to", "result", "count"};
	static const char *const exception_keys[] = {"condition", "flow", "count"};
	StatusModel *m = palloc(sizeof(StatusModel));
	const char *role = snap->in_recovery ? "standby" : "primary";

	build_model(m, snap);
	appendStringInfo(out,
					 "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
					 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
					 "<meta http-equiv=\"refresh\" content=\"%d\">"
					 "<title>c5metrics \xE2\x80\x94 %s \xE2\x80\x94 SLO status</title>"
					 "<style nonce=\"%s\">%s</style></head><body>\n",
					 C5M_STATUS_REFRESH, role, nonce, page_css);
	appendStringInfoString(out, "<header><h1>c5metrics</h1><p id=\"as-of\">SLIs as of ");
	html_time(out, NULL, m->r.as_of);
	appendStringInfoString(out, " &#183; page generated ");
	html_time(out, "generated", m->now);
	appendStringInfo(out, " &#183; refreshes every %d&#8201;s</p>"
					 "<nav><a href=\"/metrics\">/metrics</a><a href=\"/slo.json\">/slo.json</a>"
					 "<a href=\"/healthz\">/healthz</a><a href=\"/readyz\">/readyz</a></nav></header>\n<main>",
					 C5M_STATUS_REFRESH);
	html_slos(out, m);
	html_flows(out, m);
	appendStringInfoString(out, "<div class=\"cols\">");
	html_top(out, "transitions", "Sale status transitions", transition_keys, 4,
			 m->transitions, m->ntransitions);
	html_top(out, "exceptions", "Exceptions", exception_keys, 3,
			 m->exceptions, m->nexceptions);
	appendStringInfoString(out, "</div><h2>This server</h2><dl id=\"about\">");
	appendStringInfo(out, "<dt>Role</dt><dd data-k=\"role\">%s</dd>", role);
	appendStringInfoString(out, "<dt>c5metrics</dt><dd data-k=\"version\">");
	put_html(out, C5M_VERSION);
	appendStringInfoString(out, "</dd><dt>PostgreSQL</dt><dd data-k=\"postgres\">");
	put_html(out, PG_VERSION);
	appendStringInfo(out, "</dd><dt>Tracked tables</dt><dd data-k=\"tracked\">%d</dd>"
					 "<dt>Counting since</dt><dd data-k=\"stats-reset\">",
					 m->tracked);
	html_time(out, NULL, snap->stats_reset);
	appendStringInfo(out, "</dd><dt>Error budget window</dt><dd data-k=\"budget-window\">%d days</dd>"
					 "</dl></main>\n<footer>SLIs and budgets from the SLI history "
					 "(c5metrics.sli, c5metrics.error_budget); flows since the stats reset "
					 "(c5metrics.reset()) and over the last 5 minutes as the HTTP worker sampled "
					 "them.</footer></body></html>\n",
					 c5m_budget_days);
}
