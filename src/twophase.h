/*-------------------------------------------------------------------------
 *
 * twophase.h
 *		Counting prepared transactions when they are finished.
 *
 * See twophase.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef C5M_TWOPHASE_H
#define C5M_TWOPHASE_H

#include "tcop/utility.h"
#include "capture.h"

extern Size c5m_twophase_shmem_size(void);
extern void c5m_twophase_shmem_init(void);
extern void c5m_twophase_load(void);
extern void c5m_twophase_save(int code, Datum arg);
extern void c5m_twophase_utility(PlannedStmt *pstmt, const char *queryString,
								 bool readOnlyTree, ProcessUtilityContext context,
								 ParamListInfo params, QueryEnvironment *queryEnv,
								 DestReceiver *dest, QueryCompletion *qc,
								 ProcessUtility_hook_type next);
extern void c5m_twophase_park(C5Level *top);

#endif							/* C5M_TWOPHASE_H */
