#!/usr/bin/env perl
# mmapbench: valid output, FILE created when missing (and only FILE), the
# map-count limit ends a run cleanly, bad arguments and files rejected.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use SBTest;
use Scalebench::Result qw(parse_text);
use File::Temp qw(tempdir);
use POSIX ();
use Time::HiRes qw(sleep);
use Test::More;

my $mb = bin('mmapbench');
-x $mb or plan skip_all => "$mb not built";
my $ps = POSIX::sysconf(POSIX::_SC_PAGESIZE());
my $linux = $^O eq 'linux';

my $dir = tempdir('mmapbench-t.XXXXXX', TMPDIR => 1, CLEANUP => 1);
sub listing { opendir my $d, $dir or die; return join ' ', sort grep { !/^\.\.?$/ } readdir $d }
sub slurp { open my $fh, '<', $_[0] or return undef; local $/; return scalar <$fh> }

# A missing FILE is created with -s bytes, and only FILE is created.
my $f = "$dir/big";
my $r = run([ $mb, '-s', '1M', '-c', 100, $f ]);
is($r->{exit}, $EXIT_OK, '-s 1M -c 100 on a missing FILE exits 0') or diag $r->{err};
is_deeply([ check_output($r->{out}, rows => 100, columns => 'n mmap_ns touch_ns', end => 'completed',
    bench => 'mmapbench') ], [], '100 valid rows');
