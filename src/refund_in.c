/*-------------------------------------------------------------------------
 *
 * refund_in.c
 *		The refund-in consistency check, run before commit.
 *
 * The stock trigger notes each sale that got a refund-in movement
 * (capture.c); before the transaction commits, each such sale is checked:
 * more put back than was consumed (over_restock), or put back with no
 * refund (no_refund).  The check never fails the commit: its errors are
 * counted as lost events.
 *
 * The check reads the two tables directly (until issue 16 it ran one SPI
 * query per sale), as the over-refund guard does (lookup.c): the sale's
 * movements through an index on the stock table's sale column, its refund
 * through one on the refunds table's, with one MVCC snapshot and one
 * subtransaction for all the sales of the commit, and what it needs per
 * stock trigger resolved once per backend and kept until a relcache
 * invalidation of either table.  Its cost, and why it stops at two index
 * probes per sale: docs/DESIGN.md, "The refund-in check".  The
 * rights are the stock table owner's, checked from the catalogs as a query
 * would need them.  Where row-level security applies to that owner, its
 * policies must filter the rows: that case keeps the query of 1.4, run
 * sale by sale as the owner (check_by_query).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_trigger.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/rls.h"
#include "utils/acl.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "columns.h"
#include "lookup.h"
#include "readable.h"
#include "refund_in.h"
#include "registry.h"
#include "lookup.h"

static char *
qualified_name(Oid relid)
{
	char	   *rel = get_rel_name(relid);

	if (rel == NULL)
		return NULL;
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), rel);
}

/*
 * In the PG_CATCH of a check run in an internal subtransaction: drop the
 * error and roll the subtransaction back, returning to `context` and
 * `owner` -- unless the error is a cancel or a shutdown, which must win
 * and is thrown on.
 */
static void
drop_check_error(MemoryContext context, ResourceOwner owner)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(context);
	edata = CopyErrorData();
	if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) == ERRCODE_OPERATOR_INTERVENTION)
		PG_RE_THROW();
	FlushErrorState();
	RollbackAndReleaseCurrentSubTransaction();
	MemoryContextSwitchTo(context);
	CurrentResourceOwner = owner;
	FreeErrorData(edata);
}

/*
 * Check one sale's refund-in movements, inserted through stock trigger
 * `tgoid`, before its transaction commits (capture.c runs this for every
 * such sale at PRE_COMMIT, when the whole transaction is visible): more put
 * back than was consumed (over_restock), or put back with no refund
 * (no_refund).  It may not fail the commit, so it works in a subtransaction
 * whose errors are counted as lost events and dropped -- except a cancel or
 * shutdown, which must win.  A trigger dropped since is skipped; one whose
 * tables are not plain tables (plain_table) is counted as lost.
 *
 * The query runs as the stock table's owner inside the session of whoever
 * committed, perhaps a superuser.  Like REFRESH MATERIALIZED VIEW, it runs
 * as a security-restricted operation (no temporary objects, no SET ROLE,
 * no cursor kept open) and every setting changed meanwhile is reverted, so
 * that nothing the owner's code may do outlives it in that session.  Both
 * tables being plain, that code can only be a row-level security policy
 * or a type's function.
 */
