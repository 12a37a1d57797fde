/*-------------------------------------------------------------------------
 *
 * triggers.c
 *		The row triggers that capture business events.
 *
 * The attach functions (c5metrics--1.0.sql) create these triggers with the
 * user's column names and values as trigger arguments.  On first use in a
 * backend, a trigger's arguments are resolved against the table into a
 * cache entry (attribute numbers, value kinds, guard lookups), keyed by the
 * trigger's OID and retired on any relcache invalidation of its table (or
 * of the sales table its guard reads).
 *
 * Cache lifetime.  An entry is in use from the moment a trigger function
 * looks it up until that function returns, and a trigger can fire inside
 * another (a cast function the guard calls may insert into a tracked
 * table); capture.c also keeps pointers to its table names until the
 * transaction ends.  So an entry is never changed or freed in place: an
 * invalidation takes it out of the hash table onto a list of retired
 * entries, the next firing builds a new one, and c5m_trig_cache_sweep()
 * frees the retired ones once the top-level transaction has ended, when
 * no trigger can be running.  A backend thus holds entries only for
 * triggers that still exist, plus those retired in its current
 * transaction, however many tables it attaches, detaches, creates or drops.
 *
 * All row triggers are BEFORE triggers -- for INSERT the cheapest kind;
 * for UPDATE PostgreSQL locks the row first, as it would for any BEFORE
 * UPDATE trigger -- so that a row rejected by a constraint after them is
 * still seen; the refunds table has
 * one AFTER trigger to tell inserted rows from ON CONFLICT DO NOTHING
 * skips.  Trigger names start with "zz_c5metrics" so they run after the
 * user's own BEFORE triggers, on the row as it will be stored.
 *
 * The sales table has no statement trigger (since 1.2): an ExecutorStart
 * hook marks statements that would fire its row trigger as sales-flow work,
 * so that a failure while locking a row still counts against the flow.
 *
 * No trigger raises an error of its own except the opt-in guards.  A
 * configuration that no longer matches the table (a column dropped after
 * attaching) disables the trigger and counts c5metrics_events_lost_total.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/hash.h"
#include "access/xact.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_language.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "parser/parse_coerce.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "capture.h"
#include "columns.h"
#include "guards.h"
#include "labels.h"
#include "readable.h"
#include "registry.h"
#include "settings.h"
#include "triggers.h"

/* A cache entry: what the trigger functions use, and its bookkeeping. */
typedef struct TrigEntry
{
	C5Trig		t;				/* first: get_trig() hands out &e->t */
	Oid			sales;			/* refunds with a guard: the sales table */
	struct TrigEntry *next;		/* in the retired list */
} TrigEntry;

/* trig_cache's entries: a trigger's OID and its current entry */
typedef struct TrigRef
{
	Oid			tgoid;			/* hash key */
	TrigEntry  *entry;
} TrigRef;

static MemoryContext trig_context = NULL;	/* entries and their values */
static HTAB *trig_cache = NULL;
static TrigEntry *retired = NULL;	/* invalidated, freed at transaction end */
static TrigEntry *building = NULL;	/* being resolved, not yet in trig_cache */

/*
 * The entries of recently fired triggers, by OID: a row trigger finds its
 * entry here without a hash table search (a refund fires three triggers
 * of ours in turn).  Emptied by every invalidation.
 */
#define TRIG_SLOTS 8
static C5Trig *trig_slot[TRIG_SLOTS];

/* Recently seen statuses: avoids the registry lock on every transition. */
#define STATUS_CACHE 16
static struct
{
	int			len;
	int			id;
	char		value[C5M_LABEL_LEN];
}			status_cache[STATUS_CACHE];
static int	status_cache_next = 0;
static uint32 status_cache_gen = 0;	/* dictionary generation of the ids */

PG_FUNCTION_INFO_V1(c5metrics_sales_trigger);
PG_FUNCTION_INFO_V1(c5metrics_sales_stmt_trigger);
PG_FUNCTION_INFO_V1(c5metrics_stock_trigger);
PG_FUNCTION_INFO_V1(c5metrics_refunds_trigger);
PG_FUNCTION_INFO_V1(c5metrics_refunds_after_trigger);
PG_FUNCTION_INFO_V1(c5metrics_leads_trigger);

