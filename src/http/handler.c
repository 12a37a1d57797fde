/*-------------------------------------------------------------------------
 *
 * handler.c
 *		Answering one HTTP request: routing, credentials, negotiation.
 *
 *	GET/HEAD /metrics  Prometheus text 0.0.4, or OpenMetrics 1.0.0 when the
 *					   Accept header prefers it (?format=text|openmetrics
 *					   overrides); gzip when allowed.  The text body is what
 *					   c5metrics.exposition() returns.
 *	GET/HEAD /healthz  200 {"status":"healthy"}
 *	GET/HEAD /readyz   200 {"status":"ready","checks":{...}}, or 503
 *					   naming the failing check
 *	GET/HEAD /		   the status page (status.c): HTML, no script, its
 *					   style allowed by a per-response CSP nonce
 *	GET/HEAD /slo.json the status page's data
 *	anything else	   404; another method 405 with Allow
 *
 * Libmicrohttpd calls the handler twice per request: once when the headers
 * have arrived, and again to get the answer.  Answering on the first call
 * would turn keep-alive off, so the first call only marks the request.
 *
 * Nothing here may throw through libmicrohttpd's frames: rendering runs
 * inside PG_TRY, and an error becomes a 500 after its report is dropped.
 * Each request allocates in its own memory context, reset when the
 * response has been queued (libmicrohttpd copies or frees the body).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <zlib.h>

#include "access/xlog.h"
#include "lib/stringinfo.h"
#include "portability/instr_time.h"
#include "storage/lwlock.h"
#include "utils/memutils.h"

#include "http.h"

static MemoryContext request_context = NULL;

static const unsigned int code_number[C5_NHTTPCODES] = {200, 401, 404, 405, 500, 503};

#define CT_TEXT		"text/plain; version=0.0.4; charset=utf-8"
#define CT_OM		"application/openmetrics-text; version=1.0.0; charset=utf-8"
#define CT_JSON		"application/json"
#define CT_HTML		"text/html; charset=utf-8"

/* A response header beyond those every response carries. */
typedef struct Header
{
	const char *name;
	const char *value;
} Header;

/*
 * Queue a response from a buffer libmicrohttpd copies (or frees, if
 * malloced), with `extra` headers (a NULL name ends them; NULL: none).
 */
