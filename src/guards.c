/*-------------------------------------------------------------------------
 *
 * guards.c
 *		The opt-in guards (over-refund, lead throttle) and the refund-in
 *		consistency check.
 *
 * These are the only capture paths allowed to raise an error into the
 * user's transaction, and only with their documented SQLSTATEs:
 *	- C5M01: a refund would exceed what is left to refund on its sale;
 *	- C5M02: a lead was throttled (the application answers HTTP 429).
 *
 * The over-refund guard locks the sale row (FOR UPDATE) and then sums the
 * sale's refunds with a fresh snapshot, so under READ COMMITTED two
 * sessions refunding the same sale are serialized on the row lock and the
 * second sees the first's refund.  Like PostgreSQL's foreign-key checks,
 * its queries run as the refunds table's owner, so the role inserting
 * refunds needs no privilege on the sales table.
 *
 * The throttle keeps token buckets in shared memory: one global bucket,
 * C5M_THROTTLE_SLOTS buckets shared by hash among source addresses and as
 * many among emails.  Two keys of a scope that collide share a bucket
 * refilled at the scope's rate, which can only throttle earlier.
 *
 * Locking: the throttle's buckets are protected by their own LWLock
 * (second lock of the "c5metrics" tranche).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/hash.h"
#include "access/xact.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "c5metrics.h"

#define C5M_THROTTLE_SLOTS	4096

typedef struct C5Bucket
{
	uint32		key;			/* hash of the address or email */
	int32		scope;			/* C5Scope owning the bucket, -1 if unused */
	double		tokens;
	TimestampTz last;			/* when tokens was computed */
} C5Bucket;

typedef struct C5Throttle
{
	LWLock	   *lock;			/* protects everything below */
	C5Bucket	global;
	C5Bucket	slots[2][C5M_THROTTLE_SLOTS];	/* per address, per email */
} C5Throttle;

static C5Throttle *throttle = NULL;

/* Sales already checked for refund-in mismatches in this transaction. */
static LocalTransactionId checked_lxid = InvalidLocalTransactionId;
static HTAB *checked = NULL;	/* in TopTransactionContext */

PG_FUNCTION_INFO_V1(c5metrics_refund_in_check);

Size
c5m_throttle_shmem_size(void)
{
	return MAXALIGN(sizeof(C5Throttle));
}

void
c5m_throttle_shmem_init(void)
{
	bool		found;
	int			i;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	throttle = ShmemInitStruct("c5metrics throttle", sizeof(C5Throttle), &found);
	if (!found)
	{
		throttle->lock = &(GetNamedLWLockTranche("c5metrics"))[1].lock;
		throttle->global.scope = -1;
		for (i = 0; i < C5M_THROTTLE_SLOTS; i++)
		{
			throttle->slots[C5_SCOPE_IP][i].scope = -1;
			throttle->slots[C5_SCOPE_EMAIL][i].scope = -1;
		}
	}
	LWLockRelease(AddinShmemInitLock);
}

void
c5m_trig_release(C5Trig *t)
{
	int			i;

	for (i = 0; i < lengthof(t->plan); i++)
		if (t->plan[i] != NULL)
			SPI_freeplan((SPIPlanPtr) t->plan[i]);
	for (i = 0; i < lengthof(t->v); i++)
		if (t->v[i].text != NULL)
			pfree(t->v[i].text);
	for (i = 0; i < t->nallowed; i++)
		pfree(t->allowed[i].text);
}

/* ---- lead throttle ---- */

/*
 * Take one token from a bucket refilled at `per_minute`, with a burst of
 * as many.  Caller holds the throttle lock.
 */
static bool
take_token(C5Bucket *b, C5Scope scope, uint32 key, double per_minute,
		   TimestampTz now)
{
	double		elapsed;

	if (b->scope < 0)
	{
		b->scope = scope;
		b->key = key;
		b->tokens = per_minute;
		b->last = now;
	}
	elapsed = (now - b->last) / 1000000.0;
	if (elapsed > 0)
		b->tokens = Min(per_minute, b->tokens + elapsed * per_minute / 60.0);
	b->last = now;

	/* a full bucket holds nothing worth keeping: hand it to the new key */
	if ((b->key != key || b->scope != (int32) scope) && b->tokens >= per_minute)
	{
		b->scope = scope;
		b->key = key;
	}
	if (b->tokens >= 1.0)
	{
		b->tokens -= 1.0;
		return true;
	}
	return false;
}