static void invalidate_trig_cache(Datum arg, Oid relid);

static inline bool
entry_depends_on(const TrigEntry *e, Oid relid)
{
	return relid == InvalidOid || e->t.relid == relid ||
		(OidIsValid(e->sales) && e->sales == relid);
}

/* Put `e` on the retired list: freed by the next sweep, not before. */
static void
retire(TrigEntry *e)
{
	e->next = retired;
	retired = e;
}

/*
 * Relcache callback: retire the entries that depend on relation `relid`
 * (every entry, when relid is InvalidOid).  It may run at any catalog
 * access, while entries are in use: it frees nothing.
 */
static void
invalidate_trig_cache(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	TrigRef    *ref;

	if (building != NULL && entry_depends_on(building, relid))
		building->t.valid = false;
	hash_seq_init(&status, trig_cache);
	while ((ref = hash_seq_search(&status)) != NULL)
	{
		TrigEntry  *e = ref->entry;

		if (!entry_depends_on(e, relid))
			continue;
		e->t.valid = false;
		retire(e);
		/* dynahash allows removing the entry a scan has just returned */
		hash_search(trig_cache, &ref->tgoid, HASH_REMOVE, NULL);
	}
	memset(trig_slot, 0, sizeof(trig_slot));
}

/*
 * Free the retired entries.  capture.c calls this at the end of every
 * top-level transaction, after its own callback has let go of the names:
 * no trigger function is running then.  It only frees memory, so it cannot
 * fail in a commit callback.
 */
void
c5m_trig_cache_sweep(void)
{
	if (building != NULL)
	{
		/* an error interrupted its resolution: it was never handed out */
		retire(building);
		building = NULL;
	}
	while (retired != NULL)
	{
		TrigEntry  *e = retired;

		retired = e->next;
		c5m_trig_release(&e->t);
		pfree(e);
	}
}

/*
 * A new entry for trigger `tg`, to be filled in and then published with
 * publish_entry().  Until then it is `building`: an invalidation meanwhile
 * marks it invalid (it is still used once, for the firing that built it,
 * as the relation it was resolved from stays open), and an error leaves
 * it for c5m_trig_cache_sweep().
 */