static void
check_by_query(Oid tgoid, Datum sale, Oid saletype, bool *over, bool *norefund)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	volatile bool o = false;
	volatile bool n = false;
	volatile bool lost = false;

	*over = *norefund = false;
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);
	PG_TRY();
	{
		Relation	tgrel;
		ScanKeyData key;
		SysScanDesc scan;
		HeapTuple	tup;
		char	   *a[7];
		int			nargs = 0;
		Oid			tgrelid = InvalidOid;
		Oid			owner;
		int			nestlevel;
		Oid			save_userid;
		int			save_sec;
		Oid			refundsid = InvalidOid;
		char	   *stock = NULL;
		char	   *refunds = NULL;
		StringInfoData q;
		bool		isnull;

		/* the trigger's arguments say which columns and values to check */
		tgrel = table_open(TriggerRelationId, AccessShareLock);
		ScanKeyInit(&key, Anum_pg_trigger_oid, BTEqualStrategyNumber, F_OIDEQ,
					ObjectIdGetDatum(tgoid));
		scan = systable_beginscan(tgrel, TriggerOidIndexId, true, NULL, 1, &key);
		if (HeapTupleIsValid(tup = systable_getnext(scan)))
		{
			Form_pg_trigger tg = (Form_pg_trigger) GETSTRUCT(tup);
			bytea	   *args = DatumGetByteaPP(fastgetattr(tup, Anum_pg_trigger_tgargs,
														   RelationGetDescr(tgrel), &isnull));
			char	   *p = VARDATA_ANY(args);

			tgrelid = tg->tgrelid;
			for (nargs = 0; !isnull && nargs < Min(tg->tgnargs, lengthof(a)); nargs++)
			{
				a[nargs] = pstrdup(p);
				p += strlen(p) + 1;
			}
		}
		systable_endscan(scan);
		table_close(tgrel, AccessShareLock);

		/*
		 * The refunds table is "" (1.3: "0") when there is none.  When it
		 * names no table (dropped since, or an OID from a 1.3 dump),
		 * over_restock is still checked, and the no_refund half that could
		 * not be is a lost event (and a problem in c5metrics.tracked).
		 */
		if (OidIsValid(tgrelid) && nargs == lengthof(a) && c5m_plain_table(tgrelid) &&
			c5m_table_ref(a[5], &refundsid) &&
			(!OidIsValid(refundsid) || c5m_plain_table(refundsid)))
		{
			stock = qualified_name(tgrelid);
			if (OidIsValid(refundsid))
				refunds = qualified_name(refundsid);
			else
				lost = a[5][0] != '\0' && strcmp(a[5], "0") != 0;
		}
		lost = lost || (OidIsValid(tgrelid) && stock == NULL);
		if (stock != NULL)
		{
			initStringInfo(&q);
			/*
			 * Every operator and function is qualified, and search_path is
			 * pinned below: this runs as the table's owner, and the session
			 * that inserted the rows must not get its own operators called.
			 * The zeros are untyped literals, taken as the sum's type
			 * whatever numeric type the quantity has (an integer 0 would
			 * not convert to money).  The movement type is compared as the
			 * trigger compares it, as text byte for byte (and PostgreSQL
			 * has no equality between a domain over an enum and a literal).
			 */
			appendStringInfo(&q,
							 "SELECT (SELECT coalesce(pg_catalog.sum(m.%s) FILTER (WHERE CAST(m.%s AS pg_catalog.text) OPERATOR(pg_catalog.=) %s COLLATE pg_catalog.\"C\"), '0') "
							 "OPERATOR(pg_catalog.<) "
							 "coalesce(pg_catalog.sum(m.%s) FILTER (WHERE CAST(m.%s AS pg_catalog.text) OPERATOR(pg_catalog.=) %s COLLATE pg_catalog.\"C\"), '0') "
							 "FROM %s m WHERE m.%s OPERATOR(pg_catalog.=) $1)",
							 quote_identifier(a[4]), quote_identifier(a[0]), quote_literal_cstr(a[1]),
							 quote_identifier(a[4]), quote_identifier(a[0]), quote_literal_cstr(a[2]),
							 stock, quote_identifier(a[3]));
			if (refunds != NULL)
				appendStringInfo(&q, ", NOT EXISTS (SELECT 1 FROM %s r WHERE r.%s OPERATOR(pg_catalog.=) $1)",
								 refunds, quote_identifier(a[6]));

			/*
			 * Like foreign-key checks, as the stock table's owner; like
			 * REFRESH MATERIALIZED VIEW, restricted, and every setting
			 * reverted below.
			 */
			owner = c5m_rel_owner(tgrelid);
			GetUserIdAndSecContext(&save_userid, &save_sec);
			SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
								   SECURITY_RESTRICTED_OPERATION | SECURITY_NOFORCE_RLS);
			nestlevel = NewGUCNestLevel();
			(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET,
									 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
			/*
			 * At commit there is no snapshot left: take one, after a
			 * command-counter increment so that the last statement's rows
			 * are seen.
			 */
			CommandCounterIncrement();
			PushActiveSnapshot(GetTransactionSnapshot());
			SPI_connect();
			if (SPI_execute_with_args(q.data, 1, &saletype, &sale, NULL, true, 1) == SPI_OK_SELECT &&
				SPI_processed == 1)
			{
				o = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) && !isnull;
				if (refunds != NULL)
					n = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)) && !isnull;
			}
			SPI_finish();
			PopActiveSnapshot();
			AtEOXact_GUC(false, nestlevel);
			SetUserIdAndSecContext(save_userid, save_sec);
		}

		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		drop_check_error(oldcontext, oldowner);
		c5m_count_lost(1);
		return;
	}
	PG_END_TRY();
	if (lost)
		c5m_count_lost(1);
	*over = o;
	*norefund = n;
}

