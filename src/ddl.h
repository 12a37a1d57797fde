/*-------------------------------------------------------------------------
 *
 * ddl.h
 *		Keeping attachments right through a shop's schema changes.
 *
 * See ddl.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef C5M_DDL_H
#define C5M_DDL_H

#include "tcop/utility.h"


extern void c5m_ddl_utility(PlannedStmt *pstmt, const char *queryString,
							bool readOnlyTree, ProcessUtilityContext context,
							ParamListInfo params, QueryEnvironment *queryEnv,
							DestReceiver *dest, QueryCompletion *qc,
							ProcessUtility_hook_type next);

#endif							/* C5M_DDL_H */
