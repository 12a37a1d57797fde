/*-------------------------------------------------------------------------
 *
 * capture.c
 *		The transaction buffer and the callbacks that turn it into counts.
 *
 * Design, after PostgreSQL's own table statistics (pgstat_relation.c):
 * triggers add to a backend-local buffer with one level per subtransaction
 * nesting depth.  The buffer aggregates -- per level, one counter per
 * series touched -- so a statement touching a million rows grows nothing
 * but a few integers (paid sales are kept one by one up to
 * C5M_MAX_PAID_EXACT per level to match them with their stock
 * consumption, then aggregated).
 *
 *	- subtransaction commit: the level merges into its parent;
 *	- subtransaction abort: the level is counted as rejected or failure and
 *	  dropped, so ROLLBACK TO SAVEPOINT reclassifies only what it undid;
 *	- top-level commit: counted as success;
 *	- top-level abort: counted as rejected or failure;
 *	- PREPARE TRANSACTION: both outcomes are parked until the transaction
 *	  is finished (twophase.c).
 *
 * Why an error rolled back is taken from emit_log_hook: the abort callbacks
 * run after the error was reported, and PostgreSQL offers them no way to
 * read it.  The hook keeps the SQLSTATE of the last error reported while
 * tracked work is pending, tagged with its subtransaction.  An error that
 * a PL/pgSQL EXCEPTION block traps is never reported, so such a rollback
 * counts as a plain rollback (reason "rollback", result "failure") --
 * except the guards' own errors, which the guards record in the level.
 * Classification itself is in sqlstate.c.
 *
 * Nothing in the commit and abort paths allocates or takes an LWLock: all
 * counter indexes were resolved by the triggers, and the only shared
 * operations are atomic adds and histogram spinlocks.  A transition's
 * index carries the generation of the status dictionary it was resolved
 * in, and is counted inside a window of dynamic series (registry.c) only
 * if the dictionary was not cleared since; else into (other, other).
 *
 * The functions on the path of every tracked row and commit, here and in
 * triggers.c, registry.c and labels.c, are marked pg_attribute_hot: the
 * compiler puts them side by side, so that the path runs through fewer
 * lines and pages of code that PostgreSQL's own work has pushed out of the
 * caches (worth about 0.3 % of the sale -> paid rate in interleaved
 * rounds).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "tcop/utility.h"
#include "utils/datum.h"
#include "utils/elog.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "capture.h"
#include "labels.h"
#include "refund_in.h"
#include "registry.h"
#include "sqlstate.h"
#include "triggers.h"

#define C5M_MAX_PAID_EXACT	4096	/* paid sales matched one by one, per level */
#define C5M_INLINE			4		/* transitions and paid sales kept in the level */
#define C5M_CONSUMED_EXACT	8		/* consumed sales kept exactly, then a filter */
#define C5M_BLOOM_WORDS		128		/* 8192-bit filter of consumed sales */

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

struct C5Level
{
	C5Level    *parent;			/* enclosing level, or NULL */
	int			nest_level;		/* subtransaction nesting depth */
	uint32		flows;			/* bit per C5Flow touched */
	int			guard_code;		/* SQLSTATE a guard raised here, or 0 */
	int64		refund_attempts[C5_NREFUNDTYPES];
	int64		refund_inserted[C5_NREFUNDTYPES];
	const char *refund_rel;		/* tracked refunds table touched, or NULL */
	const char *refund_nsp;		/* and its schema (triggers.c keeps both) */
	int64		refund_in;
	int64		leads;
	int64		mismatch[C5_NMISMATCH];
	int			ntrans;
	int			maxtrans;
	C5Trans    *trans;
	int			npaid;
	int			maxpaid;
	C5Paid	   *paid;
	int64		paid_more;		/* paid sales past C5M_MAX_PAID_EXACT */
	TimestampTz paid_more_at;	/* earliest of them */
	uint64	   *consumed;		/* bloom filter of consumed sales, or NULL */
	int			nconsumed;		/* consumed sales in consumed_keys, until the filter */
	TimestampTz first_consume;	/* earliest consume movement, or 0 */
	int			nchecks;
	int			maxchecks;
	C5Check    *checks;			/* refund-in sales to check at commit */
	int32	   *check_slots;	/* open-addressing index of checks: i + 1 */
	int			nslots;			/* a power of two, at least 2 * maxchecks */

