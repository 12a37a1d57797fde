/*-------------------------------------------------------------------------
 *
 * sqlstate.c
 *		From the SQLSTATE that rolled tracked work back to bounded labels.
 *
 * A rollback is "rejected" when a rule said no -- an integrity constraint
 * (class 23), a PL/pgSQL RAISE (class P0), one of the guards' codes -- and
 * "failure" for everything else, including a plain ROLLBACK.  Its reason
 * (sale_refund_rollback_total) and its exception type (exceptions_total)
 * come from fixed tables, so no error can create a label value.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "sqlstate.h"

static const char *const reason_names[C5_NREASONS] = {
	"rollback", "over_refund", "idempotency_conflict", "unique_violation",
	"check_violation", "foreign_key_violation", "not_null_violation",
	"integrity_constraint_violation", "raise_exception",
	"serialization_failure", "deadlock_detected", "lock_not_available",
	"query_canceled", "insufficient_resources", "internal_error", "other"
};

/*
 * exception_type values: specific conditions first, then whole classes
 * (a code ending in 000 matches its class).  Entry 0 is "other".
 */
typedef struct C5Condition
{
	int			code;
	const char *name;
} C5Condition;

static const C5Condition conditions[] = {
	{0, "other"},
	{ERRCODE_UNIQUE_VIOLATION, "unique_violation"},
	{ERRCODE_CHECK_VIOLATION, "check_violation"},
	{ERRCODE_FOREIGN_KEY_VIOLATION, "foreign_key_violation"},
	{ERRCODE_NOT_NULL_VIOLATION, "not_null_violation"},
	{ERRCODE_EXCLUSION_VIOLATION, "exclusion_violation"},
	{ERRCODE_RESTRICT_VIOLATION, "restrict_violation"},
	{ERRCODE_T_R_SERIALIZATION_FAILURE, "serialization_failure"},
	{ERRCODE_T_R_DEADLOCK_DETECTED, "deadlock_detected"},
	{ERRCODE_LOCK_NOT_AVAILABLE, "lock_not_available"},
	{ERRCODE_QUERY_CANCELED, "query_canceled"},
	{ERRCODE_ADMIN_SHUTDOWN, "admin_shutdown"},
	{ERRCODE_IDLE_IN_TRANSACTION_SESSION_TIMEOUT, "idle_in_transaction_session_timeout"},
	{ERRCODE_RAISE_EXCEPTION, "raise_exception"},
	{ERRCODE_NO_DATA_FOUND, "no_data_found"},
	{ERRCODE_TOO_MANY_ROWS, "too_many_rows"},
	{ERRCODE_ASSERT_FAILURE, "assert_failure"},
	{C5M_ERRCODE_OVER_REFUND, "c5metrics_over_refund"},
	{C5M_ERRCODE_LEAD_THROTTLED, "c5metrics_lead_throttled"},
	{C5M_ERRCODE_GUARD_UNAVAILABLE, "c5metrics_guard_unavailable"},
	{ERRCODE_DIVISION_BY_ZERO, "division_by_zero"},
	{ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, "numeric_value_out_of_range"},
	{ERRCODE_INVALID_TEXT_REPRESENTATION, "invalid_text_representation"},
	{ERRCODE_STRING_DATA_RIGHT_TRUNCATION, "string_data_right_truncation"},
	{ERRCODE_OUT_OF_MEMORY, "out_of_memory"},
	{ERRCODE_DISK_FULL, "disk_full"},
	{ERRCODE_INSUFFICIENT_PRIVILEGE, "insufficient_privilege"},
	{ERRCODE_UNDEFINED_TABLE, "undefined_table"},
	{ERRCODE_UNDEFINED_COLUMN, "undefined_column"},
	{ERRCODE_UNDEFINED_FUNCTION, "undefined_function"},
	{ERRCODE_READ_ONLY_SQL_TRANSACTION, "read_only_sql_transaction"},
	{ERRCODE_OBJECT_IN_USE, "object_in_use"},
	{ERRCODE_DATA_EXCEPTION, "data_exception"},
	{ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION, "integrity_constraint_violation"},
	{ERRCODE_INVALID_TRANSACTION_STATE, "invalid_transaction_state"},
	{ERRCODE_TRANSACTION_ROLLBACK, "transaction_rollback"},
	{ERRCODE_SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION, "syntax_error_or_access_rule_violation"},
	{ERRCODE_INSUFFICIENT_RESOURCES, "insufficient_resources"},
	{ERRCODE_PROGRAM_LIMIT_EXCEEDED, "program_limit_exceeded"},
	{ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, "object_not_in_prerequisite_state"},
	{ERRCODE_OPERATOR_INTERVENTION, "operator_intervention"},
	{ERRCODE_SYSTEM_ERROR, "system_error"},
	{ERRCODE_PLPGSQL_ERROR, "plpgsql_error"},
	{ERRCODE_FEATURE_NOT_SUPPORTED, "feature_not_supported"},
	{ERRCODE_CONNECTION_EXCEPTION, "connection_exception"},
	{ERRCODE_INTERNAL_ERROR, "internal_error"},
};

