#!/usr/bin/env bash
# Check the links between the repository's markdown documents: for every
# inline link [text](target) in a tracked *.md file, outside code blocks and
# code spans, that is not a URL (http:, https:, mailto:):
#   - the target, taken relative to the linking file, exists in the work tree;
#   - a #fragment on a markdown target (or on the file itself) names one of
#     its headings, as GitHub makes anchors from them (lower case, punctuation
#     dropped, spaces to hyphens, -1, -2 ... on repeated headings).
# Every broken link is printed as FILE:LINE: target: reason.  The last line
# is "doc links: N passed, N failed"; the exit status is 0 only if none
# failed.  Needs git and perl only.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

git ls-files -z -- '*.md' | perl -e '
use strict;
use warnings;

my @files = map { chomp; $_ } grep { length } split /\0/, do { local $/; <STDIN> };
my (%anchors, $passed, $failed);

# The anchors GitHub gives the headings of a markdown file.
sub anchors_of {
	my ($file) = @_;
	return $anchors{$file} if $anchors{$file};
	my (%seen, %a);
	open my $fh, "<:encoding(UTF-8)", $file or return $anchors{$file} = {};
	my $fence = 0;
	while (my $line = <$fh>) {
		if ($line =~ /^\s*(```|~~~)/) { $fence = !$fence; next; }
		next if $fence;
		next unless $line =~ /^#{1,6}\s+(.*?)\s*#*\s*$/;
		my $slug = lc $1;
		$slug =~ s/\[([^\]]*)\]\([^)]*\)/$1/g;    # a link in a heading: its text
		$slug =~ s/[^\w\- ]//g;                     # punctuation, backticks, symbols
		$slug =~ s/ /-/g;
		my $n = $seen{$slug}++;
		$a{$n ? "$slug-$n" : $slug} = 1;
	}
	return $anchors{$file} = \%a;
}

sub normalize {
	my @out;
	for my $part (split m{/}, shift) {
		next if $part eq "" || $part eq ".";
		if ($part eq "..") { return undef unless @out; pop @out; next; }
		push @out, $part;
	}
	return join "/", @out;
}

for my $file (@files) {
	open my $fh, "<:encoding(UTF-8)", $file or die "$file: $!\n";
	(my $dir = $file) =~ s{[^/]*$}{};
	my $fence = 0;
	while (my $line = <$fh>) {
		if ($line =~ /^\s*(```|~~~)/) { $fence = !$fence; next; }
		next if $fence;
		(my $text = $line) =~ s/(`+).*?\1//g;       # code spans hold no links
		while ($text =~ /\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g) {
			my $target = $1;
			next if $target =~ m{^(?:https?|mailto|ftp):}i;
			my ($path, $frag) = $target =~ /^([^#]*)(?:#(.*))?$/;
			my $where = $path eq "" ? $file : normalize($dir . $path);
			my $why;
			if (!defined $where) {
				$why = "leaves the repository";
			} elsif (!-e $where) {
				$why = "no such file";
			} elsif (defined $frag && $frag ne "" && $where =~ /\.md$/i && !-d $where) {
				$why = "no heading \"#$frag\" in $where"
				  unless anchors_of($where)->{lc $frag};
			}
			if ($why) {
				print "$file:$.: $target: $why\n";
				$failed++;
			} else {
				$passed++;
			}
		}
	}
	close $fh;
}
$passed //= 0;
$failed //= 0;
print "doc links: $passed passed, $failed failed\n";
exit($failed ? 1 : 0);
'
