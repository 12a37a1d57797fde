/*-------------------------------------------------------------------------
 *
 * worker.c
 *		The background worker serving the registry over HTTP.
 *
 * Design.  One process, one thread, one wait loop (as worker_spi): the
 * latch, postmaster death and each libmicrohttpd daemon's epoll descriptor
 * in one WaitEventSet; after every wake-up, MHD_run() on each daemon.  The
 * worker only reads shared memory -- it never connects to a database and
 * never runs SQL -- so it serves on a standby, during recovery and while a
 * database is dropped.
 *
 * Robustness.  A crash of any background worker restarts the whole
 * cluster, so this one keeps its own table of connections, admits them
 * itself (see "Admission"), cuts any connection whose
 * request has not completed within c5metrics.http_request_timeout (a
 * slowloris is not stopped by libmicrohttpd's inactivity timeout) -- the
 * clock runs from the first byte of a request, seen with FIONREAD before
 * libmicrohttpd reads it, so an idle keep-alive connection is left to the
 * inactivity timeout and a slow one is cut whatever came before -- sends
 * libmicrohttpd's attacker-driven log to DEBUG1, and never lets an error
 * unwind through libmicrohttpd (handler.c).  The wait is capped, so that a
 * daemon that dropped its listening socket at a limit is run again.
 *
 * Admission.  A newcomer past c5metrics.http_max_connections_per_address
 * is refused.  When c5metrics.http_max_connections are open, the one that
 * has waited longest without a request being served -- silent since it
 * connected, still sending its headers, or idle between two requests --
 * is evicted to make room; a connection whose request is being served is
 * never evicted, so when every one is, the newcomer is refused.  Without
 * this, a few addresses holding their quota of silent connections and
 * reconnecting when cut lock everyone else out.  libmicrohttpd's own limit
 * is set above ours (it would refuse without asking), and a connection is
 * cut by shutdown(2) of its socket: libmicrohttpd sees the end of the
 * stream, closes it on its next run and only then closes the descriptor,
 * after telling us (MHD_CONNECTION_NOTIFY_CLOSED), so a descriptor in the
 * table is always the connection's own.  Refusals, cuts and evictions are
 * counted by reason.
 *
 * Reload.  On SIGHUP the settings are re-read.  Credentials and limits
 * apply at once; a new address, port or TLS setting starts new daemons
 * before the old ones stop.  A configuration that cannot be served is
 * logged and the worker keeps serving with the previous one.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <netdb.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "compat.h"
#include "http.h"

PG_MODULE_MAGIC;

#define MAX_DAEMONS		16		/* listening sockets */
#define MAX_CONNS		1024	/* tracked connections: above the setting's maximum,
								 * leaving room for cut ones not yet closed */
#define MAX_WAIT_MS		1000	/* never sleep longer: see "Robustness" */

/* The socket-level part of the configuration: changing it means new daemons. */
typedef struct Endpoints
{
	char		listen[1024];
	int			port;
	char	   *cert;			/* PEM contents, malloced, or NULL */
	char	   *key;
} Endpoints;

typedef struct Conn
{
	struct MHD_Connection *conn;	/* NULL when the slot is free */
	struct sockaddr_storage addr;
	int			fd;
	TimestampTz since;			/* start of the request in progress, or
								 * (when idle) of the wait for the next */
	bool		idle;			/* between two requests (keep-alive) */
	bool		served;			/* headers in, response not yet complete */
	bool		cut;			/* shut down: deadline or eviction */
} Conn;

C5HttpConfig c5h_config;

static struct MHD_Daemon *daemons[MAX_DAEMONS];
static int	ndaemons = 0;
static Endpoints serving;
static Conn conns[MAX_CONNS];
static int	nconns = 0;

PGDLLEXPORT void c5m_http_main(Datum arg);
static void mhd_log(void *cls, const char *fmt, va_list ap) pg_attribute_printf(2, 0);

/* ---- libmicrohttpd callbacks ---- */

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char		buf[256];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	ereport(DEBUG1, (errmsg_internal("c5metrics http: %s", buf)));
}

static bool
same_host(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *) a)->sin_addr,
					  &((const struct sockaddr_in *) b)->sin_addr,
					  sizeof(struct in_addr)) == 0;
	if (a->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *) a)->sin6_addr,
					  &((const struct sockaddr_in6 *) b)->sin6_addr,
					  sizeof(struct in6_addr)) == 0;
	return false;
}

