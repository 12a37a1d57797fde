#!/usr/bin/perl
# check-exposition.pl: read a Prometheus text exposition on stdin and check
# what `promtool check metrics` does not: no series appears twice, every
# sample belongs to a family declared by HELP and TYPE, histogram buckets
# are cumulative and non-decreasing in `le`, and the +Inf bucket equals
# _count.  Prints one line per problem; exits 1 if there is any.
use strict;
use warnings;

my (%type, %seen, %buckets, %count, @problems);
my $lineno = 0;
while (my $line = <STDIN>)
{
	$lineno++;
	chomp $line;
	next if $line eq '';
	if ($line =~ /^# TYPE (\S+) (\S+)$/)
	{
		push @problems, "line $lineno: TYPE of $1 declared twice" if exists $type{$1};
		$type{$1} = $2;
		next;
	}
	next if $line =~ /^#/;
	my ($name, $labels, $value) =
	  $line =~ /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/
	  or do { push @problems, "line $lineno: malformed sample: $line"; next };
	$labels //= '';
	push @problems, "line $lineno: duplicate series $name$labels" if $seen{"$name$labels"}++;
	my $family = $name;
	$family =~ s/_(bucket|sum|count)$// unless exists $type{$name};
	push @problems, "line $lineno: $name has no TYPE" unless exists $type{$family};
	next unless ($type{$family} // '') eq 'histogram';

	# the series identity without le
	(my $rest = $labels) =~ s/,?le="[^"]*"//;
	$rest = '' if $rest eq '{}';
	$rest =~ s/^\{,/{/;
	if ($name =~ /_bucket$/)
	{
		my ($le) = $labels =~ /le="([^"]*)"/;
		push @{ $buckets{"$family$rest"} },
		  [ $le eq '+Inf' ? 9**9**9 : $le, $value ];
	}
	elsif ($name =~ /_count$/)
	{
		$count{"$family$rest"} = $value;
	}
}

foreach my $h (sort keys %buckets)
{
	my @b = @{ $buckets{$h} };
	for my $i (1 .. $#b)
	{
		push @problems, "$h: le not increasing at $b[$i][0]" if $b[$i][0] <= $b[ $i - 1 ][0];
		push @problems, "$h: bucket $b[$i][0] ($b[$i][1]) below the previous one ($b[$i-1][1])"
		  if $b[$i][1] < $b[ $i - 1 ][1];
	}
	push @problems, "$h: no +Inf bucket" unless $b[-1][0] == 9**9**9;
	push @problems, "$h: +Inf bucket $b[-1][1] differs from _count " . ($count{$h} // 'missing')
	  unless defined $count{$h} && $count{$h} == $b[-1][1];
}
push @problems, "no histogram found" unless %buckets;

print "$_\n" foreach @problems;
exit(@problems ? 1 : 0);
