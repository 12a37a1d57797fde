/*-------------------------------------------------------------------------
 *
 * throttle.c
 *		The lead throttle: token buckets in shared memory.
 *
 * Opt-in (c5metrics.lead_throttle): a lead over the rate of its source
 * address, its email or the whole site is refused with SQLSTATE 53M01
 * (C5M02 with c5metrics.legacy_sqlstates), which the application answers
 * with HTTP 429; the throttled lead is counted at once, whatever becomes
 * of the transaction.  One of the two capture paths allowed to raise an
 * error into the user's transaction (the other: refund_guard.c).
 *
 * One global bucket, C5M_THROTTLE_SLOTS buckets shared by hash among
 * source addresses and as many among emails.  Two keys of a scope that
 * collide share a bucket refilled at the scope's rate, which can only
 * throttle earlier.  The buckets are protected by the tranche's lock
 * C5M_LOCK_THROTTLE.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/hash.h"
#include "commands/trigger.h"
#include "storage/shmem.h"
#include "utils/datum.h"
#include "utils/timestamp.h"

#include "capture.h"
#include "columns.h"
#include "registry.h"
#include "settings.h"
#include "throttle.h"
#include "trigcache.h"

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
		throttle->lock = c5m_lock(C5M_LOCK_THROTTLE);
		throttle->global.scope = -1;
		for (i = 0; i < C5M_THROTTLE_SLOTS; i++)
		{
			throttle->slots[C5_SCOPE_IP][i].scope = -1;
			throttle->slots[C5_SCOPE_EMAIL][i].scope = -1;
		}
	}
	LWLockRelease(AddinShmemInitLock);
}



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
	c5m_count(l->base[C5_STORE_LEADS] + C5_LEAD_THROTTLED, 1);
	c5m_count(l->base[C5_STORE_THROTTLED] + blocked, 1);
	c5m_count(l->base[C5_STORE_LEADS_429], 1);
	c5m_note_flow(lv, C5_FLOW_LEADS);
	c5m_note_guard(lv, C5M_ERRCODE_LEAD_THROTTLED);
	ereport(ERROR,
			(errcode(c5m_legacy_sqlstates ? C5M_ERRCODE_LEGACY_LEAD_THROTTLED :
					 C5M_ERRCODE_LEAD_THROTTLED),
			 errmsg("lead throttled"),
			 errdetail("Too many leads from this %s; retry later.", scope_names[blocked]),
			 errhint("The application should answer HTTP 429. Rates are set by c5metrics.lead_*_per_minute."),
			 errtable(td->tg_relation)));
}
