/*-------------------------------------------------------------------------
 *
 * compat.h
 *		The PostgreSQL API differences between the majors c5metrics builds
 *		against (15, 17, 18), in one place.
 *
 * Everything that differs by major is named here once, behind
 * PG_VERSION_NUM, and the rest of the source calls these names only.
 *
 * One difference needs no name: since 16, PGXS builds modules with
 * -fvisibility=hidden, so what the HTTP worker's library
 * (c5metrics_http.so) uses of c5metrics.so is declared PGDLLEXPORT in
 * its header (settings.h, registry.h, layout.h, exposition.h, sli.h).
 *
 *-------------------------------------------------------------------------
 */
#ifndef C5M_COMPAT_H
#define C5M_COMPAT_H

#include "access/genam.h"
#include "storage/lock.h"
#include "storage/proc.h"

/* 17: PGPROC.pgprocno gave way to the backend's ProcNumber. */
#if PG_VERSION_NUM >= 170000
#define C5M_MY_PROCNO()		(MyProcNumber)
#else
#define C5M_MY_PROCNO()		(MyProc->pgprocno)
#endif

/* 17: LockHeldByMe() can also accept a stronger lock; we want this mode. */
#if PG_VERSION_NUM >= 170000
#define c5m_lock_held_by_me(tag, mode)	LockHeldByMe((tag), (mode), false)
#else
#define c5m_lock_held_by_me(tag, mode)	LockHeldByMe((tag), (mode))
#endif

/* 17: a wait event set belongs to a resource owner (NULL: the session). */
#if PG_VERSION_NUM >= 170000
#define c5m_create_wait_event_set(n)	CreateWaitEventSet(NULL, (n))
#else
#define c5m_create_wait_event_set(n)	CreateWaitEventSet(TopMemoryContext, (n))
#endif

/* 18: index scans take an instrumentation struct (NULL: none). */
#if PG_VERSION_NUM >= 180000
#define c5m_index_beginscan(heap, index, snapshot, nkeys, norderbys) \
	index_beginscan((heap), (index), (snapshot), NULL, (nkeys), (norderbys))
#else
#define c5m_index_beginscan(heap, index, snapshot, nkeys, norderbys) \
	index_beginscan((heap), (index), (snapshot), (nkeys), (norderbys))
#endif

#endif							/* C5M_COMPAT_H */