	/*
	 * Room for a small transaction's events, so that it allocates nothing.
	 * Not zeroed when a level is set up.
	 */
	C5Trans		trans_inline[C5M_INLINE];
	C5Paid		paid_inline[C5M_INLINE];
	uint32		consumed_keys[C5M_CONSUMED_EXACT];
};

/* Local state */
static C5Level *cur_level = NULL;	/* innermost level */
static C5Level top_level;		/* the level of depth 1, reused by every transaction */
static bool stripe_picked = false;	/* c5m_registry_pick_stripe() done */

static struct
{
	bool		valid;
	SubTransactionId subid;		/* subtransaction that reported it */
	int			code;			/* SQLSTATE */
	char		schema[NAMEDATALEN];	/* schema of the table, if any */
	char		table[NAMEDATALEN]; /* table named by the error, if any */
} last_error;


/*
 * Histogram observations of the outcome being counted, and the range of
 * buckets they fell in: a transaction usually touches one bucket of each.
 */
static uint64 hist_delta[C5_NHISTS][C5M_MAX_BUCKETS + 1];
static uint64 hist_sum[C5_NHISTS];
static bool hist_touched[C5_NHISTS];
static int	hist_lo[C5_NHISTS];
static int	hist_hi[C5_NHISTS];

static bool error_on_refunds(const C5Level *lv, const char *table);

/* ---- the buffer, as the triggers see it ---- */

static void *
buffer_alloc(Size size)
{
	return MemoryContextAllocExtended(TopTransactionContext, size,
									  MCXT_ALLOC_ZERO | MCXT_ALLOC_NO_OOM);
}

/*
 * The level for the current nesting depth, created on first use: the
 * static top_level at depth 1, else in TopTransactionContext.  NULL only
 * when out of memory, which the caller counts as a lost event.
 */
pg_attribute_hot C5Level *
c5m_level(void)
{
	int			nest = GetCurrentTransactionNestLevel();
	C5Level    *lv;

	if (cur_level != NULL && cur_level->nest_level == nest)
		return cur_level;
	if (unlikely(!stripe_picked))
	{
		c5m_registry_pick_stripe();
		stripe_picked = true;
	}
	/* in a trigger, not a callback: it may take the registry lock */
	c5m_labels_pick_database();
	if (cur_level == NULL && nest == 1)
	{
		lv = &top_level;
		memset(lv, 0, offsetof(C5Level, trans_inline));
	}
	else if ((lv = buffer_alloc(sizeof(C5Level))) == NULL)
	{
		c5m_count_lost(1);
		return NULL;
	}
	lv->trans = lv->trans_inline;
	lv->maxtrans = C5M_INLINE;
	lv->paid = lv->paid_inline;
	lv->maxpaid = C5M_INLINE;
	lv->parent = cur_level;
	lv->nest_level = nest;
	cur_level = lv;
	return lv;
}

/*
 * Grow a level's array to hold one more element; false when out of memory.
 * `inl` is the level's own room for it, never freed.
 */
static pg_attribute_hot bool
grow(void **array, int *max, int n, Size elem, const void *inl)
{
	int			newmax;
	void	   *p;

	if (n < *max)
		return true;
	newmax = *max == 0 ? 8 : *max * 2;
	p = buffer_alloc(newmax * elem);
	if (p == NULL)
		return false;
	if (n > 0)
		memcpy(p, *array, n * elem);
	if (*array != NULL && *array != inl)
		pfree(*array);
	*array = p;
	*max = newmax;
	return true;
}

static pg_attribute_hot void
add_transition(C5Level *lv, int idx, uint32 gen, int64 n)
{
	int			i;

	for (i = 0; i < lv->ntrans; i++)
		if (lv->trans[i].idx == idx && lv->trans[i].gen == gen)
		{
			lv->trans[i].n += n;
			return;
		}
	if (!grow((void **) &lv->trans, &lv->maxtrans, lv->ntrans, sizeof(C5Trans),
			  lv->trans_inline))
	{
		c5m_count_lost(1);
		return;
	}
	lv->trans[lv->ntrans].idx = idx;
	lv->trans[lv->ntrans].gen = gen;
	lv->trans[lv->ntrans].n = n;
	lv->ntrans++;
}