/*
 * The deferred constraint trigger of version 1.0, still attached in a
 * database whose extension has not been updated (ALTER EXTENSION c5metrics
 * UPDATE drops it).  The stock trigger now notes refund-in movements and
 * they are checked before commit, so this trigger has nothing left to do.
 */
PG_FUNCTION_INFO_V1(c5metrics_refund_in_check);

Datum
c5metrics_refund_in_check(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"c5metrics_refund_in_check\" must be fired as a trigger")));
	return PointerGetDatum(NULL);
}

/* ---- the direct check ---- */

/* How the quantities of the stock table are summed, as sum() would. */
typedef enum QtyKind
{
	QTY_INT,					/* int2, int4, int8, money: exact in int64 */
	QTY_FLOAT,					/* float4, float8: sum() is a float8 */
	QTY_NUMERIC					/* numeric, or cast to it */
} QtyKind;

/*
 * What the check of one stock trigger needs, resolved once per backend
 * (refund_in_config) and kept until a relcache invalidation of the stock
 * or refunds table.  An invalidated entry is rebuilt in place at its next
 * use, never while a check uses it: an invalidation in the middle only
 * marks it.
 */
typedef struct RefundInConfig
{
	Oid			tgoid;			/* hash key */
	bool		valid;
	bool		found;			/* the trigger exists, with 7 arguments */
	bool		usable;			/* columns and lookups resolved */
	Oid			stock;
	Oid			refunds;		/* InvalidOid: none, or not resolved */
	bool		refunds_lost;	/* a refunds table named, not resolved */
	Oid			owner;			/* the stock table's */
	C5Col		type,
				sale,
				qty;
	C5Value		consume,
				refund_in;
	C5Lookup	by_sale;		/* stock.sale = $sale */
	C5Lookup	r_by_sale;		/* refunds.sale = $sale */
	QtyKind		qtykind;
	FmgrInfo	qtycast;		/* qty -> numeric (fn_oid 0: none) */
	uint64		rights_at;		/* SharedInvalidMessageCounter of... */
	int			rights;			/* ...this verdict: RIGHTS_* */
	MemoryContext cxt;			/* the values and the cast's cache */
} RefundInConfig;

#define RIGHTS_UNKNOWN	0
#define RIGHTS_DIRECT	1		/* read directly */
#define RIGHTS_QUERY	2		/* row-level security: by the query */
#define RIGHTS_NONE		3		/* the owner may not read: lost */

static HTAB *configs = NULL;

/* Relcache callback (c5metrics.c): mark the entries of relation `relid`. */
void
c5m_refund_in_invalidate(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	RefundInConfig *c;

	if (configs == NULL)
		return;
	hash_seq_init(&status, configs);
	while ((c = hash_seq_search(&status)) != NULL)
		if (relid == InvalidOid || c->stock == relid || c->refunds == relid)
			c->valid = false;
}

/*
 * Resolve stock trigger `tgoid` of table `stock` (open) into `c`: its
 * arguments from the relcache's copy of the trigger, not a catalog scan.
 */
