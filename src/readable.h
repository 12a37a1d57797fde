/*-------------------------------------------------------------------------
 *
 * readable.h
 *		Which tables c5metrics may read on a role's behalf.
 *
 * See readable.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef C5M_READABLE_H
#define C5M_READABLE_H



extern bool c5m_parse_oid(const char *s, Oid *oid);
extern bool c5m_table_ref(const char *arg, Oid *relid);
extern bool c5m_sql_before_1_4(void);
extern Oid	c5m_rel_owner(Oid relid);
extern bool c5m_plain_table(Oid relid);
extern bool c5m_role_reads(Oid relid, Oid role, int ncols, const AttrNumber *cols);

#endif							/* C5M_READABLE_H */
