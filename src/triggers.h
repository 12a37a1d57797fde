/*-------------------------------------------------------------------------
 *
 * triggers.h
 *		A trigger's arguments resolved against its table.
 *
 * See triggers.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef C5M_TRIGGERS_H
#define C5M_TRIGGERS_H

#include "utils/relcache.h"
#include "catalog.h"
#include "capture.h"
#include "columns.h"

#define C5M_MAX_ALLOWED 64		/* allowed statuses per sales table */

typedef struct C5Guard C5Guard;	/* the over-refund guard's lookups */

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
	C5Guard    *guard;		/* refunds with a sales table (guards.c) */
} C5Trig;

struct QueryDesc;

extern void c5m_trig_cache_sweep(void);
extern void c5m_sales_executor_start(struct QueryDesc *queryDesc, int eflags);
extern void c5m_triggers_forget_functions(Datum arg, int cacheid, uint32 hashvalue);

#endif							/* C5M_TRIGGERS_H */
