/*-------------------------------------------------------------------------
 *
 * c5metrics.h
 *		Private header shared by the c5metrics source files.
 *
 * The registry is one shared-memory segment holding a flat array of 64-bit
 * atomic counters whose layout (which index is which series) is computed
 * from the settings alone, so every process derives the same layout
 * without talking to anyone.  Histograms live beside it, each behind its
 * own spinlock so a reader never sees a bucket without its sum.  Label
 * values that come from user data (sale statuses) are interned into a
 * bounded dictionary; everything else has a fixed, compiled-in domain.
 *
 * Capture is commit-only: triggers append to a backend-local buffer and the
 * transaction callbacks move it into the registry with atomic adds.
 *
 *-------------------------------------------------------------------------
 */
#ifndef C5METRICS_H
#define C5METRICS_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "lib/stringinfo.h"
#include "port/atomics.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "utils/relcache.h"

/* The control file's default_version, passed by the Makefile. */
#ifndef C5M_VERSION
#error "C5M_VERSION must be defined (the Makefile passes the control file's default_version)"
#endif

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
 * Indexes into the flat counter array.  Computed once from the settings by
 * c5m_compute_layout(); identical in every process.
 */
typedef struct C5Layout
{
	int			nstatus;		/* status dictionary capacity */
	int			nbuckets;		/* finite histogram bounds in use */
	int			paid_consume;	/* [C5_NCONSUME] */
	int			refunds;		/* [type][result] */
	int			over_refund;
	int			idempotency;
	int			refund_rollback;	/* [reason] */
	int			refund_in;		/* [result] */
	int			mismatch;		/* [C5_NMISMATCH] */
	int			leads;			/* [C5_NLEADRESULTS] */
	int			throttled;		/* [scope] */
	int			leads_429;
	int			flow_tx;		/* [flow][result] */
	int			exceptions;		/* [condition][flow] */
	int			transitions;	/* [from][to][result] */
	int			series_overflow;
	int			label_overflow; /* [C5_NDYN] */
	int			events_lost;
	int			http_requests;	/* [path][code] */
	int			http_refused;	/* [C5_NREFUSALS] */
	int			ncounters;		/* length of the counter array */
	int			nlive;			/* length of the live-flag array */
	int			live_exceptions;	/* live flags: [condition][flow] */
	int			live_transitions;	/* live flags: [from][to] */
	int			fixed_series;	/* series that always exist */
} C5Layout;

/*
 * One histogram, on cache lines of its own.  The lock, the sum and the
 * first buckets share the first line, so an observation in one of the
 * short buckets -- most of them -- writes one line.
 */
typedef struct pg_attribute_aligned(PG_CACHE_LINE_SIZE) C5Histogram
{
	slock_t		mutex;			/* protects the fields below */
	uint64		sum_us;			/* microseconds, exact */
	uint64		buckets[C5M_MAX_BUCKETS + 1];	/* not cumulative; last is +Inf */
} C5Histogram;

typedef struct C5TrackedEntry
{
	Oid			dboid;
	Oid			relid;
	int32		flow;			/* C5Flow, or -1 when the slot is free */
} C5TrackedEntry;

/*
 * Counters and histograms are kept in C5M_STRIPES copies ("stripes"); a
 * process adds to the stripe of its PGPROC number and readers sum them, so
 * backends committing on different CPUs do not write the same cache lines
 * (registry.c).
 */
#define C5M_STRIPES 8

typedef struct C5HistStripe
{
	C5Histogram hist[C5_NHISTS];	/* whole cache lines: C5Histogram is aligned */
} C5HistStripe;

/*
 * What one database has taken of the shared budgets (registry.c).  The
 * last entry of C5Shared.dbs has no database: every database that finds
 * the others taken shares it.
 */
typedef struct C5DbUsage
{
	Oid			dboid;			/* InvalidOid: free; protected by lock */
	int			nstatus;		/* statuses it added; protected by lock */
	pg_atomic_uint32 nseries;	/* dynamic series it made live; atomic */
} C5DbUsage;

