/*-------------------------------------------------------------------------
 *
 * refunds.c
 *		The refunds flow: refunds by type, idempotency conflicts, and why
 *		a refund rolled back.
 *
 * c5metrics_refunds_trigger (BEFORE INSERT FOR EACH ROW) counts an attempt
 * by refund type and runs the opt-in over-refund guard (refund_guard.c)
 * when the table was attached with its sales table; the AFTER INSERT
 * trigger counts the rows really inserted, so that an attempt skipped by
 * ON CONFLICT DO NOTHING is an idempotency conflict.  A refund that rolls
 * back is counted with its reason, which depends on whether the error
 * named this table (a unique violation on it is an idempotency conflict).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/trigger.h"
#include "utils/timestamp.h"

#include "capture.h"
#include "columns.h"
#include "readable.h"
#include "refund_guard.h"
#include "refunds.h"
#include "registry.h"
#include "trigcache.h"

/* The refunds flow's part of a level. */
typedef struct RefundsState
{
	int64		attempts[C5_NREFUNDTYPES];
	int64		inserted[C5_NREFUNDTYPES];
	const char *rel;			/* tracked refunds table touched, or NULL */
	const char *nsp;			/* and its schema (trigcache.c keeps both) */
} RefundsState;

PG_FUNCTION_INFO_V1(c5metrics_refunds_trigger);
PG_FUNCTION_INFO_V1(c5metrics_refunds_after_trigger);

/* ---- the level's state ---- */

static void
refunds_merge(void *p, void *parent)
{
	RefundsState *st = p;
	RefundsState *ps = parent;
	int			i;

	for (i = 0; i < C5_NREFUNDTYPES; i++)
	{
		ps->attempts[i] += st->attempts[i];
		ps->inserted[i] += st->inserted[i];
	}
	if (st->rel != NULL)
	{
		ps->nsp = st->nsp;
		ps->rel = st->rel;
	}
}

/* ---- counting ---- */

static pg_attribute_hot void
refunds_count_success(C5Level *lv, void *p, TimestampTz now, C5Sink *sink)
{
	RefundsState *st = p;
	const C5Layout *l = &c5m_shared->layout;
	int64		refunds = 0;
	int64		conflicts = 0;
	int			i;

	for (i = 0; i < C5_NREFUNDTYPES; i++)
	{
		c5m_sink_count(sink, l->base[C5_STORE_REFUNDS] + i * C5_NRESULTS + C5_SUCCESS, st->inserted[i]);
		refunds += st->inserted[i];
		/* a BEFORE row that never became a row: ON CONFLICT DO NOTHING */
		if (st->attempts[i] > st->inserted[i])
			conflicts += st->attempts[i] - st->inserted[i];
	}
	c5m_sink_count(sink, l->base[C5_STORE_IDEMPOTENCY], conflicts);
	if (refunds > 0)
		c5m_observe(C5_HIST_REFUND, GetCurrentTransactionStartTimestamp(), now, refunds);
}

static void
refunds_count_rollback(C5Level *lv, void *p, const C5Outcome *o, C5Sink *sink)
{
	RefundsState *st = p;
	const C5Layout *l = &c5m_shared->layout;
	int64		attempts = 0;
	int			i;

	for (i = 0; i < C5_NREFUNDTYPES; i++)
	{
		c5m_sink_count(sink, l->base[C5_STORE_REFUNDS] + i * C5_NRESULTS + o->res, st->attempts[i]);
		attempts += st->attempts[i];
	}
	if (attempts > 0)
	{
		c5m_sink_count(sink, l->base[C5_STORE_REFUND_ROLLBACK] + o->reason, attempts);
		if (o->reason == C5_R_IDEMPOTENCY)
			c5m_sink_count(sink, l->base[C5_STORE_IDEMPOTENCY], 1);
	}
}

/* Did the error name the tracked refunds table this level inserted into? */
static bool
refunds_names_error(const void *p, const char *schema, const char *table)
{
	const RefundsState *st = p;

	return st->rel != NULL && table != NULL &&
		strcmp(st->rel, table) == 0 && strcmp(st->nsp, schema) == 0;
}

