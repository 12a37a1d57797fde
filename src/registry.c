/*-------------------------------------------------------------------------
 *
 * registry.c
 *		The shared registry: counters, histograms, the tracked-table list.
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
 * Which database may make a series live or add a status (its quota), and
 * how the dictionary is cleared while transactions hold its ids, is in
 * labels.c, with the dictionary itself.
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

#include "access/xlog.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "layout.h"
#include "registry.h"
#include "settings.h"

C5Shared   *c5m_shared = NULL;
pg_atomic_uint64 *c5m_counters = NULL;
pg_atomic_uint32 *c5m_live = NULL;
char		(*c5m_status_names)[C5M_LABEL_LEN] = NULL;
Oid		   *c5m_status_owner = NULL;	/* database that added each status */

#define COUNTERS_PER_LINE ((int) (PG_CACHE_LINE_SIZE / sizeof(pg_atomic_uint64)))

static pg_atomic_uint64 *all_counters = NULL;	/* stripe 0, then the others */
static int	stride = 0;			/* counters per stripe, whole cache lines */
static C5Histogram *my_hists = NULL;	/* this process's histograms */

static int	registry_nbuckets(void);

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
	return size;
}

/*
 * Attach to (or create) the registry.  Runs in the postmaster at startup
 * and after a crash, and in every EXEC_BACKEND child.  Returns whether it
 * was created, empty, by this call.
 */
bool
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

	if (!found)
	{
		char	   *errmsg;

		c5m_shared->lock = c5m_lock(C5M_LOCK_REGISTRY);
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
		c5m_shared->tracked_seen = false;
		for (i = 0; i < C5M_MAX_DATABASES; i++)
		{
			c5m_shared->dbs[i].dboid = InvalidOid;
			c5m_shared->dbs[i].nstatus = 0;
			pg_atomic_init_u32(&c5m_shared->dbs[i].nseries, 0);
		}

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
	return !found;
}

/*
 * After the postmaster loaded a saved registry (persist.c): a saved list
 * of tracked tables is complete, so /readyz may trust it (handler.c).
 */
void
c5m_registry_loaded(void)
{
	int			i;

	for (i = 0; i < C5M_MAX_TRACKED; i++)
		if (c5m_shared->tracked[i].flow >= 0)
			c5m_shared->tracked_seen = true;
}

/* Lock `id` of the c5metrics tranche. */
LWLock *
c5m_lock(C5LockId id)
{
	return &(GetNamedLWLockTranche(C5M_TRANCHE))[id].lock;
}

/*
 * Add from now on to the stripe of this process's PGPROC number.  Called
 * by a backend when it first captures something, and by the HTTP worker.
 */
void
c5m_registry_pick_stripe(void)
{
	int			k = MyProc != NULL ? C5M_MY_PROCNO() % C5M_STRIPES : 0;

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
	c5m_count(c5m_shared->layout.base[C5_STORE_HTTP_REQUESTS] + path * C5_NHTTPCODES + code, 1);
}

void
c5m_http_refused(C5HttpRefusal why)
{
	c5m_count(c5m_shared->layout.base[C5_STORE_HTTP_REFUSED] + why, 1);
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

/* Zero counter `idx` in every stripe (labels.c, clearing the dictionary). */
void
c5m_counter_zero(int idx)
{
	int			k;

	for (k = 0; k < C5M_STRIPES; k++)
		pg_atomic_write_u64(&all_counters[(Size) k * stride + idx], 0);
}

/*
 * Replace this database's entries in the tracked-table list (the source of
 * c5metrics_tracked_tables, which the HTTP worker reads without SQL).  One
 * database holds at most C5M_MAX_TRACKED_PER_DB entries, so that a role
 * attaching hundreds of tables of its own cannot push every other
 * database out of the list; tables beyond that are tracked as usual but
 * not counted in the gauge.
 */
void
c5m_tracked_sync(Oid dboid, int n, const Oid *relids, const int *flows,
				 const bool *problems)
{
	int			i,
				j = 0;

	n = Min(n, C5M_MAX_TRACKED_PER_DB);
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
		c5m_shared->tracked_problem[i] = problems != NULL && problems[j];
		j++;
		c5m_shared->tracked_seen = true;
	}
	LWLockRelease(c5m_shared->lock);
}

/*
 * A trigger of a tracked table fired in this database: make sure the
 * shared list knows the table.  The attach functions keep the list, but a
 * promoted standby (or a server whose saved registry was lost) starts
 * with an empty one, and /readyz reads it.  Called once per trigger and
 * backend, when the trigger cache entry is built; a full list, or a
 * database holding its share of it, is left as it is.  `problem` marks the
 * attachment broken (its trigger no longer matches its table, or its guard
 * could not run); only c5m_tracked_sync(), which knows every attachment's
 * state from the catalogs, clears the mark: a trigger that resolves fine
 * says nothing of the guard's sales table or of its sibling triggers.
 */
void
c5m_tracked_note(Oid dboid, Oid relid, int flow, bool problem)
{
	int			i,
				free_slot = -1,
				mine = 0;

	LWLockAcquire(c5m_shared->lock, LW_SHARED);
	for (i = 0; i < C5M_MAX_TRACKED; i++)
	{
		C5TrackedEntry *e = &c5m_shared->tracked[i];

		if (e->flow == flow && e->relid == relid && e->dboid == dboid &&
			(!problem || c5m_shared->tracked_problem[i]))
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
		{
			if (problem)
				c5m_shared->tracked_problem[i] = true;
			break;
		}
		if (e->flow < 0 && free_slot < 0)
			free_slot = i;
		if (e->flow >= 0 && e->dboid == dboid)
			mine++;
	}
	if (i == C5M_MAX_TRACKED && free_slot >= 0 && mine < C5M_MAX_TRACKED_PER_DB)
	{
		c5m_shared->tracked[free_slot].dboid = dboid;
		c5m_shared->tracked[free_slot].relid = relid;
		c5m_shared->tracked[free_slot].flow = flow;
		c5m_shared->tracked_problem[free_slot] = problem;
		c5m_shared->tracked_seen = true;
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
		int			pair = (i - s->l.base[C5_STORE_TRANSITIONS]) / C5_NRESULTS;

		/*
		 * Of the transitions' nstatus^2 triples only the live ones can
		 * have counted anything (counting claims the series first): skip
		 * the stripes of the rest.
		 */
		if (i >= s->l.base[C5_STORE_TRANSITIONS] && pair < s->l.nstatus * s->l.nstatus &&
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
		{
			s->tracked[flow]++;
			if (c5m_shared->tracked_problem[i])
				s->problems[flow]++;
		}
	}
	stable = C5M_GEN_VALID(gen) && c5m_label_gen() == gen;
	LWLockRelease(c5m_shared->lock);
	if (!stable && ++tries < 3)
	{
		memset(s->tracked, 0, sizeof(s->tracked));
		memset(s->problems, 0, sizeof(s->problems));
		goto retry;
	}
	if (!stable)
		for (i = 0; i < s->l.nlive; i++)
			if (!c5m_live_fixed(&s->l, i))
				s->live[i] = 0;

	s->nseries = pg_atomic_read_u32(&c5m_shared->nseries);
	s->in_recovery = RecoveryInProgress();
	return s;
}
