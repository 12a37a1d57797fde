/*-------------------------------------------------------------------------
 *
 * catalog.h
 *		The product's vocabulary: flows, results, label domains, limits.
 *
 * What every layer names: the business flows, the outcomes a transaction
 * can have, the bounded label domains of the metric families, the limits
 * that size shared memory, and the SQLSTATEs users can see.  Nothing here
 * touches shared memory or the catalogs.  See docs/DESIGN.md, "Module map".
 *
 *-------------------------------------------------------------------------
 */
#ifndef C5M_CATALOG_H
#define C5M_CATALOG_H



/* Limits that size shared memory; the settings may only go lower. */
#define C5M_MAX_BUCKETS		30		/* finite histogram bounds */
#define C5M_LABEL_LEN		64		/* bytes per interned label, with NUL */
#define C5M_MAX_TRACKED		1024	/* tracked tables, cluster-wide */
#define C5M_MAX_TRACKED_PER_DB 256	/* of which one database may hold */
#define C5M_MAX_DATABASES	64		/* per-database usage entries, the last shared */

/*
 * SQLSTATEs of the opt-in guards (docs/SQL.md, "Errors"), in the
 * classes drivers map the way applications expect: 23, integrity
 * constraint violation (Django's IntegrityError), for an over-refund; 53,
 * insufficient resources, for a throttled lead, as for too many
 * connections; 55, object not in prerequisite state, for a guard whose
 * attachment no longer resolves.  Subclasses beginning with a letter from
 * I to Z are implementation-defined.  Up to 1.3 the first two were C5M01
 * and C5M02, which c5metrics.legacy_sqlstates brings back.
 */
#define C5M_ERRCODE_OVER_REFUND		MAKE_SQLSTATE('2','3','M','0','1')
#define C5M_ERRCODE_LEAD_THROTTLED	MAKE_SQLSTATE('5','3','M','0','1')
#define C5M_ERRCODE_GUARD_UNAVAILABLE MAKE_SQLSTATE('5','5','M','0','1')
#define C5M_ERRCODE_LEGACY_OVER_REFUND MAKE_SQLSTATE('C','5','M','0','1')
#define C5M_ERRCODE_LEGACY_LEAD_THROTTLED MAKE_SQLSTATE('C','5','M','0','2')

/* Business flows: the `flow` / `location` label. */
typedef enum C5Flow
{
	C5_FLOW_SALES,
	C5_FLOW_STOCK,
	C5_FLOW_REFUNDS,
	C5_FLOW_LEADS,
	C5_NFLOWS
} C5Flow;

/* Outcome of a (sub)transaction, the `result` label. */
typedef enum C5Result
{
	C5_SUCCESS,
	C5_REJECTED,
	C5_FAILURE,
	C5_NRESULTS
} C5Result;

/* sales_paid_stock_consume_total{result}: the three above plus "missing". */
#define C5_CONSUME_MISSING	C5_NRESULTS
#define C5_NCONSUME			(C5_NRESULTS + 1)

typedef enum C5RefundType
{
	C5_REFUND_FULL,
	C5_REFUND_PARTIAL,
	C5_REFUND_OTHER,
	C5_NREFUNDTYPES
} C5RefundType;

typedef enum C5Mismatch
{
	C5_MISMATCH_OVER_RESTOCK,
	C5_MISMATCH_NO_REFUND,
	C5_NMISMATCH
} C5Mismatch;

typedef enum C5LeadResult
{
	C5_LEAD_CREATED,
	C5_LEAD_REJECTED,
	C5_LEAD_FAILURE,
	C5_LEAD_THROTTLED,
	C5_NLEADRESULTS
} C5LeadResult;

typedef enum C5Scope
{
	C5_SCOPE_IP,
	C5_SCOPE_EMAIL,
	C5_SCOPE_GLOBAL,
	C5_NSCOPES
} C5Scope;

/* Bounded reasons of sale_refund_rollback_total. */
typedef enum C5Reason
{
	C5_R_ROLLBACK,
	C5_R_OVER_REFUND,
	C5_R_IDEMPOTENCY,
	C5_R_UNIQUE,
	C5_R_CHECK,
	C5_R_FOREIGN_KEY,
	C5_R_NOT_NULL,
	C5_R_INTEGRITY,
	C5_R_RAISE,
	C5_R_SERIALIZATION,
	C5_R_DEADLOCK,
	C5_R_LOCK,
	C5_R_CANCELED,
	C5_R_RESOURCES,
	C5_R_INTERNAL,
	C5_R_OTHER,
	C5_NREASONS
} C5Reason;

