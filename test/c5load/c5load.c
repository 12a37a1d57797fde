/*-------------------------------------------------------------------------
 *
 * c5load.c
 *		Load generator for the c5metrics reference schema, with ground truth.
 *
 * N client threads, each with its own libpq connections, drive every flow
 * of the reference schema -- sales paid with FEFO consumption, refunds
 * (full, partial, over-refunds, duplicate keys by plain INSERT and by ON
 * CONFLICT DO NOTHING), refund-in movements (consistent and mismatched),
 * leads (valid, invalid, bursts that hit the throttle), and when asked,
 * refunds that put stock back with the refund-in check's mismatches --
 * and inject failures: explicit rollbacks, savepoint rollbacks,
 * serialization failures, lock timeouts, insufficient stock.
 *
 * The ground truth is what the client saw happen: each operation's outcome
 * (committed, or the SQLSTATE that rolled it back) is turned into the
 * series it must move, independently of the extension, and printed as
 * JSON.  The exactness test compares it with c5metrics.metrics.
 *
 * A fixed seed fixes each client's sequence of operations; the outcome of
 * races (throttle buckets, lock waits) is whatever happened, and counted.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

/*
 * What is driven: quoted table and column names, and the values written.
 * Filled for the reference schema, or from a mapping file (--map) for a
 * user's own tables.
 */
typedef struct Map
{
	bool		reference;		/* pay with pay_sale(): items, FEFO, stock */
	char		sales[256], s_id[128], s_status[128], s_total[128];
	char		pending[64], paid[64], cancelled[64];
	char		stock[256], m_type[128], m_sale[128], m_qty[128];
	char		m_extra_cols[256], m_extra_vals[256];	/* ", col" / ", value" */
	char		consume[64], refund_in[64];
	char		refunds[256], r_sale[128], r_amount[128], r_type[128], r_key[128];
	bool		uuid_keys;
	char		leads[256], l_email[128], l_ip[128];
} Map;

static Map map;

/* ---- ground truth: the series an outcome moves ---- */

enum
{
	R_SUCCESS, R_REJECTED, R_FAILURE, NR
};
static const char *const rname[NR] = {"success", "rejected", "failure"};

enum
{
	F_SALES, F_STOCK, F_REFUNDS, F_LEADS, NF
};
static const char *const fname[NF] = {"sales", "stock", "refunds", "leads"};

/* One slot per series the operations can move. */
enum
{
	S_PAID = 0,					/* + result: sales_transition pending->paid */
	S_CANCELLED = S_PAID + NR,	/* + result: pending->cancelled */
	S_TO_PARTIAL = S_CANCELLED + NR,	/* + result: paid->partially_refunded */
	S_TO_REFUNDED = S_TO_PARTIAL + NR,	/* + result: paid->refunded */
	S_CONSUME = S_TO_REFUNDED + NR, /* + result (0..2), 3 = missing */
	S_REFUND_FULL = S_CONSUME + NR + 1, /* + result */
	S_REFUND_PARTIAL = S_REFUND_FULL + NR,	/* + result */
	S_OVER_REFUND = S_REFUND_PARTIAL + NR,
	S_CONFLICT,
	S_RB_OVER,					/* sale_refund_rollback_total{reason} */
	S_RB_IDEMPOTENCY,
	S_RB_ROLLBACK,
	S_REFUND_IN,				/* + result */
	S_MISMATCH_OVER = S_REFUND_IN + NR,
	S_MISMATCH_NOREFUND,
	S_LEAD_CREATED,
	S_LEAD_REJECTED,
	S_LEAD_FAILURE,
	S_LEAD_THROTTLED,
	S_THROTTLED_IP,
	S_THROTTLED_EMAIL,
	S_THROTTLED_GLOBAL,
	S_429,
	S_FLOW,						/* + flow * NR + result */
	NSLOTS = S_FLOW + NF * NR
};

typedef struct Truth
{
	int64_t		slot[NSLOTS];
	int64_t		ops;			/* operations completed */
	int64_t		errors;			/* operations that rolled back */
	int64_t		lost;			/* connections lost */
	int64_t		unknown;		/* operations whose outcome is unknown */
} Truth;

static void
series_name(int s, char *metric, size_t mlen, char *labels, size_t llen)
{
#define SET(m, l) do { snprintf(metric, mlen, "%s", m); snprintf(labels, llen, "%s", l); } while (0)
	static char buf[256];

	if (s >= S_PAID && s < S_PAID + NR)
	{
		snprintf(buf, sizeof(buf), "{\"from_status\": \"%s\", \"to_status\": \"%s\", \"result\": \"%s\"}",
				 map.pending, map.paid, rname[s - S_PAID]);
		SET("sales_transition_total", buf);
	}
	else if (s >= S_CANCELLED && s < S_CANCELLED + NR)
	{
		snprintf(buf, sizeof(buf), "{\"from_status\": \"%s\", \"to_status\": \"%s\", \"result\": \"%s\"}",
				 map.pending, map.cancelled, rname[s - S_CANCELLED]);
		SET("sales_transition_total", buf);
	}
	else if (s >= S_TO_PARTIAL && s < S_TO_PARTIAL + NR)
	{
		snprintf(buf, sizeof(buf), "{\"from_status\": \"%s\", \"to_status\": \"partially_refunded\", \"result\": \"%s\"}",
				 map.paid, rname[s - S_TO_PARTIAL]);
		SET("sales_transition_total", buf);
	}
	else if (s >= S_TO_REFUNDED && s < S_TO_REFUNDED + NR)
	{
		snprintf(buf, sizeof(buf), "{\"from_status\": \"%s\", \"to_status\": \"refunded\", \"result\": \"%s\"}",
				 map.paid, rname[s - S_TO_REFUNDED]);
		SET("sales_transition_total", buf);
	}
	else if (s >= S_CONSUME && s < S_CONSUME + NR + 1)
	{
		snprintf(buf, sizeof(buf), "{\"result\": \"%s\"}", s - S_CONSUME < NR ? rname[s - S_CONSUME] : "missing");
		SET("sales_paid_stock_consume_total", buf);
	}
	else if (s >= S_REFUND_FULL && s < S_REFUND_FULL + NR)
	{
		snprintf(buf, sizeof(buf), "{\"type\": \"full\", \"result\": \"%s\"}", rname[s - S_REFUND_FULL]);
		SET("sale_refunds_total", buf);
	}
	else if (s >= S_REFUND_PARTIAL && s < S_REFUND_PARTIAL + NR)
	{
		snprintf(buf, sizeof(buf), "{\"type\": \"partial\", \"result\": \"%s\"}", rname[s - S_REFUND_PARTIAL]);
		SET("sale_refunds_total", buf);
	}
	else if (s == S_OVER_REFUND)
		SET("sale_refund_over_refund_attempts_total", "{}");
	else if (s == S_CONFLICT)
		SET("sale_refund_idempotency_conflicts_total", "{}");
	else if (s == S_RB_OVER)
		SET("sale_refund_rollback_total", "{\"reason\": \"over_refund\"}");
	else if (s == S_RB_IDEMPOTENCY)
		SET("sale_refund_rollback_total", "{\"reason\": \"idempotency_conflict\"}");
	else if (s == S_RB_ROLLBACK)
		SET("sale_refund_rollback_total", "{\"reason\": \"rollback\"}");
	else if (s >= S_REFUND_IN && s < S_REFUND_IN + NR)
	{
		snprintf(buf, sizeof(buf), "{\"result\": \"%s\"}", rname[s - S_REFUND_IN]);
		SET("stock_refund_in_total", buf);
	}
	else if (s == S_MISMATCH_OVER)
		SET("stock_refund_in_mismatch_total", "{\"type\": \"over_restock\"}");
	else if (s == S_MISMATCH_NOREFUND)
		SET("stock_refund_in_mismatch_total", "{\"type\": \"no_refund\"}");
	else if (s == S_LEAD_CREATED)
		SET("public_leads_requests_total", "{\"result\": \"created\"}");
	else if (s == S_LEAD_REJECTED)
		SET("public_leads_requests_total", "{\"result\": \"rejected\"}");
	else if (s == S_LEAD_FAILURE)
		SET("public_leads_requests_total", "{\"result\": \"failure\"}");
	else if (s == S_LEAD_THROTTLED)
		SET("public_leads_requests_total", "{\"result\": \"throttled\"}");
	else if (s == S_THROTTLED_IP)
		SET("public_leads_throttled_total", "{\"scope\": \"ip\"}");
	else if (s == S_THROTTLED_EMAIL)
		SET("public_leads_throttled_total", "{\"scope\": \"email\"}");
	else if (s == S_THROTTLED_GLOBAL)
		SET("public_leads_throttled_total", "{\"scope\": \"global\"}");
	else if (s == S_429)
		SET("public_leads_429_total", "{}");
	else
	{
		int			f = (s - S_FLOW) / NR;

		snprintf(buf, sizeof(buf), "{\"flow\": \"%s\", \"result\": \"%s\"}", fname[f], rname[(s - S_FLOW) % NR]);
		SET("flow_transactions_total", buf);
	}
#undef SET
}

