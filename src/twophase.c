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
 * counted in c5metrics_events_lost_total); durations end at PREPARE; the
 * slots live in shared memory only, so a transaction still prepared across
 * a server restart is not counted when it is finally finished.
 *
 * Locking: a slot is claimed with a compare-and-swap on its state; only
 * one session can finish a given GID, so finishing needs no lock.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/twophase.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "tcop/utility.h"
#include "utils/timestamp.h"

#include "c5metrics.h"

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

static char prepare_gid[GIDSIZE];	/* GID of a PREPARE TRANSACTION in progress */
static C5Prepared *prepared = NULL;	/* shared, max_prepared_xacts slots */

static ProcessUtility_hook_type prev_ProcessUtility = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void c5m_process_utility(PlannedStmt *pstmt, const char *queryString,
								bool readOnlyTree, ProcessUtilityContext context,
								ParamListInfo params, QueryEnvironment *queryEnv,
								DestReceiver *dest, QueryCompletion *qc);
static void prepared_shmem_request(void);
static void prepared_shmem_startup(void);

void
c5m_twophase_init(void)
{
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = c5m_process_utility;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = prepared_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = prepared_shmem_startup;
}

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
		c5m_note_lost();
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

static void
c5m_process_utility(PlannedStmt *pstmt, const char *queryString,
					bool readOnlyTree, ProcessUtilityContext context,
					ParamListInfo params, QueryEnvironment *queryEnv,
					DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	TransactionStmt *stmt = NULL;

	if (IsA(parsetree, TransactionStmt))
	{
		stmt = (TransactionStmt *) parsetree;
		if (stmt->kind == TRANS_STMT_PREPARE)
			strlcpy(prepare_gid, stmt->gid, GIDSIZE);
	}

	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
							params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);

	/* reached only if the prepared transaction was finished */
	if (stmt != NULL && c5m_shared != NULL &&
		(stmt->kind == TRANS_STMT_COMMIT_PREPARED ||
		 stmt->kind == TRANS_STMT_ROLLBACK_PREPARED))
		finish_prepared(stmt->gid, stmt->kind == TRANS_STMT_COMMIT_PREPARED);
}

static void
prepared_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(mul_size(Max(max_prepared_xacts, 1), sizeof(C5Prepared)));
}

static void
prepared_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	prepared = ShmemInitStruct("c5metrics prepared transactions",
							   mul_size(Max(max_prepared_xacts, 1), sizeof(C5Prepared)),
							   &found);
	if (!found)
	{
		int			i;

		for (i = 0; i < Max(max_prepared_xacts, 1); i++)
			pg_atomic_init_u32(&prepared[i].state, PREP_FREE);
	}
	LWLockRelease(AddinShmemInitLock);
}