/*
 * The dictionary generation (C5Shared.label_gen) is even while the
 * dictionary is usable and odd while c5metrics.reset_labels() clears it;
 * it never is 0, which marks an operation that needs no check.
 */
#define C5M_GEN_VALID(g)	((g) != 0 && ((g) & 1) == 0)

/*
 * One process's window of counting into dynamic series, padded to a cache
 * line: it holds the generation the process counts under, or 0.
 */
typedef union C5GenSlot
{
	pg_atomic_uint32 gen;
	char		pad[PG_CACHE_LINE_SIZE];
} C5GenSlot;

/*
 * The shared registry.  Locking: `lock` is taken exclusively to add a
 * status to the dictionary, to change the tracked-table list or the
 * per-database entries and to reset; shared to read the dictionary.
 * Counters and live flags are atomics and need no lock; histograms have
 * their own spinlocks.  A live flag holds the OID of the database that
 * made the series live (any nonzero value means live).
 */
typedef struct C5Shared
{
	C5HistStripe stripes[C5M_STRIPES]; /* first: cache-line aligned */
	LWLock	   *lock;			/* see above */
	C5Layout	layout;			/* immutable after startup */
	double		bounds[C5M_MAX_BUCKETS];	/* histogram upper bounds, seconds */
	TimestampTz stats_reset;	/* protected by lock */
	pg_atomic_uint32 nseries;	/* series currently exposed */
	int			nstatus_used;	/* protected by lock */
	pg_atomic_uint32 label_gen; /* dictionary generation; written under lock */
	C5TrackedEntry tracked[C5M_MAX_TRACKED];	/* protected by lock */
	bool		tracked_seen;	/* protected by lock: tracked has had an
								 * entry since shared memory was set up */
	bool		tracked_problem[C5M_MAX_TRACKED];	/* protected by lock: the
													 * entry's attachment is
													 * broken (not saved) */
	C5DbUsage	dbs[C5M_MAX_DATABASES];	/* see C5DbUsage */
	C5Histogram render;			/* the HTTP worker's render durations */

	/*
	 * variable part follows: counter stripes, live flags, status names,
	 * status owners, one C5GenSlot per PGPROC
	 */
} C5Shared;

/* c5metrics.http_auth */
#define C5_HTTP_AUTH_NONE	0
#define C5_HTTP_AUTH_BEARER 1
#define C5_HTTP_AUTH_BASIC	2

#define C5M_DEFAULT_PORT	15187	/* outside the 9100-9999 exporter range */

/* c5metrics.guard_unavailable */
#define C5M_GUARD_REFUSE	0
#define C5M_GUARD_COUNT		1

/* src/c5metrics.c: settings */
extern int	c5m_max_series;
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
extern char *c5m_listen_addresses;
extern int	c5m_port;
extern int	c5m_http_max_connections;
extern int	c5m_http_max_per_address;
extern int	c5m_http_idle_timeout;
extern int	c5m_http_request_timeout;
extern int	c5m_http_auth;
extern char *c5m_http_auth_file;
extern char *c5m_http_tls_cert_file;
extern char *c5m_http_tls_key_file;

/* src/layout.c */
extern void c5m_compute_layout(C5Layout *l, int nstatus, int nbuckets);

/* src/registry.c */
extern C5Shared *c5m_shared;
extern pg_atomic_uint64 *c5m_counters;	/* this process's stripe */
extern pg_atomic_uint32 *c5m_live;
extern char (*c5m_status_names)[C5M_LABEL_LEN];
extern Oid *c5m_status_owner;
extern int	c5m_parse_buckets(const char *value, double *bounds, char **errmsg);
extern Size c5m_registry_shmem_size(void);
extern void c5m_registry_shmem_init(void);
extern bool c5m_registry_ready(void);
extern int	c5m_hist_bucket(double seconds);
extern void c5m_hist_add(int hist, const uint64 *buckets, int lo, int hi, uint64 sum_us);
extern const double c5m_render_bounds[C5M_RENDER_BUCKETS];
extern void c5m_render_observe(double seconds);
extern void c5m_http_count(C5HttpPath path, C5HttpCode code);
extern void c5m_http_refused(C5HttpRefusal why);
extern void c5m_registry_reset(void);
extern void c5m_registry_pick_stripe(void);
extern uint64 c5m_counter_read(int idx);
extern void c5m_counter_zero(int idx);
extern void c5m_hist_read(int hist, uint64 *buckets, uint64 *sum_us);
extern void c5m_tracked_sync(Oid dboid, int n, const Oid *relids, const int *flows,
							 const bool *problems);
