/*-------------------------------------------------------------------------
 *
 * layout.h
 *		Where each series lives in the registry's counter array.
 *
 * Computed from the settings alone (layout.c), identical in every process.
 *
 *-------------------------------------------------------------------------
 */
#ifndef C5M_LAYOUT_H
#define C5M_LAYOUT_H

#include "catalog.h"

/*
 * Indexes into the flat counter array.  Computed once from the settings by
 * c5m_compute_layout(); identical in every process.
 */
typedef struct C5Layout
{
	int			nstatus;		/* status dictionary capacity */
	int			nbuckets;		/* finite histogram bounds in use */
	int			base[C5M_NSTORED];	/* each stored family's first counter, by
									 * C5_STORE_<id> (catalog.h) */
	int			ncounters;		/* length of the counter array */
	int			nlive;			/* length of the live-flag array */
	int			live_exceptions;	/* live flags: [condition][flow] */
	int			live_transitions;	/* live flags: [from][to] */
	int			fixed_series;	/* series that always exist */
} C5Layout;

extern void c5m_compute_layout(C5Layout *l, int nstatus, int nbuckets);
extern bool c5m_live_fixed(const C5Layout *l, int i);
extern bool c5m_layout_loadable(const C5Layout *old, const C5Layout *l);
extern void c5m_layout_migrate(const C5Layout *old, const uint64 *from,
							   const C5Layout *l, uint64 *to);
extern int	c5m_domain_size(C5Domain d);
extern PGDLLEXPORT const char *c5m_domain_value(C5Domain d, int i);
extern int	c5m_parse_buckets(const char *value, double *bounds, char **errmsg);

#endif							/* C5M_LAYOUT_H */
