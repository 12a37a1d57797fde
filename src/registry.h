/*-------------------------------------------------------------------------
 *
 * registry.h
 *		The shared registry: counters, histograms, the tracked-table list.
 *
 * The registry is one shared-memory segment holding a flat array of 64-bit
 * atomic counters whose layout (which index is which series) is computed
 * from the settings alone, so every process derives the same layout
 * without talking to anyone.  Histograms live beside it, each behind its
 * own spinlock so a reader never sees a bucket without its sum.
 *
 *-------------------------------------------------------------------------
 */
#ifndef C5M_REGISTRY_H
#define C5M_REGISTRY_H

#include "datatype/timestamp.h"
#include "port/atomics.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "catalog.h"
#include "layout.h"

/*
 * One histogram, on cache lines of its own.  The lock, the sum and the
 * first buckets share the first line, so an observation in one of the
 * short buckets -- most of them -- writes one line.
 */
typedef struct pg_attribute_aligned(PG_CACHE_LINE_SIZE) C5Histogram
{
	slock_t		mutex;			/* protects the fields below */
	uint64		sum_us;			/* microseconds, exact */
	uint64		buckets[C5M_MAX_BUCKETS + 1];	/* not cumulative; last is +Inf */
} C5Histogram;

typedef struct C5TrackedEntry
{
	Oid			dboid;
	Oid			relid;
	int32		flow;			/* C5Flow, or -1 when the slot is free */
} C5TrackedEntry;

/*
 * Counters and histograms are kept in C5M_STRIPES copies ("stripes"); a
 * process adds to the stripe of its PGPROC number and readers sum them, so
 * backends committing on different CPUs do not write the same cache lines
 * (registry.c).
 */
#define C5M_STRIPES 8

/* The locks of the tranche C5M_TRANCHE, by what they protect. */
#define C5M_TRANCHE "c5metrics"
typedef enum C5LockId
{
	C5M_LOCK_REGISTRY,			/* C5Shared.lock: see C5Shared */
	C5M_LOCK_THROTTLE,			/* the lead throttle's buckets (throttle.c) */
	C5M_LOCK_SLI,				/* the SLI ring's one writer (sli.c) */
	C5M_NLOCKS
} C5LockId;

typedef struct C5HistStripe
{
	C5Histogram hist[C5_NHISTS];	/* whole cache lines: C5Histogram is aligned */
} C5HistStripe;

/*
 * What one database has taken of the shared budgets (registry.c).  The
 * last entry of C5Shared.dbs has no database: every database that finds
 * the others taken shares it.
 */
typedef struct C5DbUsage
{
	Oid			dboid;			/* InvalidOid: free; protected by lock */
	int			nstatus;		/* statuses it added; protected by lock */
	pg_atomic_uint32 nseries;	/* dynamic series it made live; atomic */
} C5DbUsage;

/*
 * The dictionary generation (C5Shared.label_gen) is even while the
 * dictionary is usable and odd while c5metrics.reset_labels() clears it;
 * it never is 0, which marks an operation that needs no check.
 */
#define C5M_GEN_VALID(g)	((g) != 0 && ((g) & 1) == 0)

/*
 * One process's window of counting into dynamic series, padded to a cache
 * line: it holds the generation the process counts under, or 0.
 */
typedef union C5GenSlot
{
	pg_atomic_uint32 gen;
	char		pad[PG_CACHE_LINE_SIZE];
} C5GenSlot;

/*
 * The shared registry.  Locking: `lock` is taken exclusively to add a
 * status to the dictionary, to change the tracked-table list or the
 * per-database entries and to reset; shared to read the dictionary.
 * Counters and live flags are atomics and need no lock; histograms have
 * their own spinlocks.  A live flag holds the OID of the database that
 * made the series live (any nonzero value means live).
 */
