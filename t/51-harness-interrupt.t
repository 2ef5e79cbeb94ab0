#!/usr/bin/env perl
# harness/run interrupted mid-way (SIGINT, SIGTERM): the benchmark and what
# it left in its process group are stopped, no scratch data or temporary
# file stays, the harness dies by the signal; the next run resumes.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use SBTest;
use Scalebench::Result qw(parse_file validate);
use File::Temp qw(tempdir);
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use Test::More;

my $sb = bin('socketbench');
-x $sb or plan skip_all => "$sb not built";
my $harness = ROOT() . '/harness/run';
my $fake = ROOT() . '/t/data/fakebench';

my $tmp = tempdir('sbharness-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $res = "$tmp/results";
my $scratch = "$tmp/scratch";
mkdir $scratch or die;
my $hold = "$tmp/hold";
my $suitefile = "$tmp/suite.pl";
open my $fh, '>', $suitefile or die;
print $fh <<"EOS";
(
  { id => 'sock', program => 'socketbench', args => ['-c', 200], main_column => 'socket_ns' },
  { id => 'fake-slow', program => '$fake', args => ['-c', 6, 'slow'], needs => ['bigfile'], main_column => 'x_ns' },
  { id => 'fake-ok', program => '$fake', args => ['-c', 6, 'ok'], main_column => 'x_ns' },
)
EOS
close $fh;

sub files_in { opendir my $d, $_[0] or return (); return sort grep { !/^\.\.?$/ } readdir $d }
sub slurp { open my $f, '<', $_[0] or return ''; local $/; return scalar <$f> }

# Starts the harness in its own process group; returns its pid.
sub start {
    my ($out, @args) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        setpgrp(0, 0);
        open STDOUT, '>', $out or die;
        open STDERR, '>&', \*STDOUT or die;
        open STDIN, '<', '/dev/null' or die;
        exec $harness, @args;
        die "exec: $!";
    }
    return $pid;
}

sub wait_for {
    my ($what, $timeout) = @_;
    my $end = time + $timeout;
    while (time < $end) {
        return 1 if $what->();
        sleep 0.05;
    }
    return 0;
}

for my $sig (qw(INT TERM)) {
    my $tag = lc "t-$sig";
    my $dir = "$res/$tag";
    my @args = ('--quick', '--no-build', '--results', $res, '--scratch', $scratch,
                '--suite-file', $suitefile, '--runs', 1, '--tag', $tag);
    open my $h, '>', $hold or die;
    close $h;
    local $ENV{FAKEBENCH_HOLD} = $hold;
    my $pid = start("$tmp/out-$sig", @args);
    my $pgid;
    ok(wait_for(sub { ($pgid) = slurp("$dir/log") =~ /fake-slow run 1: started, process group (\d+)/; defined $pgid }, 60),
       "SIG$sig: the slow benchmark started");
    # its stderr goes to the harness through a pipe: the grandchild shows in the group
    ok(wait_for(sub { my @p = group_alive($pgid); @p >= 2 }, 30),
       "SIG$sig: it left a grandchild that ignores the signal");
    ok((grep { /^scalebench-/ } files_in($scratch)), "SIG$sig: the scratch data exists while it runs");
    kill $sig, $pid;
    my $st;
    ok(wait_for(sub { my $w = waitpid($pid, WNOHANG); $st = $? if $w == $pid; $w == $pid }, 30),
       "SIG$sig: the harness ends") or kill 'KILL', -$pid;
    is($st & 127, $sig eq 'INT' ? 2 : 15, "SIG$sig: it dies by that signal");
    like(slurp("$tmp/out-$sig"), qr/interrupted by SIG$sig: cleaned up/, "SIG$sig: and says so");
    ok(defined $pgid && !group_alive($pgid), "SIG$sig: no process of the benchmark's group is left")
        or diag 'left: ', join ' ', group_alive($pgid);
    ok(!group_alive($pid), "SIG$sig: none of the harness's group either");
    kill 'KILL', -$pgid if defined $pgid;
    is_deeply([ files_in($scratch) ], [], "SIG$sig: the scratch data is gone");
    is_deeply([ grep { /^\./ } files_in($dir) ], [], "SIG$sig: no temporary files in the results folder");
    ok(-f "$dir/sock.1.dat", "SIG$sig: the run finished before is filed");
    ok(!-e "$dir/fake-slow.1.dat" && !-e "$dir/fake-slow.1.failed", "SIG$sig: the interrupted run is not");
    like(slurp("$dir/log"), qr/interrupted by SIG$sig/, "SIG$sig: the log says it was interrupted");

    # resume
    unlink $hold;
    my $r = run([ $harness, @args ], timeout => 60);
    is($r->{exit}, 0, "SIG$sig: the re-run exits 0") or diag $r->{out}, $r->{err};
    like($r->{out}, qr/^1 run\(s\) already complete: skipped/m, "SIG$sig: it resumes: the finished run is skipped");
    like($r->{out}, qr/^\[1\/2\] fake-slow +run 1\/1 .* ok /m, "SIG$sig: the interrupted one is measured");
    for my $id (qw(sock fake-slow fake-ok)) {
        is_deeply([ validate(parse_file("$dir/$id.1.dat")) ], [], "SIG$sig: $id.1.dat is complete and valid");
    }
}

# a run that outlives --timeout is ended (SIGTERM), logged as failed, and the
# harness goes on
{
    open my $h, '>', $hold or die;
    close $h;
    local $ENV{FAKEBENCH_HOLD} = $hold;
    my $r = run([ $harness, '--quick', '--no-build', '--results', $res, '--scratch', $scratch,
                  '--suite-file', $suitefile, '--runs', 1, '--tag', 'timeout', '--timeout', 2 ], timeout => 60);
    is($r->{exit}, 1, '--timeout: the status says a run failed') or diag $r->{out};
    like($r->{out}, qr/^\[2\/3\] fake-slow +run 1\/1 .* failed: timed out after 2 s/m, 'the slow run is ended and reported');
    like($r->{out}, qr/^\[3\/3\] fake-ok +run 1\/1 .* ok /m, 'the next one still runs');
    my $log = slurp("$res/timeout/log");
    like($log, qr/fake-slow run 1: timed out after 2 s: SIGTERM/, 'the log says so');
    my ($pg) = $log =~ /fake-slow run 1: started, process group (\d+)/;
    ok(defined $pg && !group_alive($pg), 'nothing of it is left');
    is_deeply([ files_in($scratch) ], [], 'no scratch data is left');
    unlink $hold;
}

done_testing;
