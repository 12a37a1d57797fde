/*-------------------------------------------------------------------------
 *
 * stubs.c
 *		What the renderer needs from the rest of the extension, for a
 *		program that links only exposition.c, sqlstate.c and the layout
 *		code (test/fuzz/fuzz_render.c).
 *
 * The settings are variables the fuzz target sets from each input.  The
 * render histogram's bounds live in registry.c, which a frontend program
 * cannot link (shared memory, LWLocks): these stand-ins are weak, so a
 * definition moved out of registry.c later takes their place; their values
 * are chosen to exercise both plain and exponent notation.  palloc and
 * StringInfo come from the frontend libpgcommon; the only backend
 * function left is the one assertions call.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <stdio.h>
#include <stdlib.h>

#include "exposition.h"
#include "layout.h"
#include "registry.h"
#include "settings.h"
#include "sqlstate.h"

int			c5m_max_series = 2000;
bool		c5m_lead_throttle = false;
bool		c5m_refund_guard = true;

/* settings.c's readers of the objectives and lead limits, at their defaults */
double
c5m_objective_ratio(int slo)
{
	static const double objective[C5_NSLOS] = {0.999, 0.95, 0.995, 0.95, 0.99};

	return objective[slo];
}

double
c5m_lead_rate(C5Scope scope)
{
	static const double rate[C5_NSCOPES] = {5, 3, 600};

	return rate[scope];
}

__attribute__((weak))
const double c5m_render_bounds[C5M_RENDER_BUCKETS] = {
	1e-06, 2.5e-05, 0.0001, 0.00025, 0.001, 0.0125, 0.1, 1, 100, 1000000
};

/*
 * A failed Assert() in the renderer is a finding: crash so libFuzzer saves
 * it.  (PostgreSQL 16 dropped the error type from the signature.)
 */
#if PG_VERSION_NUM >= 160000
void
ExceptionalCondition(const char *conditionName, const char *fileName, int lineNumber)
{
	fprintf(stderr, "TRAP: failed Assert(\"%s\"), File: \"%s\", Line: %d\n",
			conditionName, fileName, lineNumber);
	abort();
}
#else
void
ExceptionalCondition(const char *conditionName, const char *errorType,
					 const char *fileName, int lineNumber)
{
	fprintf(stderr, "TRAP: %s(\"%s\", File: \"%s\", Line: %d)\n",
			errorType, conditionName, fileName, lineNumber);
	abort();
}
#endif
