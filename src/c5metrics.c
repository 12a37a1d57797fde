/*-------------------------------------------------------------------------
 *
 * c5metrics.c
 *		_PG_init: where every setting, hook and callback is installed.
 *
 * The one place that wires the modules into PostgreSQL, as
 * pg_stat_statements does: the settings (settings.c), shared memory (one
 * request and one startup hook, calling each module that has shared
 * state), the executor and utility hooks, the error-log hook, the
 * transaction callbacks and the HTTP worker.  The modules export what the
 * hooks call and install nothing themselves, so the order in which things
 * run is read here.  The module map is in docs/DESIGN.md.
 *
 * The library must be loaded through shared_preload_libraries: the
 * registry lives in shared memory that can only be requested by the
 * postmaster.  When it is loaded any other way, _PG_init returns quietly
 * and the SQL functions explain what to do (see c5m_registry_ready()).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "tcop/utility.h"
#include "utils/elog.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/syscache.h"

#include "capture.h"
#include "ddl.h"
#include "labels.h"
#include "leads.h"
#include "persist.h"
#include "refunds.h"
#include "refund_in.h"
#include "registry.h"
#include "sales.h"
#include "settings.h"
#include "sli.h"
#include "stock.h"
#include "throttle.h"
#include "trigcache.h"
#include "twophase.h"

PG_MODULE_MAGIC;

/* Saved hook values */
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static ExecutorStart_hook_type prev_ExecutorStart = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;
static emit_log_hook_type prev_emit_log_hook = NULL;

void		_PG_init(void);
static void c5m_shmem_request(void);
static void c5m_shmem_startup(void);
static void c5m_ExecutorStart(QueryDesc *queryDesc, int eflags);
static void c5m_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
							   bool readOnlyTree, ProcessUtilityContext context,
							   ParamListInfo params, QueryEnvironment *queryEnv,
							   DestReceiver *dest, QueryCompletion *qc);
static void c5m_emit_log(ErrorData *edata);
static void c5m_xact_callback(XactEvent event, void *arg);
static void c5m_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
								 SubTransactionId parentSubid, void *arg);
static void c5m_register_worker(void);

/*
 * Module load callback
 */
void
_PG_init(void)
{
	/*
	 * Shared memory can only be requested while the postmaster loads
	 * shared_preload_libraries.  Loaded later (a plain LOAD, or CREATE
	 * EXTENSION without preloading), we define nothing: the SQL functions
	 * then report the missing setting with a hint.
	 */
	if (!process_shared_preload_libraries_in_progress)
		return;

	c5m_define_settings();

	/* Install hooks. */
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = c5m_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = c5m_shmem_startup;
	prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = c5m_ExecutorStart;
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = c5m_ProcessUtility;
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = c5m_emit_log;

	/*
	 * The flows, in the order their counts are taken at commit: the sales
	 * flow first, as it matches its paid sales with the stock flow's
	 * consumption of the same transaction.
	 */
	c5m_capture_add_flow(&c5m_sales_flow);
	c5m_capture_add_flow(&c5m_refunds_flow);
	c5m_capture_add_flow(&c5m_stock_flow);
	c5m_capture_add_flow(&c5m_leads_flow);

	/* Transaction callbacks, and the caches the triggers keep. */
	RegisterXactCallback(c5m_xact_callback, NULL);
	RegisterSubXactCallback(c5m_subxact_callback, NULL);
	CacheRegisterSyscacheCallback(PROCOID, c5m_sales_forget_functions, (Datum) 0);
	CacheRegisterRelcacheCallback(c5m_trigcache_invalidate, (Datum) 0);
	CacheRegisterRelcacheCallback(c5m_refund_in_invalidate, (Datum) 0);

	/* pg_upgrade's own server starts serve nothing (see c5m_shmem_startup) */
	if (!IsBinaryUpgrade)
		c5m_register_worker();
}

/*
 * The HTTP listener.  Its code and its HTTP library live in
 * c5metrics_http.so, which only the worker process loads.  It starts with
 * the postmaster, so it serves during recovery and on a standby, and comes
 * back 5 s after it exits abnormally.
 */
