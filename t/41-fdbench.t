#!/usr/bin/env perl
# fdbench: valid output, n counts the descriptors, the default size stops at
# the descriptor limit cleanly (or completes where it fits), bad arguments
# rejected.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use SBTest;
use Scalebench::Result qw(parse_text);
use Test::More;

my $fb = bin('fdbench');
-x $fb or plan skip_all => "$fb not built";

my $r = run([ $fb, '-c', 3000 ]);
is($r->{exit}, $EXIT_OK, '-c 3000 exits 0') or diag $r->{err};
is_deeply([ check_output($r->{out}, rows => 3000, columns => 'n reopen_ns append_ns', end => 'completed',
    bench => 'fdbench') ], [], '3000 valid rows');
my $p = parse_text($r->{out});
is_deeply([ map { $_->[0] } @{ $p->{rows} } ], [ 0 .. 2999 ], 'n = 0 .. 2999');
is($p->{rows}[0][1], '-', 'n=0: no reopen (the first descriptor is the hint itself)');
ok(!(grep { $_->[1] eq '-' || $_->[2] eq '-' } @{ $p->{rows} }[ 1 .. 2999 ]), 'every reopen and append measured');

# The default size (100000) needs RLIMIT_NOFILE above 100000: where the hard
# limit is lower the run must stop at it, named, with both phases kept.
$r = run([ $fb ], timeout => 120);
$p = parse_text($r->{out});
if (($r->{exit} // -1) == $EXIT_OK) {
    is_deeply([ check_output($r->{out}, rows => 100000, end => 'completed') ], [], 'default: 100000 rows');
    pass('default: the limit allowed it') for 1 .. 3;
} else {
    is($r->{exit}, $EXIT_LIMIT, 'default size: stops at the descriptor limit') or diag $r->{err};
    like($p->{end}, qr/^stopped: open\(\) at n=(\d+): EMFILE \(RLIMIT_NOFILE=\d+\)$/, 'named: open(), EMFILE, RLIMIT_NOFILE');
    my ($n) = ($p->{end} // '') =~ /n=(\d+)/;
    is(scalar @{ $p->{rows} }, $n // -1, 'one row per descriptor opened');
    ok(!(grep { $_->[1] eq '-' } @{ $p->{rows} }[ 1 .. $#{ $p->{rows} } ]), 'reopen still measured over all of them');
}

SKIP: {
    my $pre = unprivileged();
    skip 'root, and no setpriv to drop privileges', 4 unless defined $pre;
    $r = run([ @$pre, $fb, '-c', 1000 ], shell => 'ulimit -n 64');
    is($r->{exit}, $EXIT_LIMIT, 'ulimit -n 64: exits with the stopped-at-limit status');
    is_deeply([ check_output($r->{out}, end => 'stopped', min_rows => 40) ], [], 'the output is still valid');
    $p = parse_text($r->{out});
    like($p->{end}, qr/^stopped: open\(\) at n=\d+: EMFILE \(RLIMIT_NOFILE=64\)$/, 'the end line names the limit');
    ok(@{ $p->{rows} } < 64 && !(grep { $_->[1] eq '-' } @{ $p->{rows} }[ 1 .. $#{ $p->{rows} } ]),
        'reopen measured over the descriptors that exist');
}

for my $bad ([ '-c', 1 ], [ '-c', 0 ], [ '-c', 'abc' ], [ '-c', '' ], ['-x'], ['extra'], ['-c']) {
    my $b = run([ $fb, @$bad ]);
    my $what = join ' ', map { "'$_'" } @$bad;
    is($b->{exit}, $EXIT_USAGE, "$what: usage status");
    ok($b->{err} =~ /\A[^\n]+\n\z/ && $b->{out} eq '', "$what: a one-line error, no output") or diag "stderr: $b->{err}";
}
$r = run([ $fb, '-h' ]);
is($r->{exit}, 0, '-h exits 0');
like($r->{out}, qr/^usage: fdbench/, '-h prints the usage');

done_testing;
