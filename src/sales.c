/*-------------------------------------------------------------------------
 *
 * sales.c
 *		The sales flow: status transitions, and paid sales awaiting stock.
 *
 * c5metrics_sales_trigger (BEFORE UPDATE OF <status> FOR EACH ROW) notes
 * one transition per changed status -- sales_transition_total{from, to},
 * whose label values come from data, interned by labels.c -- and one paid
 * sale when the status reaches the paid value.  At commit a paid sale is
 * matched with the stock consumption of the same transaction (stock.c):
 * sales_paid_stock_consume_total{result} and the consume latency.  Paid
 * sales are kept one by one up to C5M_MAX_PAID_EXACT per level, then
 * aggregated.
 *
 * The sales table has no statement trigger (since 1.2): an ExecutorStart
 * hook marks statements that would fire its row trigger as sales-flow work,
 * so that a failure while locking a row still counts against the flow.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/sysattr.h"
#include "catalog/pg_language.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_trigger.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "capture.h"
#include "columns.h"
#include "labels.h"
#include "registry.h"
#include "sales.h"
#include "stock.h"
#include "trigcache.h"

#define C5M_MAX_PAID_EXACT	4096	/* paid sales matched one by one, per level */
#define C5M_INLINE			4		/* transitions and paid sales kept in the level */

typedef struct C5Trans
{
	int			idx;			/* counter index of the success series */
	uint32		gen;			/* dictionary generation idx was resolved in */
	int64		n;
} C5Trans;

typedef struct C5Paid
{
	uint32		salekey;		/* hash of the sale's id */
	TimestampTz at;				/* when the status became paid */
} C5Paid;

/* The sales flow's part of a level. */
typedef struct SalesState
{
	int			ntrans;
	int			maxtrans;
	C5Trans    *trans;
	int			npaid;
	int			maxpaid;
	C5Paid	   *paid;
	int64		paid_more;		/* paid sales past C5M_MAX_PAID_EXACT */
	TimestampTz paid_more_at;	/* earliest of them */

	/* room for a small transaction's events, not zeroed for a new level */
	C5Trans		trans_inline[C5M_INLINE];
	C5Paid		paid_inline[C5M_INLINE];
} SalesState;

PG_FUNCTION_INFO_V1(c5metrics_sales_trigger);
PG_FUNCTION_INFO_V1(c5metrics_sales_stmt_trigger);

/* Recently seen statuses: avoids the registry lock on every transition. */
#define STATUS_CACHE 16
static struct
{
	int			len;
	int			id;
	char		value[C5M_LABEL_LEN];
}			status_cache[STATUS_CACHE];
static int	status_cache_next = 0;
static uint32 status_cache_gen = 0;	/* dictionary generation of the ids */

/* ---- the level's state ---- */

static void
sales_init(void *p)
{
	SalesState *st = p;

	st->trans = st->trans_inline;
	st->maxtrans = C5M_INLINE;
	st->paid = st->paid_inline;
	st->maxpaid = C5M_INLINE;
}

static pg_attribute_hot void
add_transition(SalesState *st, int idx, uint32 gen, int64 n)
{
	int			i;

	for (i = 0; i < st->ntrans; i++)
		if (st->trans[i].idx == idx && st->trans[i].gen == gen)
		{
			st->trans[i].n += n;
			return;
		}
	if (!c5m_capture_grow((void **) &st->trans, &st->maxtrans, st->ntrans,
						  sizeof(C5Trans), st->trans_inline))
	{
		c5m_count_lost(1);
		return;
	}
	st->trans[st->ntrans].idx = idx;
	st->trans[st->ntrans].gen = gen;
	st->trans[st->ntrans].n = n;
	st->ntrans++;
}

