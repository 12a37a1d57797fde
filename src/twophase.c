/*-------------------------------------------------------------------------
 *
 * twophase.c
 *		Counting prepared transactions when they are finished.
 *
 * An extension cannot add its own record to a prepared transaction's state
 * file, so the outcome is parked in shared memory instead: at PREPARE
 * TRANSACTION both outcomes of the transaction's events -- as committed and
 * as rolled back -- are computed into a slot named by the GID.  COMMIT
 * PREPARED or ROLLBACK PREPARED, seen by the utility hook in whichever
 * session runs it, applies one of them once the statement has succeeded.
 *
 * Limits: a slot holds C5M_PREPARED_OPS counter adds per outcome (more are
 * counted in c5metrics_events_lost_total); durations end at PREPARE.
 *
 * Restarts.  PostgreSQL keeps prepared transactions across a restart, and
 * so do we across a clean one: the postmaster writes the parked outcomes
 * to pg_stat/c5metrics_prepared.stat at a clean shutdown, when it saves
 * the registry (persist.c: c5metrics.save on), and loads them back at
 * start.  The outcomes are counter indexes into that registry --
 * status-dictionary slots, live series -- so they are restored only
 * together with it: the file names the registry's layout and stats-reset
 * time, and is ignored (with a LOG line) when the registry was not
 * restored from the same shutdown, or when its contents do not hang
 * together (an index outside the business series, a series not live, a
 * histogram whose sum its buckets cannot hold, a GID twice).  After a
 * crash or an immediate shutdown nothing is saved: the counters start
 * over, and a transaction prepared before it counts nothing when it is
 * finished -- what it did is no longer known.
 *
 * Locking: a slot is claimed with a compare-and-swap on its state; only
 * one session can finish a given GID, so finishing needs no lock.  Saving
 * and loading run in the postmaster with no other process attached.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/twophase.h"
#include "access/xact.h"
#include "common/int.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "pgstat.h"
#include "port/pg_crc32c.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "tcop/utility.h"
#include "utils/timestamp.h"

#include "capture.h"
#include "persist.h"
#include "registry.h"
#include "settings.h"
#include "statefile.h"
#include "twophase.h"

#define C5M_PREPARED_OPS	64		/* parked counter adds per outcome */

#define PREP_FREE		0
#define PREP_WRITING	1
#define PREP_READY		2

typedef struct C5Prepared
{
	pg_atomic_uint32 state;		/* PREP_FREE, PREP_WRITING or PREP_READY */
	char		gid[GIDSIZE];	/* valid when PREP_READY */
	int			ncommit;
	int			nabort;
	C5Op		commit_ops[C5M_PREPARED_OPS];
	C5Op		abort_ops[C5M_PREPARED_OPS];
} C5Prepared;

#define PREP_FILE		PGSTAT_STAT_PERMANENT_DIRECTORY "/c5metrics_prepared.stat"
#define PREP_FILE_TMP	PREP_FILE ".tmp"
#define PREP_MAGIC		0xC5E7A2FC
#define PREP_FORMAT		1

typedef struct C5PreparedFileHeader
{
	uint32		magic;
	uint32		format;
	uint32		pg_major;
	uint32		nentries;		/* entries that follow */
	TimestampTz stats_reset;	/* of the registry the indexes belong to */
	C5Layout	layout;			/* of that registry */
} C5PreparedFileHeader;

typedef struct C5PreparedFileEntry
{
	char		gid[GIDSIZE];
	int32		ncommit;
	int32		nabort;
	C5Op		commit_ops[C5M_PREPARED_OPS];
	C5Op		abort_ops[C5M_PREPARED_OPS];
} C5PreparedFileEntry;

static char prepare_gid[GIDSIZE];	/* GID of a PREPARE TRANSACTION in progress */
static C5Prepared *prepared = NULL;	/* shared, max_prepared_xacts slots */


/*
 * At PREPARE TRANSACTION: compute both outcomes of the top level and park
 * them under the GID.  Runs in the PREPARE callback: no allocation, no lock.
 */