const C5FlowKind c5m_refunds_flow = {
	.flow = C5_FLOW_REFUNDS,
	.state_size = sizeof(RefundsState),
	.clear_size = sizeof(RefundsState),
	.merge = refunds_merge,
	.count_success = refunds_count_success,
	.count_rollback = refunds_count_rollback,
	.names_error = refunds_names_error,
};

/* ---- the triggers ---- */

/* sale, amount, type, key columns [, the guard's sales table and columns] */
static bool
refunds_resolve(C5Trig *t, Relation rel, Trigger *tg, MemoryContext cxt)
{
	int			i;

	/* the guard's sales table, resolved as refund_guard.c resolves it */
	if (tg->tgnargs >= 7 && !c5m_table_ref(tg->tgargs[4], &t->other_rel))
		t->other_rel = InvalidOid;
	if (tg->tgnargs < 4)
		return false;
	for (i = 0; i < 4; i++)
		c5m_resolve_col(rel, tg->tgargs[i], &t->c[i]);
	return t->c[2].attnum > 0;
}

/* Does s equal the lower-case ASCII letters lit, ignoring case? */
static inline bool
ascii_lower_eq(const char *s, const char *lit, int len)
{
	int			i;

	for (i = 0; i < len; i++)
		if ((s[i] | 0x20) != lit[i])
			return false;
	return true;
}

static pg_attribute_hot C5RefundType
refund_type(const C5Trig *t, TupleTableSlot *slot)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, t->c[2].attnum, &isnull);
	const char *s;
	int			len;
	char		buf[NAMEDATALEN];

	if (!c5m_col_text(&t->c[2], d, isnull, &s, &len, buf))
		return C5_REFUND_OTHER;
	if (len == 4 && ascii_lower_eq(s, "full", 4))
		return C5_REFUND_FULL;
	if (len == 7 && ascii_lower_eq(s, "partial", 7))
		return C5_REFUND_PARTIAL;
	return C5_REFUND_OTHER;
}

/*
 * refunds: BEFORE INSERT FOR EACH ROW.  Counts the attempt and runs the
 * over-refund guard when the table was attached with its sales table.
 */
pg_attribute_hot Datum
c5metrics_refunds_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	C5Trig	   *t;
	C5Level    *lv;
	RefundsState *st;

	t = c5m_insert_trigger_begin(fcinfo, "c5metrics_refunds_trigger", true,
								 C5_FLOW_REFUNDS, refunds_resolve, &lv);
	if (t == NULL)
		return PointerGetDatum(td->tg_trigtuple);

	st = c5m_flow_state(lv, C5_FLOW_REFUNDS);
	c5m_note_flow(lv, C5_FLOW_REFUNDS);
	st->attempts[refund_type(t, td->tg_trigslot)]++;
	/* the names outlive the transaction: trigcache.c frees after its end */
	st->nsp = t->nspname;
	st->rel = t->relname;
	if (td->tg_trigger->tgnargs >= 7)
	{
		/* the guard needs the sale and amount columns it was attached with */
		if (t->c[0].attnum > 0 && t->c[1].attnum > 0)
			c5m_refund_guard_check(t, td, lv);
		else
			c5m_refund_guard_unavailable(t, td, lv,
										 "Its sale or amount column does not exist.");
	}
	return PointerGetDatum(td->tg_trigtuple);
}

/* refunds: AFTER INSERT FOR EACH ROW.  The row was really inserted. */
pg_attribute_hot Datum
c5metrics_refunds_after_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	C5Trig	   *t;
	C5Level    *lv;
	RefundsState *st;

	t = c5m_insert_trigger_begin(fcinfo, "c5metrics_refunds_after_trigger", false,
								 C5_FLOW_REFUNDS, refunds_resolve, &lv);
	if (t == NULL)
		return PointerGetDatum(NULL);
	st = c5m_flow_state(lv, C5_FLOW_REFUNDS);
	st->inserted[refund_type(t, td->tg_trigslot)]++;
	return PointerGetDatum(NULL);
}