/* Shut a connection down: libmicrohttpd sees the end of the stream. */
static void
cut_conn(Conn *c, C5HttpRefusal why)
{
	shutdown(c->fd, SHUT_RDWR);
	c->cut = true;
	c5m_http_refused(why);
}

/* Accept policy: see "Admission" in the header comment. */
static enum MHD_Result
accept_policy(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	Conn	   *oldest = NULL;	/* the longest wait with no request served */
	int			nopen = 0;
	int			same = 0;
	int			i;

	for (i = 0; i < MAX_CONNS; i++)
	{
		Conn	   *c = &conns[i];

		if (c->conn == NULL || c->cut)
			continue;
		nopen++;
		if (same_host((const struct sockaddr *) &c->addr, addr))
			same++;
		if (!c->served && (oldest == NULL || c->since < oldest->since))
			oldest = c;
	}
	if (same >= c5h_config.max_per_address || nconns >= MAX_CONNS)
	{
		c5m_http_refused(C5_REFUSED_LIMIT);
		return MHD_NO;
	}
	if (nopen < c5h_config.max_connections)
		return MHD_YES;
	/* after a reload lowered the limit, evicting one may not be enough */
	if (nopen == c5h_config.max_connections && oldest != NULL)
	{
		cut_conn(oldest, C5_REFUSED_EVICTED);
		return MHD_YES;
	}
	c5m_http_refused(C5_REFUSED_LIMIT);
	return MHD_NO;
}

static void
notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
				  enum MHD_ConnectionNotificationCode toe)
{
	int			i;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
	{
		const union MHD_ConnectionInfo *fd =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		const union MHD_ConnectionInfo *addr =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

		for (i = 0; i < MAX_CONNS; i++)
			if (conns[i].conn == NULL)
				break;
		if (i == MAX_CONNS || fd == NULL)
			return;				/* cannot happen: accept_policy checked */
		memset(&conns[i], 0, sizeof(Conn));
		conns[i].conn = conn;
		conns[i].fd = fd->connect_fd;
		if (addr != NULL && addr->client_addr != NULL)
			memcpy(&conns[i].addr, addr->client_addr,
				   addr->client_addr->sa_family == AF_INET6
				   ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
		conns[i].since = GetCurrentTimestamp();
		*socket_context = &conns[i];
		nconns++;
		MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT,
								  (unsigned int) c5h_config.idle_timeout);
	}
	else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context != NULL)
	{
		((Conn *) *socket_context)->conn = NULL;
		*socket_context = NULL;
		nconns--;
	}
}

static Conn *
find_conn(struct MHD_Connection *conn)
{
	int			i;

	for (i = 0; i < MAX_CONNS; i++)
		if (conns[i].conn == conn)
			return &conns[i];
	return NULL;
}

/* A request ended: the connection is idle until the next one starts. */
void
c5h_request_ended(struct MHD_Connection *conn)
{
	Conn	   *c = find_conn(conn);

	if (c != NULL)
	{
		c->idle = true;
		c->served = false;
		c->since = GetCurrentTimestamp();
	}
}

/*
 * A request's headers arrived (it may have been pipelined): it is being
 * served, and its clock starts unless its first bytes started it.
 */
void
c5h_request_started(struct MHD_Connection *conn)
{
	Conn	   *c = find_conn(conn);

	if (c == NULL)
		return;
	c->served = true;
	if (c->idle)
	{
		c->idle = false;
		c->since = GetCurrentTimestamp();
	}
}

/*
 * Before libmicrohttpd reads them: the first bytes of a request on an idle
 * connection start its clock, however slowly the rest arrives.
 */
static void
notice_new_requests(void)
{
	int			i;

	for (i = 0; i < MAX_CONNS; i++)
	{
		int			pending = 0;

		if (conns[i].conn != NULL && conns[i].idle &&
			ioctl(conns[i].fd, FIONREAD, &pending) == 0 && pending > 0)
		{
			conns[i].idle = false;
			conns[i].since = GetCurrentTimestamp();
		}
	}
}

/*
 * Cut the connections whose request has run past the deadline; return the
 * milliseconds until the next deadline (or MAX_WAIT_MS).
 */
