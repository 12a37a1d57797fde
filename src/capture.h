/*-------------------------------------------------------------------------
 *
 * capture.h
 *		The transaction buffer: what triggers note, counted at the end.
 *
 * See capture.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef C5M_CAPTURE_H
#define C5M_CAPTURE_H

#include "access/xact.h"
#include "datatype/timestamp.h"
#include "catalog.h"
#include "labels.h"
#include "registry.h"

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

/* How a level that rolled back is counted (c5m_count_rollback). */
typedef struct C5Outcome
{
	C5Result	res;			/* rejected or failure */
	int			reason;			/* sale_refund_rollback_total's reason */
	int			cond;			/* exceptions_total's condition, or -1 */
	uint32		wgen;			/* the window of dynamic series, or 0 */
} C5Outcome;

/*
 * A business flow, as capture sees it: its state in every level of the
 * transaction buffer, and what becomes of that state when the level ends.
 * Each flow module defines one (sales.c, stock.c, refunds.c, leads.c);
 * _PG_init registers them (c5m_capture_add_flow), and they are counted in
 * that order.  A new level's state is zeroed up to clear_size; what lies
 * beyond is room the flow uses without zeroing (its init points at it).
 * Callbacks that run at commit or abort must not fail or allocate.
 */
typedef struct C5FlowKind
{
	C5Flow		flow;
	Size		state_size;
	Size		clear_size;
	void		(*init) (void *st);
	/* subtransaction commit: add st into parent; st is released after */
	void		(*merge) (void *st, void *parent);
	/* give back what st allocated (pfree only); NULL when it allocates nothing */
	void		(*release) (void *st);
	/* before the top level commits or prepares; may be NULL */
	void		(*pre_commit) (C5Level *lv, void *st);
	void		(*count_success) (C5Level *lv, void *st, TimestampTz now, C5Sink *sink);
	void		(*count_rollback) (C5Level *lv, void *st, const C5Outcome *o,
								   C5Sink *sink);
	/* needs a window of dynamic series at rollback; may be NULL */
	bool		(*uses_dynamic) (const void *st);
	/* did the error name this flow's table (schema, table)?  may be NULL */
	bool		(*names_error) (const void *st, const char *schema, const char *table);
} C5FlowKind;

/* Where each flow's state lies in a level (c5m_capture_add_flow). */
extern Size c5m_flow_offset[C5_NFLOWS];

/* The state of `flow` in level `lv`. */
static inline void *
c5m_flow_state(C5Level *lv, C5Flow flow)
{
	return (char *) lv + c5m_flow_offset[flow];
}

extern void c5m_capture_add_flow(const C5FlowKind *kind);

/* The callbacks, called by c5metrics.c */
extern C5Level *c5m_capture_top(void);
extern bool c5m_capture_xact(XactEvent event);
extern void c5m_capture_subxact(SubXactEvent event, SubTransactionId mySubid);
extern void c5m_capture_error(ErrorData *edata);

/* For the flows' triggers */
extern C5Level *c5m_level(void);
extern void c5m_note_flow(C5Level *lv, C5Flow flow);
extern void c5m_note_guard(C5Level *lv, int sqlerrcode);
extern void *c5m_capture_alloc(Size size);
extern bool c5m_capture_grow(void **array, int *max, int n, Size elem, const void *inl);

/* For the flows' accounting */
extern void c5m_sink_park(C5Sink *sink, int idx, uint32 gen, uint64 n);
extern void c5m_observe(int hist, TimestampTz start, TimestampTz end, uint64 n);

/* Count n into series idx, or park it in the sink. */
static inline void
c5m_sink_count(C5Sink *sink, int idx, uint64 n)
{
	if (n == 0)
		return;
	if (sink == NULL)
		c5m_count(idx, n);
	else
		c5m_sink_park(sink, idx, 0, n);
}

/*
 * Count into dynamic series `idx`, resolved in dictionary generation
 * `gen`: parked with its generation, or counted inside the window of
 * generation `wgen` (c5m_dyn_begin) -- into "other" if the two differ.
 */
static inline void
c5m_sink_count_dyn(C5Sink *sink, int idx, uint32 gen, uint32 wgen, uint64 n)
{
	if (n == 0)
		return;
	if (sink != NULL)
		c5m_sink_park(sink, idx, gen, n);
	else
	{
		if (unlikely(gen != wgen))
			idx = c5m_dyn_fold(idx, n);
		c5m_count(idx, n);
	}
}

/* Counting a level, whole: twophase.c computes both outcomes at PREPARE. */
extern void c5m_count_success(C5Level *lv, TimestampTz now, C5Sink *sink);
extern void c5m_count_rollback(C5Level *lv, int code, const char *table,
							   C5Sink *sink);
extern void c5m_apply_ops(const C5Op *ops, int n);

#endif							/* C5M_CAPTURE_H */
