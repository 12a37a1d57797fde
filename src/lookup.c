/*-------------------------------------------------------------------------
 *
 * lookup.c
 *		Finding a table's rows by one column's value, without a query.
 *
 * The over-refund guard (refund_guard.c) and the refund-in check (refund_in.c)
 * read tables directly: through a valid btree index whose first key column
 * is the column looked up, else by a sequential scan, with the equality
 * PostgreSQL would use for `column = value`.  No SQL is parsed or planned,
 * no code of the table's owner can run (both are plain tables; a type's
 * equality and numeric-cast functions are the only functions called), and
 * whoever calls checks the rights a query would need first.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/nbtree.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/index.h"
#include "catalog/pg_am.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "parser/parse_coerce.h"
#include "storage/lmgr.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "compat.h"
#include "lookup.h"

/*
 * The equality operator of btree family `opfamily` between its type
 * `lefttype` and a value of type *valtype; failing that, for a value
 * binary-coercible to `lefttype` (a varchar compared as text), its own
 * equality, *valtype becoming `lefttype`.
 */
Oid
c5m_btree_equality(Oid opfamily, Oid lefttype, Oid *valtype)
{
	Oid			opr = get_opfamily_member(opfamily, lefttype, *valtype,
										  BTEqualStrategyNumber);

	if (!OidIsValid(opr) && IsBinaryCoercible(*valtype, lefttype))
	{
		opr = get_opfamily_member(opfamily, lefttype, lefttype, BTEqualStrategyNumber);
		if (OidIsValid(opr))
			*valtype = lefttype;
	}
	return opr;
}

/*
 * Resolve a lookup of `rel`'s column `attnum` by a value of type `valtype`
 * (a domain's value is looked up as its base type's).
 */
bool
c5m_resolve_lookup(Relation rel, AttrNumber attnum, Oid valtype, C5Lookup *lk)
{
	Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), attnum - 1);
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	Oid			opclass;
	Oid			opr;

	valtype = getBaseType(valtype);
	lk->attnum = attnum;
	lk->indexid = InvalidOid;
	foreach(lc, indexes)
	{
		Relation	idx = index_open(lfirst_oid(lc), AccessShareLock);
		Form_pg_index ix = idx->rd_index;

		lk->subtype = valtype;
		opr = InvalidOid;
		if (idx->rd_rel->relam == BTREE_AM_OID && ix->indisvalid &&
			ix->indkey.values[0] == attnum &&
			heap_attisnull(idx->rd_indextuple, Anum_pg_index_indpred, NULL))
			opr = c5m_btree_equality(idx->rd_opfamily[0], idx->rd_opcintype[0], &lk->subtype);
		if (OidIsValid(opr))
		{
			lk->indexid = RelationGetRelid(idx);
			lk->eqproc = get_opcode(opr);
			lk->collation = idx->rd_indcollation[0];
		}
		index_close(idx, AccessShareLock);
		if (OidIsValid(lk->indexid))
			break;
	}
	list_free(indexes);
	if (OidIsValid(lk->indexid))
		return true;

	/* no index: the column type's default btree equality */
	opclass = GetDefaultOpClass(att->atttypid, BTREE_AM_OID);
	if (!OidIsValid(opclass))
		return false;
	lk->subtype = valtype;
	opr = c5m_btree_equality(get_opclass_family(opclass), get_opclass_input_type(opclass), &lk->subtype);
	if (!OidIsValid(opr))
		return false;
	lk->eqproc = get_opcode(opr);
	lk->collation = att->attcollation;
	return true;
}

/* A function reading a value of `typid` as numeric; fn_oid 0 if it is one. */
bool
c5m_resolve_cast(Oid typid, FmgrInfo *cast)
{
	Oid			funcid = InvalidOid;
	CoercionPathType path;

	memset(cast, 0, sizeof(*cast));
	path = find_coercion_pathway(NUMERICOID, getBaseType(typid), COERCION_EXPLICIT, &funcid);
	if (path == COERCION_PATH_RELABELTYPE)
		return true;
	if (path != COERCION_PATH_FUNC || !OidIsValid(funcid))
		return false;
	fmgr_info_cxt(funcid, cast, TopMemoryContext);
	return true;
}

Numeric
c5m_as_numeric(FmgrInfo *cast, Datum d)
{
	if (OidIsValid(cast->fn_oid))
		d = FunctionCall1(cast, d);
	return DatumGetNumeric(d);
}


void
c5m_lookup_begin(C5Scan *s, Relation rel, C5Lookup *lk, Datum value, TupleTableSlot *slot,
				 LOCKMODE lockmode, Snapshot snapshot)
{
	s->slot = slot;
	if (OidIsValid(lk->indexid))
	{
		s->index = index_open(lk->indexid, lockmode);
		ScanKeyEntryInitialize(&s->key, 0, 1, BTEqualStrategyNumber, lk->subtype,
							   lk->collation, lk->eqproc, value);
		s->iscan = c5m_index_beginscan(rel, s->index, snapshot, 1, 0);
		index_rescan(s->iscan, &s->key, 1, NULL, 0);
	}
	else
	{
		s->index = NULL;
		ScanKeyEntryInitialize(&s->key, 0, lk->attnum, BTEqualStrategyNumber, lk->subtype,
							   lk->collation, lk->eqproc, value);
		s->hscan = table_beginscan(rel, snapshot, 1, &s->key);
	}
}

/* The same scan again, for another value: a batch reuses one scan. */
void
c5m_lookup_rescan(C5Scan *s, Datum value)
{
	ExecClearTuple(s->slot);
	s->key.sk_argument = value;
	if (s->index != NULL)
		index_rescan(s->iscan, &s->key, 1, NULL, 0);
	else
		table_rescan(s->hscan, &s->key);
}

bool
c5m_lookup_next(C5Scan *s)
{
	if (s->index != NULL)
		return index_getnext_slot(s->iscan, ForwardScanDirection, s->slot);
	return table_scan_getnextslot(s->hscan, ForwardScanDirection, s->slot);
}

void
c5m_lookup_end(C5Scan *s)
{
	if (s->index != NULL)
	{
		index_endscan(s->iscan);
		index_close(s->index, NoLock);
	}
	else
		table_endscan(s->hscan);
	ExecClearTuple(s->slot);
}

/*
 * How to lock an index for reading: not at all when this transaction's
 * INSERT holds it already, as the executor's RowExclusiveLock on the
 * indexes of its target table (the refunds table of the guard, the stock
 * table of the refund-in check); taking another mode would add a lock to
 * release at commit for nothing.
 */
LOCKMODE
c5m_held_or_share(Oid indexid)
{
	LOCKTAG		tag;

	if (!OidIsValid(indexid))
		return NoLock;			/* a sequential scan: the table is held */
	SET_LOCKTAG_RELATION(tag, MyDatabaseId, indexid);
	return c5m_lock_held_by_me(&tag, RowExclusiveLock) ? NoLock : AccessShareLock;
}