typedef struct C5Shared
{
	C5HistStripe stripes[C5M_STRIPES]; /* first: cache-line aligned */
	LWLock	   *lock;			/* see above */
	C5Layout	layout;			/* immutable after startup */
	double		bounds[C5M_MAX_BUCKETS];	/* histogram upper bounds, seconds */
	TimestampTz stats_reset;	/* protected by lock */
	pg_atomic_uint32 nseries;	/* series currently exposed */
	int			nstatus_used;	/* protected by lock */
	pg_atomic_uint32 label_gen; /* dictionary generation; written under lock */
	C5TrackedEntry tracked[C5M_MAX_TRACKED];	/* protected by lock */
	bool		tracked_seen;	/* protected by lock: tracked has had an
								 * entry since shared memory was set up */
	bool		tracked_problem[C5M_MAX_TRACKED];	/* protected by lock: the
													 * entry's attachment is
													 * broken (not saved) */
	C5DbUsage	dbs[C5M_MAX_DATABASES];	/* see C5DbUsage */
	C5Histogram render;			/* the HTTP worker's render durations */

	/*
	 * variable part follows: counter stripes, live flags, status names,
	 * status owners, one C5GenSlot per PGPROC
	 */
} C5Shared;

extern PGDLLEXPORT C5Shared *c5m_shared;
extern pg_atomic_uint64 *c5m_counters;	/* this process's stripe */
extern pg_atomic_uint32 *c5m_live;
extern char (*c5m_status_names)[C5M_LABEL_LEN];
extern Oid *c5m_status_owner;
extern Size c5m_registry_shmem_size(void);
extern bool c5m_registry_shmem_init(void);
extern void c5m_registry_loaded(void);
extern LWLock *c5m_lock(C5LockId id);
extern PGDLLEXPORT bool c5m_registry_ready(void);
extern int	c5m_hist_bucket(double seconds);
extern void c5m_hist_add(int hist, const uint64 *buckets, int lo, int hi, uint64 sum_us);
extern const double c5m_render_bounds[C5M_RENDER_BUCKETS];
extern PGDLLEXPORT void c5m_render_observe(double seconds);
extern PGDLLEXPORT void c5m_http_count(C5HttpPath path, C5HttpCode code);
extern PGDLLEXPORT void c5m_http_refused(C5HttpRefusal why);
extern void c5m_registry_reset(void);
extern PGDLLEXPORT void c5m_registry_pick_stripe(void);
extern uint64 c5m_counter_read(int idx);
extern void c5m_counter_zero(int idx);
extern void c5m_hist_read(int hist, uint64 *buckets, uint64 *sum_us);
extern void c5m_tracked_sync(Oid dboid, int n, const Oid *relids, const int *flows,
							 const bool *problems);
extern void c5m_tracked_note(Oid dboid, Oid relid, int flow, bool problem);
extern PGDLLEXPORT struct C5Snapshot *c5m_snapshot_take(void);

/* The status dictionary's generation: read before looking statuses up. */
static inline uint32
c5m_label_gen(void)
{
	return pg_atomic_read_u32(&c5m_shared->label_gen);
}

static inline void
c5m_count(int idx, uint64 n)
{
	if (n != 0)
		pg_atomic_fetch_add_u64(&c5m_counters[idx], n);
}

/* Events that could not be counted: c5metrics_events_lost_total. */
static inline void
c5m_count_lost(uint64 n)
{
	c5m_count(c5m_shared->layout.base[C5_STORE_EVENTS_LOST], n);
}

/*
 * A copy of the registry, taken by c5m_snapshot_take() (registry.c): every
 * reader formats from one, holding no lock.
 */
typedef struct C5Snapshot
{
	C5Layout	l;
	double		bounds[C5M_MAX_BUCKETS];
	TimestampTz stats_reset;
	uint32		nseries;
	int			nstatus_used;
	bool		in_recovery;
	int			tracked[C5_NFLOWS];
	int			problems[C5_NFLOWS];	/* of those, attachments broken */
	uint64	   *ctr;
	uint32	   *live;
	char		(*names)[C5M_LABEL_LEN];
	uint64		buckets[C5_NHISTS + 1][C5M_MAX_BUCKETS + 1];	/* last: render */
	uint64		sum_us[C5_NHISTS + 1];
} C5Snapshot;

#define C5_RENDER_HIST C5_HIST_RENDER	/* index of the render histogram in a snapshot */

#endif							/* C5M_REGISTRY_H */
