/*-------------------------------------------------------------------------
 *
 * registry.c
 *		The shared registry: counters, histograms, the status dictionary.
 *
 * Design.  Every series the extension can ever expose has a fixed index in
 * one flat array of atomic counters.  Fixed-domain families (results,
 * reasons, refund types) are allocated in full at startup and always
 * exposed, so that ratios never see "no data".  The two families whose
 * labels come from data -- sale status transitions and exception types --
 * have their whole index space allocated too, but a series is only exposed
 * once it is "live"; making it live is a lock-free claim against
 * c5metrics.max_series.  A failed claim folds the observation into the
 * family's "other" series, which is live from the start.  So nothing ever
 * allocates after startup, and a commit or abort callback never fails.
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
 * the shares recounted from them at start (c5m_registry_recount).
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
 * Locking.  c5m_shared->lock (exclusive) guards adding a status to the
 * dictionary, the per-database entries, the tracked-table list and the
 * resets; readers of the dictionary take it shared.  Counters, live flags,
 * the per-database series counts, the generation and the slots are
 * atomics.  Each histogram has a spinlock held only to add or copy its
 * buckets and sum together.
 *
 * Stripes.  Counters and histograms exist C5M_STRIPES times, each copy on
 * cache lines of its own.  A process adds to the stripe of its PGPROC
 * number (c5m_registry_pick_stripe; stripe 0 until it has picked one), and
 * every reader sums the stripes.  Two backends committing at once on
 * different CPUs then rarely write the same cache line: with one copy,
 * every commit pulled the lines of the flow counters and histograms from
 * the CPU that committed last.  Which stripe holds a count does not
 * matter; only the sums are ever read.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/twophase.h"
#include "access/xlog.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "c5metrics.h"

C5Shared   *c5m_shared = NULL;
pg_atomic_uint64 *c5m_counters = NULL;
pg_atomic_uint32 *c5m_live = NULL;
char		(*c5m_status_names)[C5M_LABEL_LEN] = NULL;
Oid		   *c5m_status_owner = NULL;	/* database that added each status */

#define COUNTERS_PER_LINE ((int) (PG_CACHE_LINE_SIZE / sizeof(pg_atomic_uint64)))

static pg_atomic_uint64 *all_counters = NULL;	/* stripe 0, then the others */
static int	stride = 0;			/* counters per stripe, whole cache lines */
static C5Histogram *my_hists = NULL;	/* this process's histograms */
static C5GenSlot *gen_slots = NULL;	/* one per PGPROC */
static int	ngen_slots = 0;
static C5DbUsage *my_db = NULL;	/* this backend's share, see pick_database */
static uint32 my_db_gen = 0;	/* label_gen when my_db was picked */

#define OVERFLOW_DB (C5M_MAX_DATABASES - 1)

static int	registry_nbuckets(void);

/*
 * Parse c5metrics.duration_buckets.  Returns the number of bounds, or -1
 * with *errmsg set.
 */
int
c5m_parse_buckets(const char *value, double *bounds, char **errmsg)
{
	const char *p = value;
	int			n = 0;

	while (*p)
	{
		char	   *end;
		double		v;

		while (*p == ' ')
			p++;
		v = strtod(p, &end);
		if (end == p || isnan(v) || isinf(v) || v <= 0)
		{
			*errmsg = psprintf("\"%s\" is not a positive number of seconds.", p);
			return -1;
		}
		if (n >= C5M_MAX_BUCKETS)
		{
			*errmsg = psprintf("At most %d bounds are allowed.", C5M_MAX_BUCKETS);
			return -1;
		}
		if (n > 0 && v <= bounds[n - 1])
		{
			*errmsg = psprintf("Bounds must increase strictly, but %g follows %g.",
							   v, bounds[n - 1]);
			return -1;
		}
		bounds[n++] = v;
		p = end;
		while (*p == ' ')
			p++;
		if (*p == ',')
			p++;
		else if (*p != '\0')
		{
			*errmsg = psprintf("Unexpected \"%s\"; separate bounds with commas.", p);
			return -1;
		}
	}
	if (n == 0)
	{
		*errmsg = pstrdup("At least one bound is required.");
		return -1;
	}
	return n;
}

