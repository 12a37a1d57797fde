/*-------------------------------------------------------------------------
 *
 * labels.h
 *		Label values from data: the status dictionary and dynamic series.
 *
 * See labels.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef C5M_LABELS_H
#define C5M_LABELS_H

#include "registry.h"

extern Size c5m_labels_shmem_size(void);
extern void c5m_labels_shmem_init(void);
extern bool c5m_label_acceptable(const char *value, int len);
extern int	c5m_status_id(const char *value, int len);
extern int	c5m_transition_index(int from, int to, uint32 gen);
extern int	c5m_exception_index(int cond, C5Flow flow, uint32 gen);
extern uint32 c5m_dyn_begin(void);
extern void c5m_dyn_end(void);
extern int	c5m_dyn_fold(int idx, uint64 n);
extern void c5m_labels_pick_database(void);
extern void c5m_labels_recount(void);
extern void c5m_reset_labels(const Oid *gone, int ngone);

#endif							/* C5M_LABELS_H */
