#!/usr/bin/env bash
# Check the monitoring pack: the Prometheus rules and their unit tests
# (monitoring/prometheus/) and the Alertmanager configuration
# (monitoring/alertmanager/), with the real tools:
#   - the SLO rules and tests are what generate-slo-rules.pl writes;
#   - promtool check rules --lint-fatal on every rule file (and none is empty);
#   - promtool test rules on every test file (and none is without cases);
#   - every alert has a severity, a flow, a summary and a description that
#     quote its value, a runbook_url whose anchor exists in docs/RUNBOOKS.md,
#     a test where it fires and one where it stays silent, and a routing case;
#     every recording rule is checked by at least one expression test;
#   - amtool check-config, no secret in the configuration, and every case of
#     monitoring/alertmanager/routes.tests with amtool config routes test.
# Run as root it installs prometheus and prometheus-alertmanager when missing.
# The last line is "monitoring: N passed, N failed"; the exit status is 0
# only if all passed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. test/lib.sh

c5_ensure_packages prometheus prometheus-alertmanager
for tool in promtool amtool perl; do
	command -v "$tool" >/dev/null || die "$tool not found"
done

prom=monitoring/prometheus
am=monitoring/alertmanager
work=$(mktemp -d /tmp/c5metrics-monitoring.XXXXXX)
trap 'rm -rf "$work"' EXIT

passed=0
failed=0
# result OK|FAIL DESCRIPTION [DETAILS]
result() {
	if [ "$1" = OK ]; then
		passed=$((passed + 1))
		echo "ok - $2"
	else
		failed=$((failed + 1))
		echo "not ok - $2"
		[ -n "${3:-}" ] && sed 's/^/    /' <<<"$3" | head -n 60
	fi
}

