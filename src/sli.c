/*-------------------------------------------------------------------------
 *
 * sli.c
 *		The SLI ring: history of the SLOs' good and total counts, so that
 *		psql can answer windowed SLI, error-budget and burn-rate questions
 *		without Prometheus.
 *
 * Every c5metrics.sli_sample_interval (10 s by default) the HTTP worker
 * reads the registry (c5m_sli_tick) and records, per SLO, cumulative good
 * and total counts, plus the cumulative buckets of the two latency
 * histograms.  The counts are the ring's own: each tick adds what the
 * registry gained since the last one, and after c5metrics.reset() or a
 * crash (a new stats-reset time, or a counter that went down) it adds the
 * new values whole.  So they never decrease, and a window's delta is never
 * negative.
 *
 * A window's figure is the latest sample minus the first sample at or
 * after its start.  Samples live in three tiers of slots, each slot
 * stamped with its epoch (time / the tier's granularity); a slot whose
 * stamp is not the epoch asked for holds nothing for it:
 *		fine	10 s for 800 slots (2 h 13 min): the 5m to 2h windows;
 *		medium	2 min for 2200 slots (3 d 1 h): the 6h to 3d windows;
 *		coarse	15 min for 2960 slots (30 d 20 h): the 30d window.
 * A slot holds the first sample of its epoch, so a window covers at most
 * its length, and less by up to the tier's granularity.  The latest sample
 * is kept apart ("head") and rewritten every tick.
 *
 * Concurrency: one writer at a time (the worker's tick, a test's feed)
 * under the ring's LWLock, which the checkpoint holds shared while it
 * writes the ring out; readers take no lock.  Each slot has
 * a sequence counter, odd while it is written: a reader copies the slot
 * and keeps the copy only if the counter was even and unchanged.
 *
 * Persistence: the ring is written to pg_stat/c5metrics_sli.stat at a
 * clean shutdown and, by the worker, every c5metrics.sli_checkpoint_interval
 * (tmp file, fsync, durable rename: a reader never sees half a file).  At
 * start the postmaster loads it, so a crash loses at most one interval.
 * A file written with other histogram bounds, corrupt or cut short is
 * ignored with a LOG line, and so is one whose checksum matches but whose
 * samples do not hang together (see ring_problem).  A checkpoint that
 * fails is a WARNING every time; whatever blocks the file's names (a
 * symbolic link, a directory) is removed rather than followed, so that
 * the next checkpoint can succeed (persist.c's state-file helpers).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <unistd.h>

#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "port/pg_crc32c.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "storage/lwlock.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "persist.h"
#include "registry.h"
#include "settings.h"
#include "sli.h"
#include "statefile.h"

#define SLI_FILE		PGSTAT_STAT_PERMANENT_DIRECTORY "/c5metrics_sli.stat"
#define SLI_FILE_TMP	SLI_FILE ".tmp"
#define SLI_MAGIC		0xC5E7A511
#define SLI_FORMAT		1

/* The availability SLOs, in C5SliData.good/total. */
enum
{
	AV_PAID,
	AV_REFUND,
	AV_LEADS,
	N_AV
};

/* The latency histograms, in C5SliData.cum. */
enum
{
	LAT_CONSUME,
	LAT_REFUND,
	N_LAT
};

/*
 * Where each SLO of the catalog (catalog.h) is kept in the ring: an
 * availability's good and total, or a latency histogram, read at the SLO's
 * threshold (settings.c, c5m_slo_threshold).
 */
static const struct
{
	int			av;				/* AV_*, or -1 */
	int			lat;			/* LAT_*, or -1 */
}			slo_series[C5_NSLOS] = {
	[C5_SLO_SALE_PAID_AVAILABILITY] = {AV_PAID, -1},
	[C5_SLO_STOCK_CONSUME_LATENCY] = {-1, LAT_CONSUME},
	[C5_SLO_REFUND_AVAILABILITY] = {AV_REFUND, -1},
	[C5_SLO_REFUND_LATENCY] = {-1, LAT_REFUND},
	[C5_SLO_LEADS_AVAILABILITY] = {AV_LEADS, -1},
};

typedef struct C5SliData
{
	int64		epoch;			/* at / the tier's granularity; 0: empty */
	TimestampTz at;				/* when the sample was taken */
	uint64		good[N_AV];
	uint64		total[N_AV];
	uint64		cum[N_LAT][C5M_MAX_BUCKETS + 1];	/* cumulative by le; last +Inf */
} C5SliData;