extern void c5m_tracked_note(Oid dboid, Oid relid, int flow, bool problem);
extern struct C5Snapshot *c5m_snapshot_take(void);

/* The status dictionary's generation: read before looking statuses up. */
static inline uint32
c5m_label_gen(void)
{
	return pg_atomic_read_u32(&c5m_shared->label_gen);
}

static inline void
c5m_count(int idx, uint64 n)
{
	if (n != 0)
		pg_atomic_fetch_add_u64(&c5m_counters[idx], n);
}

/* src/labels.c */
extern Size c5m_gen_slots_size(void);
extern void c5m_gen_slots_attach(void *p, bool init);
extern bool c5m_label_acceptable(const char *value, int len);
extern int	c5m_status_id(const char *value, int len);
extern int	c5m_transition_index(int from, int to, uint32 gen);
extern int	c5m_exception_index(int cond, C5Flow flow, uint32 gen);
extern uint32 c5m_dyn_begin(void);
extern void c5m_dyn_end(void);
extern int	c5m_dyn_fold(int idx, uint64 n);
extern bool c5m_live_fixed(const C5Layout *l, int i);
extern void c5m_labels_pick_database(void);
extern void c5m_labels_recount(void);
extern void c5m_reset_labels(const Oid *gone, int ngone);

/* src/capture.c */
typedef struct C5Level C5Level;

/*
 * One counter add kept for later; idx < 0 encodes a histogram cell,
 * -(1 + hist * C5M_HIST_OP_STRIDE + bucket), where bucket nbuckets + 1
 * stands for the histogram's sum.  An add to a dynamic series carries the
 * dictionary generation its index is valid in (else 0).
 */
typedef struct C5Op
{
	int32		idx;
	uint32		gen;
	uint64		n;
} C5Op;

#define C5M_HIST_OP_STRIDE (C5M_MAX_BUCKETS + 2)

/* Where an outcome goes: into the registry (NULL sink), or into a list. */
typedef struct C5Sink
{
	C5Op	   *ops;
	int		   *nops;			/* entries used */
	int			maxops;			/* beyond it, counts are lost (and counted) */
} C5Sink;

extern void c5m_capture_init(void);
extern C5Level *c5m_level(void);
extern void c5m_note_transition(C5Level *lv, int from, int to, uint32 gen);
extern void c5m_note_paid(C5Level *lv, uint32 salekey, TimestampTz at);
extern void c5m_note_consume(C5Level *lv, uint32 salekey);
extern void c5m_note_refund_attempt(C5Level *lv, C5RefundType type);
extern void c5m_note_refund_inserted(C5Level *lv, C5RefundType type);
extern void c5m_note_refund_table(C5Level *lv, const char *nspname, const char *relname);
extern void c5m_note_guard(C5Level *lv, int sqlerrcode);
extern void c5m_note_mismatch(C5Level *lv, C5Mismatch type);
extern void c5m_note_lead(C5Level *lv);
extern void c5m_note_flow(C5Level *lv, C5Flow flow);
extern void c5m_note_lost(void);
extern void c5m_count_success(C5Level *lv, TimestampTz now, C5Sink *sink);
extern void c5m_count_rollback(C5Level *lv, int code, const char *table,
							   C5Sink *sink);
