/*-------------------------------------------------------------------------
 *
 * settings.c
 *		Every c5metrics.* setting, defined in one place.
 *
 * So that there is one place to read what can be tuned.  Settings that
 * size shared memory are PGC_POSTMASTER; the guards' switches are
 * PGC_SUSET so that an ordinary role cannot turn a guard off for its own
 * session; the per-database quotas are PGC_SIGHUP, one value for the
 * whole cluster.  _PG_init (c5metrics.c) calls c5m_define_settings() first.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "utils/guc.h"

#include "layout.h"
#include "settings.h"

static bool check_duration_buckets(char **newval, void **extra, GucSource source);

/* GUC variables */
int			c5m_max_series = 2000;
int			c5m_max_label_values = 32;
int			c5m_max_series_per_db = -1;
int			c5m_max_label_values_per_db = -1;
char	   *c5m_duration_buckets = NULL;
bool		c5m_refund_guard = true;
bool		c5m_lead_throttle = false;
bool		c5m_legacy_sqlstates = false;
int			c5m_guard_unavailable = C5M_GUARD_REFUSE;
double		c5m_lead_rate_ip = 5;
double		c5m_lead_rate_email = 3;
double		c5m_lead_rate_global = 600;
bool		c5m_save = true;
char	   *c5m_listen_addresses = NULL;
int			c5m_port = C5M_DEFAULT_PORT;
int			c5m_http_max_connections = 32;
int			c5m_http_max_per_address = 8;
int			c5m_http_idle_timeout = 10;
int			c5m_http_request_timeout = 10000;
int			c5m_http_auth = C5_HTTP_AUTH_NONE;
char	   *c5m_http_auth_file = NULL;
char	   *c5m_http_tls_cert_file = NULL;
char	   *c5m_http_tls_key_file = NULL;

/* the SLOs' objectives, in catalog order (catalog.h) */
double		c5m_objective[C5_NSLOS] = {
#define C5M_SLO_OBJECTIVE(id, name, objective, threshold, descr) objective,
	C5M_SLOS(C5M_SLO_OBJECTIVE)
#undef C5M_SLO_OBJECTIVE
};
int			c5m_budget_days = 30;
int			c5m_sli_sample_interval = 10;
int			c5m_sli_checkpoint_interval = 60;

/* the SLOs' names and latency thresholds, in the same order */
const char *const c5m_slo_names[C5_NSLOS] = {
#define C5M_SLO_NAME(id, name, objective, threshold, descr) name,
	C5M_SLOS(C5M_SLO_NAME)
#undef C5M_SLO_NAME
};
const double c5m_slo_threshold[C5_NSLOS] = {
#define C5M_SLO_THRESHOLD(id, name, objective, threshold, descr) threshold,
	C5M_SLOS(C5M_SLO_THRESHOLD)
#undef C5M_SLO_THRESHOLD
};

static const struct config_enum_entry guard_unavailable_options[] = {
	{"refuse", C5M_GUARD_REFUSE, false},
	{"count", C5M_GUARD_COUNT, false},
	{NULL, 0, false}
};

static const struct config_enum_entry http_auth_options[] = {
	{"none", C5_HTTP_AUTH_NONE, false},
	{"bearer", C5_HTTP_AUTH_BEARER, false},
	{"basic", C5_HTTP_AUTH_BASIC, false},
	{NULL, 0, false}
};

