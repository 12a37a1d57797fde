/*-------------------------------------------------------------------------
 *
 * refund_guard.h
 *		The opt-in over-refund guard.
 *
 * See refund_guard.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef C5M_REFUND_GUARD_H
#define C5M_REFUND_GUARD_H

#include "trigcache.h"

extern void c5m_refund_guard_check(C5Trig *t, TriggerData *td, C5Level *lv);
extern void c5m_refund_guard_unavailable(C5Trig *t, TriggerData *td, C5Level *lv,
										 const char *why);
extern bool c5m_guard_comparable(Oid saletype, Oid idtype);

#endif							/* C5M_REFUND_GUARD_H */
