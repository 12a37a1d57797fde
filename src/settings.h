/*-------------------------------------------------------------------------
 *
 * settings.h
 *		Every c5metrics.* setting.
 *
 * Defined in settings.c; the settings that size shared memory are read by
 * the registry at startup only.
 *
 *-------------------------------------------------------------------------
 */
#ifndef C5M_SETTINGS_H
#define C5M_SETTINGS_H

#include "catalog.h"

/* c5metrics.http_auth */
#define C5_HTTP_AUTH_NONE	0
#define C5_HTTP_AUTH_BEARER 1
#define C5_HTTP_AUTH_BASIC	2

#define C5M_DEFAULT_PORT	15187	/* outside the 9100-9999 exporter range */

/* c5metrics.guard_unavailable */
#define C5M_GUARD_REFUSE	0
#define C5M_GUARD_COUNT		1

extern PGDLLEXPORT int	c5m_max_series;
extern int	c5m_max_label_values;
extern int	c5m_max_series_per_db;
extern int	c5m_max_label_values_per_db;
extern char *c5m_duration_buckets;
extern bool c5m_refund_guard;
extern bool c5m_lead_throttle;
extern bool c5m_legacy_sqlstates;
extern int	c5m_guard_unavailable;
extern double c5m_lead_rate_ip;
extern double c5m_lead_rate_email;
extern double c5m_lead_rate_global;
extern bool c5m_save;
extern PGDLLEXPORT char *c5m_listen_addresses;
extern PGDLLEXPORT int	c5m_port;
extern PGDLLEXPORT int	c5m_http_max_connections;
extern PGDLLEXPORT int	c5m_http_max_per_address;
extern PGDLLEXPORT int	c5m_http_idle_timeout;
extern PGDLLEXPORT int	c5m_http_request_timeout;
extern PGDLLEXPORT int	c5m_http_auth;
extern PGDLLEXPORT char *c5m_http_auth_file;
extern PGDLLEXPORT char *c5m_http_tls_cert_file;
extern PGDLLEXPORT char *c5m_http_tls_key_file;
extern double c5m_objective[C5_NSLOS];
extern int	c5m_budget_days;
extern int	c5m_sli_sample_interval;
extern int	c5m_sli_checkpoint_interval;

/* The SLO table of catalog.h, as arrays in its order. */
extern const char *const c5m_slo_names[C5_NSLOS];
extern const double c5m_slo_threshold[C5_NSLOS];	/* seconds; 0: availability */

extern void c5m_define_settings(void);
extern double c5m_objective_ratio(int slo);
extern double c5m_lead_rate(C5Scope scope);

#endif							/* C5M_SETTINGS_H */
