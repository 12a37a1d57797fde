/*-------------------------------------------------------------------------
 *
 * refund_guard.c
 *		The opt-in over-refund guard.
 *
 * One of the two capture paths allowed to raise an error into the user's
 * transaction (the other: throttle.c), and only with its documented
 * SQLSTATEs: 23M01 when a refund would exceed what is left to refund on
 * its sale (C5M01 with c5metrics.legacy_sqlstates), 55M01 when the guard
 * cannot run and c5metrics.guard_unavailable = refuse.  See docs/DESIGN.md,
 * "SQLSTATEs".
 *
 * The over-refund guard locks the sale row (FOR NO KEY UPDATE) and then
 * sums the sale's refunds, so two sessions refunding the same sale are
 * serialized on the row lock and the second sees the first's refund.  Like
 * PostgreSQL's foreign-key checks, it reads the sales table with the
 * rights of the refunds table's owner, so the role inserting refunds needs
 * no privilege on the sales table; and its error shows the sale's
 * remainder only to a role that could read it.
 *
 * Anyone may create a trigger calling our trigger functions with
 * arguments of their own, so what the attach function checks is checked
 * again, from the catalogs, each time the guard runs: the sales table
 * must be a plain table that the refunds table's owner could read and
 * lock with plain SQL (readable.c).  What does not pass is counted as a
 * lost event, never raised.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/hash.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "parser/parse_coerce.h"
#include "storage/lock.h"
#include "storage/shmem.h"
#include "storage/sinval.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "capture.h"
#include "columns.h"
#include "refund_guard.h"
#include "lookup.h"
#include "readable.h"
#include "registry.h"
#include "settings.h"
#include "trigcache.h"

/*
 * What the guard resolved once per refunds trigger: how to find a sale's
 * refunds, a refund by its key and the sale itself, and how to read the
 * amounts as numeric.  Built at the first guarded insert of its trigger
 * cache entry, which is retired when either table's relcache entry is
 * invalidated (trigcache.c), so never rebuilt in place.
 */
typedef struct C5Guard
{
	bool		checked;		/* sales_ok is known ... */
	uint64		checked_at;		/* ... as of this SharedInvalidMessageCounter */
	bool		sales_ok;		/* the trigger's sales table passed guard_may_read */
	bool		valid;			/* built */
	bool		usable;			/* false: the guard cannot run, see build_guard */
	Oid			sales;
	C5Lookup	by_sale;		/* refunds.sale = $sale */
	C5Lookup	by_key;			/* refunds.key = $key (attnum 0: no key) */
	C5Lookup	sale;			/* sales.id = $sale */
	AttrNumber	total;			/* sales.total */
	FmgrInfo	amount_cast;	/* refunds.amount -> numeric (fn_oid 0: none) */
	FmgrInfo	total_cast;		/* sales.total -> numeric */
} C5Guard;

/*
 * May the guard of a refunds table owned by `owner` use `relid` as its
 * sales table, finding a sale by column `idname` and reading `totalname`?
 * Only where the owner could do the same with plain SQL, SELECT ... FOR NO
 * KEY UPDATE: a plain table, SELECT on both columns, UPDATE on the table
 * or on any of its columns (what PostgreSQL asks of a row lock), and no
 * row-level security applying to the owner -- the guard reads the sale
 * whatever the policies say, so it refuses a table they apply to rather
 * than lock and reveal rows the owner cannot see.
 */
static bool
sales_usable(Oid relid, Oid owner, const char *idname, const char *totalname)
{
	AttrNumber	cols[2];
	bool		missing = false;

	if (!c5m_plain_table(relid))
		return false;
	cols[0] = get_attnum(relid, idname);
	cols[1] = get_attnum(relid, totalname);
	if (!c5m_role_reads(relid, owner, 2, cols))
		return false;
	if (pg_class_aclcheck_ext(relid, owner, ACL_UPDATE, &missing) == ACLCHECK_OK)
		return true;
	return !missing &&
		pg_attribute_aclcheck_all(relid, owner, ACL_UPDATE, ACLMASK_ANY) == ACLCHECK_OK;
}