static long
enforce_deadlines(void)
{
	TimestampTz now = GetCurrentTimestamp();
	long		next = MAX_WAIT_MS;
	int			i;

	for (i = 0; i < MAX_CONNS; i++)
	{
		long		left;

		/* an idle keep-alive connection is the inactivity timeout's */
		if (conns[i].conn == NULL || conns[i].cut || conns[i].idle)
			continue;
		left = c5h_config.request_timeout -
			(long) ((now - conns[i].since) / 1000);
		if (left <= 0)
			cut_conn(&conns[i], C5_REFUSED_DEADLINE);
		else if (left < next)
			next = left;
	}
	return next;
}

/* ---- configuration ---- */

/* Read a small file (a secret, a certificate); NULL with *why on failure. */
static char *
read_small_file(const char *path, size_t *len, const char **why)
{
	FILE	   *f;
	char	   *buf;
	size_t		n;
	struct stat st;

	if (stat(path, &st) != 0)
	{
		*why = "cannot be read";
		return NULL;
	}
	if (st.st_size > 1024 * 1024)
	{
		*why = "is larger than 1 MB";
		return NULL;
	}
	f = fopen(path, "r");
	if (f == NULL)
	{
		*why = "cannot be read";
		return NULL;
	}
	buf = malloc(st.st_size + 1);
	if (buf == NULL)
	{
		fclose(f);
		*why = "does not fit in memory";
		return NULL;
	}
	n = fread(buf, 1, st.st_size, f);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/*
 * Turn the settings into a configuration; false, with a LOG line naming
 * the setting, when they cannot be served.
 */
static bool
load_config(C5HttpConfig *cfg, Endpoints *ep)
{
	const char *why;

	memset(cfg, 0, sizeof(*cfg));
	memset(ep, 0, sizeof(*ep));
	strlcpy(ep->listen, c5m_listen_addresses ? c5m_listen_addresses : "", sizeof(ep->listen));
	ep->port = c5m_port;
	cfg->max_connections = Min(c5m_http_max_connections, MAX_CONNS);
	cfg->max_per_address = c5m_http_max_per_address;
	cfg->idle_timeout = c5m_http_idle_timeout;
	cfg->request_timeout = c5m_http_request_timeout;
	cfg->auth = c5m_http_auth;

	if (cfg->auth != C5_HTTP_AUTH_NONE)
	{
		size_t		len;
		char	   *s;

		if (c5m_http_auth_file == NULL || c5m_http_auth_file[0] == '\0')
		{
			ereport(LOG,
					(errmsg("c5metrics http: c5metrics.http_auth is set but c5metrics.http_auth_file is empty"),
					 errhint("Point c5metrics.http_auth_file at a file holding the token, or user:password for basic.")));
			return false;
		}
		s = read_small_file(c5m_http_auth_file, &len, &why);
		if (s == NULL)
		{
			ereport(LOG,
					(errmsg("c5metrics http: the file named by c5metrics.http_auth_file %s", why)));
			return false;
		}
		while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' ||
						   s[len - 1] == ' ' || s[len - 1] == '\t'))
			s[--len] = '\0';
		if (len == 0 || len >= C5H_MAX_SECRET ||
			(cfg->auth == C5_HTTP_AUTH_BASIC && strchr(s, ':') == NULL))
		{
			free(s);
			ereport(LOG,
					(errmsg("c5metrics http: the file named by c5metrics.http_auth_file holds no usable secret"),
					 errdetail("It must hold one line: a token for bearer, user:password for basic, under %d bytes.",
							   C5H_MAX_SECRET)));
			return false;
		}
		memcpy(cfg->secret, s, len + 1);
		cfg->secretlen = len;
		free(s);
	}

	if ((c5m_http_tls_cert_file && c5m_http_tls_cert_file[0]) !=
		(c5m_http_tls_key_file && c5m_http_tls_key_file[0]))
	{
		ereport(LOG,
				(errmsg("c5metrics http: TLS needs both c5metrics.http_tls_cert_file and c5metrics.http_tls_key_file")));
		return false;
	}
	if (c5m_http_tls_cert_file && c5m_http_tls_cert_file[0])
	{
		size_t		len;

		ep->cert = read_small_file(c5m_http_tls_cert_file, &len, &why);
		if (ep->cert == NULL)
		{
			ereport(LOG, (errmsg("c5metrics http: c5metrics.http_tls_cert_file %s", why)));
			return false;
		}
		ep->key = read_small_file(c5m_http_tls_key_file, &len, &why);
		if (ep->key == NULL)
		{
			free(ep->cert);
			ep->cert = NULL;
			ereport(LOG, (errmsg("c5metrics http: c5metrics.http_tls_key_file %s", why)));
			return false;
		}
	}
	return true;
}