static void
build_config(RefundInConfig *c, Relation stock)
{
	TriggerDesc *td = stock->trigdesc;
	Trigger    *tg = NULL;
	char	  **a;
	int			i;

	if (c->cxt == NULL)
		c->cxt = AllocSetContextCreate(TopMemoryContext, "c5metrics refund-in check",
									   ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(c->cxt);
	c->valid = true;
	c->found = c->usable = c->refunds_lost = false;
	c->stock = RelationGetRelid(stock);
	c->refunds = InvalidOid;
	c->owner = stock->rd_rel->relowner;
	c->rights = RIGHTS_UNKNOWN;
	for (i = 0; td != NULL && i < td->numtriggers; i++)
		if (td->triggers[i].tgoid == c->tgoid)
			tg = &td->triggers[i];
	if (tg == NULL || tg->tgnargs != 7)
		return;					/* dropped since, or not ours to read */
	c->found = true;
	a = tg->tgargs;
	if (!c5m_table_ref(a[5], &c->refunds))
		return;
	c->refunds_lost = !OidIsValid(c->refunds) && a[5][0] != '\0' && strcmp(a[5], "0") != 0;
	c5m_resolve_col(stock, a[0], &c->type);
	c5m_resolve_col(stock, a[3], &c->sale);
	c5m_resolve_col(stock, a[4], &c->qty);
	if (c->type.attnum <= 0 || c->sale.attnum <= 0 || c->qty.attnum <= 0)
		return;
	c5m_resolve_value(&c->type, a[1], &c->consume, c->cxt);
	c5m_resolve_value(&c->type, a[2], &c->refund_in, c->cxt);
	if (!c5m_resolve_lookup(stock, c->sale.attnum, c->sale.typid, &c->by_sale))
		return;
	switch (getBaseType(c->qty.typid))
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case CASHOID:
			c->qtykind = QTY_INT;
			break;
		case FLOAT4OID:
		case FLOAT8OID:
			c->qtykind = QTY_FLOAT;
			break;
		default:
			c->qtykind = QTY_NUMERIC;
			memset(&c->qtycast, 0, sizeof(c->qtycast));
			if (!c5m_resolve_cast(c->qty.typid, &c->qtycast))
				return;
			if (OidIsValid(c->qtycast.fn_oid))
				fmgr_info_cxt(c->qtycast.fn_oid, &c->qtycast, c->cxt);
			break;
	}
	if (OidIsValid(c->refunds))
	{
		Relation	r = try_table_open(c->refunds, AccessShareLock);

		if (r == NULL)
		{
			c->refunds = InvalidOid;
			c->refunds_lost = true;
		}
		else
		{
			AttrNumber	att = get_attnum(c->refunds, a[6]);
			bool		ok = att > 0 && r->rd_rel->relkind == RELKIND_RELATION &&
				c5m_resolve_lookup(r, att, c->sale.typid, &c->r_by_sale);

			table_close(r, AccessShareLock);
			if (!ok)
				return;
		}
	}
	c->usable = true;
}

/* The entry of stock trigger `tgoid`, resolved against `stock` if needed. */
static RefundInConfig *
refund_in_config(Oid tgoid, Relation stock)
{
	RefundInConfig *c;
	bool		found;

	if (configs == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(RefundInConfig);
		configs = hash_create("c5metrics refund-in checks", 16, &ctl, HASH_ELEM | HASH_BLOBS);
	}
	c = hash_search(configs, &tgoid, HASH_ENTER, &found);
	if (!found)
	{
		c->cxt = NULL;
		c->valid = false;
	}
	if (!c->valid || c->stock != RelationGetRelid(stock))
		build_config(c, stock);
	return c;
}

/*
 * May the stock table's owner read what the check reads, as a query
 * would need: the type, sale and quantity columns of the stock table and
 * the sale column of the refunds table; and do row-level security
 * policies apply?  Both tables must be plain tables (c5m_plain_table).
 * From the catalogs alone, so kept until the next invalidation.
 */
static int
rights(RefundInConfig *c)
{
	AttrNumber	cols[3];

	if (c->rights != RIGHTS_UNKNOWN && c->rights_at == SharedInvalidMessageCounter)
		return c->rights;
	c->rights_at = SharedInvalidMessageCounter;
	cols[0] = c->type.attnum;
	cols[1] = c->sale.attnum;
	cols[2] = c->qty.attnum;
	if (!c5m_plain_table(c->stock) ||
		(OidIsValid(c->refunds) && !c5m_plain_table(c->refunds)))
		c->rights = RIGHTS_NONE;
	else if (check_enable_rls(c->stock, c->owner, true) == RLS_ENABLED ||
			 (OidIsValid(c->refunds) &&
			  check_enable_rls(c->refunds, c->owner, true) == RLS_ENABLED))
		c->rights = RIGHTS_QUERY;
	else if (!c5m_role_reads(c->stock, c->owner, 3, cols) ||
			 (OidIsValid(c->refunds) &&
			  !c5m_role_reads(c->refunds, c->owner, 1, &c->r_by_sale.attnum)))
		c->rights = RIGHTS_NONE;
	else
		c->rights = RIGHTS_DIRECT;
	return c->rights;
}

