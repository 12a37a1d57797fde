#!/usr/bin/perl
# check-version.pl: versioning is one fact (docs/PACKAGING.md, "Versions").
# The control file's default_version X.Y is the version; everything else
# follows from it:
#   - the SQL scripts: one install script, and upgrade scripts X--Y forming
#     one chain from it to default_version, nothing beside or beyond it,
#     each script's \echo naming its own target; the Makefile's DATA lists
#     exactly these scripts;
#   - c5metrics_build_info: the Makefile compiles the control file's version
#     into the library (`make print-version` prints it) and nothing in src/
#     defines it otherwise;
#   - the release X.Y.0: META.json's version and provides.c5metrics.version;
#     debian/changelog's top entry X.Y.0-N; CHANGELOG.md's top entry, with an
#     entry for every version of the chain, newest first; the package and zip
#     file names the README and docs/ show.
# Then a self-test: each of a list of drifts, injected into a copy of those
# files, must make the same check fail.
#
#   perl test/check-version.pl [--no-self-test] [DIR]   (default: this tree)
#
# Prints "ok"/"not ok" lines and "version: N passed, M failed".
use strict;
use warnings;
use File::Temp qw(tempdir);
use File::Copy qw(copy);
use File::Path qw(make_path);
use JSON::PP;

my $self_test = !grep { $_ eq '--no-self-test' } @ARGV;
my ($dir) = grep { !/^--/ } @ARGV;
(my $repo = $0) =~ s{/test/[^/]+$}{};
$repo = '.' if $repo eq $0;
$dir //= $repo;

sub slurp
{
	my ($f) = @_;
	open my $h, '<:encoding(UTF-8)', $f or return undef;
	local $/;
	return scalar <$h>;
}

