#!/usr/bin/env perl
# Faults around harness/run (issue 14): the harness killed by SIGKILL and run
# again (nothing left, a result complete on disk kept); a full disk (a small
# tmpfs: at start, for the scratch data, and filled by a run, with the
# summary kept); servers that accept and never answer, drip one byte every
# 5 s, or close their listener mid-run (no hang, nothing left, by process
# group). Every case is bounded in time.
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

my $harness = ROOT() . '/harness/run';
my $fake = ROOT() . '/t/data/fakebench';
my $fakehttpd = ROOT() . '/t/data/fakehttpd';
my $tmp = tempdir('sbfault-XXXXXX', TMPDIR => 1, CLEANUP => 1);
mkdir "$tmp/$_" or die for qw(state scratch);
# the cleanup registry's state files go here, not among other runs' in /tmp
local $ENV{SCALEBENCH_STATE_DIR} = "$tmp/state";

sub files_in { opendir my $d, $_[0] or return (); return sort grep { !/^\.\.?$/ } readdir $d }
sub slurp { open my $f, '<', $_[0] or return ''; local $/; return scalar(<$f>) // '' }
sub suite_file {
    my ($name, $text) = @_;
    open my $fh, '>', "$tmp/$name" or die;
    print $fh $text;
    close $fh;
    return "$tmp/$name";
}
sub wait_for {
    my ($what, $timeout) = @_;
    my $end = time + $timeout;
    while (time < $end) { return 1 if $what->(); sleep 0.05 }
    return 0;
}

# ---- SIGKILL of the harness, then a re-run ----
{
    my $suite = suite_file('kill.pl', <<"EOS");
( { id => 'fake-done', program => '$fake', args => ['-c', 9, 'okhold', '{bigfile}'], needs => ['bigfile'], main_column => 'x_ns' },
  { id => 'fake-ok', program => '$fake', args => ['-c', 4, 'ok'], main_column => 'x_ns' } )
EOS
    my $hold = "$tmp/hold";
    open my $h, '>', $hold or die;
    close $h;
    local $ENV{FAKEBENCH_HOLD} = $hold;
    my @args = ('--quick', '--no-build', '--runs', 1, '--results', "$tmp/res", '--tag', 'killed',
                '--scratch', "$tmp/scratch", '--suite-file', $suite);
    my $dir = "$tmp/res/killed";
    my $pid = fork // die;
    if ($pid == 0) {
        setpgrp(0, 0);
        open STDOUT, '>', "$tmp/kill.out" or die;
        open STDERR, '>&', \*STDOUT or die;
        exec $harness, @args;
        die;
    }
    my $pg;
    ok(wait_for(sub { ($pg) = slurp("$dir/log") =~ /fake-done run 1: started, process group (\d+)/; defined $pg }, 60),
       'SIGKILL: the benchmark started');
    my $tmpfile = "$dir/.fake-done.1.dat.tmp.$pid";
    ok(wait_for(sub { slurp($tmpfile) =~ /^# end: completed$/m }, 30), 'its complete result is in the temporary file');
    kill 'KILL', $pid;
    waitpid($pid, 0);
    is($? & 127, 9, 'the harness died by SIGKILL');
    ok(group_alive($pg), 'its benchmark is still running');
    ok((grep { /^scalebench-$pid-/ } files_in("$tmp/scratch")), 'its scratch directory is left');
    is_deeply([ files_in("$tmp/state") ], ["scalebench-run.$pid.state"], 'and its state file');
    ok(-e $tmpfile, 'and the temporary result file');

    my $r = run([ $harness, @args ], timeout => 60);
    is($r->{exit}, 0, 're-run: exits 0') or diag $r->{out}, $r->{err};
    like($r->{out}, qr/^cleanup: a harness run \(pid $pid\) ended without cleaning up/m, 're-run: it finds the dead run');
    like($r->{out}, qr/^cleanup: killed process group $pg /m, 're-run: kills what it left running');
    like($r->{out}, qr/^cleanup: kept the complete result in \S+ as \S+fake-done\.1\.dat$/m, 're-run: keeps the complete result');
    like($r->{out}, qr/^1 run\(s\) already complete: skipped/m, 'and counts it as done');
    like($r->{out}, qr/^\[1\/1\] fake-ok +run 1\/1 .* ok /m, 'the other run is measured');
    is_deeply([ validate(parse_file("$dir/fake-done.1.dat")) ], [], 'the kept result is valid');
    ok(!group_alive($pg), 'nothing of the dead run is running');
    is_deeply([ files_in("$tmp/scratch") ], [], 'no scratch directory is left');
    is_deeply([ files_in("$tmp/state") ], [], 'no state file is left');
    is_deeply([ grep { /^\./ } files_in($dir) ], [], 'no temporary file is left in the results folder');
    unlink $hold;

    # leftovers of a dead run without a state file (an older harness, or a
    # state file that could not be written): PID 99999999 does not exist
    my $dead = 99999999;
    mkdir "$tmp/scratch/scalebench-$dead-AbC123" or die;
    open my $bf, '>', "$tmp/scratch/scalebench-$dead-AbC123/bigfile" or die;
    close $bf;
    for my $f (".fake-ok.1.err.tmp.$dead", ".httpd.err.$dead", ".summary.txt.tmp.$dead", ".fake-ok.2.dat.tmp.$dead") {
        open my $fh, '>', "$dir/$f" or die;
        print $fh "# scalebench: 1\n";    # cut short: not a complete result
        close $fh;
    }
    my $complete = slurp("$dir/fake-done.1.dat");
    open my $cf, '>', "$dir/.fake-done.2.dat.tmp.$dead" or die;
    print $cf $complete;
    close $cf;
    $r = run([ $harness, @args, '--runs', 2, '--only', 'fake-ok' ], timeout => 60);
    is($r->{exit}, 0, 'leftovers without a state file: the run goes on') or diag $r->{out}, $r->{err};
    like($r->{out}, qr/^cleanup: removed \S+scalebench-$dead-AbC123, left by a dead run/m, 'a dead run\'s scratch directory is removed');
    like($r->{out}, qr/^cleanup: kept the complete result in \S+ as \S+fake-done\.2\.dat$/m, 'a complete result in a temporary file is kept');
    is_deeply([ files_in("$tmp/scratch") ], [], 'no scratch directory is left');
    is_deeply([ grep { /^\./ } files_in($dir) ], [], 'no temporary file (.err.tmp, .httpd.err, .summary.txt.tmp, a cut .dat.tmp) is left');
    is_deeply([ validate(parse_file("$dir/fake-done.2.dat")) ], [], 'the kept result is valid');
}

# ---- a full disk: a small tmpfs ----
SKIP: {
    my $mnt = "$tmp/full";
    mkdir $mnt or die;
    my $m = run([ 'mount', '-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', $mnt ], timeout => 20);
    skip 'cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN): ' . ($m->{err} =~ s/\s+\z//r), 1
        unless defined $m->{exit} && $m->{exit} == 0;
    my $fill = sub {    # fills the tmpfs up to the last byte
        open my $f, '>', "$mnt/ballast" or die;
        my $chunk = 'x' x 4096;
        1 while syswrite($f, $chunk);
        close $f;
    };
    my $suite = suite_file('full.pl', <<"EOS");
( { id => 'fake-ok', program => '$fake', args => ['-c', 4, 'ok'], main_column => 'x_ns' },
  { id => 'fake-file', program => '$fake', args => ['-c', 4, 'needfile', '{bigfile}'], needs => ['bigfile'], main_column => 'x_ns' },
  { id => 'fake-big', program => '$fake', args => ['-c', 200000, 'ok'], main_column => 'x_ns' } )
EOS
    my @common = ('--quick', '--no-build', '--runs', 1, '--suite-file', $suite);

    # full at the start: one line naming errno and the path, nothing left
    mkdir "$mnt/res" or die;
    $fill->();
    my $r = run([ $harness, @common, '--only', 'fake-ok', '--results', "$mnt/res", '--tag', 'start' ], timeout => 60);
    is($r->{exit}, 1, 'full at start: exit status 1') or diag $r->{out}, $r->{err};
    like($r->{err}, qr/^harness\/run: cannot write \S+\/\.system\.txt\.tmp\.\d+: No space left on device \(ENOSPC\)$/m,
         'it names the file and the error');
    is_deeply([ grep { /^\./ } files_in("$mnt/res/start") ], [], 'no .system.txt.tmp file is left');
    is_deeply([ files_in("$tmp/state") ], [], 'no state file is left');

    # --scratch on the full disk: the preparation names the error, the others run
    mkdir "$tmp/res2" or die;
    $r = run([ $harness, @common, '--only', 'fake-ok,fake-file', '--results', "$tmp/res2", '--tag', 'scratch',
               '--scratch', "$mnt/res" ], timeout => 60);
    is($r->{exit}, 1, '--scratch full: exit status 1 (a run failed)') or diag $r->{out}, $r->{err};
    like($r->{out}, qr/No space left on device \(ENOSPC\)/, 'it names the error');
    like($r->{out}, qr/^\[\d\/2\] fake-ok +run 1\/1 .* ok /m, 'the run that needs nothing runs');
    like($r->{out}, qr/^\[\d\/2\] fake-file +run 1\/1 .* failed: bigfile could not be prepared/m, 'the one that needs the data fails, saying why');
    is_deeply([ grep { /^scalebench-/ } files_in("$mnt/res") ], [], 'no scratch directory is left');

    # a run fills the disk: its stderr is still reported; the summary is kept
    unlink "$mnt/ballast";
    $r = run([ $harness, @common, '--only', 'fake-ok', '--results', "$mnt/res", '--tag', 'mid' ], timeout => 60);
    is($r->{exit}, 0, 'with room: a run is filed') or diag $r->{out}, $r->{err};
    my $summary = slurp("$mnt/res/mid/summary.txt");
    like($summary, qr/^fake-ok +1 /m, 'and its summary written');
    $r = run([ $harness, @common, '--only', 'fake-big', '--results', "$mnt/res", '--tag', 'mid' ], timeout => 60);
    is($r->{exit}, 1, 'a run that fills the disk: exit status 1') or diag $r->{out}, $r->{err};
    like($r->{out}, qr/^\[1\/1\] fake-big +run 1\/1 .* failed: exit status 1.*stderr: fakebench: writing the result: No space left on device/m,
         'its stderr (a pipe, not the full disk) says why');
    like($r->{out}, qr/^summary\.txt not written: cannot write \S+\.summary\.txt\.tmp\.\d+: No space left on device \(ENOSPC\)/m,
         'the summary that cannot be written is named');
    is(slurp("$mnt/res/mid/summary.txt"), $summary, 'and the old summary is kept whole');
    is_deeply([ grep { /^\./ } files_in("$mnt/res/mid") ], [], 'no temporary file is left');
    is_deeply([ files_in("$tmp/state") ], [], 'no state file is left');
    run([ 'umount', $mnt ], timeout => 20);
}

# ---- misbehaving servers ----
SKIP: {
    my $hb = bin('httpbench');
    skip "$hb not built", 1 unless -x $hb;
    my $suite = suite_file('servers.pl', <<"EOS");
{ preparations => { fakehttpd => { kind => 'server', placeholder => 'url', program => '$fakehttpd', args => ['{param}'] } },
  benchmarks => [
    { id => 'silent', program => '$fake', args => ['-c', 3, 'ok', '{url}'], needs => ['fakehttpd:silent'], main_column => 'x_ns' },
    { id => 'drip', program => '$fake', args => ['-c', 3, 'ok', '{url}'], needs => ['fakehttpd:drip'], main_column => 'x_ns' },
    { id => 'dripafter', program => 'httpbench', args => ['-c', 30, '{url}'], needs => ['fakehttpd:dripafter'], main_column => 'connect_ns' },
    { id => 'close', program => 'httpbench', args => ['-c', 100, '{url}'], needs => ['fakehttpd:close'], main_column => 'connect_ns' },
  ] }
EOS
    my $t0 = time;
    my $r = run([ $harness, '--no-build', '--runs', 1, '--timeout', 6, '--results', "$tmp/res", '--tag', 'servers',
                  '--scratch', "$tmp/scratch", '--suite-file', $suite ], timeout => 150);
    my $wall = time - $t0;
    ok(!$r->{timed_out}, sprintf('the harness ends (%.0f s)', $wall)) or diag $r->{out};
    is($r->{exit}, 1, 'exit status 1: runs failed') or diag $r->{out}, $r->{err};
    like($r->{out}, qr/^\[1\/4\] silent +run 1\/1 .* failed: fakehttpd:silent: it did not answer an HTTP request within 10 s/m,
         'a server that accepts and never answers is not ready');
    like($r->{out}, qr/^\[2\/4\] drip +run 1\/1 .* failed: fakehttpd:drip: it did not answer an HTTP request within 10 s/m,
         'a server that drips one byte every 5 s is not ready');
    like($r->{out}, qr/^\[3\/4\] dripafter +run 1\/1 .* (?:failed|limited)/m, 'a server that drips mid-run: the run ends');
    like($r->{out}, qr/^\[4\/4\] close +run 1\/1 .* (?:failed|limited|ok)/m, 'a server that closes its listener mid-run: the run ends');
    my $log = slurp("$tmp/res/servers/log");
    my @groups = ($log =~ /started, process group (\d+)/g, $log =~ /^== \S+ fakehttpd:\S+: pid (\d+)/mg);
    ok(@groups >= 4, 'the log names the processes started (' . scalar(@groups) . ')');
    is_deeply([ grep { group_alive($_) } @groups ], [], 'none of them is left (by process group)');
    is_deeply([ files_in("$tmp/scratch") ], [], 'no scratch directory is left');
    is_deeply([ grep { /^\./ } files_in("$tmp/res/servers") ], [], 'no temporary file is left');

    # SIGINT while a benchmark waits on a dripping server: both go
    my $pid = fork // die;
    if ($pid == 0) {
        setpgrp(0, 0);
        open STDOUT, '>', "$tmp/int.out" or die;
        open STDERR, '>&', \*STDOUT or die;
        exec $harness, '--no-build', '--runs', 1, '--timeout', 60, '--results', "$tmp/res", '--tag', 'srvint',
            '--scratch', "$tmp/scratch", '--suite-file', $suite, '--only', 'dripafter';
        die;
    }
    my ($bg, $sg);
    ok(wait_for(sub { my $l = slurp("$tmp/res/srvint/log");
                      ($bg) = $l =~ /dripafter run 1: started, process group (\d+)/;
                      ($sg) = $l =~ /fakehttpd:dripafter: pid (\d+)/; defined $bg && defined $sg }, 60),
       'SIGINT: the benchmark runs against the dripping server');
    sleep 1;
    kill 'INT', $pid;
    my $st;
    ok(wait_for(sub { my $w = waitpid($pid, WNOHANG); $st = $? if $w == $pid; $w == $pid }, 30), 'SIGINT: the harness ends')
        or kill 'KILL', -$pid;
    is(($st // 0) & 127, 2, 'SIGINT: it dies by the signal');
    is_deeply([ grep { group_alive($_) } grep { defined } $bg, $sg, $pid ], [], 'SIGINT: no benchmark, server or harness process is left');
    is_deeply([ files_in("$tmp/scratch") ], [], 'SIGINT: no scratch directory is left');
    is_deeply([ files_in("$tmp/state") ], [], 'SIGINT: no state file is left');
}

done_testing;