/* Histograms, each a fixed series. */
typedef enum C5Hist
{
	C5_HIST_CONSUME,			/* sales_paid_stock_consume_duration_seconds */
	C5_HIST_REFUND,				/* sale_refund_duration_seconds */
	C5_HIST_FLOW,				/* flow_transaction_duration_seconds, + flow */
	C5_NHISTS = C5_HIST_FLOW + C5_NFLOWS,
	C5_HIST_RENDER = C5_NHISTS	/* the HTTP worker's, kept apart (registry.h) */
} C5Hist;

/* Families whose labels overflow into "other" (c5metrics_label_overflow_total). */
typedef enum C5Dyn
{
	C5_DYN_TRANSITION,
	C5_DYN_EXCEPTION,
	C5_NDYN
} C5Dyn;

/*
 * The HTTP listener's routes, X(id, path): what it serves (http/handler.c
 * answers each with its function), and the bounded `path` label of
 * c5metrics_http_requests_total, where every other path is "other".  A new
 * route goes at the end: a registry saved with fewer routes is loaded by
 * keeping each old path's counters (layout.c, c5m_layout_migrate).
 */
#define C5M_HTTP_ROUTES(X) \
	X(METRICS, "/metrics") \
	X(HEALTHZ, "/healthz") \
	X(READYZ, "/readyz") \
	X(STATUS, "/") \
	X(SLO_JSON, "/slo.json")

typedef enum C5HttpPath
{
#define C5M_ROUTE_ENUM(id, path) C5_HTTP_##id,
	C5M_HTTP_ROUTES(C5M_ROUTE_ENUM)
#undef C5M_ROUTE_ENUM
	C5_HTTP_OTHER,				/* any other path: 404 */
	C5_NHTTPPATHS
} C5HttpPath;

typedef enum C5HttpCode
{
	C5_HTTP_200,
	C5_HTTP_401,
	C5_HTTP_404,
	C5_HTTP_405,
	C5_HTTP_500,
	C5_HTTP_503,
	C5_NHTTPCODES
} C5HttpCode;

typedef enum C5HttpRefusal
{
	C5_REFUSED_LIMIT,			/* connection limits (total or per address) */
	C5_REFUSED_DEADLINE,		/* request not complete within the deadline */
	C5_REFUSED_EVICTED,			/* waiting for a request when a newcomer
								 * needed its place */
	C5_NREFUSALS
} C5HttpRefusal;

#define C5M_RENDER_BUCKETS 10	/* finite bounds of the render histogram */

/* Status dictionary ids reserved before any user value. */
#define C5_STATUS_OTHER		0
#define C5_STATUS_NONE		1		/* a NULL status */


/*
 * The SLOs (docs/SLO.md), in the order the views list them: an id, the
 * name in c5metrics.sli and in c5metrics.objective_<name>, the objective's
 * default in percent, the latency threshold in seconds (0 for an
 * availability SLO), and the description of the objective's setting.
 */
#define C5M_SLOS(X) \
	X(SALE_PAID_AVAILABILITY, "sale_paid_availability", 99.9, 0, \
	  "Objective of the sale -> paid availability SLO, in percent.") \
	X(STOCK_CONSUME_LATENCY, "stock_consume_latency", 95.0, 0.5, \
	  "Objective of the stock consume latency SLO (consumption within 0.5 s), in percent.") \
	X(REFUND_AVAILABILITY, "refund_availability", 99.5, 0, \
	  "Objective of the refund availability SLO, in percent.") \
	X(REFUND_LATENCY, "refund_latency", 95.0, 0.8, \
	  "Objective of the refund latency SLO (refund within 0.8 s), in percent.") \
	X(LEADS_AVAILABILITY, "leads_availability", 99.0, 0, \
	  "Objective of the public leads availability SLO, in percent.")

typedef enum C5Slo
{
#define C5M_SLO_ENUM(id, name, objective, threshold, descr) C5_SLO_##id,
	C5M_SLOS(C5M_SLO_ENUM)
#undef C5M_SLO_ENUM
	C5_NSLOS
} C5Slo;