# check_tree(DIR): the list of [ok, what, details...] for the tree at DIR.
# (A check's first argument is always a scalar: a failed match in list
# context would be no argument at all.)
sub check_tree
{
	my ($d) = @_;
	my @r;
	my $check = sub { push @r, [@_] };

	my $control = slurp("$d/c5metrics.control") // '';
	my ($v) = $control =~ /^default_version\s*=\s*'([^']*)'/m;
	$v //= '';
	$check->(!!($v =~ /^\d+\.\d+$/), "c5metrics.control: default_version '$v' is MAJOR.MINOR");
	my $release = "$v.0";

	# -- the SQL scripts ---------------------------------------------------
	opendir my $sd, "$d/sql" or die "$d/sql: $!\n";
	my @scripts = sort grep { /^c5metrics--.*\.sql$/ } readdir $sd;
	closedir $sd;
	my (@install, %up, @bad);
	for my $s (@scripts)
	{
		if ($s =~ /^c5metrics--(\d+\.\d+)\.sql$/) { push @install, $1; }
		elsif ($s =~ /^c5metrics--(\d+\.\d+)--(\d+\.\d+)\.sql$/) { push @{ $up{$1} }, $2; }
		else { push @bad, $s; }
	}
	$check->(!@bad, 'sql/: every script is c5metrics--X.Y.sql or c5metrics--X.Y--Z.W.sql', @bad);
	$check->(@install == 1, 'sql/: one install script', map { "c5metrics--$_.sql" } @install);
	my @forks = grep { @{ $up{$_} } > 1 } sort keys %up;
	$check->(!@forks, 'sql/: one upgrade script from each version',
		map { "from $_: to " . join(', ', @{ $up{$_} }) } @forks);
	my @chain = @install ? ($install[0]) : ();
	my %seen;
	while (@chain && $up{ $chain[-1] } && !$seen{ $chain[-1] }++)
	{
		push @chain, $up{ $chain[-1] }[0];
	}
	$check->(@chain && $chain[-1] eq $v, "sql/: the scripts lead from the install script to $v",
		'chain: ' . join(' -> ', @chain));
	my %on = map { $_ => 1 } @chain;
	my @off = grep { !$on{$_} || !$on{ $up{$_}[0] } } sort keys %up;
	$check->(!@off, 'sql/: every upgrade script is on that chain',
		map { "c5metrics--$_--$up{$_}[0].sql" } @off);
	my @echo;
	for my $from (sort keys %up)
	{
		my $to = $up{$from}[0];
		my $text = slurp("$d/sql/c5metrics--$from--$to.sql") // '';
		my ($says) = $text =~ /^\\echo .*UPDATE TO '([^']*)'/m;
		push @echo, "c5metrics--$from--$to.sql says " . ($says // 'nothing') unless ($says // '') eq $to;
	}
	$check->(!@echo, 'sql/: each upgrade script\'s \\echo names its own target version', @echo);

	my $makefile = slurp("$d/Makefile") // '';
	my ($data) = $makefile =~ /^DATA\s*=((?:[^\n]*\\\n)*[^\n]*)/m;
	my @data = sort map { s{^sql/}{}r } grep { length } split /[\s\\]+/, $data // '';
	$check->("@data" eq "@scripts", 'Makefile: DATA lists exactly the scripts of sql/',
		"DATA: @data", "sql/: @scripts");

	# -- c5metrics_build_info ------------------------------------------------
	my $pgc = $ENV{PG_CONFIG} // 'pg_config';
	my $printed = `make -s --no-print-directory -C '$d' print-version PG_CONFIG='$pgc' 2>&1`;
	chomp $printed;
	$check->($printed eq "$v $release",
		"Makefile: the library is compiled with the control file's version ($v) and the release is $release",
		"make print-version: $printed");
	$check->(!!($makefile =~ /^PG_CPPFLAGS\s*=.*-DC5M_VERSION='"\$\(C5M_VERSION\)"'/m),
		'Makefile: c5metrics_build_info\'s version is C5M_VERSION');
	my @defs = grep { /#\s*define\s+C5M_VERSION\b/ } map { slurp($_) // '' } glob("$d/src/*.[ch] $d/src/*/*.[ch]");
	$check->(!@defs, 'src/: nothing defines C5M_VERSION but the Makefile');

	# -- the release -----------------------------------------------------------
	my $meta = eval { decode_json(do { open my $h, '<:raw', "$d/META.json" or die "$!\n"; local $/; <$h> }) };
	$check->($meta && ($meta->{version} // '') eq $release, "META.json: version is $release",
		$meta ? 'version: ' . ($meta->{version} // 'none') : "META.json: $@");
	my $pv = $meta && ref $meta->{provides} eq 'HASH' && ref $meta->{provides}{c5metrics} eq 'HASH'
	  ? $meta->{provides}{c5metrics}{version} // 'none' : 'none';
	$check->($pv eq $release, "META.json: provides.c5metrics.version is $release", "provides.c5metrics.version: $pv");

	my $changelog = slurp("$d/debian/changelog") // '';
	my ($src, $debver) = $changelog =~ /\A(\S+) \(([^)]*)\)/;
	$debver //= '';
	$check->(!!(($src // '') eq 'c5metrics' && $debver =~ /^\Q$release\E-[1-9]\d*$/),
		"debian/changelog: the top entry is c5metrics $release-N", 'top entry: ' . ($changelog =~ /\A([^\n]*)/)[0]);

	my $news = slurp("$d/CHANGELOG.md") // '';
	my @heads = $news =~ /^## (\d+\.\d+\.\d+)\b/mg;
	$check->(@heads && $heads[0] eq $release, "CHANGELOG.md: the top entry is $release", 'entries: ' . join(', ', @heads));
	my @want = map { "$_.0" } reverse @chain;
	$check->("@heads" eq "@want", 'CHANGELOG.md: one entry for every version of the chain, newest first',
		'entries: ' . join(', ', @heads), 'versions: ' . join(', ', @want));

	my (@names, %seen_name);
	for my $f ("$d/README.md", glob("$d/docs/*.md"))
	{
		my $text = slurp($f) // next;
		(my $rel = $f) =~ s{^\Q$d\E/}{};
		while ($text =~ /(postgresql-\d+-c5metrics_([^_\s`]+)_\w+\.deb|c5metrics-(\d[^\s`\/]*?)\.zip|c5metrics_([^_\s`]+)\.orig)/g)
		{
			my ($name, $dv, $zv, $ov) = ($1, $2, $3, $4);
			my $good = defined $dv ? $dv eq $debver : defined $zv ? $zv eq $release : $ov eq $release;
			push @names, "$rel: $name" if !$good && !$seen_name{"$rel: $name"}++;
		}
	}
	$check->(!@names, "README.md, docs/: the package and zip names shown are those of $debver and $release", @names);
	return @r;
}

my ($passed, $failed) = (0, 0);
sub report
{
	my ($ok, $what, @detail) = @_;
	if ($ok) { print "ok - $what\n"; $passed++; }
	else { print "not ok - $what\n"; print "#   $_\n" for @detail; $failed++; }
}

report(@$_) for check_tree($dir);

# -- self-test: every drift below must fail the check -------------------------
if ($self_test)
{
	my @files = ('c5metrics.control', 'Makefile', 'META.json', 'CHANGELOG.md', 'README.md',
		'debian/changelog', (map { s{^\Q$dir\E/}{}r } glob("$dir/sql/c5metrics--*.sql $dir/docs/*.md")));
	my ($v) = (slurp("$dir/c5metrics.control") // '') =~ /^default_version\s*=\s*'([^']*)'/m;
	my ($maj, $min) = split /\./, $v // '0.0';
	my $next = $maj . '.' . ($min + 1);
	my $prev = $maj . '.' . ($min - 1);
	my @drifts = (
		[ 'default_version raised with no upgrade script', 'c5metrics.control', sub { s/'\Q$v\E'/'$next'/ } ],
		[ 'META.json version a patch release ahead', 'META.json', sub { s/"version": "\Q$v\E\.0"/"version": "$v.1"/ } ],
		[ 'META.json provides version behind', 'META.json', sub { s/("c5metrics": \{.*?"version": ")\Q$v\E\.0"/$1$prev.0"/s } ],
		[ 'debian/changelog still at the previous release', 'debian/changelog', sub { s/\A(c5metrics \()\Q$v\E\.0-/$1$prev.0-/ } ],
		[ 'debian/changelog revision 0', 'debian/changelog', sub { s/\A(c5metrics \(\Q$v\E\.0)-\d+/$1-0/ } ],
		[ 'CHANGELOG.md without the new version', 'CHANGELOG.md', sub { s/^## \Q$v\E\.0\b.*?(?=^## )//ms } ],
		[ 'an upgrade script left out of DATA', 'Makefile', sub { s{ ?sql/c5metrics--\Q$prev\E--\Q$v\E\.sql}{} } ],
		[ 'the README shows another package version', 'README.md', sub { $_ .= "\n`postgresql-15-c5metrics_$prev.0-1_amd64.deb`\n" } ],
		[ 'a hard-coded C5M_VERSION', 'Makefile', sub { s/^(C5M_VERSION :=).*$/$1 $prev/m } ],
		[ "an upgrade script beyond $v", "sql/c5metrics--$v--$next.sql", sub { $_ = "\\echo Use \"ALTER EXTENSION c5metrics UPDATE TO '$next'\" to load this file. \\quit\n" } ],
	);
	for my $drift (@drifts)
	{
		my ($what, $file, $edit) = @$drift;
		my $t = tempdir(CLEANUP => 1);
		for my $f (@files)
		{
			(my $sub = $f) =~ s{/[^/]*$}{};
			make_path("$t/$sub") if $sub ne $f;
			copy("$dir/$f", "$t/$f") or die "copy $f: $!\n";
		}
		make_path("$t/src");
		my $text = slurp("$t/$file") // '';
		local $_ = $text;
		$edit->();
		my $changed = $_ ne $text;
		open my $h, '>:encoding(UTF-8)', "$t/$file" or die "$t/$file: $!\n";
		print $h $_;
		close $h;
		my @failing = map { $_->[1] } grep { !$_->[0] } check_tree($t);
		report(($changed && @failing) ? 1 : 0, "self-test: $what is caught",
			$changed ? 'no check failed' : "the drift could not be injected into $file");
		print "#     by: $_\n" for @failing;
	}
}

print "version: $passed passed, $failed failed\n";
exit($failed ? 1 : 0);
