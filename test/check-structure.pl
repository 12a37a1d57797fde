#!/usr/bin/perl
# check-structure.pl: the module map of docs/DESIGN.md holds in the code.
#
#   perl test/check-structure.pl [DIR]     (DIR: a built tree, default .)
#
# Reads which source file includes which header (#include "x.h") and, from
# the built objects (nm), which file calls or reads a c5m_ symbol that
# another file defines.  Checks that
#   - every source file of src/ has a layer below (a new file must be
#     placed on the map);
#   - no file includes or calls a file of a higher layer;
#   - there is no include circle and no call circle among the files (each
#     directed graph is acyclic, even within a layer);
#   - c5metrics.c alone installs hooks and callbacks.
# Prints "ok"/"not ok" lines and "structure: N passed, M failed".
use strict;
use warnings;

my $dir = shift // '.';
chdir $dir or die "cannot enter $dir: $!\n";

# The layers, lowest first (docs/DESIGN.md, "Module map").  A file may use
# its own layer and those below it.
my @layers = (
	[ 'vocabulary', qw(catalog compat settings layout sqlstate statefile) ],
	[ 'registry',   qw(registry labels persist) ],
	[ 'capture',    qw(capture columns trigcache readable lookup) ],
	[ 'flows',      qw(sales stock refund_in refunds refund_guard leads throttle twophase ddl) ],
	[ 'surfaces',   qw(sqlfuncs sli exposition status http/worker http/handler http/negotiate http/http) ],
	[ 'wiring',     qw(c5metrics) ],
);
my %layer;
for my $i (0 .. $#layers)
{
	my ($name, @files) = @{ $layers[$i] };
	$layer{$_} = $i for @files;
}

my ($passed, $failed) = (0, 0);
sub check
{
	my ($ok, $what, @detail) = @_;
	if ($ok) { print "ok - $what\n"; $passed++; }
	else { print "not ok - $what\n"; print "#   $_\n" for @detail; $failed++; }
}

# module name of a path: src/x.c, src/x.h -> x; src/http/x.c -> http/x
sub module
{
	my $p = shift;
	$p =~ s{^src/}{};
	$p =~ s{\.[ch]$}{};
	return $p;
}

my @sources = sort(glob('src/*.c'), glob('src/*.h'), glob('src/http/*.c'), glob('src/http/*.h'));
my @unplaced = grep { !exists $layer{ module($_) } } @sources;
check(!@unplaced, 'every source file is on the module map', map { "$_ has no layer" } @unplaced);

# edges: include and call, module -> module
my (%inc, %call);
for my $f (@sources)
{
	my $m = module($f);
	open my $fh, '<', $f or die "$f: $!\n";
	while (<$fh>)
	{
		next unless /^\s*#\s*include\s+"([^"]+)"/;
		my $h = $1;
		my $target = -e "src/$h" ? module("src/$h") : -e "src/http/$h" ? module("src/http/$h") : undef;
		next unless defined $target && $target ne $m;
		$inc{$m}{$target} = 1;
	}
	close $fh;
}

# objects of today's sources only: a stale one of a removed file is no module
my @objects = grep { -e s/\.o$/.c/r } (glob('src/*.o'), glob('src/http/*.o'));
check(scalar(@objects) > 0, 'built objects found (run make first)');
my (%defined, %used);
for my $o (@objects)
{
	my $m = module($o =~ s/\.o$/.c/r);
	for (`nm $o`)
	{
		if (/^\s+U (c5m_\w+)/) { $used{$m}{$1} = 1; }
		elsif (/^[0-9a-f]+ [TDBRC] (c5m_\w+)/) { $defined{$1} = $m; }
	}
}
for my $m (keys %used)
{
	for my $s (keys %{ $used{$m} })
	{
		my $d = $defined{$s};
		$call{$m}{$d} = 1 if defined $d && $d ne $m;
	}
}

for my $kind ([ 'include', \%inc ], [ 'call', \%call ])
{
	my ($name, $g) = @$kind;
	my @up;
	for my $a (sort keys %$g)
	{
		for my $b (sort keys %{ $g->{$a} })
		{
			next unless exists $layer{$a} && exists $layer{$b};
			push @up, "$a ($layers[$layer{$a}][0]) -> $b ($layers[$layer{$b}][0])"
			  if $layer{$b} > $layer{$a};
		}
	}
	check(!@up, "no $name goes up a layer", @up);

	# a circle: depth-first search for a back edge
	my (%state, @stack, @circle);
	my $visit;
	$visit = sub {
		my $n = shift;
		$state{$n} = 1;
		push @stack, $n;
		for my $b (sort keys %{ $g->{$n} || {} })
		{
			last if @circle;
			if (($state{$b} // 0) == 1)
			{
				my ($i) = grep { $stack[$_] eq $b } 0 .. $#stack;
				@circle = (@stack[ $i .. $#stack ], $b);
			}
			elsif (!$state{$b}) { $visit->($b); }
		}
		pop @stack;
		$state{$n} = 2;
	};
	for my $n (sort keys %$g)
	{
		last if @circle;
		$visit->($n) unless $state{$n};
	}
	check(!@circle, "no $name circle", @circle ? join(' -> ', @circle) : ());
}

# hooks and callbacks are installed in one place
my @installs;
for my $f (grep { /\.c$/ } @sources)
{
	next if $f eq 'src/c5metrics.c';
	open my $fh, '<', $f or die "$f: $!\n";
	while (<$fh>)
	{
		push @installs, "$f:$.: $_" =~ s/\s+$//r
		  if /\b\w+_hook\s*=[^=]/ || /\bRegister(Sub)?XactCallback\s*\(/
		  || /\bCacheRegister(Syscache|Relcache)Callback\s*\(/ || /\bon_shmem_exit\s*\(/
		  || /\bRequestAddinShmemSpace\s*\(/;
	}
	close $fh;
}
check(!@installs, 'hooks, callbacks and shared memory are installed only by c5metrics.c', @installs);

print "structure: $passed passed, $failed failed\n";
exit($failed ? 1 : 0);
