/*-------------------------------------------------------------------------
 *
 * exposition.c
 *		The one walk over the registry that every reader uses.
 *
 * A reader first takes a snapshot (c5m_snapshot_take(), registry.c); then
 * it formats without holding anything, and this file touches no shared
 * memory at all -- which is also what lets the fuzzer feed it.  The walk
 * (c5m_walk) visits every family in catalog order and every exposed series
 * of it, and hands them to an emitter: the Prometheus text renderer below,
 * or the c5metrics.metrics set-returning function (sqlfuncs.c).  So the
 * view and the text can never disagree on what exists.
 *
 * Text format: https://prometheus.io/docs/instrumenting/exposition_formats/
 * HELP and TYPE once per family, label values escaped (backslash, quote,
 * newline), histogram buckets cumulative with +Inf equal to _count, sums
 * in seconds with microsecond precision (never truncated to integers).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/shortest_dec.h"
#include "datatype/timestamp.h"

#include "exposition.h"
#include "labels.h"
#include "layout.h"
#include "registry.h"
#include "settings.h"
#include "sqlstate.h"

/* The control file's default_version, passed by the Makefile. */
#ifndef C5M_VERSION
#error "C5M_VERSION must be defined (the Makefile passes the control file's default_version)"
#endif




static const char *const flow_names[C5_NFLOWS] = {"sales", "stock", "refunds", "leads"};
static const char *const result_names[C5_NCONSUME] = {"success", "rejected", "failure", "missing"};
static const char *const refund_type_names[C5_NREFUNDTYPES] = {"full", "partial", "other"};
static const char *const mismatch_names[C5_NMISMATCH] = {"over_restock", "no_refund"};
static const char *const lead_result_names[C5_NLEADRESULTS] = {"created", "rejected", "failure", "throttled"};
static const char *const scope_names[C5_NSCOPES] = {"ip", "email", "global"};
static const char *const dyn_names[C5_NDYN] = {"sales_transition_total", "exceptions_total"};
static const char *const http_path_names[C5_NHTTPPATHS] = {"/metrics", "/healthz", "/readyz", "other"};
static const char *const http_code_names[C5_NHTTPCODES] = {"200", "401", "404", "405", "500", "503"};
static const char *const refusal_names[C5_NREFUSALS] = {"limit", "deadline", "evicted"};

const char *
c5m_flow_name(C5Flow flow)
{
	return flow_names[flow];
}

/* ---- the walk ---- */

static void
counter1(C5Emitter *e, const C5Snapshot *s, const char *name, const char *help,
		 int idx)
{
	e->family(e, name, "counter", help);
	e->sample(e, name, "", 0, NULL, NULL, s->ctr[idx], NULL);
}

/* A counter family with one label over a fixed domain. */
static void
counter_by(C5Emitter *e, const C5Snapshot *s, const char *name, const char *help,
		   const char *label, const char *const *values, int n, int base)
{
	int			i;

	e->family(e, name, "counter", help);
	for (i = 0; i < n; i++)
		e->sample(e, name, "", 1, &label, &values[i], s->ctr[base + i], NULL);
}

/* A counter family over a fixed label and `result`. */
static void
counter_by_result(C5Emitter *e, const C5Snapshot *s, const char *name,
				  const char *help, const char *label, const char *const *values,
				  int n, int base)
{
	const char *keys[2] = {label, "result"};
	const char *vals[2];
	int			i,
				r;

	e->family(e, name, "counter", help);
	for (i = 0; i < n; i++)
		for (r = 0; r < C5_NRESULTS; r++)
		{
			vals[0] = values[i];
			vals[1] = result_names[r];
			e->sample(e, name, "", 2, keys, vals, s->ctr[base + i * C5_NRESULTS + r], NULL);
		}
}

static void
gauge1(C5Emitter *e, const char *name, const char *help, const char *valtext)
{
	e->family(e, name, "gauge", help);
	e->sample(e, name, "", 0, NULL, NULL, 0, valtext);
}