#define NCONDITIONS lengthof(conditions)


/* ---- names ---- */

int
c5m_reason_count(void)
{
	return C5_NREASONS;
}

const char *
c5m_reason_name(int reason)
{
	return reason_names[reason];
}

int
c5m_condition_count(void)
{
	return NCONDITIONS;
}

const char *
c5m_condition_name(int cond)
{
	return conditions[cond].name;
}

static int
condition_of(int code)
{
	int			class;
	int			i;

	/* 1.3's codes (c5metrics.legacy_sqlstates) are the same conditions */
	if (code == C5M_ERRCODE_LEGACY_OVER_REFUND)
		code = C5M_ERRCODE_OVER_REFUND;
	else if (code == C5M_ERRCODE_LEGACY_LEAD_THROTTLED)
		code = C5M_ERRCODE_LEAD_THROTTLED;
	class = ERRCODE_TO_CATEGORY(code);

	for (i = 1; i < NCONDITIONS; i++)
		if (conditions[i].code == code)
			return i;
	for (i = 1; i < NCONDITIONS; i++)
		if (conditions[i].code == class)
			return i;
	return 0;
}

/*
 * Result, reason and exception type of a rollback caused by SQLSTATE
 * `code` (0: no error was reported).  `on_refunds` says whether the error
 * named the tracked refunds table that the rolled-back work inserted into.
 * *cond is -1 when there was no error.
 */
C5Result
c5m_classify(int code, bool on_refunds, int *reasonp, int *condp)
{
	C5Result	res;
	int			reason;
	int			cond = -1;

	if (code == 0)
	{
		res = C5_FAILURE;
		reason = C5_R_ROLLBACK;
	}
	else
	{
		int			class = ERRCODE_TO_CATEGORY(code);

		cond = condition_of(code);
		res = (class == ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION ||
			   class == ERRCODE_PLPGSQL_ERROR ||
			   code == C5M_ERRCODE_LEAD_THROTTLED ||
			   code == C5M_ERRCODE_LEGACY_OVER_REFUND ||
			   code == C5M_ERRCODE_LEGACY_LEAD_THROTTLED) ? C5_REJECTED : C5_FAILURE;

		switch (code)
		{
			case C5M_ERRCODE_OVER_REFUND:
			case C5M_ERRCODE_LEGACY_OVER_REFUND:
				reason = C5_R_OVER_REFUND;
				break;
			case ERRCODE_UNIQUE_VIOLATION:
				reason = on_refunds ? C5_R_IDEMPOTENCY : C5_R_UNIQUE;
				break;
			case ERRCODE_CHECK_VIOLATION:
				reason = C5_R_CHECK;
				break;
			case ERRCODE_FOREIGN_KEY_VIOLATION:
				reason = C5_R_FOREIGN_KEY;
				break;
			case ERRCODE_NOT_NULL_VIOLATION:
				reason = C5_R_NOT_NULL;
				break;
			case ERRCODE_RAISE_EXCEPTION:
				reason = C5_R_RAISE;
				break;
			case ERRCODE_T_R_SERIALIZATION_FAILURE:
				reason = C5_R_SERIALIZATION;
				break;
			case ERRCODE_T_R_DEADLOCK_DETECTED:
				reason = C5_R_DEADLOCK;
				break;
			case ERRCODE_LOCK_NOT_AVAILABLE:
				reason = C5_R_LOCK;
				break;
			case ERRCODE_QUERY_CANCELED:
				reason = C5_R_CANCELED;
				break;
			default:
				if (class == ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION)
					reason = C5_R_INTEGRITY;
				else if (class == ERRCODE_INSUFFICIENT_RESOURCES)
					reason = C5_R_RESOURCES;
				else if (class == ERRCODE_INTERNAL_ERROR)
					reason = C5_R_INTERNAL;
				else
					reason = C5_R_OTHER;
				break;
		}
	}

	*reasonp = reason;
	*condp = cond;
	return res;
}
