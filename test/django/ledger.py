"""The ground truth of test/django/workload.py: what c5metrics must count.

The workload tells the ledger what each statement it runs does to the
tracked tables (the rows whose status it changes, the movements, refunds and
leads it inserts) and how each transaction and savepoint ends; the ledger
turns that into the series it must move, from the catalog and semantics of
docs/METRICS.md and without asking c5metrics anything.  After a phase,
compare() checks every series c5metrics.read_metrics() has -- every one
that moved and every one the ledger expects -- against the deltas.

A Django atomic() block is one level, as a (sub)transaction is in
c5metrics: a released savepoint merges into its parent, a rolled-back one
is counted at once with the SQLSTATE that rolled it back, and the outcome of
the whole transaction is counted when it ends.  An error is classified
once, by the innermost block it rolled back; the enclosing blocks that it
then also rolls back count as a plain rollback (c5metrics takes the error
to the subtransaction that reported it).
"""
import json
import threading
from collections import Counter
from contextlib import contextmanager

from django.db import transaction

FLOWS = ('sales', 'stock', 'refunds', 'leads')
PAID = 'paid'

# The over-refund guard's and the lead throttle's SQLSTATEs: 1.4's, in the
# classes drivers map to IntegrityError and OperationalError, and the
# codes of 1.3 and before (c5metrics.legacy_sqlstates = on).
OVER_REFUND = {'23M01', 'C5M01'}
THROTTLED = {'53M01', 'C5M02'}

# exception_type: the conditions the workload can meet, else their class.
CONDITIONS = {
    '23505': 'unique_violation', '23514': 'check_violation',
    '23503': 'foreign_key_violation', '23502': 'not_null_violation',
    'P0001': 'raise_exception', '40001': 'serialization_failure',
    '40P01': 'deadlock_detected', '55P03': 'lock_not_available',
    '57014': 'query_canceled', '22001': 'string_data_right_truncation',
    '22003': 'numeric_value_out_of_range', '22P02': 'invalid_text_representation',
}
CLASSES = {
    '22': 'data_exception', '23': 'integrity_constraint_violation',
    '40': 'transaction_rollback', '53': 'insufficient_resources',
    'XX': 'internal_error', 'P0': 'plpgsql_error',
}
REASONS = {
    '23514': 'check_violation', '23503': 'foreign_key_violation',
    '23502': 'not_null_violation', 'P0001': 'raise_exception',
    '40001': 'serialization_failure', '40P01': 'deadlock_detected',
    '55P03': 'lock_not_available', '57014': 'query_canceled',
}


def series(metric, **labels):
    return (metric, tuple(sorted(labels.items())))


def show(key):
    metric, labels = key
    return metric + json.dumps(dict(labels), sort_keys=True)


def refund_type(value):
    v = (value or '').lower()
    return v if v in ('full', 'partial') else 'other'


def db_error(exc):
    """The driver's error behind a Django exception, or None."""
    e = exc
    while e is not None:
        if getattr(e, 'pgcode', None):
            return e
        e = e.__cause__
    return None


def sqlstate(exc):
    e = db_error(exc)
    return e.pgcode if e is not None else None


def classify(code, on_refunds):
    """(result, reason, exception_type) of a rollback by SQLSTATE code."""
    if not code:
        return 'failure', 'rollback', None
    cls = code[:2]
    if code in OVER_REFUND:
        return 'rejected', 'over_refund', 'c5metrics_over_refund'
    if code in THROTTLED:
        return 'rejected', 'other', 'c5metrics_lead_throttled'
    cond = CONDITIONS.get(code) or CLASSES.get(cls, 'other')
    result = 'rejected' if cls in ('23', 'P0') else 'failure'
    if code == '23505':
        reason = 'idempotency_conflict' if on_refunds else 'unique_violation'
    elif code in REASONS:
        reason = REASONS[code]
    elif cls == '23':
        reason = 'integrity_constraint_violation'
    elif cls == '53':
        reason = 'insufficient_resources'
    elif cls == 'XX':
        reason = 'internal_error'
    else:
        reason = 'other'
    return result, reason, cond