/*
 * May a refund's sale column of type `saletype` find its sale by a sales
 * table's id column of type `idtype`?  Each is taken as its base type.
 * The id type needs a default btree operator class; a sale type other than
 * the id type must be of the same operator family, which is where
 * PostgreSQL defines equality across types (the integer widths; text and
 * varchar).  So char(n) and text are not comparable (the one ignores
 * trailing blanks, the other not), nor citext and text (the one ignores
 * case), nor two enums or two array types (polymorphic classes).  The
 * equality is found as c5m_resolve_lookup() finds it without an index, so an
 * attachment that passes this (track_refunds asks it through
 * c5metrics._comparable()) has a guard that can run.
 */
bool
c5m_guard_comparable(Oid saletype, Oid idtype)
{
	Oid			idclass;
	Oid			saleclass;
	Oid			family;

	if (!SearchSysCacheExists1(TYPEOID, ObjectIdGetDatum(saletype)) ||
		!SearchSysCacheExists1(TYPEOID, ObjectIdGetDatum(idtype)))
		return false;
	saletype = getBaseType(saletype);
	idtype = getBaseType(idtype);
	idclass = GetDefaultOpClass(idtype, BTREE_AM_OID);
	if (!OidIsValid(idclass))
		return false;
	family = get_opclass_family(idclass);
	if (saletype != idtype)
	{
		saleclass = GetDefaultOpClass(saletype, BTREE_AM_OID);
		if (!OidIsValid(saleclass) || get_opclass_family(saleclass) != family ||
			get_typtype(get_opclass_input_type(idclass)) == TYPTYPE_PSEUDO ||
			get_typtype(get_opclass_input_type(saleclass)) == TYPTYPE_PSEUDO)
			return false;
	}
	return OidIsValid(c5m_btree_equality(family, get_opclass_input_type(idclass), &saletype));
}

/*
 * Resolve the guard of refunds trigger `t` against its sales table, open
 * and locked by the caller (who checked the owner's rights on it).
 * Unusable when a column is gone, the sale ids of the two tables cannot be
 * compared, or an amount has no cast to numeric: the guard must never
 * raise anything but its own error.  A key column whose type has no btree
 * equality (json, say) cannot have a unique index either, so retries are
 * not told apart by key there: the guard works without it.
 */
static void
build_guard(C5Trig *t, TriggerData *td, Relation sales, C5Guard *g)
{
	char	  **a = td->tg_trigger->tgargs;
	C5Col		id,
				total;

	g->valid = true;
	g->usable = false;
	c5m_resolve_col(sales, a[5], &id);
	c5m_resolve_col(sales, a[6], &total);
	if (id.attnum <= 0 || total.attnum <= 0)
		return;
	g->total = total.attnum;
	if (!c5m_resolve_lookup(td->tg_relation, t->c[0].attnum, t->c[0].typid, &g->by_sale) ||
		!c5m_resolve_lookup(sales, id.attnum, t->c[0].typid, &g->sale) ||
		!c5m_resolve_cast(t->c[1].typid, &g->amount_cast) ||
		!c5m_resolve_cast(total.typid, &g->total_cast))
		return;
	if (t->c[3].attnum <= 0 ||
		!c5m_resolve_lookup(td->tg_relation, t->c[3].attnum, t->c[3].typid, &g->by_key))
		g->by_key.attnum = 0;
	g->usable = true;
}

/*
 * May the role inserting a refund see the remainder of its sale: could it
 * read the sale's id and total and the refunds' sale and amount columns,
 * of which the remainder is made, with plain SQL?
 */
static bool
remainder_visible(C5Trig *t, TriggerData *td, C5Guard *g)
{
	Oid			user = GetUserId();
	AttrNumber	sales_cols[2];
	AttrNumber	refund_cols[2];

	sales_cols[0] = g->sale.attnum;
	sales_cols[1] = g->total;
	refund_cols[0] = t->c[0].attnum;
	refund_cols[1] = t->c[1].attnum;
	return c5m_role_reads(g->sales, user, 2, sales_cols) &&
		c5m_role_reads(RelationGetRelid(td->tg_relation), user, 2, refund_cols);
}

