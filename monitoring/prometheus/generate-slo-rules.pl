#!/usr/bin/perl
# Generates the SLO rules of c5metrics and their promtool unit tests from one
# table of the five SLOs of docs/SLO.md, per SLO:
#
#   slo-<slo>.rules.yml             recording rules for every window (5m, 30m,
#                                   1h, 2h, 6h, 1d, 3d, 30d) and the multi-window,
#                                   multi-burn-rate alerts
#   tests/slo-<slo>-page.test.yml   1-minute data over 12 hours: the page alerts
#                                   (14.4x over 1h and 5m, 6x over 6h and 30m),
#                                   the short windows, and objectives changed
#                                   in PostgreSQL moving the page alerts
#   tests/slo-<slo>-ticket.test.yml 10-minute data over six days: the ticket
#                                   alerts (3x over 1d and 2h, 1x over 3d and
#                                   6h), the long windows and the error budget
#   tests/slo-fleet.test.yml        several nodes and a standby: sums, not means,
#                                   and the objective of the primaries
#
# The objectives are not in the rules: they read them from the exporter,
# c5metrics_slo_objective{slo} (the settings c5metrics.objective_<slo>), so a
# DBA who changes one and reloads PostgreSQL moves the burn rates, the error
# budget and the alerts at the next scrape, with no rule to regenerate.
#
# One rule file per SLO keeps each test file's evaluation to that SLO's rules.
#
#   perl monitoring/prometheus/generate-slo-rules.pl        # rewrite them in place
#   perl monitoring/prometheus/generate-slo-rules.pl DIR    # write them under DIR
#
# The expected alerts and values of the tests come from a model of the rules
# written here in plain arithmetic (counter increments per minute, windows,
# objectives, thresholds, "for" durations), not from Prometheus: promtool then
# checks that Prometheus agrees with it.  The model refuses a scenario that
# would sit exactly on a threshold, where float rounding could go either way.
# test/check-monitoring.sh regenerates into a temporary directory and fails
# when the shipped files differ from what this script writes.
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Path qw(make_path);
use POSIX qw(floor);

my $outdir = $ARGV[0] // dirname(__FILE__);
my $RUNBOOKS = 'https://github.com/c5metrics/c5metrics/blob/main/docs/RUNBOOKS.md';

# ---- the SLOs ----
#
# This table holds only what no metric says: the SLOs' names, the alert names
# and flows, and the PromQL of their good and total events (which fixes the
# le bucket of the latency SLOs, 0.5 s and 0.8 s).  The windows and burn-rate
# conditions are below.  The objective comes from c5metrics_slo_objective at
# evaluation time; default_objective is the extension's default for
# c5metrics.objective_<slo> (docs/SETTINGS.md), used here only as test data:
# the value the tests feed through that gauge, and their traffic's size.
#
# good and total are PromQL with %s for the window.  The test series say how
# a scenario's good and bad events per minute turn into counters:
# [series, coefficient of good, coefficient of bad, constant per minute].
# Series that must not count (rejected, throttled, a neighbouring histogram
# bucket) move in every scenario, so a rule that counted them would fail.
my @SLOS = (
	{
		slo => 'sale_paid_availability',
		alert => 'SalePaidSLO',
		flow => 'sales',
		default_objective => '0.999',
		title => 'sale to paid availability',
		good => 'sum without (instance, result) (increase(sales_paid_stock_consume_total{result=~"success|missing"}[%s]))',
		total => 'sum without (instance, result) (increase(sales_paid_stock_consume_total{result=~"success|missing|failure"}[%s]))',
		series => [
			[ 'sales_paid_stock_consume_total{result="success"}', 0.5, 0, 0 ],
			[ 'sales_paid_stock_consume_total{result="missing"}', 0.5, 0, 0 ],
			[ 'sales_paid_stock_consume_total{result="failure"}', 0, 1, 0 ],
			[ 'sales_paid_stock_consume_total{result="rejected"}', 0, 0, 'R' ],
		],
	},
	{
		slo => 'stock_consume_latency',
		alert => 'StockConsumeLatencySLO',
		flow => 'stock',
		default_objective => '0.95',
		title => 'stock consume latency (0.5 s)',
		good => 'sum without (instance, le) (increase(sales_paid_stock_consume_duration_seconds_bucket{le="0.5"}[%s]))',
		total => 'sum without (instance) (increase(sales_paid_stock_consume_duration_seconds_count[%s]))',
		series => [
			[ 'sales_paid_stock_consume_duration_seconds_bucket{le="0.25"}', 0.5, 0, 0 ],
			[ 'sales_paid_stock_consume_duration_seconds_bucket{le="0.5"}', 1, 0, 0 ],
			[ 'sales_paid_stock_consume_duration_seconds_bucket{le="0.8"}', 1, 1, 0 ],
			[ 'sales_paid_stock_consume_duration_seconds_bucket{le="+Inf"}', 1, 1, 0 ],
			[ 'sales_paid_stock_consume_duration_seconds_count', 1, 1, 0 ],
		],
	},
	{
		slo => 'refund_availability',
		alert => 'RefundSLO',
		flow => 'refunds',
		default_objective => '0.995',
		title => 'refund availability',
		good => 'sum without (instance, type, result) (increase(sale_refunds_total{result="success"}[%s]))',
		total => 'sum without (instance, type, result) (increase(sale_refunds_total{result=~"success|failure"}[%s]))',
		series => [
			[ 'sale_refunds_total{type="partial",result="success"}', 0.5, 0, 0 ],
			[ 'sale_refunds_total{type="full",result="success"}', 0.5, 0, 0 ],
			[ 'sale_refunds_total{type="partial",result="failure"}', 0, 1, 0 ],
			[ 'sale_refunds_total{type="partial",result="rejected"}', 0, 0, 'R' ],
		],
	},
	{
		slo => 'refund_latency',
		alert => 'RefundLatencySLO',
		flow => 'refunds',
		default_objective => '0.95',
		title => 'refund latency (0.8 s)',
		good => 'sum without (instance, le) (increase(sale_refund_duration_seconds_bucket{le="0.8"}[%s]))',
		total => 'sum without (instance) (increase(sale_refund_duration_seconds_count[%s]))',
		series => [
			[ 'sale_refund_duration_seconds_bucket{le="0.5"}', 0.5, 0, 0 ],
			[ 'sale_refund_duration_seconds_bucket{le="0.8"}', 1, 0, 0 ],
			[ 'sale_refund_duration_seconds_bucket{le="1"}', 1, 0.5, 0 ],
			[ 'sale_refund_duration_seconds_bucket{le="+Inf"}', 1, 1, 0 ],
			[ 'sale_refund_duration_seconds_count', 1, 1, 0 ],
		],
	},
	{
		slo => 'leads_availability',
		alert => 'PublicLeadsSLO',
		flow => 'leads',
		default_objective => '0.99',
		title => 'public leads availability',
		good => 'sum without (instance, result) (increase(public_leads_requests_total{result="created"}[%s]))',
		total => 'sum without (instance, result) (increase(public_leads_requests_total{result=~"created|failure"}[%s]))',
		series => [
			[ 'public_leads_requests_total{result="created"}', 1, 0, 0 ],
			[ 'public_leads_requests_total{result="failure"}', 0, 1, 0 ],
			[ 'public_leads_requests_total{result="rejected"}', 0, 0, 'R' ],
			[ 'public_leads_requests_total{result="throttled"}', 0, 0, 'R' ],
		],
	},
);

