/*-------------------------------------------------------------------------
 *
 * capture.c
 *		The transaction buffer and the callbacks that turn it into counts.
 *
 * Design, after PostgreSQL's own table statistics (pgstat_relation.c):
 * triggers add to a backend-local buffer with one level per subtransaction
 * nesting depth.  The buffer aggregates -- per level, one counter per
 * series touched -- so a statement touching a million rows grows nothing
 * but a few integers (the sales flow keeps paid sales one by one up to a
 * limit, to match them with their stock consumption, then aggregates).
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
 * What a level holds is the flows' business (sales.c, stock.c, refunds.c,
 * leads.c): each registers a C5FlowKind with its state, which lives in
 * every level at a fixed offset, and what to do with it when the level
 * ends.  Capture keeps the levels, which flows each touched, the error
 * that ended it, and the counts every flow shares: flow_transactions_total,
 * the flow duration histograms and exceptions_total.
 *
 * The functions on the path of every tracked row and commit, here and in
 * the flows, registry.c and labels.c, are marked pg_attribute_hot: the
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
#include "utils/elog.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "capture.h"
#include "labels.h"
#include "registry.h"
#include "sqlstate.h"

struct C5Level
{
	C5Level    *parent;			/* enclosing level, or NULL */
	int			nest_level;		/* subtransaction nesting depth */
	uint32		flows;			/* bit per C5Flow touched */
	int			guard_code;		/* SQLSTATE a guard raised here, or 0 */
	/* then each registered flow's state, at c5m_flow_offset[flow] */
};

/* The registered flows, in counting order, and where their states lie. */
static const C5FlowKind *kinds[C5_NFLOWS];
static int	nkinds = 0;
Size		c5m_flow_offset[C5_NFLOWS];
static Size level_size = MAXALIGN(sizeof(C5Level));

/* Local state */
static C5Level *cur_level = NULL;	/* innermost level */
static C5Level *top_level = NULL;	/* depth 1, reused by every transaction */
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

/*
 * Register a flow (from _PG_init, c5metrics.c): its state gets a place in
 * every level, and it is counted after the flows registered before it.
 */
void
c5m_capture_add_flow(const C5FlowKind *kind)
{
	Assert(nkinds < C5_NFLOWS && top_level == NULL);
	kinds[nkinds++] = kind;
	c5m_flow_offset[kind->flow] = level_size;
	level_size += MAXALIGN(kind->state_size);
}

/* ---- the buffer, as the triggers see it ---- */

/* Memory for the transaction's buffer; NULL when out of memory. */
void *
c5m_capture_alloc(Size size)
{
	return MemoryContextAllocExtended(TopTransactionContext, size,
									  MCXT_ALLOC_ZERO | MCXT_ALLOC_NO_OOM);
}

/*
 * The level for the current nesting depth, created on first use: at depth
 * 1 the backend's top level, allocated once and reused, else in
 * TopTransactionContext.  NULL only when out of memory, which the caller
 * counts as a lost event.
 */
pg_attribute_hot C5Level *
c5m_level(void)
{
	int			nest = GetCurrentTransactionNestLevel();
	C5Level    *lv;
	int			i;

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
		if (unlikely(top_level == NULL))
			top_level = MemoryContextAllocExtended(TopMemoryContext, level_size,
												   MCXT_ALLOC_NO_OOM);
		lv = top_level;
	}
	else
		lv = c5m_capture_alloc(level_size);
	if (lv == NULL)
	{
		c5m_count_lost(1);
		return NULL;
	}
	lv->flows = 0;
	lv->guard_code = 0;
	for (i = 0; i < nkinds; i++)
	{
		void	   *st = c5m_flow_state(lv, kinds[i]->flow);

		memset(st, 0, kinds[i]->clear_size);
		if (kinds[i]->init)
			kinds[i]->init(st);
	}
	lv->parent = cur_level;
	lv->nest_level = nest;
	cur_level = lv;
	return lv;
}

/*
 * Grow a level's array to hold one more element; false when out of memory.
 * `inl` is the level's own room for it, never freed.
 */
