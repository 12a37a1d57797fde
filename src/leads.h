/*-------------------------------------------------------------------------
 *
 * leads.h
 *		The public-leads flow.
 *
 * See leads.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef C5M_LEADS_H
#define C5M_LEADS_H

#include "capture.h"

extern const C5FlowKind c5m_leads_flow;

#endif							/* C5M_LEADS_H */
