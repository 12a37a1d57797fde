#!/usr/bin/env bash
# Check the Grafana dashboards and provisioning files of monitoring/grafana/
# against PromQL and against the metric catalog of the extension.
#
#   test/check-dashboards.sh [--exposition FILE | --live]
#
# For every dashboard (monitoring/grafana/dashboards/*.json):
#   - valid JSON, a title and a unique uid, the ${datasource} and $instance
#     variables, at least one panel (panels nested in rows count);
#   - every panel has a title, a description, a unit, the ${datasource}
#     datasource and at least one target with a query;
#   - every metric selector of a query filters on instance=~"$instance";
#   - every query, with the Grafana variables replaced by concrete values,
#     parses as PromQL: the queries are written as recording rules into a
#     temporary rule file that `promtool check rules` must accept;
#   - every metric a query names is exported by the extension.
# Every metric named by a rule of monitoring/prometheus/*.yml (not *_test.yml)
# must be exported too, or be a recording rule defined there, or a series
# Prometheus makes itself (up, scrape_*, ALERTS).  The provisioning files
# must be Grafana provisioning YAML.  Catalog metric families that no panel
# shows are listed for information.
#
# The catalog is the extension's own, C5M_FAMILIES in src/catalog.h (read
# through `perl test/check-catalog.pl --list`), or, with --exposition FILE,
# the families of an exposition in the Prometheus text format, or, with
# --live, those of a throwaway cluster started with the installed extension
# (as $C5_USER when run as root, on a Unix socket only, its HTTP listener
# off).  With either, the exposition must hold exactly the catalog's
# families, with their types.  From any server:
#   psql -Atc 'select c5metrics.exposition()' >/tmp/exposition.txt
#   test/check-dashboards.sh --exposition /tmp/exposition.txt
#
# Run as root it installs what is missing (prometheus for promtool, and
# libyaml-libyaml-perl).  The last line is "dashboards: N passed, M failed",
# one count per catalog, dashboard, rule file and provisioning file; the
# exit status is 0 only when nothing failed, and never when nothing was
# checked.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. test/lib.sh

exposition=
live=0
while [ $# -gt 0 ]; do
	case $1 in
	--exposition) exposition=${2:?--exposition needs a file}; shift 2 ;;
	--exposition=*) exposition=${1#*=}; shift ;;
	--live) live=1; shift ;;
	-h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument: $1 (see --help)" ;;
	esac
done
[ -z "$exposition" ] || [ "$live" -eq 0 ] || die "--exposition and --live exclude each other"
[ -z "$exposition" ] || [ -r "$exposition" ] || die "cannot read $exposition"

c5_ensure_packages prometheus libyaml-libyaml-perl
command -v promtool >/dev/null || die "promtool not found (Debian package prometheus)"

