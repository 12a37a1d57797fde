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

/*
 * How many values label domain `d` has, and its value `i`: the catalog's,
 * or for the rollback reasons sqlstate.c's.
 */
int
c5m_domain_size(C5Domain d)
{
	int			n;

	return c5m_domain_names(d, &n) != NULL ? n : c5m_reason_count();
}

const char *
c5m_domain_value(C5Domain d, int i)
{
	int			n;
	const char *const *names = c5m_domain_names(d, &n);

	return names != NULL ? names[i] : c5m_reason_name(i);
}

/* How many counters family `f` takes (its series, live or not). */
static int
family_size(const C5FamilyInfo *f, int nstatus)
{
	switch (f->shape)
	{
		case C5_SHAPE_ONE:
			return 1;
		case C5_SHAPE_BY:
			return c5m_domain_size(f->domain);
		case C5_SHAPE_BY_RESULT:
			return c5m_domain_size(f->domain) * C5_NRESULTS;
		case C5_SHAPE_TRANSITIONS:
			return nstatus * nstatus * C5_NRESULTS;
		case C5_SHAPE_EXCEPTIONS:
			return c5m_condition_count() * C5_NFLOWS;
		case C5_SHAPE_HTTP_REQUESTS:
			return C5_NHTTPPATHS * C5_NHTTPCODES;
		default:
			return 0;			/* nothing in the counter array */
	}
}

/*
 * Give every stored family of the catalog its counters, in the order of
 * their store numbers, which never change (catalog.h).
 */
void
c5m_compute_layout(C5Layout *l, int nstatus, int nbuckets)
{
	const C5FamilyInfo *by_store[C5M_NSTORED] = {0};
	int			n = 0;
	int			i;

	memset(l, 0, sizeof(*l));
	l->nstatus = nstatus;
	l->nbuckets = nbuckets;
	for (i = 0; i < C5_NFAMILIES; i++)
		if (c5m_families[i].store >= 0)
		{
			Assert(c5m_families[i].store < C5M_NSTORED &&
				   by_store[c5m_families[i].store] == NULL);
			by_store[c5m_families[i].store] = &c5m_families[i];
		}
	for (i = 0; i < C5M_NSTORED; i++)
	{
		const C5FamilyInfo *f = by_store[i];
		int			size = family_size(f, nstatus);

		l->base[i] = n;
		n += size;
		/* business families over fixed domains are always exposed */
		if (strcmp(f->flow, "self") != 0 && f->shape != C5_SHAPE_TRANSITIONS &&
			f->shape != C5_SHAPE_EXCEPTIONS)
			l->fixed_series += size;
	}
	l->ncounters = n;

	l->live_exceptions = 0;
	l->live_transitions = c5m_condition_count() * C5_NFLOWS;
	l->nlive = l->live_transitions + nstatus * nstatus;

	/*
	 * Always exposed besides: exceptions_total{other} per flow, the
	 * (other, other) transition triple, and each histogram's buckets,
	 * +Inf, _sum and _count.
	 */
	l->fixed_series += C5_NFLOWS + C5_NRESULTS + C5_NHISTS * (nbuckets + 3);
}

/* How many counters stored family `store` takes in layout `l`. */
static int
stored_size(const C5Layout *l, int store)
{
	return (store + 1 < C5M_NSTORED ? l->base[store + 1] : l->ncounters) - l->base[store];
}

/*
 * Can counters saved under layout `old` -- read from a file, so checked
 * here, not trusted -- be loaded into layout `l`?  When they are the
 * same, and when they differ only in the listener's routes: a newer
 * version added routes (C5M_HTTP_ROUTES grows at its end, before
 * "other"), and c5m_layout_migrate moves each old path's counters.
 */
bool
c5m_layout_loadable(const C5Layout *old, const C5Layout *l)
{
	int			i,
				paths;

	if (memcmp(old, l, sizeof(C5Layout)) == 0)
		return true;
	if (old->nstatus != l->nstatus || old->nbuckets != l->nbuckets ||
		old->nlive != l->nlive || old->live_exceptions != l->live_exceptions ||
		old->live_transitions != l->live_transitions ||
		old->fixed_series != l->fixed_series || old->base[0] != 0)
		return false;
	for (i = 0; i < C5M_NSTORED; i++)
	{
		int			size = stored_size(old, i);

		if (i != C5_STORE_HTTP_REQUESTS)
		{
			if (size != stored_size(l, i))
				return false;
			continue;
		}
		paths = size / C5_NHTTPCODES;
		/* at least /metrics and "other"; never more routes than now */
		if (size % C5_NHTTPCODES != 0 || paths < 2 || paths > C5_NHTTPPATHS)
			return false;
	}
	return true;
}

/*
 * Move counters saved under `old` into `to`, laid out as `l`; the two
 * passed c5m_layout_loadable.  A route the old version did not have
 * starts at zero.
 */
void
c5m_layout_migrate(const C5Layout *old, const uint64 *from, const C5Layout *l, uint64 *to)
{
	int			i,
				p;

	memset(to, 0, l->ncounters * sizeof(uint64));
	for (i = 0; i < C5M_NSTORED; i++)
	{
		int			size = stored_size(old, i);
		int			paths = size / C5_NHTTPCODES;

		if (i != C5_STORE_HTTP_REQUESTS || size == stored_size(l, i))
		{
			memcpy(to + l->base[i], from + old->base[i], size * sizeof(uint64));
			continue;
		}
		/* the old routes keep their place; "other" is last in both */
		for (p = 0; p < paths; p++)
			memcpy(to + l->base[i] + (p < paths - 1 ? p : C5_NHTTPPATHS - 1) * C5_NHTTPCODES,
				   from + old->base[i] + p * C5_NHTTPCODES,
				   C5_NHTTPCODES * sizeof(uint64));
	}
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
