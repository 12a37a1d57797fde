/*-------------------------------------------------------------------------
 *
 * catalog.c
 *		The metric catalog as data, and the label-value domains.
 *
 * The rows of C5M_FAMILIES (catalog.h) laid out as an array, for layout.c
 * and exposition.c to walk, and the values of each fixed label domain in
 * the order their counters are kept.  Pure: no shared memory, no catalogs.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog.h"

const C5FamilyInfo c5m_families[C5_NFAMILIES] = {
#define C5M_FAMILY_ROW(id, name, type, shape, domain, keys, store, flow, help) \
	{name, type, shape, domain, keys, store, flow, help},
	C5M_FAMILIES(C5M_FAMILY_ROW)
#undef C5M_FAMILY_ROW
};

static const char *const result_names[C5_NCONSUME] = {"success", "rejected", "failure", "missing"};
static const char *const refund_type_names[C5_NREFUNDTYPES] = {"full", "partial", "other"};
static const char *const mismatch_names[C5_NMISMATCH] = {"over_restock", "no_refund"};
static const char *const lead_result_names[C5_NLEADRESULTS] = {"created", "rejected", "failure", "throttled"};
static const char *const scope_names[C5_NSCOPES] = {"ip", "email", "global"};
static const char *const dyn_names[C5_NDYN] = {"sales_transition_total", "exceptions_total"};
static const char *const refusal_names[C5_NREFUSALS] = {"limit", "deadline", "evicted"};
static const char *const flow_names[C5_NFLOWS] = {"sales", "stock", "refunds", "leads"};
static const char *const http_path_names[C5_NHTTPPATHS] = {
#define C5M_ROUTE_NAME(id, path) path,
	C5M_HTTP_ROUTES(C5M_ROUTE_NAME)
#undef C5M_ROUTE_NAME
	"other"
};
static const char *const http_code_names[C5_NHTTPCODES] = {"200", "401", "404", "405", "500", "503"};
static const char *const slo_names[C5_NSLOS] = {
#define C5M_SLO_NAME(id, name, objective, threshold, descr) name,
	C5M_SLOS(C5M_SLO_NAME)
#undef C5M_SLO_NAME
};

static const struct
{
	const char *const *names;	/* NULL: sqlstate.c's reasons (layout.c) */
	int			n;
} domains[C5_NDOMAINS] = {
	[C5_DOM_RESULT] = {result_names, C5_NRESULTS},
	[C5_DOM_CONSUME] = {result_names, C5_NCONSUME},
	[C5_DOM_REFUND_TYPE] = {refund_type_names, C5_NREFUNDTYPES},
	[C5_DOM_MISMATCH] = {mismatch_names, C5_NMISMATCH},
	[C5_DOM_LEAD_RESULT] = {lead_result_names, C5_NLEADRESULTS},
	[C5_DOM_SCOPE] = {scope_names, C5_NSCOPES},
	[C5_DOM_REASON] = {NULL, 0},
	[C5_DOM_DYN] = {dyn_names, C5_NDYN},
	[C5_DOM_REFUSAL] = {refusal_names, C5_NREFUSALS},
	[C5_DOM_FLOW] = {flow_names, C5_NFLOWS},
	[C5_DOM_HTTP_PATH] = {http_path_names, C5_NHTTPPATHS},
	[C5_DOM_HTTP_CODE] = {http_code_names, C5_NHTTPCODES},
	[C5_DOM_SLO] = {slo_names, C5_NSLOS},
};

/* The values of domain `d`, and how many; NULL for C5_DOM_REASON. */
const char *const *
c5m_domain_names(C5Domain d, int *n)
{
	*n = domains[d].n;
	return domains[d].names;
}
