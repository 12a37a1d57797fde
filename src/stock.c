/*-------------------------------------------------------------------------
 *
 * stock.c
 *		The stock flow: consumption, and the refund-in check.
 *
 * c5metrics_stock_trigger (BEFORE INSERT FOR EACH ROW on the movements
 * table) is the bulk path: one attribute fetch, one comparison, a few bits
 * set.  A consume movement marks its sale as consumed in the level --
 * exactly while the level has seen few, then in a bloom filter -- for the
 * sales flow to match its paid sales at commit (sales.c).  A refund-in
 * movement is counted (stock_refund_in_total) and its sale noted, once per
 * trigger and sale through an open-addressing index, for the refund-in
 * check before commit (refund_in.c): stock_refund_in_mismatch_total.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/trigger.h"
#include "utils/datum.h"
#include "utils/timestamp.h"

#include "capture.h"
#include "columns.h"
#include "refund_in.h"
#include "registry.h"
#include "stock.h"
#include "trigcache.h"

#define C5M_CONSUMED_EXACT	8		/* consumed sales kept exactly, then a filter */
#define C5M_BLOOM_WORDS		128		/* 8192-bit filter of consumed sales */

/* The stock flow's part of a level. */
typedef struct StockState
{
	uint64	   *consumed;		/* bloom filter of consumed sales, or NULL */
	int			nconsumed;		/* consumed sales in consumed_keys, until the filter */
	TimestampTz first_consume;	/* earliest consume movement, or 0 */
	int64		refund_in;
	int64		mismatch[C5_NMISMATCH];
	int			nchecks;
	int			maxchecks;
	C5Check    *checks;			/* refund-in sales to check at commit */
	int32	   *check_slots;	/* open-addressing index of checks: i + 1 */
	int			nslots;			/* a power of two, at least 2 * maxchecks */

	/* room for a few consumed sales, not zeroed for a new level */
	uint32		consumed_keys[C5M_CONSUMED_EXACT];
} StockState;

PG_FUNCTION_INFO_V1(c5metrics_stock_trigger);

/* ---- consumed sales ---- */

static inline void
bloom_bits(uint32 key, int *w1, uint64 *b1, int *w2, uint64 *b2)
{
	uint32		h2 = key * 0x9E3779B1u;

	*w1 = (key >> 6) % C5M_BLOOM_WORDS;
	*b1 = UINT64CONST(1) << (key & 63);
	*w2 = (h2 >> 6) % C5M_BLOOM_WORDS;
	*b2 = UINT64CONST(1) << ((h2 >> 26) & 63);
}

static inline void
bloom_add(uint64 *bloom, uint32 salekey)
{
	int			w1,
				w2;
	uint64		b1,
				b2;

	bloom_bits(salekey, &w1, &b1, &w2, &b2);
	bloom[w1] |= b1;
	bloom[w2] |= b2;
}

/*
 * Remember a consumed sale: exactly while the level has seen few, then in
 * a bloom filter that takes the exact ones along.
 */
static pg_attribute_hot void
add_consumed(StockState *st, uint32 salekey)
{
	int			i;

	if (st->consumed == NULL)
	{
		for (i = 0; i < st->nconsumed; i++)
			if (st->consumed_keys[i] == salekey)
				return;
		if (st->nconsumed < C5M_CONSUMED_EXACT)
		{
			st->consumed_keys[st->nconsumed++] = salekey;
			return;
		}
		st->consumed = c5m_capture_alloc(C5M_BLOOM_WORDS * sizeof(uint64));
		if (st->consumed == NULL)
		{
			c5m_count_lost(1);
			return;
		}
		for (i = 0; i < st->nconsumed; i++)
			bloom_add(st->consumed, st->consumed_keys[i]);
	}
	bloom_add(st->consumed, salekey);
}

static pg_attribute_hot bool
consumed_has(const StockState *st, uint32 salekey)
{
	int			w1,
				w2;
	uint64		b1,
				b2;
	int			i;

	if (st->consumed == NULL)
	{
		for (i = 0; i < st->nconsumed; i++)
			if (st->consumed_keys[i] == salekey)
				return true;
		return false;
	}
	bloom_bits(salekey, &w1, &b1, &w2, &b2);
	return (st->consumed[w1] & b1) != 0 && (st->consumed[w2] & b2) != 0;
}

/* Was `salekey` consumed in this level (sales.c, at commit)? */
pg_attribute_hot bool
c5m_stock_consumed(C5Level *lv, uint32 salekey)
{
	return consumed_has(c5m_flow_state(lv, C5_FLOW_STOCK), salekey);
}

/* The level's earliest consume movement, or 0. */
pg_attribute_hot TimestampTz
c5m_stock_first_consume(C5Level *lv)
{
	return ((StockState *) c5m_flow_state(lv, C5_FLOW_STOCK))->first_consume;
}