/* A transition between statuses looked up in dictionary generation `gen`. */
pg_attribute_hot void
c5m_note_transition(C5Level *lv, int from, int to, uint32 gen)
{
	lv->flows |= 1 << C5_FLOW_SALES;
	add_transition(lv, c5m_transition_index(from, to, gen), gen, 1);
}

static pg_attribute_hot void
add_paid(C5Level *lv, uint32 salekey, TimestampTz at)
{
	if (lv->npaid >= C5M_MAX_PAID_EXACT ||
		!grow((void **) &lv->paid, &lv->maxpaid, lv->npaid, sizeof(C5Paid),
			  lv->paid_inline))
	{
		if (lv->paid_more == 0 || at < lv->paid_more_at)
			lv->paid_more_at = at;
		lv->paid_more++;
		return;
	}
	lv->paid[lv->npaid].salekey = salekey;
	lv->paid[lv->npaid].at = at;
	lv->npaid++;
}

pg_attribute_hot void
c5m_note_paid(C5Level *lv, uint32 salekey, TimestampTz at)
{
	add_paid(lv, salekey, at);
}

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
add_consumed(C5Level *lv, uint32 salekey)
{
	int			i;

	if (lv->consumed == NULL)
	{
		for (i = 0; i < lv->nconsumed; i++)
			if (lv->consumed_keys[i] == salekey)
				return;
		if (lv->nconsumed < C5M_CONSUMED_EXACT)
		{
			lv->consumed_keys[lv->nconsumed++] = salekey;
			return;
		}
		lv->consumed = buffer_alloc(C5M_BLOOM_WORDS * sizeof(uint64));
		if (lv->consumed == NULL)
		{
			c5m_count_lost(1);
			return;
		}
		for (i = 0; i < lv->nconsumed; i++)
			bloom_add(lv->consumed, lv->consumed_keys[i]);
	}
	bloom_add(lv->consumed, salekey);
}

pg_attribute_hot void
c5m_note_consume(C5Level *lv, uint32 salekey)
{
	lv->flows |= 1 << C5_FLOW_STOCK;
	if (lv->first_consume == 0)
		lv->first_consume = GetCurrentTimestamp();
	add_consumed(lv, salekey);
}

static pg_attribute_hot bool
consumed_has(const C5Level *lv, uint32 salekey)
{
	int			w1,
				w2;
	uint64		b1,
				b2;
	int			i;

	if (lv->consumed == NULL)
	{
		for (i = 0; i < lv->nconsumed; i++)
			if (lv->consumed_keys[i] == salekey)
				return true;
		return false;
	}
	bloom_bits(salekey, &w1, &b1, &w2, &b2);
	return (lv->consumed[w1] & b1) != 0 && (lv->consumed[w2] & b2) != 0;
}

pg_attribute_hot void
c5m_note_refund_attempt(C5Level *lv, C5RefundType type)
{
	lv->flows |= 1 << C5_FLOW_REFUNDS;
	lv->refund_attempts[type]++;
}

pg_attribute_hot void
c5m_note_refund_inserted(C5Level *lv, C5RefundType type)
{
	lv->refund_inserted[type]++;
}

/*
 * The names must outlive the transaction: triggers.c frees a cache entry
 * only after c5m_xact_callback() has ended it.
 */
pg_attribute_hot void
c5m_note_refund_table(C5Level *lv, const char *nspname, const char *relname)
{
	lv->refund_nsp = nspname;
	lv->refund_rel = relname;
}

