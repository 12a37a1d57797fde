/*-------------------------------------------------------------------------
 *
 * readable.c
 *		Which tables c5metrics may read on a role's behalf.
 *
 * The over-refund guard reads (and locks) a sales table with the rights of
 * the refunds table's owner, and the refund-in check reads a refunds
 * table as the stock table's owner.  Which table is named by the trigger's
 * arguments, and anyone may create a trigger calling our trigger functions
 * with arguments of their own: the attach functions' checks are not
 * enough, so these tests are made again each time a guard or check runs.
 * They read only the catalogs (syscache), take no lock, and raise nothing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/transam.h"
#include "catalog/namespace.h"
#include "catalog/indexing.h"
#include "catalog/pg_class.h"
#include "catalog/pg_extension.h"
#include "miscadmin.h"
#include "parser/scansup.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/lsyscache.h"
#include "utils/rls.h"
#include "utils/syscache.h"

#include "readable.h"

/*
 * An OID given as a trigger argument: decimal digits and nothing else.
 * (atooid() would read "12abc" as 12 and "abc" as 0.)
 */
bool
c5m_parse_oid(const char *s, Oid *oid)
{
	char	   *end;
	unsigned long v;

	if (s == NULL || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > PG_UINT32_MAX)
		return false;
	*oid = (Oid) v;
	return true;
}

/*
 * One identifier of a qualified name at *p, as the SQL lexer reads it: a
 * quoted one with "" for a quote, or a plain one folded to lower case.
 * False for anything else (an empty name, a quote left open, one longer
 * than a name can be); *p is moved past it.
 */
static bool
scan_ident(const char **p, char *out)
{
	const char *s = *p;
	int			len = 0;

	if (*s == '"')
	{
		for (s++;; s++)
		{
			if (*s == '\0')
				return false;
			if (*s == '"')
			{
				if (s[1] != '"')
					break;
				s++;
			}
			if (len >= NAMEDATALEN - 1)
				return false;
			out[len++] = *s;
		}
		s++;
		out[len] = '\0';
	}
	else
	{
		const char *start = s;
		char	   *folded;

		while (*s != '\0' && *s != '.')
			s++;
		if (s == start || s - start >= NAMEDATALEN)
			return false;
		folded = downcase_identifier(start, s - start, false, false);
		strlcpy(out, folded, NAMEDATALEN);
		pfree(folded);
	}
	*p = s;
	return len > 0 || out[0] != '\0';
}

/*
 * Is c5metrics' SQL in this database older than 1.4?  False when the
 * extension is not installed.  ddl.c does nothing for such a database
 * (the functions it calls come with 1.4).  And 1.4's update names the
 * tables that 1.3 gave by OID: until it runs, an OID in a
 * trigger's arguments is the table it was when attached; after it, an OID
 * can only come from a dump of a 1.3 database, where it names nothing or,
 * worse, another table, and is not trusted.
 */
bool
c5m_sql_before_1_4(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		old = false;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum("c5metrics"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, Anum_pg_extension_extversion,
									 RelationGetDescr(rel), &isnull);
		char	   *v = isnull ? "" : TextDatumGetCString(d);

		old = strcmp(v, "1.0") == 0 || strcmp(v, "1.1") == 0 ||
			strcmp(v, "1.2") == 0 || strcmp(v, "1.3") == 0;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return old;
}

/*
 * The table a trigger argument names (sales_table of a refunds trigger,
 * refunds_table of a stock trigger).  Since 1.4 the attach functions write
 * the schema-qualified name, which pg_dump carries into another database
 * and which c5metrics rewrites when the table or its schema is renamed
 * (ddl.c); 1.3 wrote the OID, which is still read until the update
 * rewrites those triggers, and not after.  An empty argument, or "0",
 * names no table.
 * False when the argument is malformed; *relid is InvalidOid when it names
 * no existing table.  Syscache lookups only: no lock, no error.
 */
bool
c5m_table_ref(const char *arg, Oid *relid)
{
	char		nsp[NAMEDATALEN];
	char		rel[NAMEDATALEN];
	const char *p = arg;
	Oid			nspid;

	*relid = InvalidOid;
	if (arg == NULL)
		return false;
	if (*arg == '\0')
		return true;
	if (*arg >= '0' && *arg <= '9')
	{
		if (!c5m_parse_oid(arg, relid))
			return false;
		if (!OidIsValid(*relid))
			return true;		/* "0": none */
		if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(*relid)) || !c5m_sql_before_1_4())
			*relid = InvalidOid;
		return true;
	}
	if (!scan_ident(&p, nsp) || *p++ != '.' || !scan_ident(&p, rel) || *p != '\0')
		return false;
	nspid = get_namespace_oid(nsp, true);
	if (OidIsValid(nspid))
		*relid = get_relname_relid(rel, nspid);
	return true;
}

/* The owner of relation `relid`, or InvalidOid when there is none. */
Oid
c5m_rel_owner(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner = InvalidOid;

	if (HeapTupleIsValid(tup))
	{
		owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
		ReleaseSysCache(tup);
	}
	return owner;
}

/*
 * May c5metrics read `relid` directly or through SPI?  Only a plain table:
 * reading a view, a foreign table or a materialized view's query could run
 * code, and the guard's scans handle neither those nor a partitioned table
 * or an index.  Not a relation made by initdb (system catalogs, which
 * IsCatalogRelationOid() tells by an OID below FirstUnpinnedObjectId, and
 * information_schema's tables), and not another session's temporary table,
 * whose rows are in that session's local buffers.  From the catalogs,
 * without a lock: it is asked before one is taken.
 */
bool
c5m_plain_table(Oid relid)
{
	HeapTuple	tup;
	Form_pg_class c;
	bool		ok;

	if (relid < FirstNormalObjectId)
		return false;
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		return false;
	c = (Form_pg_class) GETSTRUCT(tup);
	ok = c->relkind == RELKIND_RELATION &&
		(c->relpersistence != RELPERSISTENCE_TEMP || isTempNamespace(c->relnamespace));
	ReleaseSysCache(tup);
	return ok;
}

/*
 * Could `role` read columns `cols` of every row of `relid` with a plain
 * SELECT: the SELECT privilege on the table or on each of the columns, and
 * no row-level security applying to it?  False, not an error, for a
 * relation dropped meanwhile (a syscache miss may take in invalidations).
 */
bool
c5m_role_reads(Oid relid, Oid role, int ncols, const AttrNumber *cols)
{
	bool		missing = false;
	int			i;

	if (check_enable_rls(relid, role, true) == RLS_ENABLED)
		return false;
	if (pg_class_aclcheck_ext(relid, role, ACL_SELECT, &missing) == ACLCHECK_OK)
		return true;
	for (i = 0; i < ncols && !missing; i++)
		if (cols[i] <= 0 ||
			pg_attribute_aclcheck_ext(relid, cols[i], role, ACL_SELECT,
									  &missing) != ACLCHECK_OK)
			return false;
	return !missing;
}