/* A running sum of quantities, as sum() keeps it for the column's type. */
typedef struct QtySum
{
	int64		i;
	double		f;
	Numeric		n;
	bool		overflow;		/* i no longer holds it: n does */
} QtySum;

static void
qty_add(RefundInConfig *c, QtySum *sum, Datum d)
{
	int64		v;

	switch (c->qtykind)
	{
		case QTY_INT:
			switch (c->qty.typlen)
			{
				case 2:
					v = DatumGetInt16(d);
					break;
				case 4:
					v = DatumGetInt32(d);
					break;
				default:
					v = DatumGetInt64(d);	/* int8, money */
					break;
			}
			if (!sum->overflow && !pg_add_s64_overflow(sum->i, v, &sum->i))
				return;
			if (!sum->overflow)
			{
				sum->overflow = true;
				sum->n = int64_to_numeric(sum->i);
			}
			sum->n = DatumGetNumeric(DirectFunctionCall2(numeric_add, NumericGetDatum(sum->n),
														 NumericGetDatum(int64_to_numeric(v))));
			return;
		case QTY_FLOAT:
			sum->f += c->qty.typlen == 4 ? (double) DatumGetFloat4(d) : DatumGetFloat8(d);
			return;
		case QTY_NUMERIC:
			sum->n = DatumGetNumeric(DirectFunctionCall2(numeric_add, NumericGetDatum(sum->n),
														 NumericGetDatum(c5m_as_numeric(&c->qtycast, d))));
			return;
	}
}

/* a < b */
static bool
qty_less(RefundInConfig *c, QtySum *a, QtySum *b)
{
	if (c->qtykind == QTY_FLOAT)
		return a->f < b->f;
	if (c->qtykind == QTY_INT && !a->overflow && !b->overflow)
		return a->i < b->i;
	if (c->qtykind == QTY_INT)
	{
		if (!a->overflow)
			a->n = int64_to_numeric(a->i);
		if (!b->overflow)
			b->n = int64_to_numeric(b->i);
	}
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a->n),
											 NumericGetDatum(b->n))) < 0;
}

/*
 * Check the sales of one stock trigger, `checks[0..n)`, which all have
 * its tgoid, against tables open here; add the mismatches found.
 */
static void
check_direct(RefundInConfig *c, Relation stock, const C5Check *checks, int n,
			 Snapshot snapshot, int64 *over, int64 *norefund)
{
	Relation	refunds = NULL;
	TupleTableSlot *sslot = table_slot_create(stock, NULL);
	TupleTableSlot *rslot = NULL;
	static MemoryContext rowcxt = NULL;
	MemoryContext old;
	C5Scan		sscan,
				rscan;
	int			i;

	/* per sale: the numerics of its sums (kept for the backend, reset) */
	if (rowcxt == NULL)
		rowcxt = AllocSetContextCreate(TopMemoryContext, "c5metrics refund-in rows",
									   ALLOCSET_SMALL_SIZES);
	if (OidIsValid(c->refunds))
	{
		refunds = table_open(c->refunds, AccessShareLock);
		rslot = table_slot_create(refunds, NULL);
	}
	/* one scan of each table for all the sales, rescanned per sale */
	c5m_lookup_begin(&sscan, stock, &c->by_sale, checks[0].sale, sslot,
					 c5m_held_or_share(c->by_sale.indexid), snapshot);
	if (refunds != NULL)
		c5m_lookup_begin(&rscan, refunds, &c->r_by_sale, checks[0].sale, rslot,
						 AccessShareLock, snapshot);
	for (i = 0; i < n; i++)
	{
		QtySum		consumed = {0},
					restocked = {0};

		CHECK_FOR_INTERRUPTS();
		if (c->qtykind == QTY_NUMERIC)
		{
			old = MemoryContextSwitchTo(rowcxt);
			consumed.n = restocked.n = int64_to_numeric(0);
			MemoryContextSwitchTo(old);
		}
		if (i > 0)
			c5m_lookup_rescan(&sscan, checks[i].sale);
		while (c5m_lookup_next(&sscan))
		{
			bool		isnull;
			Datum		type = slot_getattr(sslot, c->type.attnum, &isnull);
			QtySum	   *sum;
			Datum		qty;

			if (c5m_value_is(&c->type, type, isnull, &c->consume))
				sum = &consumed;
			else if (c5m_value_is(&c->type, type, isnull, &c->refund_in))
				sum = &restocked;
			else
				continue;
			qty = slot_getattr(sslot, c->qty.attnum, &isnull);
			if (!isnull)
			{
				/*
				 * Only the sums in rowcxt: the scans allocate as they go
				 * (a btree scan its list of dead items), which must live
				 * until they end.
				 */
				old = MemoryContextSwitchTo(rowcxt);
				qty_add(c, sum, qty);
				MemoryContextSwitchTo(old);
			}
		}
		old = MemoryContextSwitchTo(rowcxt);
		if (qty_less(c, &consumed, &restocked))
			(*over)++;
		MemoryContextSwitchTo(old);
		if (refunds != NULL)
		{
			if (i > 0)
				c5m_lookup_rescan(&rscan, checks[i].sale);
			if (!c5m_lookup_next(&rscan))
				(*norefund)++;
		}
		MemoryContextReset(rowcxt);
	}
	c5m_lookup_end(&sscan);
	if (refunds != NULL)
		c5m_lookup_end(&rscan);
	ExecDropSingleTupleTableSlot(sslot);
	if (refunds != NULL)
	{
		ExecDropSingleTupleTableSlot(rslot);
		table_close(refunds, NoLock);
	}
}

