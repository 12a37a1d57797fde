/*-------------------------------------------------------------------------
 *
 * layout.c
 *		Where each series lives in the registry's flat counter array.
 *
 * The layout is computed from the settings alone, so every process derives
 * the same one without talking to anyone (see registry.c).  It touches no
 * shared memory, which lets the fuzz target of the renderer (test/fuzz/)
 * build snapshots of any shape without linking the registry.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "layout.h"
#include "sqlstate.h"

void
c5m_compute_layout(C5Layout *l, int nstatus, int nbuckets)
{
	int			n = 0;
	int			ncond = c5m_condition_count();

	memset(l, 0, sizeof(*l));
	l->nstatus = nstatus;
	l->nbuckets = nbuckets;
	l->paid_consume = n;
	n += C5_NCONSUME;
	l->refunds = n;
	n += C5_NREFUNDTYPES * C5_NRESULTS;
	l->over_refund = n++;
	l->idempotency = n++;
	l->refund_rollback = n;
	n += c5m_reason_count();
	l->refund_in = n;
	n += C5_NRESULTS;
	l->mismatch = n;
	n += C5_NMISMATCH;
	l->leads = n;
	n += C5_NLEADRESULTS;
	l->throttled = n;
	n += C5_NSCOPES;
	l->leads_429 = n++;
	l->flow_tx = n;
	n += C5_NFLOWS * C5_NRESULTS;
	/* everything above is always exposed */
	l->fixed_series = n;
	l->exceptions = n;
	n += ncond * C5_NFLOWS;
	l->transitions = n;
	n += nstatus * nstatus * C5_NRESULTS;
	l->series_overflow = n++;
	l->label_overflow = n;
	n += C5_NDYN;
	l->events_lost = n++;
	l->http_requests = n;
	n += C5_NHTTPPATHS * C5_NHTTPCODES;
	l->http_refused = n;
	n += C5_NREFUSALS;
	l->ncounters = n;

	l->live_exceptions = 0;
	l->live_transitions = ncond * C5_NFLOWS;
	l->nlive = l->live_transitions + nstatus * nstatus;

	/*
	 * Always exposed besides the fixed block: exceptions_total{other} per
	 * flow, the (other, other) transition triple, and each histogram's
	 * buckets, +Inf, _sum and _count.
	 */
	l->fixed_series += C5_NFLOWS + C5_NRESULTS + C5_NHISTS * (nbuckets + 3);
}

/*
 * Parse c5metrics.duration_buckets.  Returns the number of bounds, or -1
 * with *errmsg set.
 */
int
c5m_parse_buckets(const char *value, double *bounds, char **errmsg)
{
	const char *p = value;
	int			n = 0;

	while (*p)
	{
		char	   *end;
		double		v;

		while (*p == ' ')
			p++;
		v = strtod(p, &end);
		if (end == p || isnan(v) || isinf(v) || v <= 0)
		{
			*errmsg = psprintf("\"%s\" is not a positive number of seconds.", p);
			return -1;
		}
		if (n >= C5M_MAX_BUCKETS)
		{
			*errmsg = psprintf("At most %d bounds are allowed.", C5M_MAX_BUCKETS);
			return -1;
		}
		if (n > 0 && v <= bounds[n - 1])
		{
			*errmsg = psprintf("Bounds must increase strictly, but %g follows %g.",
							   v, bounds[n - 1]);
			return -1;
		}
		bounds[n++] = v;
		p = end;
		while (*p == ' ')
			p++;
		if (*p == ',')
			p++;
		else if (*p != '\0')
		{
			*errmsg = psprintf("Unexpected \"%s\"; separate bounds with commas.", p);
			return -1;
		}
	}
	if (n == 0)
	{
		*errmsg = pstrdup("At least one bound is required.");
		return -1;
	}
	return n;
}

/* Is live flag `i` one of the "other" series that always exist? */
bool
c5m_live_fixed(const C5Layout *l, int i)
{
	if (i >= l->live_transitions)
		return i == l->live_transitions;
	return i - l->live_exceptions < C5_NFLOWS;
}
