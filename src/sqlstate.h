/*-------------------------------------------------------------------------
 *
 * sqlstate.h
 *		From the SQLSTATE that rolled tracked work back to bounded labels.
 *
 * See sqlstate.c.  Pure: no shared memory, no catalogs.
 *
 *-------------------------------------------------------------------------
 */
#ifndef C5M_SQLSTATE_H
#define C5M_SQLSTATE_H

#include "catalog.h"

extern C5Result c5m_classify(int code, bool on_refunds, int *reason, int *cond);
extern int	c5m_reason_count(void);
extern const char *c5m_reason_name(int reason);
extern int	c5m_condition_count(void);
extern const char *c5m_condition_name(int cond);

#endif							/* C5M_SQLSTATE_H */
