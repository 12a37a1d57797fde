/*-------------------------------------------------------------------------
 *
 * persist.c
 *		Saving the registry at clean shutdown and loading it at start.
 *
 * Like pg_stat_statements: only the postmaster writes the file, at a clean
 * shutdown, to a temporary name renamed durably into place; at start it
 * reads it back and removes it, so the file never travels into a base
 * backup or a standby.  After a crash nothing is saved and counting starts
 * over with a new stats-reset time, which Prometheus reads as a counter
 * reset.
 *
 * The file is a header (magic, PostgreSQL major version, the layout the
 * settings produced, the status dictionary's generation) followed by the
 * raw values, and a CRC-32C over all of it.  The live flags hold the
 * database that made each series live, and the statuses' owners follow
 * their names: the per-database quotas are recounted from them at load.
 * A file from another version, written with other settings, cut
 * short or corrupt is ignored with a LOG line.  So is a file whose
 * checksum matches but whose contents do not hang together (a label that
 * is not one c5metrics would have interned, a live series naming a status
 * slot not in use, a series count that does not match the live series,
 * ...): a checksum says the file is as it was written, not that it was
 * written by us, and the HTTP worker serves what is loaded without
 * checking it again.
 *
 * The state files (this one, the SLI ring's and the parked outcomes of
 * prepared transactions) are written and read through the helpers at the
 * end of this file: whatever sits under a state file's name and is not a
 * regular file the server can write -- a symbolic link, a directory -- is
 * removed, never followed, and a failed write is a WARNING.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>
#include <unistd.h>

#include "catalog/pg_control.h"
#include "common/controldata_utils.h"
#include "common/int.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/pg_crc32c.h"
#include "storage/fd.h"

#include "labels.h"
#include "persist.h"
#include "registry.h"
#include "settings.h"
#include "statefile.h"
#include "settings.h"
#include "statefile.h"

#define C5M_FILE		PGSTAT_STAT_PERMANENT_DIRECTORY "/c5metrics.stat"
#define C5M_FILE_TMP	C5M_FILE ".tmp"
#define C5M_MAGIC		0xC5E7A001
#define C5M_FORMAT		4		/* 3: status and series owners, label_gen;
									 * 4: attachment problems */

typedef struct C5FileHeader
{
	uint32		magic;
	uint32		pg_major;
	uint32		format;
	C5Layout	layout;
	double		bounds[C5M_MAX_BUCKETS];
	TimestampTz stats_reset;
	int32		nstatus_used;
	uint32		nseries;
	uint32		label_gen;		/* the status dictionary's generation */
} C5FileHeader;

typedef struct C5File
{
	FILE	   *f;
	pg_crc32c	crc;
	bool		ok;
} C5File;

static void
put(C5File *cf, const void *p, size_t len)
{
	COMP_CRC32C(cf->crc, p, len);
	if (cf->ok && fwrite(p, 1, len, cf->f) != len)
		cf->ok = false;
}

static bool
get(C5File *cf, void *p, size_t len)
{
	if (fread(p, 1, len, cf->f) != len)
		return false;
	COMP_CRC32C(cf->crc, p, len);
	return true;
}

/*
 * Was the server shut down cleanly?  An immediate shutdown also exits the
 * postmaster with code 0, but leaves the control file "in production":
 * the next start runs crash recovery, and so should our counters.
 */
bool
c5m_shut_down_cleanly(void)
{
	bool		crc_ok;
	ControlFileData *control = get_controlfile(DataDir, &crc_ok);

	return crc_ok && (control->state == DB_SHUTDOWNED ||
					  control->state == DB_SHUTDOWNED_IN_RECOVERY);
}

/*
 * on_shmem_exit callback of the postmaster.  Errors here are reported at
 * WARNING: a failed save must not turn a clean shutdown into a failed one.
 */