extern void c5m_apply_ops(const C5Op *ops, int n);
extern C5Result c5m_classify(int code, bool on_refunds, int *reason, int *cond);
extern int	c5m_reason_count(void);
extern const char *c5m_reason_name(int reason);
extern int	c5m_condition_count(void);
extern const char *c5m_condition_name(int cond);

/* src/twophase.c */
extern void c5m_twophase_init(void);

/* src/ddl.c: attachments through renames and ALTER TABLE */
extern void c5m_ddl_init(void);
extern void c5m_twophase_park(C5Level *top);

/* src/triggers.c: a trigger's arguments resolved against its table */
typedef enum C5ColKind
{
	C5_COL_OTHER,
	C5_COL_TEXT,				/* text, varchar, citext: binary-coercible
								 * to text */
	C5_COL_BPCHAR,				/* char(n): trailing blanks ignored */
	C5_COL_NAME,
	C5_COL_ENUM,				/* an enum, or a domain over one */
	C5_COL_INT					/* int2, int4, int8 */
} C5ColKind;

typedef struct C5Col
{
	AttrNumber	attnum;			/* 0 if the column does not exist */
	C5ColKind	kind;
	Oid			typid;
	int16		typlen;
	bool		typbyval;
} C5Col;

typedef struct C5Value
{
	char	   *text;			/* configured value, in TopMemoryContext */
	int			len;
	Oid			enumoid;		/* its enum label OID, for enum columns */
} C5Value;

#define C5M_MAX_ALLOWED 64		/* allowed statuses per sales table */

typedef struct C5Guard C5Guard;	/* the over-refund guard's lookups */

typedef struct C5Trig
{
	Oid			tgoid;			/* hash key: the trigger's OID */
	bool		valid;			/* false after a relcache invalidation */
	bool		ok;				/* arguments match the table */
	Oid			relid;
	Oid			owner;			/* table owner: guards query as this role */
	char		nspname[NAMEDATALEN];
	char		relname[NAMEDATALEN];
	C5Col		c[4];			/* columns, in trigger-argument order */
	C5Value		v[2];			/* configured values */
	int			nallowed;
	C5Value		allowed[C5M_MAX_ALLOWED];
	C5Guard    *guard;		/* refunds with a sales table (guards.c) */
} C5Trig;

extern void c5m_triggers_init(void);
extern void c5m_trig_cache_sweep(void);
extern void c5m_resolve_col(Relation rel, const char *name, C5Col *col);
extern bool c5m_col_text(const C5Col *col, Datum d, bool isnull,
						 const char **s, int *len, char *buf);
extern uint32 c5m_sale_key(const C5Col *col, Datum d);
extern void c5m_resolve_value(const C5Col *col, const char *value, C5Value *v,
							  MemoryContext cxt);

/* Does the column's value equal a configured value?  (The stock trigger's
 * bulk path, and the refund-in check reading the rows back.) */
static inline bool
c5m_value_is(const C5Col *col, Datum d, bool isnull, const C5Value *v)
{
	const char *s;
	int			len;
	char		buf[NAMEDATALEN];

	if (isnull)
		return false;
	if (col->kind == C5_COL_ENUM)
		return DatumGetObjectId(d) == v->enumoid;
	return c5m_col_text(col, d, false, &s, &len, buf) &&
		len == v->len && memcmp(s, v->text, len) == 0;
}

/* src/guards.c */
struct TriggerData;
extern Size c5m_throttle_shmem_size(void);
extern void c5m_throttle_shmem_init(void);
extern void c5m_trig_release(C5Trig *t);
extern void c5m_refund_guard_check(C5Trig *t, struct TriggerData *td, C5Level *lv);
extern void c5m_lead_throttle_check(C5Trig *t, struct TriggerData *td, C5Level *lv);
extern void c5m_refund_guard_unavailable(C5Trig *t, struct TriggerData *td, C5Level *lv,
										 const char *why);
extern bool c5m_guard_comparable(Oid saletype, Oid idtype);
extern void c5m_note_refund_in(C5Level *lv, Oid tgoid, Oid relid, const C5Col *col,
							   Datum sale, bool isnull);