static TrigEntry *
new_entry(Trigger *tg, C5Flow flow)
{
	TrigEntry  *e;

	if (trig_cache == NULL)
	{
		HASHCTL		ctl;

		trig_context = AllocSetContextCreate(TopMemoryContext,
											 "c5metrics trigger cache",
											 ALLOCSET_SMALL_SIZES);
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(TrigRef);
		ctl.hcxt = trig_context;
		trig_cache = hash_create("c5metrics triggers", 32, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		CacheRegisterRelcacheCallback(invalidate_trig_cache, (Datum) 0);
	}
	if (building != NULL)
	{
		/* left by an error in an earlier firing: never handed out */
		retire(building);
		building = NULL;
	}
	e = MemoryContextAllocZero(trig_context, sizeof(TrigEntry));
	e->t.tgoid = tg->tgoid;
	e->t.valid = true;
	/* the guard's sales table, resolved as guards.c resolves it */
	if (flow == C5_FLOW_REFUNDS && tg->tgnargs >= 7 &&
		!c5m_table_ref(tg->tgargs[4], &e->sales))
		e->sales = InvalidOid;
	building = e;
	return e;
}

/* Make `e` the entry of its trigger, retiring the one it replaces. */
static void
publish_entry(TrigEntry *e)
{
	TrigRef    *ref;
	bool		found;

	ref = hash_search(trig_cache, &e->t.tgoid, HASH_ENTER, &found);
	if (found)
	{
		/* invalidated while it was being built */
		retire(ref->entry);
	}
	ref->entry = e;
	building = NULL;
}

/*
 * A trigger whose arguments no longer match its table counts nothing but
 * c5metrics_events_lost_total: say so, once per backend, so that the DBA
 * hears of it from the application's log as well as from
 * c5metrics.tracked and c5metrics_attachment_problems.  A WARNING cannot
 * fail the statement.
 */
static void
warn_unresolved(const C5Trig *t)
{
	static bool warned = false;

	if (warned)
		return;
	warned = true;
	ereport(WARNING,
			(errmsg("c5metrics trigger on table \"%s.%s\" no longer matches its table; its events are not counted",
					t->nspname, t->relname),
			 errdetail("A column it was attached with does not exist."),
			 errhint("SELECT * FROM c5metrics.tracked WHERE problem IS NOT NULL; shows what to fix. This warning is given once per session.")));
}

/*
 * The cache entry of the trigger being fired, resolved if needed.  NULL
 * when its arguments no longer match the table.
 */
static pg_attribute_hot C5Trig *
get_trig(TriggerData *td, C5Flow flow)
{
	Trigger    *tg = td->tg_trigger;
	C5Trig	   *t = trig_slot[tg->tgoid % TRIG_SLOTS];
	TrigRef    *ref;

	if (likely(t != NULL && t->tgoid == tg->tgoid && t->valid && t->ok))
		return t;

	ref = trig_cache != NULL ?
		hash_search(trig_cache, &tg->tgoid, HASH_FIND, NULL) : NULL;
	t = ref != NULL ? &ref->entry->t : NULL;
	if (t == NULL || !t->valid)
	{
		Relation	rel = td->tg_relation;
		char	  **a = tg->tgargs;
		int			n = tg->tgnargs;
		int			i;
		TrigEntry  *e = new_entry(tg, flow);

		t = &e->t;
		t->relid = RelationGetRelid(rel);
		t->owner = rel->rd_rel->relowner;
		strlcpy(t->relname, RelationGetRelationName(rel), NAMEDATALEN);
		strlcpy(t->nspname, get_namespace_name(RelationGetNamespace(rel)), NAMEDATALEN);
		t->ok = true;
		switch (flow)
		{
			case C5_FLOW_SALES:
				/* status column, paid value, id column, allowed statuses... */
				if (n < 3)
					t->ok = false;
				else
				{
					c5m_resolve_col(rel, a[0], &t->c[0]);
					c5m_resolve_value(&t->c[0], a[1], &t->v[0], trig_context);
					c5m_resolve_col(rel, a[2], &t->c[1]);
					t->nallowed = Min(n - 3, C5M_MAX_ALLOWED);
					for (i = 0; i < t->nallowed; i++)
						c5m_resolve_value(&t->c[0], a[3 + i], &t->allowed[i], trig_context);
					t->ok = t->c[0].attnum > 0 && t->c[1].attnum > 0;
				}
				break;
			case C5_FLOW_STOCK:
				/* type column, consume value, refund-in value, sale column */
				if (n < 4)
					t->ok = false;
				else
				{
					c5m_resolve_col(rel, a[0], &t->c[0]);
					c5m_resolve_value(&t->c[0], a[1], &t->v[0], trig_context);
					c5m_resolve_value(&t->c[0], a[2], &t->v[1], trig_context);
					c5m_resolve_col(rel, a[3], &t->c[1]);
					t->ok = t->c[0].attnum > 0 && t->c[1].attnum > 0;
				}
				break;
			case C5_FLOW_REFUNDS:
				/* sale, amount, type, key columns [, guard config] */
				if (n < 4)
					t->ok = false;
				else
				{
					for (i = 0; i < 4; i++)
						c5m_resolve_col(rel, a[i], &t->c[i]);
					t->ok = t->c[2].attnum > 0;
				}
				break;
			case C5_FLOW_LEADS:
				/* ip column, email column */
				if (n < 2)
					t->ok = false;
				else
				{
					c5m_resolve_col(rel, a[0], &t->c[0]);
					c5m_resolve_col(rel, a[1], &t->c[1]);
				}
				break;
			default:
				t->ok = false;
		}
		c5m_tracked_note(MyDatabaseId, t->relid, flow, !t->ok);
		publish_entry(e);
		if (!t->ok)
			warn_unresolved(t);
	}
	trig_slot[tg->tgoid % TRIG_SLOTS] = t;
	if (!t->ok)
	{
		c5m_count_lost(1);
		return NULL;
	}
	return t;
}

/*
 * Dictionary id of a status value in dictionary generation `gen`, through
 * the backend's small cache, and whether it is the paid value: the value
 * is read as text only once.
 */
static pg_attribute_hot int
status_of(const C5Trig *t, Datum d, bool isnull, bool *paid, uint32 gen)
{
	const char *s;
	int			len;
	char		buf[NAMEDATALEN];
	int			i;
	int			id;

	*paid = false;
	if (isnull)
		return C5_STATUS_NONE;
	if (t->c[0].kind == C5_COL_ENUM)
		*paid = DatumGetObjectId(d) == t->v[0].enumoid;
	if (!c5m_col_text(&t->c[0], d, false, &s, &len, buf))
		return C5_STATUS_OTHER;
	if (t->c[0].kind != C5_COL_ENUM)
		*paid = len == t->v[0].len && memcmp(s, t->v[0].text, len) == 0;

	if (t->nallowed > 0)
	{
		for (i = 0; i < t->nallowed; i++)
			if (t->allowed[i].len == len && memcmp(t->allowed[i].text, s, len) == 0)
				break;
		if (i == t->nallowed)
		{
			c5m_count(c5m_shared->layout.label_overflow + C5_DYN_TRANSITION, 1);
			return C5_STATUS_OTHER;
		}
	}

	/* c5metrics.reset_labels() gave the ids away */
	if (unlikely(status_cache_gen != gen))
	{
		memset(status_cache, 0, sizeof(status_cache));
		status_cache_gen = gen;
	}
	for (i = 0; i < STATUS_CACHE; i++)
		if (status_cache[i].len == len && len > 0 &&
			memcmp(status_cache[i].value, s, len) == 0)
			return status_cache[i].id;

	id = c5m_status_id(s, len);
	/* only values that got their own series are worth caching */
	if (id != C5_STATUS_OTHER && len < C5M_LABEL_LEN)
	{
		i = status_cache_next++ % STATUS_CACHE;
		memcpy(status_cache[i].value, s, len);
		status_cache[i].len = len;
		status_cache[i].id = id;
	}
	return id;
}

static pg_attribute_hot void
check_trigger_context(FunctionCallInfo fcinfo, const char *name, bool before,
					  int event)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" was not called by trigger manager", name)));
	if (!TRIGGER_FIRED_FOR_ROW(td->tg_event) ||
		(before != TRIGGER_FIRED_BEFORE(td->tg_event)) ||
		(td->tg_event & TRIGGER_EVENT_OPMASK) != event)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" must be fired %s %s FOR EACH ROW", name,
						before ? "BEFORE" : "AFTER",
						event == TRIGGER_EVENT_INSERT ? "INSERT" : "UPDATE"),
				 errhint("Attach tables with the c5metrics.track_* functions.")));
	if (!c5m_registry_ready())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("c5metrics must be loaded via \"shared_preload_libraries\"")));
}