/*
 * The metric catalog: every family c5metrics exports, in the order of the
 * exposition.  One row per family:
 *
 *	X(id, name, type, shape, domain, keys, store, flow, help)
 *
 *	- shape: how its series are formed (C5Shape); domain: the label
 *	  values of a one-label family (C5Domain), or the histogram;
 *	- keys: its label names, comma-separated ("" for none);
 *	- store: its place in the registry's counter array, -1 for a family
 *	  that has no counters there.  Never renumbered: a saved registry is
 *	  loaded only into the same layout (persist.c), so a new family takes
 *	  the next number, C5M_NSTORED, which then grows by one;
 *	- flow: the flow it belongs to, or "global" / "self" (c5metrics' own).
 *
 * layout.c gives each stored family its counters, exposition.c walks the
 * table to expose them, test/check-dashboards.sh checks the dashboards and
 * rules against it, and test/check-catalog.pl the table of docs/METRICS.md.
 */
#define C5M_FAMILIES(X) \
	X(TRANSITIONS, "sales_transition_total", "counter", C5_SHAPE_TRANSITIONS, 0, \
	  "from_status,to_status,result", 12, "sales", \
	  "Sale status changes, by the outcome of the (sub)transaction that made them.") \
	X(PAID_CONSUME, "sales_paid_stock_consume_total", "counter", C5_SHAPE_BY, C5_DOM_CONSUME, \
	  "result", 0, "sales", \
	  "Sales reaching the paid status; missing: committed with no stock consumption for the sale.") \
	X(CONSUME_DURATION, "sales_paid_stock_consume_duration_seconds", "histogram", C5_SHAPE_HISTOGRAM, \
	  C5_HIST_CONSUME, "", -1, "sales", \
	  "Committed paid sales with stock consumed: from the earlier of the transition and the first consumption to commit.") \
	X(REFUNDS, "sale_refunds_total", "counter", C5_SHAPE_BY_RESULT, C5_DOM_REFUND_TYPE, \
	  "type,result", 1, "refunds", \
	  "Refund rows, by refund type and the outcome of their transaction.") \
	X(OVER_REFUND, "sale_refund_over_refund_attempts_total", "counter", C5_SHAPE_ONE, 0, \
	  "", 2, "refunds", \
	  "Refunds that exceeded the sale's refundable remainder, blocked or observed.") \
	X(IDEMPOTENCY, "sale_refund_idempotency_conflicts_total", "counter", C5_SHAPE_ONE, 0, \
	  "", 3, "refunds", \
	  "Refunds whose idempotency key existed already: unique violations and ON CONFLICT DO NOTHING skips.") \
	X(REFUND_ROLLBACK, "sale_refund_rollback_total", "counter", C5_SHAPE_BY, C5_DOM_REASON, \
	  "reason", 4, "refunds", \
	  "Refund rows whose transaction or savepoint rolled back, by reason.") \
	X(REFUND_DURATION, "sale_refund_duration_seconds", "histogram", C5_SHAPE_HISTOGRAM, \
	  C5_HIST_REFUND, "", -1, "refunds", \
	  "Committed refunds: from the start of their transaction to commit.") \
	X(REFUND_IN, "stock_refund_in_total", "counter", C5_SHAPE_BY, C5_DOM_RESULT, \
	  "result", 5, "stock", \
	  "Refund-in stock movements, by the outcome of their transaction.") \
	X(MISMATCH, "stock_refund_in_mismatch_total", "counter", C5_SHAPE_BY, C5_DOM_MISMATCH, \
	  "type", 6, "stock", \
	  "Sales whose refund-in movements, checked at commit, exceed consumption or have no refund.") \
	X(LEADS, "public_leads_requests_total", "counter", C5_SHAPE_BY, C5_DOM_LEAD_RESULT, \
	  "result", 7, "leads", \
	  "Lead inserts: created (committed), rejected, failure or throttled.") \
	X(THROTTLED, "public_leads_throttled_total", "counter", C5_SHAPE_BY, C5_DOM_SCOPE, \
	  "scope", 8, "leads", \
	  "Leads blocked by the in-database throttle, by the scope that blocked them.") \
	X(LEADS_429, "public_leads_429_total", "counter", C5_SHAPE_ONE, 0, \
	  "", 9, "leads", \
	  "Throttled leads, each answered with HTTP 429 by the application.") \
	X(EXCEPTIONS, "exceptions_total", "counter", C5_SHAPE_EXCEPTIONS, 0, \
	  "exception_type,location", 11, "global", \
	  "Errors that rolled back tracked work, by SQLSTATE condition and flow.") \
	X(FLOW_TX, "flow_transactions_total", "counter", C5_SHAPE_BY_RESULT, C5_DOM_FLOW, \
	  "flow,result", 10, "global", \
	  "(Sub)transactions that touched a flow, by outcome.") \
	X(FLOW_DURATION, "flow_transaction_duration_seconds", "histogram", C5_SHAPE_HISTOGRAM_BY_FLOW, \
	  C5_HIST_FLOW, "flow", -1, "global", \
	  "Committed transactions that touched a flow: from transaction start to commit.") \
	X(BUILD_INFO, "c5metrics_build_info", "gauge", C5_SHAPE_BUILD_INFO, 0, \
	  "version,pg_version", -1, "self", \
	  "Version of c5metrics and of the PostgreSQL server it runs in.") \
	X(IN_RECOVERY, "c5metrics_in_recovery", "gauge", C5_SHAPE_GAUGE, 0, \
	  "", -1, "self", \
	  "1 while this server is in recovery (a standby); its triggers then count nothing.") \
	X(STATS_RESET, "c5metrics_stats_reset_timestamp_seconds", "gauge", C5_SHAPE_GAUGE, 0, \
	  "", -1, "self", \
	  "When the counters last started from zero, as a Unix time.") \
	X(SERIES, "c5metrics_series", "gauge", C5_SHAPE_GAUGE, 0, \
	  "", -1, "self", \
	  "Business series currently exposed.") \
	X(SERIES_LIMIT, "c5metrics_series_limit", "gauge", C5_SHAPE_GAUGE, 0, \
	  "", -1, "self", \
	  "The series cap, c5metrics.max_series.") \
	X(SERIES_OVERFLOW, "c5metrics_series_overflow_total", "counter", C5_SHAPE_ONE, 0, \
	  "", 13, "self", \
	  "Observations folded into an \"other\" series because the series cap was reached.") \
	X(LABEL_OVERFLOW, "c5metrics_label_overflow_total", "counter", C5_SHAPE_BY, C5_DOM_DYN, \
	  "metric", 14, "self", \
	  "Label values replaced by \"other\": not allowed, unsafe, or beyond c5metrics.max_label_values.") \
	X(EVENTS_LOST, "c5metrics_events_lost_total", "counter", C5_SHAPE_ONE, 0, \
	  "", 15, "self", \
	  "Business events that could not be recorded (out of memory, or a table no longer matching its attachment); should stay 0.") \
	X(TRACKED_TABLES, "c5metrics_tracked_tables", "gauge", C5_SHAPE_GAUGE_BY_FLOW, 0, \
	  "flow", -1, "self", \
	  "Tables attached to c5metrics, by flow.") \
	X(ATTACHMENT_PROBLEMS, "c5metrics_attachment_problems", "gauge", C5_SHAPE_GAUGE_BY_FLOW, 0, \
	  "flow", -1, "self", \
	  "Attached tables whose attachment is broken (c5metrics.tracked's problem column), by flow; should stay 0.") \
	X(LEAD_THROTTLE_ENABLED, "c5metrics_lead_throttle_enabled", "gauge", C5_SHAPE_GAUGE, 0, \
	  "", -1, "self", \
	  "1 when c5metrics.lead_throttle is on, as the reader's session sees it.") \
	X(HTTP_REQUESTS, "c5metrics_http_requests_total", "counter", C5_SHAPE_HTTP_REQUESTS, 0, \
	  "path,code", 16, "self", \
	  "Requests answered by the HTTP worker, by path and status code.") \
	X(HTTP_REFUSED, "c5metrics_http_refused_connections_total", "counter", C5_SHAPE_BY, C5_DOM_REFUSAL, \
	  "reason", 17, "self", \
	  "Connections the HTTP worker refused or cut: over a connection limit, past the request deadline, or evicted for a newcomer while waiting for a request.") \
	X(RENDER_DURATION, "c5metrics_http_render_duration_seconds", "histogram", C5_SHAPE_HISTOGRAM, \
	  C5_HIST_RENDER, "", -1, "self", \
	  "Time the HTTP worker took to render /metrics, compression included.") \
	X(REFUND_GUARD_ENABLED, "c5metrics_refund_guard_enabled", "gauge", C5_SHAPE_GAUGE, 0, \
	  "", -1, "self", \
	  "1 when c5metrics.refund_guard blocks over-refunds, as the reader's session sees it (0: only counts them).") \
	X(SLO_OBJECTIVE, "c5metrics_slo_objective", "gauge", C5_SHAPE_GAUGE_BY, C5_DOM_SLO, \
	  "slo", -1, "self", \
	  "Objective of each SLO as a ratio (c5metrics.objective_<slo>), as the reader's session sees it; the burn-rate rules divide by 1 - it.") \
	X(LEAD_THROTTLE_LIMIT, "c5metrics_lead_throttle_limit_per_minute", "gauge", C5_SHAPE_GAUGE_BY, C5_DOM_SCOPE, \
	  "scope", -1, "self", \
	  "Leads a minute the throttle allows per client address, per email and in all (c5metrics.lead_*_per_minute), whether or not it is on.")