my $p = parse_text($r->{out});
is_deeply([ map { $_->[0] } @{ $p->{rows} } ], [ 0 .. 99 ], 'n counts the mappings made before, 0 to 99');
ok(!(grep { $_->[1] eq '-' || $_->[2] eq '-' } @{ $p->{rows} }), 'every mmap() and touch measured');
is(-s $f, 1048576, 'FILE was created with 1M = 1048576 bytes');
is(listing(), 'big', 'nothing but FILE was created');
like($p->{header}{file}, qr/^\Q$f\E, 1048576 bytes \(created by this run\)$/, 'the header says FILE was created');
is($p->{header}{page_size}, $ps, 'the header has the real page size');
SKIP: {
    skip 'mincore() residency is checked on Linux', 1 unless $linux;
    my $pages = 1048576 / $ps;
    like($p->{header}{resident}, qr/^100\.0% \($pages of $pages pages, mincore\(\)/,
        'the whole file is resident after reading it');
}
my $content = slurp($f);
ok(length $content == 1048576 && $content !~ /\0/, 'FILE holds data, not holes of zeros');

# An existing FILE is used as it is; the default count is every other page.
my $mtime = (stat $f)[9];
$r = run([ $mb, '-s', '2M', $f ]);
is($r->{exit}, $EXIT_OK, 'an existing FILE: exits 0') or diag $r->{err};
my $pairs = 1048576 / $ps / 2;
is_deeply([ check_output($r->{out}, rows => $pairs, end => 'completed') ], [],
    "default count: every other page of 1M, $pairs rows");
like($r->{err}, qr/exists with 1048576 bytes; it is used as it is/, '-s with an existing FILE of another size is reported');
ok(slurp($f) eq $content && (stat $f)[9] == $mtime && -s $f == 1048576, 'an existing FILE is left as it was');
like(parse_text($r->{out})->{header}{file}, qr/\(existing\)$/, 'the header says FILE existed');

# A size that is not a whole number of pages: the last, partial page counts.
my $odd = "$dir/odd";
{ open my $fh, '>', $odd or die; print $fh 'x' x (2 * $ps + 10); close $fh }
$r = run([ $mb, $odd ]);
is_deeply([ check_output($r->{out}, rows => 2, end => 'completed') ], [],
    '2 pages and 10 bytes: pages 0 and 2 are mapped');

# Bad arguments and unusable files: one line, exit 2, nothing measured or made.
mkdir "$dir/sub" or die;
{ open my $fh, '>', "$dir/empty" or die }
my @bad = ([ '-c', 0, $f ], [ '-c', 'abc', $f ], [ '-c', -1, $f ], [ '-s', 0, "$dir/new" ],
    [ '-s', '2X', "$dir/new" ], [ '-s', '', "$dir/new" ], [ '-s', 'M', "$dir/new" ],
    [ '-s', '99999999T', "$dir/new" ], ['-x', $f], [ '-c' ], [], [ $f, $f ],
    [ '-c', $pairs + 1, $f ], [ "$dir/empty" ], [ "$dir/sub" ], [ "$dir/no/such/dir/file" ],
    [ '-s', '1M', '-c', $pairs + 1, "$dir/new" ]);
for my $args (@bad) {
    my $before = listing();
    $r = run([ $mb, @$args ]);
    my $what = join(' ', map { "'$_'" } @$args) || '(no arguments)';
    is($r->{exit}, $EXIT_USAGE, "$what: usage status");
    ok($r->{err} =~ /\A[^\n]+\n\z/ && $r->{out} eq '', "$what: a one-line error, no output")
        or diag "stderr: $r->{err}";
    is(listing(), $before, "$what: nothing created");
}
like(run([ $mb, '-c', $pairs + 1, $f ])->{err}, qr/hold $pairs mappings/, 'a too small FILE: says how many mappings it holds');
$r = run([ $mb, '-h' ]);
is($r->{exit}, 0, '-h exits 0');
like($r->{out}, qr/^usage: mmapbench/, '-h prints the usage');

# The map-count limit: a sparse file with room for more mappings than
# vm.max_map_count allows. The limit is the machine's own, not lowered: it
# is global, and other programs run beside the tests.
SKIP: {
    my $max = $linux ? slurp('/proc/sys/vm/max_map_count') : undef;
    skip 'no vm.max_map_count on this OS', 7 unless defined $max;
    chomp $max;
    skip "vm.max_map_count is $max: too many mappings for a quick test", 7 if $max > 300000;
    my $count = $max + 1000;
    my $sparse = "$dir/sparse";
    open my $fh, '>', $sparse or die;
    truncate $fh, 2 * $count * $ps or die "truncate: $!";
    close $fh;
    $r = run([ $mb, '-c', $count, $sparse ], timeout => 120);
    unlink $sparse;
    is($r->{exit}, $EXIT_LIMIT, "-c $count: exits with the stopped-at-limit status") or diag $r->{err};
    is_deeply([ check_output($r->{out}, end => 'stopped', min_rows => 1) ], [], 'the output is still a valid result file');
    $p = parse_text($r->{out});
    like($p->{end}, qr/^stopped: mmap\(\) at n=\d+: ENOMEM \(vm\.max_map_count=$max\)$/,
        'the end line names mmap(), ENOMEM and vm.max_map_count with its value');
    my ($n) = ($p->{end} // '') =~ /n=(\d+)/;
    $n //= -1;
    ok($n > $max - 2000 && $n < $max, "it stopped just below the limit (n=$n of $max)");
    is(scalar @{ $p->{rows} }, $n, 'one row per mapping made');
    ok(!(grep { $_->[2] eq '-' } @{ $p->{rows} }), 'the mappings made were still touched');
    like($r->{err}, qr/^mmapbench: stopped: mmap\(\) at n=\d+: ENOMEM/m, 'and says so on stderr');
}

# SIGTERM while FILE is being created: the unfinished FILE is removed (or,
# if creating it already finished, it is whole).
{
    my $huge = "$dir/huge";
    my $size = 4 * 1024 * 1024 * 1024;
    my $out = "$dir/out";
    my $pid = fork // die;
    if ($pid == 0) {
        open STDOUT, '>', $out or die;
        open STDERR, '>', '/dev/null' or die;
        exec $mb, '-s', '4G', '-c', 1, $huge;
        die;
    }
    sleep 0.3;
    kill 'TERM', $pid;
    waitpid $pid, 0;
    my $st = $?;
    my $text = slurp($out);
    unlink $out;
    is($st & 127, POSIX::SIGTERM(), 'SIGTERM: mmapbench dies by SIGTERM');
    is_deeply([ check_output($text, end => 'interrupted', rows => 0) ], [], 'it printed a valid result file, no rows');
    ok(!-e $huge || -s $huge == $size, 'no unfinished FILE is left behind')
        or diag "left: " . (-s $huge) . " bytes";
    unlink $huge;
}
is(listing(), 'big empty odd sub', 'no file was left in the directory but those the test made');

done_testing;