void
c5m_persist_save(int code, Datum arg)
{
	C5File		cf;
	C5FileHeader hdr;
	const C5Layout *l;
	int			i;

	/* after a crash, shared memory cannot be trusted: save nothing */
	if (code != 0 || c5m_shared == NULL || !c5m_shut_down_cleanly())
		return;
	if (!c5m_save)
	{
		unlink(C5M_FILE);
		return;
	}

	l = &c5m_shared->layout;
	memset(&hdr, 0, sizeof(hdr));
	hdr.magic = C5M_MAGIC;
	hdr.pg_major = PG_VERSION_NUM / 100;
	hdr.format = C5M_FORMAT;
	hdr.layout = *l;
	memcpy(hdr.bounds, c5m_shared->bounds, sizeof(hdr.bounds));
	hdr.stats_reset = c5m_shared->stats_reset;
	hdr.nstatus_used = c5m_shared->nstatus_used;
	hdr.nseries = pg_atomic_read_u32(&c5m_shared->nseries);
	hdr.label_gen = c5m_label_gen();

	cf.f = c5m_state_create(C5M_FILE_TMP, WARNING);
	if (cf.f == NULL)
		return;
	cf.ok = true;
	INIT_CRC32C(cf.crc);
	put(&cf, &hdr, sizeof(hdr));
	for (i = 0; i < l->ncounters; i++)
	{
		uint64		v = c5m_counter_read(i);

		put(&cf, &v, sizeof(v));
	}
	for (i = 0; i < l->nlive; i++)
	{
		uint32		v = pg_atomic_read_u32(&c5m_live[i]);

		put(&cf, &v, sizeof(v));
	}
	put(&cf, c5m_status_names, (size_t) l->nstatus * C5M_LABEL_LEN);
	put(&cf, c5m_status_owner, (size_t) l->nstatus * sizeof(Oid));
	put(&cf, c5m_shared->tracked, sizeof(c5m_shared->tracked));
	put(&cf, c5m_shared->tracked_problem, sizeof(c5m_shared->tracked_problem));
	for (i = 0; i <= C5_NHISTS; i++)
	{
		uint64		buckets[C5M_MAX_BUCKETS + 1];
		uint64		sum_us;

		c5m_hist_read(i, buckets, &sum_us);
		put(&cf, buckets, sizeof(buckets));
		put(&cf, &sum_us, sizeof(uint64));
	}
	FIN_CRC32C(cf.crc);
	if (cf.ok && fwrite(&cf.crc, 1, sizeof(cf.crc), cf.f) != sizeof(cf.crc))
		cf.ok = false;
	if (FreeFile(cf.f) != 0)
		cf.ok = false;
	if (!cf.ok)
	{
		ereport(WARNING,
				(errcode_for_file_access(),
				 errmsg("could not write c5metrics file \"%s\": %m", C5M_FILE_TMP)));
		unlink(C5M_FILE_TMP);
		return;
	}
	(void) c5m_state_install(C5M_FILE_TMP, C5M_FILE, WARNING);
}

/*
 * One histogram of a state file: nothing beyond its +Inf bucket, and a
 * sum its buckets can hold (microseconds are truncated, hence one of slack
 * per observation).  Returns what is wrong, or NULL.
 */
const char *
c5m_histogram_problem(const uint64 *buckets, uint64 sum_us, const double *bounds,
					  int nb)
{
	uint64		count = 0;
	double		lo = 0;
	double		hi = 0;
	int			b;

	for (b = nb + 1; b <= C5M_MAX_BUCKETS; b++)
		if (buckets[b] != 0)
			return "counts beyond its +Inf bucket";
	for (b = 0; b <= nb; b++)
	{
		if (pg_add_u64_overflow(count, buckets[b], &count))
			return "bucket counts that overflow";
		if (b > 0)
			lo += (double) buckets[b] * bounds[b - 1] * 1e6;
		if (b < nb)
			hi += (double) buckets[b] * bounds[b] * 1e6;
	}
	if ((double) sum_us < lo - (double) count - lo * 1e-9 ||
		(buckets[nb] == 0 && (double) sum_us > hi + (double) count + hi * 1e-9))
		return "a sum its buckets cannot hold";
	return NULL;
}

