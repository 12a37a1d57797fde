/*-------------------------------------------------------------------------
 *
 * sqlfuncs.c
 *		SQL-callable functions: reading, resetting, attach bookkeeping.
 *
 * Reading is granted to pg_monitor and pg_read_all_stats by the install
 * script, reset() and reset_labels() to nobody; attaching checks table
 * ownership in SQL, and only c5metrics._sync_tracked() may call
 * c5metrics._tracked_sync().  Every function that uses shared memory first
 * checks that the library was preloaded, and says how to fix it if not;
 * _trigger_args(), which only decodes its input for the tracked view, and
 * _comparable(), which only reads the catalogs, are for everyone.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "funcapi.h"
#include "miscadmin.h"
#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/syscache.h"

#include "exposition.h"
#include "refund_guard.h"
#include "labels.h"
#include "readable.h"
#include "registry.h"
#include "settings.h"

PG_FUNCTION_INFO_V1(c5metrics_read_metrics);
PG_FUNCTION_INFO_V1(c5metrics_exposition);
PG_FUNCTION_INFO_V1(c5metrics_reset);
PG_FUNCTION_INFO_V1(c5metrics_reset_labels);
PG_FUNCTION_INFO_V1(c5metrics_tracked_sync);
PG_FUNCTION_INFO_V1(c5metrics_check_preloaded);
PG_FUNCTION_INFO_V1(c5metrics_trigger_args);
PG_FUNCTION_INFO_V1(c5metrics_table_ref);
PG_FUNCTION_INFO_V1(c5metrics_comparable);

static void
require_preloaded(void)
{
	if (!c5m_registry_ready())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("c5metrics must be loaded via \"shared_preload_libraries\""),
				 errhint("Add c5metrics to shared_preload_libraries in postgresql.conf and restart the server.")));
}

/* Called by the install script, so CREATE EXTENSION fails early and clearly. */
Datum
c5metrics_check_preloaded(PG_FUNCTION_ARGS)
{
	require_preloaded();
	PG_RETURN_VOID();
}

/* ---- c5metrics.metrics: one row per series ---- */

typedef struct RowEmitter
{
	C5Emitter	e;
	ReturnSetInfo *rsinfo;
	const char *type;			/* of the current family */
	StringInfoData labels;
} RowEmitter;

static void
row_family(C5Emitter *e, const char *name, const char *type, const char *help)
{
	((RowEmitter *) e)->type = type;
}

static void
row_sample(C5Emitter *e, const char *name, const char *suffix, int nlabels,
		   const char *const *keys, const char *const *vals, uint64 value,
		   const char *valtext)
{
	RowEmitter *re = (RowEmitter *) e;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	int			i;

	resetStringInfo(&re->labels);
	appendStringInfoChar(&re->labels, '{');
	for (i = 0; i < nlabels; i++)
	{
		if (i > 0)
			appendStringInfoString(&re->labels, ", ");
		escape_json(&re->labels, keys[i]);
		appendStringInfoString(&re->labels, ": ");
		escape_json(&re->labels, vals[i]);
	}
	appendStringInfoChar(&re->labels, '}');

	values[0] = CStringGetTextDatum(psprintf("%s%s", name, suffix));
	values[1] = DirectFunctionCall1(jsonb_in, CStringGetDatum(re->labels.data));
	values[2] = valtext != NULL
		? DirectFunctionCall1(float8in, CStringGetDatum(valtext))
		: Float8GetDatum((double) value);
	values[3] = CStringGetTextDatum(re->type);
	tuplestore_putvalues(re->rsinfo->setResult, re->rsinfo->setDesc, values, nulls);
}

Datum
c5metrics_read_metrics(PG_FUNCTION_ARGS)
{
	RowEmitter	re;

	require_preloaded();
	InitMaterializedSRF(fcinfo, 0);
	re.e.family = row_family;
	re.e.sample = row_sample;
	re.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	re.type = NULL;
	initStringInfo(&re.labels);
	c5m_walk(c5m_snapshot_take(), &re.e);
	return (Datum) 0;
}

/* ---- c5metrics.exposition(): the Prometheus text format ---- */

Datum
c5metrics_exposition(PG_FUNCTION_ARGS)
{
	StringInfoData out;

	require_preloaded();
	initStringInfo(&out);
	c5m_render_text(c5m_snapshot_take(), &out);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(out.data, out.len));
}

Datum
c5metrics_reset(PG_FUNCTION_ARGS)
{
	require_preloaded();
	c5m_registry_reset();
	PG_RETURN_VOID();
}

/*
 * c5metrics.reset_labels(): empty the status dictionary and the dynamic
 * series of the whole cluster, and every database's share of them.  The
 * databases that no longer exist give their share entries back.
 */
Datum
c5metrics_reset_labels(PG_FUNCTION_ARGS)
{
	Oid			dbs[C5M_MAX_DATABASES];
	Oid			gone[C5M_MAX_DATABASES];
	int			ngone = 0;
	int			i;

	require_preloaded();
	LWLockAcquire(c5m_shared->lock, LW_SHARED);
	for (i = 0; i < C5M_MAX_DATABASES; i++)
		dbs[i] = c5m_shared->dbs[i].dboid;
	LWLockRelease(c5m_shared->lock);

	/* looked up without the registry lock; a dropped database never returns */
	for (i = 0; i < C5M_MAX_DATABASES; i++)
		if (OidIsValid(dbs[i]) &&
			!SearchSysCacheExists1(DATABASEOID, ObjectIdGetDatum(dbs[i])))
			gone[ngone++] = dbs[i];

	c5m_reset_labels(gone, ngone);
	PG_RETURN_VOID();
}

