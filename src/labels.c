/*-------------------------------------------------------------------------
 *
 * labels.c
 *		Label values from data: the status dictionary, the series of
 *		label values, each database's quota of them, and clearing them.
 *
 * The status dictionary interns sale statuses first come, first served,
 * up to c5metrics.max_label_values.  The series of sales_transition_total
 * and exceptions_total have their index space allocated in the registry
 * (registry.c), but are exposed only once a lock-free claim made them
 * "live" against c5metrics.max_series; a failed claim folds the
 * observation into the family's "other" series.
 *
 * Fairness between databases.  The dictionary and the series cap are one
 * budget for the whole cluster, so each database may take only its quota
 * of them (c5metrics.max_label_values_per_database, .max_series_per_database):
 * a status records the database that added it, a live flag the database
 * that made the series live, and C5Shared.dbs counts each database's
 * share.  Using a status or a series that another database brought in
 * costs nothing.  A database over its quota gets "other", exactly as at
 * the global caps, so one database can never take the labels and series
 * another one needs.  Owners are saved with the registry (persist.c) and
 * the shares recounted from them at start (c5m_labels_recount).
 *
 * Clearing the dictionary.  c5metrics.reset_labels() empties the
 * dictionary and the dynamic series while transactions may hold status
 * ids and counter indexes resolved before.  Every such index carries the
 * dictionary generation it was resolved in, and a process counts into or
 * claims a dynamic series only inside a window (c5m_dyn_begin/_end) that
 * publishes the generation it checks against in its PGPROC's slot.  The
 * clear makes the generation odd, waits until no slot holds the old one,
 * clears, then makes it even again: an index of another generation is
 * folded into "other" (c5m_dyn_fold), never counted in a series that now
 * means something else.
 *
 * Locking.  c5m_shared->lock (exclusive) guards adding a status and the
 * per-database entries' databases and status counts; the per-database
 * series counts, the live flags, the generation and the slots are atomics,
 * so that claims and counts in commit and abort callbacks take no lock.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/twophase.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "labels.h"
#include "registry.h"
#include "settings.h"

static C5GenSlot *gen_slots = NULL;	/* one per PGPROC */
static int	ngen_slots = 0;
static C5DbUsage *my_db = NULL;	/* this backend's share, see pick_database */
static uint32 my_db_gen = 0;	/* label_gen when my_db was picked */

#define OVERFLOW_DB (C5M_MAX_DATABASES - 1)

/* Every PGPROC may count: backends, auxiliary processes, prepared xacts. */
static int
gen_slot_count(void)
{
	return MaxBackends + NUM_AUXILIARY_PROCS + max_prepared_xacts;
}

Size
c5m_labels_shmem_size(void)
{
	return add_size(mul_size(gen_slot_count(), sizeof(C5GenSlot)), PG_CACHE_LINE_SIZE);
}

/* Attach to (or create) the slots: one cache line per process. */
void
c5m_labels_shmem_init(void)
{
	bool		found;
	char	   *p;
	int			i;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	p = ShmemInitStruct("c5metrics label generations", c5m_labels_shmem_size(), &found);
	gen_slots = (C5GenSlot *) CACHELINEALIGN(p);
	ngen_slots = gen_slot_count();
	if (!found)
		for (i = 0; i < ngen_slots; i++)
			pg_atomic_init_u32(&gen_slots[i].gen, 0);
	LWLockRelease(AddinShmemInitLock);
}

/* ---- per-database shares ---- */

static int
label_quota(void)
{
	return c5m_max_label_values_per_db >= 0 ? c5m_max_label_values_per_db :
		c5m_max_label_values / 2;
}

static uint32
series_quota(void)
{
	return (uint32) (c5m_max_series_per_db >= 0 ? c5m_max_series_per_db :
					 c5m_max_series / 2);
}

/*
 * The entry of database `dboid`; with `assign`, a free one when it has
 * none, or the shared last entry when none is free.  The caller holds the
 * lock (exclusively to assign), or is the postmaster at start.
 */
static C5DbUsage *
db_entry(Oid dboid, bool assign)
{
	int			free_slot = -1;
	int			i;

	for (i = 0; i < OVERFLOW_DB; i++)
	{
		C5DbUsage  *db = &c5m_shared->dbs[i];

		if (db->dboid == dboid)
			return db;
		if (free_slot < 0 && !OidIsValid(db->dboid))
			free_slot = i;
	}
	if (!assign)
		return NULL;
	if (free_slot < 0)
		return &c5m_shared->dbs[OVERFLOW_DB];
	c5m_shared->dbs[free_slot].dboid = dboid;
	c5m_shared->dbs[free_slot].nstatus = 0;
	pg_atomic_write_u32(&c5m_shared->dbs[free_slot].nseries, 0);
	return &c5m_shared->dbs[free_slot];
}