static pg_attribute_hot void
add_paid(SalesState *st, uint32 salekey, TimestampTz at)
{
	if (st->npaid >= C5M_MAX_PAID_EXACT ||
		!c5m_capture_grow((void **) &st->paid, &st->maxpaid, st->npaid,
						  sizeof(C5Paid), st->paid_inline))
	{
		if (st->paid_more == 0 || at < st->paid_more_at)
			st->paid_more_at = at;
		st->paid_more++;
		return;
	}
	st->paid[st->npaid].salekey = salekey;
	st->paid[st->npaid].at = at;
	st->npaid++;
}

static void
sales_merge(void *p, void *parent)
{
	SalesState *st = p;
	SalesState *ps = parent;
	int			i;

	for (i = 0; i < st->ntrans; i++)
		add_transition(ps, st->trans[i].idx, st->trans[i].gen, st->trans[i].n);
	for (i = 0; i < st->npaid; i++)
		add_paid(ps, st->paid[i].salekey, st->paid[i].at);
	if (st->paid_more > 0)
	{
		if (ps->paid_more == 0 || st->paid_more_at < ps->paid_more_at)
			ps->paid_more_at = st->paid_more_at;
		ps->paid_more += st->paid_more;
	}
}

static void
sales_release(void *p)
{
	SalesState *st = p;

	if (st->trans != st->trans_inline)
		pfree(st->trans);
	if (st->paid != st->paid_inline)
		pfree(st->paid);
}

/* ---- counting ---- */

static pg_attribute_hot void
sales_count_success(C5Level *lv, void *p, TimestampTz now, C5Sink *sink)
{
	SalesState *st = p;
	const C5Layout *l = &c5m_shared->layout;
	TimestampTz first_consume = c5m_stock_first_consume(lv);
	int			i;

	if (st->ntrans > 0)
	{
		uint32		wgen = sink == NULL ? c5m_dyn_begin() : 0;

		for (i = 0; i < st->ntrans; i++)
			c5m_sink_count_dyn(sink, st->trans[i].idx + C5_SUCCESS, st->trans[i].gen,
							   wgen, st->trans[i].n);
		if (sink == NULL)
			c5m_dyn_end();
	}

	for (i = 0; i < st->npaid; i++)
	{
		C5Paid	   *paid = &st->paid[i];

		if (c5m_stock_consumed(lv, paid->salekey))
		{
			TimestampTz start = Min(paid->at, first_consume);

			c5m_sink_count(sink, l->base[C5_STORE_PAID_CONSUME] + C5_SUCCESS, 1);
			c5m_observe(C5_HIST_CONSUME, start, now, 1);
		}
		else
			c5m_sink_count(sink, l->base[C5_STORE_PAID_CONSUME] + C5_CONSUME_MISSING, 1);
	}
	if (st->paid_more > 0)
	{
		/* past the exact limit: matched with the level's consumption as a whole */
		if (first_consume != 0)
		{
			c5m_sink_count(sink, l->base[C5_STORE_PAID_CONSUME] + C5_SUCCESS, st->paid_more);
			c5m_observe(C5_HIST_CONSUME, Min(st->paid_more_at, first_consume),
						now, st->paid_more);
		}
		else
			c5m_sink_count(sink, l->base[C5_STORE_PAID_CONSUME] + C5_CONSUME_MISSING, st->paid_more);
	}
}

static void
sales_count_rollback(C5Level *lv, void *p, const C5Outcome *o, C5Sink *sink)
{
	SalesState *st = p;
	const C5Layout *l = &c5m_shared->layout;
	int			i;

	for (i = 0; i < st->ntrans; i++)
		c5m_sink_count_dyn(sink, st->trans[i].idx + o->res, st->trans[i].gen, o->wgen,
						   st->trans[i].n);
	c5m_sink_count(sink, l->base[C5_STORE_PAID_CONSUME] + o->res, st->npaid + st->paid_more);
}

static bool
sales_uses_dynamic(const void *p)
{
	return ((const SalesState *) p)->ntrans > 0;
}

