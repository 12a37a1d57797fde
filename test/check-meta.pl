#!/usr/bin/perl
# check-meta.pl: META.json against the PGXN Meta Spec 1.0.0
# (https://pgxn.org/spec/, as the JSON schemas of github.com/pgxn/meta,
# schema/v1, write its rules), offline:
#   - required keys: name, version, abstract, maintainer, license, provides,
#     meta-spec; no top-level key the spec does not define (x_ keys aside);
#   - each key's type: terms (2+ characters, no slash, backslash, space or
#     control character), semantic versions, non-empty strings, the
#     maintainer string or list, license strings from the spec's list (or a
#     list of them, or an object of names to URIs), provides (each extension
#     with file and version), meta-spec 1.0.x, prereqs (phases, relationships,
#     version ranges), resources (URIs, bug tracker, repository), tags,
#     no_index and release_status;
# and what c5metrics asks on top: the file and docfile of every provided
# extension, and every no_index path, exist in the distribution; prereqs,
# resources, tags and release_status are present; the runtime phase
# requires PostgreSQL 15.0.0 or later.
# Then a self-test: each of a list of broken documents must fail the check.
#
#   perl test/check-meta.pl [--no-self-test] [DIR]   (DIR/META.json; default this tree)
#
# Prints "ok"/"not ok" lines and "pgxn: N passed, M failed".
use strict;
use warnings;
use B ();
use JSON::PP;

my $self_test = !grep { $_ eq '--no-self-test' } @ARGV;
my ($dir) = grep { !/^--/ } @ARGV;
(my $repo = $0) =~ s{/test/[^/]+$}{};
$repo = '.' if $repo eq $0;
$dir //= $repo;