typedef struct C5SliSlot
{
	pg_atomic_uint32 seq;		/* odd while being written */
	C5SliData	d;
} C5SliSlot;

typedef struct C5SliTier
{
	int			granularity;	/* seconds */
	int			nslots;
	int			first;			/* index of its first slot in slots[] */
} C5SliTier;

#define N_TIERS		3
#define N_SLOTS		(800 + 2200 + 2960)

static const C5SliTier tiers[N_TIERS] = {
	{10, 800, 0},
	{120, 2200, 800},
	{900, 2960, 3000},
};

typedef struct C5SliRing
{
	LWLock	   *lock;			/* one writer at a time (third lock of the tranche) */
	bool		paused;			/* a test feeds the ring: the worker stays out */
	/* the worker's accounting, protected by lock */
	TimestampTz last_reset;		/* the registry's stats-reset time last seen */
	uint64		last_good[N_AV];	/* raw registry values last seen */
	uint64		last_total[N_AV];
	uint64		last_cum[N_LAT][C5M_MAX_BUCKETS + 1];
	C5SliData	acc;			/* what the ring has counted so far */
	TimestampTz next_tick;
	TimestampTz next_checkpoint;
	/* samples */
	C5SliSlot	head;			/* the latest */
	C5SliSlot	slots[N_SLOTS];
} C5SliRing;

typedef struct C5SliFileHeader
{
	uint32		magic;
	uint32		format;
	uint32		pg_major;
	uint32		size;			/* sizeof(C5SliRing) */
	int32		nbuckets;
	double		bounds[C5M_MAX_BUCKETS];
} C5SliFileHeader;

/* The windows of docs/SLO.md; the budget window follows them in reports. */
static const struct
{
	const char *name;
	int			seconds;
}			windows[] = {
	{"5m", 300}, {"30m", 1800}, {"1h", 3600}, {"2h", 7200}, {"6h", 21600},
	{"1d", 86400}, {"3d", 259200}, {"30d", 2592000},
};

StaticAssertDecl(lengthof(windows) + 1 == C5M_SLI_NWINDOWS, "the report's windows");

static C5SliRing *ring = NULL;

PG_FUNCTION_INFO_V1(c5metrics_sli_windows);
PG_FUNCTION_INFO_V1(c5metrics_histogram_quantile);
PG_FUNCTION_INFO_V1(c5metrics_sli_feed);
PG_FUNCTION_INFO_V1(c5metrics_sli_clear);


Size
c5m_sli_shmem_size(void)
{
	return MAXALIGN(sizeof(C5SliRing));
}

static void
clear_ring(void)
{
	int			i;

	memset(&ring->last_reset, 0,
		   offsetof(C5SliRing, head) - offsetof(C5SliRing, last_reset));
	pg_atomic_init_u32(&ring->head.seq, 0);
	memset(&ring->head.d, 0, sizeof(C5SliData));
	for (i = 0; i < N_SLOTS; i++)
	{
		pg_atomic_init_u32(&ring->slots[i].seq, 0);
		memset(&ring->slots[i].d, 0, sizeof(C5SliData));
	}
}

void
c5m_sli_shmem_init(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	ring = ShmemInitStruct("c5metrics sli ring", sizeof(C5SliRing), &found);
	if (!found)
	{
		ring->lock = c5m_lock(C5M_LOCK_SLI);
		ring->paused = false;
		clear_ring();
	}
	LWLockRelease(AddinShmemInitLock);
}

/* ---- slots ---- */

static void
write_slot(C5SliSlot *slot, const C5SliData *d)
{
	pg_atomic_fetch_add_u32(&slot->seq, 1);	/* odd: being written */
	slot->d = *d;
	pg_atomic_fetch_add_u32(&slot->seq, 1);	/* even again; full barriers */
}

/* Copy a slot as one consistent whole; false if it kept changing. */
static bool
read_slot(C5SliSlot *slot, C5SliData *d)
{
	int			tries;

	for (tries = 0; tries < 1000; tries++)
	{
		uint32		before = pg_atomic_read_u32(&slot->seq);

		if (before & 1)
			continue;
		pg_read_barrier();
		*d = slot->d;
		pg_read_barrier();
		if (pg_atomic_read_u32(&slot->seq) == before)
			return true;
	}
	return false;
}

static int64
seconds_of(TimestampTz t)
{
	return t / USECS_PER_SEC;
}

/* Record `d` (taken at d->at) as the latest sample and in every tier. Caller holds the lock. */
static void
record(C5SliData *d)
{
	int			t;

