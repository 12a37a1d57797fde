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

#include "catalog.h"
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




const char *
c5m_flow_name(C5Flow flow)
{
	return c5m_domain_value(C5_DOM_FLOW, flow);
}

/* ---- the walk ---- */

/* Label names of a family: its catalog keys split at the commas. */
typedef struct Keys
{
	const char *k[3];
	char		buf[64];
} Keys;

static void
split_keys(const char *keys, Keys *out)
{
	char	   *p;
	int			n = 0;

	strlcpy(out->buf, keys, sizeof(out->buf));
	out->k[0] = out->k[1] = out->k[2] = NULL;
	for (p = out->buf; *p && n < 3;)
	{
		out->k[n++] = p;
		p = strchr(p, ',');
		if (p == NULL)
			break;
		*p++ = '\0';
	}
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

/* The value of a one-value gauge family, as text, at the snapshot's moment. */
static const char *
gauge_value(C5Family f, const C5Snapshot *s, char *buf, size_t len)
{
	switch (f)
	{
		case C5_FAM_IN_RECOVERY:
			return s->in_recovery ? "1" : "0";
		case C5_FAM_STATS_RESET:
			snprintf(buf, len, "%.6f",
					 (double) s->stats_reset / USECS_PER_SEC +
					 (double) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY);
			return buf;
		case C5_FAM_SERIES:
			snprintf(buf, len, "%u", s->nseries);
			return buf;
		case C5_FAM_SERIES_LIMIT:
			snprintf(buf, len, "%d", c5m_max_series);
			return buf;
		case C5_FAM_LEAD_THROTTLE_ENABLED:
			return c5m_lead_throttle ? "1" : "0";
		case C5_FAM_REFUND_GUARD_ENABLED:
			return c5m_refund_guard ? "1" : "0";
		default:
			/* a C5_SHAPE_GAUGE row of the catalog without its value here */
			Assert(false);
			return "NaN";
	}
}

/* The value of gauge family `f` for value `i` of its domain, as text. */
static const char *
gauge_by_value(C5Family f, int i, char *buf)
{
	switch (f)
	{
		case C5_FAM_SLO_OBJECTIVE:
			double_to_shortest_decimal_buf(c5m_objective_ratio(i), buf);
			return buf;
		case C5_FAM_LEAD_THROTTLE_LIMIT:
			double_to_shortest_decimal_buf(c5m_lead_rate(i), buf);
			return buf;
		default:
			/* a C5_SHAPE_GAUGE_BY row of the catalog without its values here */
			Assert(false);
			return "NaN";
	}
}

/* The series of family `f`, whose family line is out. */
static void
walk_family(C5Family f, C5Snapshot *s, C5Emitter *e)
{
	const C5FamilyInfo *fam = &c5m_families[f];
	const C5Layout *l = &s->l;
	const char *name = fam->name;
	int			base = fam->store >= 0 ? l->base[fam->store] : 0;
	Keys		keys;
	const char *vals[3];
	char		buf[64];
	int			i,
				j,
				r;

	split_keys(fam->keys, &keys);
	switch (fam->shape)
	{
		case C5_SHAPE_ONE:
			e->sample(e, name, "", 0, NULL, NULL, s->ctr[base], NULL);
			break;
		case C5_SHAPE_BY:
			for (i = 0; i < c5m_domain_size(fam->domain); i++)
			{
				vals[0] = c5m_domain_value(fam->domain, i);
				e->sample(e, name, "", 1, keys.k, vals, s->ctr[base + i], NULL);
			}
			break;
		case C5_SHAPE_BY_RESULT:
			for (i = 0; i < c5m_domain_size(fam->domain); i++)
				for (r = 0; r < C5_NRESULTS; r++)
				{
					vals[0] = c5m_domain_value(fam->domain, i);
					vals[1] = c5m_domain_value(C5_DOM_RESULT, r);
					e->sample(e, name, "", 2, keys.k, vals,
							  s->ctr[base + i * C5_NRESULTS + r], NULL);
				}
			break;
		case C5_SHAPE_TRANSITIONS:
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
						vals[2] = c5m_domain_value(C5_DOM_RESULT, r);
						e->sample(e, name, "", 3, keys.k, vals,
								  s->ctr[base + pair * C5_NRESULTS + r], NULL);
					}
				}
			break;
		case C5_SHAPE_EXCEPTIONS:
			for (i = 0; i < c5m_condition_count(); i++)
				for (j = 0; j < C5_NFLOWS; j++)
				{
					int			cell = i * C5_NFLOWS + j;

					if (!s->live[l->live_exceptions + cell])
						continue;
					vals[0] = c5m_condition_name(i);
					vals[1] = c5m_flow_name(j);
					e->sample(e, name, "", 2, keys.k, vals, s->ctr[base + cell], NULL);
				}
			break;
		case C5_SHAPE_HTTP_REQUESTS:
			for (i = 0; i < C5_NHTTPPATHS; i++)
				for (j = 0; j < C5_NHTTPCODES; j++)
				{
					vals[0] = c5m_domain_value(C5_DOM_HTTP_PATH, i);
					vals[1] = c5m_domain_value(C5_DOM_HTTP_CODE, j);
					e->sample(e, name, "", 2, keys.k, vals,
							  s->ctr[base + i * C5_NHTTPCODES + j], NULL);
				}
			break;
		case C5_SHAPE_HISTOGRAM:
			histogram(e, s, name, fam->domain, 0, NULL, NULL);
			break;
		case C5_SHAPE_HISTOGRAM_BY_FLOW:
			for (i = 0; i < C5_NFLOWS; i++)
			{
				vals[0] = c5m_flow_name(i);
				histogram(e, s, name, fam->domain + i, 1, keys.k, vals);
			}
			break;
		case C5_SHAPE_BUILD_INFO:
			vals[0] = C5M_VERSION;
			vals[1] = PG_VERSION;
			e->sample(e, name, "", 2, keys.k, vals, 1, NULL);
			break;
		case C5_SHAPE_GAUGE:
			e->sample(e, name, "", 0, NULL, NULL, 0, gauge_value(f, s, buf, sizeof(buf)));
			break;
		case C5_SHAPE_GAUGE_BY_FLOW:
			for (i = 0; i < C5_NFLOWS; i++)
			{
				vals[0] = c5m_flow_name(i);
				e->sample(e, name, "", 1, keys.k, vals,
						  f == C5_FAM_TRACKED_TABLES ? s->tracked[i] : s->problems[i],
						  NULL);
			}
			break;
		case C5_SHAPE_GAUGE_BY:
			for (i = 0; i < c5m_domain_size(fam->domain); i++)
			{
				vals[0] = c5m_domain_value(fam->domain, i);
				e->sample(e, name, "", 1, keys.k, vals, 0, gauge_by_value(f, i, buf));
			}
			break;
	}
}

/* Every family of the catalog, in its order, and every exposed series. */
void
c5m_walk(C5Snapshot *s, C5Emitter *e)
{
	int			f;

	for (f = 0; f < C5_NFAMILIES; f++)
	{
		e->family(e, c5m_families[f].name, c5m_families[f].type, c5m_families[f].help);
		walk_family(f, s, e);
	}
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