/*
 * The contents of a registry file whose checksum matched, field by field:
 * the labels are ones c5metrics would have interned, each (but the two
 * reserved ones) owned by a database, every live series
 * names status slots in use, the series count is that of the live series,
 * nothing is counted in a series that is not live, the tracked list and
 * the histograms hang together.  Returns the problem, or NULL.
 *
 * A live flag is anything nonzero.
 */
static char *
registry_problem(const C5FileHeader *hdr, const uint64 *ctr, const uint32 *live,
				 char (*names)[C5M_LABEL_LEN], const Oid *owners,
				 const C5TrackedEntry *tracked,
				 uint64 (*buckets)[C5M_MAX_BUCKETS + 1], const uint64 *sums)
{
	const C5Layout *l = &hdr->layout;
	int			nused = hdr->nstatus_used;
	int			ncells = l->live_transitions - l->live_exceptions;
	uint32		nseries = l->fixed_series;
	int			i,
				j,
				r;

	if (!IS_VALID_TIMESTAMP(hdr->stats_reset))
		return psprintf("its stats-reset time is out of range");

	/* the status dictionary: "other", "none", then distinct labels */
	for (i = 0; i < nused; i++)
	{
		int			len = strnlen(names[i], C5M_LABEL_LEN);

		if (len == C5M_LABEL_LEN)
			return psprintf("status label %d has no terminating zero byte", i);
		if (!c5m_label_acceptable(names[i], len))
			return psprintf("status label %d is not valid UTF-8 free of control characters", i);
		for (j = 0; j < i; j++)
			if (strcmp(names[i], names[j]) == 0)
				return psprintf("status label %d repeats status label %d", i, j);
		/* the reserved labels belong to no database, the others to one */
		if (OidIsValid(owners[i]) != (i >= 2))
			return psprintf("status label %d has an owner it cannot have", i);
	}
	if (strcmp(names[C5_STATUS_OTHER], "other") != 0 ||
		strcmp(names[C5_STATUS_NONE], "none") != 0)
		return psprintf("its reserved status labels are not \"other\" and \"none\"");

	/* exceptions_total: cell (condition, flow); condition 0 is "other" */
	for (i = 0; i < ncells; i++)
	{
		if (live[l->live_exceptions + i] != 0)
			nseries += i < C5_NFLOWS ? 0 : 1;
		else if (i < C5_NFLOWS)
			return psprintf("series \"other\" of exceptions_total is not live");
		else if (ctr[l->base[C5_STORE_EXCEPTIONS] + i] != 0)
			return psprintf("exceptions_total counts in series %d, which is not live", i);
	}

	/* sales_transition_total: pair (from, to); (other, other) is pair 0 */
	for (i = 0; i < l->nstatus * l->nstatus; i++)
	{
		int			from = i / l->nstatus;
		int			to = i % l->nstatus;

		if (live[l->live_transitions + i] != 0)
		{
			if (from >= nused || to >= nused)
				return psprintf("a live series of sales_transition_total names status slot %d, beyond the %d in use",
								Max(from, to), nused);
			nseries += i == 0 ? 0 : C5_NRESULTS;
		}
		else if (i == 0)
			return psprintf("series (other, other) of sales_transition_total is not live");
		else
			for (r = 0; r < C5_NRESULTS; r++)
				if (ctr[l->base[C5_STORE_TRANSITIONS] + i * C5_NRESULTS + r] != 0)
					return psprintf("sales_transition_total counts in series (%d, %d), which is not live",
									from, to);
	}
	if (nseries != hdr->nseries)
		return psprintf("it claims %u series, but %u are live", hdr->nseries, nseries);

	/* tracked tables: free (flow -1) or a table of one flow, each once */
	for (i = 0; i < C5M_MAX_TRACKED; i++)
	{
		const C5TrackedEntry *e = &tracked[i];

		if (e->flow == -1)
			continue;
		if (e->flow < 0 || e->flow >= C5_NFLOWS)
			return psprintf("tracked table %d has flow %d, out of range", i, e->flow);
		if (!OidIsValid(e->dboid) || !OidIsValid(e->relid))
			return psprintf("tracked table %d names no table", i);
		for (j = 0; j < i; j++)
			if (tracked[j].flow == e->flow && tracked[j].relid == e->relid &&
				tracked[j].dboid == e->dboid)
				return psprintf("tracked table %d repeats tracked table %d", i, j);
	}

	/* the histograms, the worker's render histogram last */
	for (i = 0; i <= C5_NHISTS; i++)
	{
		const char *problem;

		if (i < C5_NHISTS)
			problem = c5m_histogram_problem(buckets[i], sums[i], hdr->bounds, l->nbuckets);
		else
			problem = c5m_histogram_problem(buckets[i], sums[i], c5m_render_bounds,
											C5M_RENDER_BUCKETS);
		if (problem != NULL)
			return psprintf("histogram %d has %s", i, problem);
	}
	return NULL;
}