static void
histogram(C5Emitter *e, const C5Snapshot *s, const char *name, int hist,
		  int nlabels, const char **keys, const char **vals)
{
	const double *bounds = hist == C5_RENDER_HIST ? c5m_render_bounds : s->bounds;
	int			nb = hist == C5_RENDER_HIST ? C5M_RENDER_BUCKETS : s->l.nbuckets;
	const char *k[2];
	const char *v[2];
	char		le[DOUBLE_SHORTEST_DECIMAL_LEN];
	char		sum[64];
	uint64		cum = 0;
	int			b;

	Assert(nlabels <= 1);
	if (nlabels == 1)
	{
		k[0] = keys[0];
		v[0] = vals[0];
	}
	k[nlabels] = "le";
	for (b = 0; b <= nb; b++)
	{
		cum += s->buckets[hist][b];
		if (b < nb)
			double_to_shortest_decimal_buf(bounds[b], le);
		else
			strlcpy(le, "+Inf", sizeof(le));
		v[nlabels] = le;
		e->sample(e, name, "_bucket", nlabels + 1, k, v, cum, NULL);
	}
	snprintf(sum, sizeof(sum), UINT64_FORMAT ".%06u",
			 s->sum_us[hist] / 1000000, (unsigned) (s->sum_us[hist] % 1000000));
	e->sample(e, name, "_sum", nlabels, k, v, 0, sum);
	e->sample(e, name, "_count", nlabels, k, v, cum, NULL);
}

