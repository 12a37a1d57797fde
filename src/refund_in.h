/*-------------------------------------------------------------------------
 *
 * refund_in.h
 *		The refund-in consistency check, run before commit.
 *
 * See refund_in.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef C5M_REFUND_IN_H
#define C5M_REFUND_IN_H



/* A sale whose refund-in movements are checked at commit (capture.c). */
typedef struct C5Check
{
	Oid			tgoid;			/* the stock trigger that saw them */
	Oid			relid;			/* its table */
	uint32		salekey;
	Datum		sale;			/* a by-reference value is a copy of ours */
	Oid			saletype;
	int16		typlen;
	bool		typbyval;
} C5Check;

extern void c5m_refund_in_invalidate(Datum arg, Oid relid);
extern void c5m_refund_in_check(const C5Check *checks, int n, int64 *over, int64 *norefund);

#endif							/* C5M_REFUND_IN_H */
