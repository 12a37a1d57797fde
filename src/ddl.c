/*-------------------------------------------------------------------------
 *
 * ddl.c
 *		Keep attachments right through the schema changes of a shop.
 *
 * An attachment is c5metrics' trigger on a table, its arguments naming
 * columns of that table and, for the over-refund guard and the refund-in
 * check, another table and its columns.  Names, because names are what
 * pg_dump carries into another database (1.3 kept the other table's OID,
 * which named nothing after a restore).  A rename would leave a name
 * behind, so this ProcessUtility hook follows them:
 *
 *	- RENAME of a table, a column or a schema, and ALTER TABLE ... SET
 *	  SCHEMA: before the statement, c5metrics._refs() takes every table and
 *	  column the triggers name, by OID and attribute number; after it,
 *	  c5metrics._follow() returns, for each trigger whose names changed,
 *	  the statement that makes it again with the new names, which runs here
 *	  as the trigger's table owner (the renaming role may own only the
 *	  table it renamed, as with a sales table read by another role's
 *	  refunds guard).
 *	- ALTER TABLE ... ALTER COLUMN ... TYPE of the sales status column,
 *	  on which the sales trigger depends through UPDATE OF: the trigger is
 *	  parked (dropped, its statement kept) before and made again after, so
 *	  that widening a varchar status just works.
 *	- Any other ALTER TABLE of a table that a trigger is on or reads: what
 *	  it broke (a mapped column dropped, or of a type its flow cannot
 *	  read; a tracked table attached as a partition) fails the statement,
 *	  with a HINT naming the statements that detach and attach again.
 *
 * All of it runs in the statement's transaction, so it commits or rolls
 * back with it, and only in databases where c5metrics is installed.  The
 * SQL side is in c5metrics--1.3--1.4.sql.  Nothing here is on a capture
 * path: an error here fails the DDL statement, never a business write.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "ddl.h"
#include "readable.h"
#include "registry.h"

static bool in_ddl_work = false;	/* our own statements are not followed */

/* What a statement needs done around it. */
typedef struct DdlWork
{
	bool		follow;			/* a rename: follow names after it */
	char	   *refs;			/* _refs() before the statement */
	List	   *rels;			/* ALTER TABLE: the tables to check after */
	char	   *problems;		/* _problems(rels) before the statement */
	List	   *cols;			/* ALTER COLUMN ... TYPE: the columns */
	List	   *parked;			/* statements re-making parked triggers */
	bool		sync;			/* only publish the attachments' problems */
} DdlWork;

/* A table's OID from a RangeVar, or InvalidOid; takes no lock. */
static Oid
table_of(RangeVar *rv)
{
	Oid			relid;

	if (rv == NULL)
		return InvalidOid;
	relid = RangeVarGetRelid(rv, NoLock, true);
	if (!OidIsValid(relid) ||
		(get_rel_relkind(relid) != RELKIND_RELATION &&
		 get_rel_relkind(relid) != RELKIND_PARTITIONED_TABLE))
		return InvalidOid;
	return relid;
}

/* Does the statement rename something c5metrics' triggers may name? */
static bool
is_rename(Node *parsetree)
{
	if (IsA(parsetree, RenameStmt))
	{
		RenameStmt *stmt = (RenameStmt *) parsetree;

		return stmt->renameType == OBJECT_TABLE || stmt->renameType == OBJECT_SCHEMA ||
			(stmt->renameType == OBJECT_COLUMN && stmt->relationType == OBJECT_TABLE);
	}
	if (IsA(parsetree, AlterObjectSchemaStmt))
		return ((AlterObjectSchemaStmt *) parsetree)->objectType == OBJECT_TABLE;
	return false;
}