/*
 * Common entry of the INSERT row triggers: the cache entry and the level
 * to record in, or NULL when there is nothing to record.
 */
static pg_attribute_hot C5Trig *
insert_trigger_begin(FunctionCallInfo fcinfo, const char *name, bool before,
					 C5Flow flow, C5Level **lv)
{
	C5Trig	   *t;

	check_trigger_context(fcinfo, name, before, TRIGGER_EVENT_INSERT);
	t = get_trig((TriggerData *) fcinfo->context, flow);
	if (t == NULL || (*lv = c5m_level()) == NULL)
		return NULL;
	return t;
}

/*
 * sales: BEFORE UPDATE OF <status> FOR EACH ROW.  A changed status is one
 * transition; reaching the paid value is one paid sale awaiting its stock
 * consumption.
 */
pg_attribute_hot Datum
c5metrics_sales_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	C5Trig	   *t;
	C5Level    *lv;
	Datum		oldv,
				newv;
	bool		oldnull,
				newnull;
	bool		oldpaid,
				newpaid;
	int			from,
				to;
	uint32		gen;

	check_trigger_context(fcinfo, "c5metrics_sales_trigger", true, TRIGGER_EVENT_UPDATE);
	t = get_trig(td, C5_FLOW_SALES);
	if (t == NULL)
		return PointerGetDatum(td->tg_newtuple);

	oldv = slot_getattr(td->tg_trigslot, t->c[0].attnum, &oldnull);
	newv = slot_getattr(td->tg_newslot, t->c[0].attnum, &newnull);
	if (oldnull == newnull &&
		(oldnull || datum_image_eq(oldv, newv, t->c[0].typbyval, t->c[0].typlen)))
		return PointerGetDatum(td->tg_newtuple);

	lv = c5m_level();
	if (lv == NULL)
		return PointerGetDatum(td->tg_newtuple);
	/* read before the lookups: ids they return are valid in it or later */
	gen = c5m_label_gen();
	from = status_of(t, oldv, oldnull, &oldpaid, gen);
	to = status_of(t, newv, newnull, &newpaid, gen);
	c5m_note_transition(lv, from, to, gen);

	if (newpaid && !oldpaid)
	{
		bool		idnull;
		Datum		id = slot_getattr(td->tg_newslot, t->c[1].attnum, &idnull);

		c5m_note_paid(lv, idnull ? 0 : c5m_sale_key(&t->c[1], id),
					  GetCurrentTimestamp());
	}
	return PointerGetDatum(td->tg_newtuple);
}

