/*-------------------------------------------------------------------------
 *
 * status.h
 *		The status page at / and its data at /slo.json.
 *
 * See status.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef C5M_STATUS_H
#define C5M_STATUS_H

#include "lib/stringinfo.h"
#include "registry.h"

/* The page refreshes itself this often, in seconds. */
#define C5M_STATUS_REFRESH	30

extern PGDLLEXPORT void c5m_status_tick(void);
extern PGDLLEXPORT void c5m_render_status_html(C5Snapshot *snap, const char *nonce,
											   StringInfo out);
extern PGDLLEXPORT void c5m_render_status_json(C5Snapshot *snap, StringInfo out);

#endif							/* C5M_STATUS_H */