class Level:
    """What one atomic() block (a transaction or a savepoint) did."""

    def __init__(self):
        self.flows = set()
        self.trans = Counter()          # (from, to) -> rows
        self.paid = []                  # sale ids that became paid
        self.consumed = set()           # sale ids with a consume movement
        self.attempts = Counter()       # refund type -> BEFORE INSERT rows
        self.inserted = Counter()       # refund type -> rows inserted
        self.refund_table = None        # (schema, table) of the refunds
        self.refund_in = 0
        self.leads = 0
        self.mismatch = Counter()

    def merge(self, child):
        self.flows |= child.flows
        self.trans.update(child.trans)
        self.paid += child.paid
        self.consumed |= child.consumed
        self.attempts.update(child.attempts)
        self.inserted.update(child.inserted)
        self.refund_table = child.refund_table or self.refund_table
        self.refund_in += child.refund_in
        self.leads += child.leads
        self.mismatch.update(child.mismatch)


class Ledger:
    def __init__(self):
        self.expected = Counter()
        self._lock = threading.Lock()
        self._local = threading.local()

    # ---- transactions ----

    def _stack(self):
        if not hasattr(self._local, 'stack'):
            self._local.stack = []
        return self._local.stack

    def level(self):
        stack = self._stack()
        assert stack, 'a tracked statement outside a ledger transaction'
        return stack[-1]

    @contextmanager
    def atomic(self, django=True):
        """transaction.atomic() (a savepoint when nested), counted.

        With django=False, only the ledger's level: for one statement in
        autocommit mode, which is a transaction of its own."""
        self._stack().append(Level())
        try:
            if django:
                with transaction.atomic():
                    yield
            else:
                yield
        except BaseException as exc:
            self._end(exc)
            raise
        else:
            self._end(None)

    def _end(self, exc):
        stack = self._stack()
        lv = stack.pop()
        if exc is None:
            if stack:
                stack[-1].merge(lv)
            else:
                self._success(lv)
            return
        err = db_error(exc)
        code, table = None, None
        if err is not None and not getattr(err, 'c5_classified', False):
            code = err.pgcode
            diag = err.diag
            table = (diag.schema_name, diag.table_name) if diag.table_name else None
            err.c5_classified = True
        self._rollback(lv, code, table)

    # ---- what statements did, in the current level ----

    def sales_statement(self):
        """An UPDATE that sets the status column (marks the sales flow)."""
        self.level().flows.add('sales')

    def transitions(self, rows):
        """Rows (from, to, sale id) the UPDATE changed; unchanged ones are not counted."""
        lv = self.level()
        lv.flows.add('sales')
        for frm, to, sale in rows:
            if frm == to:
                continue
            lv.trans[(frm, to)] += 1
            if to == PAID:
                lv.paid.append(sale)

    def consume(self, sale):
        lv = self.level()
        lv.flows.add('stock')
        lv.consumed.add(sale)

    def movement(self):
        """A stock movement neither consume nor refund-in."""
        self.level().flows.add('stock')

    def refund_in(self, sale):
        lv = self.level()
        lv.flows.add('stock')
        lv.refund_in += 1

    def refund_attempt(self, rtype, table):
        lv = self.level()
        lv.flows.add('refunds')
        lv.attempts[refund_type(rtype)] += 1
        lv.refund_table = table

    def refund_inserted(self, rtype):
        self.level().inserted[refund_type(rtype)] += 1

    def over_refund(self):
        """The guard found a refund over the remainder: counted at once."""
        self.add('sale_refund_over_refund_attempts_total')

    def lead(self):
        lv = self.level()
        lv.flows.add('leads')
        lv.leads += 1

    def lead_throttled(self, scope):
        """The throttle blocked a lead: counted at once, then rolled back."""
        self.level().flows.add('leads')
        self.add('public_leads_requests_total', result='throttled')
        self.add('public_leads_throttled_total', scope=scope)
        self.add('public_leads_429_total')

    def mismatch(self, mtype):
        """The refund-in check at commit finds this sale mismatched."""
        self.level().mismatch[mtype] += 1

    # ---- counting ----

    def add(self, metric, n=1, **labels):
        if n:
            with self._lock:
                self.expected[series(metric, **labels)] += n

    def _hist(self, family, n=1, **labels):
        self.add(family + '_count', n, **labels)
        self.add(family + '_bucket', n, le='+Inf', **labels)

    def _success(self, lv):
        for (frm, to), n in lv.trans.items():
            self.add('sales_transition_total', n, from_status=frm, to_status=to, result='success')
        for sale in lv.paid:
            if sale in lv.consumed:
                self.add('sales_paid_stock_consume_total', result='success')
                self._hist('sales_paid_stock_consume_duration_seconds')
            else:
                self.add('sales_paid_stock_consume_total', result='missing')
        for t, n in lv.inserted.items():
            self.add('sale_refunds_total', n, type=t, result='success')
        self.add('sale_refund_idempotency_conflicts_total',
                 sum(max(0, lv.attempts[t] - lv.inserted[t]) for t in lv.attempts))
        self._hist('sale_refund_duration_seconds', sum(lv.inserted.values()))
        self.add('stock_refund_in_total', lv.refund_in, result='success')
        for t, n in lv.mismatch.items():
            self.add('stock_refund_in_mismatch_total', n, type=t)
        self.add('public_leads_requests_total', lv.leads, result='created')
        for f in lv.flows:
            self.add('flow_transactions_total', flow=f, result='success')
            self._hist('flow_transaction_duration_seconds', flow=f)

    def _rollback(self, lv, code, table):
        on_refunds = lv.refund_table is not None and table == lv.refund_table
        res, reason, cond = classify(code, on_refunds)
        for (frm, to), n in lv.trans.items():
            self.add('sales_transition_total', n, from_status=frm, to_status=to, result=res)
        self.add('sales_paid_stock_consume_total', len(lv.paid), result=res)
        attempts = sum(lv.attempts.values())
        for t, n in lv.attempts.items():
            self.add('sale_refunds_total', n, type=t, result=res)
        if attempts:
            self.add('sale_refund_rollback_total', attempts, reason=reason)
            if reason == 'idempotency_conflict':
                self.add('sale_refund_idempotency_conflicts_total')
        self.add('stock_refund_in_total', lv.refund_in, result=res)
        self.add('public_leads_requests_total', lv.leads,
                 result='rejected' if res == 'rejected' else 'failure')
        for f in lv.flows:
            self.add('flow_transactions_total', flow=f, result=res)
            if cond:
                self.add('exceptions_total', exception_type=cond, location=f)


