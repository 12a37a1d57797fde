/*-------------------------------------------------------------------------
 *
 * throttle.h
 *		The lead throttle: token buckets in shared memory.
 *
 * See throttle.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef C5M_THROTTLE_H
#define C5M_THROTTLE_H

#include "trigcache.h"

extern Size c5m_throttle_shmem_size(void);
extern void c5m_throttle_shmem_init(void);
extern void c5m_lead_throttle_check(C5Trig *t, TriggerData *td, C5Level *lv);

#endif							/* C5M_THROTTLE_H */
