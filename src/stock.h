/*-------------------------------------------------------------------------
 *
 * stock.h
 *		The stock flow: consumption, and the refund-in check.
 *
 * See stock.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef C5M_STOCK_H
#define C5M_STOCK_H

#include "capture.h"

extern const C5FlowKind c5m_stock_flow;
extern bool c5m_stock_consumed(C5Level *lv, uint32 salekey);
extern TimestampTz c5m_stock_first_consume(C5Level *lv);

#endif							/* C5M_STOCK_H */