	d->epoch = 1;
	write_slot(&ring->head, d);
	for (t = 0; t < N_TIERS; t++)
	{
		int64		epoch = seconds_of(d->at) / tiers[t].granularity;
		C5SliSlot  *slot = &ring->slots[tiers[t].first + (int) (epoch % tiers[t].nslots)];

		/* a slot keeps the first sample of its epoch */
		if (slot->d.epoch == epoch)
			continue;
		d->epoch = epoch;
		write_slot(slot, d);
	}
}

/* ---- the worker's tick ---- */

/* The registry's raw values for the ring, from a snapshot. */
static void
raw_values(const C5Snapshot *s, uint64 *good, uint64 *total,
		   uint64 (*cum)[C5M_MAX_BUCKETS + 1])
{
	const C5Layout *l = &s->l;
	int			t,
				h,
				i;

	memset(good, 0, N_AV * sizeof(uint64));
	memset(total, 0, N_AV * sizeof(uint64));

	/*
	 * sale -> paid: every sale reaching its table's paid status, whatever
	 * that status is called; committed ones are good (consumed or not),
	 * failed ones bad, rejected ones neither -- as the Prometheus rules
	 * count sales_paid_stock_consume_total, a family whose series exist
	 * from the start.
	 */
	good[AV_PAID] = s->ctr[l->base[C5_STORE_PAID_CONSUME] + C5_SUCCESS] + s->ctr[l->base[C5_STORE_PAID_CONSUME] + C5_CONSUME_MISSING];
	total[AV_PAID] = good[AV_PAID] + s->ctr[l->base[C5_STORE_PAID_CONSUME] + C5_FAILURE];
	for (t = 0; t < C5_NREFUNDTYPES; t++)
	{
		int			idx = l->base[C5_STORE_REFUNDS] + t * C5_NRESULTS;

		good[AV_REFUND] += s->ctr[idx + C5_SUCCESS];
		total[AV_REFUND] += s->ctr[idx + C5_SUCCESS] + s->ctr[idx + C5_FAILURE];
	}
	good[AV_LEADS] = s->ctr[l->base[C5_STORE_LEADS] + C5_LEAD_CREATED];
	total[AV_LEADS] = good[AV_LEADS] + s->ctr[l->base[C5_STORE_LEADS] + C5_LEAD_FAILURE];

	for (h = 0; h < N_LAT; h++)
	{
		const uint64 *b = s->buckets[h == LAT_CONSUME ? C5_HIST_CONSUME : C5_HIST_REFUND];
		uint64		sum = 0;

		for (i = 0; i <= l->nbuckets; i++)
		{
			sum += b[i];
			cum[h][i] = sum;
		}
	}
}

/* What a counter gained since it was last seen: all of it after a reset. */
static uint64
gained(uint64 now, uint64 before, bool reset)
{
	return (reset || now < before) ? now : now - before;
}

/*
 * Called by the worker after every wake-up: takes a sample when one is due,
 * and writes the checkpoint file when that is due.  Reads shared memory
 * only; a failed write is logged.
 */
void
c5m_sli_tick(void)
{
	TimestampTz now = GetCurrentTimestamp();
	C5Snapshot *s;
	uint64		good[N_AV],
				total[N_AV];
	uint64		cum[N_LAT][C5M_MAX_BUCKETS + 1];
	bool		reset;
	int			nb,
				i,
				h;

	if (ring == NULL || ring->paused)
		return;
	if (now >= ring->next_checkpoint)
	{
		if (ring->next_checkpoint != 0 && c5m_save)
			c5m_sli_save();
		ring->next_checkpoint = now + (int64) c5m_sli_checkpoint_interval * USECS_PER_SEC;
	}
	if (now < ring->next_tick)
		return;
	/* keep to a grid, so that samples land in every fine slot */
	ring->next_tick = (now / ((int64) c5m_sli_sample_interval * USECS_PER_SEC) + 1) *
		(int64) c5m_sli_sample_interval * USECS_PER_SEC;

	s = c5m_snapshot_take();
	raw_values(s, good, total, cum);
	nb = s->l.nbuckets;

	LWLockAcquire(ring->lock, LW_EXCLUSIVE);
	reset = s->stats_reset != ring->last_reset;
	for (i = 0; i < N_AV; i++)
	{
		ring->acc.good[i] += gained(good[i], ring->last_good[i], reset);
		ring->acc.total[i] += gained(total[i], ring->last_total[i], reset);
		ring->last_good[i] = good[i];
		ring->last_total[i] = total[i];
	}
	for (h = 0; h < N_LAT; h++)
		for (i = 0; i <= nb; i++)
		{
			ring->acc.cum[h][i] += gained(cum[h][i], ring->last_cum[h][i], reset);
			ring->last_cum[h][i] = cum[h][i];
		}
	ring->last_reset = s->stats_reset;
	ring->acc.at = now;
	record(&ring->acc);
	LWLockRelease(ring->lock);

	pfree(s->ctr);
	pfree(s->live);
	pfree(s->names);
	pfree(s);
}

