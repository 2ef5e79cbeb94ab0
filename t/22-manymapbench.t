#!/usr/bin/env perl
# manymapbench: valid output, the descriptor limit ends a run cleanly, a
# missing or incomplete tree and bad arguments are rejected before anything
# is measured, nothing is made.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use SBTest;
use Scalebench::Result qw(parse_text);
use File::Temp qw(tempdir);
use Test::More;

my $mm = bin('manymapbench');
my $mk = bin('mktestdata');
-x $mm && -x $mk or plan skip_all => "$mm or $mk not built";
my $top = tempdir('manymapbench-t.XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $top;    # the unprivileged run below reads the tree
my $t = "$top/tree";
my $r = run([ $mk, '-c', 300, $t ]);
is($r->{exit}, 0, 'mktestdata -c 300 made the tree') or BAIL_OUT($r->{err});

sub listing {
    my @all;
    my @todo = ($top);
    while (my $d = shift @todo) {
        opendir my $h, $d or die;
        for (sort grep { !/^\.\.?$/ } readdir $h) { push @all, "$d/$_"; push @todo, "$d/$_" if -d "$d/$_" }
    }
    return join "\n", @all;
}
my $before = listing();

$r = run([ $mm, '-c', 300, $t ]);
is($r->{exit}, $EXIT_OK, '-c 300: exits 0') or diag $r->{err};
is_deeply([ check_output($r->{out}, rows => 300, columns => 'n open_ns mmap_ns touch_ns', end => 'completed',
    bench => 'manymapbench') ], [], '300 valid rows');
my $p = parse_text($r->{out});
is_deeply([ map { $_->[0] } @{ $p->{rows} } ], [ 0 .. 299 ], 'n counts the files opened and mapped before, 0 to 299');
ok(!(grep { grep { $_ eq '-' } @$_ } @{ $p->{rows} }), 'every open(), mmap() and touch measured');
is($p->{header}{file_bytes}, '45000 in all, 150.0 per file', 'every file was read: 300 times 150 bytes');
SKIP: {
    skip 'mincore() residency is checked on Linux', 1 unless $^O eq 'linux';
    like($p->{header}{resident}, qr/^100\.0% \(300 of 300 pages, mincore\(\)/, 'every file is resident after reading it');
}
like($p->{header}{rlimit_nofile}, qr/wanted 316\b/, 'RLIMIT_NOFILE was raised for 300 files');

$r = run([ $mm, $t ]);
is_deeply([ check_output($r->{out}, rows => 300, end => 'completed') ], [], 'the default count is every file of the tree');
$r = run([ $mm, '-c', 100, $t ]);
is_deeply([ check_output($r->{out}, rows => 100, end => 'completed') ], [], '-c 100: the first 100 files');

SKIP: {
    my $pre = unprivileged();
    skip 'root, and no setpriv to drop privileges', 6 unless defined $pre;
    $r = run([ @$pre, $mm, '-c', 300, $t ], shell => 'ulimit -n 64');
    is($r->{exit}, $EXIT_LIMIT, 'ulimit -n 64: exits with the stopped-at-limit status') or diag $r->{err};
    is_deeply([ check_output($r->{out}, end => 'stopped', min_rows => 1) ], [], 'the output is still a valid result file');
    $p = parse_text($r->{out});
    like($p->{end}, qr/^stopped: openat\(\) at n=\d+: EMFILE \(RLIMIT_NOFILE=64\)$/,
        'the end line names openat(), EMFILE and the limit with its value');
    my ($n) = ($p->{end} // '') =~ /n=(\d+)/;
    $n //= -1;
    is(scalar @{ $p->{rows} }, $n, 'one row per file opened before the limit');
    ok($n > 40 && $n < 64, "it stopped near the limit (n=$n)");
    ok(!(grep { grep { $_ eq '-' } @$_ } @{ $p->{rows} }), 'each file opened was also mapped and touched');
}

is(listing(), $before, 'the runs made and changed nothing');

# A tree with a file missing (made behind mktestdata's back): a failure
# before anything is measured, naming the file.
my $holey = "$top/holey";
run([ $mk, '-c', 150, $holey ]);
unlink "$holey/0001/05" or die;
$r = run([ $mm, $holey ]);
is($r->{exit}, $EXIT_FAIL, 'a file missing from the tree: exit 1');
is_deeply([ check_output($r->{out}, end => 'failed', rows => 0) ], [], 'a valid result file, no rows');
like(parse_text($r->{out})->{end}, qr/^failed: openat\(\) while reading the tree at n=105: ENOENT/, 'it names the call and the file number');
run([ $mk, '-c', 150, $holey ]);

# No tree, an incomplete one, too few files, bad arguments: one line, exit 2.
mkdir "$top/empty" or die;
mkdir "$top/badmark" or die;
{ open my $fh, '>', "$top/badmark/.mktestdata" or die; print $fh "something else\n" }
$before = listing();
for my $bad ([ "$top/nothing" ], [ "$top/empty" ], [ "$top/badmark" ], [ '-c', 301, $t ], [ '-c', 0, $t ],
             [ '-c', 'x', $t ], ['-x', $t], [], [ $t, $t ], ['-c']) {
    my $what = join(' ', map { "'$_'" } @$bad) || '(no arguments)';
    $r = run([ $mm, @$bad ]);
    is($r->{exit}, $EXIT_USAGE, "$what: usage status");
    ok($r->{err} =~ /\A[^\n]+\n\z/ && $r->{out} eq '', "$what: a one-line error, no output") or diag $r->{err};
}
like(run([ $mm, "$top/empty" ])->{err}, qr/no complete tree .*mktestdata/, 'a directory without a tree: says to run mktestdata');
like(run([ $mm, '-c', 301, $t ])->{err}, qr/holds 300 files/, 'too few files: says how many there are');
is(listing(), $before, 'manymapbench made and changed nothing');
$r = run([ $mm, '-h' ]);
is($r->{exit}, 0, '-h exits 0');
like($r->{out}, qr/^usage: manymapbench/, '-h prints the usage');

done_testing;