/* ---- options ---- */

typedef enum Op
{
	OP_PAY,
	OP_PAY_INSUFFICIENT,
	OP_PAY_ROLLBACK,
	OP_PAY_SAVEPOINT,
	OP_SERIALIZATION,
	OP_LOCK_TIMEOUT,
	OP_REFUND,
	OP_REFUND_FULL,
	OP_REFUND_OVER,
	OP_REFUND_DUP,
	OP_REFUND_DUP_ON_CONFLICT,
	OP_REFUND_IN,
	OP_REFUND_IN_MISMATCH,
	OP_LEAD,
	OP_LEAD_INVALID,
	OP_LEAD_BURST,
	OP_RESTOCK,
	OP_RESTOCK_ROLLBACK,
	OP_RESTOCK_OVER,
	OP_RESTOCK_NO_REFUND,
	OP_RESTOCK_BATCH,
	NOPS
} Op;

static const char *const opname[NOPS] = {
	"pay", "pay_insufficient", "pay_rollback", "pay_savepoint", "serialization",
	"lock_timeout", "refund", "refund_full", "refund_over", "refund_dup",
	"refund_dup_on_conflict", "refund_in", "refund_in_mismatch", "lead",
	"lead_invalid", "lead_burst", "restock", "restock_rollback", "restock_over",
	"restock_no_refund", "restock_batch"
};

/* Restocking refunds weigh 0 unless asked for: runs keep their operations. */
static int	weight[NOPS] = {40, 3, 3, 3, 2, 2, 10, 4, 3, 3, 3, 3, 3, 10, 2, 2, 0, 0, 0, 0, 0};

static const char *conninfo = "dbname=postgres";
static const char *schema = "shop";
static const char *map_path = NULL;

static int	nclients = 4;
static double duration = 0;
static long total_tx = 1000;
static unsigned int seed = 1;
static const char *json_path = NULL;
static bool quiet = false;
static bool do_init = false;
static bool throttle = false;

static volatile long tx_started = 0;
static volatile bool stop_now = false;
static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct Client
{
	int			id;
	unsigned int rng;
	PGconn	   *conn;			/* the client's connection */
	PGconn	   *aux;			/* a second one, for the races it stages */
	long		serial;			/* for unique keys */
	long		nth[NOPS];		/* operations run, by kind: picks variants */
	Truth		truth;
	pthread_t	thread;
} Client;

static void
usage(FILE *f)
{
	int			i;

	fprintf(f,
			"c5load drives the c5metrics reference schema and prints what it caused.\n\n"
			"Usage: c5load [OPTION]...\n\n"
			"  -d, --dbname=CONNINFO   connection string (default \"dbname=postgres\")\n"
			"  -S, --schema=NAME       reference schema to drive (default \"shop\")\n"
			"  -M, --map=FILE          drive your own tables, named in a mapping file\n"
			"                          (see test/c5load/README.md)\n"
			"      --init              create the schema if missing and seed products and stock\n"
			"  -c, --clients=N         concurrent clients (default 4)\n"
			"  -t, --transactions=N    total operations (default 1000; 0 with --init: set up only)\n"
			"  -T, --time=SECONDS      run for a duration instead\n"
			"  -s, --seed=N            random seed (default 1): same seed, same operations\n"
			"  -m, --mix=OP=W,...      operation weights, e.g. pay=50,lead=0\n"
			"      --throttle          turn the lead throttle on in the clients' sessions\n"
			"                          (needs a superuser; bursts then hit it)\n"
			"  -j, --json=FILE         write the ground truth as JSON (\"-\" for stdout)\n"
			"  -q, --quiet             no progress line\n"
			"  -h, --help              this help\n\n"
			"The restock operations are refunds that put stock back (the refund row and a\n"
			"refund-in movement in one transaction): consistent, rolled back, over_restock,\n"
			"no_refund, five sales at once. They weigh 0 unless --mix names them.\n\n"
			"Operations and default weights:");
	for (i = 0; i < NOPS; i++)
		fprintf(f, "%s %s=%d", i % 6 == 0 ? "\n " : "", opname[i], weight[i]);
	fprintf(f, "\n");
}

static void
die_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "c5load: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry \"c5load --help\" for more information.\n");
	exit(2);
}

static long
parse_long(const char *s, const char *what, long min)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min)
		die_usage("invalid value \"%s\"", s);
	(void) what;
	return v;
}

static void
parse_mix(const char *spec)
{
	char	   *copy = strdup(spec);
	char	   *tok,
			   *save;
	int			i;

	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
	{
		char	   *eq = strchr(tok, '=');

		if (eq == NULL)
			die_usage("invalid mix element \"%s\": expected OP=WEIGHT", tok);
		*eq = '\0';
		for (i = 0; i < NOPS; i++)
			if (strcmp(tok, opname[i]) == 0)
				break;
		if (i == NOPS)
			die_usage("unknown operation \"%s\" in --mix", tok);
		weight[i] = (int) parse_long(eq + 1, "weight", 0);
	}
	free(copy);
}

/* ---- the mapping ---- */

/* "a.b" -> "a"."b", doubling embedded quotes */
static void
quote_name(char *out, size_t len, const char *name)
{
	size_t		n = 0;
	const char *p;

	out[n++] = '"';
	for (p = name; *p && n + 4 < len; p++)
	{
		if (*p == '.')
		{
			out[n++] = '"';
			out[n++] = '.';
			out[n++] = '"';
		}
		else if (*p == '"')
		{
			out[n++] = '"';
			out[n++] = '"';
		}
		else
			out[n++] = *p;
	}
	out[n++] = '"';
	out[n] = '\0';
}

