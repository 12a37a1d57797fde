=pod

=head1 NAME

C5Test - helpers shared by the c5metrics TAP tests (test/t/*.pl)

=head1 SYNOPSIS

  use FindBin;
  use lib "$FindBin::Bin/../perl";
  use C5Test;

  my $node = C5Test::node('name', http_port => $port, schema => 'shop');
  ok(eventually(sub { (http_get("$base/healthz"))[0] == 200 }), 'the worker serves');
  my ($code, $headers, $body) = http_get("$base/metrics", '-H', 'Accept: text/plain');
  my $pid = worker_pid($node);
  my $paid = truth_of($truth, 'sales_transition_total', to_status => 'paid', result => 'success');
  my @bad = mismatches($node, $truth);
  my $v = prom_value($api, 'up{job="c5metrics"}', time());

=head1 DESCRIPTION

Every helper takes what it works on as a parameter (a node, a URL, the
ground truth, the Prometheus API URL): none reads a test's globals.  The
tests find this module through C<FindBin>, relative to the test file, so
that it is found however prove is started (C<make installcheck> runs prove
from the repository root).

=cut

package C5Test;

use strict;
use warnings;
use Exporter 'import';
use IPC::Run;
use JSON::PP qw(encode_json decode_json);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Time::HiRes qw(usleep time);

our @EXPORT = qw(eventually worker_pid http_get truth_of mismatches
  prom_query prom_vector prom_value);

=pod

=head1 FUNCTIONS

=over

=item node($name, %opt)

A new PostgreSQL::Test::Cluster node C<$name> with c5metrics preloaded:
initialized, its postgresql.conf given C<shared_preload_libraries =
'c5metrics'> and the HTTP worker's address, started, and C<CREATE
EXTENSION c5metrics> run in database postgres.  Called as
C<C5Test::node>, not exported (C<$node> is every test's variable).
Options:

=over

=item C<< http_port => $port >>

The worker listens on 127.0.0.1 port C<$port>.  Without it,
C<c5metrics.listen_addresses = ''>: the worker does not listen.

=item C<< conf => $lines >>

More postgresql.conf lines, appended after those.

=item C<< allows_streaming => 1 >>

Passed to C<init>: a primary that a standby can be made from.

=item C<< schema => $name >>

After the extension, C<c5metrics.create_reference_schema($name)> too.

=item C<< extension => 0 >>

Started, but no C<CREATE EXTENSION> (the test creates it later, elsewhere,
or c5load C<--init> does).

=item C<< start => 0 >>

Initialized and configured only: not started, no extension.

=back

=cut

sub node
{
	my ($name, %opt) = @_;
	my @unknown = grep { !/^(http_port|conf|allows_streaming|schema|extension|start)$/ } keys %opt;
	die "C5Test::node: unknown option @unknown" if @unknown;

	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(allows_streaming => $opt{allows_streaming} // 0);
	$node->append_conf('postgresql.conf',
		"shared_preload_libraries = 'c5metrics'\n"
		  . (defined $opt{http_port}
			? "c5metrics.listen_addresses = '127.0.0.1'\nc5metrics.port = $opt{http_port}\n"
			: "c5metrics.listen_addresses = ''\n")
		  . ($opt{conf} // ''));
	return $node unless $opt{start} // 1;
	$node->start;
	return $node unless $opt{extension} // 1;
	$node->safe_psql('postgres',
		'CREATE EXTENSION c5metrics'
		  . (defined $opt{schema} ? ";\nSELECT c5metrics.create_reference_schema('$opt{schema}')" : ''));
	return $node;
}

=pod

=item eventually($cond, $secs, $poll_us, final_try => 1)

Calls C<$cond> until it returns true, for up to C<$secs> seconds (default
20), sleeping C<$poll_us> microseconds between calls (default 100_000).
Returns 1 as soon as C<$cond> is true.  When the time is up it returns 0 --
or, with C<< final_try => 1 >>, the result of one last call of C<$cond>.

=cut

sub eventually
{
	my ($cond, $secs, $poll_us, %opt) = @_;
	my $until = time() + ($secs // 20);
	$poll_us //= 100_000;
	while (time() < $until)
	{
		return 1 if $cond->();
		usleep($poll_us);
	}
	return $opt{final_try} ? $cond->() : 0;
}

=pod

=item worker_pid($node)

The PID of C<$node>'s HTTP worker, the "c5metrics http listener" child of
its postmaster, or undef when there is none.  The worker connects to no
database, so pg_stat_activity does not list it: it is found with ps among
the children of the postmaster PID the node knows (C<< $node->{_pid} >>,
updated by start and restart).

=cut

sub worker_pid
{
	my ($node) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'ps', '-o', 'pid=,args=', '--ppid', $node->{_pid} ], '>', \$out, '2>', \$err);
	my ($pid) = $out =~ /^\s*(\d+) postgres: .*c5metrics http listener/m;
	return $pid;
}

=pod

=item http_get($url, @curl_args)

Requests C<$url> with curl (C<-s -S --noproxy '*' --max-time 10>, then
C<@curl_args>, which may add headers, change the method, or override the
time limit: curl uses the last C<--max-time> given).  Returns
C<($code, $headers, $body)>: the status of the first response in the
headers (0 when nothing answered), the response headers as received, and
the body.

=cut

sub http_get
{
	my ($url, @curl_args) = @_;
	my ($out, $err) = ('', '');
	my $hdr = "$PostgreSQL::Test::Utils::tmp_check/c5test_curl_headers_$$";
	unlink $hdr;
	IPC::Run::run(
		[ 'curl', '-s', '-S', '--noproxy', '*', '--max-time', '10', '-D', $hdr, @curl_args, $url ],
		'>', \$out, '2>', \$err);
	my $headers = -e $hdr ? slurp_file($hdr) : '';
	unlink $hdr;
	my ($code) = $headers =~ m{^HTTP/\S+ (\d+)}m;
	return ($code // 0, $headers, $out);
}

=pod

=item truth_of($truth, $metric, %labels)

The sum of the values of every ground-truth series (c5load's C<--json>
output, decoded) of C<$metric> whose labels include C<%labels>; 0 when
none matches.  Labels not named are summed over.  c5load reports each
label set once, so a query naming every label of a series (as
test/t/006_exactness.pl does) gets that series' value.

=cut

sub truth_of
{
	my ($truth, $metric, %labels) = @_;
	my $sum = 0;
	foreach my $s (@{ $truth->{series} })
	{
		next unless $s->{metric} eq $metric;
		next if grep { ($s->{labels}{$_} // '') ne $labels{$_} } keys %labels;
		$sum += $s->{value};
	}
	return $sum;
}

=pod

=item mismatches($node, $truth, $skip, $dbname)

The ground-truth series whose value differs from C<$node>'s
c5metrics.metrics (a missing series counts as 0), metrics matching the
regular expression C<$skip> aside (none by default), read in database
C<$dbname> (default postgres; the counters are the cluster's, any
database with the extension shows them all), as lines
"metric {labels}: c5metrics VALUE, ground truth VALUE" (VALUE "no series"
when the registry has none).  Compared in SQL, in one query.

=cut

sub mismatches
{
	my ($node, $truth, $skip, $dbname) = @_;
	my $json = encode_json($truth->{series});
	$json =~ s/'/''/g;
	$skip //= '^$';
	my $rows = $node->safe_psql($dbname // 'postgres', qq{
		SELECT s ->> 'metric' || ' ' || (s -> 'labels')::text || ': c5metrics '
		       || coalesce(m.value::text, 'no series') || ', ground truth ' || (s ->> 'value')
		  FROM jsonb_array_elements('$json'::jsonb) s
		  LEFT JOIN c5metrics.metrics m ON m.metric = s ->> 'metric' AND m.labels = s -> 'labels'
		 WHERE coalesce(m.value, 0) <> (s ->> 'value')::float8
		   AND s ->> 'metric' !~ '$skip'});
	return grep { $_ ne '' } split /\n/, $rows;
}

=pod

=item prom_query($api, $query, $at)

A PromQL instant query against the Prometheus HTTP API at C<$api>
("http://host:port/api/v1"), at time C<$at> (Unix seconds; now when
undef).  Returns the answer's C<data> (C<resultType> and C<result>), or
undef when Prometheus did not answer or answered with an error.

=item prom_vector($api, $query, $at)

The C<result> of the query (an array reference, empty on an error).

=item prom_value($api, $query, $at)

The value (a string) of the first sample of the result, or undef when the
result is empty, the query failed, or the value is NaN.

=back

=cut

sub prom_query
{
	my ($api, $q, $at) = @_;
	my (undef, undef, $body) = http_get("$api/query", '-G', '--data-urlencode', "query=$q",
		defined $at ? ('--data-urlencode', "time=$at") : ());
	my $r = eval { decode_json($body) };
	return $r && $r->{status} eq 'success' ? $r->{data} : undef;
}

sub prom_vector
{
	my $d = prom_query(@_);
	return $d ? $d->{result} : [];
}

sub prom_value
{
	my $d = prom_query(@_);
	return undef unless $d && ref $d->{result} eq 'ARRAY' && @{ $d->{result} };
	my $v = $d->{result}[0]{value}[1];
	return $v eq 'NaN' ? undef : $v;
}

1;
