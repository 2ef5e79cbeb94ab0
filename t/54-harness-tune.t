#!/usr/bin/env perl
# harness/run --tune raises the sysctls the study needed, records each old
# value and restores it at the end and on interruption; without --tune it
# only warns about limits that will cut a benchmark short. Runs against a
# copy of /proc/sys (SCALEBENCH_PROC_SYS), so the machine is not touched.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use SBTest;
use File::Temp qw(tempdir);
use File::Path qw(make_path);
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use Test::More;

$^O eq 'linux' or plan skip_all => 'the /proc/sys stand-in is Linux only';
$> == 0 or plan skip_all => '--tune needs root';
my $harness = ROOT() . '/harness/run';
my $fake = ROOT() . '/t/data/fakebench';

my $tmp = tempdir('sbtune-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my %low = ('kernel/pid_max' => '1000', 'vm/max_map_count' => '100', 'net/core/somaxconn' => '128',
           'fs/file-max' => '5000', 'net/ipv4/ip_local_port_range' => "40000\t41000");
my %want = ('kernel/pid_max' => '4194304', 'vm/max_map_count' => '262144', 'net/core/somaxconn' => '65535',
            'fs/file-max' => '1048576', 'net/ipv4/ip_local_port_range' => '1024 65535');
sub slurp { open my $f, '<', $_[0] or return ''; local $/; my $t = scalar <$f>; $t =~ s/\s+\z// if defined $t; return $t // '' }
sub setup {
    for my $k (keys %low) {
        my ($d) = "$tmp/sys/$k" =~ m{^(.*)/};
        make_path($d);
        open my $f, '>', "$tmp/sys/$k" or die;
        print $f "$low{$k}\n";
        close $f;
    }
}
sub values_now { return { map { ($_ => slurp("$tmp/sys/$_") =~ s/\s+/ /gr) } keys %low } }
my %low_read = map { my $v = $low{$_}; $v =~ s/\s+/ /g; ($_ => $v) } keys %low;

my $suitefile = "$tmp/suite.pl";
open my $fh, '>', $suitefile or die;
# the limits checked are those the entries declare (uses): a fork
# benchmark keeping 6 children, a bind of 900 ports, 3000 descriptors in one
# process (more than the RLIMIT_NOFILE of 1000 the plain run gets), 500
# mappings
print $fh "( { id => 'fake-slow', program => '$fake', args => ['-c', 6, 'slow'], main_column => 'x_ns', uses => { mappings => 500 } },\n",
          "  { id => 'forkbench-fake', program => '$fake', args => ['-c', 6], main_column => 'x_ns', uses => { processes => 6 } },\n",
          "  { id => 'socketbench-fake', program => '$fake', args => ['-c', 900], main_column => 'x_ns', uses => { ports => 900, descriptors => 900 } },\n",
          "  { id => 'fdbench-fake', program => '$fake', args => ['-c', 3000], main_column => 'x_ns', uses => { descriptors => 3000 } } )\n";
close $fh;
my @common = ('--quick', '--no-build', '--results', "$tmp/res", '--suite-file', $suitefile, '--runs', 1);
local $ENV{SCALEBENCH_PROC_SYS} = "$tmp/sys";
mkdir "$tmp/state" or die;
local $ENV{SCALEBENCH_STATE_DIR} = "$tmp/state";

# without --tune: warnings only, nothing changed
setup();
my $r = run([ $harness, @common, '--tag', 'plain' ], timeout => 60, shell => 'ulimit -n 1000');
is($r->{exit}, 0, 'without --tune: runs') or diag $r->{out}, $r->{err};
like($r->{out}, qr/^limit: pid_max\/maxproc 1000 /m, 'it warns that pid_max is low');
like($r->{out}, qr/^limit: ephemeral port range 40000 41000 /m, 'and that the port range is narrow');
like($r->{out}, qr/^limit: vm\.max_map_count 100 < /m, 'and that max_map_count is low');
like($r->{out}, qr/^limit: RLIMIT_NOFILE hard limit 1000 < 3064: fdbench-fake holds 3000 descriptors in one process and will stop at EMFILE/m,
    'and that the descriptor limit cuts fdbench short');
unlike($r->{out}, qr/^limit: RLIMIT_NOFILE.*(?:socketbench|forkbench)-fake/m, 'but not the runs that fit');
is_deeply(values_now(), \%low_read, 'and changes nothing');

# --tune, to the end
setup();
$r = run([ $harness, @common, '--tag', 'tuned', '--tune' ], timeout => 60);
is($r->{exit}, 0, '--tune: runs') or diag $r->{out}, $r->{err};
like($r->{out}, qr/^--tune: kernel\.pid_max = 4194304 \(was 1000; restored at the end\)$/m, '--tune raises pid_max and says so');
like($r->{out}, qr/^--tune: net\.ipv4\.ip_local_port_range = 1024 65535 \(was 40000 41000/m, 'and widens the port range');
unlike($r->{out}, qr/^limit: /m, 'after tuning no limit is reported');
like($r->{out}, qr/^restored kernel\.pid_max = 1000$/m, 'at the end each old value is restored');
is_deeply(values_now(), \%low_read, 'every sysctl has its old value again');
like(slurp("$tmp/res/tuned/log"), qr/--tune: vm\.max_map_count = 262144 \(was 100\)/, 'the log records old and new values');

# --tune, interrupted while a benchmark runs
setup();
open my $h, '>', "$tmp/hold" or die;
close $h;
local $ENV{FAKEBENCH_HOLD} = "$tmp/hold";
# the harness in the background, in its own process group, output to $tmp/out
sub start_harness {
    my $pid = fork // die;
    if ($pid == 0) {
        setpgrp(0, 0);
        open STDOUT, '>', "$tmp/out" or die;
        open STDERR, '>&', \*STDOUT or die;
        exec $harness, @common, @_;
        die;
    }
    return $pid;
}
my $pid = start_harness('--tag', 'int', '--tune');
my $end = time + 60;
sleep 0.05 until slurp("$tmp/res/int/log") =~ /fake-slow run 1: started/ || time > $end;
is_deeply(values_now(), \%want, 'while it runs the sysctls are raised');
kill 'INT', $pid;
my $st;
$end = time + 30;
until (waitpid($pid, WNOHANG) == $pid) { sleep 0.05; if (time > $end) { kill 'KILL', -$pid; waitpid($pid, 0); last } }
$st = $?;
is($st & 127, 2, 'SIGINT ends the harness');
is_deeply(values_now(), \%low_read, 'and every sysctl has its old value again');
like(slurp("$tmp/out"), qr/^restored fs\.file-max = 5000$/m, 'it says so');
my ($pg) = slurp("$tmp/res/int/log") =~ /process group (\d+)/;
ok(defined $pg && !group_alive($pg), 'nothing of the benchmark is left');

# --tune, killed outright (SIGKILL): the sysctls stay raised, but their
# original values were saved first; the next run (even without --tune)
# restores them, and kills what the dead run left running
setup();
$pid = start_harness('--tag', 'killed', '--tune');
$end = time + 60;
sleep 0.05 until slurp("$tmp/res/killed/log") =~ /fake-slow run 1: started/ || time > $end;
($pg) = slurp("$tmp/res/killed/log") =~ /fake-slow run 1: started, process group (\d+)/;
$end = time + 30;
sleep 0.05 until (defined $pg && group_alive($pg) >= 2) || time > $end;    # its grandchild is up
is_deeply(values_now(), \%want, 'while it runs the sysctls are raised');
kill 'KILL', $pid;
waitpid($pid, 0);
is($? & 127, 9, 'SIGKILL ends the harness');
is_deeply(values_now(), \%want, 'and the sysctls stay raised');
ok(defined $pg && group_alive($pg), 'and its benchmark is still running');
my @state = glob("$tmp/state/scalebench-run.*.state");
is(scalar @state, 1, 'a state file is left');
like(slurp($state[0]), qr/^sysctl kernel\.pid_max\t1000\t/m, 'it holds the original values');
unlink "$tmp/hold";
$r = run([ $harness, @common, '--tag', 'killed', '--only', 'forkbench-fake' ], timeout => 60);
is($r->{exit}, 0, 'the next run (no --tune) runs') or diag $r->{out}, $r->{err};
like($r->{out}, qr/^cleanup: restored kernel\.pid_max = 1000$/m, 'it restores the saved values first');
is_deeply(values_now(), \%low_read, 'every sysctl has its original value again');
ok(!group_alive($pg), 'the dead run\'s benchmark is killed');
is_deeply([ glob("$tmp/state/*") ], [], 'no state file is left');

done_testing;