pg_attribute_hot bool
c5m_capture_grow(void **array, int *max, int n, Size elem, const void *inl)
{
	int			newmax;
	void	   *p;

	if (n < *max)
		return true;
	newmax = *max == 0 ? 8 : *max * 2;
	p = c5m_capture_alloc(newmax * elem);
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

void
c5m_note_guard(C5Level *lv, int sqlerrcode)
{
	lv->guard_code = sqlerrcode;
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
free_level(C5Level *lv)
{
	int			i;

	for (i = 0; i < nkinds; i++)
		if (kinds[i]->release != NULL)
			kinds[i]->release(c5m_flow_state(lv, kinds[i]->flow));
	if (lv != top_level)
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
	for (i = 0; i < nkinds; i++)
		kinds[i]->merge(c5m_flow_state(lv, kinds[i]->flow),
						c5m_flow_state(p, kinds[i]->flow));
	free_level(lv);
	cur_level = p;
}

/* ---- counting outcomes ---- */

pg_attribute_hot void
c5m_sink_park(C5Sink *sink, int idx, uint32 gen, uint64 n)
{
	if (*sink->nops < sink->maxops)
	{
		sink->ops[*sink->nops].idx = idx;
		sink->ops[*sink->nops].gen = gen;
		sink->ops[*sink->nops].n = n;
		(*sink->nops)++;
	}
	else
		c5m_count_lost(n);
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

/* n observations of end - start in histogram `hist`, counted at the flush. */
pg_attribute_hot void
c5m_observe(int hist, TimestampTz start, TimestampTz end, uint64 n)
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
					c5m_count_lost(n);
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
	int			i;

	/* every flow: a flow's state is counted even where its bit is not set */
	for (i = 0; i < nkinds; i++)
		kinds[i]->count_success(lv, c5m_flow_state(lv, kinds[i]->flow), now, sink);

	for (i = 0; i < C5_NFLOWS; i++)
		if (lv->flows & (1 << i))
		{
			c5m_sink_count(sink, l->base[C5_STORE_FLOW_TX] + i * C5_NRESULTS + C5_SUCCESS, 1);
			c5m_observe(C5_HIST_FLOW + i, xact_start, now, 1);
		}
	flush_histograms(sink);
}

/*
 * Count a level that rolled back.  `code` is the SQLSTATE of the error
 * that caused it, or 0 for a rollback without a reported error; `table`
 * the table it named (in last_error.schema), or NULL.
 */
void
c5m_count_rollback(C5Level *lv, int code, const char *table, C5Sink *sink)
{
	const C5Layout *l = &c5m_shared->layout;
	C5Outcome	o;
	bool		named = false;
	bool		dynamic;
	int			i;

	/* a guard's error may have been trapped before it was reported */
	if (code == 0)
		code = lv->guard_code;

	for (i = 0; i < nkinds && table != NULL; i++)
		if (kinds[i]->names_error != NULL &&
			kinds[i]->names_error(c5m_flow_state(lv, kinds[i]->flow),
								  last_error.schema, table))
			named = true;
	o.cond = -1;
	o.res = c5m_classify(code, named, &o.reason, &o.cond);

	/* exceptions are claimed here, even when parked: in a window too */
	dynamic = o.cond >= 0 && lv->flows != 0;
	for (i = 0; i < nkinds && !dynamic; i++)
		dynamic = kinds[i]->uses_dynamic != NULL &&
			kinds[i]->uses_dynamic(c5m_flow_state(lv, kinds[i]->flow));
	o.wgen = dynamic ? c5m_dyn_begin() : 0;

	for (i = 0; i < nkinds; i++)
		kinds[i]->count_rollback(lv, c5m_flow_state(lv, kinds[i]->flow), &o, sink);

	for (i = 0; i < C5_NFLOWS; i++)
		if (lv->flows & (1 << i))
		{
			c5m_sink_count(sink, l->base[C5_STORE_FLOW_TX] + i * C5_NRESULTS + o.res, 1);
			if (o.cond >= 0)
				c5m_sink_count_dyn(sink, c5m_exception_index(o.cond, i, o.wgen),
								   o.wgen, o.wgen, 1);
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
			if (cur_level != NULL)
			{
				int			i;

				for (i = 0; i < nkinds; i++)
					if (kinds[i]->pre_commit != NULL)
						kinds[i]->pre_commit(cur_level,
											 c5m_flow_state(cur_level, kinds[i]->flow));
			}
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
		free_level(cur_level);
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