/* Milliseconds until the worker's next tick is due, for its wait. */
long
c5m_sli_next_tick_ms(void)
{
	TimestampTz now = GetCurrentTimestamp();

	if (ring == NULL || ring->paused)
		return 1000;
	if (ring->next_tick <= now)
		return 0;
	return (long) Min((ring->next_tick - now) / 1000 + 1, 1000);
}

/* ---- persistence ---- */

/*
 * Write the ring to its file: tmp, fsync, durable rename.  Called by the
 * worker (checkpoint) and by the postmaster at clean shutdown; a failure
 * is a WARNING, every time, and leaves the previous file in place.
 */
void
c5m_sli_save(void)
{
	C5SliFileHeader hdr;
	pg_crc32c	crc;
	FILE	   *f;
	bool		ok;
	bool		locked = IsUnderPostmaster;	/* the postmaster saves alone */

	if (ring == NULL)
		return;
	memset(&hdr, 0, sizeof(hdr));
	hdr.magic = SLI_MAGIC;
	hdr.format = SLI_FORMAT;
	hdr.pg_major = PG_VERSION_NUM / 100;
	hdr.size = sizeof(C5SliRing);
	hdr.nbuckets = c5m_shared->layout.nbuckets;
	memcpy(hdr.bounds, c5m_shared->bounds, sizeof(hdr.bounds));

	f = c5m_state_create(SLI_FILE_TMP, WARNING);
	if (f == NULL)
		return;

	/*
	 * Written straight from shared memory, writers held off (readers never
	 * wait): no private copy of the ring in the worker.
	 */
	if (locked)
		LWLockAcquire(ring->lock, LW_SHARED);
	INIT_CRC32C(crc);
	COMP_CRC32C(crc, &hdr, sizeof(hdr));
	COMP_CRC32C(crc, ring, sizeof(C5SliRing));
	FIN_CRC32C(crc);
	ok = fwrite(&hdr, 1, sizeof(hdr), f) == sizeof(hdr) &&
		fwrite(ring, 1, sizeof(C5SliRing), f) == sizeof(C5SliRing) &&
		fwrite(&crc, 1, sizeof(crc), f) == sizeof(crc);
	if (locked)
		LWLockRelease(ring->lock);
	if (FreeFile(f) != 0)
		ok = false;
	if (!ok)
	{
		ereport(WARNING,
				(errcode_for_file_access(),
				 errmsg("could not write c5metrics file \"%s\": %m", SLI_FILE_TMP)));
		unlink(SLI_FILE_TMP);
		return;
	}
	(void) c5m_state_install(SLI_FILE_TMP, SLI_FILE, WARNING);
}

/* on_shmem_exit callback of the postmaster (c5metrics.c) */
void
c5m_sli_save_at_exit(int code, Datum arg)
{
	/* after a crash or an immediate stop, the last checkpoint stands */
	if (code != 0 || !c5m_save || !c5m_shut_down_cleanly())
		return;
	c5m_sli_save();
}

/*
 * One sample: good <= total, cumulative buckets that never decrease, and
 * nothing beyond the +Inf bucket.
 */
static bool
sample_ok(const uint64 *good, const uint64 *total,
		  uint64 (*cum)[C5M_MAX_BUCKETS + 1], int nb)
{
	int			i,
				h;

	for (i = 0; i < N_AV; i++)
		if (good[i] > total[i])
			return false;
	for (h = 0; h < N_LAT; h++)
		for (i = 1; i <= C5M_MAX_BUCKETS; i++)
			if (i <= nb ? cum[h][i] < cum[h][i - 1] : cum[h][i] != 0)
				return false;
	return true;
}

/*
 * Could `later` have been recorded after `earlier`?  The ring's counts
 * only grow, and so does each difference between two of them (failures
 * are total - good, a bucket is cum[i] - cum[i - 1]): what a window
 * subtracts is then never negative.
 */
