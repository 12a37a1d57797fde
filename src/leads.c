/*-------------------------------------------------------------------------
 *
 * leads.c
 *		The public-leads flow.
 *
 * c5metrics_leads_trigger (BEFORE INSERT FOR EACH ROW) counts a lead,
 * created when its transaction commits, rejected or failed when it rolls
 * back; with c5metrics.lead_throttle on, the throttle (throttle.c) may
 * refuse it first.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/trigger.h"

#include "capture.h"
#include "columns.h"
#include "leads.h"
#include "registry.h"
#include "settings.h"
#include "throttle.h"
#include "trigcache.h"

/* The leads flow's part of a level. */
typedef struct LeadsState
{
	int64		leads;
} LeadsState;

PG_FUNCTION_INFO_V1(c5metrics_leads_trigger);

static void
leads_merge(void *p, void *parent)
{
	((LeadsState *) parent)->leads += ((LeadsState *) p)->leads;
}

static void
leads_count_success(C5Level *lv, void *p, TimestampTz now, C5Sink *sink)
{
	c5m_sink_count(sink, c5m_shared->layout.base[C5_STORE_LEADS] + C5_LEAD_CREATED,
				   ((LeadsState *) p)->leads);
}

static void
leads_count_rollback(C5Level *lv, void *p, const C5Outcome *o, C5Sink *sink)
{
	c5m_sink_count(sink, c5m_shared->layout.base[C5_STORE_LEADS] +
				   (o->res == C5_REJECTED ? C5_LEAD_REJECTED : C5_LEAD_FAILURE),
				   ((LeadsState *) p)->leads);
}

const C5FlowKind c5m_leads_flow = {
	.flow = C5_FLOW_LEADS,
	.state_size = sizeof(LeadsState),
	.clear_size = sizeof(LeadsState),
	.merge = leads_merge,
	.count_success = leads_count_success,
	.count_rollback = leads_count_rollback,
};

/* ip column, email column */
static bool
leads_resolve(C5Trig *t, Relation rel, Trigger *tg, MemoryContext cxt)
{
	if (tg->tgnargs < 2)
		return false;
	c5m_resolve_col(rel, tg->tgargs[0], &t->c[0]);
	c5m_resolve_col(rel, tg->tgargs[1], &t->c[1]);
	return true;
}

/* leads: BEFORE INSERT FOR EACH ROW, with the optional throttle. */
Datum
c5metrics_leads_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	C5Trig	   *t;
	C5Level    *lv;

	t = c5m_insert_trigger_begin(fcinfo, "c5metrics_leads_trigger", true, C5_FLOW_LEADS,
								 leads_resolve, &lv);
	if (t == NULL)
		return PointerGetDatum(td->tg_trigtuple);

	if (c5m_lead_throttle)
		c5m_lead_throttle_check(t, td, lv);
	c5m_note_flow(lv, C5_FLOW_LEADS);
	((LeadsState *) c5m_flow_state(lv, C5_FLOW_LEADS))->leads++;
	return PointerGetDatum(td->tg_trigtuple);
}
