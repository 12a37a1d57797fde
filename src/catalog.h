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
 * SQLSTATEs of the opt-in guards (docs/REFERENCE.md, "Errors"), in the
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
	C5_NHISTS = C5_HIST_FLOW + C5_NFLOWS
} C5Hist;

/* Families whose labels overflow into "other" (c5metrics_label_overflow_total). */
typedef enum C5Dyn
{
	C5_DYN_TRANSITION,
	C5_DYN_EXCEPTION,
	C5_NDYN
} C5Dyn;

/* The HTTP worker's own requests: bounded paths and status codes. */
typedef enum C5HttpPath
{
	C5_HTTP_METRICS,
	C5_HTTP_HEALTHZ,
	C5_HTTP_READYZ,
	C5_HTTP_OTHER,
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

#endif							/* C5M_CATALOG_H */
