#!/usr/bin/perl
# check-catalog.pl: one metric catalog.  The rows of C5M_FAMILIES in
# src/catalog.h are the catalog; this checks that
#   - the catalog table of docs/METRICS.md has one row per family, in the
#     same order, with the same type and label names;
#   - the store numbers are distinct, 0 .. C5M_NSTORED - 1.
# (test/check-dashboards.sh checks dashboards and rules against the same
# rows, and a live exposition against them.)
#
#   perl test/check-catalog.pl          check
#   perl test/check-catalog.pl --list   print "family type" per line
#
# Prints "ok"/"not ok" lines and "catalog: N passed, M failed".
use strict;
use warnings;

chdir(($0 =~ m{^(.*)/test/[^/]+$})[0] // '.') or die "cannot find the repository\n";
my $list = grep { $_ eq '--list' } @ARGV;

my ($passed, $failed) = (0, 0);
sub check
{
	my ($ok, $what, @detail) = @_;
	if ($ok) { print "ok - $what\n"; $passed++; }
	else { print "not ok - $what\n"; print "#   $_\n" for @detail; $failed++; }
}

# the rows: X(id, "name", "type", shape, domain, "keys", store, "flow", "help")
open my $h, '<', 'src/catalog.h' or die "src/catalog.h: $!\n";
my $text = do { local $/; <$h> };
close $h;
my ($table) = $text =~ /#define C5M_FAMILIES\(X\)(.*?)\n\n/s
  or die "no C5M_FAMILIES in src/catalog.h\n";
$table =~ s/\\\n/ /g;
my @families;
while ($table =~ /X\(\s*(\w+),\s*"([^"]+)",\s*"(\w+)",\s*\w+,\s*[\w+]+,\s*"([^"]*)",\s*(-?\d+),\s*"(\w+)"/g)
{
	push @families, { id => $1, name => $2, type => $3, keys => $4, store => $5, flow => $6 };
}
my ($nstored) = $text =~ /#define C5M_NSTORED (\d+)/;
if ($list)
{
	print "$_->{name} $_->{type}\n" for @families;
	exit(@families ? 0 : 1);
}
check(@families > 0, scalar(@families) . ' families in src/catalog.h');

my @stores = sort { $a <=> $b } map { $_->{store} } grep { $_->{store} >= 0 } @families;
check("@stores" eq join(' ', 0 .. $nstored - 1),
	"store numbers are 0 .. C5M_NSTORED - 1 ($nstored), each once", "found: @stores");

# the catalog table of docs/METRICS.md: | `family` | type | labels | ... |
my $doc = 'docs/METRICS.md';
my @rows;
if (open my $d, '<', $doc)
{
	while (<$d>)
	{
		next unless /^\|\s*`([a-z0-9_]+)`\s*\|\s*(\w+)\s*\|([^|]*)\|/;
		my ($name, $type, $labels) = ($1, $2, $3);
		$labels =~ s/\([^)]*\)//g;    # value lists: (`full`, `partial`)
		$labels =~ s/[`\s]//g;
		push @rows, { name => $name, type => $type, keys => $labels };
	}
	close $d;
}
check(scalar(@rows) > 0, "$doc has a catalog table");
my @missing = grep { my $n = $_->{name}; !grep { $_->{name} eq $n } @rows } @families;
check(!@missing, "$doc has a row for every family", map { "no row for $_->{name}" } @missing);
my @extra = grep { my $n = $_->{name}; !grep { $_->{name} eq $n } @families } @rows;
check(!@extra, "$doc has no row for a family that does not exist", map { "$_->{name}" } @extra);
my @order_doc = map { $_->{name} } @rows;
my @order_cat = grep { my $n = $_; grep { $_ eq $n } @order_doc } map { $_->{name} } @families;
check("@order_doc" eq "@order_cat", "$doc lists the families in catalog order");
my @wrong;
for my $r (@rows)
{
	my ($f) = grep { $_->{name} eq $r->{name} } @families;
	next unless $f;
	push @wrong, "$r->{name}: type $r->{type}, catalog $f->{type}" if $r->{type} ne $f->{type};
	push @wrong, "$r->{name}: labels '$r->{keys}', catalog '$f->{keys}'" if $r->{keys} ne $f->{keys};
}
check(!@wrong, "$doc gives each family the catalog's type and label names", @wrong);

print "catalog: $passed passed, $failed failed\n";
exit($failed ? 1 : 0);