static bool
sample_follows(const C5SliData *earlier, const C5SliData *later, int nb)
{
	uint64		good[N_AV],
				total[N_AV];
	uint64		cum[N_LAT][C5M_MAX_BUCKETS + 1];
	int			i,
				h;

	for (i = 0; i < N_AV; i++)
	{
		if (later->good[i] < earlier->good[i] || later->total[i] < earlier->total[i])
			return false;
		good[i] = later->good[i] - earlier->good[i];
		total[i] = later->total[i] - earlier->total[i];
	}
	for (h = 0; h < N_LAT; h++)
		for (i = 0; i <= C5M_MAX_BUCKETS; i++)
		{
			if (later->cum[h][i] < earlier->cum[h][i])
				return false;
			cum[h][i] = later->cum[h][i] - earlier->cum[h][i];
		}
	return sample_ok(good, total, cum, nb);
}

static bool
stamp_ok(TimestampTz t)
{
	return t == 0 || IS_VALID_TIMESTAMP(t);
}

/*
 * The contents of an SLI file whose checksum matched, field by field: every
 * sample is one the worker could have recorded (in the slot of its epoch,
 * within that epoch, consistent in itself and no later than the latest
 * sample), and the worker's accounting is not behind the latest sample.
 * Returns the problem, or NULL.
 */
static const char *
ring_problem(C5SliRing *r, int nb)
{
	int			t,
				k;

	if (!stamp_ok(r->last_reset) || !stamp_ok(r->acc.at) || !stamp_ok(r->head.d.at))
		return "a time in it is out of range";
	if (!sample_ok(r->last_good, r->last_total, r->last_cum, nb) ||
		!sample_ok(r->acc.good, r->acc.total, r->acc.cum, nb))
		return "its accounting is inconsistent";
	if (r->head.d.epoch != 0 && r->head.d.epoch != 1)
		return "its latest sample is corrupt";
	if (r->head.d.epoch == 1 &&
		(!sample_ok(r->head.d.good, r->head.d.total, r->head.d.cum, nb) ||
		 !sample_follows(&r->head.d, &r->acc, nb)))
		return "its latest sample is inconsistent";

	for (t = 0; t < N_TIERS; t++)
		for (k = 0; k < tiers[t].nslots; k++)
		{
			C5SliData  *d = &r->slots[tiers[t].first + k].d;

			if (d->epoch == 0)
				continue;
			if (r->head.d.epoch == 0)
				return "it has samples but no latest sample";
			if (d->epoch < 0 || d->epoch % tiers[t].nslots != k ||
				!stamp_ok(d->at) || seconds_of(d->at) / tiers[t].granularity != d->epoch)
				return "a sample is not in the slot of its time";
			if (!sample_ok(d->good, d->total, d->cum, nb) ||
				!sample_follows(d, &r->head.d, nb))
				return "a sample is inconsistent";
		}
	return NULL;
}

/* Load the file into a fresh ring.  Postmaster, before any backend. */
void
c5m_sli_load(void)
{
	C5SliFileHeader hdr;
	C5SliRing  *copy;
	pg_crc32c	crc,
				filecrc;
	FILE	   *f;
	const char *problem = NULL;
	int			i;

	if (!c5m_save)
	{
		c5m_state_remove(SLI_FILE);
		return;
	}
	f = c5m_state_open(SLI_FILE, &problem);
	if (f == NULL)
	{
		/* the next checkpoint replaces what is not a regular file */
		if (problem != NULL)
			ereport(LOG,
					(errmsg("ignoring c5metrics file \"%s\": %s", SLI_FILE, problem),
					 errdetail("The SLI history starts empty.")));
		return;
	}
	copy = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(C5SliRing));
	if (fread(&hdr, 1, sizeof(hdr), f) != sizeof(hdr) ||
		fread(copy, 1, sizeof(C5SliRing), f) != sizeof(C5SliRing) ||
		fread(&filecrc, 1, sizeof(filecrc), f) != sizeof(filecrc))
		problem = "it is too short";
	else if (hdr.magic != SLI_MAGIC || hdr.format != SLI_FORMAT ||
			 hdr.size != sizeof(C5SliRing) || hdr.pg_major != PG_VERSION_NUM / 100)
		problem = "it is not a c5metrics SLI file of this version";
	else
	{
		INIT_CRC32C(crc);
		COMP_CRC32C(crc, &hdr, sizeof(hdr));
		COMP_CRC32C(crc, copy, sizeof(C5SliRing));
		FIN_CRC32C(crc);
		if (!EQ_CRC32C(crc, filecrc))
			problem = "its checksum does not match";
		else if (hdr.nbuckets != c5m_shared->layout.nbuckets ||
				 memcmp(hdr.bounds, c5m_shared->bounds, sizeof(hdr.bounds)) != 0)
			problem = "c5metrics.duration_buckets changed since it was written";
		else
			problem = ring_problem(copy, hdr.nbuckets);
	}
	FreeFile(f);
	if (problem != NULL)
	{
		ereport(LOG,
				(errmsg("ignoring c5metrics file \"%s\": %s", SLI_FILE, problem),
				 errdetail("The SLI history starts empty.")));
		pfree(copy);
		return;
	}

	/* take the history and the accounting; locks and schedule start fresh */
	ring->last_reset = copy->last_reset;
	memcpy(ring->last_good, copy->last_good, sizeof(ring->last_good));
	memcpy(ring->last_total, copy->last_total, sizeof(ring->last_total));
	memcpy(ring->last_cum, copy->last_cum, sizeof(ring->last_cum));
	ring->acc = copy->acc;
	ring->head.d = copy->head.d;
	for (i = 0; i < N_SLOTS; i++)
		ring->slots[i].d = copy->slots[i].d;
	pfree(copy);
	ereport(LOG,
			(errmsg("c5metrics loaded its SLI history from \"%s\"", SLI_FILE)));
}