void
c5m_twophase_park(C5Level *top)
{
	C5Prepared *slot = NULL;
	C5Sink		commit_sink;
	C5Sink		abort_sink;
	int			i;

	for (i = 0; prepared != NULL && i < max_prepared_xacts; i++)
	{
		uint32		expected = PREP_FREE;

		if (pg_atomic_compare_exchange_u32(&prepared[i].state, &expected,
										   PREP_WRITING))
		{
			slot = &prepared[i];
			break;
		}
	}
	if (slot == NULL)
	{
		c5m_count_lost(1);
		return;
	}
	slot->ncommit = slot->nabort = 0;
	commit_sink.ops = slot->commit_ops;
	commit_sink.nops = &slot->ncommit;
	commit_sink.maxops = C5M_PREPARED_OPS;
	abort_sink.ops = slot->abort_ops;
	abort_sink.nops = &slot->nabort;
	abort_sink.maxops = C5M_PREPARED_OPS;
	c5m_count_success(top, GetCurrentTimestamp(), &commit_sink);
	c5m_count_rollback(top, 0, NULL, &abort_sink);
	strlcpy(slot->gid, prepare_gid, GIDSIZE);
	prepare_gid[0] = '\0';
	pg_write_barrier();
	pg_atomic_write_u32(&slot->state, PREP_READY);
}

static void
finish_prepared(const char *gid, bool commit)
{
	int			i;

	for (i = 0; prepared != NULL && i < max_prepared_xacts; i++)
	{
		C5Prepared *slot = &prepared[i];

		/* PostgreSQL lets only one session finish a given GID */
		if (pg_atomic_read_u32(&slot->state) == PREP_READY &&
			strcmp(slot->gid, gid) == 0)
		{
			pg_read_barrier();
			if (commit)
				c5m_apply_ops(slot->commit_ops, slot->ncommit);
			else
				c5m_apply_ops(slot->abort_ops, slot->nabort);
			pg_atomic_write_u32(&slot->state, PREP_FREE);
			return;
		}
	}
}

/*
 * Around a utility statement (c5metrics.c): note the GID of PREPARE
 * TRANSACTION, run it with `next`, and after a COMMIT or ROLLBACK PREPARED
 * count the outcome parked under its GID.
 */
void
c5m_twophase_utility(PlannedStmt *pstmt, const char *queryString,
					 bool readOnlyTree, ProcessUtilityContext context,
					 ParamListInfo params, QueryEnvironment *queryEnv,
					 DestReceiver *dest, QueryCompletion *qc,
					 ProcessUtility_hook_type next)
{
	Node	   *parsetree = pstmt->utilityStmt;
	TransactionStmt *stmt = NULL;

	if (IsA(parsetree, TransactionStmt))
	{
		stmt = (TransactionStmt *) parsetree;
		if (stmt->kind == TRANS_STMT_PREPARE)
			strlcpy(prepare_gid, stmt->gid, GIDSIZE);
	}

	next(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);

	/* reached only if the prepared transaction was finished */
	if (stmt != NULL && c5m_shared != NULL &&
		(stmt->kind == TRANS_STMT_COMMIT_PREPARED ||
		 stmt->kind == TRANS_STMT_ROLLBACK_PREPARED))
		finish_prepared(stmt->gid, stmt->kind == TRANS_STMT_COMMIT_PREPARED);
}

Size
c5m_twophase_shmem_size(void)
{
	return mul_size(Max(max_prepared_xacts, 1), sizeof(C5Prepared));
}

void
c5m_twophase_shmem_init(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	prepared = ShmemInitStruct("c5metrics prepared transactions",
							   c5m_twophase_shmem_size(), &found);
	if (!found)
	{
		int			i;

		for (i = 0; i < Max(max_prepared_xacts, 1); i++)
			pg_atomic_init_u32(&prepared[i].state, PREP_FREE);
	}
	LWLockRelease(AddinShmemInitLock);
}

/* ---- persistence ---- */

/*
 * on_shmem_exit callback of the postmaster: save the parked outcomes when
 * the registry is saved, that is at a clean shutdown with c5metrics.save
 * on.  No process is left to park or finish anything.
 */
