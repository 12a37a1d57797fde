/*-------------------------------------------------------------------------
 *
 * lookup.h
 *		Finding a table's rows by one column's value (lookup.c), for the
 *		over-refund guard and the refund-in check.
 *
 *-------------------------------------------------------------------------
 */
#ifndef C5M_LOOKUP_H
#define C5M_LOOKUP_H

#include "access/genam.h"
#include "access/skey.h"
#include "access/tableam.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "storage/lockdefs.h"
#include "utils/numeric.h"
#include "utils/relcache.h"
#include "utils/snapshot.h"

/*
 * How rows are found by one column's value: through a valid btree
 * index whose first key column it is, else by a sequential scan.
 */
typedef struct C5Lookup
{
	AttrNumber	attnum;
	Oid			indexid;		/* InvalidOid: scan the table */
	RegProcedure eqproc;		/* column = value */
	Oid			subtype;		/* the value's type */
	Oid			collation;
} C5Lookup;

/*
 * A scan of one table for the rows whose lookup column equals a value,
 * through the lookup's index or sequentially.  Rows come into `slot`.
 * The index is locked in `lockmode` (NoLock: the caller knows it is held)
 * and, as the executor does, to the end of the transaction.
 */
typedef struct C5Scan
{
	Relation	index;			/* NULL: a sequential scan */
	IndexScanDesc iscan;
	TableScanDesc hscan;
	TupleTableSlot *slot;
	ScanKeyData key;
} C5Scan;

extern Oid	c5m_btree_equality(Oid opfamily, Oid lefttype, Oid *valtype);
extern bool c5m_resolve_lookup(Relation rel, AttrNumber attnum, Oid valtype, C5Lookup *lk);
extern bool c5m_resolve_cast(Oid typid, FmgrInfo *cast);
extern Numeric c5m_as_numeric(FmgrInfo *cast, Datum d);
extern void c5m_lookup_begin(C5Scan *s, Relation rel, C5Lookup *lk, Datum value,
							 TupleTableSlot *slot, LOCKMODE lockmode, Snapshot snapshot);
extern void c5m_lookup_rescan(C5Scan *s, Datum value);
extern bool c5m_lookup_next(C5Scan *s);
extern void c5m_lookup_end(C5Scan *s);
extern LOCKMODE c5m_held_or_share(Oid indexid);

#endif							/* C5M_LOOKUP_H */
