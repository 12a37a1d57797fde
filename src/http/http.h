/*-------------------------------------------------------------------------
 *
 * http.h
 *		Private header of the HTTP worker library, c5metrics_http.so.
 *
 * The worker's code and its HTTP dependency (libmicrohttpd, GnuTLS, zlib)
 * live in a library of their own, loaded only by the worker process, so
 * that no backend ever maps them.  It uses the registry and the renderer
 * of c5metrics.so, which the postmaster preloaded (PostgreSQL loads
 * libraries with RTLD_GLOBAL, so their symbols resolve here).
 *
 *-------------------------------------------------------------------------
 */
#ifndef C5_HTTP_H
#define C5_HTTP_H

#include "postgres.h"

#include <microhttpd.h>

#include "exposition.h"
#include "registry.h"
#include "settings.h"
#include "sli.h"
#include "status.h"
#include "negotiate.h"

#define C5H_MAX_SECRET 4096		/* bytes of a secret file, and of credentials */

/* The configuration the worker is serving with. */
typedef struct C5HttpConfig
{
	int			auth;			/* C5_HTTP_AUTH_* */
	char		secret[C5H_MAX_SECRET];	/* token, or user:password */
	size_t		secretlen;
	int			max_connections;
	int			max_per_address;
	int			idle_timeout;	/* seconds */
	int			request_timeout;	/* milliseconds */
} C5HttpConfig;

extern C5HttpConfig c5h_config;

/* handler.c */
extern enum MHD_Result c5h_handle(void *cls, struct MHD_Connection *conn,
								  const char *url, const char *method,
								  const char *version, const char *upload_data,
								  size_t *upload_data_size, void **req_cls);
extern void c5h_request_completed(void *cls, struct MHD_Connection *conn,
								  void **req_cls,
								  enum MHD_RequestTerminationCode toe);

/* worker.c */
extern void c5h_request_started(struct MHD_Connection *conn);
extern void c5h_request_ended(struct MHD_Connection *conn);

#endif							/* C5_HTTP_H */