/*
 * Lock the newest version of the sale row FOR NO KEY UPDATE, following
 * its update chain at any isolation level (READ COMMITTED's SELECT ... FOR
 * NO KEY UPDATE behaviour) and waiting for another refund of the sale to
 * finish, and read its total from the locked version.  NULL when there is
 * no such sale, or no total.  A row lock takes no lock-table entry, so a
 * statement may refund any number of sales; and it does not block
 * foreign-key checks (FOR KEY SHARE).
 */
static Numeric
lock_sale(Relation sales, C5Guard *g, Datum sale, TupleTableSlot *slot)
{
	C5Scan		scan;
	ItemPointerData tid;
	bool		found;
	TM_FailureData tmfd;
	Numeric		total = NULL;

	c5m_lookup_begin(&scan, sales, &g->sale, sale, slot, RowShareLock, SnapshotSelf);
	found = c5m_lookup_next(&scan);
	if (found)
		tid = slot->tts_tid;
	c5m_lookup_end(&scan);
	if (found &&
		table_tuple_lock(sales, &tid, SnapshotSelf, slot, GetCurrentCommandId(false),
						 LockTupleNoKeyExclusive, LockWaitBlock,
						 TUPLE_LOCK_FLAG_FIND_LAST_VERSION, &tmfd) == TM_Ok)
	{
		bool		isnull;
		Datum		d = slot_getattr(slot, g->total, &isnull);

		if (!isnull)
			total = DatumGetNumericCopy(NumericGetDatum(c5m_as_numeric(&g->total_cast, d)));
	}
	ExecClearTuple(slot);
	return total;
}

/*
 * Why guard_check_sales() found no usable sales table, for the error.
 * The names come from the trigger's arguments, which anyone may read in
 * pg_trigger; whether the owner may read the table is no secret either.
 */
static const char *
sales_problem(TriggerData *td)
{
	char	  **a = td->tg_trigger->tgargs;
	Oid			salesid;

	if (td->tg_trigger->tgnargs != 7 || !c5m_table_ref(a[4], &salesid))
		return "The trigger's arguments are not those of c5metrics.track_refunds().";
	if (!OidIsValid(salesid))
		return psprintf("Its sales table %s does not exist.", a[4]);
	if (td->tg_relation->rd_rel->relkind != RELKIND_RELATION)
		return "The refunds table is not a plain table.";
	if (get_attnum(salesid, a[5]) == InvalidAttrNumber ||
		get_attnum(salesid, a[6]) == InvalidAttrNumber)
		return psprintf("Column \"%s\" or \"%s\" of its sales table %s does not exist.",
						a[5], a[6], a[4]);
	if (!c5m_plain_table(salesid))
		return psprintf("Its sales table %s is not a plain table.", a[4]);
	return psprintf("The refunds table's owner may not read and lock its sales table %s.", a[4]);
}

/*
 * Decide, from the catalogs as they are now, whether the guard of trigger
 * `t` may read and lock its sales table (sales_usable), and remember the
 * answer with the invalidation counter it holds for.
 */
static void
guard_check_sales(C5Trig *t, TriggerData *td, C5Guard *g)
{
	char	  **a = td->tg_trigger->tgargs;
	Oid			salesid = InvalidOid;

	g->sales_ok = td->tg_trigger->tgnargs == 7 && c5m_table_ref(a[4], &salesid) &&
		OidIsValid(salesid) &&
		td->tg_relation->rd_rel->relkind == RELKIND_RELATION &&
		sales_usable(salesid, t->owner, a[5], a[6]);
	g->sales = salesid;
	g->checked_at = SharedInvalidMessageCounter;
	g->checked = true;
}