/* src/readable.c */
extern bool c5m_parse_oid(const char *s, Oid *oid);
extern bool c5m_table_ref(const char *arg, Oid *relid);
extern bool c5m_sql_before_1_4(void);
extern Oid	c5m_rel_owner(Oid relid);
extern bool c5m_plain_table(Oid relid);
extern bool c5m_role_reads(Oid relid, Oid role, int ncols, const AttrNumber *cols);

/* src/refund_in.c */

/* A sale whose refund-in movements are checked at commit (capture.c). */
typedef struct C5Check
{
	Oid			tgoid;			/* the stock trigger that saw them */
	Oid			relid;			/* its table */
	uint32		salekey;
	Datum		sale;			/* a by-reference value is a copy of ours */
	Oid			saletype;
	int16		typlen;
	bool		typbyval;
} C5Check;

extern void c5m_refund_in_check(const C5Check *checks, int n, int64 *over, int64 *norefund);

/* src/persist.c */
extern void c5m_persist_load(void);
extern void c5m_persist_save(int code, Datum arg);
extern bool c5m_shut_down_cleanly(void);
extern const char *c5m_histogram_problem(const uint64 *buckets, uint64 sum_us,
										 const double *bounds, int nb);
extern void c5m_state_remove(const char *path);
extern bool c5m_state_make_way(const char *path, bool keep_file, int elevel);
extern FILE *c5m_state_create(const char *tmp, int elevel);
extern bool c5m_state_install(const char *tmp, const char *path, int elevel);
extern FILE *c5m_state_open(const char *path, const char **problem);

/* src/sli.c: the SLI ring */
#define C5_NSLOS 5
extern double c5m_objective[C5_NSLOS];
extern int	c5m_budget_days;
extern int	c5m_sli_sample_interval;
extern int	c5m_sli_checkpoint_interval;
extern Size c5m_sli_shmem_size(void);
extern void c5m_sli_shmem_init(void);
extern void c5m_sli_tick(void);
extern long c5m_sli_next_tick_ms(void);
extern void c5m_sli_save(void);
extern double c5m_bucket_quantile(double q, const double *bounds,
								  const double *cum, int nb);

/*
 * A copy of the registry, taken by c5m_snapshot_take() (registry.c): every
 * reader formats from one, holding no lock.
 */
typedef struct C5Snapshot
{
	C5Layout	l;
	double		bounds[C5M_MAX_BUCKETS];
	TimestampTz stats_reset;
	uint32		nseries;
	int			nstatus_used;
	bool		in_recovery;
	int			tracked[C5_NFLOWS];
	int			problems[C5_NFLOWS];	/* of those, attachments broken */
	uint64	   *ctr;
	uint32	   *live;
	char		(*names)[C5M_LABEL_LEN];
	uint64		buckets[C5_NHISTS + 1][C5M_MAX_BUCKETS + 1];	/* last: render */
	uint64		sum_us[C5_NHISTS + 1];
} C5Snapshot;

#define C5_RENDER_HIST C5_NHISTS	/* index of the render histogram in a snapshot */

/* src/exposition.c */

/*
 * Receives the walk over the registry: family() once per metric family,
 * then sample() for each of its series.  A sample's value is `valtext`
 * when not NULL (gauges, histogram sums), else the integer `value`.
 */
typedef struct C5Emitter C5Emitter;
struct C5Emitter
{
	void		(*family) (C5Emitter *e, const char *name, const char *type,
						   const char *help);
	void		(*sample) (C5Emitter *e, const char *name, const char *suffix,
						   int nlabels, const char *const *keys,
						   const char *const *vals, uint64 value,
						   const char *valtext);
};

extern const char *c5m_flow_name(C5Flow flow);
extern void c5m_walk(C5Snapshot *snap, C5Emitter *e);
extern void c5m_render_text(C5Snapshot *snap, StringInfo out);
extern void c5m_render_openmetrics(C5Snapshot *snap, StringInfo out);

#endif							/* C5METRICS_H */