# Windows in minutes.
my @WINDOWS = ([ '5m', 5 ], [ '30m', 30 ], [ '1h', 60 ], [ '2h', 120 ], [ '6h', 360 ],
	[ '1d', 1440 ], [ '3d', 4320 ], [ '30d', 43200 ]);
my %MINUTES = map { $_->[0] => $_->[1] } @WINDOWS;
my @SHORT = qw(5m 30m 1h 2h 6h);
my @LONG = qw(1d 3d 30d);

# The multi-window, multi-burn-rate conditions (Google SRE workbook, ch. 5).
# budget: share of the 30-day budget spent when the burn lasts the long window.
my @BURNS = (
	{ kind => 'page', long => '1h', short => '5m', factor => '14.4', for => 2, budget => '2%' },
	{ kind => 'page', long => '6h', short => '30m', factor => '6', for => 15, budget => '5%' },
	{ kind => 'ticket', long => '1d', short => '2h', factor => '3', for => 60, budget => '10%' },
	{ kind => 'ticket', long => '3d', short => '6h', factor => '1', for => 180, budget => '10%' },
);
# A burn-rate alert also needs this many bad events in its long window: a
# low-traffic flow (public leads) must not page on one failure (docs/SLO.md).
my $MIN_BAD = 5;

sub alertname
{
	my ($s, $b) = @_;
	return $s->{alert} . ($b->{kind} eq 'page' ? 'FastBurn' : 'SlowBurn');
}

# An objective as the alerts' descriptions print it: a percentage rounded to
# 0.0001 (the settings' precision), as the template's
# round(100 * slo:objective:ratio, 0.0001) | printf "%g" gives it.
sub pct
{
	my ($objective) = @_;
	my $inv = 1 / 0.0001;
	return num(floor(100 * $objective * $inv + 0.5) / $inv) . '%';
}

# The objective in force for the alert's job and SLO, read by the template
# when it is expanded (the objective is not a label of the alert).
my $OBJECTIVE_TEMPLATE = '{{ with printf "round(100 * slo:objective:ratio{job=%q,slo=%q}, 0.0001)" $labels.job $labels.slo | query }}'
  . '{{ . | first | value | printf "%g" }}%{{ else }}unknown{{ end }}';

# The annotations of a burn-rate alert, for a value (the long window's burn
# rate) and an objective or, with neither, as the rule's template.
sub annotations
{
	my ($s, $b, $value, $objective) = @_;
	my $v1 = defined $value ? sprintf('%.1f', $value) : '{{ printf "%.1f" $value }}';
	my $v2 = defined $value ? sprintf('%.2f', $value) : '{{ printf "%.2f" $value }}';
	my $o = defined $objective ? pct($objective) : $OBJECTIVE_TEMPLATE;
	return {
		summary => "$s->{slo}: error budget burning at ${v1}x over $b->{long} ($b->{kind}: above $b->{factor}x over $b->{long} and $b->{short})",
		description => "The $s->{title} SLO (objective $o"
		  . " over 30 days) spent its error budget ${v2} times faster than sustainable over the last $b->{long},"
		  . " and is still above $b->{factor}x over the last $b->{short}. At $b->{factor}x, $b->{budget} of the"
		  . " 30-day budget is gone in $b->{long}.",
		runbook_url => "$RUNBOOKS#" . lc(alertname($s, $b)),
	};
}