void
c5m_walk(C5Snapshot *s, C5Emitter *e)
{
	const C5Layout *l = &s->l;
	const char *keys[3];
	const char *vals[3];
	char		buf[64];
	int			i,
				j,
				r;

	/* Flow 1: sales and stock */
	e->family(e, "sales_transition_total", "counter",
			  "Sale status changes, by the outcome of the (sub)transaction that made them.");
	keys[0] = "from_status";
	keys[1] = "to_status";
	keys[2] = "result";
	for (i = 0; i < l->nstatus; i++)
		for (j = 0; j < l->nstatus; j++)
		{
			int			pair = i * l->nstatus + j;

			if (!s->live[l->live_transitions + pair])
				continue;
			vals[0] = s->names[i];
			vals[1] = s->names[j];
			for (r = 0; r < C5_NRESULTS; r++)
			{
				vals[2] = result_names[r];
				e->sample(e, "sales_transition_total", "", 3, keys, vals,
						  s->ctr[l->transitions + pair * C5_NRESULTS + r], NULL);
			}
		}
	counter_by(e, s, "sales_paid_stock_consume_total",
			   "Sales reaching the paid status; missing: committed with no stock consumption for the sale.",
			   "result", result_names, C5_NCONSUME, l->paid_consume);
	e->family(e, "sales_paid_stock_consume_duration_seconds", "histogram",
			  "Committed paid sales with stock consumed: from the earlier of the transition and the first consumption to commit.");
	histogram(e, s, "sales_paid_stock_consume_duration_seconds", C5_HIST_CONSUME, 0, NULL, NULL);

	/* Flow 2: refunds */
	counter_by_result(e, s, "sale_refunds_total",
					  "Refund rows, by refund type and the outcome of their transaction.",
					  "type", refund_type_names, C5_NREFUNDTYPES, l->refunds);
	counter1(e, s, "sale_refund_over_refund_attempts_total",
			 "Refunds that exceeded the sale's refundable remainder, blocked or observed.",
			 l->over_refund);
	counter1(e, s, "sale_refund_idempotency_conflicts_total",
			 "Refunds whose idempotency key existed already: unique violations and ON CONFLICT DO NOTHING skips.",
			 l->idempotency);
	e->family(e, "sale_refund_rollback_total", "counter",
			  "Refund rows whose transaction or savepoint rolled back, by reason.");
	keys[0] = "reason";
	for (i = 0; i < c5m_reason_count(); i++)
	{
		vals[0] = c5m_reason_name(i);
		e->sample(e, "sale_refund_rollback_total", "", 1, keys, vals,
				  s->ctr[l->refund_rollback + i], NULL);
	}
	e->family(e, "sale_refund_duration_seconds", "histogram",
			  "Committed refunds: from the start of their transaction to commit.");
	histogram(e, s, "sale_refund_duration_seconds", C5_HIST_REFUND, 0, NULL, NULL);
	counter_by(e, s, "stock_refund_in_total",
			   "Refund-in stock movements, by the outcome of their transaction.",
			   "result", result_names, C5_NRESULTS, l->refund_in);
	counter_by(e, s, "stock_refund_in_mismatch_total",
			   "Sales whose refund-in movements, checked at commit, exceed consumption or have no refund.",
			   "type", mismatch_names, C5_NMISMATCH, l->mismatch);

	/* Flow 3: public leads */
	counter_by(e, s, "public_leads_requests_total",
			   "Lead inserts: created (committed), rejected, failure or throttled.",
			   "result", lead_result_names, C5_NLEADRESULTS, l->leads);
	counter_by(e, s, "public_leads_throttled_total",
			   "Leads blocked by the in-database throttle, by the scope that blocked them.",
			   "scope", scope_names, C5_NSCOPES, l->throttled);
	counter1(e, s, "public_leads_429_total",
			 "Throttled leads, each answered with HTTP 429 by the application.",
			 l->leads_429);

	/* Global */
	e->family(e, "exceptions_total", "counter",
			  "Errors that rolled back tracked work, by SQLSTATE condition and flow.");
	keys[0] = "exception_type";
	keys[1] = "location";
	for (i = 0; i < c5m_condition_count(); i++)
		for (j = 0; j < C5_NFLOWS; j++)
		{
			int			cell = i * C5_NFLOWS + j;

			if (!s->live[l->live_exceptions + cell])
				continue;
			vals[0] = c5m_condition_name(i);
			vals[1] = flow_names[j];
			e->sample(e, "exceptions_total", "", 2, keys, vals,
					  s->ctr[l->exceptions + cell], NULL);
		}
	counter_by_result(e, s, "flow_transactions_total",
					  "(Sub)transactions that touched a flow, by outcome.",
					  "flow", flow_names, C5_NFLOWS, l->flow_tx);
	e->family(e, "flow_transaction_duration_seconds", "histogram",
			  "Committed transactions that touched a flow: from transaction start to commit.");
	keys[0] = "flow";
	for (i = 0; i < C5_NFLOWS; i++)
	{
		vals[0] = flow_names[i];
		histogram(e, s, "flow_transaction_duration_seconds", C5_HIST_FLOW + i, 1, keys, vals);
	}

	/* Self-metrics */
	e->family(e, "c5metrics_build_info", "gauge",
			  "Version of c5metrics and of the PostgreSQL server it runs in.");
	keys[0] = "version";
	keys[1] = "pg_version";
	vals[0] = C5M_VERSION;
	vals[1] = PG_VERSION;
	e->sample(e, "c5metrics_build_info", "", 2, keys, vals, 1, NULL);
	gauge1(e, "c5metrics_in_recovery",
		   "1 while this server is in recovery (a standby); its triggers then count nothing.",
		   s->in_recovery ? "1" : "0");
	snprintf(buf, sizeof(buf), "%.6f",
			 (double) s->stats_reset / USECS_PER_SEC +
			 (double) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY);
	gauge1(e, "c5metrics_stats_reset_timestamp_seconds",
		   "When the counters last started from zero, as a Unix time.", buf);
	snprintf(buf, sizeof(buf), "%u", s->nseries);
	gauge1(e, "c5metrics_series", "Business series currently exposed.", buf);
	snprintf(buf, sizeof(buf), "%d", c5m_max_series);
	gauge1(e, "c5metrics_series_limit", "The series cap, c5metrics.max_series.", buf);
	counter1(e, s, "c5metrics_series_overflow_total",
			 "Observations folded into an \"other\" series because the series cap was reached.",
			 l->series_overflow);
	counter_by(e, s, "c5metrics_label_overflow_total",
			   "Label values replaced by \"other\": not allowed, unsafe, or beyond c5metrics.max_label_values.",
			   "metric", dyn_names, C5_NDYN, l->label_overflow);
	counter1(e, s, "c5metrics_events_lost_total",
			 "Business events that could not be recorded (out of memory, or a table no longer matching its attachment); should stay 0.",
			 l->events_lost);
	e->family(e, "c5metrics_tracked_tables", "gauge", "Tables attached to c5metrics, by flow.");
	keys[0] = "flow";
	for (i = 0; i < C5_NFLOWS; i++)
	{
		vals[0] = flow_names[i];
		e->sample(e, "c5metrics_tracked_tables", "", 1, keys, vals, s->tracked[i], NULL);
	}
	e->family(e, "c5metrics_attachment_problems", "gauge",
			  "Attached tables whose attachment is broken (c5metrics.tracked's problem column), by flow; should stay 0.");
	for (i = 0; i < C5_NFLOWS; i++)
	{
		vals[0] = flow_names[i];
		e->sample(e, "c5metrics_attachment_problems", "", 1, keys, vals, s->problems[i], NULL);
	}
	gauge1(e, "c5metrics_lead_throttle_enabled",
		   "1 when c5metrics.lead_throttle is on, as the reader's session sees it.",
		   c5m_lead_throttle ? "1" : "0");
	e->family(e, "c5metrics_http_requests_total", "counter",
			  "Requests answered by the HTTP worker, by path and status code.");
	keys[0] = "path";
	keys[1] = "code";
	for (i = 0; i < C5_NHTTPPATHS; i++)
		for (j = 0; j < C5_NHTTPCODES; j++)
		{
			vals[0] = http_path_names[i];
			vals[1] = http_code_names[j];
			e->sample(e, "c5metrics_http_requests_total", "", 2, keys, vals,
					  s->ctr[l->http_requests + i * C5_NHTTPCODES + j], NULL);
		}
	counter_by(e, s, "c5metrics_http_refused_connections_total",
			   "Connections the HTTP worker refused or cut: over a connection limit, past the request deadline, or evicted for a newcomer while waiting for a request.",
			   "reason", refusal_names, C5_NREFUSALS, l->http_refused);
	e->family(e, "c5metrics_http_render_duration_seconds", "histogram",
			  "Time the HTTP worker took to render /metrics, compression included.");
	histogram(e, s, "c5metrics_http_render_duration_seconds", C5_RENDER_HIST, 0, NULL, NULL);
	gauge1(e, "c5metrics_refund_guard_enabled",
		   "1 when c5metrics.refund_guard blocks over-refunds, as the reader's session sees it (0: only counts them).",
		   c5m_refund_guard ? "1" : "0");
}