void
c5m_note_guard(C5Level *lv, int sqlerrcode)
{
	lv->guard_code = sqlerrcode;
}

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
index_checks(C5Level *lv)
{
	int			nslots = 16;
	int32	   *slots;
	int			i;

	while (nslots < 2 * lv->maxchecks)
		nslots *= 2;
	slots = buffer_alloc(nslots * sizeof(int32));
	if (slots == NULL)
		return false;
	for (i = 0; i < lv->nchecks; i++)
	{
		uint32		h = check_hash(&lv->checks[i]) & (nslots - 1);

		while (slots[h] != 0)
			h = (h + 1) & (nslots - 1);
		slots[h] = i + 1;
	}
	if (lv->check_slots != NULL)
		pfree(lv->check_slots);
	lv->check_slots = slots;
	lv->nslots = nslots;
	return true;
}

/* Keep one sale to check at commit, once per trigger and sale. */
static void
add_check(C5Level *lv, const C5Check *c)
{
	uint32		h;
	int			grown = lv->maxchecks;

	if (lv->check_slots != NULL)
	{
		for (h = check_hash(c) & (lv->nslots - 1); lv->check_slots[h] != 0;
			 h = (h + 1) & (lv->nslots - 1))
		{
			C5Check    *o = &lv->checks[lv->check_slots[h] - 1];

			if (o->salekey == c->salekey && o->tgoid == c->tgoid &&
				datum_image_eq(o->sale, c->sale, c->typbyval, c->typlen))
			{
				if (!c->typbyval)
					pfree(DatumGetPointer(c->sale));
				return;
			}
		}
	}
	if (!grow((void **) &lv->checks, &lv->maxchecks, lv->nchecks, sizeof(C5Check), NULL) ||
		((lv->maxchecks != grown || lv->check_slots == NULL) && !index_checks(lv)))
	{
		if (!c->typbyval)
			pfree(DatumGetPointer(c->sale));
		c5m_count_lost(1);
		return;
	}
	lv->checks[lv->nchecks] = *c;
	for (h = check_hash(c) & (lv->nslots - 1); lv->check_slots[h] != 0;
		 h = (h + 1) & (lv->nslots - 1))
		;
	lv->check_slots[h] = ++lv->nchecks;
}

/*
 * A refund-in movement of `sale` (NULL: none), seen by stock trigger
 * `tgoid`; the sale is checked for mismatches at commit.
 */
void
c5m_note_refund_in(C5Level *lv, Oid tgoid, Oid relid, const C5Col *col, Datum sale, bool isnull)
{
	C5Check		c;

	lv->flows |= 1 << C5_FLOW_STOCK;
	lv->refund_in++;
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
		void	   *copy = buffer_alloc(len);

		if (copy == NULL)
		{
			c5m_count_lost(1);
			return;
		}
		memcpy(copy, DatumGetPointer(sale), len);
		c.sale = PointerGetDatum(copy);
	}
	add_check(lv, &c);
}

/*
 * Before commit (or PREPARE), with every subtransaction ended: check the
 * sales that got refund-in movements.  The check cannot fail the commit
 * (c5m_refund_in_check).
 */
static void
run_checks(C5Level *lv)
{
	int64		over = 0,
				norefund = 0;

	c5m_refund_in_check(lv->checks, lv->nchecks, &over, &norefund);
	lv->mismatch[C5_MISMATCH_OVER_RESTOCK] += over;
	lv->mismatch[C5_MISMATCH_NO_REFUND] += norefund;
	lv->nchecks = 0;
}

void
c5m_note_mismatch(C5Level *lv, C5Mismatch type)
{
	lv->mismatch[type]++;
}

void
c5m_note_lead(C5Level *lv)
{
	lv->flows |= 1 << C5_FLOW_LEADS;
	lv->leads++;
}

pg_attribute_hot void
c5m_note_flow(C5Level *lv, C5Flow flow)
{
	lv->flows |= 1 << flow;
}

/* ---- ending a subtransaction's level ---- */

/*
 * Give a finished level's memory back at once: a loop of many short
 * subtransactions (PL/pgSQL exception blocks) must not grow the
 * transaction's memory.  pfree cannot fail.
 */