/* Every PGPROC may count: backends, auxiliary processes, prepared xacts. */
static int
gen_slot_count(void)
{
	return MaxBackends + NUM_AUXILIARY_PROCS + max_prepared_xacts;
}

static int
registry_nbuckets(void)
{
	double		bounds[C5M_MAX_BUCKETS];
	char	   *errmsg;
	int			n = c5m_parse_buckets(c5m_duration_buckets, bounds, &errmsg);

	/* the check hook has already accepted the value */
	Assert(n > 0);
	return n;
}

Size
c5m_registry_shmem_size(void)
{
	C5Layout	l;
	Size		size;

	c5m_compute_layout(&l, c5m_max_label_values, registry_nbuckets());
	size = CACHELINEALIGN(sizeof(C5Shared));
	size = add_size(size, mul_size(mul_size(TYPEALIGN(COUNTERS_PER_LINE, l.ncounters),
											C5M_STRIPES),
								   sizeof(pg_atomic_uint64)));
	size = add_size(size, mul_size(l.nlive, sizeof(pg_atomic_uint32)));
	size = add_size(size, mul_size(l.nstatus, C5M_LABEL_LEN));
	size = add_size(size, mul_size(l.nstatus, sizeof(Oid)));
	size = CACHELINEALIGN(size);
	size = add_size(size, mul_size(gen_slot_count(), sizeof(C5GenSlot)));
	return size;
}

/*
 * Attach to (or create) the registry.  Runs in the postmaster at startup
 * and after a crash, and in every EXEC_BACKEND child.
 */
