#!/usr/bin/env perl
# forkbench and forkbench-static: valid output in both builds and all modes,
# a process limit ends a run cleanly, and no child outlives the benchmark:
# not at the end, not at a limit, not on SIGINT/SIGTERM/SIGHUP, not when the
# benchmark is SIGKILLed.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use SBTest;
use Scalebench::Result qw(parse_text);
use Test::More;

# forkbench-static is not built where static linking does not exist (macOS):
# its tests run where it was built.
my %bin = map { $_ => bin($_) } grep { -x bin($_) } qw(forkbench forkbench-static);
$bin{forkbench} or plan skip_all => bin('forkbench') . ' not built';
my %linkage = (forkbench => 'dynamic', 'forkbench-static' => 'static');

# Both builds, -c 1000: 1000 valid rows, n = 0..999, both phases measured,
# nothing left in the benchmark's process group.
for my $b (sort keys %bin) {
    my $r = run([ $bin{$b}, '-c', 1000 ], timeout => 120);
    is($r->{exit}, $EXIT_OK, "$b -c 1000 exits 0") or diag $r->{err};
    is_deeply([ check_output($r->{out}, rows => 1000, columns => 'n fork_ns cleanup_ns',
        end => 'completed', bench => $b) ], [], "$b: 1000 valid rows");
    my $p = parse_text($r->{out});
    is($p->{header}{linkage}, $linkage{$b}, "$b: the header says linkage: $linkage{$b}");
    like($p->{header}{process_limits} // '', qr/RLIMIT_NPROC=/, "$b: the header records the process limits");
    is_deeply([ map { $_->[0] } @{ $p->{rows} } ], [ 0 .. 999 ], "$b: n runs from 0 to 999");
    ok(!(grep { $_->[1] eq '-' || $_->[2] eq '-' } @{ $p->{rows} }), "$b: every fork and every cleanup measured");
    is_deeply($r->{left}, [], "$b: no process left behind");
}

# The modern comparison: vfork + exec and posix_spawn of the program itself.
for my $b (sort keys %bin) {
    for my $m (qw(vfork spawn)) {
        my $r = run([ $bin{$b}, '-c', 200, '-m', $m ], timeout => 120);
        is($r->{exit}, $EXIT_OK, "$b -m $m exits 0") or diag $r->{err};
        is_deeply([ check_output($r->{out}, rows => 200, columns => 'n fork_ns cleanup_ns',
            end => 'completed', bench => $b) ], [], "$b -m $m: 200 valid rows");
        my $p = parse_text($r->{out});
        ok(!(grep { $_->[1] eq '-' || $_->[2] eq '-' } @{ $p->{rows} }), "$b -m $m: every value measured");
        is_deeply($r->{left}, [], "$b -m $m: no process left behind");
    }
}

# A child that cannot exec, or exits without writing its byte: the parent
# closed the report pipe's write end, so the run ends at once with the named
# errno (or the child's status), never waits forever. FORKBENCH_EXEC points
# the children at another program. Bounded: a hang is a timeout, not a pass.
for my $b (sort keys %bin) {
    for my $m (qw(vfork spawn)) {
        my $r = run([ $bin{$b}, '-c', 50, '-m', $m ], shell => 'FORKBENCH_EXEC=/nonexistent/forkbench; export FORKBENCH_EXEC',
            timeout => 30);
        ok(!$r->{timed_out}, "$b -m $m, exec of a missing file: the run ends (no hang)");
        is($r->{exit}, $EXIT_FAIL, "$b -m $m, exec of a missing file: exits with the failure status") or diag $r->{err};
        my $p = parse_text($r->{out});
        is_deeply([ check_output($r->{out}, end => 'failed', bench => $b, rows => 0) ], [], "$b -m $m: a valid result file");
        # glibc's posix_spawn reports the exec's errno; one that does not
        # (OpenBSD: a forked child exits 127) is named by the child's status
        like($p->{end} // '', $m eq 'vfork' ? qr/^failed: execv\(\) in the vfork\(\) child at n=0: ENOENT\b/
            : qr/^failed: (?:posix_spawn\(\) at n=0: ENOENT\b|the child of posix_spawn\(\) exited with status 127)/,
            "$b -m $m: the end line names the exec failure") or diag $p->{end};
        is_deeply($r->{left}, [], "$b -m $m: no process left behind");
    }
    # the exec works, but the program exits without a byte: end of file
    my $true = -x '/bin/true' ? '/bin/true' : '/usr/bin/true';
    my $r = run([ $bin{$b}, '-c', 50, '-m', 'spawn' ], shell => "FORKBENCH_EXEC=$true; export FORKBENCH_EXEC", timeout => 30);
    ok(!$r->{timed_out} && ($r->{exit} // -1) == $EXIT_FAIL, "$b: a child that exits without its byte ends the run, failed");
    like(parse_text($r->{out})->{end} // '', qr/^failed: the child of posix_spawn\(\) exited with status 0 before it wrote its byte at n=0$/,
        "$b: the end line says how the child ended");
}

# ulimit -u: fork() fails with EAGAIN; the run stops, names the limit, and
# reaps every child first. Root is exempt from RLIMIT_NPROC: run as nobody.
# (dash calls the limit ulimit -p, other shells ulimit -u.)
my $nproc40 = 'ulimit -u 40 2>/dev/null || ulimit -p 40';
SKIP: {
    my $pre = unprivileged();
    skip 'root, and no setpriv to drop privileges', 6 * keys(%bin) + 1 unless defined $pre;
    for my $b (sort keys %bin) {
        my $r = run([ @$pre, $bin{$b}, '-c', 1000 ], shell => $nproc40, timeout => 120);
        is($r->{exit}, $EXIT_LIMIT, "$b, ulimit -u 40: exits with the stopped-at-limit status") or diag $r->{err};
        my $p = parse_text($r->{out});
        is_deeply([ check_output($r->{out}, end => 'stopped', bench => $b) ], [], "$b: still a valid result file");
        like($p->{end}, qr/^stopped: fork\(\) at n=\d+: EAGAIN \(RLIMIT_NPROC=40\b/,
            "$b: the end line names fork(), EAGAIN and RLIMIT_NPROC=40") or diag $p->{end};
        my ($n) = ($p->{end} // '') =~ /n=(\d+)/;
        # the limit counts every process of the user, so others' may share it
        ok(defined $n && $n < 40 && @{ $p->{rows} } == $n, "$b: one row per child made before the limit (n=" . ($n // '?') . ")");
        ok(!(grep { $_->[2] eq '-' } @{ $p->{rows} }), "$b: the children that were made were still killed and timed");
        is_deeply($r->{left}, [], "$b: zero children left");
    }
    # the same through posix_spawn
    my $r = run([ @$pre, $bin{forkbench}, '-c', 1000, '-m', 'spawn' ], shell => $nproc40, timeout => 120);
    like(parse_text($r->{out})->{end} // '', qr/^stopped: posix_spawn\(\) at n=\d+: EAGAIN \(RLIMIT_NPROC=40\b/,
        '-m spawn, ulimit -u 40: stops at the limit too') or diag $r->{err};
}

# Mid-run (some hundred children alive), signal the benchmark alone.
sub mid_run {
    my ($sig, $seen, %o) = @_;
    return sub {
        my ($pid) = @_;
        my @kids = children_of($pid);
        return 0 if @kids < 200;
        if ($o{fds}) {      # freeze it, let the children settle, look at them
            kill 'STOP', $pid;
            select(undef, undef, undef, 0.2);
            @kids = children_of($pid);
            $o{fds}{$_} = [ map { m{/(\d+)$} } glob "/proc/$_/fd/*" ] for @kids;
        }
        $$seen = @kids;
        kill $sig, $pid;
        kill 'CONT', $pid if $o{fds};
        return 1;
    };
}

# SIGKILL: the benchmark cannot clean up; its children must still go, at
# once (parent-death signal, or EOF on the lifeline pipe).
{
    my $seen = 0;
    my $r = run([ $bin{forkbench}, '-c', 10000 ], during => mid_run('KILL', \$seen), grace => 2, timeout => 120);
    ok($seen >= 200, "SIGKILL sent with $seen children alive");
    is($r->{signal}, 9, 'the benchmark died by SIGKILL');
    is_deeply($r->{left}, [], 'zero children left within 2 seconds');
}

# SIGINT, SIGTERM, SIGHUP: rows so far, every child killed and reaped, then
# the benchmark dies by the same signal.
for my $sig (qw(INT TERM HUP)) {
    my ($seen, %fds) = (0);
    my $r = run([ $bin{forkbench}, '-c', 10000 ],
        during => mid_run($sig, \$seen, $sig eq 'INT' && -d "/proc/$$/fd" ? (fds => \%fds) : ()), timeout => 120);
    my $num = { INT => 2, TERM => 15, HUP => 1 }->{$sig};
    ok($seen >= 200, "SIG$sig sent with $seen children alive");
    is($r->{signal}, $num, "the benchmark died by SIG$sig (status 128+$num in a shell)") or diag $r->{err};
    # the newest child's byte may not have been read when the signal came
    is_deeply([ check_output($r->{out}, end => 'interrupted', bench => 'forkbench', min_rows => $seen - 1) ], [],
        "SIG$sig: the rows so far, a valid result file");
    like(parse_text($r->{out})->{end} // '', qr/^interrupted: SIG$sig/, "SIG$sig: the end line says so");
    is_deeply($r->{left}, [], "SIG$sig: zero children left");
    if (%fds) {
        my @bad = grep { "@{ $fds{$_} }" ne '0' } sort keys %fds;
        is_deeply(\@bad, [], 'each child holds only its lifeline (fd 0), nothing of the caller')
            or diag join "\n", map { "child $_: fds @{ $fds{$_} }" } @bad[0 .. ($#bad < 4 ? $#bad : 4)];
    }
}

for my $bad ([ '-c', 0 ], [ '-c', 'abc' ], [ '-m', 'clone' ], [ '-m' ], ['-x'], ['extra']) {
    my $r = run([ $bin{forkbench}, @$bad ]);
    my $what = join ' ', map { "'$_'" } @$bad;
    is($r->{exit}, $EXIT_USAGE, "$what: usage status");
    ok($r->{err} =~ /\A[^\n]+\n\z/ && $r->{out} eq '', "$what: a one-line error, no output")
        or diag "stderr: $r->{err}";
}
for my $b (sort keys %bin) {
    my $r = run([ $bin{$b}, '-h' ]);
    is($r->{exit}, 0, "$b -h exits 0");
    like($r->{out}, qr/^usage: \Q$b\E /, "$b -h prints the usage, under the program's name");
}

done_testing;