/*
 * The guard of refunds trigger `t` cannot run: its sales table no longer
 * resolves (dropped, or a name from a dump that names nothing here), is
 * not a table its owner could read and lock, or a column it was attached
 * with is gone or no longer compares.  A guard never stands aside
 * silently: with c5metrics.guard_unavailable = refuse (the default) the
 * refund fails, naming the table and what to run; with `count` it goes
 * through, counted in c5metrics_events_lost_total, with a WARNING once
 * per backend.  With the guard off, refunds are only counted anyway.
 */
void
c5m_refund_guard_unavailable(C5Trig *t, TriggerData *td, C5Level *lv, const char *why)
{
	static bool warned = false;

	c5m_count_lost(1);
	c5m_tracked_note(MyDatabaseId, t->relid, C5_FLOW_REFUNDS, true);
	if (!c5m_refund_guard)
		return;
	if (c5m_guard_unavailable == C5M_GUARD_COUNT)
	{
		if (!warned)
			ereport(WARNING,
					(errcode(C5M_ERRCODE_GUARD_UNAVAILABLE),
					 errmsg("over-refund guard of table \"%s.%s\" cannot run; refunds are let through unguarded",
							t->nspname, t->relname),
					 errdetail("%s", why),
					 errhint("SELECT * FROM c5metrics.tracked WHERE problem IS NOT NULL; shows what to fix. This warning is given once per session.")));
		warned = true;
		return;
	}
	c5m_note_guard(lv, C5M_ERRCODE_GUARD_UNAVAILABLE);
	ereport(ERROR,
			(errcode(C5M_ERRCODE_GUARD_UNAVAILABLE),
			 errmsg("over-refund guard of table \"%s.%s\" cannot run", t->nspname, t->relname),
			 errdetail("%s", why),
			 errhint("SELECT * FROM c5metrics.tracked WHERE problem IS NOT NULL; shows what to fix; then attach the table again with c5metrics.track_refunds(). To let refunds through unguarded meanwhile, set c5metrics.guard_unavailable to 'count'."),
			 errtable(td->tg_relation)));
}

/*
 * refunds, BEFORE INSERT: block (or, with the guard off, only count) a
 * refund that exceeds its sale's remainder.
 *
 * Two refunds of one sale are serialized on the sale row, locked FOR NO
 * KEY UPDATE to the end of the transaction (lock_sale).  Holding it, the
 * guard reads with SnapshotSelf: every committed row and every row of its
 * own transaction, earlier rows of the same statement included.  Another
 * transaction's refund of this sale cannot be in progress meanwhile -- it
 * would hold the lock we hold -- so whatever committed before the lock was
 * granted is seen, at every isolation level, without taking a snapshot.
 * (A refund inserted with the triggers disabled is outside the guard in
 * any case.)  It reads through the tables' indexes (or scans them), with
 * no query: the privileges a query would need are the refunds table
 * owner's, checked from the catalogs on every call (sales_usable), as at
 * attach.
 */