/* ---- reading ---- */

/* The latency histograms' bucket at an SLO threshold: the largest bound <= it. */
static int
threshold_bucket(double threshold)
{
	int			i,
				b = -1;

	for (i = 0; i < c5m_shared->layout.nbuckets; i++)
		if (c5m_shared->bounds[i] <= threshold * (1 + 1e-9))
			b = i;
	return b;
}

/*
 * The first sample at or after `start`, in the finest tier that still
 * reaches back to it (else the oldest sample there is); false if none.
 */
static bool
window_start(TimestampTz end, TimestampTz start, C5SliData *d)
{
	int			t;

	for (t = 0; t < N_TIERS; t++)
	{
		const C5SliTier *tier = &tiers[t];
		int64		g = tier->granularity;
		int64		e = seconds_of(start) / g;
		int64		last = seconds_of(end) / g;
		bool		reaches = seconds_of(end) - seconds_of(start) <= g * (tier->nslots - 2);

		if (!reaches && t < N_TIERS - 1)
			continue;
		/* the first stamped slot from the start's epoch on */
		if (last - e >= tier->nslots)
			e = last - tier->nslots + 1;
		for (; e <= last; e++)
		{
			C5SliSlot  *slot = &ring->slots[tier->first + (int) (e % tier->nslots)];

			if (slot->d.epoch != e || !read_slot(slot, d) || d->epoch != e)
				continue;
			if (d->at >= start && d->at <= end)
				return true;
		}
		return false;
	}
	return false;
}

/* The SLO's cumulative good and total events in sample `d`. */
static void
slo_counts(const C5SliData *d, int slo, int nb, uint64 *good, uint64 *total)
{
	int			av = slo_series[slo].av,
				h = slo_series[slo].lat,
				b;

	if (av >= 0)
	{
		*good = d->good[av];
		*total = d->total[av];
		return;
	}
	b = threshold_bucket(c5m_slo_threshold[slo]);
	*total = d->cum[h][nb];
	*good = b < 0 ? 0 : d->cum[h][b];
}

static void
window_figures(const C5SliData *end, int seconds, C5SliWindow *w)
{
	C5SliData	first;
	int			slo,
				nb = c5m_shared->layout.nbuckets;

	w->any = false;
	w->covered = 0;
	memset(w->good, 0, sizeof(w->good));
	memset(w->total, 0, sizeof(w->total));
	if (end->epoch == 0 ||
		!window_start(end->at, end->at - (int64) seconds * USECS_PER_SEC, &first))
		return;
	w->any = true;
	w->covered = (end->at - first.at) / 1000000.0;
	for (slo = 0; slo < C5_NSLOS; slo++)
	{
		uint64		g0,
					t0,
					g1,
					t1;

		slo_counts(&first, slo, nb, &g0, &t0);
		slo_counts(end, slo, nb, &g1, &t1);
		w->good[slo] = g1 - g0;
		w->total[slo] = t1 - t0;
	}
}

/*
 * Every SLO's good and total events over the windows of c5metrics.sli and
 * the budget window (c5metrics.budget_window), from one reading of the
 * latest sample: what the views and the status page (status.c) show.
 */
