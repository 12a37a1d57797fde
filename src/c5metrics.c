/*-------------------------------------------------------------------------
 *
 * c5metrics.c
 *		Entry point: settings, shared-memory hooks and _PG_init.
 *
 * Every c5metrics.* setting is defined here, so that there is one place
 * to read what can be tuned.  Settings that size shared memory are
 * PGC_POSTMASTER; the guards' switches are PGC_SUSET so that an ordinary
 * role cannot turn a guard off for its own session.
 *
 * The library must be loaded through shared_preload_libraries: the
 * registry lives in shared memory that can only be requested by the
 * postmaster.  When it is loaded any other way, _PG_init returns quietly
 * and the SQL functions explain what to do (see c5m_registry_ready()).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/guc.h"

#include "c5metrics.h"

PG_MODULE_MAGIC;

/* GUC variables */
int			c5m_max_series = 2000;
int			c5m_max_label_values = 32;
char	   *c5m_duration_buckets = NULL;
bool		c5m_refund_guard = true;
bool		c5m_lead_throttle = false;
double		c5m_lead_rate_ip = 5;
double		c5m_lead_rate_email = 3;
double		c5m_lead_rate_global = 600;
bool		c5m_save = true;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

void		_PG_init(void);
static void c5m_define_settings(void);
static bool check_duration_buckets(char **newval, void **extra, GucSource source);
static void c5m_shmem_request(void);
static void c5m_shmem_startup(void);

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

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = c5m_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = c5m_shmem_startup;

	c5m_capture_init();
	c5m_triggers_init();
}

static void
c5m_define_settings(void)
{
	DefineCustomIntVariable("c5metrics.max_series",
							"Sets the maximum number of series the registry exposes.",
							"Series beyond the cap are folded into an \"other\" series and counted in c5metrics_series_overflow_total.",
							&c5m_max_series,
							2000, 500, 1000000,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("c5metrics.max_label_values",
							"Sets how many distinct sale statuses become label values.",
							"Two of them are reserved for \"other\" and \"none\" (a NULL status); later values become \"other\".",
							&c5m_max_label_values,
							32, 4, 256,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);

	DefineCustomStringVariable("c5metrics.duration_buckets",
							   "Sets the upper bounds, in seconds, of the duration histograms' buckets.",
							   "A comma-separated, strictly increasing list of positive numbers; +Inf is implied.",
							   &c5m_duration_buckets,
							   "0.005,0.01,0.025,0.05,0.1,0.25,0.5,0.8,1,2.5,5,10",
							   PGC_POSTMASTER, 0,
							   check_duration_buckets, NULL, NULL);

	DefineCustomBoolVariable("c5metrics.refund_guard",
							 "Blocks refunds that exceed the sale's refundable remainder.",
							 "When off, such refunds are only counted. The guard applies to refund tables tracked with a sales table.",
							 &c5m_refund_guard,
							 true,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("c5metrics.lead_throttle",
							 "Throttles inserts into tracked lead tables with token buckets.",
							 NULL,
							 &c5m_lead_throttle,
							 false,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);

	DefineCustomRealVariable("c5metrics.lead_ip_per_minute",
							 "Sets how many leads one source address may create per minute.",
							 "This is also the burst size of the address's token bucket.",
							 &c5m_lead_rate_ip,
							 5, 0.01, 1000000,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);

	DefineCustomRealVariable("c5metrics.lead_email_per_minute",
							 "Sets how many leads one email address may create per minute.",
							 "This is also the burst size of the email's token bucket.",
							 &c5m_lead_rate_email,
							 3, 0.01, 1000000,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);

	DefineCustomRealVariable("c5metrics.lead_global_per_minute",
							 "Sets how many leads all sources together may create per minute.",
							 "This is also the burst size of the global token bucket.",
							 &c5m_lead_rate_global,
							 600, 0.01, 10000000,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("c5metrics.save",
							 "Saves the registry across server shutdowns.",
							 NULL,
							 &c5m_save,
							 true,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	MarkGUCPrefixReserved("c5metrics");
}

static bool
check_duration_buckets(char **newval, void **extra, GucSource source)
{
	double		bounds[C5M_MAX_BUCKETS];
	char	   *errmsg = NULL;

	if (c5m_parse_buckets(*newval, bounds, &errmsg) < 0)
	{
		GUC_check_errdetail("%s", errmsg);
		GUC_check_errhint("Use a list such as \"0.1,0.5,0.8,1,5\".");
		return false;
	}
	return true;
}

static void
c5m_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();

	RequestAddinShmemSpace(add_size(c5m_registry_shmem_size(),
									c5m_throttle_shmem_size()));
	RequestNamedLWLockTranche("c5metrics", 2);
}

static void
c5m_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	c5m_registry_shmem_init();
	c5m_throttle_shmem_init();
}