# -- the spec's types -----------------------------------------------------------
my $SEMVER = qr/(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)
	(?:-(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*)?
	(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?/x;
my @LICENSES = qw(agpl_3 apache_1_1 apache_2_0 artistic_1 artistic_2 bsd freebsd gfdl_1_2
  gfdl_1_3 gpl_1 gpl_2 gpl_3 lgpl_2_1 lgpl_3_0 mit mozilla_1_0 mozilla_1_1 openssl perl_5
  postgresql qpl_1_0 ssleay sun zlib open_source restricted unrestricted unknown);

# The predicates return 1 or 0, never an empty list: they are arguments of
# check(), where an empty list would shift the others.
# A JSON string (not a number, boolean, array or object).
sub is_str
{
	my ($v) = @_;
	return 0 if !defined $v || ref $v;
	my $f = B::svref_2object(\$v)->FLAGS;
	return ($f & B::SVp_POK) && !($f & (B::SVp_IOK | B::SVp_NOK)) ? 1 : 0;
}
sub is_obj { ref $_[0] eq 'HASH' }
sub is_arr { ref $_[0] eq 'ARRAY' }
sub nonempty { is_str($_[0]) && length $_[0] >= 1 ? 1 : 0 }
sub term { is_str($_[0]) && $_[0] =~ /^[^\/\\\s\p{Cc}]{2,}$/ ? 1 : 0 }
sub semver { is_str($_[0]) && $_[0] =~ /^$SEMVER$/ ? 1 : 0 }
sub uri { is_str($_[0]) && $_[0] =~ /^[A-Za-z][A-Za-z0-9+.-]*:\S+$/ ? 1 : 0 }
sub email { is_str($_[0]) && $_[0] =~ /^[^@\s]+@[^@\s]+\.[^@\s]+$/ ? 1 : 0 }
sub path
{
	my ($v) = @_;
	return is_str($v) && length $v >= 2 && $v !~ m{^/} && $v !~ /\\/
	  && !grep({ $_ eq '..' } split m{/}, $v) ? 1 : 0;
}
sub version_range
{
	my ($v) = @_;
	return 1 if !ref $v && defined $v && !is_str($v) && $v eq '0';
	return is_str($v) && $v =~ /^(?:(?:[=!]=|[<>]=?)\s*)?(?:$SEMVER|0)(?:,\s*(?:(?:[=!]=|[<>]=?)\s*)?$SEMVER)*$/ ? 1 : 0;
}
sub unique { my %s; (grep { $s{ ref $_ ? '' : $_ }++ } @_) ? 0 : 1 }

# check_doc(DOC, DIR): [ok, what, details] for a decoded META.json whose
# distribution is the tree at DIR.
sub check_doc
{
	my ($m, $d) = @_;
	my @r;
	my $check = sub { push @r, [ ($_[0] ? 1 : 0), @_[ 1 .. $#_ ] ] };
	unless (is_obj($m))
	{
		$check->(0, 'META.json is a JSON object');
		return @r;
	}
	my %known = map { $_ => 1 } qw(name version abstract maintainer license provides meta-spec
	  description generated_by tags no_index prereqs release_status resources);
	my @missing = grep { !exists $m->{$_} } qw(name version abstract maintainer license provides meta-spec);
	$check->(!@missing, 'the required keys are there', map { "missing: $_" } @missing);
	my @unknown = grep { !$known{$_} && !/^[xX]_./ } sort keys %$m;
	$check->(!@unknown, 'no key the spec does not define', map { "unknown: $_" } @unknown);
	my $x_ok = sub { my ($h, @allowed) = @_; my %a = map { $_ => 1 } @allowed; grep { !$a{$_} && !/^[xX]_./ } sort keys %$h };

	$check->(term($m->{name}), 'name is a term', 'name: ' . ($m->{name} // 'none'));
	$check->(semver($m->{version}), 'version is a semantic version', 'version: ' . ($m->{version} // 'none'));
	$check->(nonempty($m->{abstract}), 'abstract is a non-empty string');
	for my $k (qw(description generated_by))
	{
		$check->(nonempty($m->{$k}), "$k is a non-empty string") if exists $m->{$k};
	}
	my $mt = $m->{maintainer};
	$check->((nonempty($mt) || (is_arr($mt) && @$mt && !grep({ !nonempty($_) } @$mt) && unique(@$mt))) ? 1 : 0,
		'maintainer is a string or a list of strings');

	my $lic = $m->{license};
	my %lic = map { $_ => 1 } @LICENSES;
	$check->(((is_str($lic) && $lic{$lic})
		  || (is_arr($lic) && @$lic && !grep({ !is_str($_) || !$lic{$_} } @$lic) && unique(@$lic))
		  || (is_obj($lic) && %$lic && !grep({ !uri($_) } values %$lic))) ? 1 : 0,
		'license is one of the spec\'s license strings, a list of them, or names mapped to URIs',
		'license: ' . (ref $lic ? encode_json($lic) : $lic // 'none'));

	my $ms = $m->{'meta-spec'};
	$check->((is_obj($ms) && is_str($ms->{version}) && $ms->{version} =~ /^1\.0\.\d+$/
		  && (!exists $ms->{url} || (is_str($ms->{url}) && $ms->{url} =~ m{^https?://pgxn\.org/meta/spec\.txt$}))
		  && !$x_ok->($ms, qw(version url))) ? 1 : 0,
		'meta-spec is version 1.0.x (and the spec\'s url)');

	my $pr = $m->{provides};
	my @perr;
	if (!is_obj($pr) || !%$pr) { push @perr, 'not an object with one extension or more'; }
	else
	{
		for my $ext (sort keys %$pr)
		{
			my $e = $pr->{$ext};
			push @perr, "$ext: not a term" unless term($ext);
			if (!is_obj($e)) { push @perr, "$ext: not an object"; next; }
			push @perr, "$ext: file is not a path" unless path($e->{file});
			push @perr, "$ext: version is not a semantic version" unless semver($e->{version});
			push @perr, "$ext: abstract is empty" if exists $e->{abstract} && !nonempty($e->{abstract});
			push @perr, "$ext: docfile is not a path" if exists $e->{docfile} && !path($e->{docfile});
			push @perr, "$ext: docpath is empty" if exists $e->{docpath} && !nonempty($e->{docpath});
			push @perr, map { "$ext: unknown key $_" } $x_ok->($e, qw(file version abstract docfile docpath));
			for my $k (qw(file docfile))
			{
				push @perr, "$ext: $k $e->{$k} is not in the distribution"
				  if path($e->{$k}) && !-f "$d/$e->{$k}";
			}
		}
	}
	$check->(!@perr, 'provides: each extension has a file that exists and a semantic version', @perr);

	if (exists $m->{tags})
	{
		my $t = $m->{tags};
		$check->((is_arr($t) && @$t && unique(@$t)
			  && !grep({ !is_str($_) || length $_ > 255 || $_ !~ /^[^\/\\\p{Cc}]{2,}$/ } @$t)) ? 1 : 0,
			'tags are distinct strings of 2 to 255 characters without slashes');
	}
	if (exists $m->{release_status})
	{
		$check->((is_str($m->{release_status}) && $m->{release_status} =~ /^(stable|testing|unstable)$/) ? 1 : 0,
			'release_status is stable, testing or unstable');
	}
	if (exists $m->{no_index})
	{
		my $n = $m->{no_index};
		my @nerr;
		if (!is_obj($n) || !(exists $n->{file} || exists $n->{directory})) { push @nerr, 'needs file or directory'; }
		else
		{
			push @nerr, map { "unknown key $_" } $x_ok->($n, qw(file directory));
			for my $k (grep { exists $n->{$_} } qw(file directory))
			{
				my @p = is_arr($n->{$k}) ? @{ $n->{$k} } : ($n->{$k});
				push @nerr, "$k: an empty list" unless @p;
				push @nerr, "$k: repeated paths" unless unique(@p);
				for my $p (@p)
				{
					if (!path($p)) { push @nerr, "$k: " . ($p // 'null') . ' is not a path'; }
					elsif ($k eq 'file' ? !-f "$d/$p" : !-d "$d/$p") { push @nerr, "$k: $p is not in the distribution"; }
				}
			}
		}
		$check->(!@nerr, 'no_index names files and directories of the distribution', @nerr);
	}
	if (exists $m->{prereqs})
	{
		my $p = $m->{prereqs};
		my @rerr;
		my %phases = map { $_ => 1 } qw(configure build test runtime develop);
		if (!is_obj($p) || !grep { $phases{$_} } keys %$p) { push @rerr, 'needs a phase'; }
		else
		{
			push @rerr, map { "unknown phase $_" } $x_ok->($p, keys %phases);
			for my $ph (grep { $phases{$_} } sort keys %$p)
			{
				my $rel = $p->{$ph};
				my %rels = map { $_ => 1 } qw(requires recommends suggests conflicts);
				if (!is_obj($rel) || !grep { $rels{$_} } keys %$rel) { push @rerr, "$ph: needs a relationship"; next; }
				push @rerr, map { "$ph: unknown relationship $_" } $x_ok->($rel, keys %rels);
				for my $r (grep { $rels{$_} } sort keys %$rel)
				{
					my $set = $rel->{$r};
					if (!is_obj($set) || !%$set) { push @rerr, "$ph.$r: needs a prerequisite"; next; }
					for my $name (sort keys %$set)
					{
						push @rerr, "$ph.$r: $name is not a term" unless term($name);
						push @rerr, "$ph.$r.$name: " . ($set->{$name} // 'null') . ' is not a version range'
						  unless version_range($set->{$name});
					}
				}
			}
		}
		$check->(!@rerr, 'prereqs: phases, relationships and version ranges', @rerr);
	}
	if (exists $m->{resources})
	{
		my $rs = $m->{resources};
		my @serr;
		if (!is_obj($rs) || !grep { exists $rs->{$_} } qw(homepage bugtracker repository)) { push @serr, 'needs homepage, bugtracker or repository'; }
		else
		{
			push @serr, map { "unknown key $_" } $x_ok->($rs, qw(homepage bugtracker repository));
			push @serr, 'homepage is not a URI' if exists $rs->{homepage} && !uri($rs->{homepage});
			if (exists $rs->{bugtracker})
			{
				my $b = $rs->{bugtracker};
				if (!is_obj($b) || !(exists $b->{web} || exists $b->{mailto})) { push @serr, 'bugtracker needs web or mailto'; }
				else
				{
					push @serr, 'bugtracker.web is not a URI' if exists $b->{web} && !uri($b->{web});
					push @serr, 'bugtracker.mailto is not an email address' if exists $b->{mailto} && !email($b->{mailto});
					push @serr, map { "bugtracker: unknown key $_" } $x_ok->($b, qw(web mailto));
				}
			}
			if (exists $rs->{repository})
			{
				my $g = $rs->{repository};
				if (!is_obj($g) || !((exists $g->{url} && exists $g->{type}) || exists $g->{web})) { push @serr, 'repository needs url and type, or web'; }
				else
				{
					push @serr, "repository.$_ is not a URI" for grep { exists $g->{$_} && !uri($g->{$_}) } qw(url web);
					push @serr, 'repository.type is not a lower-case word' if exists $g->{type} && !(is_str($g->{type}) && $g->{type} =~ /^\p{Ll}+$/);
					push @serr, map { "repository: unknown key $_" } $x_ok->($g, qw(url web type));
				}
			}
		}
		$check->(!@serr, 'resources: URIs, bug tracker and repository', @serr);
	}

	# what c5metrics asks beyond the spec
	my @absent = grep { !exists $m->{$_} } qw(prereqs resources tags release_status);
	$check->(!@absent, 'c5metrics: prereqs, resources, tags and release_status are given', map { "missing: $_" } @absent);
	my $pg = is_obj($m->{prereqs}) && is_obj($m->{prereqs}{runtime}) && is_obj($m->{prereqs}{runtime}{requires})
	  ? $m->{prereqs}{runtime}{requires}{PostgreSQL} : undef;
	$check->((is_str($pg) && $pg =~ /^(?:>=\s*)?(\d+)\.\d+\.\d+$/ && $1 >= 15) ? 1 : 0,
		'c5metrics: the runtime phase requires PostgreSQL 15.0.0 or later', 'PostgreSQL: ' . ($pg // 'none'));
	return @r;
}

my ($passed, $failed) = (0, 0);
sub report
{
	my ($ok, $what, @detail) = @_;
	if ($ok) { print "ok - $what\n"; $passed++; }
	else { print "not ok - $what\n"; print "#   $_\n" for @detail; $failed++; }
}

my $text = do { open my $h, '<:raw', "$dir/META.json" or die "$dir/META.json: $!\n"; local $/; <$h> };
my $meta = eval { JSON::PP->new->utf8->decode($text) };
report(defined $meta, 'META.json is valid JSON', $@ || ());
report(@$_) for check_doc($meta, $dir);

# -- self-test: each broken document must fail ----------------------------------
if ($self_test && $meta)
{
	my $json = JSON::PP->new->canonical;
	my @broken = (
		[ 'no license', sub { delete $_[0]{license} } ],
		[ 'a license not in the spec\'s list', sub { $_[0]{license} = 'PostgreSQL License' } ],
		[ 'a version that is not semver', sub { $_[0]{version} = '1.5' } ],
		[ 'a numeric version', sub { $_[0]{version} = 1.5 } ],
		[ 'provides without a file', sub { delete $_[0]{provides}{c5metrics}{file} } ],
		[ 'provides naming a file not in the distribution', sub { $_[0]{provides}{c5metrics}{file} = 'sql/c5metrics.sql' } ],
		[ 'provides with a version that is not semver', sub { $_[0]{provides}{c5metrics}{version} = 'v1.5' } ],
		[ 'an extension name with a space', sub { $_[0]{provides}{'c5 metrics'} = delete $_[0]{provides}{c5metrics} } ],
		[ 'meta-spec 2.0.0', sub { $_[0]{'meta-spec'}{version} = '2.0.0' } ],
		[ 'an unknown top-level key', sub { $_[0]{homepage} = 'https://example.com/' } ],
		[ 'a maintainer list with an empty name', sub { $_[0]{maintainer} = [ 'someone <a@b.c>', '' ] } ],
		[ 'a prereq phase that does not exist', sub { $_[0]{prereqs}{install} = { requires => { PostgreSQL => '15.0.0' } } } ],
		[ 'a version range that is not one', sub { $_[0]{prereqs}{runtime}{requires}{PostgreSQL} = '>= 15' } ],
		[ 'PostgreSQL 14 at run time', sub { $_[0]{prereqs}{runtime}{requires}{PostgreSQL} = '14.0.0' } ],
		[ 'a homepage that is no URI', sub { $_[0]{resources}{homepage} = 'github.com/c5metrics' } ],
		[ 'a repository without type', sub { delete $_[0]{resources}{repository}{type}; delete $_[0]{resources}{repository}{web} } ],
		[ 'a tag with a slash', sub { push @{ $_[0]{tags} }, 'a/b' } ],
		[ 'release_status final', sub { $_[0]{release_status} = 'final' } ],
		[ 'no_index of a directory not in the distribution', sub { $_[0]{no_index}{directory} = ['nowhere'] } ],
	);
	for my $b (@broken)
	{
		my ($what, $edit) = @$b;
		my $copy = $json->decode($json->encode($meta));
		$edit->($copy);
		my @failing = map { $_->[1] } grep { !$_->[0] } check_doc($copy, $dir);
		report(scalar @failing, "self-test: $what fails the check", 'no check failed');
		print "#     by: $_\n" for @failing;
	}
}

print "pgxn: $passed passed, $failed failed\n";
exit($failed ? 1 : 0);