tmp=$(mktemp -d /tmp/c5-check-dashboards.XXXXXX)
cleanup() {
	[ -f "$tmp/pg/postmaster.pid" ] && c5_as_user "$PGBIN/pg_ctl" -D "$tmp/pg" -m immediate stop >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT

# --live: the exposition of a fresh cluster; a failure to get one is a
# failed check, reported by the perl part with the server's log.
live_error=
if [ "$live" -eq 1 ]; then
	c5_ensure_user
	chown "$C5_USER" "$tmp" 2>/dev/null
	exposition=$tmp/exposition.txt
	if ! c5_as_user "$PGBIN/initdb" -D "$tmp/pg" -A trust -U postgres >"$tmp/initdb.log" 2>&1; then
		live_error="initdb failed: $(tail -n 3 "$tmp/initdb.log")"
	else
		printf '%s\n' "shared_preload_libraries = 'c5metrics'" "listen_addresses = ''" \
			"unix_socket_directories = '$tmp'" "port = 57391" "c5metrics.listen_addresses = ''" \
			>>"$tmp/pg/postgresql.conf"
		if ! c5_as_user "$PGBIN/pg_ctl" -D "$tmp/pg" -l "$tmp/server.log" -w start >/dev/null 2>&1; then
			live_error="the server did not start: $(tail -n 3 "$tmp/server.log")"
		elif ! c5_as_user "$PGBIN/psql" -X -Atq -v ON_ERROR_STOP=1 -h "$tmp" -p 57391 -U postgres \
			-d postgres -c 'CREATE EXTENSION c5metrics' -c 'SELECT c5metrics.exposition()' \
			>"$exposition" 2>"$tmp/psql.log"; then
			live_error="c5metrics.exposition() failed: $(tail -n 3 "$tmp/psql.log")"
		fi
		c5_as_user "$PGBIN/pg_ctl" -D "$tmp/pg" -m fast stop >/dev/null 2>&1
	fi
fi

C5_TMP=$tmp C5_EXPOSITION=$exposition C5_LIVE_ERROR=$live_error perl - <<'PERL'
use strict;
use warnings;
use JSON::PP;
use YAML::XS ();

my $tmp = $ENV{C5_TMP};
my $exposition = $ENV{C5_EXPOSITION};
my $catalog_file = 'src/catalog.h';
my $dash_dir = 'monitoring/grafana/dashboards';
my $prov_dir = 'monitoring/grafana/provisioning';
my $rules_dir = 'monitoring/prometheus';

# Values the Grafana variables take when a query is checked.
my %builtin = (
	__rate_interval => '1m', __interval => '30s', __interval_ms => '30000',
	__range => '6h', __range_s => '21600', __range_ms => '21600000',
);
# Series Prometheus makes itself, allowed in rules (not in panels).
my %synthetic = map { $_ => 1 } qw(up scrape_duration_seconds scrape_samples_scraped
	scrape_samples_post_metric_relabeling scrape_series_added ALERTS ALERTS_FOR_STATE);
my %aggregator = map { $_ => 1 } qw(sum min max avg group stddev stdvar count
	count_values bottomk topk quantile);
my %keyword = map { $_ => 1 } qw(by without on ignoring group_left group_right
	bool and or unless offset inf nan atan2);
my %list_keyword = map { $_ => 1 } qw(by without on ignoring group_left group_right);
my %panel_types = map { $_ => 1 } qw(timeseries stat gauge table bargauge barchart
	piechart heatmap histogram text state-timeline status-history);

my ($passed, $failed) = (0, 0);
sub item {
	my ($name, $errors, $note) = @_;
	if (@$errors) {
		$failed++;
		print "FAIL $name\n";
		print "     - $_\n" for @$errors;
	} else {
		$passed++;
		print "ok   $name", ($note ? " ($note)" : ''), "\n";
	}
}

# An error message on one line, without perl's "at FILE line N".
sub why {
	my ($m) = @_;
	$m =~ s/ at \S+ line \d+\.?\s*$//;
	$m =~ s/^YAML::XS::Load Error: The problem:\s*//;
	return join(' ', grep { /\S/ } split /\s*\n\s*/, $m);
}

sub slurp {
	my ($f) = @_;
	open my $fh, '<', $f or return undef;
	local $/;
	my $s = <$fh>;
	return $s;
}

# ------------------------------------------------------------- the catalog

# Metric names a family of a given type puts in an exposition.
sub names_of {
	my ($family, $type) = @_;
	return ("${family}_bucket", "${family}_sum", "${family}_count") if $type eq 'histogram';
	return ($family, "${family}_sum", "${family}_count") if $type eq 'summary';
	return ("${family}_total", "${family}_created") if $type eq 'counter' && $family !~ /_total$/;
	return ("${family}_info") if $type eq 'info' && $family !~ /_info$/;
	return ($family);
}

sub parse_exposition {
	my ($text) = @_;
	my (%type, %seen);
	for (split /\n/, $text) {
		if (/^#\s*TYPE\s+([a-zA-Z_:][a-zA-Z0-9_:]*)\s+(\w+)/) {
			$type{$1} = $2;
		} elsif (/^([a-zA-Z_:][a-zA-Z0-9_:]*)[\s{]/) {
			$seen{$1} = 1;
		}
	}
	# a sample outside any typed family is an untyped family of its own
	my %covered = map { my $f = $_; map { $_ => 1 } names_of($f, $type{$f}) } keys %type;
	$type{$_} //= 'untyped' for grep { !$covered{$_} && !$type{$_} } keys %seen;
	return \%type;
}

sub parse_catalog {
	my ($text) = @_;
	my %type;
	for (split /\n/, $text) {
		next if /^\s*(#|$)/;
		my ($name, $type) = split ' ';
		$type{$name} = $type // 'untyped';
	}
	return \%type;
}

my $catalog_text = `perl test/check-catalog.pl --list`;
$catalog_text = undef if $? != 0;
my $catalog;
my @catalog_errors;
my $live_error = $ENV{C5_LIVE_ERROR} // '';
if ($live_error) {
	item('catalog: live cluster', ["no exposition from a live cluster: $live_error"]);
	$exposition = '';
}
if ($exposition) {
	my $source = $live_error eq '' && $exposition =~ m{^\Q$tmp\E/} ? 'a live cluster' : $exposition;
	$catalog = parse_exposition(slurp($exposition) // '');
	push @catalog_errors, "$source has no metric family" unless %$catalog;
	my $from_file = parse_catalog($catalog_text // '');
	my @diff;
	for my $f (sort keys %{{ %$catalog, %$from_file }}) {
		my ($a, $b) = ($catalog->{$f} // '-', $from_file->{$f} // '-');
		push @diff, "$f: exposition $a, $catalog_file $b" if $a ne $b;
	}
	push @catalog_errors, "the exposition differs from the catalog of $catalog_file:", @diff
		if @diff;
	item("catalog: $source", \@catalog_errors, scalar(keys %$catalog) . " families, as $catalog_file");
} else {
	$catalog = parse_catalog($catalog_text // '');
	push @catalog_errors, defined $catalog_text ? "$catalog_file lists no metric family"
		: "no catalog read from $catalog_file" unless %$catalog;
	item("catalog: $catalog_file", \@catalog_errors, scalar(keys %$catalog) . " families");
}
my %family_of;
for my $f (keys %$catalog) {
	$family_of{$_} = $f for names_of($f, $catalog->{$f});
}

# ------------------------------------------------------------- PromQL names

# The metric selectors of a PromQL expression: [name, matchers or undef].
# Strings, ranges, label lists and function names are skipped; a selector
# given only by {__name__="..."} is named by that matcher.
sub selectors {
	my ($expr) = @_;
	my @tok;
	pos($expr) = 0;
	while (pos($expr) < length $expr) {
		if ($expr =~ /\G\s+/gc || $expr =~ /\G#[^\n]*/gc) {
			next;
		} elsif ($expr =~ /\G(\$\{[^}]*\}|\$\w+|\[\[[^\]]*\]\])/gc) {
			push @tok, ['var', $1];	# a Grafana variable
		} elsif ($expr =~ /\G("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)/gc) {
			push @tok, ['str', $1];
		} elsif ($expr =~ /\G(\{(?:[^}"'`]|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)*\})/gc) {
			push @tok, ['matchers', $1];
		} elsif ($expr =~ /\G\[[^\]]*\]/gc) {
			push @tok, ['range', ''];
		} elsif ($expr =~ /\G(\d[\w.]*|\.\d[\w.]*)/gc) {
			push @tok, ['num', $1];
		} elsif ($expr =~ /\G([a-zA-Z_:][a-zA-Z0-9_:]*)/gc) {
			push @tok, ['ident', $1];
		} elsif ($expr =~ /\G(.)/gcs) {
			push @tok, ['op', $1];
		}
	}
	my @sel;
	for (my $i = 0; $i < @tok; $i++) {
		my ($kind, $text) = @{ $tok[$i] };
		my $next = $tok[$i + 1] // ['', ''];
		if ($kind eq 'matchers' && ($i == 0 || $tok[$i - 1][0] ne 'ident')) {
			push @sel, [$1, $text] if $text =~ /__name__\s*=\s*["'`]([^"'`]*)["'`]/;
			next;
		}
		next unless $kind eq 'ident';
		my $lc = lc $text;
		if ($list_keyword{$lc} && $next->[1] eq '(') {
			$i++ while $i < $#tok && $tok[$i][1] ne ')';	# a label list
			next;
		}
		next if $keyword{$lc};
		next if $next->[1] eq '(';	# a function or an aggregation
		next if $aggregator{$lc} && $next->[0] eq 'ident' && $next->[1] =~ /^(by|without)$/i;
		push @sel, [$text, $next->[0] eq 'matchers' ? $next->[1] : undef];
	}
	return @sel;
}

sub known_name {
	my ($name, $records) = @_;
	return exists $family_of{$name} || ($name =~ /:/ && $records->{$name});
}

# ------------------------------------------------------------- rule files

my %records;	# recording rules defined by the rule files
my @rule_files = grep { !/_test\.ya?ml$/ } sort glob("$rules_dir/*.yml $rules_dir/*.yaml");
my %rules;
for my $file (@rule_files) {
	my $doc = eval { YAML::XS::LoadFile($file) };
	$rules{$file} = $@ ? { error => "not valid YAML: " . why($@) } : { doc => $doc };
	next if $@;
	# unit tests (rule_files, tests) and configurations (global,
	# scrape_configs) may live beside the rules: only "groups" makes a rule file
	if (ref $doc eq 'HASH' && !exists $doc->{groups} && grep { exists $doc->{$_} }
		qw(tests rule_files global scrape_configs alerting)) {
		print "note $file skipped: not a rule file\n";
		delete $rules{$file};
		next;
	}
	for my $g (@{ (ref $doc eq 'HASH' && $doc->{groups}) || [] }) {
		for my $r (@{ $g->{rules} || [] }) {
			$records{ $r->{record} } = 1 if defined $r->{record};
		}
	}
}
for my $file (grep { $rules{$_} } @rule_files) {
	my @errors;
	my ($n, %unknown, %synth) = (0);
	if ($rules{$file}{error}) {
		push @errors, $rules{$file}{error};
	} else {
		my $doc = $rules{$file}{doc};
		for my $g (@{ (ref $doc eq 'HASH' && $doc->{groups}) || [] }) {
			for my $r (@{ $g->{rules} || [] }) {
				my $what = $r->{record} // $r->{alert} // '?';
				$n++;
				for my $s (selectors($r->{expr} // '')) {
					my $name = $s->[0];
					if ($synthetic{$name}) {
						$synth{$name} = 1;
					} elsif (!known_name($name, \%records)) {
						push @{ $unknown{$name} }, $what;
					}
				}
			}
		}
	}
	push @errors, "$_ is not exported by c5metrics (used by " . join(', ', @{ $unknown{$_} }) . ")"
		for sort keys %unknown;
	push @errors, "no rule" if !$n && !@errors;
	my $note = "$n rules, metric names checked";
	$note .= "; Prometheus-made series: " . join(' ', sort keys %synth) if %synth;
	item("rules: $file", \@errors, $note);
}

# ------------------------------------------------------------- dashboards

my $json = JSON::PP->new->relaxed(0);
my @dashboards = sort glob("$dash_dir/*.json");
item("dashboards: $dash_dir", ["no dashboard *.json in $dash_dir"]) unless @dashboards;

my %shown;	# catalog families that some panel queries
my %uids;
for my $file (@dashboards) {
	my @errors;
	my $d = eval { $json->decode(slurp($file) // '') };
	if (!$d || ref $d ne 'HASH') {
		item("dashboard: $file", ["not valid JSON: " . why($@ || 'not an object')]);
		next;
	}
	my $title = $d->{title} // '';
	push @errors, "no title" unless length $title;
	push @errors, "no uid" unless length($d->{uid} // '');
	push @errors, "uid $d->{uid} is also the uid of $uids{$d->{uid}}" if $d->{uid} && $uids{ $d->{uid} };
	$uids{ $d->{uid} // '' } //= $file;
	push @errors, "no schemaVersion" unless ($d->{schemaVersion} // 0) >= 30;

	# variables and the values they take in the checked queries
	my %value = %builtin;
	my %vars;
	for my $v (@{ $d->{templating}{list} || [] }) {
		my $name = $v->{name} // next;
		$vars{$name} = $v;
		my $type = $v->{type} // '';
		my $q = ref $v->{query} eq 'HASH' ? $v->{query}{query} : $v->{query};
		$value{$name} =
			  $type eq 'query' ? '.*'
			: $type =~ /^(textbox|constant)$/ ? ($q // '')
			: $type =~ /^(custom|interval)$/ ? (split /\s*,\s*/, $q // '')[0] // ''
			: $type eq 'datasource' ? undef
			: '.*';
	}
	my $dsv = $vars{datasource};
	push @errors, 'no datasource variable of type datasource for prometheus'
		unless $dsv && ($dsv->{type} // '') eq 'datasource' && ($dsv->{query} // '') eq 'prometheus';
	my $iv = $vars{instance};
	my $ivq = $iv ? (ref $iv->{query} eq 'HASH' ? $iv->{query}{query} : $iv->{query}) // '' : '';
	push @errors, 'no instance variable: label_values(c5metrics_build_info, instance), multi, include All'
		unless $iv && $ivq =~ /^label_values\(\s*c5metrics_build_info\s*,\s*instance\s*\)$/
		&& $iv->{multi} && $iv->{includeAll};

	# panels, nested in rows or not
	my @panels;
	my @queue = @{ $d->{panels} || [] };
	while (my $p = shift @queue) {
		if (($p->{type} // '') eq 'row') {
			push @queue, @{ $p->{panels} || [] };
		} else {
			push @panels, $p;
		}
	}
	push @errors, 'no panel' unless @panels;

	my (@rules, %rule_of, %ids);
	my $queries = 0;
	for my $p (@panels) {
		my $pt = $p->{title} // '';
		my $where = "panel " . ($p->{id} // '?') . " \"$pt\"";
		push @errors, "$where: no id" unless defined $p->{id};
		push @errors, "$where: id used twice" if defined $p->{id} && $ids{ $p->{id} }++;
		push @errors, "$where: no title" unless length $pt;
		push @errors, "$where: no description" unless length($p->{description} // '');
		push @errors, "$where: no unit" unless length($p->{fieldConfig}{defaults}{unit} // '');
		push @errors, "$where: panel type " . ($p->{type} // 'none') . " is not one this project uses"
			unless $panel_types{ $p->{type} // '' };
		push @errors, "$where: no gridPos" unless ref $p->{gridPos} eq 'HASH';
		my @targets = @{ $p->{targets} || [] };
		push @errors, "$where: no target" unless @targets;
		for my $t (@targets) {
			my $ref = $t->{refId} // '?';
			my $ds = $t->{datasource} // $p->{datasource} // {};
			push @errors, "$where/$ref: datasource is not \${datasource}"
				unless ref $ds eq 'HASH' && ($ds->{uid} // '') =~ /^\$\{?datasource\}?$/;
			my $expr = $t->{expr} // '';
			if ($expr !~ /\S/) {
				push @errors, "$where/$ref: no query";
				next;
			}
			$queries++;
			for my $s (selectors($expr)) {
				my ($name, $m) = @$s;
				if (!known_name($name, \%records)) {
					push @errors, "$where/$ref: $name is not exported by c5metrics";
				} elsif ($family_of{$name}) {
					$shown{ $family_of{$name} } = 1;
				}
				push @errors, "$where/$ref: $name is not filtered by instance=~\"\$instance\""
					unless defined $m && $m =~ /\binstance\s*=~\s*"\$\{?instance(:\w+)?\}?"/;
			}
			my $concrete = $expr;
			my @unknown;
			my $sub = sub {
				my ($name) = @_;
				return $value{$name} if defined $value{$name};
				push @unknown, $name;
				return 'x';
			};
			$concrete =~ s/\$\{(\w+)(?::[^}]*)?\}/$sub->($1)/ge;
			$concrete =~ s/\[\[(\w+)(?::[^\]]*)?\]\]/$sub->($1)/ge;
			$concrete =~ s/\$(\w+)/$sub->($1)/ge;
			push @errors, "$where/$ref: unknown variable \$$_" for @unknown;
			my $record = sprintf 'dashboard_query_%d_%s', scalar(@rules), $ref =~ s/\W/_/gr;
			$rule_of{$record} = "$where/$ref";
			push @rules, { record => $record, expr => $concrete };
		}
	}

	# every query, as a recording rule, must satisfy promtool
	if (@rules) {
		my $rf = "$tmp/" . ($file =~ s{.*/}{}r) . ".rules.yml";
		YAML::XS::DumpFile($rf, { groups => [{ name => 'dashboard', rules => \@rules }] });
		my $out = `promtool check rules '$rf' 2>&1`;
		if ($?) {
			my $mapped = 0;
			for my $line (split /\n/, $out) {
				next unless $line =~ /"(dashboard_query_\d+_\w+)":\s*(.*)/;
				push @errors, "$rule_of{$1}: $2";
				$mapped++;
			}
			push @errors, "promtool check rules failed:", split /\n/, $out unless $mapped;
		}
	}
	item("dashboard: $file", \@errors,
		scalar(@panels) . " panels, $queries queries parsed by promtool" . ($title ? ", \"$title\"" : ''));
}

# ------------------------------------------------------------- provisioning

for my $kind (qw(datasources dashboards)) {
	my @files = sort glob("$prov_dir/$kind/*.yml $prov_dir/$kind/*.yaml");
	item("provisioning: $prov_dir/$kind", ["no provisioning file"]) unless @files;
	for my $file (@files) {
		my @errors;
		my $doc = eval { YAML::XS::LoadFile($file) };
		if (!$doc || ref $doc ne 'HASH') {
			item("provisioning: $file", ["not valid YAML: " . why($@ || 'not a mapping')]);
			next;
		}
		push @errors, 'apiVersion is not 1' unless ($doc->{apiVersion} // '') eq '1';
		if ($kind eq 'datasources') {
			my @prom = grep { ($_->{type} // '') eq 'prometheus' } @{ $doc->{datasources} || [] };
			push @errors, 'no datasource of type prometheus' unless @prom;
			for (@prom) {
				push @errors, "datasource " . ($_->{name} // '?') . ": no name or url"
					unless $_->{name} && ($_->{url} // '') =~ m{^https?://};
			}
		} else {
			my @prov = @{ $doc->{providers} || [] };
			push @errors, 'no provider' unless @prov;
			for (@prov) {
				push @errors, "provider " . ($_->{name} // '?') . ": not of type file with options.path"
					unless $_->{name} && ($_->{type} // 'file') eq 'file' && $_->{options}{path};
			}
		}
		item("provisioning: $file", \@errors);
	}
}

# ------------------------------------------------------------- coverage

my @hidden = grep { !$shown{$_} } sort keys %$catalog;
if (@hidden) {
	print "note catalog metric families no panel shows: ", join(' ', @hidden), "\n";
} else {
	print "note every one of the ", scalar(keys %$catalog), " catalog metric families is shown by some panel\n";
}
print "dashboards: $passed passed, $failed failed\n";
exit($failed || !$passed ? 1 : 0);
PERL
