/*-------------------------------------------------------------------------
 *
 * guards.h
 *		The opt-in guards: over-refund and lead throttle.
 *
 * See guards.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef C5M_GUARDS_H
#define C5M_GUARDS_H

#include "triggers.h"

struct TriggerData;
extern Size c5m_throttle_shmem_size(void);
extern void c5m_throttle_shmem_init(void);
extern void c5m_trig_release(C5Trig *t);
extern void c5m_refund_guard_check(C5Trig *t, struct TriggerData *td, C5Level *lv);
extern void c5m_lead_throttle_check(C5Trig *t, struct TriggerData *td, C5Level *lv);
extern void c5m_refund_guard_unavailable(C5Trig *t, struct TriggerData *td, C5Level *lv,
										 const char *why);
extern bool c5m_guard_comparable(Oid saletype, Oid idtype);

#endif							/* C5M_GUARDS_H */
