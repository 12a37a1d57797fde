/*-------------------------------------------------------------------------
 *
 * refunds.h
 *		The refunds flow.
 *
 * See refunds.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef C5M_REFUNDS_H
#define C5M_REFUNDS_H

#include "capture.h"

extern const C5FlowKind c5m_refunds_flow;

#endif							/* C5M_REFUNDS_H */
