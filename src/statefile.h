/*-------------------------------------------------------------------------
 *
 * statefile.h
 *		The one way c5metrics writes and reads its state files.
 *
 * See statefile.c: a temporary name, fsync, a durable rename, so that a
 * reader never sees half a file.
 *
 *-------------------------------------------------------------------------
 */
#ifndef C5M_STATEFILE_H
#define C5M_STATEFILE_H

#include <stdio.h>

extern void c5m_state_remove(const char *path);
extern bool c5m_state_make_way(const char *path, bool keep_file, int elevel);
extern FILE *c5m_state_create(const char *tmp, int elevel);
extern bool c5m_state_install(const char *tmp, const char *path, int elevel);
extern FILE *c5m_state_open(const char *path, const char **problem);

#endif							/* C5M_STATEFILE_H */