/*
 * sales: what the statement trigger of versions 1.0 and 1.1 did.  A row
 * trigger runs only once its row is locked, so an UPDATE that fails while
 * locking (a serialization failure, a lock timeout, a deadlock) never
 * reaches it.  Such a failure still counts against the sales flow
 * (flow_transactions_total, exceptions_total) because the statement is
 * marked as sales-flow work when the executor starts it: when one of its
 * result relations has c5metrics' sales row trigger, enabled, and the
 * statement updates one of the trigger's columns -- PostgreSQL's own rule
 * for firing BEFORE UPDATE OF triggers, which also covers MERGE's UPDATE
 * actions and INSERT ... ON CONFLICT DO UPDATE.  No transition is counted,
 * since no row changed.  Unlike a statement trigger, this costs no function
 * lookup and no trigger call per statement.
 */

/* Which trigger functions are c5metrics' sales row trigger, by OID. */
#define FN_MEMO 8
static struct
{
	Oid			foid;
	bool		sales;
}			fn_memo[FN_MEMO];
static int	fn_memo_next = 0;

/* A pg_proc invalidation (syscache callback, c5metrics.c): forget them. */
void
c5m_triggers_forget_functions(Datum arg, int cacheid, uint32 hashvalue)
{
	memset(fn_memo, 0, sizeof(fn_memo));
}

/* Is foid a C function bound to c5metrics_sales_trigger in our library? */
static bool
is_sales_trigger_fn(Oid foid)
{
	HeapTuple	tup;
	bool		sales = false;
	int			i;

	for (i = 0; i < FN_MEMO; i++)
		if (fn_memo[i].foid == foid)
			return fn_memo[i].sales;

	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(foid));
	if (HeapTupleIsValid(tup))
	{
		if (((Form_pg_proc) GETSTRUCT(tup))->prolang == ClanguageId)
		{
			bool		srcnull,
						binnull;
			Datum		src = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_prosrc, &srcnull);
			Datum		bin = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_probin, &binnull);

			if (!srcnull && !binnull)
			{
				char	   *srcs = TextDatumGetCString(src);
				char	   *bins = TextDatumGetCString(bin);
				const char *base = last_dir_separator(bins);

				base = base ? base + 1 : bins;
				sales = strcmp(srcs, "c5metrics_sales_trigger") == 0 &&
					(strcmp(base, "c5metrics") == 0 ||
					 strcmp(base, "c5metrics" DLSUFFIX) == 0);
				pfree(srcs);
				pfree(bins);
			}
		}
		ReleaseSysCache(tup);
	}
	fn_memo[fn_memo_next].foid = foid;
	fn_memo[fn_memo_next].sales = sales;
	fn_memo_next = (fn_memo_next + 1) % FN_MEMO;
	return sales;
}