static void
free_level(C5Level *lv, bool keep_bloom)
{
	int			i;

	for (i = 0; i < lv->nchecks; i++)
		if (!lv->checks[i].typbyval)
			pfree(DatumGetPointer(lv->checks[i].sale));
	if (lv->checks != NULL)
		pfree(lv->checks);
	if (lv->check_slots != NULL)
		pfree(lv->check_slots);
	if (lv->trans != lv->trans_inline)
		pfree(lv->trans);
	if (lv->paid != lv->paid_inline)
		pfree(lv->paid);
	if (lv->consumed != NULL && !keep_bloom)
		pfree(lv->consumed);
	if (lv != &top_level)
		pfree(lv);
}

static void
merge_into_parent(C5Level *lv)
{
	C5Level    *p = lv->parent;
	int			i;

	if (p == NULL || p->nest_level != lv->nest_level - 1)
	{
		/* the parent level has no events of its own: just move up */
		lv->nest_level--;
		return;
	}

	p->flows |= lv->flows;
	if (lv->guard_code != 0)
		p->guard_code = lv->guard_code;
	for (i = 0; i < C5_NREFUNDTYPES; i++)
	{
		p->refund_attempts[i] += lv->refund_attempts[i];
		p->refund_inserted[i] += lv->refund_inserted[i];
	}
	if (lv->refund_rel != NULL)
	{
		p->refund_nsp = lv->refund_nsp;
		p->refund_rel = lv->refund_rel;
	}
	p->refund_in += lv->refund_in;
	p->leads += lv->leads;
	for (i = 0; i < C5_NMISMATCH; i++)
		p->mismatch[i] += lv->mismatch[i];
	for (i = 0; i < lv->ntrans; i++)
		add_transition(p, lv->trans[i].idx, lv->trans[i].gen, lv->trans[i].n);
	for (i = 0; i < lv->npaid; i++)
		add_paid(p, lv->paid[i].salekey, lv->paid[i].at);
	if (lv->paid_more > 0)
	{
		if (p->paid_more == 0 || lv->paid_more_at < p->paid_more_at)
			p->paid_more_at = lv->paid_more_at;
		p->paid_more += lv->paid_more;
	}
	if (lv->first_consume != 0 &&
		(p->first_consume == 0 || lv->first_consume < p->first_consume))
		p->first_consume = lv->first_consume;
	for (i = 0; i < lv->nchecks; i++)
		add_check(p, &lv->checks[i]);	/* the copies change hands */
	lv->nchecks = 0;
	if (lv->consumed != NULL && p->consumed == NULL)
	{
		/* the filter is handed over, not copied, and takes the parent's keys */
		for (i = 0; i < p->nconsumed; i++)
			bloom_add(lv->consumed, p->consumed_keys[i]);
		p->consumed = lv->consumed;
		free_level(lv, true);
	}
	else
	{
		if (lv->consumed != NULL)
			for (i = 0; i < C5M_BLOOM_WORDS; i++)
				p->consumed[i] |= lv->consumed[i];
		else
			for (i = 0; i < lv->nconsumed; i++)
				add_consumed(p, lv->consumed_keys[i]);
		free_level(lv, false);
	}
	cur_level = p;
}

/* ---- counting outcomes ---- */

static pg_attribute_hot void
park(C5Sink *sink, int idx, uint32 gen, uint64 n)
{
	if (*sink->nops < sink->maxops)
	{
		sink->ops[*sink->nops].idx = idx;
		sink->ops[*sink->nops].gen = gen;
		sink->ops[*sink->nops].n = n;
		(*sink->nops)++;
	}
	else
		c5m_count(c5m_shared->layout.events_lost, n);
}

static pg_attribute_hot void
sink_count(C5Sink *sink, int idx, uint64 n)
{
	if (n == 0)
		return;
	if (sink == NULL)
		c5m_count(idx, n);
	else
		park(sink, idx, 0, n);
}

/*
 * Count into dynamic series `idx`, resolved in dictionary generation
 * `gen`: parked with its generation, or counted inside the window of
 * generation `wgen` (c5m_dyn_begin) -- into "other" if the two differ.
 */
static pg_attribute_hot void
sink_count_dyn(C5Sink *sink, int idx, uint32 gen, uint32 wgen, uint64 n)
{
	if (n == 0)
		return;
	if (sink != NULL)
		park(sink, idx, gen, n);
	else
	{
		if (unlikely(gen != wgen))
			idx = c5m_dyn_fold(idx, n);
		c5m_count(idx, n);
	}
}