static void
c5m_register_worker(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS;
	worker.bgw_start_time = BgWorkerStart_PostmasterStart;
	worker.bgw_restart_time = 5;
	strlcpy(worker.bgw_library_name, "c5metrics_http", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "c5m_http_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "c5metrics http listener", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "c5metrics http listener", BGW_MAXLEN);
	RegisterBackgroundWorker(&worker);
}

/* ---- shared memory ---- */

static void
c5m_shmem_request(void)
{
	Size		size;

	if (prev_shmem_request_hook)
		prev_shmem_request_hook();

	size = c5m_registry_shmem_size();
	size = add_size(size, c5m_labels_shmem_size());
	size = add_size(size, c5m_throttle_shmem_size());
	size = add_size(size, c5m_sli_shmem_size());
	size = add_size(size, c5m_twophase_shmem_size());
	RequestAddinShmemSpace(size);
	RequestNamedLWLockTranche(C5M_TRANCHE, C5M_NLOCKS);
}

/*
 * Attach to (or create) every module's shared state.  Runs in the
 * postmaster at startup and after a crash, and in every EXEC_BACKEND child.
 * Only the postmaster loads what a clean shutdown saved, and only it saves
 * it then, at exit: the registry, the SLI ring and the outcomes parked for
 * prepared transactions (on_shmem_exit runs its callbacks in reverse
 * order, so they are saved the other way round).  Not under pg_upgrade
 * (binary-upgrade mode): its starts of the old and the new cluster neither
 * load nor save, so the old cluster keeps its files untouched and the new
 * one starts with none -- pg_upgrade does not carry pg_stat/ -- and says
 * so at its first real start (c5m_persist_load).
 */
static void
c5m_shmem_startup(void)
{
	bool		created;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	created = c5m_registry_shmem_init();
	c5m_labels_shmem_init();
	c5m_throttle_shmem_init();
	c5m_sli_shmem_init();
	c5m_twophase_shmem_init();

	if (!IsUnderPostmaster && created && !IsBinaryUpgrade)
	{
		c5m_persist_load();
		on_shmem_exit(c5m_persist_save, (Datum) 0);
		c5m_registry_loaded();
		c5m_sli_load();
		on_shmem_exit(c5m_sli_save_at_exit, (Datum) 0);
		c5m_twophase_load();
		on_shmem_exit(c5m_twophase_save, (Datum) 0);
	}
}

/* ---- executor and utility hooks ---- */

/*
 * After the executor has opened a statement's tables: note the sales
 * flow when a tracked sales table's status may change (sales.c).
 */
static pg_attribute_hot void
c5m_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	if (prev_ExecutorStart)
		prev_ExecutorStart(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
	c5m_sales_executor_start(queryDesc, eflags);
}

static void
next_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
					bool readOnlyTree, ProcessUtilityContext context,
					ParamListInfo params, QueryEnvironment *queryEnv,
					DestReceiver *dest, QueryCompletion *qc)
{
	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
							params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
}

static void
twophase_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
						bool readOnlyTree, ProcessUtilityContext context,
						ParamListInfo params, QueryEnvironment *queryEnv,
						DestReceiver *dest, QueryCompletion *qc)
{
	c5m_twophase_utility(pstmt, queryString, readOnlyTree, context,
						 params, queryEnv, dest, qc, next_ProcessUtility);
}

/*
 * Utility statements: ddl.c around a schema change (following renames,
 * checking ALTER TABLE), and inside that twophase.c around PREPARE
 * TRANSACTION and COMMIT/ROLLBACK PREPARED.
 */
static void
c5m_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
				   bool readOnlyTree, ProcessUtilityContext context,
				   ParamListInfo params, QueryEnvironment *queryEnv,
				   DestReceiver *dest, QueryCompletion *qc)
{
	c5m_ddl_utility(pstmt, queryString, readOnlyTree, context,
					params, queryEnv, dest, qc, twophase_ProcessUtility);
}

/* ---- errors and transactions ---- */

/*
 * The SQLSTATE of an error reported while tracked work is pending
 * (capture.c).  Runs inside error reporting: it must not fail.
 */
static void
c5m_emit_log(ErrorData *edata)
{
	c5m_capture_error(edata);
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

/*
 * In this order: at PREPARE, twophase.c parks the transaction's outcomes;
 * capture.c counts (or drops) them; and only then may the trigger cache
 * free the entries that the transaction's events pointed into.
 */
static pg_attribute_hot void
c5m_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_PREPARE)
		c5m_twophase_park(c5m_capture_top());
	if (c5m_capture_xact(event))
		c5m_trig_cache_sweep();
}

static void
c5m_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					 SubTransactionId parentSubid, void *arg)
{
	c5m_capture_subxact(event, mySubid);
}