void
c5m_twophase_save(int code, Datum arg)
{
	C5PreparedFileHeader hdr;
	C5PreparedFileEntry entry;
	pg_crc32c	crc;
	FILE	   *f;
	bool		ok = true;
	int			i;

	if (code != 0 || prepared == NULL || c5m_shared == NULL ||
		!c5m_shut_down_cleanly())
		return;

	memset(&hdr, 0, sizeof(hdr));
	for (i = 0; i < max_prepared_xacts; i++)
		if (pg_atomic_read_u32(&prepared[i].state) == PREP_READY)
			hdr.nentries++;
	if (!c5m_save || hdr.nentries == 0)
	{
		c5m_state_remove(PREP_FILE);
		return;
	}
	hdr.magic = PREP_MAGIC;
	hdr.format = PREP_FORMAT;
	hdr.pg_major = PG_VERSION_NUM / 100;
	hdr.stats_reset = c5m_shared->stats_reset;
	hdr.layout = c5m_shared->layout;

	f = c5m_state_create(PREP_FILE_TMP, WARNING);
	if (f == NULL)
		return;
	INIT_CRC32C(crc);
	COMP_CRC32C(crc, &hdr, sizeof(hdr));
	ok = fwrite(&hdr, 1, sizeof(hdr), f) == sizeof(hdr);
	for (i = 0; ok && i < max_prepared_xacts; i++)
	{
		C5Prepared *slot = &prepared[i];
		int			k;

		if (pg_atomic_read_u32(&slot->state) != PREP_READY)
			continue;
		/* field by field, so that the padding written is zero */
		memset(&entry, 0, sizeof(entry));
		strlcpy(entry.gid, slot->gid, GIDSIZE);
		entry.ncommit = slot->ncommit;
		entry.nabort = slot->nabort;
		for (k = 0; k < slot->ncommit; k++)
		{
			entry.commit_ops[k].idx = slot->commit_ops[k].idx;
			entry.commit_ops[k].gen = slot->commit_ops[k].gen;
			entry.commit_ops[k].n = slot->commit_ops[k].n;
		}
		for (k = 0; k < slot->nabort; k++)
		{
			entry.abort_ops[k].idx = slot->abort_ops[k].idx;
			entry.abort_ops[k].gen = slot->abort_ops[k].gen;
			entry.abort_ops[k].n = slot->abort_ops[k].n;
		}
		COMP_CRC32C(crc, &entry, sizeof(entry));
		ok = fwrite(&entry, 1, sizeof(entry), f) == sizeof(entry);
	}
	FIN_CRC32C(crc);
	if (ok)
		ok = fwrite(&crc, 1, sizeof(crc), f) == sizeof(crc);
	if (FreeFile(f) != 0)
		ok = false;
	if (!ok)
	{
		ereport(WARNING,
				(errcode_for_file_access(),
				 errmsg("could not write c5metrics file \"%s\": %m", PREP_FILE_TMP)));
		unlink(PREP_FILE_TMP);
		return;
	}
	(void) c5m_state_install(PREP_FILE_TMP, PREP_FILE, WARNING);
}

/* Could PREPARE have parked this add into the restored registry? */
static bool
op_acceptable(const C5Op *op)
{
	const C5Layout *l = &c5m_shared->layout;
	int			cell;

	if (op->n == 0)
		return false;
	/* a generation, if any, is one the dictionary can have had */
	if (op->gen != 0 && !C5M_GEN_VALID(op->gen))
		return false;
	if (op->idx >= 0)
	{
		/* business series only; a dynamic one must be live */
		if (op->idx >= l->base[C5_STORE_SERIES_OVERFLOW])
			return false;
		if (op->idx >= l->base[C5_STORE_TRANSITIONS])
			return pg_atomic_read_u32(&c5m_live[l->live_transitions +
												(op->idx - l->base[C5_STORE_TRANSITIONS]) / C5_NRESULTS]) != 0;
		if (op->idx >= l->base[C5_STORE_EXCEPTIONS])
			return pg_atomic_read_u32(&c5m_live[l->live_exceptions +
												op->idx - l->base[C5_STORE_EXCEPTIONS]]) != 0;
		return true;
	}
	cell = -(op->idx + 1);
	return cell / C5M_HIST_OP_STRIDE < C5_NHISTS &&
		cell % C5M_HIST_OP_STRIDE <= l->nbuckets + 1;
}

/* One outcome: acceptable adds, and histograms that hang together. */
static const char *
outcome_problem(const C5Op *ops, int n)
{
	uint64		buckets[C5_NHISTS][C5M_MAX_BUCKETS + 1];
	uint64		sums[C5_NHISTS];
	int			nb = c5m_shared->layout.nbuckets;
	int			i;

	if (n < 0 || n > C5M_PREPARED_OPS)
		return "an outcome has more adds than a slot holds";
	memset(buckets, 0, sizeof(buckets));
	memset(sums, 0, sizeof(sums));
	for (i = 0; i < n; i++)
	{
		int			cell;
		uint64	   *v;

		if (!op_acceptable(&ops[i]))
			return "an outcome adds to a series it cannot have counted";
		if (ops[i].idx >= 0)
			continue;
		cell = -(ops[i].idx + 1);
		v = cell % C5M_HIST_OP_STRIDE <= nb ?
			&buckets[cell / C5M_HIST_OP_STRIDE][cell % C5M_HIST_OP_STRIDE] :
			&sums[cell / C5M_HIST_OP_STRIDE];
		if (pg_add_u64_overflow(*v, ops[i].n, v))
			return "an outcome's histogram counts overflow";
	}
	for (i = 0; i < C5_NHISTS; i++)
		if (c5m_histogram_problem(buckets[i], sums[i], c5m_shared->bounds, nb) != NULL)
			return "an outcome's histogram does not hang together";
	return NULL;
}