/*
 * c5metrics._tracked_sync(tables oid[], flows text[]): the attach functions
 * pass the complete list of this database's tracked tables after a change.
 */
Datum
c5metrics_tracked_sync(PG_FUNCTION_ARGS)
{
	ArrayType  *rels = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *flows = PG_GETARG_ARRAYTYPE_P(1);
	Datum	   *reld,
			   *flowd;
	bool	   *relnull,
			   *flownull;
	int			nrel,
				nflow,
				i,
				f;
	Oid		   *relids;
	int		   *flowids;
	bool	   *problems = NULL;

	require_preloaded();
	deconstruct_array(rels, OIDOID, sizeof(Oid), true, TYPALIGN_INT,
					  &reld, &relnull, &nrel);
	deconstruct_array(flows, TEXTOID, -1, false, TYPALIGN_INT,
					  &flowd, &flownull, &nflow);
	if (nrel != nflow)
		elog(ERROR, "c5metrics._tracked_sync needs arrays of equal length");
	relids = palloc(sizeof(Oid) * Max(nrel, 1));
	flowids = palloc(sizeof(int) * Max(nrel, 1));
	for (i = 0; i < nrel; i++)
	{
		char	   *name = flownull[i] ? "" : TextDatumGetCString(flowd[i]);

		relids[i] = DatumGetObjectId(reld[i]);
		flowids[i] = -1;
		for (f = 0; f < C5_NFLOWS; f++)
			if (strcmp(name, c5m_flow_name(f)) == 0)
				flowids[i] = f;
		if (flowids[i] < 0)
			elog(ERROR, "unknown c5metrics flow \"%s\"", name);
	}
	/* 1.4 passes whether each attachment has a problem; 1.3 did not */
	if (PG_NARGS() > 2)
	{
		Datum	   *probd;
		bool	   *probnull;
		int			nprob;

		deconstruct_array(PG_GETARG_ARRAYTYPE_P(2), BOOLOID, 1, true, TYPALIGN_CHAR,
						  &probd, &probnull, &nprob);
		if (nprob != nrel)
			elog(ERROR, "c5metrics._tracked_sync needs arrays of equal length");
		problems = palloc(sizeof(bool) * Max(nrel, 1));
		for (i = 0; i < nrel; i++)
			problems[i] = !probnull[i] && DatumGetBool(probd[i]);
	}
	c5m_tracked_sync(MyDatabaseId, nrel, relids, flowids, problems);
	PG_RETURN_VOID();
}

/*
 * c5metrics._trigger_args(tgargs bytea, tgnargs smallint): a trigger's
 * arguments as the trigger manager hands them to the trigger function, for
 * the tracked view.  Any role can create a trigger calling one of our
 * trigger functions, so whatever pg_trigger holds, this never raises: an
 * argument that is not valid in the database encoding is NULL, and
 * arguments missing from tgargs are left out.
 */
Datum
c5metrics_trigger_args(PG_FUNCTION_ARGS)
{
	bytea	   *args = PG_GETARG_BYTEA_PP(0);
	int			nargs = PG_GETARG_INT16(1);
	const char *p = VARDATA_ANY(args);
	const char *end = p + VARSIZE_ANY_EXHDR(args);
	Datum	   *elems;
	bool	   *nulls;
	int			n = 0;
	int			dims[1];
	int			lbs[1] = {1};

	if (nargs <= 0 || p >= end)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(TEXTOID));
	elems = palloc(sizeof(Datum) * nargs);
	nulls = palloc(sizeof(bool) * nargs);
	while (n < nargs && p < end)
	{
		const char *nul = memchr(p, '\0', end - p);
		int			len = nul != NULL ? nul - p : end - p;

		nulls[n] = !pg_verifymbstr(p, len, true);
		elems[n] = nulls[n] ? (Datum) 0 :
			PointerGetDatum(cstring_to_text_with_len(p, len));
		n++;
		p += len + 1;
	}
	dims[0] = n;
	PG_RETURN_ARRAYTYPE_P(construct_md_array(elems, nulls, 1, dims, lbs, TEXTOID,
											 -1, false, TYPALIGN_INT));
}

/*
 * c5metrics._table_ref(text): the table a trigger argument names (see
 * c5m_table_ref), or null; never raises.
 */
Datum
c5metrics_table_ref(PG_FUNCTION_ARGS)
{
	char	   *arg = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Oid			relid;

	if (!c5m_table_ref(arg, &relid) || !OidIsValid(relid))
		PG_RETURN_NULL();
	PG_RETURN_OID(relid);
}

/*
 * c5metrics._comparable(sale regtype, id regtype): may the over-refund
 * guard find sales by this pair of column types (c5m_guard_comparable)?
 * It only reads the catalogs, for any role; a type that does not exist is
 * not comparable.
 */
Datum
c5metrics_comparable(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(c5m_guard_comparable(PG_GETARG_OID(0), PG_GETARG_OID(1)));
}