void
c5m_registry_shmem_init(void)
{
	bool		found;
	C5Layout	l;
	char	   *p;
	int			i;

	c5m_compute_layout(&l, c5m_max_label_values, registry_nbuckets());

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	c5m_shared = ShmemInitStruct("c5metrics registry",
								 c5m_registry_shmem_size(), &found);
	p = (char *) c5m_shared + CACHELINEALIGN(sizeof(C5Shared));
	stride = TYPEALIGN(COUNTERS_PER_LINE, l.ncounters);
	all_counters = c5m_counters = (pg_atomic_uint64 *) p;
	my_hists = c5m_shared->stripes[0].hist;
	p += (Size) stride * C5M_STRIPES * sizeof(pg_atomic_uint64);
	c5m_live = (pg_atomic_uint32 *) p;
	p += l.nlive * sizeof(pg_atomic_uint32);
	c5m_status_names = (char (*)[C5M_LABEL_LEN]) p;
	p += (Size) l.nstatus * C5M_LABEL_LEN;
	c5m_status_owner = (Oid *) p;
	p += l.nstatus * sizeof(Oid);
	p = (char *) c5m_shared + CACHELINEALIGN(p - (char *) c5m_shared);
	gen_slots = (C5GenSlot *) p;
	ngen_slots = gen_slot_count();

	if (!found)
	{
		char	   *errmsg;

		c5m_shared->lock = &(GetNamedLWLockTranche("c5metrics"))->lock;
		c5m_shared->layout = l;
		c5m_parse_buckets(c5m_duration_buckets, c5m_shared->bounds, &errmsg);
		for (i = 0; i < stride * C5M_STRIPES; i++)
			pg_atomic_init_u64(&all_counters[i], 0);
		for (i = 0; i < l.nlive; i++)
			pg_atomic_init_u32(&c5m_live[i], 0);
		for (i = 0; i < C5_NHISTS * C5M_STRIPES; i++)
		{
			C5Histogram *h = &c5m_shared->stripes[i / C5_NHISTS].hist[i % C5_NHISTS];

			SpinLockInit(&h->mutex);
			memset(h->buckets, 0, sizeof(h->buckets));
			h->sum_us = 0;
		}
		SpinLockInit(&c5m_shared->render.mutex);
		memset(c5m_shared->render.buckets, 0, sizeof(c5m_shared->render.buckets));
		c5m_shared->render.sum_us = 0;
		memset(c5m_status_names, 0, (Size) l.nstatus * C5M_LABEL_LEN);
		strlcpy(c5m_status_names[C5_STATUS_OTHER], "other", C5M_LABEL_LEN);
		strlcpy(c5m_status_names[C5_STATUS_NONE], "none", C5M_LABEL_LEN);
		memset(c5m_status_owner, 0, l.nstatus * sizeof(Oid));
		c5m_shared->nstatus_used = 2;
		for (i = 0; i < C5M_MAX_TRACKED; i++)
			c5m_shared->tracked[i].flow = -1;
		for (i = 0; i < C5M_MAX_DATABASES; i++)
		{
			c5m_shared->dbs[i].dboid = InvalidOid;
			c5m_shared->dbs[i].nstatus = 0;
			pg_atomic_init_u32(&c5m_shared->dbs[i].nseries, 0);
		}
		for (i = 0; i < ngen_slots; i++)
			pg_atomic_init_u32(&gen_slots[i].gen, 0);

		/*
		 * A generation of its own for each start: an index parked under a
		 * dictionary that was not saved (a crash) cannot match it.  A
		 * loaded registry brings back the generation it was saved with.
		 */
		pg_atomic_init_u32(&c5m_shared->label_gen,
						   Max(((uint32) GetCurrentTimestamp()) & ~(uint32) 1, 2));

		/* the "other" series of the dynamic families always exist */
		for (i = 0; i < C5_NFLOWS; i++)
			pg_atomic_write_u32(&c5m_live[l.live_exceptions + i], 1);
		pg_atomic_write_u32(&c5m_live[l.live_transitions], 1);
		pg_atomic_init_u32(&c5m_shared->nseries, l.fixed_series);
		c5m_shared->stats_reset = GetCurrentTimestamp();
	}
	LWLockRelease(AddinShmemInitLock);

	/*
	 * Only the postmaster loads the saved registry, and only it saves it,
	 * at a clean shutdown: a backend exiting must not write the file.
	 */
	if (!IsUnderPostmaster && !found)
	{
		c5m_persist_load();
		on_shmem_exit(c5m_persist_save, (Datum) 0);
	}
}

/*
 * Add from now on to the stripe of this process's PGPROC number.  Called
 * by a backend when it first captures something, and by the HTTP worker.
 */
void
c5m_registry_pick_stripe(void)
{
	int			k = MyProc != NULL ? MyProc->pgprocno % C5M_STRIPES : 0;

	c5m_counters = all_counters + (Size) k * stride;
	my_hists = c5m_shared->stripes[k].hist;
}

/* The value of counter `idx`: the sum of its stripes. */
uint64
c5m_counter_read(int idx)
{
	uint64		v = 0;
	int			k;

	for (k = 0; k < C5M_STRIPES; k++)
		v += pg_atomic_read_u64(&all_counters[(Size) k * stride + idx]);
	return v;
}

/*
 * Add histogram `hist` of every stripe into buckets[] and *sum_us (the
 * render histogram when hist is C5_NHISTS), each stripe under its spinlock.
 */
void
c5m_hist_read(int hist, uint64 *buckets, uint64 *sum_us)
{
	int			k;
	int			i;

	memset(buckets, 0, sizeof(uint64) * (C5M_MAX_BUCKETS + 1));
	*sum_us = 0;
	for (k = 0; k < (hist < C5_NHISTS ? C5M_STRIPES : 1); k++)
	{
		C5Histogram *h = hist < C5_NHISTS ? &c5m_shared->stripes[k].hist[hist] : &c5m_shared->render;

		SpinLockAcquire(&h->mutex);
		for (i = 0; i <= C5M_MAX_BUCKETS; i++)
			buckets[i] += h->buckets[i];
		*sum_us += h->sum_us;
		SpinLockRelease(&h->mutex);
	}
}