/*
 * Find this backend's entry, so that the commit and abort callbacks can
 * charge it without a lock.  Called by c5m_level() once per transaction
 * that captures something; it looks again after c5metrics.reset_labels(),
 * which frees the entries of dropped databases (never the entry of a
 * database that has backends).
 */
void
c5m_labels_pick_database(void)
{
	uint32		gen = c5m_label_gen();
	C5DbUsage  *db;

	if (likely(my_db != NULL && my_db_gen == gen))
		return;
	LWLockAcquire(c5m_shared->lock, LW_SHARED);
	db = db_entry(MyDatabaseId, false);
	LWLockRelease(c5m_shared->lock);
	if (db == NULL)
	{
		LWLockAcquire(c5m_shared->lock, LW_EXCLUSIVE);
		db = db_entry(MyDatabaseId, true);
		LWLockRelease(c5m_shared->lock);
	}
	my_db = db;
	my_db_gen = gen;
}

/*
 * Recount every database's share from the owners of the statuses and live
 * series, after the postmaster loaded a saved registry.
 */
void
c5m_labels_recount(void)
{
	const C5Layout *l = &c5m_shared->layout;
	int			i;

	for (i = 0; i < C5M_MAX_DATABASES; i++)
	{
		c5m_shared->dbs[i].dboid = InvalidOid;
		c5m_shared->dbs[i].nstatus = 0;
		pg_atomic_write_u32(&c5m_shared->dbs[i].nseries, 0);
	}
	for (i = 2; i < c5m_shared->nstatus_used; i++)
		if (OidIsValid(c5m_status_owner[i]))
			db_entry(c5m_status_owner[i], true)->nstatus++;
	for (i = 0; i < l->nlive; i++)
	{
		Oid			owner = pg_atomic_read_u32(&c5m_live[i]);

		if (owner == InvalidOid || c5m_live_fixed(l, i))
			continue;
		pg_atomic_fetch_add_u32(&db_entry(owner, true)->nseries,
								i >= l->live_transitions ? C5_NRESULTS : 1);
	}
}

/* ---- dynamic series ---- */

/*
 * Open this process's window for counting into or claiming dynamic
 * series.  Returns the dictionary generation an index must have been
 * resolved in to be used in the window, or 0 while the dictionary is
 * being cleared (then every index folds into "other").  The window is
 * closed by c5m_dyn_end(); in between, only atomic adds.  Lock free: the
 * exchange is the full barrier that c5m_reset_labels() pairs
 * with its own (see the file header).
 */
pg_attribute_hot uint32
c5m_dyn_begin(void)
{
	uint32		g = c5m_label_gen();

	if (MyProc == NULL || C5M_MY_PROCNO() >= ngen_slots)
		return 0;
	(void) pg_atomic_exchange_u32(&gen_slots[C5M_MY_PROCNO()].gen, g);
	if (!C5M_GEN_VALID(g) || c5m_label_gen() != g)
		return 0;
	return g;
}

pg_attribute_hot void
c5m_dyn_end(void)
{
	if (MyProc == NULL || C5M_MY_PROCNO() >= ngen_slots)
		return;
	pg_write_barrier();
	pg_atomic_write_u32(&gen_slots[C5M_MY_PROCNO()].gen, 0);
}

/*
 * Where `n` adds to dynamic series `idx`, resolved in a generation of the
 * dictionary that is gone, go instead: the family's "other" series of the
 * same result or flow.  They count as labels folded into "other".
 */
int
c5m_dyn_fold(int idx, uint64 n)
{
	const C5Layout *l = &c5m_shared->layout;
	int			other;

	if (idx >= l->base[C5_STORE_TRANSITIONS] &&
		idx < l->base[C5_STORE_TRANSITIONS] + l->nstatus * l->nstatus * C5_NRESULTS)
	{
		other = l->base[C5_STORE_TRANSITIONS] + (idx - l->base[C5_STORE_TRANSITIONS]) % C5_NRESULTS;
		if (other != idx)
			c5m_count(l->base[C5_STORE_LABEL_OVERFLOW] + C5_DYN_TRANSITION, n);
		return other;
	}
	if (idx >= l->base[C5_STORE_EXCEPTIONS] && idx < l->base[C5_STORE_TRANSITIONS])
	{
		other = l->base[C5_STORE_EXCEPTIONS] + (idx - l->base[C5_STORE_EXCEPTIONS]) % C5_NFLOWS;
		if (other != idx)
			c5m_count(l->base[C5_STORE_LABEL_OVERFLOW] + C5_DYN_EXCEPTION, n);
		return other;
	}
	return idx;
}

