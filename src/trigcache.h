/*-------------------------------------------------------------------------
 *
 * trigcache.h
 *		The triggers' arguments, resolved once per backend and kept.
 *
 * See trigcache.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef C5M_TRIGCACHE_H
#define C5M_TRIGCACHE_H

#include "commands/trigger.h"
#include "fmgr.h"
#include "utils/palloc.h"
#include "utils/relcache.h"

#include "capture.h"
#include "catalog.h"
#include "columns.h"

#define C5M_MAX_ALLOWED 64		/* allowed statuses per sales table */

/*
 * A trigger's arguments, resolved against its table by its flow; what the
 * trigger function uses on every row.  Never changed once resolved.
 */
typedef struct C5Trig
{
	Oid			tgoid;			/* hash key: the trigger's OID */
	bool		valid;			/* false after a relcache invalidation */
	bool		ok;				/* arguments match the table */
	Oid			relid;
	Oid			owner;			/* table owner: guards query as this role */
	char		nspname[NAMEDATALEN];
	char		relname[NAMEDATALEN];
	C5Col		c[4];			/* columns, in trigger-argument order */
	C5Value		v[2];			/* configured values */
	int			nallowed;
	C5Value		allowed[C5M_MAX_ALLOWED];
	Oid			other_rel;		/* another table it reads, whose
								 * invalidation retires it too */
	void	   *flowdata;		/* the flow's own: one chunk, pfree'd with it */
} C5Trig;

/*
 * A flow's reading of its trigger's arguments `tg` against table `rel`
 * into `t` (values allocated in `cxt`); false when they do not match.
 */
typedef bool (*C5TrigResolve) (C5Trig *t, Relation rel, Trigger *tg, MemoryContext cxt);

extern void c5m_trigger_check(FunctionCallInfo fcinfo, const char *name, bool before,
							  int event);
extern C5Trig *c5m_trig_get(TriggerData *td, C5Flow flow, C5TrigResolve resolve);
extern C5Trig *c5m_insert_trigger_begin(FunctionCallInfo fcinfo, const char *name,
										bool before, C5Flow flow,
										C5TrigResolve resolve, C5Level **lv);
extern void c5m_trig_cache_sweep(void);
extern void c5m_trigcache_invalidate(Datum arg, Oid relid);

#endif							/* C5M_TRIGCACHE_H */
