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



extern Size c5m_sli_shmem_size(void);
extern void c5m_sli_shmem_init(void);
extern PGDLLEXPORT void c5m_sli_tick(void);
extern PGDLLEXPORT long c5m_sli_next_tick_ms(void);
extern void c5m_sli_save(void);
extern void c5m_sli_load(void);
extern void c5m_sli_save_at_exit(int code, Datum arg);
extern double c5m_bucket_quantile(double q, const double *bounds,
								  const double *cum, int nb);

#endif							/* C5M_SLI_H */