void
c5m_sli_report(C5SliReport *r)
{
	C5SliData	end;
	int			w;

	if (!read_slot(&ring->head, &end))
		memset(&end, 0, sizeof(end));
	r->as_of = end.epoch == 0 ? 0 : end.at;
	for (w = 0; w < C5M_SLI_NWINDOWS; w++)
	{
		C5SliWindow *win = &r->w[w];

		win->name = w < lengthof(windows) ? windows[w].name : "budget";
		win->seconds = w < lengthof(windows) ? windows[w].seconds : c5m_budget_days * 86400;
		window_figures(&end, win->seconds, win);
	}
}

/*
 * A history for sparklines: `npoints` intervals of `step` seconds each,
 * the last ending at the report's latest sample.  Interval k holds each
 * SLO's good and total events between the first samples at or after its
 * two ends; it is a gap (have[k] false) when no sample falls inside it.
 */
void
c5m_sli_series(const C5SliReport *r, int step, int npoints, C5SliPoint *points)
{
	C5SliData	prev,
				cur;
	bool		have_prev = false;
	int			k,
				slo,
				nb = c5m_shared->layout.nbuckets;

	for (k = 0; k <= npoints; k++)
	{
		TimestampTz t = r->as_of - (int64) (npoints - k) * step * USECS_PER_SEC;
		TimestampTz next = t + (int64) step * USECS_PER_SEC;
		bool		have;

		if (k < npoints)
			points[k].at = next;
		if (r->as_of == 0)
		{
			if (k < npoints)
				points[k].have = false;
			continue;
		}
		have = k == npoints ? read_slot(&ring->head, &cur) && cur.at == r->as_of
			: window_start(r->as_of, t, &cur) && cur.at < next;
		if (k > 0)
		{
			C5SliPoint *p = &points[k - 1];

			p->have = have_prev && have && cur.at > prev.at;
			for (slo = 0; slo < C5_NSLOS && p->have; slo++)
			{
				uint64		g0,
							t0,
							g1,
							t1;

				slo_counts(&prev, slo, nb, &g0, &t0);
				slo_counts(&cur, slo, nb, &g1, &t1);
				p->good[slo] = g1 - g0;
				p->total[slo] = t1 - t0;
			}
		}
		prev = cur;
		have_prev = have;
	}
}

/*
 * c5metrics._sli_windows(): per SLO and window (and the budget window,
 * named "budget"), good, total, objective, seconds covered and the time of
 * the latest sample.  The views compute SLI, burn rate and budget.
 */
Datum
c5metrics_sli_windows(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	C5SliReport r;
	int			w,
				slo;

	if (ring == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("c5metrics must be loaded via \"shared_preload_libraries\"")));
	InitMaterializedSRF(fcinfo, 0);
	c5m_sli_report(&r);

	for (w = 0; w < C5M_SLI_NWINDOWS; w++)
		for (slo = 0; slo < C5_NSLOS; slo++)
		{
			Datum		values[8];
			bool		nulls[8] = {false};

			values[0] = CStringGetTextDatum(c5m_slo_names[slo]);
			values[1] = CStringGetTextDatum(r.w[w].name);
			values[2] = Int32GetDatum(r.w[w].seconds);
			values[3] = Int64GetDatum((int64) r.w[w].good[slo]);
			values[4] = Int64GetDatum((int64) r.w[w].total[slo]);
			values[5] = Float8GetDatum(c5m_objective_ratio(slo));
			values[6] = Float8GetDatum(r.w[w].covered);
			values[7] = TimestampTzGetDatum(r.as_of);
			nulls[7] = r.as_of == 0;
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	return (Datum) 0;
}

/*
 * PromQL's histogram_quantile over cumulative buckets `cum` (last +Inf)
 * with upper bounds `bounds`: the same interpolation, NaN for no data.
 */
double
c5m_bucket_quantile(double q, const double *bounds, const double *cum, int nb)
{
	double		rank,
				start,
				count;
	int			b;

	if (isnan(q))
		return NAN;
	if (q < 0)
		return -INFINITY;
	if (q > 1)
		return INFINITY;
	if (nb < 1 || cum[nb] == 0)
		return NAN;
	rank = q * cum[nb];
	for (b = 0; b < nb && cum[b] < rank; b++)
		;
	if (b == nb)
		return bounds[nb - 1];
	if (b == 0 && bounds[0] <= 0)
		return bounds[0];
	start = b > 0 ? bounds[b - 1] : 0;
	count = cum[b] - (b > 0 ? cum[b - 1] : 0);
	rank -= b > 0 ? cum[b - 1] : 0;
	return start + (bounds[b] - start) * (rank / count);
}

