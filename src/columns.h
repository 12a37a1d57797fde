/*-------------------------------------------------------------------------
 *
 * columns.h
 *		A trigger argument's column and values, resolved against its table.
 *
 * See columns.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef C5M_COLUMNS_H
#define C5M_COLUMNS_H

#include "utils/palloc.h"
#include "utils/relcache.h"

typedef enum C5ColKind
{
	C5_COL_OTHER,
	C5_COL_TEXT,				/* text, varchar, citext: binary-coercible
								 * to text */
	C5_COL_BPCHAR,				/* char(n): trailing blanks ignored */
	C5_COL_NAME,
	C5_COL_ENUM,				/* an enum, or a domain over one */
	C5_COL_INT					/* int2, int4, int8 */
} C5ColKind;

typedef struct C5Col
{
	AttrNumber	attnum;			/* 0 if the column does not exist */
	C5ColKind	kind;
	Oid			typid;
	int16		typlen;
	bool		typbyval;
} C5Col;

typedef struct C5Value
{
	char	   *text;			/* configured value, in TopMemoryContext */
	int			len;
	Oid			enumoid;		/* its enum label OID, for enum columns */
} C5Value;

extern void c5m_resolve_col(Relation rel, const char *name, C5Col *col);
extern bool c5m_col_text(const C5Col *col, Datum d, bool isnull,
						 const char **s, int *len, char *buf);
extern uint32 c5m_sale_key(const C5Col *col, Datum d);
extern void c5m_resolve_value(const C5Col *col, const char *value, C5Value *v,
							  MemoryContext cxt);

/* Does the column's value equal a configured value?  (The stock trigger's
 * bulk path, and the refund-in check reading the rows back.) */
static inline bool
c5m_value_is(const C5Col *col, Datum d, bool isnull, const C5Value *v)
{
	const char *s;
	int			len;
	char		buf[NAMEDATALEN];

	if (isnull)
		return false;
	if (col->kind == C5_COL_ENUM)
		return DatumGetObjectId(d) == v->enumoid;
	return c5m_col_text(col, d, false, &s, &len, buf) &&
		len == v->len && memcmp(s, v->text, len) == 0;
}

#endif							/* C5M_COLUMNS_H */