static uint32
text_key(const C5Col *col, Datum d, bool lower)
{
	const char *s;
	int			len;
	char		buf[NAMEDATALEN];
	char	   *tmp;
	uint32		h;

	if (!c5m_col_text(col, d, false, &s, &len, buf))
		return datum_image_hash(d, col->typbyval, col->typlen);
	if (!lower)
		return hash_bytes((const unsigned char *) s, len);
	tmp = pnstrdup(s, len);
	for (int i = 0; i < len; i++)
		tmp[i] = pg_ascii_tolower((unsigned char) tmp[i]);
	h = hash_bytes((const unsigned char *) tmp, len);
	pfree(tmp);
	return h;
}

void
c5m_lead_throttle_check(C5Trig *t, TriggerData *td, C5Level *lv)
{
	static const char *const scope_names[] = {"source address", "email", "site"};
	TimestampTz now = GetCurrentTimestamp();
	int			blocked = -1;
	bool		isnull;
	Datum		d;
	uint32		key[2] = {0, 0};
	bool		have[2] = {false, false};
	int			s;
	const C5Layout *l = &c5m_shared->layout;

	for (s = 0; s < 2; s++)
	{
		if (t->c[s].attnum <= 0)
			continue;
		d = slot_getattr(td->tg_trigslot, t->c[s].attnum, &isnull);
		if (isnull)
			continue;
		/* emails compare case-insensitively; addresses as stored */
		key[s] = text_key(&t->c[s], d, s == C5_SCOPE_EMAIL);
		have[s] = true;
	}

	LWLockAcquire(throttle->lock, LW_EXCLUSIVE);
	if (have[C5_SCOPE_IP] &&
		!take_token(&throttle->slots[C5_SCOPE_IP][key[0] % C5M_THROTTLE_SLOTS],
					C5_SCOPE_IP, key[0], c5m_lead_rate_ip, now))
		blocked = C5_SCOPE_IP;
	else if (have[C5_SCOPE_EMAIL] &&
			 !take_token(&throttle->slots[C5_SCOPE_EMAIL][key[1] % C5M_THROTTLE_SLOTS],
						 C5_SCOPE_EMAIL, key[1], c5m_lead_rate_email, now))
		blocked = C5_SCOPE_EMAIL;
	else if (!take_token(&throttle->global, C5_SCOPE_GLOBAL, 0,
						 c5m_lead_rate_global, now))
		blocked = C5_SCOPE_GLOBAL;
	LWLockRelease(throttle->lock);

	if (blocked < 0)
		return;

	/* a throttled lead is counted now, whatever becomes of the transaction */
	c5m_count(l->leads + C5_LEAD_THROTTLED, 1);
	c5m_count(l->throttled + blocked, 1);
	c5m_count(l->leads_429, 1);
	c5m_note_flow(lv, C5_FLOW_LEADS);
	c5m_note_guard(lv, C5M_ERRCODE_LEAD_THROTTLED);
	ereport(ERROR,
			(errcode(C5M_ERRCODE_LEAD_THROTTLED),
			 errmsg("lead throttled"),
			 errdetail("Too many leads from this %s; retry later.", scope_names[blocked]),
			 errhint("The application should answer HTTP 429. Rates are set by c5metrics.lead_*_per_minute."),
			 errtable(td->tg_relation)));
}

/* ---- over-refund guard ---- */

static char *
qualified_name(Oid relid)
{
	char	   *rel = get_rel_name(relid);

	if (rel == NULL)
		return NULL;
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), rel);
}

/*
 * Plans: [0] locks the sale row; [1] answers whether the key exists
 * already, the remainder as text, and whether the amount exceeds it.
 */