/*
 * The entries of a file whose checksum matched, field by field.  Runs
 * after the registry is loaded, whose live flags the adds must find.
 */
static const char *
entries_problem(const C5PreparedFileEntry *entries, int n)
{
	int			i,
				j;

	for (i = 0; i < n; i++)
	{
		const C5PreparedFileEntry *e = &entries[i];
		int			len = strnlen(e->gid, GIDSIZE);
		const char *problem;

		if (len == 0 || len == GIDSIZE)
			return "a transaction identifier is empty or not terminated";
		for (j = 0; j < i; j++)
			if (strcmp(entries[j].gid, e->gid) == 0)
				return "a transaction identifier appears twice";
		if ((problem = outcome_problem(e->commit_ops, e->ncommit)) != NULL ||
			(problem = outcome_problem(e->abort_ops, e->nabort)) != NULL)
			return problem;
	}
	return NULL;
}

/* Load the parked outcomes into the fresh slots.  Postmaster, at start. */
void
c5m_twophase_load(void)
{
	C5PreparedFileHeader hdr;
	C5PreparedFileEntry *entries = NULL;
	pg_crc32c	crc,
				filecrc;
	FILE	   *f;
	const char *problem = NULL;
	int			i;

	f = c5m_state_open(PREP_FILE, &problem);
	if (f != NULL)
	{
		INIT_CRC32C(crc);
		if (fread(&hdr, 1, sizeof(hdr), f) != sizeof(hdr))
			problem = "it is too short";
		else if (hdr.magic != PREP_MAGIC || hdr.format != PREP_FORMAT ||
				 hdr.pg_major != PG_VERSION_NUM / 100)
			problem = "it is not a c5metrics file of this version";
		else if (hdr.nentries > (uint32) max_prepared_xacts)
			problem = "it holds more transactions than max_prepared_transactions";
		else
		{
			entries = palloc(mul_size(Max(hdr.nentries, 1), sizeof(C5PreparedFileEntry)));
			COMP_CRC32C(crc, &hdr, sizeof(hdr));
			if (fread(entries, sizeof(C5PreparedFileEntry), hdr.nentries, f) != hdr.nentries ||
				fread(&filecrc, 1, sizeof(filecrc), f) != sizeof(filecrc))
				problem = "it is too short";
			else
			{
				COMP_CRC32C(crc, entries, sizeof(C5PreparedFileEntry) * hdr.nentries);
				FIN_CRC32C(crc);
				if (!EQ_CRC32C(crc, filecrc))
					problem = "its checksum does not match";
				else if (memcmp(&hdr.layout, &c5m_shared->layout, sizeof(C5Layout)) != 0 ||
						 hdr.stats_reset != c5m_shared->stats_reset)
					problem = "the registry it belongs to was not restored";
				else
					problem = entries_problem(entries, hdr.nentries);
			}
		}
		FreeFile(f);
	}
	else if (problem == NULL)
		return;
	c5m_state_remove(PREP_FILE);

	if (problem != NULL)
	{
		if (entries != NULL)
			pfree(entries);
		ereport(LOG,
				(errmsg("ignoring c5metrics file \"%s\": %s", PREP_FILE, problem),
				 errdetail("Transactions prepared before the restart are not counted when they are finished.")));
		return;
	}
	for (i = 0; i < (int) hdr.nentries; i++)
	{
		C5Prepared *slot = &prepared[i];

		strlcpy(slot->gid, entries[i].gid, GIDSIZE);
		slot->ncommit = entries[i].ncommit;
		slot->nabort = entries[i].nabort;
		memcpy(slot->commit_ops, entries[i].commit_ops, sizeof(slot->commit_ops));
		memcpy(slot->abort_ops, entries[i].abort_ops, sizeof(slot->abort_ops));
		pg_atomic_write_u32(&slot->state, PREP_READY);
	}
	pfree(entries);
	ereport(LOG,
			(errmsg_plural("c5metrics restored the outcome of %u prepared transaction from \"%s\"",
						   "c5metrics restored the outcomes of %u prepared transactions from \"%s\"",
						   hdr.nentries, hdr.nentries, PREP_FILE)));
}