/* a string literal's contents: only letters, digits and a few signs */
static void
copy_value(char *out, size_t len, const char *v)
{
	if (strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-. ") != strlen(v))
		die_usage("mapping value \"%s\" may only hold letters, digits, _ - . and spaces", v);
	snprintf(out, len, "%s", v);
}

static void
map_reference(void)
{
	char		t[128];

	map.reference = true;
	snprintf(t, sizeof(t), "%s.sales", schema);
	quote_name(map.sales, sizeof(map.sales), t);
	quote_name(map.s_id, sizeof(map.s_id), "id");
	quote_name(map.s_status, sizeof(map.s_status), "status");
	quote_name(map.s_total, sizeof(map.s_total), "total");
	strcpy(map.pending, "pending");
	strcpy(map.paid, "paid");
	strcpy(map.cancelled, "cancelled");
	snprintf(t, sizeof(t), "%s.stock_movements", schema);
	quote_name(map.stock, sizeof(map.stock), t);
	quote_name(map.m_type, sizeof(map.m_type), "movement_type");
	quote_name(map.m_sale, sizeof(map.m_sale), "sale_id");
	quote_name(map.m_qty, sizeof(map.m_qty), "quantity");
	strcpy(map.m_extra_cols, ", product_id");
	strcpy(map.m_extra_vals, ", 1");
	strcpy(map.consume, "consume");
	strcpy(map.refund_in, "refund_in");
	snprintf(t, sizeof(t), "%s.refunds", schema);
	quote_name(map.refunds, sizeof(map.refunds), t);
	quote_name(map.r_sale, sizeof(map.r_sale), "sale_id");
	quote_name(map.r_amount, sizeof(map.r_amount), "amount");
	quote_name(map.r_type, sizeof(map.r_type), "refund_type");
	quote_name(map.r_key, sizeof(map.r_key), "idempotency_key");
	snprintf(t, sizeof(t), "%s.public_leads", schema);
	quote_name(map.leads, sizeof(map.leads), t);
	quote_name(map.l_email, sizeof(map.l_email), "email");
	quote_name(map.l_ip, sizeof(map.l_ip), "source_ip");
}

/*
 * A mapping file: "key = value" lines, # comments.  Keys: sales.table,
 * sales.id, sales.status, sales.total, sales.pending, sales.paid,
 * sales.cancelled, stock.table, stock.type, stock.sale, stock.quantity,
 * stock.consume, stock.refund_in, refunds.table, refunds.sale,
 * refunds.amount, refunds.type, refunds.key, refunds.key_format (text or
 * uuid), leads.table, leads.email, leads.ip.  Names default to the
 * reference schema's.
 */
static void
map_file(const char *path)
{
	FILE	   *f = fopen(path, "r");
	char		line[512];
	int			lineno = 0;

	if (f == NULL)
	{
		fprintf(stderr, "c5load: could not read mapping file \"%s\": %s\n", path, strerror(errno));
		exit(2);
	}
	map_reference();
	map.reference = false;
	map.m_extra_cols[0] = map.m_extra_vals[0] = '\0';
	while (fgets(line, sizeof(line), f))
	{
		char	   *k = line,
				   *v,
				   *e;

		lineno++;
		if ((e = strchr(line, '#')) != NULL)
			*e = '\0';
		while (*k == ' ' || *k == '\t')
			k++;
		for (e = k + strlen(k); e > k && strchr(" \t\r\n", e[-1]); e--)
			e[-1] = '\0';
		if (*k == '\0')
			continue;
		v = strchr(k, '=');
		if (v == NULL)
		{
			fprintf(stderr, "c5load: %s:%d: expected key = value\n", path, lineno);
			exit(2);
		}
		for (e = v; e > k && strchr(" \t=", e[-1]); e--)
			;
		*v++ = '\0';
		*e = '\0';
		while (*v == ' ' || *v == '\t')
			v++;
#define NAME(key, field) else if (strcmp(k, key) == 0) quote_name(map.field, sizeof(map.field), v)
#define VALUE(key, field) else if (strcmp(k, key) == 0) copy_value(map.field, sizeof(map.field), v)
		if (0)
			;
		NAME("sales.table", sales);
		NAME("sales.id", s_id);
		NAME("sales.status", s_status);
		NAME("sales.total", s_total);
		VALUE("sales.pending", pending);
		VALUE("sales.paid", paid);
		VALUE("sales.cancelled", cancelled);
		NAME("stock.table", stock);
		NAME("stock.type", m_type);
		NAME("stock.sale", m_sale);
		NAME("stock.quantity", m_qty);
		VALUE("stock.consume", consume);
		VALUE("stock.refund_in", refund_in);
		NAME("refunds.table", refunds);
		NAME("refunds.sale", r_sale);
		NAME("refunds.amount", r_amount);
		NAME("refunds.type", r_type);
		NAME("refunds.key", r_key);
		NAME("leads.table", leads);
		NAME("leads.email", l_email);
		NAME("leads.ip", l_ip);
		else if (strcmp(k, "refunds.key_format") == 0 && strcmp(v, "uuid") == 0)
			map.uuid_keys = true;
		else if (strcmp(k, "refunds.key_format") == 0 && strcmp(v, "text") == 0)
			map.uuid_keys = false;
		else
		{
			fprintf(stderr, "c5load: %s:%d: unknown key \"%s\"\n", path, lineno, k);
			exit(2);
		}
#undef NAME
#undef VALUE
	}
	fclose(f);
	/* insufficient stock needs the reference schema's FEFO stock */
	weight[OP_PAY_INSUFFICIENT] = 0;
}

/* A unique idempotency key, as text or as a UUID. */
static void
make_key(char *out, size_t len, int client, long n)
{
	if (map.uuid_keys)
		snprintf(out, len, "%08x-%04x-4000-8000-%012lx", seed, client & 0xffff, (unsigned long) n);
	else
		snprintf(out, len, "c5load-%u-%d-%ld", seed, client, n);
}

/* ---- helpers ---- */

static unsigned int
rnd(Client *c)
{
	return (unsigned int) rand_r(&c->rng);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
count(Client *c, int slot)
{
	c->truth.slot[slot]++;
}

static void
countn(Client *c, int slot, int n)
{
	c->truth.slot[slot] += n;
}

static void
flow(Client *c, int f, int r)
{
	c->truth.slot[S_FLOW + f * NR + r]++;
}

/* The result a rollback with this SQLSTATE counts as; NULL: a plain ROLLBACK. */
static int
classify(const char *sqlstate)
{
	if (sqlstate == NULL)
		return R_FAILURE;
	if (strncmp(sqlstate, "23", 2) == 0 || strncmp(sqlstate, "P0", 2) == 0 ||
		strcmp(sqlstate, "53M01") == 0 ||
		strcmp(sqlstate, "C5M01") == 0 || strcmp(sqlstate, "C5M02") == 0)
		return R_REJECTED;
	return R_FAILURE;
}

/*
 * Run one statement.  Returns NULL on success, else the SQLSTATE (static
 * string "lost" when the connection is gone).  *detail gets the error's
 * detail when asked.
 */
static const char *
run(Client *c, PGconn *conn, const char *sql, char *detail, size_t dlen)
{
	static __thread char state[8];
	PGresult   *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
	{
		PQclear(res);
		return NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK || PQresultErrorField(res, PG_DIAG_SQLSTATE) == NULL)
	{
		PQclear(res);
		return "lost";
	}
	snprintf(state, sizeof(state), "%s", PQresultErrorField(res, PG_DIAG_SQLSTATE));
	if (detail != NULL)
		snprintf(detail, dlen, "%s",
				 PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : "");
	PQclear(res);
	return state;
}

/* Run a statement that must succeed (setup of an operation); false if not. */
static bool must(Client *c, PGconn *conn, const char *fmt, ...)
			__attribute__((format(printf, 3, 4)));

static bool
must(Client *c, PGconn *conn, const char *fmt, ...)
{
	char		sql[1024];
	va_list		ap;
	const char *err;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	err = run(c, conn, sql, NULL, 0);
	if (err != NULL)
	{
		if (strcmp(err, "lost") != 0)
			fprintf(stderr, "c5load: client %d: setup statement failed (%s): %s\n", c->id, err, sql);
		return false;
	}
	return true;
}

/* A value returned by a one-row, one-column query, or -1. */
static long query_long(PGconn *conn, const char *fmt, ...)
			__attribute__((format(printf, 2, 3)));

static long
query_long(PGconn *conn, const char *fmt, ...)
{
	char		sql[1024];
	va_list		ap;
	PGresult   *res;
	long		v = -1;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		v = atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

/* A new sale: pending with one item of the product, or paid with no item. */
static long
new_sale(Client *c, int product, bool paid)
{
	long		id = query_long(c->conn,
								"INSERT INTO %s (%s, %s) VALUES (100, '%s') RETURNING %s",
								map.sales, map.s_total, map.s_status,
								paid ? map.paid : map.pending, map.s_id);

	if (id > 0 && !paid && map.reference &&
		!must(c, c->conn, "INSERT INTO %s.sale_items (sale_id, product_id, quantity, unit_price) "
			  "VALUES (%ld, %d, 1, 100)", schema, id, product))
		return -1;
	return id;
}

/* ---- the operations ---- */

/*
 * The statement that pays a sale: the reference schema's pay_sale()
 * (transition, then FEFO consumption); on mapped tables, the transition and
 * one consume movement.
 */
static void
pay_sql(char *sql, size_t len, long id)
{
	if (map.reference)
		snprintf(sql, len, "SELECT %s.pay_sale(%ld)", schema, id);
	else
		snprintf(sql, len, "UPDATE %s SET %s = '%s' WHERE %s = %ld; "
				 "INSERT INTO %s (%s, %s, %s) VALUES ('%s', %ld, 1)",
				 map.sales, map.s_status, map.paid, map.s_id, id,
				 map.stock, map.m_type, map.m_sale, map.m_qty, map.consume, id);
}

/* Count a pay_sale of product 1 (in stock) or 2 (none) that ended with result r. */
static void
count_pay(Client *c, int product, int r)
{
	count(c, S_PAID + r);
	count(c, S_CONSUME + r);
	flow(c, F_SALES, r);
	/* product 2 has no stock at all: no movement was ever inserted */
	if (product == 1)
		flow(c, F_STOCK, r);
}

static bool
op_pay(Client *c, int product)
{
	long		id = new_sale(c, product, false);
	char		sql[1024];
	const char *err;

	if (id < 0)
		return false;
	pay_sql(sql, sizeof(sql), id);
	err = run(c, c->conn, sql, NULL, 0);
	if (err && strcmp(err, "lost") == 0)
		return false;
	if (err == NULL)
		count_pay(c, product, R_SUCCESS);
	else
	{
		c->truth.errors++;
		count_pay(c, product, classify(err));
	}
	return true;
}

static bool
op_pay_rollback(Client *c)
{
	long		id = new_sale(c, 1, false);
	char		sql[1024];

	pay_sql(sql, sizeof(sql), id);
	if (id < 0 || !must(c, c->conn, "BEGIN") ||
		!must(c, c->conn, "%s", sql) ||
		!must(c, c->conn, "ROLLBACK"))
		return false;
	count_pay(c, 1, R_FAILURE);
	return true;
}

/* A savepoint rolled back without an error, then a payment that commits. */
static bool
op_pay_savepoint(Client *c)
{
	long		a = new_sale(c, 1, false);
	long		b = new_sale(c, 1, false);
	char		sqla[1024],
				sqlb[1024];

	pay_sql(sqla, sizeof(sqla), a);
	pay_sql(sqlb, sizeof(sqlb), b);
	if (a < 0 || b < 0 || !must(c, c->conn, "BEGIN") ||
		!must(c, c->conn, "SAVEPOINT s") ||
		!must(c, c->conn, "%s", sqla) ||
		!must(c, c->conn, "ROLLBACK TO SAVEPOINT s") ||
		!must(c, c->conn, "%s", sqlb) ||
		!must(c, c->conn, "COMMIT"))
		return false;
	count_pay(c, 1, R_FAILURE);
	count_pay(c, 1, R_SUCCESS);
	return true;
}

/*
 * A serialization failure, staged on the client's two connections: the
 * repeatable-read transaction's update of a sale changed since its
 * snapshot fails while locking the row, before any row trigger: the sales
 * flow counts it, no transition does.
 */
static bool
op_serialization(Client *c)
{
	long		id = new_sale(c, 1, false);
	const char *err;
	char		sql[256];

	if (id < 0 || !must(c, c->aux, "BEGIN ISOLATION LEVEL REPEATABLE READ") ||
		!must(c, c->aux, "SELECT %s FROM %s WHERE %s = %ld", map.s_status, map.sales, map.s_id, id) ||
		!must(c, c->conn, "UPDATE %s SET %s = '%s' WHERE %s = %ld",
			  map.sales, map.s_status, map.cancelled, map.s_id, id))
		return false;
	count(c, S_CANCELLED + R_SUCCESS);
	flow(c, F_SALES, R_SUCCESS);
	snprintf(sql, sizeof(sql), "UPDATE %s SET %s = '%s' WHERE %s = %ld",
			 map.sales, map.s_status, map.paid, map.s_id, id);
	err = run(c, c->aux, sql, NULL, 0);
	if (err && strcmp(err, "lost") == 0)
		return false;
	if (err == NULL)
	{
		/* cannot happen under REPEATABLE READ; count what did */
		count(c, S_PAID + R_FAILURE);
		count(c, S_CONSUME + R_FAILURE);
		flow(c, F_SALES, R_FAILURE);
	}
	else
	{
		c->truth.errors++;
		flow(c, F_SALES, classify(err));
	}
	return must(c, c->aux, "ROLLBACK");
}

/* A lock timeout: the sale is locked by the client's other connection. */
static bool
op_lock_timeout(Client *c)
{
	long		id = new_sale(c, 1, false);
	const char *err;
	char		sql[256];

	if (id < 0 || !must(c, c->aux, "BEGIN") ||
		!must(c, c->aux, "SELECT 1 FROM %s WHERE %s = %ld FOR UPDATE", map.sales, map.s_id, id) ||
		!must(c, c->conn, "SET lock_timeout = '20ms'"))
		return false;
	snprintf(sql, sizeof(sql), "UPDATE %s SET %s = '%s' WHERE %s = %ld",
			 map.sales, map.s_status, map.paid, map.s_id, id);
	err = run(c, c->conn, sql, NULL, 0);
	if (err && strcmp(err, "lost") == 0)
		return false;
	if (err == NULL)
	{
		/* the lock is held: cannot happen; count what it would mean */
		count(c, S_PAID + R_SUCCESS);
		count(c, S_CONSUME + NR);
		flow(c, F_SALES, R_SUCCESS);
	}
	else
	{
		c->truth.errors++;
		flow(c, F_SALES, classify(err));
	}
	return must(c, c->conn, "RESET lock_timeout") && must(c, c->aux, "ROLLBACK");
}

/* Insert a refund; count it by its outcome. */
static bool
refund(Client *c, long sale, int amount, bool full, const char *key, bool on_conflict)
{
	char		sql[512];
	const char *err;
	int			base = full ? S_REFUND_FULL : S_REFUND_PARTIAL;

	snprintf(sql, sizeof(sql),
			 "INSERT INTO %s (%s, %s, %s, %s) VALUES (%ld, %d, '%s', '%s')%s",
			 map.refunds, map.r_sale, map.r_amount, map.r_type, map.r_key,
			 sale, amount, full ? "full" : "partial", key,
			 on_conflict ? " ON CONFLICT DO NOTHING" : "");
	err = run(c, c->conn, sql, NULL, 0);
	if (err && strcmp(err, "lost") == 0)
		return false;
	if (err == NULL)
	{
		if (on_conflict)
			count(c, S_CONFLICT);
		else
			count(c, base + R_SUCCESS);
		flow(c, F_REFUNDS, R_SUCCESS);
		return true;
	}
	c->truth.errors++;
	count(c, base + classify(err));
	flow(c, F_REFUNDS, classify(err));
	/* the guard's SQLSTATE; C5M01 with c5metrics.legacy_sqlstates */
	if (strcmp(err, "23M01") == 0 || strcmp(err, "C5M01") == 0)
	{
		count(c, S_OVER_REFUND);
		count(c, S_RB_OVER);
	}
	else if (strcmp(err, "23505") == 0)
	{
		count(c, S_CONFLICT);
		count(c, S_RB_IDEMPOTENCY);
	}
	return true;
}

static bool
op_refund(Client *c, Op op)
{
	long		sale = new_sale(c, 1, true);
	char		key[64];

	if (sale < 0)
		return false;
	make_key(key, sizeof(key), c->id, c->serial++);
	switch (op)
	{
		case OP_REFUND:
			return refund(c, sale, 10 + rnd(c) % 40, false, key, false);
		case OP_REFUND_FULL:
			return refund(c, sale, 100, true, key, false);
		case OP_REFUND_OVER:
			/* 60 of 100, then 60 more: over the remainder */
			if (!refund(c, sale, 60, false, key, false))
				return false;
			make_key(key, sizeof(key), c->id, c->serial++);
			return refund(c, sale, 60, false, key, false);
		case OP_REFUND_DUP:
		case OP_REFUND_DUP_ON_CONFLICT:
			return refund(c, sale, 10, false, key, false) &&
				refund(c, sale, 10, false, key, op == OP_REFUND_DUP_ON_CONFLICT);
		default:
			return false;
	}
}

/*
 * Refund-in movements, checked at commit.  Consistent: one unit consumed,
 * refunded, put back.  Mismatched: put back with no refund, or more than
 * was consumed.
 */
static bool
op_refund_in(Client *c, bool mismatch)
{
	long		sale = new_sale(c, 1, true);
	bool		with_refund = !mismatch || rnd(c) % 2 == 0;
	int			qty = mismatch && with_refund ? 3 : 1;
	char		key[64];

	if (sale < 0)
		return false;
	make_key(key, sizeof(key), c->id, c->serial++);
	if (!must(c, c->conn, "BEGIN") ||
		!must(c, c->conn, "INSERT INTO %s (%s, %s, %s%s) VALUES ('%s', %ld, 1%s)",
			  map.stock, map.m_type, map.m_sale, map.m_qty, map.m_extra_cols,
			  map.consume, sale, map.m_extra_vals) ||
		(with_refund &&
		 !must(c, c->conn, "INSERT INTO %s (%s, %s, %s, %s) VALUES (%ld, 10, 'partial', '%s')",
			   map.refunds, map.r_sale, map.r_amount, map.r_type, map.r_key, sale, key)) ||
		!must(c, c->conn, "INSERT INTO %s (%s, %s, %s%s) VALUES ('%s', %ld, %d%s)",
			  map.stock, map.m_type, map.m_sale, map.m_qty, map.m_extra_cols,
			  map.refund_in, sale, qty, map.m_extra_vals) ||
		!must(c, c->conn, "COMMIT"))
		return false;
	count(c, S_REFUND_IN + R_SUCCESS);
	flow(c, F_STOCK, R_SUCCESS);
	if (with_refund)
	{
		count(c, S_REFUND_PARTIAL + R_SUCCESS);
		flow(c, F_REFUNDS, R_SUCCESS);
	}
	if (!with_refund)
		count(c, S_MISMATCH_NOREFUND);
	if (qty > 1)
		count(c, S_MISMATCH_OVER);
	return true;
}

/* ---- refunds that put stock back ---- */

/*
 * A shop's refund usually returns goods: in one transaction, the refund row
 * and a refund-in movement of the same sale.  On the reference schema that
 * is refund_sale(..., restock => true), which also puts the units back on
 * their lot and moves the sale to refunded or partially_refunded; on mapped
 * tables, the refund row and one refund-in movement of what was consumed.
 * The sales are paid first (pay_sale: one unit of product 1, one consume
 * movement), by a transaction of their own, as a shop's are.
 *
 * c5metrics checks each sale that got a refund-in movement when its
 * transaction commits: over_restock when more units were put back, in all,
 * than were consumed, no_refund when the sale has no refund row.  The
 * ground truth follows the same definitions on what the client did:
 * per sale, the units consumed, put back and the refund rows committed,
 * and per (sub)transaction what it added, counted by how it ended.  A
 * refund-in of a savepoint rolled back is never checked; one of a
 * savepoint released is checked with its transaction, once per sale.
 */
#define RS_SALES 5				/* sales one operation refunds, at most */

enum
{
	ST_PAID, ST_PARTIAL, ST_REFUNDED
};

/* A paid sale and what committed transactions did to it. */
typedef struct RsSale
{
	long		id;
	int			consumed;		/* units consumed when it was paid */
	int			put_back;		/* units put back */
	int			refunds;		/* refund rows */
	int			status;			/* ST_* */
} RsSale;

/* What one level, the transaction or its savepoint, did so far. */
typedef struct RsLevel
{
	int			attempts[2];	/* refund rows tried: partial, full */
	int			refund_in;		/* refund-in movements */
	int			trans[2];		/* paid -> partially_refunded, -> refunded */
	unsigned	flows;			/* 1 << F_* */
	int			put_back[RS_SALES];
	int			refunds[RS_SALES];
	int			status[RS_SALES];	/* ST_*, -1 where unchanged */
} RsLevel;

typedef struct Rs
{
	RsSale		sale[RS_SALES];
	int			nsales;
	RsLevel		top;
	RsLevel		sp;
	bool		in_sp;
	bool		implicit;		/* one simple query, no BEGIN: queued */
	char		queue[4096];
} Rs;

static void
rs_level_init(RsLevel *lv)
{
	int			i;

	memset(lv, 0, sizeof(*lv));
	for (i = 0; i < RS_SALES; i++)
		lv->status[i] = -1;
}

static RsLevel *
rs_level(Rs *rs)
{
	return rs->in_sp ? &rs->sp : &rs->top;
}

/*
 * Pay a new sale, in a transaction of its own, and add it to rs.  Returns
 * 1 when paid, 0 when the payment rolled back (counted: the operation ends
 * there), -1 when a setup step failed.
 */
static int
rs_pay(Client *c, Rs *rs)
{
	long		id = new_sale(c, 1, false);
	char		sql[1024];
	const char *err;

	if (id < 0)
		return -1;
	pay_sql(sql, sizeof(sql), id);
	err = run(c, c->conn, sql, NULL, 0);
	if (err && strcmp(err, "lost") == 0)
		return -1;
	if (err != NULL)
	{
		c->truth.errors++;
		count_pay(c, 1, classify(err));
		return 0;
	}
	count_pay(c, 1, R_SUCCESS);
	rs->sale[rs->nsales].id = id;
	rs->sale[rs->nsales].consumed = 1;
	rs->sale[rs->nsales].put_back = 0;
	rs->sale[rs->nsales].refunds = 0;
	rs->sale[rs->nsales].status = ST_PAID;
	rs->nsales++;
	return 1;
}

/* Pay n sales; as rs_pay. */
static int
rs_pay_n(Client *c, Rs *rs, int n)
{
	int			i,
				r = 1;

	rs->nsales = 0;
	for (i = 0; i < n && r == 1; i++)
		r = rs_pay(c, rs);
	return r;
}

static bool
rs_begin(Client *c, Rs *rs)
{
	rs_level_init(&rs->top);
	rs->in_sp = false;
	rs->implicit = false;
	return must(c, c->conn, "BEGIN");
}

/*
 * A transaction with no BEGIN: its statements are sent together by
 * rs_commit, as one query string -- an autocommit statement when there is
 * one.  The last statement's rows are then checked with no command ended
 * after them.
 */
static void
rs_begin_implicit(Rs *rs)
{
	rs_level_init(&rs->top);
	rs->in_sp = false;
	rs->implicit = true;
	rs->queue[0] = '\0';
}

/* Run a statement of the transaction, or queue it: NULL when done. */
static const char *
rs_run(Client *c, Rs *rs, const char *sql)
{
	size_t		len = strlen(rs->queue);

	if (!rs->implicit)
		return run(c, c->conn, sql, NULL, 0);
	if (len + strlen(sql) + 3 > sizeof(rs->queue))
		return "queue full";
	snprintf(rs->queue + len, sizeof(rs->queue) - len, "%s%s", len > 0 ? "; " : "", sql);
	return NULL;
}

static bool
rs_savepoint(Client *c, Rs *rs)
{
	rs_level_init(&rs->sp);
	rs->in_sp = true;
	return must(c, c->conn, "SAVEPOINT restock");
}

/* The sale's status as the open level sees it. */
static int
rs_status(Rs *rs, int i)
{
	if (rs->in_sp && rs->sp.status[i] >= 0)
		return rs->sp.status[i];
	if (rs->top.status[i] >= 0)
		return rs->top.status[i];
	return rs->sale[i].status;
}

static bool
is_guard(const char *err)
{
	return strcmp(err, "23M01") == 0 || strcmp(err, "C5M01") == 0;
}

/*
 * Refund sale i: a refund row of `amount` (full or partial) and, with
 * `restock`, the units it consumed put back -- on the reference schema
 * refund_sale(), which also sets the sale's status.  Without `restock`, the
 * refund row alone.  Returns 0 when done, 1 when the over-refund guard
 * refused the refund (*err: its SQLSTATE; the level must roll back), -1
 * on anything else.
 */
static int
rs_refund(Client *c, Rs *rs, int i, int amount, bool full, bool restock, const char **err)
{
	RsLevel    *lv = rs_level(rs);
	RsSale	   *s = &rs->sale[i];
	char		key[64];
	char		sql[1024];
	int			to = full ? ST_REFUNDED : ST_PARTIAL;

	make_key(key, sizeof(key), c->id, c->serial++);
	if (restock && map.reference)
		snprintf(sql, sizeof(sql), "SELECT %s.refund_sale(%ld, %d, '%s', '%s', true)",
				 schema, s->id, amount, full ? "full" : "partial", key);
	else
		snprintf(sql, sizeof(sql),
				 "INSERT INTO %s (%s, %s, %s, %s) VALUES (%ld, %d, '%s', '%s')",
				 map.refunds, map.r_sale, map.r_amount, map.r_type, map.r_key,
				 s->id, amount, full ? "full" : "partial", key);
	*err = rs_run(c, rs, sql);
	if (*err != NULL && strcmp(*err, "lost") == 0)
		return -1;
	/* the guard refuses the refund row, the first thing either statement does */
	lv->attempts[full]++;
	lv->flows |= 1 << F_REFUNDS;
	if (*err != NULL)
	{
		if (!is_guard(*err))
		{
			fprintf(stderr, "c5load: client %d: unexpected error %s: %s\n", c->id, *err, sql);
			return -1;
		}
		c->truth.errors++;
		count(c, S_OVER_REFUND);
		return 1;
	}
	lv->refunds[i]++;
	if (!restock)
		return 0;
	if (!map.reference)
	{
		snprintf(sql, sizeof(sql), "INSERT INTO %s (%s, %s, %s%s) VALUES ('%s', %ld, %d%s)",
				 map.stock, map.m_type, map.m_sale, map.m_qty, map.m_extra_cols,
				 map.refund_in, s->id, s->consumed, map.m_extra_vals);
		if (rs_run(c, rs, sql) != NULL)
		{
			fprintf(stderr, "c5load: client %d: could not put sale %ld back\n", c->id, s->id);
			return -1;
		}
	}
	/* one movement: the sale consumed from one lot */
	lv->refund_in++;
	lv->put_back[i] += s->consumed;
	lv->flows |= 1 << F_STOCK;
	if (map.reference)
	{
		/* refund_sale() updates the status: the sales flow, changed or not */
		lv->flows |= 1 << F_SALES;
		if (rs_status(rs, i) != to)
		{
			if (rs_status(rs, i) != ST_PAID)
			{
				fprintf(stderr, "c5load: client %d: no ground truth for this transition\n", c->id);
				return -1;
			}
			lv->trans[full]++;
			lv->status[i] = to;
		}
	}
	return 0;
}

/*
 * Put `units` of sale i back with no refund, as a warehouse booking a
 * return does: the lot's quantity and a refund-in movement.  false when
 * it failed.
 */
static bool
rs_put_back(Client *c, Rs *rs, int i, int units)
{
	RsLevel    *lv = rs_level(rs);
	long		id = rs->sale[i].id;
	char		update[512];
	char		insert[512];
	bool		ok;

	if (map.reference)
	{
		snprintf(update, sizeof(update),
				 "UPDATE %s.stock_lots SET quantity_on_hand = quantity_on_hand + %d "
				 "WHERE id = (SELECT lot_id FROM %s.stock_movements "
				 "WHERE sale_id = %ld AND movement_type = 'consume' ORDER BY id LIMIT 1)",
				 schema, units, schema, id);
		snprintf(insert, sizeof(insert),
				 "INSERT INTO %s.stock_movements (movement_type, product_id, lot_id, sale_id, quantity) "
				 "SELECT 'refund_in', product_id, lot_id, sale_id, %d FROM %s.stock_movements "
				 "WHERE sale_id = %ld AND movement_type = 'consume' ORDER BY id LIMIT 1 RETURNING 1",
				 schema, units, schema, id);
		/* one row put back: its consume movement was there (checked unless queued) */
		ok = rs_run(c, rs, update) == NULL &&
			(rs->implicit ? rs_run(c, rs, insert) == NULL : query_long(c->conn, "%s", insert) == 1);
	}
	else
	{
		snprintf(insert, sizeof(insert), "INSERT INTO %s (%s, %s, %s%s) VALUES ('%s', %ld, %d%s)",
				 map.stock, map.m_type, map.m_sale, map.m_qty, map.m_extra_cols,
				 map.refund_in, id, units, map.m_extra_vals);
		ok = rs_run(c, rs, insert) == NULL;
	}
	if (!ok)
	{
		fprintf(stderr, "c5load: client %d: could not put sale %ld back\n", c->id, id);
		return false;
	}
	lv->refund_in++;
	lv->put_back[i] += units;
	lv->flows |= 1 << F_STOCK;
	return true;
}

/* Count a level that rolled back with SQLSTATE err (NULL: no error). */
static void
rs_count_rollback(Client *c, const RsLevel *lv, const char *err)
{
	int			r = classify(err);
	int			f;

	countn(c, S_REFUND_PARTIAL + r, lv->attempts[0]);
	countn(c, S_REFUND_FULL + r, lv->attempts[1]);
	if (lv->attempts[0] + lv->attempts[1] > 0)
	{
		if (err == NULL)
			countn(c, S_RB_ROLLBACK, lv->attempts[0] + lv->attempts[1]);
		else if (is_guard(err))
			countn(c, S_RB_OVER, lv->attempts[0] + lv->attempts[1]);
	}
	countn(c, S_REFUND_IN + r, lv->refund_in);
	countn(c, S_TO_PARTIAL + r, lv->trans[0]);
	countn(c, S_TO_REFUNDED + r, lv->trans[1]);
	for (f = 0; f < NF; f++)
		if (lv->flows & (1u << f))
			flow(c, f, r);
}

/*
 * ROLLBACK TO SAVEPOINT, after an error (err) or none (NULL).  The
 * savepoint stays: what follows is a new subtransaction of its own.
 */
static bool
rs_rollback_to(Client *c, Rs *rs, const char *err)
{
	if (!must(c, c->conn, "ROLLBACK TO SAVEPOINT restock"))
		return false;
	rs_count_rollback(c, &rs->sp, err);
	rs_level_init(&rs->sp);
	return true;
}

/* What the savepoint did becomes the transaction's. */
static void
rs_merge(Rs *rs)
{
	int			i;

	rs->top.attempts[0] += rs->sp.attempts[0];
	rs->top.attempts[1] += rs->sp.attempts[1];
	rs->top.refund_in += rs->sp.refund_in;
	rs->top.trans[0] += rs->sp.trans[0];
	rs->top.trans[1] += rs->sp.trans[1];
	rs->top.flows |= rs->sp.flows;
	for (i = 0; i < RS_SALES; i++)
	{
		rs->top.put_back[i] += rs->sp.put_back[i];
		rs->top.refunds[i] += rs->sp.refunds[i];
		if (rs->sp.status[i] >= 0)
			rs->top.status[i] = rs->sp.status[i];
	}
	rs->in_sp = false;
}

static bool
rs_release(Client *c, Rs *rs)
{
	if (!must(c, c->conn, "RELEASE SAVEPOINT restock"))
		return false;
	rs_merge(rs);
	return true;
}

/*
 * ROLLBACK: a savepoint still open is a subtransaction rolled back of its
 * own (err is only ever the transaction's, never raised in one).
 */
static bool
rs_rollback(Client *c, Rs *rs, const char *err)
{
	if (!must(c, c->conn, "ROLLBACK"))
		return false;
	if (rs->in_sp)
		rs_count_rollback(c, &rs->sp, NULL);
	rs->in_sp = false;
	rs_count_rollback(c, &rs->top, err);
	return true;
}

/* COMMIT, and the refund-in check of each sale it put units back for. */
static bool
rs_commit(Client *c, Rs *rs)
{
	RsLevel    *lv = &rs->top;
	int			i,
				f;

	if (rs->implicit)
	{
		const char *err = run(c, c->conn, rs->queue, NULL, 0);

		rs->implicit = false;
		if (err != NULL)
		{
			if (strcmp(err, "lost") != 0)
				fprintf(stderr, "c5load: client %d: unexpected error %s: %s\n", c->id, err, rs->queue);
			return false;
		}
	}
	else if (!must(c, c->conn, "COMMIT"))
		return false;
	if (rs->in_sp)
		rs_merge(rs);			/* a savepoint still open commits with it */
	countn(c, S_REFUND_PARTIAL + R_SUCCESS, lv->attempts[0]);
	countn(c, S_REFUND_FULL + R_SUCCESS, lv->attempts[1]);
	countn(c, S_REFUND_IN + R_SUCCESS, lv->refund_in);
	countn(c, S_TO_PARTIAL + R_SUCCESS, lv->trans[0]);
	countn(c, S_TO_REFUNDED + R_SUCCESS, lv->trans[1]);
	for (f = 0; f < NF; f++)
		if (lv->flows & (1u << f))
			flow(c, f, R_SUCCESS);
	for (i = 0; i < rs->nsales; i++)
	{
		RsSale	   *s = &rs->sale[i];

		s->refunds += lv->refunds[i];
		if (lv->status[i] >= 0)
			s->status = lv->status[i];
		if (lv->put_back[i] == 0)
			continue;
		s->put_back += lv->put_back[i];
		if (s->put_back > s->consumed)
			count(c, S_MISMATCH_OVER);
		if (s->refunds == 0)
			count(c, S_MISMATCH_NOREFUND);
	}
	return true;
}

/* A refund that may be refused: roll the level back if it was. */
#define RS_REFUND(c, rs, i, amount, full, restock) \
	do { \
		const char *err_; \
		int			r_ = rs_refund(c, rs, i, amount, full, restock, &err_); \
		if (r_ < 0) \
			return false; \
		if (r_ > 0) \
			return (rs)->in_sp ? rs_rollback_to(c, rs, err_) && rs_commit(c, rs) : \
				rs_rollback(c, rs, err_); \
	} while (0)

/*
 * The consistent restocking refund, committed, in turn: partial, in
 * autocommit; full; the refund row in a savepoint released (a nested
 * atomic block), then the units put back; the refund committed first, the
 * units put back by a later transaction.
 */
static bool
op_restock(Client *c)
{
	Rs			rs;
	long		n = c->nth[OP_RESTOCK]++;
	int			paid = rs_pay_n(c, &rs, 1);

	if (paid <= 0)
		return paid == 0;
	if (n % 4 == 0)
		rs_begin_implicit(&rs);
	else if (!rs_begin(c, &rs))
		return false;
	switch (n % 4)
	{
		case 0:
		case 1:
			RS_REFUND(c, &rs, 0, n % 4 == 1 ? 100 : 40, n % 4 == 1, true);
			break;
		case 2:
			if (!rs_savepoint(c, &rs))
				return false;
			RS_REFUND(c, &rs, 0, 40, false, false);
			if (!rs_release(c, &rs) || !rs_put_back(c, &rs, 0, rs.sale[0].consumed))
				return false;
			break;
		default:
			RS_REFUND(c, &rs, 0, 100, true, false);
			if (!rs_commit(c, &rs) || !rs_begin(c, &rs) ||
				!rs_put_back(c, &rs, 0, rs.sale[0].consumed))
				return false;
			break;
	}
	return rs_commit(c, &rs);
}

/*
 * Restocking refunds that roll back, in turn: by ROLLBACK; by the
 * over-refund guard refusing a second refund of the transaction (rejected,
 * the first restock with it); in a savepoint rolled back inside a
 * transaction that commits.  Nothing is checked for any.
 */
static bool
op_restock_rollback(Client *c)
{
	Rs			rs;
	long		n = c->nth[OP_RESTOCK_ROLLBACK]++;
	int			paid = rs_pay_n(c, &rs, 1);

	if (paid <= 0)
		return paid == 0;
	if (!rs_begin(c, &rs))
		return false;
	switch (n % 3)
	{
		case 0:
			RS_REFUND(c, &rs, 0, 40, false, true);
			return rs_rollback(c, &rs, NULL);
		case 1:
			/* 60 and 60 of 100: the guard refuses the second */
			RS_REFUND(c, &rs, 0, 60, false, true);
			RS_REFUND(c, &rs, 0, 60, false, true);
			return rs_commit(c, &rs);
		default:
			if (!rs_savepoint(c, &rs))
				return false;
			RS_REFUND(c, &rs, 0, 100, true, true);
			return rs_rollback_to(c, &rs, NULL) && rs_commit(c, &rs);
	}
}

/*
 * More put back than was consumed, with a refund, in turn: a refund and a
 * second restock of the same sale in one transaction (one query string,
 * no BEGIN); a second restocking refund in a later transaction; the
 * second restock in a savepoint released.  One over_restock each.
 */
static bool
op_restock_over(Client *c)
{
	Rs			rs;
	long		n = c->nth[OP_RESTOCK_OVER]++;
	int			paid = rs_pay_n(c, &rs, 1);

	if (paid <= 0)
		return paid == 0;
	if (n % 3 == 0)
		rs_begin_implicit(&rs);
	else if (!rs_begin(c, &rs))
		return false;
	switch (n % 3)
	{
		case 0:
			RS_REFUND(c, &rs, 0, 100, true, true);
			if (!rs_put_back(c, &rs, 0, 1))
				return false;
			return rs_commit(c, &rs);
		case 1:
			RS_REFUND(c, &rs, 0, 30, false, true);
			if (!rs_commit(c, &rs) || !rs_begin(c, &rs))
				return false;
			RS_REFUND(c, &rs, 0, 30, false, true);
			return rs_commit(c, &rs);
		default:
			RS_REFUND(c, &rs, 0, 40, false, true);
			if (!rs_savepoint(c, &rs) || !rs_put_back(c, &rs, 0, 1))
				return false;
			return rs_release(c, &rs) && rs_commit(c, &rs);
	}
}

/*
 * Put back with no refund, in turn: no refund made; the refund rolled back
 * in a savepoint; the refund refused by the over-refund guard in a
 * savepoint; no refund and more put back than consumed (both mismatches).
 * The first and last with no BEGIN.
 */
static bool
op_restock_no_refund(Client *c)
{
	Rs			rs;
	long		n = c->nth[OP_RESTOCK_NO_REFUND]++;
	int			paid = rs_pay_n(c, &rs, 1);

	if (paid <= 0)
		return paid == 0;
	if (n % 4 == 0 || n % 4 == 3)
		rs_begin_implicit(&rs);
	else if (!rs_begin(c, &rs))
		return false;
	switch (n % 4)
	{
		case 1:
			if (!rs_savepoint(c, &rs))
				return false;
			RS_REFUND(c, &rs, 0, 40, false, false);
			if (!rs_rollback_to(c, &rs, NULL))
				return false;
			break;
		case 2:
			{
				const char *err;
				int			r;

				if (!rs_savepoint(c, &rs))
					return false;
				/* 150 of 100: refused */
				r = rs_refund(c, &rs, 0, 150, false, false, &err);
				if (r < 0 || !rs_rollback_to(c, &rs, r > 0 ? err : NULL))
					return false;
				break;
			}
		default:
			break;
	}
	return rs_put_back(c, &rs, 0, rs.sale[0].consumed + (n % 4 == 3 ? 1 : 0)) &&
		rs_commit(c, &rs);
}

/*
 * Five sales in one transaction, one in four rolled back: restocking
 * refunds (partial, full), one over_restock, one no_refund, one restock in
 * a savepoint rolled back.  Checked together at commit.
 */
static bool
op_restock_batch(Client *c)
{
	Rs			rs;
	long		n = c->nth[OP_RESTOCK_BATCH]++;
	int			paid = rs_pay_n(c, &rs, RS_SALES);

	if (paid <= 0)
		return paid == 0;
	if (!rs_begin(c, &rs) || !rs_put_back(c, &rs, 3, rs.sale[3].consumed))
		return false;
	RS_REFUND(c, &rs, 0, 40, false, true);
	if (!rs_savepoint(c, &rs))
		return false;
	RS_REFUND(c, &rs, 4, 100, true, true);
	if (!rs_rollback_to(c, &rs, NULL))
		return false;
	RS_REFUND(c, &rs, 1, 100, true, true);
	RS_REFUND(c, &rs, 2, 50, false, true);
	if (!rs_put_back(c, &rs, 2, 1))
		return false;
	return n % 4 == 3 ? rs_rollback(c, &rs, NULL) : rs_commit(c, &rs);
}

static bool
lead(Client *c, const char *email, const char *ip)
{
	char		sql[512];
	char		detail[256] = "";
	const char *err;

	snprintf(sql, sizeof(sql), "INSERT INTO %s (%s, %s) VALUES ('%s', '%s')",
			 map.leads, map.l_email, map.l_ip, email, ip);
	err = run(c, c->conn, sql, detail, sizeof(detail));
	if (err && strcmp(err, "lost") == 0)
		return false;
	if (err == NULL)
	{
		count(c, S_LEAD_CREATED);
		flow(c, F_LEADS, R_SUCCESS);
		return true;
	}
	c->truth.errors++;
	flow(c, F_LEADS, classify(err));
	if (strcmp(err, "53M01") == 0 || strcmp(err, "C5M02") == 0)
	{
		count(c, S_LEAD_THROTTLED);
		count(c, S_429);
		if (strstr(detail, "source address"))
			count(c, S_THROTTLED_IP);
		else if (strstr(detail, "email"))
			count(c, S_THROTTLED_EMAIL);
		else
			count(c, S_THROTTLED_GLOBAL);
	}
	else
		count(c, classify(err) == R_REJECTED ? S_LEAD_REJECTED : S_LEAD_FAILURE);
	return true;
}

static bool
op_lead(Client *c, Op op)
{
	char		email[128];
	char		ip[64];
	long		n = c->serial++;
	int			i;

	/* 198.18.0.0/15, the benchmarking range: an address per client and lead */
	snprintf(ip, sizeof(ip), "198.%d.%ld.%ld", 18 + (c->id & 1), (n / 250) % 250, n % 250 + 1);
	snprintf(email, sizeof(email), "c5load-%u-%d-%ld@example.com", seed, c->id, n);
	if (op == OP_LEAD)
		return lead(c, email, ip);
	if (op == OP_LEAD_INVALID)
		return lead(c, "not-an-email", ip);
	/* a burst of 8 from one address: past the default 5 per minute */
	for (i = 0; i < 8; i++)
	{
		snprintf(email, sizeof(email), "c5load-%u-%d-%ld-%d@example.com", seed, c->id, n, i);
		if (!lead(c, email, ip))
			return false;
	}
	return true;
}

static bool
run_op(Client *c, Op op)
{
	switch (op)
	{
		case OP_PAY:
			return op_pay(c, 1);
		case OP_PAY_INSUFFICIENT:
			return op_pay(c, 2);
		case OP_PAY_ROLLBACK:
			return op_pay_rollback(c);
		case OP_PAY_SAVEPOINT:
			return op_pay_savepoint(c);
		case OP_SERIALIZATION:
			return op_serialization(c);
		case OP_LOCK_TIMEOUT:
			return op_lock_timeout(c);
		case OP_REFUND_IN:
			return op_refund_in(c, false);
		case OP_REFUND_IN_MISMATCH:
			return op_refund_in(c, true);
		case OP_RESTOCK:
			return op_restock(c);
		case OP_RESTOCK_ROLLBACK:
			return op_restock_rollback(c);
		case OP_RESTOCK_OVER:
			return op_restock_over(c);
		case OP_RESTOCK_NO_REFUND:
			return op_restock_no_refund(c);
		case OP_RESTOCK_BATCH:
			return op_restock_batch(c);
		case OP_LEAD:
		case OP_LEAD_INVALID:
		case OP_LEAD_BURST:
			return op_lead(c, op);
		default:
			return op_refund(c, op);
	}
}

/* ---- clients ---- */

static PGconn *
connect_db(Client *c)
{
	PGconn	   *conn = PQconnectdb(conninfo);

	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "c5load: client %d: %s", c->id, PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	PQclear(PQexec(conn, "SET client_min_messages = error"));
	if (throttle)
		PQclear(PQexec(conn, "SET c5metrics.lead_throttle = on"));
	return conn;
}

static bool
ensure_connected(Client *c)
{
	if (c->conn && PQstatus(c->conn) == CONNECTION_OK &&
		c->aux && PQstatus(c->aux) == CONNECTION_OK)
		return true;
	if (c->conn)
		PQfinish(c->conn);
	if (c->aux)
		PQfinish(c->aux);
	c->conn = connect_db(c);
	c->aux = c->conn ? connect_db(c) : NULL;
	return c->conn != NULL && c->aux != NULL;
}

static void *
client_main(void *arg)
{
	Client	   *c = arg;
	int			total = 0;
	int			i;

	for (i = 0; i < NOPS; i++)
		total += weight[i];

	while (!stop_now)
	{
		Op			op;
		int			pick;
		long		mine;

		pthread_mutex_lock(&counter_lock);
		mine = tx_started < total_tx || duration > 0 ? ++tx_started : -1;
		pthread_mutex_unlock(&counter_lock);
		if (mine < 0)
			break;

		pick = rnd(c) % total;
		for (op = 0; op < NOPS - 1 && pick >= weight[op]; op++)
			pick -= weight[op];

		if (!ensure_connected(c))
		{
			c->truth.lost++;
			sleep(1);
			continue;
		}
		if (run_op(c, op))
			c->truth.ops++;
		else if (PQstatus(c->conn) != CONNECTION_OK || PQstatus(c->aux) != CONNECTION_OK)
		{
			fprintf(stderr, "c5load: client %d lost its connection during %s\n", c->id, opname[op]);
			c->truth.lost++;
			c->truth.unknown++;
		}
		else
		{
			/* a setup step failed: leave no transaction open */
			PQclear(PQexec(c->conn, "ROLLBACK"));
			PQclear(PQexec(c->aux, "ROLLBACK"));
			c->truth.unknown++;
		}
	}
	if (c->conn)
		PQfinish(c->conn);
	if (c->aux)
		PQfinish(c->aux);
	return NULL;
}

/* ---- setup and output ---- */

static bool
init_schema(void)
{
	PGconn	   *conn = PQconnectdb(conninfo);
	char		sql[2048];
	PGresult   *res;
	bool		ok;

	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "c5load: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return false;
	}
	snprintf(sql, sizeof(sql),
			 "SET client_min_messages = warning;"
			 "CREATE EXTENSION IF NOT EXISTS c5metrics;"
			 "DO $$ BEGIN IF to_regnamespace('%s') IS NULL THEN "
			 "PERFORM c5metrics.create_reference_schema('%s'); END IF; END $$;"
			 "INSERT INTO %s.products (id, sku, name, price) VALUES "
			 "(1, 'C5LOAD-IN-STOCK', 'Night cream', 100), (2, 'C5LOAD-NO-STOCK', 'Serum', 100) "
			 "ON CONFLICT DO NOTHING;"
			 "INSERT INTO %s.stock_lots (product_id, expires_on, quantity_on_hand) "
			 "SELECT 1, current_date + 365, 1000000000 WHERE NOT EXISTS "
			 "(SELECT 1 FROM %s.stock_lots WHERE product_id = 1 AND quantity_on_hand > 1000000);",
			 schema, schema, schema, schema, schema);
	res = PQexec(conn, sql);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		fprintf(stderr, "c5load: --init failed: %s", PQerrorMessage(conn));
	PQclear(res);
	PQfinish(conn);
	return ok;
}

static void
write_json(FILE *f, const Truth *t, double secs)
{
	char		metric[64];
	char		labels[256];
	int			s;
	bool		first = true;

	fprintf(f, "{\n  \"seed\": %u,\n  \"clients\": %d,\n  \"schema\": \"%s\",\n"
			"  \"seconds\": %.3f,\n  \"operations\": %lld,\n  \"rolled_back\": %lld,\n"
			"  \"lost_connections\": %lld,\n  \"unknown_outcomes\": %lld,\n  \"series\": [",
			seed, nclients, schema, secs, (long long) t->ops, (long long) t->errors,
			(long long) t->lost, (long long) t->unknown);
	for (s = 0; s < NSLOTS; s++)
	{
		series_name(s, metric, sizeof(metric), labels, sizeof(labels));
		fprintf(f, "%s\n    {\"metric\": \"%s\", \"labels\": %s, \"value\": %lld}",
				first ? "" : ",", metric, labels, (long long) t->slot[s]);
		first = false;
	}
	fprintf(f, "\n  ]\n}\n");
}

int
main(int argc, char **argv)
{
	static struct option long_options[] = {
		{"dbname", required_argument, NULL, 'd'},
		{"schema", required_argument, NULL, 'S'},
		{"map", required_argument, NULL, 'M'},
		{"clients", required_argument, NULL, 'c'},
		{"transactions", required_argument, NULL, 't'},
		{"time", required_argument, NULL, 'T'},
		{"seed", required_argument, NULL, 's'},
		{"mix", required_argument, NULL, 'm'},
		{"json", required_argument, NULL, 'j'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{"init", no_argument, NULL, 1},
		{"throttle", no_argument, NULL, 2},
		{NULL, 0, NULL, 0}
	};
	Client	   *clients;
	Truth		sum;
	double		start,
				secs;
	int			opt,
				i,
				s;
	bool		tty = isatty(2);

	while ((opt = getopt_long(argc, argv, "d:S:M:c:t:T:s:m:j:qh", long_options, NULL)) != -1)
	{
		switch (opt)
		{
			case 'd':
				conninfo = optarg;
				break;
			case 'S':
				schema = optarg;
				if (strspn(schema, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(schema))
					die_usage("schema name \"%s\" must be lower-case letters, digits and _", schema);
				break;
			case 'M':
				map_path = optarg;
				break;
			case 'c':
				nclients = (int) parse_long(optarg, "clients", 1);
				break;
			case 't':
				total_tx = parse_long(optarg, "transactions", 0);
				break;
			case 'T':
				duration = (double) parse_long(optarg, "time", 1);
				break;
			case 's':
				seed = (unsigned int) parse_long(optarg, "seed", 0);
				break;
			case 'm':
				parse_mix(optarg);
				break;
			case 'j':
				json_path = optarg;
				break;
			case 'q':
				quiet = true;
				break;
			case 'h':
				usage(stdout);
				return 0;
			case 1:
				do_init = true;
				break;
			case 2:
				throttle = true;
				break;
			default:
				fprintf(stderr, "Try \"c5load --help\" for more information.\n");
				return 2;
		}
	}
	if (optind < argc)
		die_usage("unexpected argument \"%s\"", argv[optind]);
	if (map_path != NULL && do_init)
		die_usage("%s", "--init creates the reference schema; it does not go with --map");
	if (map_path != NULL)
		map_file(map_path);
	else
		map_reference();

	if (do_init && !init_schema())
		return 1;
	if (total_tx == 0 && duration == 0)
		return 0;
	for (i = 0, s = 0; i < NOPS; i++)
		s += weight[i];
	if (s == 0)
		die_usage("%s", "every operation weighs 0 in --mix");

	clients = calloc(nclients, sizeof(Client));
	start = now_s();
	for (i = 0; i < nclients; i++)
	{
		clients[i].id = i;
		clients[i].rng = seed * 7919u + (unsigned int) i;
		if (pthread_create(&clients[i].thread, NULL, client_main, &clients[i]) != 0)
		{
			fprintf(stderr, "c5load: could not start client %d\n", i);
			return 1;
		}
	}
	while (true)
	{
		long		done;

		usleep(200000);
		pthread_mutex_lock(&counter_lock);
		done = tx_started;
		pthread_mutex_unlock(&counter_lock);
		secs = now_s() - start;
		if (duration > 0 && secs >= duration)
			stop_now = true;
		if (tty && !quiet)
			fprintf(stderr, "\r  %6.1f s  %8ld operations  %7.0f ops/s", secs, done, done / secs);
		if (stop_now || (duration == 0 && done >= total_tx))
			break;
	}
	for (i = 0; i < nclients; i++)
		pthread_join(clients[i].thread, NULL);
	secs = now_s() - start;
	if (tty && !quiet)
		fprintf(stderr, "\n");

	memset(&sum, 0, sizeof(sum));
	for (i = 0; i < nclients; i++)
	{
		for (s = 0; s < NSLOTS; s++)
			sum.slot[s] += clients[i].truth.slot[s];
		sum.ops += clients[i].truth.ops;
		sum.errors += clients[i].truth.errors;
		sum.lost += clients[i].truth.lost;
		sum.unknown += clients[i].truth.unknown;
	}

	if (json_path != NULL)
	{
		FILE	   *f = strcmp(json_path, "-") == 0 ? stdout : fopen(json_path, "w");

		if (f == NULL)
		{
			fprintf(stderr, "c5load: could not write \"%s\": %s\n", json_path, strerror(errno));
			return 1;
		}
		write_json(f, &sum, secs);
		if (f != stdout)
			fclose(f);
	}
	if (!quiet)
		fprintf(json_path && strcmp(json_path, "-") == 0 ? stderr : stdout,
				"c5load: %lld operations in %.1f s (%.0f/s), %d clients, seed %u: "
				"%lld paid, %lld refunds, %lld refund-ins (%lld over_restock, %lld no_refund), "
				"%lld leads created, %lld throttled; "
				"%lld rolled back; %lld connections lost, %lld outcomes unknown\n",
				(long long) sum.ops, secs, sum.ops / secs, nclients, seed,
				(long long) sum.slot[S_PAID + R_SUCCESS],
				(long long) (sum.slot[S_REFUND_FULL] + sum.slot[S_REFUND_PARTIAL]),
				(long long) sum.slot[S_REFUND_IN], (long long) sum.slot[S_MISMATCH_OVER],
				(long long) sum.slot[S_MISMATCH_NOREFUND], (long long) sum.slot[S_LEAD_CREATED],
				(long long) sum.slot[S_LEAD_THROTTLED], (long long) sum.errors,
				(long long) sum.lost, (long long) sum.unknown);
	return (sum.unknown > 0 || sum.lost > 0) ? 1 : 0;
}