# ---- the rule files: one per SLO ----

sub group_names
{
	my ($s) = @_;
	return ("c5metrics-slo-$s->{slo}", "c5metrics-slo-$s->{slo}-alerts");
}

sub rules_file { my ($s) = @_; return "slo-$s->{slo}.rules.yml"; }

sub for_text
{
	my ($min) = @_;
	return $min % 60 == 0 ? ($min / 60) . 'h' : "${min}m";
}

sub rules_yaml
{
	my ($s) = @_;
	my ($record_group, $alert_group) = group_names($s);
	my $sel = "{slo=\"$s->{slo}\"}";
	my $gauge = "c5metrics_slo_objective$sel";
	my $y = "# Generated by monitoring/prometheus/generate-slo-rules.pl: edit that script, not this file.\n"
	  . "#\n"
	  . "# The $s->{title} SLO (docs/SLO.md): recording rules for every window and its\n"
	  . "# multi-window, multi-burn-rate alerts.\n"
	  . "#   good:  " . sprintf($s->{good}, 'w') . "\n"
	  . "#   total: " . sprintf($s->{total}, 'w') . "\n"
	  . "#   objective: $gauge, which c5metrics exports from the\n"
	  . "#     setting c5metrics.objective_$s->{slo}: change it in PostgreSQL and reload, and\n"
	  . "#     these rules follow at the next scrape.  Several nodes: the strictest objective of\n"
	  . "#     the primaries (c5metrics_in_recovery 0), else of the nodes that export one.  A job\n"
	  . "#     whose nodes do not export it (an older c5metrics) has no objective, hence no burn\n"
	  . "#     rate for a window with events, no error budget and no burn-rate alert; the\n"
	  . "#     warning C5metricsObjectiveOrLimitMissing (c5metrics-alerts.rules.yml) says so.\n"
	  . "# Every series is summed across instances (sum without (instance)): a standby adds\n"
	  . "# zeros to the good and total counts alike, and no ratio is ever averaged.\n"
	  . "#   slo:objective:ratio           the objective, per job\n"
	  . "#   slo:sli_good:increase<w>      good events in the window\n"
	  . "#   slo:sli_total:increase<w>     events that count (good + bad)\n"
	  . "#   slo:sli_error:ratio_rate<w>   bad / total; absent when the window saw no event\n"
	  . "#   slo:burn_rate:<w>             error ratio / (1 - objective); 0 when it saw none\n"
	  . "#   slo:error_budget_consumed:ratio30d, slo:error_budget_remaining:ratio30d\n"
	  . "groups:\n";
	$y .= "  - name: $record_group\n    rules:\n"
	  . "      - record: slo:objective:ratio\n"
	  . "        expr: max without (instance) ($gauge and on (job, instance) c5metrics_in_recovery == 0)"
	  . " or max without (instance) ($gauge)\n"
	  . "        labels:\n          slo: $s->{slo}\n";
	foreach my $w (@SHORT, @LONG)
	{
		$y .= "      - record: slo:sli_good:increase$w\n"
		  . '        expr: ' . sprintf($s->{good}, $w) . "\n"
		  . "        labels:\n          slo: $s->{slo}\n"
		  . "      - record: slo:sli_total:increase$w\n"
		  . '        expr: ' . sprintf($s->{total}, $w) . "\n"
		  . "        labels:\n          slo: $s->{slo}\n"
		  . "      - record: slo:sli_error:ratio_rate$w\n"
		  . "        expr: (slo:sli_total:increase$w$sel - slo:sli_good:increase$w$sel) / (slo:sli_total:increase$w$sel > 0)\n"
		  . "        labels:\n          slo: $s->{slo}\n"
		  . "      - record: slo:burn_rate:$w\n"
		  . "        expr: slo:sli_error:ratio_rate$w$sel / (1 - slo:objective:ratio$sel) or slo:sli_total:increase$w$sel == 0\n"
		  . "        labels:\n          slo: $s->{slo}\n";
	}
	$y .= "      - record: slo:error_budget_consumed:ratio30d\n"
	  . "        expr: slo:burn_rate:30d$sel\n"
	  . "        labels:\n          slo: $s->{slo}\n"
	  . "      - record: slo:error_budget_remaining:ratio30d\n"
	  . "        expr: 1 - slo:burn_rate:30d$sel\n"
	  . "        labels:\n          slo: $s->{slo}\n";
	$y .= "  - name: $alert_group\n    rules:\n";
	foreach my $b (@BURNS)
	{
		my $a = annotations($s, $b);
		$y .= '      - alert: ' . alertname($s, $b) . "\n"
		  . "        expr: |\n"
		  . "          slo:burn_rate:$b->{long}$sel > $b->{factor}\n"
		  . "          and slo:burn_rate:$b->{short}$sel > $b->{factor}\n"
		  . "          and slo:sli_total:increase$b->{long}$sel - slo:sli_good:increase$b->{long}$sel >= $MIN_BAD\n"
		  . '        for: ' . for_text($b->{for}) . "\n"
		  . "        labels:\n"
		  . '          severity: ' . ($b->{kind} eq 'page' ? 'critical' : 'warning') . "\n"
		  . "          flow: $s->{flow}\n"
		  . "          long_window: $b->{long}\n"
		  . "          short_window: $b->{short}\n"
		  . "        annotations:\n"
		  . "          summary: '" . $a->{summary} . "'\n"
		  . "          description: '" . $a->{description} . "'\n"
		  . "          runbook_url: $a->{runbook_url}\n";
	}
	return $y;
}