/* ---- sales to check ---- */

static inline uint32
check_hash(const C5Check *c)
{
	return c->salekey ^ (c->tgoid * 0x9E3779B1);
}

/*
 * (Re)build the index of a level's checks, sized for maxchecks: a bulk
 * refund-in of a million sales must not compare each with all the others.
 */
static bool
index_checks(StockState *st)
{
	int			nslots = 16;
	int32	   *slots;
	int			i;

	while (nslots < 2 * st->maxchecks)
		nslots *= 2;
	slots = c5m_capture_alloc(nslots * sizeof(int32));
	if (slots == NULL)
		return false;
	for (i = 0; i < st->nchecks; i++)
	{
		uint32		h = check_hash(&st->checks[i]) & (nslots - 1);

		while (slots[h] != 0)
			h = (h + 1) & (nslots - 1);
		slots[h] = i + 1;
	}
	if (st->check_slots != NULL)
		pfree(st->check_slots);
	st->check_slots = slots;
	st->nslots = nslots;
	return true;
}

/* Keep one sale to check at commit, once per trigger and sale. */
static void
add_check(StockState *st, const C5Check *c)
{
	uint32		h;
	int			grown = st->maxchecks;

	if (st->check_slots != NULL)
	{
		for (h = check_hash(c) & (st->nslots - 1); st->check_slots[h] != 0;
			 h = (h + 1) & (st->nslots - 1))
		{
			C5Check    *o = &st->checks[st->check_slots[h] - 1];

			if (o->salekey == c->salekey && o->tgoid == c->tgoid &&
				datum_image_eq(o->sale, c->sale, c->typbyval, c->typlen))
			{
				if (!c->typbyval)
					pfree(DatumGetPointer(c->sale));
				return;
			}
		}
	}
	if (!c5m_capture_grow((void **) &st->checks, &st->maxchecks, st->nchecks, sizeof(C5Check), NULL) ||
		((st->maxchecks != grown || st->check_slots == NULL) && !index_checks(st)))
	{
		if (!c->typbyval)
			pfree(DatumGetPointer(c->sale));
		c5m_count_lost(1);
		return;
	}
	st->checks[st->nchecks] = *c;
	for (h = check_hash(c) & (st->nslots - 1); st->check_slots[h] != 0;
		 h = (h + 1) & (st->nslots - 1))
		;
	st->check_slots[h] = ++st->nchecks;
}

/*
 * A refund-in movement of `sale` (NULL: none), seen by stock trigger
 * `tgoid`; the sale is checked for mismatches at commit.
 */
static void
note_refund_in(StockState *st, Oid tgoid, Oid relid, const C5Col *col, Datum sale, bool isnull)
{
	C5Check		c;

	st->refund_in++;
	if (isnull)
		return;
	c.tgoid = tgoid;
	c.relid = relid;
	c.salekey = c5m_sale_key(col, sale);
	c.saletype = col->typid;
	c.typlen = col->typlen;
	c.typbyval = col->typbyval;
	c.sale = sale;
	if (!col->typbyval)
	{
		Size		len = datumGetSize(sale, false, col->typlen);
		void	   *copy = c5m_capture_alloc(len);

		if (copy == NULL)
		{
			c5m_count_lost(1);
			return;
		}
		memcpy(copy, DatumGetPointer(sale), len);
		c.sale = PointerGetDatum(copy);
	}
	add_check(st, &c);
}

/*
 * Before commit (or PREPARE), with every subtransaction ended: check the
 * sales that got refund-in movements.  The check cannot fail the commit
 * (c5m_refund_in_check).
 */
static void
stock_pre_commit(C5Level *lv, void *p)
{
	StockState *st = p;
	int64		over = 0,
				norefund = 0;

	if (st->nchecks == 0)
		return;
	c5m_refund_in_check(st->checks, st->nchecks, &over, &norefund);
	st->mismatch[C5_MISMATCH_OVER_RESTOCK] += over;
	st->mismatch[C5_MISMATCH_NO_REFUND] += norefund;
	st->nchecks = 0;
}

/* ---- the level's state ---- */

static void
stock_release_checks(StockState *st)
{
	int			i;

	for (i = 0; i < st->nchecks; i++)
		if (!st->checks[i].typbyval)
			pfree(DatumGetPointer(st->checks[i].sale));
	if (st->checks != NULL)
		pfree(st->checks);
	if (st->check_slots != NULL)
		pfree(st->check_slots);
}

static void
stock_release(void *p)
{
	StockState *st = p;

	stock_release_checks(st);
	if (st->consumed != NULL)
		pfree(st->consumed);
}