/* The text of a one-column, one-row query's result, or NULL. */
static char *
query_text(const char *sql, int nargs, Oid *types, Datum *values)
{
	bool		isnull;
	Datum		d;

	if (SPI_execute_with_args(sql, nargs, types, values, NULL, false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		return NULL;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		return NULL;
	return MemoryContextStrdup(TopTransactionContext, TextDatumGetCString(d));
}

/* The OIDs of `rels` as an oid[] datum. */
static Datum
oid_array(List *rels)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(list_length(rels), 1));
	ListCell   *lc;
	int			n = 0;

	foreach(lc, rels)
		d[n++] = ObjectIdGetDatum(lfirst_oid(lc));
	return PointerGetDatum(construct_array(d, n, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
}

/*
 * The tables a rename, GRANT, CREATE INDEX or CREATE TRIGGER names, into
 * *rels; NIL when it may concern any (a schema renamed, ALL TABLES IN
 * SCHEMA).  False when it names no existing table.
 */
static bool
statement_tables(Node *parsetree, List **rels)
{
	RangeVar   *rv = NULL;
	Oid			relid;

	*rels = NIL;
	if (IsA(parsetree, RenameStmt))
	{
		if (((RenameStmt *) parsetree)->renameType == OBJECT_SCHEMA)
			return true;
		rv = ((RenameStmt *) parsetree)->relation;
	}
	else if (IsA(parsetree, AlterObjectSchemaStmt))
		rv = ((AlterObjectSchemaStmt *) parsetree)->relation;
	else if (IsA(parsetree, IndexStmt))
		rv = ((IndexStmt *) parsetree)->relation;
	else if (IsA(parsetree, CreateTrigStmt))
		rv = ((CreateTrigStmt *) parsetree)->relation;
	else if (IsA(parsetree, GrantStmt))
	{
		GrantStmt  *stmt = (GrantStmt *) parsetree;
		ListCell   *lc;

		if (stmt->targtype != ACL_TARGET_OBJECT)
			return true;
		foreach(lc, stmt->objects)
		{
			relid = table_of(lfirst_node(RangeVar, lc));
			if (OidIsValid(relid))
				*rels = lappend_oid(*rels, relid);
		}
		return *rels != NIL;
	}
	relid = table_of(rv);
	if (!OidIsValid(relid))
		return false;
	*rels = list_make1_oid(relid);
	return true;
}

/* Is any of c5metrics' triggers on, or reading, one of `rels`? */
static bool
concerned(List *rels)
{
	Oid			type = OIDARRAYOID;
	Datum		value = oid_array(rels);
	char	   *answer = query_text("SELECT c5metrics._concerned($1)::text", 1, &type, &value);

	return answer != NULL && strcmp(answer, "true") == 0;
}

/*
 * Before the statement: take what it needs.  Returns false when there is
 * nothing to do (not a statement we follow, or c5metrics not installed in
 * this database).
 */
static bool
ddl_before(Node *parsetree, DdlWork *w)
{
	Oid			types[2] = {OIDARRAYOID, NAMEARRAYOID};
	Datum		values[2];

	memset(w, 0, sizeof(*w));
	if (in_ddl_work || !IsTransactionState() || creating_extension || IsBinaryUpgrade)
		return false;
	if (IsA(parsetree, AlterTableStmt))
	{
		AlterTableStmt *stmt = (AlterTableStmt *) parsetree;
		Oid			relid = stmt->objtype == OBJECT_TABLE ? table_of(stmt->relation) : InvalidOid;
		ListCell   *lc;

		if (!OidIsValid(relid))
			return false;
		w->rels = list_make1_oid(relid);
		foreach(lc, stmt->cmds)
		{
			AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

			if (cmd->subtype == AT_AlterColumnType && cmd->name != NULL)
				w->cols = lappend(w->cols, cmd->name);
			else if (cmd->subtype == AT_AttachPartition)
			{
				Oid			part = table_of(((PartitionCmd *) cmd->def)->name);

				if (OidIsValid(part))
					w->rels = lappend_oid(w->rels, part);
			}
		}
	}
	else if (is_rename(parsetree))
		w->follow = true;
	else if (IsA(parsetree, IndexStmt) || IsA(parsetree, CreateTrigStmt) ||
			 (IsA(parsetree, GrantStmt) &&
			  ((GrantStmt *) parsetree)->objtype == OBJECT_TABLE))
		w->sync = true;			/* a unique index, a trigger, a privilege */
	else
		return false;
	if (!OidIsValid(get_extension_oid("c5metrics", true)) || c5m_sql_before_1_4())
		return false;
	if ((w->follow || w->sync) && !statement_tables(parsetree, &w->rels))
		return false;			/* names no table: nothing to do */

	in_ddl_work = true;
	PG_TRY();
	{
		SPI_connect();
		/* a statement about tables no trigger of ours is on or reads */
		if ((w->follow || w->sync) && w->rels != NIL && !concerned(w->rels))
			w->follow = w->sync = false;
		else if (w->follow)
		{
			/* a schema renamed (no table named): every trigger */
			Oid			type = OIDARRAYOID;
			Datum		value = w->rels != NIL ? oid_array(w->rels) : (Datum) 0;

			w->refs = query_text(w->rels != NIL ? "SELECT c5metrics._refs($1)::text" :
								 "SELECT c5metrics._refs(NULL)::text",
								 w->rels != NIL ? 1 : 0, &type, &value);
		}
		else if (!w->sync)
		{
			values[0] = oid_array(w->rels);
			w->problems = query_text("SELECT c5metrics._problems($1)::text", 1, types, values);
			if (w->problems != NULL && strcmp(w->problems, "{}") == 0)
				w->problems = NULL; /* no trigger of ours is concerned */
			if (w->problems != NULL && w->cols != NIL)
			{
				Datum	   *names = palloc(sizeof(Datum) * list_length(w->cols));
				ListCell   *lc;
				int			n = 0;
				bool		isnull;

				foreach(lc, w->cols)
					names[n++] = DirectFunctionCall1(namein, CStringGetDatum((char *) lfirst(lc)));
				values[0] = ObjectIdGetDatum(linitial_oid(w->rels));
				values[1] = PointerGetDatum(construct_array(names, n, NAMEOID, NAMEDATALEN,
															false, TYPALIGN_CHAR));
				types[0] = OIDOID;
				if (SPI_execute_with_args("SELECT unnest(c5metrics._park($1, $2))", 2, types,
										  values, NULL, false, 0) == SPI_OK_SELECT)
				{
					uint64		i;

					for (i = 0; i < SPI_processed; i++)
					{
						Datum		d = SPI_getbinval(SPI_tuptable->vals[i],
													  SPI_tuptable->tupdesc, 1, &isnull);

						if (!isnull)
						{
							/* kept past SPI_finish(), to the statement's end */
							MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

							w->parked = lappend(w->parked, TextDatumGetCString(d));
							MemoryContextSwitchTo(old);
						}
					}
				}
			}
		}
		SPI_finish();
	}
	PG_FINALLY();
	{
		in_ddl_work = false;
	}
	PG_END_TRY();
	return w->refs != NULL || w->problems != NULL || w->sync;
}

/* Run `sql` as `owner`, restricted, as foreign-key checks run as the owner. */
static void
execute_as(Oid owner, const char *sql)
{
	Oid			save_userid;
	int			save_sec;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	SPI_execute(sql, false, 0);
	SetUserIdAndSecContext(save_userid, save_sec);
}

/* After the statement succeeded: follow, restore, check, publish. */
static void
ddl_after(DdlWork *w)
{
	Oid			types[2] = {JSONBOID, OIDARRAYOID};
	Datum		values[2];
	volatile bool sync = w->sync || w->refs != NULL || w->parked != NIL;

	/* what the statement changed must be visible to the queries below */
	CommandCounterIncrement();
	in_ddl_work = true;
	PG_TRY();
	{
		SPI_connect();
		if (w->refs != NULL)
		{
			uint64		i,
						n;
			SPITupleTable *tt;

			values[0] = DirectFunctionCall1(jsonb_in, CStringGetDatum(w->refs));
			if (SPI_execute_with_args("SELECT rel, stmt FROM c5metrics._follow($1)", 1, types,
									  values, NULL, false, 0) != SPI_OK_SELECT)
				elog(ERROR, "c5metrics._follow() failed");
			tt = SPI_tuptable;
			n = SPI_processed;
			for (i = 0; i < n; i++)
			{
				bool		isnull;
				Oid			rel = DatumGetObjectId(SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull));
				char	   *stmt = SPI_getvalue(tt->vals[i], tt->tupdesc, 2);

				Oid			owner = c5m_rel_owner(rel);

				if (!OidIsValid(owner))
					elog(ERROR, "cache lookup failed for relation %u", rel);
				execute_as(owner, stmt);
			}
		}
		if (w->parked != NIL)
		{
			ListCell   *lc;

			foreach(lc, w->parked)
				SPI_execute((char *) lfirst(lc), false, 0);
		}
		if (w->problems != NULL)
		{
			char	   *changed;

			values[0] = oid_array(w->rels);
			values[1] = DirectFunctionCall1(jsonb_in, CStringGetDatum(w->problems));
			types[0] = OIDARRAYOID;
			types[1] = JSONBOID;
			changed = query_text("SELECT c5metrics._after_alter($1, $2)::text", 2, types, values);
			sync = sync || (changed != NULL && strcmp(changed, "true") == 0);
		}
		if (sync)
			SPI_execute("SELECT c5metrics._sync_tracked()", false, 0);
		SPI_finish();
	}
	PG_FINALLY();
	{
		in_ddl_work = false;
	}
	PG_END_TRY();
}

/*
 * Around a utility statement (the ProcessUtility hook, c5metrics.c):
 * what it needs before, `next` to run it, what it needs after.
 */
void
c5m_ddl_utility(PlannedStmt *pstmt, const char *queryString,
				bool readOnlyTree, ProcessUtilityContext context,
				ParamListInfo params, QueryEnvironment *queryEnv,
				DestReceiver *dest, QueryCompletion *qc,
				ProcessUtility_hook_type next)
{
	DdlWork		w;
	bool		work = ddl_before(pstmt->utilityStmt, &w);
	Oid			dropped_db = InvalidOid;

	if (IsA(pstmt->utilityStmt, DropdbStmt))
		dropped_db = get_database_oid(((DropdbStmt *) pstmt->utilityStmt)->dbname, true);

	next(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
	if (work)
		ddl_after(&w);

	/* a dropped database's tables are tracked no more */
	if (OidIsValid(dropped_db) && c5m_registry_ready())
		c5m_tracked_sync(dropped_db, 0, NULL, NULL, NULL);
}
