/*-------------------------------------------------------------------------
 *
 * sales.h
 *		The sales flow: status transitions, and paid sales awaiting stock.
 *
 * See sales.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef C5M_SALES_H
#define C5M_SALES_H

#include "capture.h"

struct QueryDesc;

extern const C5FlowKind c5m_sales_flow;
extern void c5m_sales_executor_start(struct QueryDesc *queryDesc, int eflags);
extern void c5m_sales_forget_functions(Datum arg, int cacheid, uint32 hashvalue);

#endif							/* C5M_SALES_H */
