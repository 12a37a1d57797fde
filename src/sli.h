/*-------------------------------------------------------------------------
 *
 * sli.h
 *		The SLI ring.
 *
 * See sli.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef C5M_SLI_H
#define C5M_SLI_H

#include "datatype/timestamp.h"
#include "catalog.h"

/* c5metrics.sli's windows (5m to 30d), then the budget window. */
#define C5M_SLI_NWINDOWS 9

/* Each SLO's events over one window, ending at the latest sample. */
typedef struct C5SliWindow
{
	const char *name;			/* "5m" .. "30d", "budget" */
	int			seconds;
	bool		any;			/* a sample lies within it */
	double		covered;		/* seconds between its first sample and the latest */
	uint64		good[C5_NSLOS];
	uint64		total[C5_NSLOS];
} C5SliWindow;

typedef struct C5SliReport
{
	TimestampTz as_of;			/* the latest sample; 0: none yet */
	C5SliWindow w[C5M_SLI_NWINDOWS];
} C5SliReport;

/* One interval of a sparkline (c5m_sli_series). */
typedef struct C5SliPoint
{
	TimestampTz at;				/* its end */
	bool		have;			/* samples at both ends: else a gap */
	uint64		good[C5_NSLOS];
	uint64		total[C5_NSLOS];
} C5SliPoint;

extern Size c5m_sli_shmem_size(void);
extern void c5m_sli_shmem_init(void);
extern PGDLLEXPORT void c5m_sli_tick(void);
extern PGDLLEXPORT long c5m_sli_next_tick_ms(void);
extern void c5m_sli_save(void);
extern void c5m_sli_load(void);
extern void c5m_sli_save_at_exit(int code, Datum arg);
extern PGDLLEXPORT void c5m_sli_report(C5SliReport *r);
extern PGDLLEXPORT void c5m_sli_series(const C5SliReport *r, int step, int npoints,
									   C5SliPoint *points);
extern double c5m_bucket_quantile(double q, const double *bounds,
								  const double *cum, int nb);

#endif							/* C5M_SLI_H */
