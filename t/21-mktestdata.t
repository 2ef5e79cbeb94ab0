#!/usr/bin/env perl
# mktestdata: the tree's layout, idempotence, repair, refusal of a directory
# holding other files, nothing made outside DIR, bad arguments.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use SBTest;
use File::Temp qw(tempdir);
use Test::More;

my $mk = bin('mktestdata');
-x $mk or plan skip_all => "$mk not built";
my $top = tempdir('mktestdata-t.XXXXXX', TMPDIR => 1, CLEANUP => 1);

sub names { my ($d) = @_; opendir my $h, $d or return (); return sort grep { !/^\.\.?$/ } readdir $h }
sub slurp { open my $fh, '<', $_[0] or return undef; local $/; return scalar <$fh> }
# path => [content, inode, mtime] of everything under a tree
sub snapshot {
    my ($d) = @_;
    my %s;
    for my $e (names($d)) {
        my $p = "$d/$e";
        if (-d $p) { %s = (%s, snapshot($p)) }
        else { my @st = stat $p; $s{$p} = [ slurp($p), $st[1], $st[9] ] }
    }
    return %s;
}
sub contents { my %s = @_; return { map { $_ => $s{$_}[0] } keys %s } }

my $t = "$top/tree";
my $r = run([ $mk, '-c', 250, $t ]);
is($r->{exit}, 0, '-c 250: exits 0') or diag $r->{err};
like($r->{out}, qr/^mktestdata: \Q$t\E: 250 files of 150 bytes in 3 directories: 0 kept, 250 written, 0 removed\n\z/,
    'it says what it did');
is_deeply([ names($top) ], ['tree'], 'nothing was made outside DIR');
is_deeply([ names($t) ], [ '.mktestdata', '0000', '0001', '0002' ], 'DIR holds the marker and 3 directories');
is_deeply([ names("$t/0001") ], [ map { sprintf '%02d', $_ } 0 .. 99 ], '100 files per directory, 00 to 99');
is_deeply([ names("$t/0002") ], [ map { sprintf '%02d', $_ } 0 .. 49 ], 'the last directory holds the rest, 00 to 49');
my %first = snapshot($t);
is(scalar(grep { length($first{$_}[0]) != 150 } grep { !/\.mktestdata$/ } keys %first), 0, 'every file has 150 bytes');
is(slurp("$t/.mktestdata"), "scalebench small-file tree: 250 files\n", 'the marker records 250 files');
my %distinct = map { $first{$_}[0] => 1 } keys %first;
is(scalar keys %distinct, 251, 'every file differs from the others');

$r = run([ $mk, '-c', 250, $t ]);
is($r->{exit}, 0, 'again: exits 0');
like($r->{out}, qr/250 kept, 0 written, 0 removed/, 'again: nothing written');
is_deeply({ snapshot($t) }, \%first, 'again: the same tree, every file untouched (content, inode, mtime)');

unlink "$t/0001/07" or die;
{ open my $fh, '>', "$t/0002/03" or die; print $fh "changed\n" }
unlink "$t/.mktestdata" or die;
$r = run([ $mk, '-c', 250, $t ]);
like($r->{out}, qr/248 kept, 2 written, 0 removed/, 'a missing and a changed file are written again');
is_deeply(contents(snapshot($t)), contents(%first), 'the tree is as it was made, marker included');

$r = run([ $mk, '-c', 120, $t ]);
like($r->{out}, qr/120 files of 150 bytes in 2 directories: 120 kept, 0 written, 130 removed/, '-c 120: 130 files removed');
is_deeply([ names($t) ], [ '.mktestdata', '0000', '0001' ], 'and the emptied directory');
is(scalar(grep { !-e $_ } map { sprintf "$t/0001/%02d", $_ } 20 .. 99), 80, 'files 120 and up are gone');
$r = run([ $mk, '-c', 250, $t ]);
is_deeply(contents(snapshot($t)), contents(%first), '-c 250 again: the same tree as the first time');

# Refusals: anything mktestdata does not make, in DIR or a subdirectory.
for my $foreign ('notes.txt', '0001/abc', '0001/123', '12345', '0003') {
    my $p = "$t/$foreign";
    if ($foreign eq '0003') { open my $fh, '>', $p or die }             # a file named like a directory
    elsif ($foreign eq '12345') { mkdir $p or die }                     # a directory not named DDDD
    else { open my $fh, '>', $p or die; print $fh "mine\n" }
    my %before = snapshot($t);
    $r = run([ $mk, '-c', 300, $t ]);
    is($r->{exit}, $EXIT_USAGE, "DIR holding $foreign: refused with the usage status");
    like($r->{err}, qr/^mktestdata: \Q$t\E holds \Q$foreign\E, which mktestdata does not make: refusing.*\n\z/,
        "the one-line error names $foreign");
    is_deeply({ snapshot($t) }, \%before, 'and nothing was changed');
    -d $p ? rmdir $p : unlink $p;
}
my $other = "$top/other";
mkdir $other or die;
{ open my $fh, '>', "$other/readme" or die }
$r = run([ $mk, '-c', 10, $other ]);
is($r->{exit}, $EXIT_USAGE, 'a directory of other files is refused');
is_deeply([ names($other) ], ['readme'], 'and nothing is made in it');

# The default: 10000 files in 100 directories.
my $d = "$top/default";
$r = run([ $mk, $d ]);
is($r->{exit}, 0, 'default count: exits 0') or diag $r->{err};
my @dirs = grep { $_ ne '.mktestdata' } names($d);
is(scalar @dirs, 100, 'default: 100 directories');
is(scalar(map { names("$d/$_") } @dirs), 10000, 'default: 10000 files');
ok(-e "$d/0099/99" && !-e "$d/0100", 'the last file is 0099/99');

# Bad arguments: one line, exit 2, nothing made.
{ open my $fh, '>', "$top/afile" or die }
my @before = names($top);
for my $bad ([ '-c', 0, "$top/x" ], [ '-c', 'abc', "$top/x" ], [ '-c', 1000001, "$top/x" ], ['-x', "$top/x"],
             [], [ "$top/x", "$top/y" ], ['-c'], [ "$top/afile" ], [ "$top/no/such/x" ]) {
    my $what = join(' ', map { "'$_'" } @$bad) || '(no arguments)';
    $r = run([ $mk, @$bad ]);
    is($r->{exit}, $EXIT_USAGE, "$what: usage status");
    ok($r->{err} =~ /\A[^\n]+\n\z/ && $r->{out} eq '', "$what: a one-line error, no output") or diag $r->{err};
}
is_deeply([ names($top) ], \@before, 'bad arguments made nothing');
$r = run([ $mk, '-h' ]);
is($r->{exit}, 0, '-h exits 0');
like($r->{out}, qr/^usage: mktestdata/, '-h prints the usage');

done_testing;