# ---- the model ----
#
# A scenario gives, for every minute m >= 1, the good and bad events of that
# minute (the counters rise between m-1 and m).  The counters start at 0 at
# time 0, so no increase() is ever extrapolated, and the windows' increases
# are exact differences of cumulative sums.  Its objectives are the values of
# c5metrics_slo_objective: [[from minute, value], ...], the SLO's default from
# minute 0 unless it says otherwise, none at all with no_objective.

# The objective at time t (undef: the gauge is absent).
sub objective_at
{
	my ($sc, $t) = @_;
	return undef if $sc->{no_objective};
	my $o;
	foreach my $c (@{ $sc->{objectives} })
	{
		$o = $c->[1] if $c->[0] <= $t;
	}
	return $o;
}

sub cumulate
{
	my ($sc, $horizon) = @_;
	my (@g, @b);
	$g[0] = $b[0] = 0;
	for my $m (1 .. $horizon)
	{
		my ($gi, $bi) = $sc->{events}->($m);
		$g[$m] = $g[ $m - 1 ] + $gi;
		$b[$m] = $b[ $m - 1 ] + $bi;
	}
	return (\@g, \@b);
}

# good and total increases over window w (minutes) at time t, as Prometheus
# sees them with one sample every $step minutes; undef without two samples.
sub window
{
	my ($cg, $cb, $t, $w, $step) = @_;
	my $from = $t - $w < 0 ? 0 : $t - $w;
	return () if $t - $from < $step;
	my $good = $cg->[$t] - $cg->[$from];
	my $bad = $cb->[$t] - $cb->[$from];
	return ($good, $good + $bad);
}

# The burn rate exactly as the recording rules compute it in float64: 0 for
# a window without events, undef (absent) with events and no objective.
sub burn
{
	my ($objective, $good, $total) = @_;
	return 0 if $total <= 0;
	return undef unless defined $objective;
	return (($total - $good) / $total) / (1 - $objective);
}