/* Would PostgreSQL fire this BEFORE UPDATE OF row trigger for the statement? */
static bool
sales_trigger_would_fire(Trigger *tg, ResultRelInfo *ri, EState *estate)
{
	Bitmapset  *cols,
			   *extra = NULL;
	int			i;

	if (!TRIGGER_FOR_ROW(tg->tgtype) || !TRIGGER_FOR_BEFORE(tg->tgtype) ||
		!TRIGGER_FOR_UPDATE(tg->tgtype))
		return false;
	if (tg->tgenabled == TRIGGER_DISABLED ||
		tg->tgenabled == (SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA ?
						  TRIGGER_FIRES_ON_ORIGIN : TRIGGER_FIRES_ON_REPLICA))
		return false;
	if (!is_sales_trigger_fn(tg->tgfoid))
		return false;
	if (tg->tgnattr == 0)
		return true;

	/* ExecGetAllUpdatedCols() without building the union */
	cols = ExecGetUpdatedCols(ri, estate);
	for (i = 0; i < tg->tgnattr; i++)
	{
		int			col = tg->tgattr[i] - FirstLowInvalidHeapAttributeNumber;

		if (bms_is_member(col, cols))
			return true;
		if (extra == NULL)
			extra = ExecGetExtraUpdatedCols(ri, estate);
		if (bms_is_member(col, extra))
			return true;
	}
	return false;
}

/*
 * After ExecutorStart (c5metrics.c): a statement that would fire a sales
 * row trigger is sales-flow work from now on, so that a failure while
 * locking a row still counts against the flow.
 */
pg_attribute_hot void
c5m_sales_executor_start(QueryDesc *queryDesc, int eflags)
{
	EState	   *estate;
	ListCell   *lc;
	C5Level    *lv;

	/* Statements that change no table, and EXPLAIN, end here. */
	if (queryDesc->plannedstmt->resultRelations == NIL ||
		(eflags & EXEC_FLAG_EXPLAIN_ONLY) || !c5m_registry_ready())
		return;

	estate = queryDesc->estate;
	foreach(lc, estate->es_opened_result_relations)
	{
		ResultRelInfo *ri = lfirst(lc);
		TriggerDesc *trigdesc = ri->ri_TrigDesc;
		int			i;

		if (trigdesc == NULL || !trigdesc->trig_update_before_row)
			continue;
		for (i = 0; i < trigdesc->numtriggers; i++)
		{
			if (sales_trigger_would_fire(&trigdesc->triggers[i], ri, estate))
			{
				if ((lv = c5m_level()) != NULL)
					c5m_note_flow(lv, C5_FLOW_SALES);
				return;
			}
		}
	}
}


/*
 * The statement trigger of versions 1.0 and 1.1, kept so that a database
 * not yet updated to 1.2 works with this library: it marks the same as
 * the hook above, which does no harm twice.
 */
Datum
c5metrics_sales_stmt_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	C5Level    *lv;

	if (!CALLED_AS_TRIGGER(fcinfo) || TRIGGER_FIRED_FOR_ROW(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"c5metrics_sales_stmt_trigger\" must be fired FOR EACH STATEMENT"),
				 errhint("Attach tables with the c5metrics.track_* functions.")));
	if (c5m_registry_ready() && (lv = c5m_level()) != NULL)
		c5m_note_flow(lv, C5_FLOW_SALES);
	return PointerGetDatum(NULL);
}

/*
 * stock movements: BEFORE INSERT FOR EACH ROW.  This is the bulk path:
 * one attribute fetch, one comparison, a few bits set.
 */
