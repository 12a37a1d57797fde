# Django, as a shop runs it: Debian's Django (python3-django, psycopg2)
# drives the reference shop modelled the way Django generates it
# (test/django/: tables shop_sale, shop_refund, ...; varchar statuses and
# idempotency key; numeric amounts), created and attached by Django's own
# migrations.  test/django/workload.py runs the ORM -- atomic() payments,
# nested savepoints rolled back, duplicate keys, bulk_create(ignore_conflicts),
# update(), bulk_update(), over-refunds, refund-in, leads and the throttle,
# four threads -- and compares every series c5metrics moved with the deltas
# it computed itself (test/django/ledger.py); then it applies RenameField,
# AlterField (status, refund amount), RenameModel and AddField migrations
# with the tables attached, each followed by a workload and the same
# comparison.  Each of its checks is one test here.
use strict;
use warnings;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/../perl";
use C5Test;

# Debian's Python, not another one on the PATH: the packages are its.
my $python = '/usr/bin/python3';
my $dir = "$FindBin::Bin/../django";
my ($out, $err) = ('', '');
ok(IPC::Run::run([ $python, '-c', 'import django, psycopg2; print(django.get_version())' ],
		'>', \$out, '2>', \$err), "Debian's Django and psycopg2 are installed")
  or BAIL_OUT('install python3-django and python3-psycopg2');
note("Django $out");

my $node = C5Test::node('django', extension => 0, conf => "c5metrics.lead_throttle = on\n");
$node->safe_psql('postgres', 'CREATE DATABASE djshop');
$node->safe_psql('djshop', 'CREATE EXTENSION c5metrics');

my $done = 0;
{
	local $ENV{PGHOST} = $node->host;
	local $ENV{PGPORT} = $node->port;
	delete local $ENV{PGUSER};
	local $ENV{C5_DJANGO_DB} = 'djshop';
	local $ENV{DJANGO_SETTINGS_MODULE} = 'c5shop.settings';
	local $ENV{PYTHONPATH} = $dir;
	local $ENV{PYTHONDONTWRITEBYTECODE} = 1;
	local $ENV{C5_LEDGER_DIR} = $node->basedir;
	($out, $err) = ('', '');
	my $ok = eval {
		IPC::Run::run([ $python, "$dir/workload.py" ], '>', \$out, '2>', \$err,
			IPC::Run::timeout(180));
	};
	ok($ok, 'the Django workload exited with status 0')
	  or diag("status $?" . ($@ ? ", $@" : '') . "\n$err");
}
foreach my $line (split /\n/, $out)
{
	my $r = eval { decode_json($line) };
	if (!$r)
	{
		note($line);
	}
	elsif ($r->{done})
	{
		$done = 1;
	}
	else
	{
		ok($r->{ok}, $r->{name}) or diag($r->{diag});
	}
}
ok($done, 'the Django workload ran to its end');

$node->stop;
done_testing();