const C5FlowKind c5m_sales_flow = {
	.flow = C5_FLOW_SALES,
	.state_size = sizeof(SalesState),
	.clear_size = offsetof(SalesState, trans_inline),
	.init = sales_init,
	.merge = sales_merge,
	.release = sales_release,
	.count_success = sales_count_success,
	.count_rollback = sales_count_rollback,
	.uses_dynamic = sales_uses_dynamic,
};

/* ---- the trigger ---- */

/* status column, paid value, id column, allowed statuses... */
static bool
sales_resolve(C5Trig *t, Relation rel, Trigger *tg, MemoryContext cxt)
{
	char	  **a = tg->tgargs;
	int			n = tg->tgnargs;
	int			i;

	if (n < 3)
		return false;
	c5m_resolve_col(rel, a[0], &t->c[0]);
	c5m_resolve_value(&t->c[0], a[1], &t->v[0], cxt);
	c5m_resolve_col(rel, a[2], &t->c[1]);
	t->nallowed = Min(n - 3, C5M_MAX_ALLOWED);
	for (i = 0; i < t->nallowed; i++)
		c5m_resolve_value(&t->c[0], a[3 + i], &t->allowed[i], cxt);
	return t->c[0].attnum > 0 && t->c[1].attnum > 0;
}

/*
 * Dictionary id of a status value in dictionary generation `gen`, through
 * the backend's small cache, and whether it is the paid value: the value
 * is read as text only once.
 */
static pg_attribute_hot int
status_of(const C5Trig *t, Datum d, bool isnull, bool *paid, uint32 gen)
{
	const char *s;
	int			len;
	char		buf[NAMEDATALEN];
	int			i;
	int			id;

	*paid = false;
	if (isnull)
		return C5_STATUS_NONE;
	if (t->c[0].kind == C5_COL_ENUM)
		*paid = DatumGetObjectId(d) == t->v[0].enumoid;
	if (!c5m_col_text(&t->c[0], d, false, &s, &len, buf))
		return C5_STATUS_OTHER;
	if (t->c[0].kind != C5_COL_ENUM)
		*paid = len == t->v[0].len && memcmp(s, t->v[0].text, len) == 0;

	if (t->nallowed > 0)
	{
		for (i = 0; i < t->nallowed; i++)
			if (t->allowed[i].len == len && memcmp(t->allowed[i].text, s, len) == 0)
				break;
		if (i == t->nallowed)
		{
			c5m_count(c5m_shared->layout.base[C5_STORE_LABEL_OVERFLOW] + C5_DYN_TRANSITION, 1);
			return C5_STATUS_OTHER;
		}
	}

	/* c5metrics.reset_labels() gave the ids away */
	if (unlikely(status_cache_gen != gen))
	{
		memset(status_cache, 0, sizeof(status_cache));
		status_cache_gen = gen;
	}
	for (i = 0; i < STATUS_CACHE; i++)
		if (status_cache[i].len == len && len > 0 &&
			memcmp(status_cache[i].value, s, len) == 0)
			return status_cache[i].id;

	id = c5m_status_id(s, len);
	/* only values that got their own series are worth caching */
	if (id != C5_STATUS_OTHER && len < C5M_LABEL_LEN)
	{
		i = status_cache_next++ % STATUS_CACHE;
		memcpy(status_cache[i].value, s, len);
		status_cache[i].len = len;
		status_cache[i].id = id;
	}
	return id;
}

/*
 * sales: BEFORE UPDATE OF <status> FOR EACH ROW.  A changed status is one
 * transition; reaching the paid value is one paid sale awaiting its stock
 * consumption.
 */