static inline void
hist_cell(int hist, int b, uint64 n)
{
	hist_delta[hist][b] += n;
	if (!hist_touched[hist])
	{
		hist_touched[hist] = true;
		hist_lo[hist] = hist_hi[hist] = b;
	}
	else if (b < hist_lo[hist])
		hist_lo[hist] = b;
	else if (b > hist_hi[hist])
		hist_hi[hist] = b;
}

static pg_attribute_hot void
observe(int hist, TimestampTz start, TimestampTz end, uint64 n)
{
	long		us = end > start ? end - start : 0;

	hist_cell(hist, c5m_hist_bucket(us / 1000000.0), n);
	hist_sum[hist] += (uint64) us * n;
}

static pg_attribute_hot void
flush_histograms(C5Sink *sink)
{
	int			h,
				b;
	int			nb = c5m_shared->layout.nbuckets;

	for (h = 0; h < C5_NHISTS; h++)
	{
		if (!hist_touched[h])
			continue;
		if (sink == NULL)
			c5m_hist_add(h, hist_delta[h], hist_lo[h], hist_hi[h], hist_sum[h]);
		else
		{
			int			need = 0;

			/*
			 * Parked whole or not at all: a histogram's buckets without its
			 * sum would not hang together (persist.c checks that they do).
			 */
			for (b = 0; b <= nb + 1; b++)
				need += (b <= nb ? hist_delta[h][b] : hist_sum[h]) != 0;
			for (b = 0; b <= nb + 1; b++)
			{
				uint64		n = b <= nb ? hist_delta[h][b] : hist_sum[h];

				if (n == 0)
					continue;
				if (*sink->nops + need <= sink->maxops)
				{
					sink->ops[*sink->nops].idx = -(1 + h * C5M_HIST_OP_STRIDE + b);
					sink->ops[*sink->nops].n = n;
					(*sink->nops)++;
					need--;
				}
				else if (b <= nb)
					c5m_count(c5m_shared->layout.events_lost, n);
			}
		}
		memset(&hist_delta[h][hist_lo[h]], 0,
			   (hist_hi[h] - hist_lo[h] + 1) * sizeof(uint64));
		hist_sum[h] = 0;
		hist_touched[h] = false;
	}
}

/* Count a level that committed at the top, as of `now`. */
pg_attribute_hot void
c5m_count_success(C5Level *lv, TimestampTz now, C5Sink *sink)
{
	const C5Layout *l = &c5m_shared->layout;
	TimestampTz xact_start = GetCurrentTransactionStartTimestamp();
	int64		refunds = 0;
	int64		conflicts = 0;
	int			i;

	if (lv->ntrans > 0)
	{
		uint32		wgen = sink == NULL ? c5m_dyn_begin() : 0;

		for (i = 0; i < lv->ntrans; i++)
			sink_count_dyn(sink, lv->trans[i].idx + C5_SUCCESS, lv->trans[i].gen,
						   wgen, lv->trans[i].n);
		if (sink == NULL)
			c5m_dyn_end();
	}

	for (i = 0; i < lv->npaid; i++)
	{
		C5Paid	   *p = &lv->paid[i];

		if (consumed_has(lv, p->salekey))
		{
			TimestampTz start = Min(p->at, lv->first_consume);

			sink_count(sink, l->paid_consume + C5_SUCCESS, 1);
			observe(C5_HIST_CONSUME, start, now, 1);
		}
		else
			sink_count(sink, l->paid_consume + C5_CONSUME_MISSING, 1);
	}
	if (lv->paid_more > 0)
	{
		/* past the exact limit: matched with the level's consumption as a whole */
		if (lv->first_consume != 0)
		{
			sink_count(sink, l->paid_consume + C5_SUCCESS, lv->paid_more);
			observe(C5_HIST_CONSUME, Min(lv->paid_more_at, lv->first_consume),
					now, lv->paid_more);
		}
		else
			sink_count(sink, l->paid_consume + C5_CONSUME_MISSING, lv->paid_more);
	}

	for (i = 0; i < C5_NREFUNDTYPES; i++)
	{
		sink_count(sink, l->refunds + i * C5_NRESULTS + C5_SUCCESS,
				   lv->refund_inserted[i]);
		refunds += lv->refund_inserted[i];
		/* a BEFORE row that never became a row: ON CONFLICT DO NOTHING */
		if (lv->refund_attempts[i] > lv->refund_inserted[i])
			conflicts += lv->refund_attempts[i] - lv->refund_inserted[i];
	}
	sink_count(sink, l->idempotency, conflicts);
	if (refunds > 0)
		observe(C5_HIST_REFUND, xact_start, now, refunds);

	sink_count(sink, l->refund_in + C5_SUCCESS, lv->refund_in);
	for (i = 0; i < C5_NMISMATCH; i++)
		sink_count(sink, l->mismatch + i, lv->mismatch[i]);
	sink_count(sink, l->leads + C5_LEAD_CREATED, lv->leads);

	for (i = 0; i < C5_NFLOWS; i++)
		if (lv->flows & (1 << i))
		{
			sink_count(sink, l->flow_tx + i * C5_NRESULTS + C5_SUCCESS, 1);
			observe(C5_HIST_FLOW + i, xact_start, now, 1);
		}
	flush_histograms(sink);
}