/* The counter families' places in the counter array: 0 .. C5M_NSTORED - 1. */
#define C5M_NSTORED 18

/* How a family's series are formed. */
typedef enum C5Shape
{
	C5_SHAPE_ONE,				/* one counter, no label */
	C5_SHAPE_BY,				/* one label over a domain */
	C5_SHAPE_BY_RESULT,			/* a label over a domain, and result */
	C5_SHAPE_TRANSITIONS,		/* from_status x to_status x result, live ones */
	C5_SHAPE_EXCEPTIONS,		/* condition x flow, live ones */
	C5_SHAPE_HTTP_REQUESTS,		/* path x code */
	C5_SHAPE_HISTOGRAM,			/* one histogram (domain: which) */
	C5_SHAPE_HISTOGRAM_BY_FLOW, /* one per flow, from histogram `domain` on */
	C5_SHAPE_BUILD_INFO,
	C5_SHAPE_GAUGE,				/* one value, of the reader's moment */
	C5_SHAPE_GAUGE_BY_FLOW,		/* one value per flow */
	C5_SHAPE_GAUGE_BY			/* one value per value of its domain */
} C5Shape;

/* The label-value domains of one-label families. */
typedef enum C5Domain
{
	C5_DOM_RESULT,				/* success, rejected, failure */
	C5_DOM_CONSUME,				/* the same and missing */
	C5_DOM_REFUND_TYPE,
	C5_DOM_MISMATCH,
	C5_DOM_LEAD_RESULT,
	C5_DOM_SCOPE,
	C5_DOM_REASON,				/* sale_refund_rollback_total's (sqlstate.c) */
	C5_DOM_DYN,
	C5_DOM_REFUSAL,
	C5_DOM_FLOW,
	C5_DOM_HTTP_PATH,			/* the routes, then "other" */
	C5_DOM_HTTP_CODE,
	C5_DOM_SLO,					/* the SLOs' names (C5M_SLOS) */
	C5_NDOMAINS
} C5Domain;

typedef enum C5Family
{
#define C5M_FAMILY_ENUM(id, name, type, shape, domain, keys, store, flow, help) C5_FAM_##id,
	C5M_FAMILIES(C5M_FAMILY_ENUM)
#undef C5M_FAMILY_ENUM
	C5_NFAMILIES
} C5Family;

/* Each family's place in the counter array, by id: C5_STORE_<id>. */
enum
{
#define C5M_STORE_ENUM(id, name, type, shape, domain, keys, store, flow, help) C5_STORE_##id = store,
	C5M_FAMILIES(C5M_STORE_ENUM)
#undef C5M_STORE_ENUM
};

/* A row of the catalog, as catalog.c lays them out. */
typedef struct C5FamilyInfo
{
	const char *name;
	const char *type;
	C5Shape		shape;
	int			domain;
	const char *keys;
	int			store;
	const char *flow;
	const char *help;
} C5FamilyInfo;

extern const C5FamilyInfo c5m_families[C5_NFAMILIES];
extern const char *const *c5m_domain_names(C5Domain d, int *n);

#endif							/* C5M_CATALOG_H */
