/*-------------------------------------------------------------------------
 *
 * persist.h
 *		Saving the registry at clean shutdown and loading it at start.
 *
 * See persist.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef C5M_PERSIST_H
#define C5M_PERSIST_H



extern void c5m_persist_load(void);
extern void c5m_persist_save(int code, Datum arg);
extern bool c5m_shut_down_cleanly(void);
extern const char *c5m_histogram_problem(const uint64 *buckets, uint64 sum_us,
										 const double *bounds, int nb);

#endif							/* C5M_PERSIST_H */