static void
free_endpoints(Endpoints *ep)
{
	if (ep->cert)
		free(ep->cert);
	if (ep->key)
		free(ep->key);
	ep->cert = ep->key = NULL;
}

static bool
same_endpoints(const Endpoints *a, const Endpoints *b)
{
	return strcmp(a->listen, b->listen) == 0 && a->port == b->port &&
		((a->cert == NULL && b->cert == NULL) ||
		 (a->cert && b->cert && strcmp(a->cert, b->cert) == 0 &&
		  strcmp(a->key, b->key) == 0));
}

static struct MHD_Daemon *
start_daemon(const struct sockaddr *addr, const Endpoints *ep)
{
	unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	struct MHD_OptionItem tls[] = {
		{MHD_OPTION_HTTPS_MEM_CERT, 0, ep->cert},
		{MHD_OPTION_HTTPS_MEM_KEY, 0, ep->key},
		{MHD_OPTION_END, 0, NULL}
	};

	if (addr->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (ep->cert)
		flags |= MHD_USE_TLS;
	else
		tls[0].option = MHD_OPTION_END;
	return MHD_start_daemon(flags, 0,
							accept_policy, NULL, c5h_handle, NULL,
							MHD_OPTION_SOCK_ADDR, addr,
							MHD_OPTION_CONNECTION_LIMIT, (unsigned int) MAX_CONNS,
							MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) 32768,
							MHD_OPTION_NOTIFY_CONNECTION, notify_connection, NULL,
							MHD_OPTION_NOTIFY_COMPLETED, c5h_request_completed, NULL,
							MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
							MHD_OPTION_ARRAY, tls,
							MHD_OPTION_END);
}

static void
stop_daemons(struct MHD_Daemon **d, int n)
{
	int			i;

	for (i = 0; i < n; i++)
		MHD_stop_daemon(d[i]);
}

/*
 * Start a daemon for every address of ep (a comma-separated list of host
 * names, addresses, or "*").  All or nothing: false, with a LOG line and
 * nothing started, if one of them cannot listen.
 */
static bool
start_endpoints(const Endpoints *ep, struct MHD_Daemon **out, int *nout)
{
	char	   *list = pstrdup(ep->listen);
	char	   *tok;
	char	   *save;
	char		port[16];

	*nout = 0;
	snprintf(port, sizeof(port), "%d", ep->port);
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
	{
		struct addrinfo hints;
		struct addrinfo *res,
				   *ai;
		int			rc;

		while (*tok == ' ')
			tok++;
		while (*tok && tok[strlen(tok) - 1] == ' ')
			tok[strlen(tok) - 1] = '\0';
		if (*tok == '\0')
			continue;
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE;
		rc = getaddrinfo(strcmp(tok, "*") == 0 ? NULL : tok, port, &hints, &res);
		if (rc != 0)
		{
			ereport(LOG,
					(errmsg("c5metrics http: could not resolve \"%s\" of c5metrics.listen_addresses: %s",
							tok, gai_strerror(rc))));
			stop_daemons(out, *nout);
			*nout = 0;
			return false;
		}
		for (ai = res; ai; ai = ai->ai_next)
		{
			struct MHD_Daemon *d;

			if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
				continue;
			if (*nout >= MAX_DAEMONS)
				break;
			d = start_daemon(ai->ai_addr, ep);
			if (d == NULL)
			{
				ereport(LOG,
						(errmsg("c5metrics http: could not listen on \"%s\" port %d", tok, ep->port),
						 errhint("Another process may use the port; see c5metrics.port and c5metrics.listen_addresses.")));
				freeaddrinfo(res);
				stop_daemons(out, *nout);
				*nout = 0;
				return false;
			}
			out[(*nout)++] = d;
		}
		freeaddrinfo(res);
	}
	return true;
}