pg_attribute_hot Datum
c5metrics_sales_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	C5Trig	   *t;
	C5Level    *lv;
	SalesState *st;
	Datum		oldv,
				newv;
	bool		oldnull,
				newnull;
	bool		oldpaid,
				newpaid;
	int			from,
				to;
	uint32		gen;

	c5m_trigger_check(fcinfo, "c5metrics_sales_trigger", true, TRIGGER_EVENT_UPDATE);
	t = c5m_trig_get(td, C5_FLOW_SALES, sales_resolve);
	if (t == NULL)
		return PointerGetDatum(td->tg_newtuple);

	oldv = slot_getattr(td->tg_trigslot, t->c[0].attnum, &oldnull);
	newv = slot_getattr(td->tg_newslot, t->c[0].attnum, &newnull);
	if (oldnull == newnull &&
		(oldnull || datum_image_eq(oldv, newv, t->c[0].typbyval, t->c[0].typlen)))
		return PointerGetDatum(td->tg_newtuple);

	lv = c5m_level();
	if (lv == NULL)
		return PointerGetDatum(td->tg_newtuple);
	/* read before the lookups: ids they return are valid in it or later */
	gen = c5m_label_gen();
	from = status_of(t, oldv, oldnull, &oldpaid, gen);
	to = status_of(t, newv, newnull, &newpaid, gen);
	st = c5m_flow_state(lv, C5_FLOW_SALES);
	c5m_note_flow(lv, C5_FLOW_SALES);
	add_transition(st, c5m_transition_index(from, to, gen), gen, 1);

	if (newpaid && !oldpaid)
	{
		bool		idnull;
		Datum		id = slot_getattr(td->tg_newslot, t->c[1].attnum, &idnull);

		add_paid(st, idnull ? 0 : c5m_sale_key(&t->c[1], id), GetCurrentTimestamp());
	}
	return PointerGetDatum(td->tg_newtuple);
}

/*
 * sales: what the statement trigger of versions 1.0 and 1.1 did.  A row
 * trigger runs only once its row is locked, so an UPDATE that fails while
 * locking (a serialization failure, a lock timeout, a deadlock) never
 * reaches it.  Such a failure still counts against the sales flow
 * (flow_transactions_total, exceptions_total) because the statement is
 * marked as sales-flow work when the executor starts it: when one of its
 * result relations has c5metrics' sales row trigger, enabled, and the
 * statement updates one of the trigger's columns -- PostgreSQL's own rule
 * for firing BEFORE UPDATE OF triggers, which also covers MERGE's UPDATE
 * actions and INSERT ... ON CONFLICT DO UPDATE.  No transition is counted,
 * since no row changed.  Unlike a statement trigger, this costs no function
 * lookup and no trigger call per statement.
 */

/* Which trigger functions are c5metrics' sales row trigger, by OID. */
#define FN_MEMO 8
static struct
{
	Oid			foid;
	bool		sales;
}			fn_memo[FN_MEMO];
static int	fn_memo_next = 0;

/* A pg_proc invalidation (syscache callback, c5metrics.c): forget them. */
void
c5m_sales_forget_functions(Datum arg, int cacheid, uint32 hashvalue)
{
	memset(fn_memo, 0, sizeof(fn_memo));
}

/* Is foid a C function bound to c5metrics_sales_trigger in our library? */
static bool
is_sales_trigger_fn(Oid foid)
{
	HeapTuple	tup;
	bool		sales = false;
	int			i;

	for (i = 0; i < FN_MEMO; i++)
		if (fn_memo[i].foid == foid)
			return fn_memo[i].sales;

	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(foid));
	if (HeapTupleIsValid(tup))
	{
		if (((Form_pg_proc) GETSTRUCT(tup))->prolang == ClanguageId)
		{
			bool		srcnull,
						binnull;
			Datum		src = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_prosrc, &srcnull);
			Datum		bin = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_probin, &binnull);

			if (!srcnull && !binnull)
			{
				char	   *srcs = TextDatumGetCString(src);
				char	   *bins = TextDatumGetCString(bin);
				const char *base = last_dir_separator(bins);

				base = base ? base + 1 : bins;
				sales = strcmp(srcs, "c5metrics_sales_trigger") == 0 &&
					(strcmp(base, "c5metrics") == 0 ||
					 strcmp(base, "c5metrics" DLSUFFIX) == 0);
				pfree(srcs);
				pfree(bins);
			}
		}
		ReleaseSysCache(tup);
	}
	fn_memo[fn_memo_next].foid = foid;
	fn_memo[fn_memo_next].sales = sales;
	fn_memo_next = (fn_memo_next + 1) % FN_MEMO;
	return sales;
}

