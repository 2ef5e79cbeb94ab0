#!/usr/bin/env perl
# herdbench: valid output in every mode the OS has, no waiter outlives the
# run (normal end, SIGINT, SIGTERM, the benchmark killed), a process limit
# ends the run cleanly, bad arguments rejected.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use SBTest;
use Scalebench::Result qw(parse_text);
use Test::More;
use POSIX qw(SIGINT SIGTERM WNOHANG);

my $hb = bin('herdbench');
-x $hb or plan skip_all => "$hb not built";

# every mode the OS has: the event mechanisms through lib/events.c (kqueue
# where Linux has epoll), reuseport with SO_REUSEPORT_LB on FreeBSD
my @modes = $^O eq 'linux' ? qw(accept epoll epoll-exclusive reuseport poll select)
          : $^O =~ /bsd|darwin|dragonfly/i ? qw(accept reuseport kqueue poll select) : qw(accept);
for my $mode (@modes) {
    my $r = run([ $hb, '-m', $mode, '-w', 20, '-r', 3 ]);
    is($r->{exit}, $EXIT_OK, "$mode: -w 20 -r 3 exits 0") or diag $r->{err};
    is_deeply([ check_output($r->{out}, rows => 15, columns => 'n wakeups latency_ns', end => 'completed',
        bench => 'herdbench') ], [], "$mode: 15 valid rows");
    my $p = parse_text($r->{out});
    is_deeply([ map { $_->[0] } @{ $p->{rows} } ], [ map { ($_) x 3 } 1, 2, 5, 10, 20 ], "$mode: W = 1, 2, 5, 10, 20, 3 rounds each");
    ok(!(grep { $_->[1] eq '-' || $_->[1] < 1 } @{ $p->{rows} }), "$mode: every connection woke at least one waiter");
    is($p->{header}{mode}, $mode, "$mode: the header names the mode");
    is_deeply($r->{left}, [], "$mode: no waiter left after a normal end");
}

SKIP: {
    skip 'epoll is Linux only', 3 unless $^O eq 'linux';
    my $r = run([ $hb, '-m', 'epoll-exclusive', '-s', '-w', 5, '-r', 2 ]);
    is($r->{exit}, $EXIT_OK, '-s (one shared epoll instance) exits 0') or diag $r->{err};
    is_deeply([ check_output($r->{out}, rows => 6, columns => 'n wakeups latency_ns', end => 'completed') ], [], '-s: valid, W = 1, 2, 5');
    like(parse_text($r->{out})->{header}{epoll_instance} // '', qr/^one, shared/, '-s: the header says the instance is shared');
}

# Interrupted while 50 or more waiters block: all of them go with it.
for my $sig (qw(INT TERM)) {
    my $sent = 0;
    my $r = run([ $hb, '-m', 'accept', '-w', 1000, '-r', 5 ], timeout => 60,
        during => sub { children_of($_[0]) >= 50 or return 0; $sent = kill $sig, $_[0]; 1 });
    ok($sent, "SIG$sig sent once 50 waiters ran");
    is($r->{signal}, $sig eq 'INT' ? SIGINT : SIGTERM, "it died by SIG$sig") or diag "exit $r->{exit}: $r->{err}";
    is_deeply([ check_output($r->{out}, end => 'interrupted') ], [], 'and printed a valid result file first');
    is_deeply($r->{left}, [], "no waiter left after SIG$sig");
}

# The benchmark killed outright: the waiters die with it (the kernel tells
# them on Linux and FreeBSD; elsewhere they look every second).
{
    my $started = 0;
    my $r = run([ $hb, '-m', 'accept', '-w', 1000, '-r', 5 ], timeout => 60, grace => 5,
        during => sub { children_of($_[0]) >= 50 or return 0; $started = 1; kill 'KILL', $_[0]; 1 });
    ok($started, 'started 50 waiters');
    is_deeply($r->{left}, [], 'no waiter outlives a SIGKILLed benchmark (within 5 s)');
}

SKIP: {
    my $pre = unprivileged();
    my ($prlimit) = grep { -x } map { "$_/prlimit" } qw(/usr/bin /bin);
    skip 'root, and no setpriv to drop privileges', 4 unless defined $pre;
    skip 'no prlimit (util-linux) to set RLIMIT_NPROC', 4 unless $prlimit;
    # RLIMIT_NPROC counts every process of the user, so where it stops
    # depends on what else runs as that user: only that it stops, named.
    my $r = run([ $prlimit, '--nproc=40', '--', @$pre, $hb, '-m', 'accept', '-w', 200, '-r', 1 ]);
    is($r->{exit}, $EXIT_LIMIT, 'RLIMIT_NPROC 40: exits with the stopped-at-limit status') or diag $r->{err};
    is_deeply([ check_output($r->{out}, end => 'stopped') ], [], 'still a valid result file');
    like(parse_text($r->{out})->{end}, qr/^stopped: fork\(\) at n=\d+: EAGAIN \(RLIMIT_NPROC=40\b/, 'names fork(), EAGAIN and RLIMIT_NPROC');
    is_deeply($r->{left}, [], 'no waiter left after the limit');
}

my @bad = ([ '-m', 'foo' ], [ '-m', '' ], [ '-w', 0 ], [ '-w', 'x' ], [ '-r', 0 ], [ '-s' ], [ '-m', 'accept', '-s' ],
           [ '-m', 'poll', '-s' ], ['-x'], ['extra'], ['-m']);
push @bad, $^O eq 'linux' ? [ '-m', 'kqueue' ] : [ '-m', 'epoll' ];
for my $bad (@bad) {
    my $b = run([ $hb, @$bad ]);
    my $what = join ' ', map { "'$_'" } @$bad;
    is($b->{exit}, $EXIT_USAGE, "$what: usage status");
    ok($b->{err} =~ /\A[^\n]+\n\z/ && $b->{out} eq '', "$what: a one-line error, no output") or diag "stderr: $b->{err}";
}
my $r = run([ $hb, '-h' ]);
is($r->{exit}, 0, '-h exits 0');
like($r->{out}, qr/^usage: herdbench/, '-h prints the usage');

done_testing;
