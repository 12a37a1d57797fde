/*-------------------------------------------------------------------------
 *
 * columns.c
 *		A trigger argument's column and values, resolved against its table.
 *
 * Every attachment names columns of its table and values they may hold
 * (a paid status, a movement type).  A column is resolved once into its
 * attribute number and how its values are read as text; a value into the
 * form the column holds it in, an enum label's OID for an enum.  The
 * triggers compare and hash row values through these (a sale id hashes
 * the same whatever integer or string type each table keeps it in), and
 * the refund-in check and the over-refund guard read rows back with them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/hash.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "parser/parse_coerce.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "columns.h"

/* Describe column `name` of the trigger's table; attnum 0 if absent. */
void
c5m_resolve_col(Relation rel, const char *name, C5Col *col)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			attnum = SPI_fnumber(desc, name);
	Form_pg_attribute att;
	Oid			base;

	memset(col, 0, sizeof(*col));
	if (attnum <= 0)
		return;
	att = TupleDescAttr(desc, attnum - 1);
	col->attnum = attnum;
	col->typid = att->atttypid;
	col->typlen = att->attlen;
	col->typbyval = att->attbyval;
	base = getBaseType(att->atttypid);
	switch (base)
	{
		case TEXTOID:
		case VARCHAROID:
			col->kind = C5_COL_TEXT;
			break;
		case BPCHAROID:
			col->kind = C5_COL_BPCHAR;
			break;
		case NAMEOID:
			col->kind = C5_COL_NAME;
			break;
		case INT2OID:
		case INT4OID:
		case INT8OID:
			col->kind = C5_COL_INT;
			break;
		default:
			/*
			 * A domain over an enum holds the enum's label OIDs.  A varlena
			 * that is implicitly binary-coercible to text (citext) is stored
			 * as text is: read as text, compared byte for byte, as its cast
			 * to text would.  _check_column() in the install script accepts
			 * the same types for the columns read as text.
			 */
			if (type_is_enum(base))
				col->kind = C5_COL_ENUM;
			else if (att->attlen == -1 && IsBinaryCoercible(base, TEXTOID))
				col->kind = C5_COL_TEXT;
			else
				col->kind = C5_COL_OTHER;
			break;
	}
}

/* OID of an enum label, or InvalidOid. */
static Oid
enum_label_oid(Oid typid, const char *label)
{
	HeapTuple	tup = SearchSysCache2(ENUMTYPOIDNAME, ObjectIdGetDatum(typid),
									  CStringGetDatum(label));
	Oid			result = InvalidOid;

	if (HeapTupleIsValid(tup))
	{
		result = ((Form_pg_enum) GETSTRUCT(tup))->oid;
		ReleaseSysCache(tup);
	}
	return result;
}

/* A configured value as column `col` holds it, allocated in `cxt`. */
void
c5m_resolve_value(const C5Col *col, const char *value, C5Value *v, MemoryContext cxt)
{
	v->text = MemoryContextStrdup(cxt, value);
	v->len = strlen(value);
	v->enumoid = col->kind == C5_COL_ENUM ?
		enum_label_oid(getBaseType(col->typid), value) : InvalidOid;
}

/*
 * The text of a column's value, without copying when it can be avoided.
 * False for NULL or a type we cannot read as text.
 */
pg_attribute_hot bool
c5m_col_text(const C5Col *col, Datum d, bool isnull, const char **s, int *len,
			 char *buf)
{
	if (isnull)
		return false;
	switch (col->kind)
	{
		case C5_COL_TEXT:
		case C5_COL_BPCHAR:
			{
				struct varlena *v = (struct varlena *) DatumGetPointer(d);

				if (VARATT_IS_EXTERNAL(v) || VARATT_IS_COMPRESSED(v))
					v = pg_detoast_datum_packed(v);
				*s = VARDATA_ANY(v);
				*len = VARSIZE_ANY_EXHDR(v);
				if (col->kind == C5_COL_BPCHAR)
					while (*len > 0 && (*s)[*len - 1] == ' ')
						(*len)--;
				return true;
			}
		case C5_COL_NAME:
			*s = NameStr(*DatumGetName(d));
			*len = strlen(*s);
			return true;
		case C5_COL_ENUM:
			{
				HeapTuple	tup = SearchSysCache1(ENUMOID, d);

				if (!HeapTupleIsValid(tup))
					return false;
				strlcpy(buf, NameStr(((Form_pg_enum) GETSTRUCT(tup))->enumlabel),
						NAMEDATALEN);
				ReleaseSysCache(tup);
				*s = buf;
				*len = strlen(buf);
				return true;
			}
		default:
			return false;
	}
}


/*
 * Hash of a sale id, equal for equal ids whatever integer width each
 * table uses for them, and for equal text whatever string type holds it
 * (a char(n) id without its padding, as its cast to text reads it).
 */
pg_attribute_hot uint32
c5m_sale_key(const C5Col *col, Datum d)
{
	int64		v;
	const char *s;
	int			len;

	switch (col->kind)
	{
		case C5_COL_INT:
			if (col->typlen == 8)
				v = DatumGetInt64(d);
			else if (col->typlen == 4)
				v = DatumGetInt32(d);
			else
				v = DatumGetInt16(d);
			return hash_bytes((const unsigned char *) &v, sizeof(v));
		case C5_COL_TEXT:
		case C5_COL_BPCHAR:
		case C5_COL_NAME:
			(void) c5m_col_text(col, d, false, &s, &len, NULL);
			return hash_bytes((const unsigned char *) s, len);
		default:
			return datum_image_hash(d, col->typbyval, col->typlen);
	}
}
