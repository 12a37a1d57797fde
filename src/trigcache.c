/*-------------------------------------------------------------------------
 *
 * trigcache.c
 *		The triggers' arguments, resolved once per backend and kept.
 *
 * The attach functions (c5metrics--1.0.sql) create c5metrics' row triggers
 * with the user's column names and values as trigger arguments.  On first
 * use in a backend, a trigger's arguments are resolved against the table
 * by its flow (sales.c, stock.c, refunds.c, leads.c) into a cache entry
 * (attribute numbers, value kinds, guard lookups), keyed by the trigger's
 * OID and retired on any relcache invalidation of its table (or of the
 * other table it reads: the over-refund guard's sales table).
 *
 * Cache lifetime.  An entry is in use from the moment a trigger function
 * looks it up until that function returns, and a trigger can fire inside
 * another (a cast function the guard calls may insert into a tracked
 * table); the refunds flow keeps pointers to its table names until the
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
 * still seen; the refunds table has one AFTER trigger to tell inserted
 * rows from ON CONFLICT DO NOTHING skips.  Trigger names start with
 * "zz_c5metrics" so they run after the user's own BEFORE triggers, on the
 * row as it will be stored.
 *
 * No trigger raises an error of its own except the opt-in guards.  A
 * configuration that no longer matches the table (a column dropped after
 * attaching) disables the trigger and counts c5metrics_events_lost_total.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/trigger.h"
#include "miscadmin.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "registry.h"
#include "trigcache.h"

/* A cache entry: what the trigger functions use, and its bookkeeping. */
typedef struct TrigEntry
{
	C5Trig		t;				/* first: c5m_trig_get() hands out &e->t */
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


/* What an entry holds besides itself: its values and its flow's data. */
static void
release(C5Trig *t)
{
	int			i;

	if (t->flowdata != NULL)
		pfree(t->flowdata);
	for (i = 0; i < lengthof(t->v); i++)
		if (t->v[i].text != NULL)
			pfree(t->v[i].text);
	for (i = 0; i < t->nallowed; i++)
		pfree(t->allowed[i].text);
}


static inline bool
entry_depends_on(const TrigEntry *e, Oid relid)
{
	return relid == InvalidOid || e->t.relid == relid ||
		(OidIsValid(e->t.other_rel) && e->t.other_rel == relid);
}

/* Put `e` on the retired list: freed by the next sweep, not before. */
static void
retire(TrigEntry *e)
{
	e->next = retired;
	retired = e;
}

/*
 * Relcache callback (c5metrics.c): retire the entries that depend on relation `relid`
 * (every entry, when relid is InvalidOid).  It may run at any catalog
 * access, while entries are in use: it frees nothing.
 */
void
c5m_trigcache_invalidate(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	TrigRef    *ref;

	if (building != NULL && entry_depends_on(building, relid))
		building->t.valid = false;
	if (trig_cache == NULL)
		return;
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
 * Free the retired entries.  Called at the end of every top-level
 * transaction (c5metrics.c), after capture.c has let go of the names: no
 * trigger function is running then.  It only frees memory, so it cannot
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
		release(&e->t);
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
new_entry(Trigger *tg)
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
 * The cache entry of the trigger being fired, resolved by its flow's
 * `resolve` if needed.  NULL when its arguments no longer match the table.
 */
pg_attribute_hot C5Trig *
c5m_trig_get(TriggerData *td, C5Flow flow, C5TrigResolve resolve)
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
		TrigEntry  *e = new_entry(tg);

		t = &e->t;
		t->relid = RelationGetRelid(rel);
		t->owner = rel->rd_rel->relowner;
		strlcpy(t->relname, RelationGetRelationName(rel), NAMEDATALEN);
		strlcpy(t->nspname, get_namespace_name(RelationGetNamespace(rel)), NAMEDATALEN);
		t->ok = resolve(t, rel, tg, trig_context);
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
 * Is this trigger function called as c5metrics attaches it: by the trigger
 * manager, FOR EACH ROW, BEFORE or AFTER `event`?  And is the library
 * preloaded?  Else an error: a trigger created by hand, wrongly.
 */
pg_attribute_hot void
c5m_trigger_check(FunctionCallInfo fcinfo, const char *name, bool before,
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
pg_attribute_hot C5Trig *
c5m_insert_trigger_begin(FunctionCallInfo fcinfo, const char *name, bool before,
						 C5Flow flow, C5TrigResolve resolve, C5Level **lv)
{
	C5Trig	   *t;

	c5m_trigger_check(fcinfo, name, before, TRIGGER_EVENT_INSERT);
	t = c5m_trig_get((TriggerData *) fcinfo->context, flow, resolve);
	if (t == NULL || (*lv = c5m_level()) == NULL)
		return NULL;
	return t;
}