/*
 * Count a level that rolled back.  `code` is the SQLSTATE of the error
 * that caused it, or 0 for a rollback without a reported error.
 */
void
c5m_count_rollback(C5Level *lv, int code, const char *table, C5Sink *sink)
{
	const C5Layout *l = &c5m_shared->layout;
	C5Result	res;
	int			reason;
	int			cond = -1;
	int64		attempts = 0;
	bool		dynamic;
	uint32		wgen = 0;
	int			i;

	/* a guard's error may have been trapped before it was reported */
	if (code == 0)
		code = lv->guard_code;

	res = c5m_classify(code, error_on_refunds(lv, table), &reason, &cond);

	/* exceptions are claimed here, even when parked: in a window too */
	dynamic = lv->ntrans > 0 || (cond >= 0 && lv->flows != 0);
	if (dynamic)
		wgen = c5m_dyn_begin();
	for (i = 0; i < lv->ntrans; i++)
		sink_count_dyn(sink, lv->trans[i].idx + res, lv->trans[i].gen, wgen,
					   lv->trans[i].n);
	sink_count(sink, l->paid_consume + res, lv->npaid + lv->paid_more);
	for (i = 0; i < C5_NREFUNDTYPES; i++)
	{
		sink_count(sink, l->refunds + i * C5_NRESULTS + res, lv->refund_attempts[i]);
		attempts += lv->refund_attempts[i];
	}
	if (attempts > 0)
	{
		sink_count(sink, l->refund_rollback + reason, attempts);
		if (reason == C5_R_IDEMPOTENCY)
			sink_count(sink, l->idempotency, 1);
	}
	sink_count(sink, l->refund_in + res, lv->refund_in);
	sink_count(sink, l->leads + (res == C5_REJECTED ? C5_LEAD_REJECTED : C5_LEAD_FAILURE),
			   lv->leads);

	for (i = 0; i < C5_NFLOWS; i++)
		if (lv->flows & (1 << i))
		{
			sink_count(sink, l->flow_tx + i * C5_NRESULTS + res, 1);
			if (cond >= 0)
				sink_count_dyn(sink, c5m_exception_index(cond, i, wgen), wgen,
							   wgen, 1);
		}
	if (dynamic)
		c5m_dyn_end();
}

/* The stashed error, if it was reported by this subtransaction (or any, for 0). */
static int
take_error(SubTransactionId subid, const char **table)
{
	int			code = 0;

	*table = NULL;
	if (last_error.valid && (subid == InvalidSubTransactionId ||
							 last_error.subid == subid))
	{
		code = last_error.code;
		*table = last_error.table[0] != '\0' ? last_error.table : NULL;
		last_error.valid = false;
	}
	return code;
}