/* Would PostgreSQL fire this BEFORE UPDATE OF row trigger for the statement? */
static bool
sales_trigger_would_fire(Trigger *tg, ResultRelInfo *ri, EState *estate)
{
	Bitmapset  *cols,
			   *extra = NULL;
	int			i;

	if (!TRIGGER_FOR_ROW(tg->tgtype) || !TRIGGER_FOR_BEFORE(tg->tgtype) ||
		!TRIGGER_FOR_UPDATE(tg->tgtype))
		return false;
	if (tg->tgenabled == TRIGGER_DISABLED ||
		tg->tgenabled == (SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA ?
						  TRIGGER_FIRES_ON_ORIGIN : TRIGGER_FIRES_ON_REPLICA))
		return false;
	if (!is_sales_trigger_fn(tg->tgfoid))
		return false;
	if (tg->tgnattr == 0)
		return true;

	/* ExecGetAllUpdatedCols() without building the union */
	cols = ExecGetUpdatedCols(ri, estate);
	for (i = 0; i < tg->tgnattr; i++)
	{
		int			col = tg->tgattr[i] - FirstLowInvalidHeapAttributeNumber;

		if (bms_is_member(col, cols))
			return true;
		if (extra == NULL)
			extra = ExecGetExtraUpdatedCols(ri, estate);
		if (bms_is_member(col, extra))
			return true;
	}
	return false;
}

/*
 * After ExecutorStart (c5metrics.c): a statement that would fire a sales
 * row trigger is sales-flow work from now on, so that a failure while
 * locking a row still counts against the flow.
 */
pg_attribute_hot void
c5m_sales_executor_start(QueryDesc *queryDesc, int eflags)
{
	EState	   *estate;
	ListCell   *lc;
	C5Level    *lv;

	/* Statements that change no table, and EXPLAIN, end here. */
	if (queryDesc->plannedstmt->resultRelations == NIL ||
		(eflags & EXEC_FLAG_EXPLAIN_ONLY) || !c5m_registry_ready())
		return;

	estate = queryDesc->estate;
	foreach(lc, estate->es_opened_result_relations)
	{
		ResultRelInfo *ri = lfirst(lc);
		TriggerDesc *trigdesc = ri->ri_TrigDesc;
		int			i;

		if (trigdesc == NULL || !trigdesc->trig_update_before_row)
			continue;
		for (i = 0; i < trigdesc->numtriggers; i++)
		{
			if (sales_trigger_would_fire(&trigdesc->triggers[i], ri, estate))
			{
				if ((lv = c5m_level()) != NULL)
					c5m_note_flow(lv, C5_FLOW_SALES);
				return;
			}
		}
	}
}


/*
 * The statement trigger of versions 1.0 and 1.1, kept so that a database
 * not yet updated to 1.2 works with this library: it marks the same as
 * the hook above, which does no harm twice.
 */
Datum
c5metrics_sales_stmt_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	C5Level    *lv;

	if (!CALLED_AS_TRIGGER(fcinfo) || TRIGGER_FIRED_FOR_ROW(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"c5metrics_sales_stmt_trigger\" must be fired FOR EACH STATEMENT"),
				 errhint("Attach tables with the c5metrics.track_* functions.")));
	if (c5m_registry_ready() && (lv = c5m_level()) != NULL)
		c5m_note_flow(lv, C5_FLOW_SALES);
	return PointerGetDatum(NULL);
}