/*
 * Check every sale that got refund-in movements in the committing
 * transaction: `checks[0..n)`, grouped by stock trigger as they come.
 * Runs at PRE_COMMIT (capture.c), when the whole transaction is visible,
 * and may not fail the commit: the direct checks run in one
 * subtransaction, whose error is counted as a lost event per sale and
 * dropped -- except a cancel or shutdown, which must win.  A trigger
 * dropped since is skipped; a check that cannot run (tables that are not
 * plain tables, rights the owner lacks, columns gone) is lost; a refunds
 * table named but not resolved leaves over_restock checked and the
 * no_refund half lost.
 */
void
c5m_refund_in_check(const C5Check *checks, int n, int64 *over, int64 *norefund)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	int			i;
	volatile int64 o = 0,
				r = 0,
				lost = 0;
	volatile int nquery = 0;
	int		   *query = palloc(sizeof(int) * Max(n, 1));

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);
	PG_TRY();
	{
		Snapshot	snapshot;
		int64		mo = 0,
					mr = 0;

		/* the last statement's rows too */
		CommandCounterIncrement();
		snapshot = RegisterSnapshot(GetTransactionSnapshot());
		for (i = 0; i < n;)
		{
			int			j = i;
			Relation	stock;
			RefundInConfig *c;

			while (j < n && checks[j].tgoid == checks[i].tgoid)
				j++;
			stock = try_table_open(checks[i].relid, AccessShareLock);
			if (stock == NULL)
			{
				i = j;			/* the table was dropped: nothing to check */
				continue;
			}
			c = refund_in_config(checks[i].tgoid, stock);
			if (!c->found)
				;				/* the trigger was dropped since */
			else if (!c->usable)
				lost += j - i;
			else
			{
				switch (rights(c))
				{
					case RIGHTS_DIRECT:
						check_direct(c, stock, checks + i, j - i, snapshot, &mo, &mr);
						if (c->refunds_lost)
							lost += j - i;
						break;
					case RIGHTS_QUERY:
						while (i < j)
							query[nquery++] = i++;
						break;
					default:
						lost += j - i;
						break;
				}
			}
			table_close(stock, NoLock);
			i = j;
		}
		UnregisterSnapshot(snapshot);
		o = mo;
		r = mr;
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		drop_check_error(oldcontext, oldowner);
		/* nothing of this commit's checks is known */
		o = r = nquery = 0;
		lost = n;
	}
	PG_END_TRY();

	/* row-level security applies: the query of 1.4, sale by sale */
	for (i = 0; i < nquery; i++)
	{
		bool		so,
					sn;
		const C5Check *ck = &checks[query[i]];

		check_by_query(ck->tgoid, ck->sale, ck->saletype, &so, &sn);
		o += so;
		r += sn;
	}
	pfree(query);
	if (lost > 0)
		c5m_count(c5m_shared->layout.base[C5_STORE_EVENTS_LOST], lost);
	*over += o;
	*norefund += r;
}