def snapshot(cursor):
    """Every series of the registry: (metric, labels) -> (value, type)."""
    cursor.execute('SELECT metric, labels::text, value, type FROM c5metrics.read_metrics()')
    return {(m, tuple(sorted(json.loads(l).items()))): (v, t) for m, l, v, t in cursor.fetchall()}


def compare(before, after, expected):
    """Differences between the registry's deltas and the ledger's.

    Counters and histogram counts (and +Inf buckets) must move exactly as
    expected; a histogram's sum and finite buckets only as far as its count
    allows (how long things took is not the workload's to say).  Gauges
    are not deltas and are left out.  Returns (lines, how many of the
    series compared exactly moved)."""
    bad = []
    moved = 0
    for key in sorted(set(before) | set(after) | set(expected)):
        metric, labels = key
        if key not in after:
            bad.append('%s: no series, expected +%g' % (show(key), expected[key]))
            continue
        value, mtype = after[key]
        if mtype == 'gauge':
            continue
        delta = value - before.get(key, (0, mtype))[0]
        want = expected.get(key, 0)
        lab = dict(labels)
        if metric.endswith('_sum'):
            if delta < 0:
                bad.append('%s: moved by %g' % (show(key), delta))
            continue
        if metric.endswith('_bucket') and lab.get('le') != '+Inf':
            del lab['le']
            ckey = (metric[:-len('_bucket')] + '_count', tuple(sorted(lab.items())))
            count = after.get(ckey, (0,))[0] - before.get(ckey, (0,))[0]
            if not 0 <= delta <= count:
                bad.append('%s: moved by %g, count by %g' % (show(key), delta, count))
            continue
        moved += delta != 0
        if delta != want:
            bad.append('%s: c5metrics +%g, ground truth +%g' % (show(key), delta, want))
    return bad, moved