/*
 * Make a dynamic series live, counting `nseries` against this database's
 * quota and the cap.  Runs inside a valid window (c5m_dyn_begin).  Lock
 * free and allocation free: safe in commit and abort callbacks.
 */
static pg_attribute_hot bool
claim_live(int liveidx, uint32 nseries)
{
	C5DbUsage  *db;
	uint32		cur;
	uint32		expected = 0;

	if (pg_atomic_read_u32(&c5m_live[liveidx]) != 0)
		return true;

	/* c5m_level() picked it; a backend that never captured shares the last */
	db = my_db != NULL ? my_db : &c5m_shared->dbs[OVERFLOW_DB];
	cur = pg_atomic_read_u32(&db->nseries);
	for (;;)
	{
		if (cur + nseries > series_quota())
			goto overflow;
		if (pg_atomic_compare_exchange_u32(&db->nseries, &cur, cur + nseries))
			break;
	}
	cur = pg_atomic_read_u32(&c5m_shared->nseries);
	for (;;)
	{
		if (cur + nseries > (uint32) c5m_max_series)
		{
			pg_atomic_fetch_sub_u32(&db->nseries, nseries);
			goto overflow;
		}
		if (pg_atomic_compare_exchange_u32(&c5m_shared->nseries, &cur, cur + nseries))
			break;
	}
	Assert(OidIsValid(MyDatabaseId));
	if (!pg_atomic_compare_exchange_u32(&c5m_live[liveidx], &expected, MyDatabaseId))
	{
		/* lost a race: live all the same, charged to the winner */
		pg_atomic_fetch_sub_u32(&c5m_shared->nseries, nseries);
		pg_atomic_fetch_sub_u32(&db->nseries, nseries);
	}
	return true;

overflow:
	pg_atomic_fetch_add_u64(&c5m_counters[c5m_shared->layout.base[C5_STORE_SERIES_OVERFLOW]], 1);
	return false;
}

/*
 * Counter index of sales_transition_total{from,to,result=success}, for
 * statuses looked up in dictionary generation `gen`; add the result to it.
 * Falls back to (other, other) at the quota or the cap, and when the
 * dictionary was cleared since the lookup.  Runs in a trigger.
 */
pg_attribute_hot int
c5m_transition_index(int from, int to, uint32 gen)
{
	const C5Layout *l = &c5m_shared->layout;
	int			pair = from * l->nstatus + to;

	if (pair != 0 &&
		pg_atomic_read_u32(&c5m_live[l->live_transitions + pair]) == 0)
	{
		if (c5m_dyn_begin() != gen ||
			!claim_live(l->live_transitions + pair, C5_NRESULTS))
			pair = 0;
		c5m_dyn_end();
	}
	return l->base[C5_STORE_TRANSITIONS] + pair * C5_NRESULTS;
}

/*
 * Counter index of exceptions_total{exception_type, location}, inside a
 * window of generation `gen` (c5m_dyn_begin; 0 folds into "other").
 */
int
c5m_exception_index(int cond, C5Flow flow, uint32 gen)
{
	const C5Layout *l = &c5m_shared->layout;
	int			cell = cond * C5_NFLOWS + flow;

	if (cond != 0 &&
		(gen == 0 || !claim_live(l->live_exceptions + cell, 1)))
	{
		pg_atomic_fetch_add_u64(&c5m_counters[l->base[C5_STORE_LABEL_OVERFLOW] + C5_DYN_EXCEPTION], 1);
		cell = flow;			/* condition 0 is "other" */
	}
	return l->base[C5_STORE_EXCEPTIONS] + cell;
}

/*
 * A status value is usable as a label if it is short, valid UTF-8 and has
 * no control characters; anything else would be unbounded or unsafe.
 * persist.c applies the same rule to the labels of a saved registry.
 */
bool
c5m_label_acceptable(const char *value, int len)
{
	int			i;

	if (len <= 0 || len >= C5M_LABEL_LEN)
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char) value[i] < 0x20 || value[i] == 0x7f)
			return false;
	return pg_verify_mbstr(PG_UTF8, value, len, true);
}

static int
status_lookup(const char *value, int len)
{
	int			i;

	for (i = 0; i < c5m_shared->nstatus_used; i++)
		if (strncmp(c5m_status_names[i], value, len) == 0 &&
			c5m_status_names[i][len] == '\0')
			return i;
	return -1;
}