static bool
prepare_guard(C5Trig *t, TriggerData *td)
{
	char	  **a = td->tg_trigger->tgargs;
	Oid			sales = atooid(a[4]);
	char	   *sales_name = qualified_name(sales);
	char	   *refunds_name = qualified_name(t->relid);
	Oid			argtypes[3];
	StringInfoData q;
	SPIPlanPtr	plan;

	if (sales_name == NULL || refunds_name == NULL)
		return false;
	argtypes[0] = t->c[0].typid;
	argtypes[1] = t->c[1].typid;
	argtypes[2] = t->c[3].attnum > 0 ? t->c[3].typid : TEXTOID;

	initStringInfo(&q);
	appendStringInfo(&q, "SELECT 1 FROM %s s WHERE s.%s = $1 FOR UPDATE OF s",
					 sales_name, quote_identifier(a[5]));
	plan = SPI_prepare(q.data, 1, argtypes);
	if (plan == NULL || SPI_keepplan(plan) != 0)
		return false;
	t->plan[0] = plan;

	resetStringInfo(&q);
	appendStringInfoString(&q, "SELECT ");
	if (t->c[3].attnum > 0)
		appendStringInfo(&q, "EXISTS (SELECT 1 FROM %s x WHERE x.%s = $3)",
						 refunds_name, quote_identifier(a[3]));
	else
		appendStringInfoString(&q, "$3::text IS NULL AND false");
	appendStringInfo(&q, ", r.remainder::text, r.remainder < $2 FROM "
					 "(SELECT (SELECT s.%s FROM %s s WHERE s.%s = $1) - "
					 "(SELECT coalesce(sum(x.%s), 0) FROM %s x WHERE x.%s = $1) "
					 "AS remainder) r",
					 quote_identifier(a[6]), sales_name, quote_identifier(a[5]),
					 quote_identifier(a[1]), refunds_name, quote_identifier(a[0]));
	plan = SPI_prepare(q.data, 3, argtypes);
	if (plan == NULL || SPI_keepplan(plan) != 0)
		return false;
	t->plan[1] = plan;
	return true;
}

void
c5m_refund_guard_check(C5Trig *t, TriggerData *td, C5Level *lv)
{
	Datum		values[3];
	char		nulls[3] = {' ', ' ', 'n'};
	bool		isnull;
	Oid			save_userid;
	int			save_sec;
	bool		dup = false;
	bool		over = false;
	char	   *remainder = NULL;

	values[0] = slot_getattr(td->tg_trigslot, t->c[0].attnum, &isnull);
	if (isnull)
		return;
	values[1] = slot_getattr(td->tg_trigslot, t->c[1].attnum, &isnull);
	if (isnull)
		return;
	values[2] = (Datum) 0;
	if (t->c[3].attnum > 0)
	{
		values[2] = slot_getattr(td->tg_trigslot, t->c[3].attnum, &isnull);
		nulls[2] = isnull ? 'n' : ' ';
	}

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(t->owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_NOFORCE_RLS);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (t->plan[0] == NULL && !prepare_guard(t, td))
	{
		/* the sales table is gone: nothing to guard against */
		SPI_finish();
		SetUserIdAndSecContext(save_userid, save_sec);
		c5m_note_lost();
		return;
	}
	SPI_execute_plan((SPIPlanPtr) t->plan[0], values, nulls, false, 0);
	if (SPI_execute_plan((SPIPlanPtr) t->plan[1], values, nulls, false, 1) == SPI_OK_SELECT &&
		SPI_processed == 1)
	{
		HeapTuple	row = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;

		dup = DatumGetBool(SPI_getbinval(row, desc, 1, &isnull)) && !isnull;
		over = DatumGetBool(SPI_getbinval(row, desc, 3, &isnull)) && !isnull;
		remainder = SPI_getvalue(row, desc, 2);
		if (remainder != NULL)
			remainder = pstrdup(remainder);
	}
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec);

	/* a retry with a key already used is a conflict, not an over-refund */
	if (dup || !over)
		return;

	c5m_count(c5m_shared->layout.over_refund, 1);
	if (!c5m_refund_guard)
		return;
	c5m_note_guard(lv, C5M_ERRCODE_OVER_REFUND);
	ereport(ERROR,
			(errcode(C5M_ERRCODE_OVER_REFUND),
			 errmsg("refund exceeds the refundable remainder of its sale"),
			 errdetail("The sale has %s left to refund.", remainder ? remainder : "nothing"),
			 errhint("Refund at most the remainder. To only count such refunds, set c5metrics.refund_guard to off."),
			 errtable(td->tg_relation)));
}

/* ---- refund-in consistency, checked at commit ---- */