/*
 * ---- Prometheus text format 0.0.4, and OpenMetrics 1.0.0 ----
 *
 * The two differ in little: OpenMetrics names a counter family without
 * its _total suffix, calls *_info gauges "info", escapes quotes in HELP,
 * writes bucket bounds as floats ("1.0", not "1") and ends with "# EOF".
 */

typedef struct TextEmitter
{
	C5Emitter	e;
	StringInfo	out;
	bool		openmetrics;
} TextEmitter;

static void
append_escaped(StringInfo out, const char *s, bool quotes)
{
	for (; *s; s++)
	{
		if (*s == '\\')
			appendStringInfoString(out, "\\\\");
		else if (*s == '\n')
			appendStringInfoString(out, "\\n");
		else if (*s == '"' && quotes)
			appendStringInfoString(out, "\\\"");
		else
			appendStringInfoChar(out, *s);
	}
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t		ls = strlen(s);
	size_t		lx = strlen(suffix);

	return ls > lx && strcmp(s + ls - lx, suffix) == 0;
}

static void
text_family(C5Emitter *e, const char *name, const char *type, const char *help)
{
	TextEmitter *te = (TextEmitter *) e;
	StringInfo	out = te->out;
	int			namelen = strlen(name);

	if (te->openmetrics && strcmp(type, "counter") == 0 && ends_with(name, "_total"))
		namelen -= strlen("_total");
	else if (te->openmetrics && strcmp(type, "gauge") == 0 && ends_with(name, "_info"))
	{
		namelen -= strlen("_info");
		type = "info";
	}
	appendStringInfo(out, "# HELP %.*s ", namelen, name);
	append_escaped(out, help, te->openmetrics);
	appendStringInfo(out, "\n# TYPE %.*s %s\n", namelen, name, type);
}

/* OpenMetrics' canonical form of a bucket bound: a float, "1.0" not "1". */
static void
append_le(StringInfo out, const char *le)
{
	appendStringInfoString(out, le);
	if (strcmp(le, "+Inf") != 0 && strpbrk(le, ".eE") == NULL)
		appendStringInfoString(out, ".0");
}

static void
text_sample(C5Emitter *e, const char *name, const char *suffix, int nlabels,
			const char *const *keys, const char *const *vals, uint64 value,
			const char *valtext)
{
	TextEmitter *te = (TextEmitter *) e;
	StringInfo	out = te->out;
	int			i;

	appendStringInfoString(out, name);
	appendStringInfoString(out, suffix);
	if (nlabels > 0)
	{
		appendStringInfoChar(out, '{');
		for (i = 0; i < nlabels; i++)
		{
			if (i > 0)
				appendStringInfoChar(out, ',');
			appendStringInfo(out, "%s=\"", keys[i]);
			if (te->openmetrics && strcmp(keys[i], "le") == 0)
				append_le(out, vals[i]);
			else
				append_escaped(out, vals[i], true);
			appendStringInfoChar(out, '"');
		}
		appendStringInfoChar(out, '}');
	}
	if (valtext != NULL)
		appendStringInfo(out, " %s\n", valtext);
	else
		appendStringInfo(out, " " UINT64_FORMAT "\n", value);
}

void
c5m_render_text(C5Snapshot *snap, StringInfo out)
{
	TextEmitter te;

	te.e.family = text_family;
	te.e.sample = text_sample;
	te.out = out;
	te.openmetrics = false;
	c5m_walk(snap, &te.e);
}

void
c5m_render_openmetrics(C5Snapshot *snap, StringInfo out)
{
	TextEmitter te;

	te.e.family = text_family;
	te.e.sample = text_sample;
	te.out = out;
	te.openmetrics = true;
	c5m_walk(snap, &te.e);
	appendStringInfoString(out, "# EOF\n");
}