void
c5m_refund_guard_check(C5Trig *t, TriggerData *td, C5Level *lv)
{
	Datum		sale,
				amount,
				keyval = (Datum) 0;
	bool		isnull,
				keynull = true;
	Relation	sales;
	C5Guard    *g;
	C5Scan		scan;
	TupleTableSlot *slot;
	Numeric		total;
	Numeric		sum;
	Numeric		remainder;
	bool		over;
	bool		visible;

	sale = slot_getattr(td->tg_trigslot, t->c[0].attnum, &isnull);
	if (isnull)
		return;
	amount = slot_getattr(td->tg_trigslot, t->c[1].attnum, &isnull);
	if (isnull)
		return;
	if (t->c[3].attnum > 0)
		keyval = slot_getattr(td->tg_trigslot, t->c[3].attnum, &keynull);

	/*
	 * The locks a SELECT ... FOR NO KEY UPDATE of the sale would take, if
	 * the owner could take them: asked before locking, and again once the
	 * lock is held if catalog changes arrived meanwhile, as
	 * RangeVarGetRelidExtended() does.  A sales table gone, or not (or no
	 * longer) one the owner could lock, leaves nothing to guard with.  The
	 * answer depends on the catalogs alone, so it is kept until this
	 * backend sees an invalidation: a refund in a quiet catalog asks no
	 * cache.
	 */
	if (t->flowdata == NULL)
		t->flowdata = MemoryContextAllocZero(TopMemoryContext, sizeof(C5Guard));
	g = t->flowdata;
	if (!g->checked || g->checked_at != SharedInvalidMessageCounter)
		guard_check_sales(t, td, g);
	if (!g->sales_ok)
	{
		c5m_refund_guard_unavailable(t, td, lv, sales_problem(td));
		return;
	}
	sales = try_table_open(g->sales, RowShareLock);
	if (sales == NULL)
	{
		c5m_refund_guard_unavailable(t, td, lv, sales_problem(td));
		return;
	}
	if (g->checked_at != SharedInvalidMessageCounter)
		guard_check_sales(t, td, g);
	if (!g->sales_ok)
	{
		table_close(sales, RowShareLock);
		c5m_refund_guard_unavailable(t, td, lv, sales_problem(td));
		return;
	}
	if (!g->valid)
		build_guard(t, td, sales, g);
	if (!g->usable)
	{
		table_close(sales, NoLock);
		c5m_refund_guard_unavailable(t, td, lv,
									 "The sale columns of the two tables no longer compare, or an amount or total no longer reads as a number.");
		return;
	}

	slot = table_slot_create(sales, NULL);
	total = lock_sale(sales, g, sale, slot);
	ExecDropSingleTupleTableSlot(slot);
	table_close(sales, NoLock);
	if (total == NULL)
		return;

	sum = int64_to_numeric(0);
	slot = table_slot_create(td->tg_relation, NULL);
	c5m_lookup_begin(&scan, td->tg_relation, &g->by_sale, sale, slot, c5m_held_or_share(g->by_sale.indexid), SnapshotSelf);
	while (c5m_lookup_next(&scan))
	{
		Datum		d = slot_getattr(slot, t->c[1].attnum, &isnull);

		if (!isnull)
			sum = DatumGetNumeric(DirectFunctionCall2(numeric_add, NumericGetDatum(sum),
													  NumericGetDatum(c5m_as_numeric(&g->amount_cast, d))));
	}
	c5m_lookup_end(&scan);

	remainder = DatumGetNumeric(DirectFunctionCall2(numeric_sub, NumericGetDatum(total),
													NumericGetDatum(sum)));
	over = DatumGetInt32(DirectFunctionCall2(numeric_cmp,
											 NumericGetDatum(c5m_as_numeric(&g->amount_cast, amount)),
											 NumericGetDatum(remainder))) > 0;

	/* a retry with a key already used is a conflict, not an over-refund */
	if (over && !keynull && g->by_key.attnum > 0)
	{
		c5m_lookup_begin(&scan, td->tg_relation, &g->by_key, keyval, slot, c5m_held_or_share(g->by_key.indexid), SnapshotSelf);
		over = !c5m_lookup_next(&scan);
		c5m_lookup_end(&scan);
	}
	ExecDropSingleTupleTableSlot(slot);
	if (!over)
		return;

	c5m_count(c5m_shared->layout.base[C5_STORE_OVER_REFUND], 1);
	if (!c5m_refund_guard)
		return;
	c5m_note_guard(lv, C5M_ERRCODE_OVER_REFUND);
	visible = remainder_visible(t, td, g);
	ereport(ERROR,
			(errcode(c5m_legacy_sqlstates ? C5M_ERRCODE_LEGACY_OVER_REFUND :
					 C5M_ERRCODE_OVER_REFUND),
			 errmsg("refund exceeds the refundable remainder of its sale"),
			 visible ?
			 errdetail("The sale has %s left to refund.",
					   DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(remainder)))) :
			 errdetail("The remainder is shown only to roles that may read the sale and its refunds."),
			 errhint("Refund at most the remainder. To only count such refunds, set c5metrics.refund_guard to off."),
			 errtable(td->tg_relation)));
}