static void
stock_merge(void *p, void *parent)
{
	StockState *st = p;
	StockState *ps = parent;
	int			i;

	ps->refund_in += st->refund_in;
	for (i = 0; i < C5_NMISMATCH; i++)
		ps->mismatch[i] += st->mismatch[i];
	if (st->first_consume != 0 &&
		(ps->first_consume == 0 || st->first_consume < ps->first_consume))
		ps->first_consume = st->first_consume;
	for (i = 0; i < st->nchecks; i++)
		add_check(ps, &st->checks[i]);	/* the copies change hands */
	st->nchecks = 0;
	if (st->consumed != NULL && ps->consumed == NULL)
	{
		/* the filter is handed over, not copied, and takes the parent's keys */
		for (i = 0; i < ps->nconsumed; i++)
			bloom_add(st->consumed, ps->consumed_keys[i]);
		ps->consumed = st->consumed;
		st->consumed = NULL;
	}
	else if (st->consumed != NULL)
		for (i = 0; i < C5M_BLOOM_WORDS; i++)
			ps->consumed[i] |= st->consumed[i];
	else
		for (i = 0; i < st->nconsumed; i++)
			add_consumed(ps, st->consumed_keys[i]);
}

/* ---- counting ---- */

static pg_attribute_hot void
stock_count_success(C5Level *lv, void *p, TimestampTz now, C5Sink *sink)
{
	StockState *st = p;
	const C5Layout *l = &c5m_shared->layout;
	int			i;

	c5m_sink_count(sink, l->base[C5_STORE_REFUND_IN] + C5_SUCCESS, st->refund_in);
	for (i = 0; i < C5_NMISMATCH; i++)
		c5m_sink_count(sink, l->base[C5_STORE_MISMATCH] + i, st->mismatch[i]);
}

static void
stock_count_rollback(C5Level *lv, void *p, const C5Outcome *o, C5Sink *sink)
{
	StockState *st = p;

	c5m_sink_count(sink, c5m_shared->layout.base[C5_STORE_REFUND_IN] + o->res, st->refund_in);
}

const C5FlowKind c5m_stock_flow = {
	.flow = C5_FLOW_STOCK,
	.state_size = sizeof(StockState),
	.clear_size = offsetof(StockState, consumed_keys),
	.merge = stock_merge,
	.release = stock_release,
	.pre_commit = stock_pre_commit,
	.count_success = stock_count_success,
	.count_rollback = stock_count_rollback,
};

/* ---- the trigger ---- */

/* type column, consume value, refund-in value, sale column */
static bool
stock_resolve(C5Trig *t, Relation rel, Trigger *tg, MemoryContext cxt)
{
	char	  **a = tg->tgargs;

	if (tg->tgnargs < 4)
		return false;
	c5m_resolve_col(rel, a[0], &t->c[0]);
	c5m_resolve_value(&t->c[0], a[1], &t->v[0], cxt);
	c5m_resolve_value(&t->c[0], a[2], &t->v[1], cxt);
	c5m_resolve_col(rel, a[3], &t->c[1]);
	return t->c[0].attnum > 0 && t->c[1].attnum > 0;
}

/*
 * stock movements: BEFORE INSERT FOR EACH ROW.  This is the bulk path:
 * one attribute fetch, one comparison, a few bits set.
 */
pg_attribute_hot Datum
c5metrics_stock_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	C5Trig	   *t;
	C5Level    *lv;
	StockState *st;
	Datum		type;
	bool		isnull;

	t = c5m_insert_trigger_begin(fcinfo, "c5metrics_stock_trigger", true, C5_FLOW_STOCK,
								 stock_resolve, &lv);
	if (t == NULL)
		return PointerGetDatum(td->tg_trigtuple);
	st = c5m_flow_state(lv, C5_FLOW_STOCK);
	c5m_note_flow(lv, C5_FLOW_STOCK);

	type = slot_getattr(td->tg_trigslot, t->c[0].attnum, &isnull);
	if (c5m_value_is(&t->c[0], type, isnull, &t->v[0]))
	{
		Datum		sale = slot_getattr(td->tg_trigslot, t->c[1].attnum, &isnull);

		if (st->first_consume == 0)
			st->first_consume = GetCurrentTimestamp();
		add_consumed(st, isnull ? 0 : c5m_sale_key(&t->c[1], sale));
	}
	else if (c5m_value_is(&t->c[0], type, isnull, &t->v[1]))
	{
		Datum		sale = slot_getattr(td->tg_trigslot, t->c[1].attnum, &isnull);

		note_refund_in(st, td->tg_trigger->tgoid, t->relid, &t->c[1], sale, isnull);
	}
	return PointerGetDatum(td->tg_trigtuple);
}
