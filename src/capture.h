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
#include "columns.h"

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

extern C5Level *c5m_capture_top(void);
extern bool c5m_capture_xact(XactEvent event);
extern void c5m_capture_subxact(SubXactEvent event, SubTransactionId mySubid);
extern void c5m_capture_error(ErrorData *edata);
extern C5Level *c5m_level(void);
extern void c5m_note_transition(C5Level *lv, int from, int to, uint32 gen);
extern void c5m_note_paid(C5Level *lv, uint32 salekey, TimestampTz at);
extern void c5m_note_consume(C5Level *lv, uint32 salekey);
extern void c5m_note_refund_attempt(C5Level *lv, C5RefundType type);
extern void c5m_note_refund_inserted(C5Level *lv, C5RefundType type);
extern void c5m_note_refund_table(C5Level *lv, const char *nspname, const char *relname);
extern void c5m_note_guard(C5Level *lv, int sqlerrcode);
extern void c5m_note_refund_in(C5Level *lv, Oid tgoid, Oid relid, const C5Col *col,
							   Datum sale, bool isnull);
extern void c5m_note_mismatch(C5Level *lv, C5Mismatch type);
extern void c5m_note_lead(C5Level *lv);
extern void c5m_note_flow(C5Level *lv, C5Flow flow);
extern void c5m_count_success(C5Level *lv, TimestampTz now, C5Sink *sink);
extern void c5m_count_rollback(C5Level *lv, int code, const char *table,
							   C5Sink *sink);
extern void c5m_apply_ops(const C5Op *ops, int n);

#endif							/* C5M_CAPTURE_H */