static enum MHD_Result
reply_with(struct MHD_Connection *conn, C5HttpPath path, C5HttpCode code,
		   const char *content_type, const char *body, size_t len, bool malloced,
		   const Header *extra)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(len, (void *) body,
										   malloced ? MHD_RESPMEM_MUST_FREE
										   : MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
	{
		if (malloced)
			free((void *) body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", content_type);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	for (; extra != NULL && extra->name != NULL; extra++)
		MHD_add_response_header(resp, extra->name, extra->value);
	ret = MHD_queue_response(conn, code_number[code], resp);
	MHD_destroy_response(resp);
	c5m_http_count(path, code);
	return ret;
}

static enum MHD_Result
reply(struct MHD_Connection *conn, C5HttpPath path, C5HttpCode code,
	  const char *content_type, const char *body, size_t len, bool malloced,
	  const char *extra_name, const char *extra_value)
{
	Header		extra[2] = {{extra_name, extra_value}, {NULL, NULL}};

	return reply_with(conn, path, code, content_type, body, len, malloced, extra);
}

static enum MHD_Result
reply_text(struct MHD_Connection *conn, C5HttpPath path, C5HttpCode code,
		   const char *msg)
{
	return reply(conn, path, code, "text/plain; charset=utf-8", msg, strlen(msg),
				 false, NULL, NULL);
}

/* Does the request carry the configured credentials? */
static bool
authorized(struct MHD_Connection *conn)
{
	char		given[C5H_MAX_SECRET];
	C5AuthScheme scheme;

	if (c5h_config.auth == C5_HTTP_AUTH_NONE)
		return true;
	scheme = c5h_parse_authorization(
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization"),
		given, sizeof(given));
	if ((scheme == C5_AUTH_BEARER && c5h_config.auth == C5_HTTP_AUTH_BEARER) ||
		(scheme == C5_AUTH_BASIC && c5h_config.auth == C5_HTTP_AUTH_BASIC))
		return c5h_secret_equal(given, strlen(given),
								c5h_config.secret, c5h_config.secretlen);
	return false;
}

/*
 * The worker's one deflate stream, reset for each response: its state
 * (about 270 kB) is allocated once, not grown and trimmed off the heap
 * per request, which cost more than compressing.  Set up on first use.
 */
static z_stream gz;
static bool gz_ready = false;

/* gzip `in` into a malloced buffer; NULL when zlib fails. */
static char *
gzip_body(const char *in, size_t inlen, size_t *outlen)
{
	size_t		cap;
	char	   *out;

	if (!gz_ready)
	{
		memset(&gz, 0, sizeof(gz));
		/* 15 + 16: a gzip wrapper; level 1: a scrape is latency-bound */
		if (deflateInit2(&gz, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
			return NULL;
		gz_ready = true;
	}
	else if (deflateReset(&gz) != Z_OK)
		return NULL;

	cap = deflateBound(&gz, inlen) + 32;
	out = malloc(cap);
	if (out == NULL)
		return NULL;
	gz.next_in = (Bytef *) in;
	gz.avail_in = inlen;
	gz.next_out = (Bytef *) out;
	gz.avail_out = cap;
	if (deflate(&gz, Z_FINISH) != Z_STREAM_END)
	{
		free(out);
		return NULL;
	}
	*outlen = gz.total_out;
	return out;
}

/* What render() makes of a snapshot. */
typedef enum C5Render
{
	C5_RENDER_TEXT,
	C5_RENDER_OPENMETRICS,
	C5_RENDER_STATUS_HTML,
	C5_RENDER_STATUS_JSON
} C5Render;

/*
 * Render the registry into body; false after an error, which is reported
 * to the server log (never to the client) and dropped.  `nonce` is the
 * status page's.
 */
static bool
render(C5Render what, const char *nonce, StringInfo body)
{
	volatile bool ok = true;

	PG_TRY();
	{
		C5Snapshot *snap = c5m_snapshot_take();

		initStringInfo(body);
		switch (what)
		{
			case C5_RENDER_TEXT:
				c5m_render_text(snap, body);
				break;
			case C5_RENDER_OPENMETRICS:
				c5m_render_openmetrics(snap, body);
				break;
			case C5_RENDER_STATUS_HTML:
				c5m_render_status_html(snap, nonce, body);
				break;
			case C5_RENDER_STATUS_JSON:
				c5m_render_status_json(snap, body);
				break;
		}
	}
	PG_CATCH();
	{
		EmitErrorReport();
		FlushErrorState();
		/* the snapshot may have been holding the registry lock */
		LWLockReleaseAll();
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

static enum MHD_Result
serve_metrics(struct MHD_Connection *conn)
{
	C5Format	format;
	bool		gzip;
	StringInfoData body;
	instr_time	start,
				elapsed;
	char	   *zbody = NULL;
	size_t		zlen = 0;
	const char *override;

	format = c5h_negotiate_format(
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept"));
	/* ?format= overrides: lets one Prometheus job ask for either format */
	override = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "format");
	if (override != NULL && strcmp(override, "text") == 0)
		format = C5_FORMAT_TEXT;
	else if (override != NULL && strcmp(override, "openmetrics") == 0)
		format = C5_FORMAT_OPENMETRICS;
	gzip = c5h_accepts_gzip(
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept-Encoding"));

	INSTR_TIME_SET_CURRENT(start);
	if (!render(format == C5_FORMAT_OPENMETRICS ? C5_RENDER_OPENMETRICS : C5_RENDER_TEXT,
				NULL, &body))
		return reply_text(conn, C5_HTTP_METRICS, C5_HTTP_500, "internal error\n");

	if (gzip)
		zbody = gzip_body(body.data, body.len, &zlen);
	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, start);
	c5m_render_observe(INSTR_TIME_GET_DOUBLE(elapsed));

	if (zbody != NULL)
		return reply(conn, C5_HTTP_METRICS, C5_HTTP_200,
					 format == C5_FORMAT_OPENMETRICS ? CT_OM : CT_TEXT,
					 zbody, zlen, true, "Content-Encoding", "gzip");
	return reply(conn, C5_HTTP_METRICS, C5_HTTP_200,
				 format == C5_FORMAT_OPENMETRICS ? CT_OM : CT_TEXT,
				 body.data, body.len, false, NULL, NULL);
}

/*
 * Readiness: shared memory attached, the series cap not reached, tables
 * tracked (on a primary; a standby's list is not replicated), and the
 * role, which is reported but never fails.
 *
 * The tracked-table list lives in shared memory and is saved only at a
 * clean shutdown.  After a start without a saved registry -- a crash
 * restart, an immediate shutdown, c5metrics.save off, the first start --
 * it is empty until tables are attached or written to, though the
 * databases may well have tracked tables: on a quiet shop, for many
 * minutes.  So an empty list fails the check only once the list has had
 * an entry since shared memory was set up (everything was detached or
 * dropped since); before that it is reported as "unknown since start".
 */
static enum MHD_Result
serve_readyz(struct MHD_Connection *conn)
{
	bool		shmem = c5m_registry_ready();
	bool		series_ok = true;
	bool		standby = RecoveryInProgress();
	int			tracked = 0;
	int			problems = 0;
	bool		tracked_seen = false;
	bool		tracked_ok;
	const char *failing = NULL;
	char		json[512];
	int			i;

	if (shmem)
	{
		series_ok = pg_atomic_read_u32(&c5m_shared->nseries) < (uint32) c5m_max_series;
		LWLockAcquire(c5m_shared->lock, LW_SHARED);
		for (i = 0; i < C5M_MAX_TRACKED; i++)
			if (c5m_shared->tracked[i].flow >= 0)
			{
				tracked++;
				if (c5m_shared->tracked_problem[i])
					problems++;
			}
		tracked_seen = c5m_shared->tracked_seen;
		LWLockRelease(c5m_shared->lock);
	}
	tracked_ok = standby || tracked > 0 || !tracked_seen;
	if (!shmem)
		failing = "shared_memory";
	else if (!series_ok)
		failing = "series";
	else if (!tracked_ok)
		failing = "tracked_tables";
	else if (problems > 0)
		failing = "attachments";

	snprintf(json, sizeof(json),
			 "{\"status\":\"%s\",%s%s%s\"checks\":{\"shared_memory\":\"%s\",\"series\":\"%s\","
			 "\"tracked_tables\":\"%s\",\"attachments\":\"%s\",\"role\":\"%s\"}}\n",
			 failing ? "not ready" : "ready",
			 failing ? "\"failing\":\"" : "", failing ? failing : "", failing ? "\"," : "",
			 shmem ? "ok" : "not attached",
			 series_ok ? "ok" : "at c5metrics.max_series",
			 !tracked_ok ? "none tracked" :
			 standby || tracked > 0 ? "ok" : "unknown since start",
			 problems > 0 ? "broken" : "ok",
			 standby ? "standby" : "primary");
	return reply(conn, C5_HTTP_READYZ, failing ? C5_HTTP_503 : C5_HTTP_200,
				 CT_JSON, json, strlen(json), false, NULL, NULL);
}

static enum MHD_Result
serve_healthz(struct MHD_Connection *conn)
{
	return reply(conn, C5_HTTP_HEALTHZ, C5_HTTP_200, CT_JSON, "{\"status\":\"healthy\"}\n",
				 21, false, NULL, NULL);
}

/*
 * The status page and its data: rendered from a snapshot like /metrics,
 * with gzip when allowed, and the render time in Server-Timing.
 */
static enum MHD_Result
serve_status(struct MHD_Connection *conn, C5HttpPath path)
{
	StringInfoData body;
	char		nonce[33] = "";
	uint8		random[16];
	char		csp[256];
	char		timing[64];
	instr_time	start,
				elapsed;
	char	   *zbody = NULL;
	size_t		zlen = 0;
	bool		html = path == C5_HTTP_STATUS;
	Header		headers[7];
	int			nh = 0;
	int			i;

	/* a fresh nonce per response: the page's style sheet, and only it */
	if (html && !pg_strong_random(random, sizeof(random)))
		return reply_text(conn, path, C5_HTTP_500, "internal error\n");
	for (i = 0; html && i < (int) sizeof(random); i++)
		snprintf(nonce + 2 * i, 3, "%02x", random[i]);

	INSTR_TIME_SET_CURRENT(start);
	if (!render(html ? C5_RENDER_STATUS_HTML : C5_RENDER_STATUS_JSON, nonce, &body))
		return reply_text(conn, path, C5_HTTP_500, "internal error\n");
	if (c5h_accepts_gzip(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept-Encoding")))
		zbody = gzip_body(body.data, body.len, &zlen);
	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, start);

	snprintf(timing, sizeof(timing), "render;dur=%.3f", INSTR_TIME_GET_MILLISEC(elapsed));
	headers[nh++] = (Header) {"Server-Timing", timing};
	if (html)
	{
		snprintf(csp, sizeof(csp),
				 "default-src 'none'; style-src 'nonce-%s'; img-src 'none'; "
				 "base-uri 'none'; form-action 'none'; frame-ancestors 'none'", nonce);
		headers[nh++] = (Header) {"Content-Security-Policy", csp};
		headers[nh++] = (Header) {"X-Frame-Options", "DENY"};
		headers[nh++] = (Header) {"Referrer-Policy", "no-referrer"};
	}
	if (zbody != NULL)
		headers[nh++] = (Header) {"Content-Encoding", "gzip"};
	headers[nh++] = (Header) {"Vary", "Accept-Encoding"};
	headers[nh] = (Header) {NULL, NULL};

	if (zbody != NULL)
		return reply_with(conn, path, C5_HTTP_200,
						  html ? CT_HTML : CT_JSON, zbody, zlen, true, headers);
	return reply_with(conn, path, C5_HTTP_200, html ? CT_HTML : CT_JSON,
					  body.data, body.len, false, headers);
}

static enum MHD_Result
serve_status_page(struct MHD_Connection *conn)
{
	return serve_status(conn, C5_HTTP_STATUS);
}

static enum MHD_Result
serve_slo_json(struct MHD_Connection *conn)
{
	return serve_status(conn, C5_HTTP_SLO_JSON);
}

/* What answers each route of the catalog (C5M_HTTP_ROUTES, catalog.h). */
static enum MHD_Result (*const routes[C5_HTTP_OTHER]) (struct MHD_Connection *conn) = {
	[C5_HTTP_METRICS] = serve_metrics,
	[C5_HTTP_HEALTHZ] = serve_healthz,
	[C5_HTTP_READYZ] = serve_readyz,
	[C5_HTTP_STATUS] = serve_status_page,
	[C5_HTTP_SLO_JSON] = serve_slo_json,
};

enum MHD_Result
c5h_handle(void *cls, struct MHD_Connection *conn, const char *url,
		   const char *method, const char *version, const char *upload_data,
		   size_t *upload_data_size, void **req_cls)
{
	static int	seen;
	C5HttpPath	path;
	enum MHD_Result ret;
	MemoryContext old;

	/* first call: headers complete; answer on the next one (keep-alive) */
	if (*req_cls == NULL)
	{
		c5h_request_started(conn);
		*req_cls = &seen;
		return MHD_YES;
	}
	/* a body is neither wanted nor kept */
	if (*upload_data_size != 0)
	{
		*upload_data_size = 0;
		return MHD_YES;
	}

	for (path = 0; path < C5_HTTP_OTHER; path++)
		if (strcmp(url, c5m_domain_value(C5_DOM_HTTP_PATH, path)) == 0)
			break;

	if (path == C5_HTTP_OTHER)
		return reply_text(conn, path, C5_HTTP_404, "not found\n");
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply(conn, path, C5_HTTP_405, "text/plain; charset=utf-8",
					 "method not allowed\n", 19, false, "Allow", "GET, HEAD");
	if (!authorized(conn))
		return reply(conn, path, C5_HTTP_401, "text/plain; charset=utf-8",
					 "unauthorized\n", 13, false, "WWW-Authenticate",
					 c5h_config.auth == C5_HTTP_AUTH_BASIC
					 ? "Basic realm=\"c5metrics\", charset=\"UTF-8\""
					 : "Bearer realm=\"c5metrics\"");

	if (request_context == NULL)
		request_context = AllocSetContextCreate(TopMemoryContext,
												"c5metrics http request",
												ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(request_context);
	ret = routes[path] (conn);
	MemoryContextSwitchTo(old);
	MemoryContextReset(request_context);
	return ret;
}

/* The request is over: the next one on this connection gets a new deadline. */
void
c5h_request_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
					  enum MHD_RequestTerminationCode toe)
{
	c5h_request_ended(conn);
}