pg_attribute_hot Datum
c5metrics_stock_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	C5Trig	   *t;
	C5Level    *lv;
	Datum		type;
	bool		isnull;

	t = insert_trigger_begin(fcinfo, "c5metrics_stock_trigger", true, C5_FLOW_STOCK, &lv);
	if (t == NULL)
		return PointerGetDatum(td->tg_trigtuple);

	type = slot_getattr(td->tg_trigslot, t->c[0].attnum, &isnull);
	if (c5m_value_is(&t->c[0], type, isnull, &t->v[0]))
	{
		Datum		sale = slot_getattr(td->tg_trigslot, t->c[1].attnum, &isnull);

		c5m_note_consume(lv, isnull ? 0 : c5m_sale_key(&t->c[1], sale));
	}
	else if (c5m_value_is(&t->c[0], type, isnull, &t->v[1]))
	{
		Datum		sale = slot_getattr(td->tg_trigslot, t->c[1].attnum, &isnull);

		c5m_note_refund_in(lv, td->tg_trigger->tgoid, t->relid, &t->c[1], sale, isnull);
	}
	else
		c5m_note_flow(lv, C5_FLOW_STOCK);
	return PointerGetDatum(td->tg_trigtuple);
}

/* Does s equal the lower-case ASCII letters lit, ignoring case? */
static inline bool
ascii_lower_eq(const char *s, const char *lit, int len)
{
	int			i;

	for (i = 0; i < len; i++)
		if ((s[i] | 0x20) != lit[i])
			return false;
	return true;
}

static pg_attribute_hot C5RefundType
refund_type(const C5Trig *t, TupleTableSlot *slot)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, t->c[2].attnum, &isnull);
	const char *s;
	int			len;
	char		buf[NAMEDATALEN];

	if (!c5m_col_text(&t->c[2], d, isnull, &s, &len, buf))
		return C5_REFUND_OTHER;
	if (len == 4 && ascii_lower_eq(s, "full", 4))
		return C5_REFUND_FULL;
	if (len == 7 && ascii_lower_eq(s, "partial", 7))
		return C5_REFUND_PARTIAL;
	return C5_REFUND_OTHER;
}

/*
 * refunds: BEFORE INSERT FOR EACH ROW.  Counts the attempt and runs the
 * over-refund guard when the table was attached with its sales table.
 */
pg_attribute_hot Datum
c5metrics_refunds_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	C5Trig	   *t;
	C5Level    *lv;

	t = insert_trigger_begin(fcinfo, "c5metrics_refunds_trigger", true, C5_FLOW_REFUNDS, &lv);
	if (t == NULL)
		return PointerGetDatum(td->tg_trigtuple);

	c5m_note_refund_attempt(lv, refund_type(t, td->tg_trigslot));
	c5m_note_refund_table(lv, t->nspname, t->relname);
	if (td->tg_trigger->tgnargs >= 7)
	{
		/* the guard needs the sale and amount columns it was attached with */
		if (t->c[0].attnum > 0 && t->c[1].attnum > 0)
			c5m_refund_guard_check(t, td, lv);
		else
			c5m_refund_guard_unavailable(t, td, lv,
										 "Its sale or amount column does not exist.");
	}
	return PointerGetDatum(td->tg_trigtuple);
}

/* refunds: AFTER INSERT FOR EACH ROW.  The row was really inserted. */
pg_attribute_hot Datum
c5metrics_refunds_after_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	C5Trig	   *t;
	C5Level    *lv;

	t = insert_trigger_begin(fcinfo, "c5metrics_refunds_after_trigger", false, C5_FLOW_REFUNDS, &lv);
	if (t == NULL)
		return PointerGetDatum(NULL);
	c5m_note_refund_inserted(lv, refund_type(t, td->tg_trigslot));
	return PointerGetDatum(NULL);
}

/* leads: BEFORE INSERT FOR EACH ROW, with the optional throttle. */
Datum
c5metrics_leads_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	C5Trig	   *t;
	C5Level    *lv;

	t = insert_trigger_begin(fcinfo, "c5metrics_leads_trigger", true, C5_FLOW_LEADS, &lv);
	if (t == NULL)
		return PointerGetDatum(td->tg_trigtuple);

	if (c5m_lead_throttle)
		c5m_lead_throttle_check(t, td, lv);
	c5m_note_lead(lv);
	return PointerGetDatum(td->tg_trigtuple);
}
