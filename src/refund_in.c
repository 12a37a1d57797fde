/*-------------------------------------------------------------------------
 *
 * refund_in.c
 *		The refund-in consistency check, run before commit.
 *
 * The stock trigger notes each sale that got a refund-in movement
 * (capture.c); before the transaction commits, each such sale is checked
 * with one query, run as the stock table's owner: more put back than was
 * consumed (over_restock), or put back with no refund (no_refund).  The
 * check never fails the commit: its errors are counted as lost events.
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
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "c5metrics.h"

static char *
qualified_name(Oid relid)
{
	char	   *rel = get_rel_name(relid);

	if (rel == NULL)
		return NULL;
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), rel);
}

static Oid
rel_owner(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner = InvalidOid;

	if (HeapTupleIsValid(tup))
	{
		owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
		ReleaseSysCache(tup);
	}
	return owner;
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
void
c5m_refund_in_check(Oid tgoid, Datum sale, Oid saletype, bool *over, bool *norefund)
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
			owner = rel_owner(tgrelid);
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
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) == ERRCODE_OPERATOR_INTERVENTION)
			PG_RE_THROW();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
		FreeErrorData(edata);
		c5m_note_lost();
		return;
	}
	PG_END_TRY();
	if (lost)
		c5m_note_lost();
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