void
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

	DefineCustomIntVariable("c5metrics.max_series_per_database",
							"Sets how many series of label values one database may bring into the registry.",
							"Counts the sales_transition_total and exceptions_total series a database was the first to use; a series another database brought in is free. Beyond it they are folded into \"other\" and counted in c5metrics_series_overflow_total. -1 means half of c5metrics.max_series.",
							&c5m_max_series_per_db,
							-1, -1, 1000000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("c5metrics.max_label_values_per_database",
							"Sets how many sale statuses one database may add to the shared status dictionary.",
							"A status another database added is free. Beyond it statuses become \"other\" and are counted in c5metrics_label_overflow_total. -1 means half of c5metrics.max_label_values.",
							&c5m_max_label_values_per_db,
							-1, -1, 256,
							PGC_SIGHUP, 0,
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

	DefineCustomEnumVariable("c5metrics.guard_unavailable",
							 "Sets what the over-refund guard does when its attachment no longer resolves.",
							 "refuse: the refund fails with SQLSTATE 55M01; count: it is let through and counted in c5metrics_events_lost_total, with a WARNING.",
							 &c5m_guard_unavailable,
							 C5M_GUARD_REFUSE, guard_unavailable_options,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("c5metrics.legacy_sqlstates",
							 "Raises the guards' errors with the SQLSTATEs of version 1.3 and before (C5M01, C5M02).",
							 "For applications that match those codes; off gives 23M01 for an over-refund and 53M01 for a throttled lead.",
							 &c5m_legacy_sqlstates,
							 false,
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

	{
		static const char *const descr[C5_NSLOS] = {
#define C5M_SLO_DESCR(id, name, objective, threshold, descr) descr,
			C5M_SLOS(C5M_SLO_DESCR)
#undef C5M_SLO_DESCR
		};
		int			i;

		for (i = 0; i < C5_NSLOS; i++)
			DefineCustomRealVariable(psprintf("c5metrics.objective_%s", c5m_slo_names[i]),
									 descr[i],
									 "Read by c5metrics.sli and c5metrics.error_budget.",
									 &c5m_objective[i],
									 c5m_objective[i], 50.0, 99.9999,
									 PGC_SUSET, 0,
									 NULL, NULL, NULL);
	}

	DefineCustomIntVariable("c5metrics.budget_window",
							"Sets the error-budget window of every SLO, in days.",
							NULL,
							&c5m_budget_days,
							30, 1, 30,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("c5metrics.sli_sample_interval",
							"Sets how often the SLI history is sampled.",
							NULL,
							&c5m_sli_sample_interval,
							10, 1, 10,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("c5metrics.sli_checkpoint_interval",
							"Sets how often the SLI history is written to disk.",
							"A crash loses at most this much history.",
							&c5m_sli_checkpoint_interval,
							60, 1, 3600,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("c5metrics.save",
							 "Saves the registry across server shutdowns.",
							 NULL,
							 &c5m_save,
							 true,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	DefineCustomStringVariable("c5metrics.listen_addresses",
							   "Sets the addresses the HTTP listener serves /metrics on.",
							   "A comma-separated list of host names or addresses; \"*\" means all; empty turns the listener off.",
							   &c5m_listen_addresses,
							   "localhost",
							   PGC_SIGHUP, 0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("c5metrics.port",
							"Sets the TCP port of the HTTP listener.",
							NULL,
							&c5m_port,
							C5M_DEFAULT_PORT, 1, 65535,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("c5metrics.http_max_connections",
							"Sets the maximum number of concurrent HTTP connections.",
							"When it is reached, a new connection takes the place of the one that has waited longest for a request; when every connection is being served, the new one is refused. Both are counted in c5metrics_http_refused_connections_total.",
							&c5m_http_max_connections,
							32, 1, 1000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("c5metrics.http_max_connections_per_address",
							"Sets the maximum number of concurrent HTTP connections from one client address.",
							NULL,
							&c5m_http_max_per_address,
							8, 1, 1024,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("c5metrics.http_idle_timeout",
							"Sets how long an HTTP connection may stay silent before it is closed.",
							NULL,
							&c5m_http_idle_timeout,
							10, 1, 3600,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("c5metrics.http_request_timeout",
							"Sets the time a client has to send a whole HTTP request and read the response.",
							"A connection still busy with one request after this long is cut, however active it is.",
							&c5m_http_request_timeout,
							10000, 100, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomEnumVariable("c5metrics.http_auth",
							 "Sets the credentials the HTTP listener requires.",
							 "none, bearer (Authorization: Bearer <token>) or basic (user:password); the secret is read from c5metrics.http_auth_file.",
							 &c5m_http_auth,
							 C5_HTTP_AUTH_NONE, http_auth_options,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	DefineCustomStringVariable("c5metrics.http_auth_file",
							   "Sets the file holding the HTTP listener's secret: a token, or user:password.",
							   "Visible to superusers only. The file should be readable by the server's user alone.",
							   &c5m_http_auth_file,
							   "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("c5metrics.http_tls_cert_file",
							   "Sets the PEM certificate file of the HTTP listener; with a key file, it serves HTTPS.",
							   NULL,
							   &c5m_http_tls_cert_file,
							   "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("c5metrics.http_tls_key_file",
							   "Sets the PEM private key file of the HTTP listener.",
							   "Visible to superusers only.",
							   &c5m_http_tls_key_file,
							   "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
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

/*
 * An SLO's objective as a ratio, rounded as set (99.9 -> 0.999, not
 * 0.9990000000000001): what c5metrics.sli, c5metrics_slo_objective and the
 * status page show.
 */
double
c5m_objective_ratio(int slo)
{
	return rint(c5m_objective[slo] * 10000.0) / 1000000.0;
}

/* The lead throttle's rate a minute for one scope. */
double
c5m_lead_rate(C5Scope scope)
{
	switch (scope)
	{
		case C5_SCOPE_IP:
			return c5m_lead_rate_ip;
		case C5_SCOPE_EMAIL:
			return c5m_lead_rate_email;
		default:
			return c5m_lead_rate_global;
	}
}