/*
 * Dictionary id of a sale status, interning it while there is room in the
 * dictionary and in this database's quota.  Runs in a trigger, never in a
 * callback: it takes the registry lock.
 */
int
c5m_status_id(const char *value, int len)
{
	int			id;

	if (!c5m_label_acceptable(value, len))
		goto overflow;

	LWLockAcquire(c5m_shared->lock, LW_SHARED);
	id = status_lookup(value, len);
	LWLockRelease(c5m_shared->lock);
	if (id >= 0)
		return id;

	LWLockAcquire(c5m_shared->lock, LW_EXCLUSIVE);
	id = status_lookup(value, len);
	if (id < 0 && c5m_shared->nstatus_used < c5m_shared->layout.nstatus)
	{
		C5DbUsage  *db = db_entry(MyDatabaseId, true);

		if (db->nstatus < label_quota())
		{
			id = c5m_shared->nstatus_used;
			memcpy(c5m_status_names[id], value, len);
			c5m_status_names[id][len] = '\0';
			c5m_status_owner[id] = MyDatabaseId;
			c5m_shared->nstatus_used++;
			db->nstatus++;
		}
	}
	LWLockRelease(c5m_shared->lock);
	if (id >= 0)
		return id;

overflow:
	pg_atomic_fetch_add_u64(&c5m_counters[c5m_shared->layout.base[C5_STORE_LABEL_OVERFLOW] + C5_DYN_TRANSITION], 1);
	return C5_STATUS_OTHER;
}

/*
 * Empty the status dictionary and the dynamic series, and every
 * database's share of them (c5metrics.reset_labels()).  The entries of the
 * databases in `gone`, which no longer exist, are freed.  The fixed
 * series, the "other" series among them, keep their values.
 *
 * Transactions in flight may hold status ids and counter indexes of the
 * old dictionary: the generation turns odd, so that every window opened
 * from now on folds them into "other"; the windows opened before are
 * waited for (each is a few atomic adds); then nothing can write a
 * dynamic series until the generation turns even again, after the clear.
 */
void
c5m_reset_labels(const Oid *gone, int ngone)
{
	const C5Layout *l = &c5m_shared->layout;
	int			ncells = l->base[C5_STORE_TRANSITIONS] - l->base[C5_STORE_EXCEPTIONS] +
		l->nstatus * l->nstatus * C5_NRESULTS;
	uint32		old;
	uint32		next;
	int			i,
				k;

	LWLockAcquire(c5m_shared->lock, LW_EXCLUSIVE);
	old = c5m_label_gen();
	pg_atomic_write_u32(&c5m_shared->label_gen, old + 1);
	pg_memory_barrier();
	for (i = 0; i < ngen_slots; i++)
		while (pg_atomic_read_u32(&gen_slots[i].gen) == old)
			pg_usleep(100L);

	for (i = 0; i < l->nlive; i++)
		if (!c5m_live_fixed(l, i))
			pg_atomic_write_u32(&c5m_live[i], 0);
	/* the exceptions' cells, then the transitions' triples, are adjacent */
	for (i = 0; i < ncells; i++)
	{
		int			idx = l->base[C5_STORE_EXCEPTIONS] + i;

		if (idx < l->base[C5_STORE_EXCEPTIONS] + C5_NFLOWS ||
			(idx >= l->base[C5_STORE_TRANSITIONS] && idx < l->base[C5_STORE_TRANSITIONS] + C5_NRESULTS))
			continue;
		c5m_counter_zero(idx);
	}
	memset(c5m_status_names[2], 0, (Size) (l->nstatus - 2) * C5M_LABEL_LEN);
	memset(c5m_status_owner, 0, l->nstatus * sizeof(Oid));
	c5m_shared->nstatus_used = 2;
	for (i = 0; i < C5M_MAX_DATABASES; i++)
	{
		C5DbUsage  *db = &c5m_shared->dbs[i];

		for (k = 0; k < ngone; k++)
			if (OidIsValid(db->dboid) && db->dboid == gone[k])
				db->dboid = InvalidOid;
		db->nstatus = 0;
		pg_atomic_write_u32(&db->nseries, 0);
	}
	pg_atomic_write_u32(&c5m_shared->nseries, l->fixed_series);
	c5m_shared->stats_reset = GetCurrentTimestamp();

	next = old + 2;
	if (!C5M_GEN_VALID(next))
		next = 2;
	pg_write_barrier();
	pg_atomic_write_u32(&c5m_shared->label_gen, next);
	LWLockRelease(c5m_shared->lock);
}