/* Did the error name the tracked refunds table this level inserted into? */
static bool
error_on_refunds(const C5Level *lv, const char *table)
{
	return lv->refund_rel != NULL && table != NULL &&
		strcmp(lv->refund_rel, table) == 0 &&
		strcmp(lv->refund_nsp, last_error.schema) == 0;
}

/* ---- callbacks ---- */

/* Apply outcomes parked by PREPARE TRANSACTION (twophase.c). */
void
c5m_apply_ops(const C5Op *ops, int n)
{
	int			nb = c5m_shared->layout.nbuckets;
	uint32		wgen = c5m_dyn_begin();
	int			i;

	for (i = 0; i < n; i++)
	{
		if (ops[i].idx >= 0)
		{
			int			idx = ops[i].idx;

			if (ops[i].gen != 0 && ops[i].gen != wgen)
				idx = c5m_dyn_fold(idx, ops[i].n);
			c5m_count(idx, ops[i].n);
		}
		else
		{
			int			cell = -ops[i].idx - 1;
			int			h = cell / C5M_HIST_OP_STRIDE;
			int			b = cell % C5M_HIST_OP_STRIDE;

			if (b <= nb)
				hist_cell(h, b, ops[i].n);
			else
			{
				hist_sum[h] += ops[i].n;
				if (!hist_touched[h])
				{
					hist_touched[h] = true;
					hist_lo[h] = hist_hi[h] = 0;
				}
			}
		}
	}
	c5m_dyn_end();
	flush_histograms(NULL);
}

/* The level of the transaction now ending, or NULL (c5metrics.c, PREPARE). */
C5Level *
c5m_capture_top(void)
{
	return cur_level;
}

/*
 * The transaction callback (c5metrics.c calls it): count what ends.
 * Returns whether the transaction ended, after which nothing refers to
 * what the triggers noted.
 */
pg_attribute_hot bool
c5m_capture_xact(XactEvent event)
{
	const char *table;
	int			code;

	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			if (cur_level != NULL && cur_level->nchecks > 0)
				run_checks(cur_level);
			return false;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (cur_level != NULL)
				c5m_count_success(cur_level, GetCurrentTimestamp(), NULL);
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			code = take_error(InvalidSubTransactionId, &table);
			for (; cur_level != NULL; cur_level = cur_level->parent)
				c5m_count_rollback(cur_level, code, table, NULL);
			break;
		case XACT_EVENT_PREPARE:
			/* twophase.c has parked the outcomes (c5metrics.c) */
			break;
		default:
			return false;
	}
	cur_level = NULL;
	last_error.valid = false;
	return true;
}

/* The subtransaction callback (c5metrics.c calls it). */
void
c5m_capture_subxact(SubXactEvent event, SubTransactionId mySubid)
{
	int			nest = GetCurrentTransactionNestLevel();
	const char *table;
	int			code;

	if (event != SUBXACT_EVENT_COMMIT_SUB && event != SUBXACT_EVENT_ABORT_SUB)
		return;

	/* an error reported in this subtransaction ends with it, tracked or not */
	code = take_error(mySubid, &table);

	if (cur_level == NULL || cur_level->nest_level < nest)
		return;

	if (event == SUBXACT_EVENT_COMMIT_SUB)
		merge_into_parent(cur_level);
	else
	{
		C5Level    *parent = cur_level->parent;

		c5m_count_rollback(cur_level, code, table, NULL);
		free_level(cur_level, false);
		cur_level = parent;
	}
}

/*
 * Remember the SQLSTATE of an error reported while tracked work is
 * pending (emit_log_hook, c5metrics.c).  Runs inside error reporting: it
 * must not fail.
 */
void
c5m_capture_error(ErrorData *edata)
{
	if (edata->elevel >= ERROR && cur_level != NULL)
	{
		last_error.valid = true;
		last_error.subid = GetCurrentSubTransactionId();
		last_error.code = edata->sqlerrcode;
		strlcpy(last_error.schema, edata->schema_name ? edata->schema_name : "",
				NAMEDATALEN);
		strlcpy(last_error.table, edata->table_name ? edata->table_name : "",
				NAMEDATALEN);
	}
}