/*
 * stock movements: a deferred constraint trigger on refund-in rows.  Runs
 * at commit, when the whole transaction is visible, and counts
 * stock_refund_in_mismatch_total once per sale: more put back than was
 * consumed (over_restock), or put back with no refund (no_refund).  It may
 * not fail the commit, so its queries run in a subtransaction whose errors
 * are counted and dropped -- except a cancel or shutdown, which must win.
 */
Datum
c5metrics_refund_in_check(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	char	  **a;
	C5Col		type,
				sale;
	Datum		saleval;
	bool		isnull;
	uint32		key;
	volatile bool over = false;
	volatile bool norefund = false;
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;

	if (!CALLED_AS_TRIGGER(fcinfo) || td->tg_trigger->tgnargs < 7)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"c5metrics_refund_in_check\" must be attached by c5metrics.track_stock()")));
	a = td->tg_trigger->tgargs;
	if (!c5m_registry_ready())
		return PointerGetDatum(NULL);

	c5m_resolve_col(td->tg_relation, a[3], &sale);
	c5m_resolve_col(td->tg_relation, a[0], &type);
	if (sale.attnum <= 0 || type.attnum <= 0)
	{
		c5m_note_lost();
		return PointerGetDatum(NULL);
	}
	saleval = slot_getattr(td->tg_trigslot, sale.attnum, &isnull);
	if (isnull)
		return PointerGetDatum(NULL);

	key = c5m_sale_key(&sale, saleval);

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);
	PG_TRY();
	{
		Oid			save_userid;
		int			save_sec;
		char	   *stock;
		char	   *refunds;
		StringInfoData q;
		Oid			argtype = sale.typid;
		bool		found;

		/* once per sale and transaction; the set outlives this subtransaction */
		if (checked == NULL || checked_lxid != MyProc->lxid)
		{
			HASHCTL		ctl;

			ctl.keysize = sizeof(uint32);
			ctl.entrysize = sizeof(uint32);
			ctl.hcxt = TopTransactionContext;
			checked = hash_create("c5metrics refund-in checks", 64, &ctl,
								  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
			checked_lxid = MyProc->lxid;
		}
		hash_search(checked, &key, HASH_ENTER, &found);
		if (found)
		{
			ReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(oldcontext);
			CurrentResourceOwner = oldowner;
			return PointerGetDatum(NULL);
		}
		stock = qualified_name(RelationGetRelid(td->tg_relation));
		refunds = qualified_name(atooid(a[5]));

		initStringInfo(&q);
		appendStringInfo(&q,
						 "SELECT (SELECT coalesce(sum(m.%s) FILTER (WHERE m.%s = %s), 0) < "
						 "coalesce(sum(m.%s) FILTER (WHERE m.%s = %s), 0) "
						 "FROM %s m WHERE m.%s = $1)",
						 quote_identifier(a[4]), quote_identifier(a[0]), quote_literal_cstr(a[1]),
						 quote_identifier(a[4]), quote_identifier(a[0]), quote_literal_cstr(a[2]),
						 stock, quote_identifier(a[3]));
		if (refunds != NULL)
			appendStringInfo(&q, ", NOT EXISTS (SELECT 1 FROM %s r WHERE r.%s = $1)",
							 refunds, quote_identifier(a[6]));

		GetUserIdAndSecContext(&save_userid, &save_sec);
		SetUserIdAndSecContext(td->tg_relation->rd_rel->relowner,
							   save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS);
		SPI_connect();
		if (SPI_execute_with_args(q.data, 1, &argtype, &saleval, NULL, true, 1) == SPI_OK_SELECT &&
			SPI_processed == 1)
		{
			over = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) && !isnull;
			if (refunds != NULL)
				norefund = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)) && !isnull;
		}
		SPI_finish();
		SetUserIdAndSecContext(save_userid, save_sec);

		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) == ERRCODE_OPERATOR_INTERVENTION)
			PG_RE_THROW();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
		FreeErrorData(edata);
		c5m_note_lost();
		return PointerGetDatum(NULL);
	}
	PG_END_TRY();

	{
		C5Level    *lv = c5m_level();

		if (lv != NULL)
		{
			if (over)
				c5m_note_mismatch(lv, C5_MISMATCH_OVER_RESTOCK);
			if (norefund)
				c5m_note_mismatch(lv, C5_MISMATCH_NO_REFUND);
		}
	}
	return PointerGetDatum(NULL);
}
