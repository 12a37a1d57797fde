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
 * their names: the per-database quotas are recounted from them at load.  A file from another version, written with other settings, cut
 * short or corrupt is ignored with a LOG line.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unistd.h>

#include "catalog/pg_control.h"
#include "common/controldata_utils.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/pg_crc32c.h"
#include "storage/fd.h"

#include "c5metrics.h"

#define C5M_FILE		PGSTAT_STAT_PERMANENT_DIRECTORY "/c5metrics.stat"
#define C5M_FILE_TMP	C5M_FILE ".tmp"
#define C5M_MAGIC		0xC5E7A001
#define C5M_FORMAT		3		/* 3: status and series owners, label_gen */

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
 * LOG: a failed save must not turn a clean shutdown into a failed one.
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

	cf.f = AllocateFile(C5M_FILE_TMP, PG_BINARY_W);
	if (cf.f == NULL)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not write c5metrics file \"%s\": %m", C5M_FILE_TMP)));
		return;
	}
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
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not write c5metrics file \"%s\": %m", C5M_FILE_TMP)));
		unlink(C5M_FILE_TMP);
		return;
	}
	(void) durable_rename(C5M_FILE_TMP, C5M_FILE, LOG);
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
	uint64		buckets[C5_NHISTS + 1][C5M_MAX_BUCKETS + 1];
	uint64		sums[C5_NHISTS + 1];
	pg_crc32c	filecrc;
	const char *problem = NULL;
	int			i;

	cf.f = AllocateFile(C5M_FILE, PG_BINARY_R);
	if (cf.f == NULL)
	{
		if (errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("could not read c5metrics file \"%s\": %m", C5M_FILE)));
		return;
	}
	INIT_CRC32C(cf.crc);

	if (!get(&cf, &hdr, sizeof(hdr)))
		problem = "it is too short";
	else if (hdr.magic != C5M_MAGIC || hdr.format != C5M_FORMAT)
		problem = "it is not a c5metrics file of this version";
	else if (hdr.pg_major != PG_VERSION_NUM / 100)
		problem = "it was written by another PostgreSQL major version";
	else if (memcmp(&hdr.layout, l, sizeof(C5Layout)) != 0 ||
			 memcmp(hdr.bounds, c5m_shared->bounds, sizeof(hdr.bounds)) != 0)
		problem = "c5metrics.max_label_values or c5metrics.duration_buckets changed since it was written";
	else if (hdr.nstatus_used < 2 || hdr.nstatus_used > l->nstatus ||
			 hdr.nseries > (uint32) Max(c5m_max_series, (int) l->fixed_series) * 2 ||
			 !C5M_GEN_VALID(hdr.label_gen))
		problem = "its header is corrupt";
	else
	{
		ctr = palloc(l->ncounters * sizeof(uint64));
		live = palloc(l->nlive * sizeof(uint32));
		names = palloc((Size) l->nstatus * C5M_LABEL_LEN);
		owners = palloc(l->nstatus * sizeof(Oid));
		if (!get(&cf, ctr, l->ncounters * sizeof(uint64)) ||
			!get(&cf, live, l->nlive * sizeof(uint32)) ||
			!get(&cf, names, (size_t) l->nstatus * C5M_LABEL_LEN) ||
			!get(&cf, owners, (size_t) l->nstatus * sizeof(Oid)) ||
			!get(&cf, tracked, sizeof(tracked)))
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
	unlink(C5M_FILE);

	if (problem != NULL)
	{
		ereport(LOG,
				(errmsg("ignoring c5metrics file \"%s\": %s", C5M_FILE, problem),
				 errdetail("Counting starts from zero.")));
		return;
	}

	/* into stripe 0: the postmaster has not picked another */
	for (i = 0; i < l->ncounters; i++)
		pg_atomic_write_u64(&c5m_counters[i], ctr[i]);
	for (i = 0; i < l->nlive; i++)
		pg_atomic_write_u32(&c5m_live[i], live[i]);	/* the owner's OID */
	memcpy(c5m_status_names, names, (Size) l->nstatus * C5M_LABEL_LEN);
	for (i = 0; i < l->nstatus; i++)
		c5m_status_names[i][C5M_LABEL_LEN - 1] = '\0';
	memcpy(c5m_status_owner, owners, l->nstatus * sizeof(Oid));
	memcpy(c5m_shared->tracked, tracked, sizeof(tracked));
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