/*
 * c5metrics.histogram_quantile(q, histogram, window): the q-quantile of a
 * latency histogram over the last window, as PromQL's
 * histogram_quantile(q, sum(rate(<histogram>_bucket[window])) by (le))
 * computes it.  NULL when nothing was observed in the window.
 */
Datum
c5metrics_histogram_quantile(PG_FUNCTION_ARGS)
{
	double		q = PG_GETARG_FLOAT8(0);
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	Interval   *win = PG_GETARG_INTERVAL_P(2);
	int64		usecs;
	int			h,
				i,
				nb;
	C5SliData	end,
				first;
	double		cum[C5M_MAX_BUCKETS + 1];
	double		v;

	if (ring == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("c5metrics must be loaded via \"shared_preload_libraries\"")));
	if (strcmp(name, "sales_paid_stock_consume_duration_seconds") == 0)
		h = LAT_CONSUME;
	else if (strcmp(name, "sale_refund_duration_seconds") == 0)
		h = LAT_REFUND;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no history is kept for histogram \"%s\"", name),
				 errhint("Use sales_paid_stock_consume_duration_seconds or sale_refund_duration_seconds.")));
	usecs = win->time + (int64) win->day * USECS_PER_DAY +
		(int64) win->month * DAYS_PER_MONTH * USECS_PER_DAY;
	if (usecs <= 0 || usecs > (int64) 31 * USECS_PER_DAY)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("window must be positive and at most 31 days")));

	nb = c5m_shared->layout.nbuckets;
	if (!read_slot(&ring->head, &end) || end.epoch == 0 ||
		!window_start(end.at, end.at - usecs, &first))
		PG_RETURN_NULL();
	for (i = 0; i <= nb; i++)
		cum[i] = (double) (end.cum[h][i] - first.cum[h][i]);
	v = c5m_bucket_quantile(q, c5m_shared->bounds, cum, nb);
	if (isnan(v))
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(v);
}

/* ---- test support: superuser only, REVOKEd from PUBLIC as well ---- */

static void
require_superuser(const char *fn)
{
	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only a superuser may call %s", fn)));
}

static void
array_values(ArrayType *a, int n, uint64 *out, const char *what)
{
	Datum	   *elems;
	bool	   *nulls;
	int			count,
				i;

	deconstruct_array(a, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &nulls, &count);
	if (count != n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must have %d elements", what, n)));
	for (i = 0; i < n; i++)
	{
		if (nulls[i] || DatumGetInt64(elems[i]) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must hold non-negative values", what)));
		out[i] = (uint64) DatumGetInt64(elems[i]);
	}
}

/*
 * c5metrics._sli_feed(at, good[3], total[3], consume_buckets[], refund_buckets[]):
 * record one sample of cumulative values taken at `at` (availability SLOs
 * in the order paid, refund, leads; buckets cumulative by le, +Inf last),
 * and keep the worker from sampling until c5metrics._sli_clear(false).
 */
Datum
c5metrics_sli_feed(PG_FUNCTION_ARGS)
{
	C5SliData	d;
	int			nb;

	require_superuser("c5metrics._sli_feed()");
	nb = c5m_shared->layout.nbuckets;
	memset(&d, 0, sizeof(d));
	d.at = PG_GETARG_TIMESTAMPTZ(0);
	/* a slot is the epoch modulo the tier's length: no negative epoch */
	if (d.at <= 0 || TIMESTAMP_NOT_FINITE(d.at))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("sample time must be finite and after 2000-01-01")));
	array_values(PG_GETARG_ARRAYTYPE_P(1), N_AV, d.good, "good");
	array_values(PG_GETARG_ARRAYTYPE_P(2), N_AV, d.total, "total");
	array_values(PG_GETARG_ARRAYTYPE_P(3), nb + 1, d.cum[LAT_CONSUME], "consume_buckets");
	array_values(PG_GETARG_ARRAYTYPE_P(4), nb + 1, d.cum[LAT_REFUND], "refund_buckets");

	LWLockAcquire(ring->lock, LW_EXCLUSIVE);
	ring->paused = true;
	record(&d);
	LWLockRelease(ring->lock);
	PG_RETURN_VOID();
}

/* c5metrics._sli_clear(paused): empty the ring; paused keeps the worker out. */
Datum
c5metrics_sli_clear(PG_FUNCTION_ARGS)
{
	require_superuser("c5metrics._sli_clear()");
	LWLockAcquire(ring->lock, LW_EXCLUSIVE);
	clear_ring();
	ring->paused = PG_GETARG_BOOL(0);
	LWLockRelease(ring->lock);
	PG_RETURN_VOID();
}
