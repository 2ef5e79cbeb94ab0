#!/usr/bin/env perl
# mallocbench: valid output at small sizes (one row per worker), a thread
# limit ends the run cleanly and names it, bad arguments rejected.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use SBTest;
use Scalebench::Result qw(parse_text);
use Test::More;

my $mb = bin('mallocbench');
-x $mb or plan skip_all => "$mb not built";

for my $case ([ 4, [ 1, 2, 2, 3, 3, 3, 4, 4, 4, 4 ] ], [ 3, [ 1, 2, 2, 3, 3, 3 ] ],
    [ 7, [ map { ($_) x $_ } 1, 2, 3, 4, 6, 7 ] ]) {
    my ($t, $n) = @$case;
    my $r = run([ $mb, '-t', $t, '-n', 20000, '-s', 100 ]);
    is($r->{exit}, $EXIT_OK, "-t $t exits 0") or diag $r->{err};
    is_deeply([ check_output($r->{out}, rows => scalar @$n, columns => 'n threads_ns processes_ns',
        end => 'completed', bench => 'mallocbench') ], [], "-t $t: valid, one row per worker");
    my $p = parse_text($r->{out});
    is_deeply([ map { $_->[0] } @{ $p->{rows} } ], $n, "-t $t: T = @{[ join ', ', @$n ]}");
    ok(!(grep { $_->[1] eq '-' || $_->[2] eq '-' || $_->[1] <= 0 || $_->[2] <= 0 } @{ $p->{rows} }),
        "-t $t: every worker timed, threads and processes");
    my $want = join ' ', map { "$_=[0-9.]+" } do { my %s; grep { !$s{$_}++ } @$n };
    like($p->{header}{wall_ms_threads}, qr/^$want$/, "-t $t: wall time of each T with threads");
    like($p->{header}{wall_ms_processes}, qr/^$want$/, "-t $t: and with processes");
    is_deeply($r->{left}, [], "-t $t: no worker process left");
}

my $r = run([ $mb, '-n', 1000 ]);
is($r->{exit}, $EXIT_OK, 'default -t (4 x CPUs) runs');
my $p = parse_text($r->{out});
my ($cpus) = ($p->{header}{cpus} // '') =~ /^(\d+)$/;
my $max = 0;
$max = $_->[0] > $max ? $_->[0] : $max for @{ $p->{rows} };
is($max, 4 * ($cpus // 0), "it goes up to 4 x $p->{header}{cpus} CPUs");
# T: 1, 2, 3, 4, 6, 8, 12, 16, ... (powers of two and the midpoints), then 4 x CPUs
my %seen;
my @ts = grep { !$seen{$_}++ } map { $_->[0] } @{ $p->{rows} };
my @want = grep { $_ < $max } map { ($_, $_ * 3 / 2) } map { 2**$_ } 0 .. 20;
@want = ((grep { $_ >= 1 && $_ == int $_ } @want[1 .. $#want]), $max);
unshift @want, 1;
my %w;
@want = grep { !$w{$_}++ } @want;
is_deeply(\@ts, \@want, "T = @ts");

SKIP: {
    my $pre = unprivileged();
    my ($prlimit) = grep { -x } map { "$_/prlimit" } qw(/usr/bin /bin);
    skip 'root, and no setpriv to drop privileges', 3 unless defined $pre;
    skip 'no prlimit (util-linux) to set RLIMIT_NPROC', 3 unless $prlimit;
    # Linux counts threads against RLIMIT_NPROC (of the whole user: where it
    # stops depends on what else runs as that user).
    $r = run([ $prlimit, '--nproc=20', '--', @$pre, $mb, '-t', 64, '-n', 1000 ]);
    is($r->{exit}, $EXIT_LIMIT, 'RLIMIT_NPROC 20, -t 64: stopped-at-limit status') or diag $r->{err};
    is_deeply([ check_output($r->{out}, end => 'stopped') ], [], 'still a valid result file');
    like(parse_text($r->{out})->{end}, qr/^stopped: (pthread_create|fork)\(\) at n=\d+: EAGAIN \(RLIMIT_NPROC=20\b/,
        'names the call, EAGAIN and RLIMIT_NPROC');
}

for my $bad ([ '-t', 0 ], [ '-t', 'x' ], [ '-n', 0 ], [ '-s', 0 ], [ '-s', '1k' ], ['-x'], ['extra'], ['-t']) {
    my $b = run([ $mb, @$bad ]);
    my $what = join ' ', map { "'$_'" } @$bad;
    is($b->{exit}, $EXIT_USAGE, "$what: usage status");
    ok($b->{err} =~ /\A[^\n]+\n\z/ && $b->{out} eq '', "$what: a one-line error, no output") or diag "stderr: $b->{err}";
}
$r = run([ $mb, '-h' ]);
is($r->{exit}, 0, '-h exits 0');
like($r->{out}, qr/^usage: mallocbench/, '-h prints the usage');

done_testing;