/* Log why the registry file is not loaded, and remove it. */
static void
ignore_file(const char *problem)
{
	ereport(LOG,
			(errmsg("ignoring c5metrics file \"%s\": %s", C5M_FILE, problem),
			 errdetail("Counting starts from zero.")));
	c5m_state_remove(C5M_FILE);
}

/*
 * Load the saved registry into freshly initialized shared memory.  Runs in
 * the postmaster before any backend exists, so no locks are needed.
 */
void
c5m_persist_load(void)
{
	C5File		cf;
	C5FileHeader hdr;
	C5Layout   *l = &c5m_shared->layout;
	uint64	   *ctr = NULL;
	uint32	   *live = NULL;
	char	   *names = NULL;
	Oid		   *owners = NULL;
	C5TrackedEntry tracked[C5M_MAX_TRACKED];
	uint8		problems[C5M_MAX_TRACKED];
	uint64		buckets[C5_NHISTS + 1][C5M_MAX_BUCKETS + 1];
	uint64		sums[C5_NHISTS + 1];
	pg_crc32c	filecrc;
	const char *problem = NULL;
	int			i;

	cf.f = c5m_state_open(C5M_FILE, &problem);
	if (cf.f == NULL)
	{
		if (problem != NULL)
			ignore_file(problem);
		else
			ereport(LOG,
					(errmsg("c5metrics has no saved registry: counting starts from zero"),
					 errdetail("There is no \"%s\": a first start, a start after a crash or an immediate shutdown, or the first start of a cluster made by pg_upgrade, which does not carry pg_stat/.",
							   C5M_FILE)));
		return;
	}
	INIT_CRC32C(cf.crc);

	if (!get(&cf, &hdr, sizeof(hdr)))
		problem = "it is too short";
	else if (hdr.magic != C5M_MAGIC || hdr.format != C5M_FORMAT)
		problem = "it is not a c5metrics file of this version";
	else if (hdr.pg_major != PG_VERSION_NUM / 100)
		problem = "it was written by another PostgreSQL major version";
	else if (!c5m_layout_loadable(&hdr.layout, l) ||
			 memcmp(hdr.bounds, c5m_shared->bounds, sizeof(hdr.bounds)) != 0)
		problem = "c5metrics.max_label_values or c5metrics.duration_buckets changed since it was written";
	else if (hdr.nstatus_used < 2 || hdr.nstatus_used > l->nstatus ||
			 hdr.nseries > (uint32) Max(c5m_max_series, (int) l->fixed_series) * 2 ||
			 !C5M_GEN_VALID(hdr.label_gen))
		problem = "its header is corrupt";
	else
	{
		/* the file's counters, in its layout (c5m_layout_loadable) */
		ctr = palloc(hdr.layout.ncounters * sizeof(uint64));
		live = palloc(l->nlive * sizeof(uint32));
		names = palloc((Size) l->nstatus * C5M_LABEL_LEN);
		owners = palloc(l->nstatus * sizeof(Oid));
		if (!get(&cf, ctr, hdr.layout.ncounters * sizeof(uint64)) ||
			!get(&cf, live, l->nlive * sizeof(uint32)) ||
			!get(&cf, names, (size_t) l->nstatus * C5M_LABEL_LEN) ||
			!get(&cf, owners, (size_t) l->nstatus * sizeof(Oid)) ||
			!get(&cf, tracked, sizeof(tracked)) ||
			!get(&cf, problems, sizeof(problems)))
			problem = "it is too short";
		for (i = 0; problem == NULL && i <= C5_NHISTS; i++)
			if (!get(&cf, buckets[i], sizeof(buckets[i])) ||
				!get(&cf, &sums[i], sizeof(uint64)))
				problem = "it is too short";
		if (problem == NULL)
		{
			FIN_CRC32C(cf.crc);
			if (fread(&filecrc, 1, sizeof(filecrc), cf.f) != sizeof(filecrc) ||
				!EQ_CRC32C(filecrc, cf.crc))
				problem = "its checksum does not match";
		}
	}
	FreeFile(cf.f);

	if (problem == NULL)
		problem = registry_problem(&hdr, ctr, live, (char (*)[C5M_LABEL_LEN]) names,
								   owners, tracked, buckets, sums);
	if (problem != NULL)
	{
		ignore_file(problem);
		return;
	}
	c5m_state_remove(C5M_FILE);

	/* saved by a version with fewer routes: each old path keeps its counts */
	if (memcmp(&hdr.layout, l, sizeof(C5Layout)) != 0)
	{
		uint64	   *moved = palloc(l->ncounters * sizeof(uint64));

		c5m_layout_migrate(&hdr.layout, ctr, l, moved);
		pfree(ctr);
		ctr = moved;
	}

	/* into stripe 0: the postmaster has not picked another */
	for (i = 0; i < l->ncounters; i++)
		pg_atomic_write_u64(&c5m_counters[i], ctr[i]);
	for (i = 0; i < l->nlive; i++)
		pg_atomic_write_u32(&c5m_live[i], live[i]);	/* the owner's OID */
	/* the slots not in use stay zero, as interning expects */
	memcpy(c5m_status_names, names, (Size) hdr.nstatus_used * C5M_LABEL_LEN);
	memcpy(c5m_status_owner, owners, hdr.nstatus_used * sizeof(Oid));
	memcpy(c5m_shared->tracked, tracked, sizeof(tracked));
	/* a broken attachment stays reported across a restart (a disabled
	 * trigger never fires to report it again); any byte but 0 is true */
	for (i = 0; i < C5M_MAX_TRACKED; i++)
		c5m_shared->tracked_problem[i] = tracked[i].flow >= 0 && problems[i] != 0;
	for (i = 0; i <= C5_NHISTS; i++)
	{
		C5Histogram *h = i < C5_NHISTS ? &c5m_shared->stripes[0].hist[i] : &c5m_shared->render;

		memcpy(h->buckets, buckets[i], sizeof(buckets[i]));
		h->sum_us = sums[i];
	}
	c5m_shared->nstatus_used = hdr.nstatus_used;
	c5m_shared->stats_reset = hdr.stats_reset;
	pg_atomic_write_u32(&c5m_shared->nseries, hdr.nseries);
	pg_atomic_write_u32(&c5m_shared->label_gen, hdr.label_gen);
	c5m_labels_recount();		/* the databases' shares, from the owners */
	pfree(ctr);
	pfree(live);
	pfree(names);
	pfree(owners);
	ereport(LOG,
			(errmsg("c5metrics loaded its saved registry from \"%s\"", C5M_FILE)));
}