pg_attribute_hot bool
c5m_registry_ready(void)
{
	return c5m_shared != NULL;
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
c5m_registry_pick_database(void)
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

/* Is live flag `i` one of the "other" series that always exist? */
static bool
live_fixed(const C5Layout *l, int i)
{
	if (i >= l->live_transitions)
		return i == l->live_transitions;
	return i - l->live_exceptions < C5_NFLOWS;
}

/*
 * Recount every database's share from the owners of the statuses and live
 * series, after the postmaster loaded a saved registry.
 */
void
c5m_registry_recount(void)
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

		if (owner == InvalidOid || live_fixed(l, i))
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
 * exchange is the full barrier that c5m_registry_reset_labels() pairs
 * with its own (see the file header).
 */
pg_attribute_hot uint32
c5m_dyn_begin(void)
{
	uint32		g = c5m_label_gen();

	if (MyProc == NULL || MyProc->pgprocno >= ngen_slots)
		return 0;
	(void) pg_atomic_exchange_u32(&gen_slots[MyProc->pgprocno].gen, g);
	if (!C5M_GEN_VALID(g) || c5m_label_gen() != g)
		return 0;
	return g;
}

pg_attribute_hot void
c5m_dyn_end(void)
{
	if (MyProc == NULL || MyProc->pgprocno >= ngen_slots)
		return;
	pg_write_barrier();
	pg_atomic_write_u32(&gen_slots[MyProc->pgprocno].gen, 0);
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

	if (idx >= l->transitions &&
		idx < l->transitions + l->nstatus * l->nstatus * C5_NRESULTS)
	{
		other = l->transitions + (idx - l->transitions) % C5_NRESULTS;
		if (other != idx)
			c5m_count(l->label_overflow + C5_DYN_TRANSITION, n);
		return other;
	}
	if (idx >= l->exceptions && idx < l->transitions)
	{
		other = l->exceptions + (idx - l->exceptions) % C5_NFLOWS;
		if (other != idx)
			c5m_count(l->label_overflow + C5_DYN_EXCEPTION, n);
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
	pg_atomic_fetch_add_u64(&c5m_counters[c5m_shared->layout.series_overflow], 1);
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
	return l->transitions + pair * C5_NRESULTS;
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
		pg_atomic_fetch_add_u64(&c5m_counters[l->label_overflow + C5_DYN_EXCEPTION], 1);
		cell = flow;			/* condition 0 is "other" */
	}
	return l->exceptions + cell;
}

/*
 * A status value is usable as a label if it is short, valid UTF-8 and has
 * no control characters; anything else would be unbounded or unsafe.
 */
static bool
label_acceptable(const char *value, int len)
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

	if (!label_acceptable(value, len))
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
	pg_atomic_fetch_add_u64(&c5m_counters[c5m_shared->layout.label_overflow + C5_DYN_TRANSITION], 1);
	return C5_STATUS_OTHER;
}

/* Index of the bucket that `seconds` falls in; nbuckets means +Inf. */
pg_attribute_hot int
c5m_hist_bucket(double seconds)
{
	int			n = c5m_shared->layout.nbuckets;
	int			i;

	for (i = 0; i < n; i++)
		if (seconds <= c5m_shared->bounds[i])
			return i;
	return n;
}

/* Add locally aggregated observations, all in buckets lo..hi, to a histogram. */
pg_attribute_hot void
c5m_hist_add(int hist, const uint64 *buckets, int lo, int hi, uint64 sum_us)
{
	C5Histogram *h = &my_hists[hist];
	int			i;

	SpinLockAcquire(&h->mutex);
	for (i = lo; i <= hi; i++)
		h->buckets[i] += buckets[i];
	h->sum_us += sum_us;
	SpinLockRelease(&h->mutex);
}

/* Render durations of the HTTP worker: a scrape takes well under 1 s. */
const double c5m_render_bounds[C5M_RENDER_BUCKETS] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1
};

