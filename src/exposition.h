/*-------------------------------------------------------------------------
 *
 * exposition.h
 *		The one walk over the registry that every reader uses.
 *
 * See exposition.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef C5M_EXPOSITION_H
#define C5M_EXPOSITION_H

#include "lib/stringinfo.h"
#include "registry.h"

/*
 * Receives the walk over the registry: family() once per metric family,
 * then sample() for each of its series.  A sample's value is `valtext`
 * when not NULL (gauges, histogram sums), else the integer `value`.
 */
typedef struct C5Emitter C5Emitter;
struct C5Emitter
{
	void		(*family) (C5Emitter *e, const char *name, const char *type,
						   const char *help);
	void		(*sample) (C5Emitter *e, const char *name, const char *suffix,
						   int nlabels, const char *const *keys,
						   const char *const *vals, uint64 value,
						   const char *valtext);
};

extern const char *c5m_flow_name(C5Flow flow);
extern void c5m_walk(C5Snapshot *snap, C5Emitter *e);
extern PGDLLEXPORT void c5m_render_text(C5Snapshot *snap, StringInfo out);
extern PGDLLEXPORT void c5m_render_openmetrics(C5Snapshot *snap, StringInfo out);

#endif							/* C5M_EXPOSITION_H */