shopt -s nullglob
rule_files=("$prom"/*.rules.yml)
test_files=("$prom"/tests/*.test.yml)
shopt -u nullglob

# Nothing may pass vacuously.
[ ${#rule_files[@]} -gt 0 ] && result OK "rule files: ${#rule_files[@]}" || result FAIL "no rule file in $prom"
[ ${#test_files[@]} -gt 0 ] && result OK "test files: ${#test_files[@]}" || result FAIL "no test file in $prom/tests"

# The SLO rules and tests are generated: the shipped ones must be current.
if out=$(perl "$prom/generate-slo-rules.pl" "$work/gen" 2>&1); then
	stale=''
	for f in $(cd "$work/gen" && find . -type f | sort); do
		diff -q "$work/gen/$f" "$prom/$f" >/dev/null 2>&1 || stale+="${f#./} "
	done
	for f in "$prom"/slo-*.rules.yml "$prom"/tests/slo-*.test.yml; do
		[ -e "$work/gen/${f#$prom/}" ] || stale+="${f#$prom/} (not generated) "
	done
	if [ -z "$stale" ]; then
		result OK "generated SLO rules and tests are current"
	else
		result FAIL "generated files differ from generate-slo-rules.pl: $stale" \
			"run: perl $prom/generate-slo-rules.pl"
	fi
else
	result FAIL "generate-slo-rules.pl failed" "$out"
fi

for f in "${rule_files[@]}"; do
	out=$(promtool check rules --lint-fatal "$f" 2>&1)
	rc=$?
	n=$(sed -n 's/.*SUCCESS: \([0-9]*\) rules found.*/\1/p' <<<"$out")
	if [ $rc -eq 0 ] && [ "${n:-0}" -gt 0 ]; then
		result OK "promtool check rules --lint-fatal $f ($n rules)"
	elif [ $rc -eq 0 ]; then
		result FAIL "$f has no rules" "$out"
	else
		result FAIL "promtool check rules --lint-fatal $f" "$out"
	fi
done

# Unit tests, two at a time (the SLO ones evaluate hours of data each).
jobs=$(nproc 2>/dev/null || echo 2)
i=0
for f in "${test_files[@]}"; do
	i=$((i + 1))
	(
		cases=$(grep -cE '^\s*- (eval_time|expr):' "$f")
		echo "$cases" >"$work/test.$i.cases"
		promtool test rules "$f" >"$work/test.$i.out" 2>&1
		echo $? >"$work/test.$i.rc"
	) &
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
done
wait
i=0
for f in "${test_files[@]}"; do
	i=$((i + 1))
	cases=$(cat "$work/test.$i.cases")
	if [ "$cases" -eq 0 ]; then
		result FAIL "$f has no test cases"
	elif [ "$(cat "$work/test.$i.rc")" -eq 0 ] && grep -q SUCCESS "$work/test.$i.out"; then
		result OK "promtool test rules $f ($cases cases)"
	else
		result FAIL "promtool test rules $f" "$(cat "$work/test.$i.out")"
	fi
done

# Completeness of every alert and recording rule, read from the files.
perl - "$prom" "$am/routes.tests" docs/RUNBOOKS.md "${rule_files[@]}" >"$work/coverage" <<'PERL'
use strict;
use warnings;
my ($prom, $routes, $runbooks, @rule_files) = @ARGV;
sub slurp { my ($f) = @_; open(my $fh, '<', $f) or return ''; local $/; return <$fh>; }

# GitHub's anchors for the headings of the runbooks
my %anchor;
foreach my $line (split /\n/, slurp($runbooks))
{
	next unless $line =~ /^#+\s+(.*?)\s*$/;
	(my $a = lc $1) =~ s/[^a-z0-9 _-]//g;
	$a =~ tr/ /-/;
	$anchor{$a} = 1;
}

# rules: name, kind, and the lines of their body
my (@alerts, %records);
foreach my $f (@rule_files)
{
	my $cur;
	foreach my $line (split /\n/, slurp($f))
	{
		if ($line =~ /^\s*- (alert|record):\s*(\S+)/)
		{
			$cur = { kind => $1, name => $2, body => '', file => $f };
			push @alerts, $cur if $1 eq 'alert';
			$records{$2} = 1 if $1 eq 'record';
		}
		elsif ($line =~ /^\s*- name:/) { $cur = undef }
		elsif ($cur) { $cur->{body} .= "$line\n" }
	}
}

my $tests = join("\n", map { slurp($_) } glob("$prom/tests/*.test.yml"));
my %firing_test = map { $_ => 1 } $tests =~ /alertname:\s*(\S+)\s*\n\s*exp_alerts:\s*\n/g;
my %silent_test = map { $_ => 1 } $tests =~ /alertname:\s*(\S+)\s*\n\s*exp_alerts:\s*\[\]/g;
my @exprs = $tests =~ /^\s*- expr:\s*(.*)$/mg;
my %routed;
foreach my $line (split /\n/, slurp($routes))
{
	next if $line =~ /^\s*(#|$)/;
	my %l = $line =~ /(\w+)=(\S+)/g;
	$routed{"$l{alertname}/" . ($l{severity} // '')} = 1 if $l{alertname};
}

die "no alert rule found\n" unless @alerts;
die "no recording rule found\n" unless %records;
my %seen;
foreach my $a (@alerts)
{
	my $b = $a->{body};
	my @bad;
	my ($sev) = $b =~ /^\s*severity:\s*(\S+)/m;
	push @bad, 'no severity critical or warning' unless ($sev // '') =~ /^(critical|warning)$/;
	# a flow label of its own, or the one of a metric whose series carry it
	push @bad, 'no flow label'
	  unless $b =~ /^\s*flow:\s*\S+/m || $b =~ /\b(flow_transaction\w*|c5metrics_attachment_problems)\b/;
	foreach my $ann (qw(summary description))
	{
		my ($text) = $b =~ /^\s*$ann:\s*(.*)$/m;
		push @bad, "no $ann" unless defined $text;
		push @bad, "$ann does not quote the value" if defined $text && $text !~ /\$value/;
	}
	my ($url) = $b =~ /^\s*runbook_url:\s*(\S+)/m;
	if (!defined $url) { push @bad, 'no runbook_url' }
	elsif ($url !~ m{/docs/RUNBOOKS\.md#(.+)$} || !$anchor{$1}) { push @bad, "runbook_url $url has no heading in docs/RUNBOOKS.md" }
	push @bad, 'no test where it fires' unless $firing_test{ $a->{name} };
	push @bad, 'no test where it stays silent' unless $silent_test{ $a->{name} };
	push @bad, "no routing case with severity=" . ($sev // '') unless $routed{"$a->{name}/" . ($sev // '')};
	my $desc = "alert $a->{name} ($sev" . ($b =~ /long_window:\s*(\S+)/ ? ", $1" : '')
	  . "): labels, annotations, runbook, fires and silent in tests, routed";
	next if $seen{$desc}++;
	print @bad ? "FAIL\t$desc\t" . join('; ', @bad) . "\n" : "OK\t$desc\n";
}
foreach my $r (sort keys %records)
{
	my $q = quotemeta $r;
	my $n = grep { /$q(?![A-Za-z0-9_:])/ } @exprs;
	print $n ? "OK\trecording rule $r is checked by $n expression tests\n"
	  : "FAIL\trecording rule $r\tno promql_expr_test uses it\n";
}
PERL
rc=$?
if [ $rc -ne 0 ] || [ ! -s "$work/coverage" ]; then
	result FAIL "reading the rules for completeness" "$(cat "$work/coverage")"
fi
while IFS=$'\t' read -r status desc detail; do
	result "$status" "$desc" "$detail"
done <"$work/coverage"

# Alertmanager.
out=$(amtool check-config "$am/alertmanager.yml" 2>&1) && result OK "amtool check-config $am/alertmanager.yml" ||
	result FAIL "amtool check-config $am/alertmanager.yml" "$out"
if grep -nE '^\s*(-\s*)?(api_url|routing_key|service_key|slack_api_url|auth_password|password|token|credentials)\s*:' \
	"$am/alertmanager.yml" >"$work/secrets"; then
	result FAIL "no secret in $am/alertmanager.yml (use the *_file settings)" "$(cat "$work/secrets")"
else
	result OK "no secret in $am/alertmanager.yml: Slack and PagerDuty read theirs from files"
fi
ncases=0
while read -r receivers labels; do
	[ -z "$receivers" ] && continue
	case $receivers in \#*) continue ;; esac
	ncases=$((ncases + 1))
	# shellcheck disable=SC2086 # labels are words
	out=$(amtool config routes test --config.file="$am/alertmanager.yml" \
		--verify.receivers="$receivers" $labels 2>&1)
	rc=$?
	out=$(grep -v 'overrides the --alertmanager.url' <<<"$out")
	if [ $rc -eq 0 ]; then
		result OK "route $labels -> $receivers"
	else
		result FAIL "route $labels -> $receivers" "$out"
	fi
done <"$am/routes.tests"
[ $ncases -gt 0 ] && result OK "routing cases: $ncases" || result FAIL "no routing case in $am/routes.tests"

echo "monitoring: $passed passed, $failed failed"
[ $failed -eq 0 ]