void
c5m_render_observe(double seconds)
{
	C5Histogram *h = &c5m_shared->render;
	int			i;

	for (i = 0; i < C5M_RENDER_BUCKETS; i++)
		if (seconds <= c5m_render_bounds[i])
			break;
	SpinLockAcquire(&h->mutex);
	h->buckets[i]++;
	h->sum_us += (uint64) (seconds * 1000000.0);
	SpinLockRelease(&h->mutex);
}

void
c5m_http_count(C5HttpPath path, C5HttpCode code)
{
	c5m_count(c5m_shared->layout.http_requests + path * C5_NHTTPCODES + code, 1);
}

void
c5m_http_refused(C5HttpRefusal why)
{
	c5m_count(c5m_shared->layout.http_refused + why, 1);
}

/*
 * Zero every value.  Series stay live and statuses stay interned: a
 * transaction in flight may hold their indexes.
 */
void
c5m_registry_reset(void)
{
	int			i;

	LWLockAcquire(c5m_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < stride * C5M_STRIPES; i++)
		pg_atomic_write_u64(&all_counters[i], 0);
	for (i = 0; i <= C5_NHISTS * C5M_STRIPES; i++)
	{
		C5Histogram *h = i < C5_NHISTS * C5M_STRIPES ?
			&c5m_shared->stripes[i / C5_NHISTS].hist[i % C5_NHISTS] : &c5m_shared->render;

		SpinLockAcquire(&h->mutex);
		memset(h->buckets, 0, sizeof(h->buckets));
		h->sum_us = 0;
		SpinLockRelease(&h->mutex);
	}
	c5m_shared->stats_reset = GetCurrentTimestamp();
	LWLockRelease(c5m_shared->lock);
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
c5m_registry_reset_labels(const Oid *gone, int ngone)
{
	const C5Layout *l = &c5m_shared->layout;
	int			ncells = l->transitions - l->exceptions +
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
		if (!live_fixed(l, i))
			pg_atomic_write_u32(&c5m_live[i], 0);
	/* the exceptions' cells, then the transitions' triples, are adjacent */
	for (k = 0; k < C5M_STRIPES; k++)
		for (i = 0; i < ncells; i++)
		{
			int			idx = l->exceptions + i;

			if (idx < l->exceptions + C5_NFLOWS ||
				(idx >= l->transitions && idx < l->transitions + C5_NRESULTS))
				continue;
			pg_atomic_write_u64(&all_counters[(Size) k * stride + idx], 0);
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

/*
 * Replace this database's entries in the tracked-table list (the source of
 * c5metrics_tracked_tables, which the HTTP worker reads without SQL).
 */
void
c5m_tracked_sync(Oid dboid, int n, const Oid *relids, const int *flows)
{
	int			i,
				j = 0;

	LWLockAcquire(c5m_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < C5M_MAX_TRACKED; i++)
		if (c5m_shared->tracked[i].dboid == dboid)
			c5m_shared->tracked[i].flow = -1;
	for (i = 0; i < C5M_MAX_TRACKED && j < n; i++)
	{
		C5TrackedEntry *e = &c5m_shared->tracked[i];

		if (e->flow >= 0)
			continue;
		e->dboid = dboid;
		e->relid = relids[j];
		e->flow = flows[j];
		j++;
	}
	LWLockRelease(c5m_shared->lock);
}

/*
 * A trigger of a tracked table fired in this database: make sure the
 * shared list knows the table.  The attach functions keep the list, but a
 * promoted standby (or a server whose saved registry was lost) starts
 * with an empty one, and /readyz reads it.  Called once per trigger and
 * backend, when the trigger cache entry is built; a full list is left as
 * it is.
 */
void
c5m_tracked_note(Oid dboid, Oid relid, int flow)
{
	int			i,
				free_slot = -1;

	LWLockAcquire(c5m_shared->lock, LW_SHARED);
	for (i = 0; i < C5M_MAX_TRACKED; i++)
	{
		C5TrackedEntry *e = &c5m_shared->tracked[i];

		if (e->flow == flow && e->relid == relid && e->dboid == dboid)
		{
			LWLockRelease(c5m_shared->lock);
			return;
		}
	}
	LWLockRelease(c5m_shared->lock);

	LWLockAcquire(c5m_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < C5M_MAX_TRACKED; i++)
	{
		C5TrackedEntry *e = &c5m_shared->tracked[i];

		if (e->flow == flow && e->relid == relid && e->dboid == dboid)
			break;
		if (e->flow < 0 && free_slot < 0)
			free_slot = i;
	}
	if (i == C5M_MAX_TRACKED && free_slot >= 0)
	{
		c5m_shared->tracked[free_slot].dboid = dboid;
		c5m_shared->tracked[free_slot].relid = relid;
		c5m_shared->tracked[free_slot].flow = flow;
	}
	LWLockRelease(c5m_shared->lock);
}

/*
 * Copy the registry for a reader: counters read atomically, the status
 * dictionary and tracked list under the lock held shared, each histogram
 * under its spinlock, all of it again if the dictionary was cleared
 * meanwhile.
 */
C5Snapshot *
c5m_snapshot_take(void)
{
	C5Snapshot *s = palloc0(sizeof(C5Snapshot));
	uint32		gen;
	bool		stable;
	int			tries = 0;
	int			i;

	s->l = c5m_shared->layout;
	memcpy(s->bounds, c5m_shared->bounds, sizeof(s->bounds));
	s->ctr = palloc(s->l.ncounters * sizeof(uint64));
	s->live = palloc(s->l.nlive * sizeof(uint32));
	s->names = palloc((Size) s->l.nstatus * C5M_LABEL_LEN);

	/*
	 * Live flags and counters are read without the lock, the names under
	 * it: if c5metrics.reset_labels() ran in between, the flags and the
	 * names may not belong together, so read again.  After a few tries
	 * (resets in a row), the series of label values are left out.
	 */
retry:
	gen = c5m_label_gen();
	for (i = 0; i < s->l.nlive; i++)
		s->live[i] = pg_atomic_read_u32(&c5m_live[i]);
	for (i = 0; i < s->l.ncounters; i++)
	{
		int			pair = (i - s->l.transitions) / C5_NRESULTS;

		/*
		 * Of the transitions' nstatus^2 triples only the live ones can
		 * have counted anything (counting claims the series first): skip
		 * the stripes of the rest.
		 */
		if (i >= s->l.transitions && pair < s->l.nstatus * s->l.nstatus &&
			!s->live[s->l.live_transitions + pair])
			s->ctr[i] = 0;
		else
			s->ctr[i] = c5m_counter_read(i);
	}
	for (i = 0; i <= C5_NHISTS; i++)
		c5m_hist_read(i, s->buckets[i], &s->sum_us[i]);

	LWLockAcquire(c5m_shared->lock, LW_SHARED);
	s->stats_reset = c5m_shared->stats_reset;
	s->nstatus_used = c5m_shared->nstatus_used;
	memcpy(s->names, c5m_status_names, (Size) s->nstatus_used * C5M_LABEL_LEN);
	for (i = 0; i < C5M_MAX_TRACKED; i++)
	{
		int			flow = c5m_shared->tracked[i].flow;

		if (flow >= 0 && flow < C5_NFLOWS)
			s->tracked[flow]++;
	}
	stable = C5M_GEN_VALID(gen) && c5m_label_gen() == gen;
	LWLockRelease(c5m_shared->lock);
	if (!stable && ++tries < 3)
	{
		memset(s->tracked, 0, sizeof(s->tracked));
		goto retry;
	}
	if (!stable)
		for (i = 0; i < s->l.nlive; i++)
			if (!live_fixed(&s->l, i))
				s->live[i] = 0;

	s->nseries = pg_atomic_read_u32(&c5m_shared->nseries);
	s->in_recovery = RecoveryInProgress();
	return s;
}