# Alerts firing at each evaluation: {time => [[burn index, value, objective], ...]}.
sub simulate
{
	my ($s, $sc, $cg, $cb, $horizon, $step) = @_;
	my %firing;
	my @active;
	for (my $t = 0; $t <= $horizon; $t += $step)
	{
		for my $i (0 .. $#BURNS)
		{
			my $b = $BURNS[$i];
			my @l = window($cg, $cb, $t, $MINUTES{ $b->{long} }, $step);
			my @sh = window($cg, $cb, $t, $MINUTES{ $b->{short} }, $step);
			my $cond = 0;
			my $lv;
			my $o = objective_at($sc, $t);
			if (@l && @sh && defined $o)
			{
				$lv = burn($o, @l);
				my $sv = burn($o, @sh);
				foreach my $v ($lv, $sv)
				{
					die "$s->{slo}/$sc->{job}: burn $v sits on $b->{factor} at $t min: move the scenario\n"
					  if abs($v - $b->{factor}) < 1e-9 * $b->{factor};
				}
				$cond = $lv > $b->{factor} && $sv > $b->{factor} && $l[1] - $l[0] >= $MIN_BAD;
			}
			if (!$cond)
			{
				$active[$i] = undef;
				next;
			}
			$active[$i] //= $t;
			push @{ $firing{$t} }, [ $i, $lv, $o ] if $t - $active[$i] >= $b->{for};
		}
	}
	return \%firing;
}

# ---- promtool test files ----

# The shortest decimal that reads back as the same float64.
sub num
{
	my ($v) = @_;
	for my $p (15 .. 17)
	{
		my $str = sprintf("%.${p}g", $v);
		return $str if $str + 0 == $v;
	}
}

# Prometheus' round(v, 0.001).
sub round3
{
	my ($v) = @_;
	my $inv = 1 / 0.001;
	return floor($v * $inv + 0.5) / $inv;
}

# A counter's values in promtool's expanding notation, from its increments.
sub counter_values
{
	my ($incs) = @_;
	my @runs;
	foreach my $inc (@$incs)
	{
		if (@runs && $runs[-1][0] == $inc) { $runs[-1][1]++ }
		else { push @runs, [ $inc, 1 ] }
	}
	my $v = 0;
	my @parts;
	my $first = 1;
	foreach my $r (@runs)
	{
		my ($inc, $n) = @$r;
		if ($first)
		{
			push @parts, "0+" . num($inc) . "x$n";
			$first = 0;
		}
		else
		{
			push @parts, num($v + $inc) . '+' . num($inc) . 'x' . ($n - 1);
		}
		$v += $inc * $n;
	}
	@parts = ('0') unless @parts;
	return join(' ', @parts);
}

# A gauge's values in promtool's expanding notation, one per sample.
sub gauge_values
{
	my ($values) = @_;
	my @runs;
	foreach my $v (@$values)
	{
		if (@runs && $runs[-1][0] eq $v) { $runs[-1][1]++ }
		else { push @runs, [ $v, 1 ] }
	}
	return join(' ', map { $_->[1] > 1 ? "$_->[0]x" . ($_->[1] - 1) : $_->[0] } @runs);
}

sub labels_of
{
	my ($series, $instance, $job) = @_;
	my $extra = "instance=\"$instance\",job=\"$job\"";
	return $series =~ /\{/ ? $series =~ s/\{/{$extra,/r : "$series\{$extra}";
}

# Input series of one SLO in one scenario.
sub input_series
{
	my ($s, $sc, $horizon, $step, $instance) = @_;
	my $y = '';
	foreach my $spec (@{ $s->{series} })
	{
		my ($series, $cgood, $cbad, $const) = @$spec;
		my @incs;
		for (my $t = $step; $t <= $horizon; $t += $step)
		{
			my $inc = 0;
			for my $m ($t - $step + 1 .. $t)
			{
				my ($g, $b) = $sc->{events}->($m);
				$inc += $cgood * $g + $cbad * $b
				  + ($const eq 'R' ? ($sc->{rejected} // 0) : $const);
			}
			push @incs, $inc;
		}
		$y .= "      - series: '" . labels_of($series, $instance // 'db1', $sc->{job}) . "'\n"
		  . "        values: '" . counter_values(\@incs) . "'\n";
	}
	if (!$sc->{no_objective})
	{
		my @values;
		for (my $t = 0; $t <= $horizon; $t += $step)
		{
			push @values, objective_at($sc, $t);
		}
		$y .= "      - series: '" . labels_of("c5metrics_slo_objective{slo=\"$s->{slo}\"}", $instance // 'db1', $sc->{job}) . "'\n"
		  . "        values: '" . gauge_values(\@values) . "'\n";
	}
	return $y;
}

sub alert_yaml
{
	my ($s, $name, $t, $list) = @_;
	my $y = "      - eval_time: ${t}m\n        alertname: $name\n";
	if (!@$list)
	{
		return $y . "        exp_alerts: []\n";
	}
	$y .= "        exp_alerts:\n";
	foreach my $a (sort { $a->{job} cmp $b->{job} || $a->{i} <=> $b->{i} } @$list)
	{
		my $b = $BURNS[ $a->{i} ];
		my $ann = annotations($s, $b, $a->{value}, $a->{objective});
		$y .= "          - exp_labels:\n"
		  . "              job: $a->{job}\n"
		  . "              slo: $s->{slo}\n"
		  . '              severity: ' . ($b->{kind} eq 'page' ? 'critical' : 'warning') . "\n"
		  . "              flow: $s->{flow}\n"
		  . "              long_window: $b->{long}\n"
		  . "              short_window: $b->{short}\n"
		  . "            exp_annotations:\n"
		  . "              summary: '$ann->{summary}'\n"
		  . "              description: '$ann->{description}'\n"
		  . "              runbook_url: $ann->{runbook_url}\n";
	}
	return $y;
}

# Expression tests of one SLO's recording rules for one scenario at time t.
sub records_yaml
{
	my ($s, $sc, $cg, $cb, $t, $step, $windows, $budget) = @_;
	my $lab = "job=\"$sc->{job}\", slo=\"$s->{slo}\"";
	my $sel = "{job=\"$sc->{job}\", slo=\"$s->{slo}\"}";
	my $y = '';
	my $exp = sub {
		my ($expr, $labels, $value) = @_;
		$y .= "      - expr: '$expr'\n        eval_time: ${t}m\n        exp_samples:\n";
		$y .= "          - labels: '$labels'\n            value: " . num($value) . "\n" if defined $value;
		$y =~ s/exp_samples:\n\z/exp_samples: []\n/ unless defined $value;
	};
	my $o = objective_at($sc, $t);
	$exp->("slo:objective:ratio$sel", "slo:objective:ratio\{$lab}", $o);
	foreach my $w (@$windows)
	{
		my ($good, $total) = window($cg, $cb, $t, $MINUTES{$w}, $step);
		die "$s->{slo}: no data for $w at $t\n" unless defined $total;
		$exp->("slo:sli_good:increase$w$sel", "slo:sli_good:increase$w\{$lab}", $good);
		$exp->("slo:sli_total:increase$w$sel", "slo:sli_total:increase$w\{$lab}", $total);
		$exp->("slo:sli_error:ratio_rate$w$sel", "slo:sli_error:ratio_rate$w\{$lab}",
			$total > 0 ? ($total - $good) / $total : undef);
		my $b = burn($o, $good, $total);
		$exp->("round(slo:burn_rate:$w$sel, 0.001)", "{$lab}", defined $b ? round3($b) : undef);
		if ($budget && $w eq '30d')
		{
			$exp->("round(slo:error_budget_consumed:ratio30d$sel, 0.001)", "{$lab}", defined $b ? round3($b) : undef);
			$exp->("round(slo:error_budget_remaining:ratio30d$sel, 0.001)", "{$lab}", defined $b ? round3(1 - $b) : undef);
		}
	}
	return $y;
}

# One test file: every SLO, every scenario as its own job in one test group
# per SLO (one evaluation pass for all scenarios).
# The head of a test file: its rule files, and the groups in file order
# (promtool otherwise evaluates the groups of one step in random order).
sub test_head
{
	my ($comment, $step, @slos) = @_;
	return "# Generated by monitoring/prometheus/generate-slo-rules.pl: edit that script, not this file.\n"
	  . "#\n$comment"
	  . "rule_files:\n" . join('', map { '  - ../' . rules_file($_) . "\n" } @slos)
	  . "group_eval_order:\n" . join('', map { "  - $_\n" } map { group_names($_) } @slos)
	  . "evaluation_interval: ${step}m\n"
	  . "tests:\n";
}

sub test_file
{
	my (%f) = @_;
	my $s = $f{slo};
	my $y = test_head("# The $s->{title} SLO.\n#\n$f{comment}", $f{step}, $s);
	{
		my $n = 10 / (1 - $s->{default_objective});
		$n = sprintf('%.0f', $n) + 0;
		my @scenarios = $f{scenarios}->($n, $s);
		my $checks = '';
		my $records = '';
		my %times;
		foreach my $sc (@scenarios)
		{
			$sc->{objectives} //= [ [ 0, $s->{default_objective} ] ];
			my ($cg, $cb) = cumulate($sc, $f{horizon});
			my $fired = simulate($s, $sc, $cg, $cb, $f{horizon}, $f{step});
			$sc->{fired} = $fired;
			# transitions: the first evaluation where the set of firing alerts changes
			my $prev = '';
			for (my $t = 0; $t <= $f{horizon}; $t += $f{step})
			{
				my $now = join(',', map { $_->[0] } @{ $fired->{$t} // [] });
				if ($now ne $prev)
				{
					$times{$t} = 1;
					$times{ $t - $f{step} } = 1;
				}
				$prev = $now;
			}
			$times{$_} = 1 foreach @{ $sc->{check_at} // [] };
			$records .= records_yaml($s, $sc, $cg, $cb, $sc->{record_at}, $f{step}, $f{windows}, $f{budget})
			  if defined $sc->{record_at};
		}
		$times{ $f{horizon} } = 1;
		foreach my $t (sort { $a <=> $b } keys %times)
		{
			next if $t < 0;
			foreach my $kind ('page', 'ticket')
			{
				my ($b) = grep { $_->{kind} eq $kind } @BURNS;
				my $name = alertname($s, $b);
				my @list;
				foreach my $sc (@scenarios)
				{
					foreach my $a (@{ $sc->{fired}{$t} // [] })
					{
						next unless $BURNS[ $a->[0] ]{kind} eq $kind;
						push @list, { job => $sc->{job}, i => $a->[0], value => $a->[1], objective => $a->[2] };
					}
				}
				$checks .= alert_yaml($s, $name, $t, \@list);
			}
		}
		$y .= "  - name: '$s->{slo}: $f{name}'\n"
		  . "    interval: $f{step}m\n"
		  . "    input_series:\n";
		$y .= input_series($s, $_, $f{horizon}, $f{step}) foreach @scenarios;
		$y .= "    alert_rule_test:\n$checks";
		$y .= "    promql_expr_test:\n$records" if $records ne '';
	}
	return $y;
}

# Constant traffic of n events a minute; from minute `onset` on, `bad` of them
# fail, for `len` minutes (for ever without len).
sub steady
{
	my ($job, $n, $onset, $bad, %o) = @_;
	return {
		job => $job,
		rejected => $n / 2,
		events => sub {
			my ($m) = @_;
			my $b = $m > $onset && (!defined $o{len} || $m <= $onset + $o{len}) ? $bad : 0;
			return ($n - $b, $b);
		},
		%o,
	};
}

# Objectives a DBA may set instead of the default: one with a budget ten
# times as large (0.999 -> 0.99) and one with half the budget (0.999 ->
# 0.9995), as the exporter prints them.
sub looser { my ($s) = @_; return sprintf('%.6g', 1 - 10 * (1 - $s->{default_objective})); }
sub stricter { my ($s) = @_; return sprintf('%.6g', 1 - (1 - $s->{default_objective}) / 2); }

# ---- the page file: 1-minute samples over 12 hours ----

my $ONSET = 360;    # six clean hours first, so every page window is full
my $TONSET = 4320;    # three clean days first, so every ticket window is full
my %out;
foreach my $s (@SLOS)
{
$out{"tests/slo-$s->{slo}-page.test.yml"} = test_file(
	slo => $s,
	name => 'page alerts and short windows',
	comment => "# Page alerts (14.4x over 1h and 5m; 6x over 6h and 30m) and the short-window recording\n"
	  . "# rules, with one sample a minute.  Every SLO gets n = 10 / (1 - objective) events a\n"
	  . "# minute, so that a burn of x is 10x bad events a minute.  Scenarios (one job each),\n"
	  . "# errors starting after six clean hours (minute $ONSET):\n"
	  . "#   page-1h        14.5x: 1h/5m fires once the 1h window has seen about an hour of it\n"
	  . "#   page-1h-below  14.3x: 1h/5m never fires (the 6h/30m page does, later, as it should)\n"
	  . "#   page-6h         6.1x: 6h/30m fires after about six hours\n"
	  . "#   page-6h-below   5.9x: never pages\n"
	  . "#   outage          93% of the events (less one) fail for 31 minutes: pages within minutes, resolves\n"
	  . "#   quiet           no traffic at all: burn 0, no error ratio, no alert\n"
	  . "#   trickle         4 good events an hour and one failure: 1h burn over 14.4x, but one\n"
	  . "#                  failure never pages (at least $MIN_BAD bad events are needed)\n"
	  . "#   trickle-burst   the same traffic and $MIN_BAD failures in one minute: pages, then\n"
	  . "#                  resolves when they leave the 5m window\n"
	  . "# The objective is c5metrics_slo_objective, " . $s->{default_objective} . " (the default) unless said otherwise.  The\n"
	  . "# same errors page or not as the objective a DBA sets, without any change to the rules:\n"
	  . "#   looser-objective    page-1h's errors with the objective " . looser($s) . " (ten times the budget):\n"
	  . "#                       a 1.45x burn, never pages\n"
	  . "#   stricter-objective  page-1h-below's errors with the objective " . stricter($s) . " (half the\n"
	  . "#                       budget): a 28.6x burn, pages after about half an hour\n"
	  . "#   loosened            page-1h's errors; pages, and the objective is loosened to " . looser($s) . "\n"
	  . "#                       at minute " . ($ONSET + 90) . ": resolves at once\n"
	  . "#   tightened           page-1h-below's errors, no page; the objective is tightened to\n"
	  . "#                       " . stricter($s) . " at minute " . ($ONSET + 90) . ": pages two minutes later (for: 2m)\n"
	  . "# Rejected events (and throttled leads, and the neighbouring histogram buckets) move in\n"
	  . "# every scenario: they must not count.\n",
	step => 1,
	horizon => $ONSET + 380,
	windows => \@SHORT,
	scenarios => sub {
		my ($n, $s) = @_;
		my $trickle = sub {
			my ($job, $fails) = @_;
			return {
				job => $job,
				rejected => 0.0625,
				events => sub {
					my ($m) = @_;
					return (0.0625, $m == $ONSET + 1 ? $fails : 0);
				},
				check_at => [ $ONSET + 1, $ONSET + 3, $ONSET + 30 ],
			};
		};
		return (
			steady('page-1h', $n, $ONSET, 145, record_at => $ONSET + 62),
			steady('page-1h-below', $n, $ONSET, 143, check_at => [ $ONSET + 62, $ONSET + 120 ]),
			steady('page-6h', $n, $ONSET, 61),
			steady('page-6h-below', $n, $ONSET, 59, check_at => [ $ONSET + 370 ]),
			steady('outage', $n, $ONSET, 0.93 * $n - 1, len => 31, record_at => $ONSET + 10),
			{ job => 'quiet', events => sub { (0, 0) }, record_at => $ONSET },
			$trickle->('trickle', 1),
			$trickle->('trickle-burst', $MIN_BAD),
			steady('looser-objective', $n, $ONSET, 145, objectives => [ [ 0, looser($s) ] ],
				record_at => $ONSET + 62),
			steady('stricter-objective', $n, $ONSET, 143, objectives => [ [ 0, stricter($s) ] ]),
			steady('loosened', $n, $ONSET, 145,
				objectives => [ [ 0, $s->{default_objective} ], [ $ONSET + 90, looser($s) ] ],
				record_at => $ONSET + 90),
			steady('tightened', $n, $ONSET, 143,
				objectives => [ [ 0, $s->{default_objective} ], [ $ONSET + 90, stricter($s) ] ],
				check_at => [ $ONSET + 89 ], record_at => $ONSET + 91),
		);
	},
);

# Several nodes: a primary, a second primary (a shard) and a standby that
# serves zeros.  The ratio is sum over sum, never an average of ratios.  The
# objective is the primaries' (the standby's setting may differ: it counts
# nothing); a job of standbys only has theirs; a job whose nodes export no
# objective has no burn rate where it had events.
sub fleet_tests
{
	my $y = '';
	foreach my $s (@SLOS)
	{
		my $d = $s->{default_objective};
		my @nodes = (
			[ 'db1', 0, { job => 'fleet', rejected => 40, events => sub { (90, 10) }, objectives => [ [ 0, $d ] ] } ],
			[ 'db2', 0, { job => 'fleet', rejected => 40, events => sub { (900, 0) }, objectives => [ [ 0, $d ] ] } ],
			[ 'db3', 1, { job => 'fleet', events => sub { (0, 0) }, objectives => [ [ 0, stricter($s) ] ] } ],
			[ 'db4', 1, { job => 'standbys', events => sub { (0, 0) }, objectives => [ [ 0, looser($s) ] ] } ],
			[ 'db5', 0, { job => 'no-objective', rejected => 40, events => sub { (90, 10) }, no_objective => 1 } ],
		);
		$y .= "  - name: '$s->{slo}: several nodes, one of them a standby'\n"
		  . "    interval: 1m\n"
		  . "    input_series:\n";
		foreach my $node (@nodes)
		{
			my ($instance, $recovery, $sc) = @$node;
			$y .= input_series($s, $sc, 10, 1, $instance)
			  . "      - series: '" . labels_of('c5metrics_in_recovery', $instance, $sc->{job}) . "'\n"
			  . "        values: '${recovery}x10'\n";
		}
		my $b = burn($d, 990 * 5, 1000 * 5);
		my $exp = sub {
			my ($comment, $expr, $labels, $value) = @_;
			$y .= "      # $comment\n" if $comment;
			$y .= "      - expr: '$expr'\n"
			  . "        eval_time: 10m\n";
			$y .= defined $value
			  ? "        exp_samples:\n          - labels: '$labels'\n            value: $value\n"
			  : "        exp_samples: []\n";
		};
		my $sel = sub { my ($job) = @_; return "{job=\"$job\", slo=\"$s->{slo}\"}"; };
		$y .= "    promql_expr_test:\n";
		$exp->("10 bad of 1000 events: 1%, not the mean of the nodes' ratios (10%, 0%, none)",
			'slo:sli_error:ratio_rate5m' . $sel->('fleet'), 'slo:sli_error:ratio_rate5m' . $sel->('fleet'), '0.01');
		$exp->("the primaries' objective, not the standby's " . stricter($s),
			'slo:objective:ratio' . $sel->('fleet'), 'slo:objective:ratio' . $sel->('fleet'), $d);
		$exp->(undef, 'round(slo:burn_rate:5m' . $sel->('fleet') . ', 0.001)', $sel->('fleet'), num(round3($b)));
		$exp->('standbys only: theirs; no event, no burn',
			'slo:objective:ratio' . $sel->('standbys'), 'slo:objective:ratio' . $sel->('standbys'), looser($s));
		$exp->(undef, 'slo:burn_rate:5m' . $sel->('standbys'), 'slo:burn_rate:5m' . $sel->('standbys'), 0);
		$exp->('no objective exported: the error ratio, but no objective and no burn rate',
			'slo:sli_error:ratio_rate5m' . $sel->('no-objective'), 'slo:sli_error:ratio_rate5m' . $sel->('no-objective'), '0.1');
		$exp->(undef, 'slo:objective:ratio' . $sel->('no-objective'), undef, undef);
		$exp->(undef, 'slo:burn_rate:5m' . $sel->('no-objective'), undef, undef);
	}
	return $y;
}

# ---- the ticket file: 10-minute samples over six days ----

$out{"tests/slo-$s->{slo}-ticket.test.yml"} = test_file(
	slo => $s,
	name => 'ticket alerts, long windows and the error budget',
	comment => "# Ticket alerts (3x over 1d and 2h; 1x over 3d and 6h), the long-window recording rules\n"
	  . "# and the 30-day error budget, with one sample every 10 minutes.  n = 10 / (1 - objective)\n"
	  . "# events a minute; errors start after three clean days (minute $TONSET):\n"
	  . "#   ticket-1d        3.1x: 1d/2h fires after about a day, 3d/6h a little later\n"
	  . "#   ticket-1d-below  2.9x: 1d/2h never fires\n"
	  . "#   ticket-3d        1.1x: 3d/6h fires after about 2.9 days\n"
	  . "#   ticket-3d-below  0.9x: never fires\n"
	  . "#   looser-objective    ticket-1d's errors with the objective " . looser($s) . " (ten times the budget):\n"
	  . "#                       0.31x, never fires\n"
	  . "#   stricter-objective  ticket-1d-below's errors with the objective " . stricter($s) . " (half the\n"
	  . "#                       budget): 5.8x, both tickets fire\n"
	  . "# (The 5m windows need more than one sample: with 10-minute samples they are absent.)\n",
	step => 10,
	horizon => $TONSET + 4150,
	windows => \@LONG,
	budget => 1,
	scenarios => sub {
		my ($n, $s) = @_;
		return (
			steady('ticket-1d', $n, $TONSET, 31, record_at => $TONSET + 1460),
			steady('ticket-1d-below', $n, $TONSET, 29, check_at => [ $TONSET + 1460, $TONSET + 1580 ]),
			steady('ticket-3d', $n, $TONSET, 11),
			steady('ticket-3d-below', $n, $TONSET, 9),
			steady('looser-objective', $n, $TONSET, 31, objectives => [ [ 0, looser($s) ] ],
				record_at => $TONSET + 1460),
			steady('stricter-objective', $n, $TONSET, 29, objectives => [ [ 0, stricter($s) ] ]),
		);
	},
);
$out{ rules_file($s) } = rules_yaml($s);
}
$out{'tests/slo-fleet.test.yml'} = test_head("# Several PostgreSQL nodes behind one job: a primary with failures, a second primary\n"
	  . "# (a shard) without, and a standby that serves zeros.  Every SLO's error ratio is the\n"
	  . "# sum of bad events over the sum of events, never a mean of the nodes' ratios.  The\n"
	  . "# objective is the primaries', whatever the standby says (job fleet); a job of standbys\n"
	  . "# only has theirs (standbys); a job that exports no c5metrics_slo_objective has error\n"
	  . "# ratios but no objective and no burn rate where it had events (no-objective).\n", 1, @SLOS)
  . fleet_tests();

make_path("$outdir/tests");
foreach my $f (sort keys %out)
{
	open(my $fh, '>', "$outdir/$f") or die "$outdir/$f: $!\n";
	print $fh $out{$f};
	close($fh) or die "$outdir/$f: $!\n";
}