/*
 * (Re)apply the settings.  Endpoints that change get new daemons, started
 * before the old ones stop; if the new ones cannot start because the old
 * ones hold their address, the old ones stop first and come back if the
 * new ones still fail.
 */
static void
apply_settings(bool first)
{
	C5HttpConfig cfg;
	Endpoints	ep;
	struct MHD_Daemon *fresh[MAX_DAEMONS];
	int			nfresh;

	if (!load_config(&cfg, &ep))
	{
		if (!first)
			ereport(LOG,
					(errmsg("c5metrics http: keeping the previous configuration")));
		return;
	}

	if (!first && same_endpoints(&ep, &serving))
	{
		free_endpoints(&ep);
		c5h_config = cfg;
		return;
	}

	if (start_endpoints(&ep, fresh, &nfresh))
	{
		stop_daemons(daemons, ndaemons);
	}
	else if (ndaemons > 0)
	{
		stop_daemons(daemons, ndaemons);
		ndaemons = 0;
		if (!start_endpoints(&ep, fresh, &nfresh))
		{
			ereport(LOG,
					(errmsg("c5metrics http: keeping the previous configuration")));
			if (!start_endpoints(&serving, daemons, &ndaemons))
				ereport(LOG,
						(errmsg("c5metrics http: not listening until the configuration is fixed")));
			free_endpoints(&ep);
			return;
		}
	}
	else
	{
		free_endpoints(&ep);
		return;
	}

	memcpy(daemons, fresh, sizeof(fresh[0]) * nfresh);
	ndaemons = nfresh;
	free_endpoints(&serving);
	serving = ep;
	c5h_config = cfg;
	if (ndaemons == 0)
		ereport(LOG,
				(errmsg("c5metrics http: not listening: c5metrics.listen_addresses is empty")));
	else
		ereport(LOG,
				(errmsg("c5metrics http: listening on \"%s\" port %d%s (%d socket%s)",
						serving.listen, serving.port, serving.cert ? " with TLS" : "",
						ndaemons, ndaemons == 1 ? "" : "s")));
}

/* ---- the worker ---- */

static WaitEventSet *
build_wait_set(void)
{
	WaitEventSet *set = c5m_create_wait_event_set(2 + ndaemons);
	int			i;

	AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	for (i = 0; i < ndaemons; i++)
	{
		const union MHD_DaemonInfo *info =
			MHD_get_daemon_info(daemons[i], MHD_DAEMON_INFO_EPOLL_FD);

		if (info != NULL)
			AddWaitEventToSet(set, WL_SOCKET_READABLE, info->epoll_fd, NULL, NULL);
	}
	return set;
}

void
c5m_http_main(Datum arg)
{
	WaitEventSet *set;
	MemoryContext tick_context;
	MemoryContext oldcontext;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	pqsignal(SIGPIPE, SIG_IGN);
	BackgroundWorkerUnblockSignals();

	if (!c5m_registry_ready())
		ereport(FATAL,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("c5metrics http worker started without the c5metrics registry")));
	c5m_registry_pick_stripe();

	apply_settings(true);
	set = build_wait_set();
	tick_context = AllocSetContextCreate(TopMemoryContext, "c5metrics sli tick",
										 ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		WaitEvent	events[MAX_DAEMONS + 2];
		long		timeout = enforce_deadlines();
		int			i;

		for (i = 0; i < ndaemons; i++)
		{
			MHD_UNSIGNED_LONG_LONG t;

			if (MHD_get_timeout(daemons[i], &t) == MHD_YES && (long) t < timeout)
				timeout = (long) t;
		}
		/* near the limit, libmicrohttpd may have dropped its listening socket */
		if (nconns >= c5h_config.max_connections - 1 && timeout > 50)
			timeout = 50;
		/* the SLI history is sampled from this loop too */
		timeout = Min(timeout, c5m_sli_next_tick_ms());

		(void) WaitEventSetWait(set, timeout, events, lengthof(events),
								PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		notice_new_requests();

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			apply_settings(false);
			FreeWaitEventSet(set);
			set = build_wait_set();
		}

		for (i = 0; i < ndaemons; i++)
			MHD_run(daemons[i]);
		oldcontext = MemoryContextSwitchTo(tick_context);
		c5m_sli_tick();
		c5m_status_tick();
		MemoryContextSwitchTo(oldcontext);
		MemoryContextReset(tick_context);
	}
}
