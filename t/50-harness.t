#!/usr/bin/env perl
# harness/run with a test suite (--suite-file): files every run atomically
# under results/<tag>, keeps a run stopped at a limit and flags it, logs a
# failing benchmark and goes on, writes the system record, skips completed
# runs on a re-run, --force measures again, leaves nothing behind.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use SBTest;
use Scalebench::Result qw(parse_file validate);
use File::Temp qw(tempdir);
use JSON::PP;
use POSIX qw(uname);
use Test::More;

my $sb = bin('socketbench');
-x $sb or plan skip_all => "$sb not built";
my $harness = ROOT() . '/harness/run';
my $fake = ROOT() . '/t/data/fakebench';

my $tmp = tempdir('sbharness-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $res = "$tmp/results";
my $scratch = "$tmp/scratch";
mkdir $scratch or die;
my $suitefile = "$tmp/suite.pl";
open my $fh, '>', $suitefile or die;
print $fh <<"EOS";
(
  { id => 'sock', program => 'socketbench', args => ['-c', 5000], quick_args => ['-c', 200],
    main_column => 'socket_ns', timeout => 60 },
  { id => 'fake-limit', program => '$fake', args => ['-c', 20, 'limit'], main_column => 'x_ns' },
  { id => 'fake-fail', program => '$fake', args => ['fail'], main_column => 'x_ns' },
  { id => 'fake-file', program => '$fake', args => ['-c', 8, 'needfile', '{bigfile}'],
    needs => ['bigfile'], main_column => 'x_ns' },
)
EOS
close $fh;
my @common = ('--quick', '--no-build', '--results', $res, '--scratch', $scratch, '--suite-file', $suitefile);
my $dir = "$res/t1";

sub files_in { opendir my $d, $_[0] or return (); return sort grep { !/^\.\.?$/ } readdir $d }
sub slurp { open my $f, '<', $_[0] or return ''; local $/; return scalar <$f> }
sub pgids_in_log { my $l = slurp("$dir/log"); return $l =~ /started, process group (\d+)/g }

# ---- first run: 4 benchmarks x 2 runs ----
my $r = run([ $harness, @common, '--runs', 2, '--tag', 't1' ], timeout => 120);
is($r->{exit}, 1, 'a failing benchmark makes the status 1, after every run') or diag $r->{err}, $r->{out};
my @progress = $r->{out} =~ /^\[\s*(\d+)\/8\] (\S+) +run (\d)\/2 .*\(elapsed \d+:\d\d, ETA \d+:\d\d\)$/mg;
is(scalar @progress, 8 * 3, 'one progress line per run, with index, elapsed time and ETA') or diag $r->{out};
for my $id (qw(sock fake-limit fake-file)) {
    for my $run (1, 2) {
        my $f = "$dir/$id.$run.dat";
        ok(-f $f, "$id.$run.dat exists");
        is_deeply([ validate(parse_file($f)) ], [], "$id.$run.dat passes the format checker");
    }
}
is(scalar @{ parse_file("$dir/sock.1.dat")->{rows} }, 200, '--quick used the quick arguments (-c 200)');
like(parse_file("$dir/fake-limit.1.dat")->{end}, qr/^stopped: /, 'the run stopped at a limit is kept');
ok(!-e "$dir/fake-fail.$_.dat", "the failed run $_ is not filed as a result") for 1, 2;
ok(-f "$dir/fake-fail.1.failed", 'its output is kept aside as fake-fail.1.failed');
my $log = slurp("$dir/log");
like($log, qr/^fakebench: failed: forced failure$/m, 'its stderr is in the log');
like($log, qr/fake-fail run 2: failed: exit status 1/, 'the log says how it failed');
like($r->{out}, qr/^\[\s*8\/8\] fake-file +run 2\/2 .* ok /m, 'the harness went on after the failure');
my $summary = slurp("$dir/summary.txt");
like($summary, qr/^sock +2 +0 +0 +socket_ns +[\d.]+ ns$/m, 'summary: sock 2 ok, with the median of socket_ns');
like($summary, qr/^fake-limit +0 +2 +0 +x_ns +[\d.]+ ns$/m, 'summary: fake-limit 2 limited');
like($summary, qr/^fake-fail +0 +0 +2 /m, 'summary: fake-fail 2 failed');
like($summary, qr/fake-limit\.1: stopped: socket\(\) at n=10: EMFILE/, 'the limit is named below the table');
like($summary, qr/fake-fail: runs 1,2 failed: exit status 1: failed: forced failure/, 'and the failure');
like($r->{out}, qr/^fake-limit +0 +2 +0 /m, 'the summary is printed too');
my ($med) = $summary =~ /^fake-file +2 +0 +0 +x_ns +([\d.]+) ns$/m;
is($med, '104.0', 'median of the main column over every row of every run (100.5 .. 107.5)');

# the system record
my $txt = slurp("$dir/system.txt");
for my $k (qw(tag os release host machine uname cpu_model cpus cpu_mhz memory_bytes libc libc_version
              compiler compiler_version kernel_cmdline mitigations clocksource rlimit_nofile rlimit_nproc
              pid_max max_map_count somaxconn port_range aslr revision date)) {
    like($txt, qr/^\Q$k\E: +\S/m, "system.txt has $k");
}
my $json = eval { decode_json(slurp("$dir/system.json")) };
ok(ref $json eq 'HASH', 'system.json is a JSON object');
is($json->{tag}, 't1', 'system.json: tag');
is($json->{os}, (uname())[0], 'system.json: os is uname -s');
like($json->{cpus}, qr/^[1-9]\d*$/, 'system.json: cpus is a number');
like($json->{memory_bytes}, qr/^[1-9]\d*$/, 'system.json: memory_bytes is a number');
like($json->{revision}, qr/^(?:[0-9a-f]{40}(?:-dirty)?|unknown.*)$/, 'system.json: revision');
ok(!exists $json->{vm}, 'no vm object when not given one');

# nothing left behind
is_deeply([ files_in($scratch) ], [], 'the scratch data is gone');
is_deeply([ grep { /^\./ } files_in($dir) ], [], 'no temporary files in the results folder');
my @pg = pgids_in_log();
is(scalar @pg, 8, 'the log names the process group of every run');
ok(!(grep { group_alive($_) } @pg), 'no process of any run is left');

# ---- re-run: completed runs are skipped, failed ones tried again ----
my %before = map { ($_ => (stat "$dir/$_")[1] . ':' . slurp("$dir/$_")) } grep { /\.dat$/ } files_in($dir);
$r = run([ $harness, @common, '--runs', 2, '--tag', 't1' ], timeout => 120);
like($r->{out}, qr/^6 run\(s\) already complete: skipped/m, 're-run: the 6 complete runs are skipped');
like($r->{out}, qr/^2 run\(s\) to do/m, 'the 2 failed runs are tried again');
my %after = map { ($_ => (stat "$dir/$_")[1] . ':' . slurp("$dir/$_")) } grep { /\.dat$/ } files_in($dir);
is_deeply(\%after, \%before, 'and no complete run was touched');

# ---- --force measures again; an earlier file made with other arguments is not complete ----
$r = run([ $harness, @common, '--runs', 1, '--tag', 't1', '--only', 'sock', '--force' ], timeout => 120);
is($r->{exit}, 0, '--force --only sock exits 0') or diag $r->{err};
like($r->{out}, qr/^\[1\/1\] sock +run 1\/1 /m, '--force: the complete run is measured again');
isnt((stat "$dir/sock.1.dat")[1] . ':' . slurp("$dir/sock.1.dat"), $before{'sock.1.dat'}, 'and replaced');
$r = run([ $harness, '--no-build', '--results', $res, '--suite-file', $suitefile,
           '--runs', 1, '--tag', 't1', '--only', 'sock', '--scratch', $scratch ], timeout => 120);
like($r->{out}, qr/sock run 1: the earlier file is not a complete run with these arguments: moved to \S+sock\.1\.dat\.replaced-/,
     'a quick run is not taken for a full one: it is moved aside, not overwritten');
is(scalar @{ parse_file("$dir/sock.1.dat")->{rows} }, 5000, 'and the full run is measured');

# ---- --vm: the VM runner's description goes into system.json as "vm" ----
open my $vf, '>', "$tmp/vm.json" or die;
print $vf '{"accelerator":"kvm","qemu_version":"7.2.0","cpu_model":"host","cpus":2,"memory_mb":4096}';
close $vf;
$r = run([ $harness, @common, '--runs', 1, '--tag', 'invm', '--only', 'sock', '--vm', "$tmp/vm.json" ], timeout => 120);
is($r->{exit}, 0, '--vm FILE: runs') or diag $r->{err};
$json = eval { decode_json(slurp("$res/invm/system.json")) };
is_deeply($json->{vm}, { accelerator => 'kvm', qemu_version => '7.2.0', cpu_model => 'host', cpus => 2, memory_mb => 4096 },
          'system.json has the vm object');
like(slurp("$res/invm/system.txt"), qr/^vm_accelerator: +kvm$/m, 'and system.txt its fields');

# ---- tag, selection, usage ----
$r = run([ $harness, @common, '--runs', 1, '--only', 'sock' ], timeout => 120);
my ($tagdir) = grep { $_ ne 't1' && $_ ne 'invm' } files_in($res);
my ($sys, $node, $rel) = (uname())[ 0, 1, 2 ];
$node =~ s/\..*//;
(my $want = lc "$sys-$rel-$node") =~ s/[^a-z0-9._-]+/-/g;
is($tagdir, "$want-quick", 'the default tag is <os>-<release>-<host>, with -quick for --quick');
like($tagdir, qr/^[a-z0-9._-]+$/, 'and safe for file names');
ok(-f "$res/$tagdir/sock.1.dat", 'filed under it');

$r = run([ $harness, @common, '--list', '--skip', 'fake-fail' ]);
is($r->{exit}, 0, '--list exits 0');
like($r->{out}, qr/^sock +socketbench -c 200$/m, '--list shows ids and the command at the chosen sizes');
unlike($r->{out}, qr/^fake-fail/m, '--skip leaves a benchmark out');
$r = run([ $harness, '--list' ]);
like($r->{out}, qr/^socketbench +socketbench -c 10000$/m, 'the built-in suite runs socketbench at the study\'s 10000');
for my $bad ([ '--only', 'nosuch' ], ['--runs=0'], ['--bogus'], [ '--tag', 'Bad/Tag', '--runs', 1 ], ['extra']) {
    $r = run([ $harness, @common, @$bad ]);
    is($r->{exit}, 2, "@$bad: usage status 2");
    like($r->{err}, qr/^harness\/run: /, "@$bad: says why");
}
# one line for argument errors that name a file
for my $bad ([ '--suite-file', '/nonexistent' ], [ '--results', '/etc/passwd' ],
             [ '--results', "$tmp/res-file" ]) {
    open my $rf, '>', "$tmp/res-file" or die;
    close $rf;
    $r = run([ $harness, '--no-build', '--runs', 1, '--only', 'sock', '--suite-file', $suitefile, @$bad ]);
    $r = run([ $harness, '--no-build', '--runs', 1, @$bad ]) if $bad->[0] eq '--suite-file';
    is($r->{exit}, 2, "@$bad: usage status 2");
    like($r->{err}, qr/\Aharness\/run: [^\n]+\n\z/, "@$bad: one line") or diag $r->{err};
}
like(run([ $harness, '--suite-file', '/nonexistent' ])->{err}, qr/cannot read suite file \/nonexistent: No such file or directory/,
     '--suite-file /nonexistent: says so');
like(run([ $harness, '--results', '/etc/passwd', '--suite-file', $suitefile, '--no-build' ])->{err},
     qr/--results \/etc\/passwd is not a directory/, '--results FILE: says so');

# --pin, --label, quick and pin in system.json; a no-op resume rewrites nothing
{
    my $sf = "$tmp/pin.pl";
    open my $pf, '>', $sf or die;
    print $pf "( { id => 'fake-pin', program => '$fake', args => ['-c', 3, 'ok'], main_column => 'x_ns' },\n",
              "  { id => 'fake-na', program => '$fake', args => ['ok'], requires => ['no_such_capability'], main_column => 'x_ns' } )\n";
    close $pf;
    my @a = ('--quick', '--no-build', '--results', $res, '--suite-file', $sf, '--runs', 1, '--tag', 'pin');
    $r = run([ $harness, @a, '--pin', 1, '--label', 'a test: pinned' ], timeout => 60);
    is($r->{exit}, 0, '--pin 1 --label: runs, and an entry not applicable here is no failure') or diag $r->{out}, $r->{err};
    like(parse_file("$res/pin/fake-pin.1.dat")->{header}{args}, qr/ -P 1 -c 3 ok$/, '--pin 1 passes -P 1 to the benchmark');
    my $j = decode_json(slurp("$res/pin/system.json"));
    is($j->{pin}, 1, 'system.json: "pin": 1');
    is($j->{label}, 'a test: pinned', 'system.json: "label"');
    ok(JSON::PP::is_bool($j->{quick}) && $j->{quick}, 'system.json: "quick": true');
    is_deeply($j->{not_applicable}, { 'fake-na' => 'this OS has no no_such_capability' }, 'system.json: what is not applicable, and why');
    like(slurp("$res/pin/system.txt"), qr/^not_applicable: +fake-na: this OS has no no_such_capability$/m, 'system.txt too');
    like(slurp("$res/pin/summary.txt"), qr/^fake-na +- +- +- +x_ns +not applicable$/m, 'the summary says not applicable');
    like($r->{out}, qr/^fake-na: not applicable here: this OS has no no_such_capability$/m, 'and so does the output');
    my $before = slurp("$res/pin/system.json") . slurp("$res/pin/system.txt");
    sleep 1;
    $r = run([ $harness, @a, '--pin', 1 ], timeout => 60);
    like($r->{out}, qr/^1 run\(s\) already complete: skipped/m, 'a resumed run with nothing to do');
    is(slurp("$res/pin/system.json") . slurp("$res/pin/system.txt"), $before, 'leaves the system record (and its date) as it was');
    $r = run([ $harness, @a, '--pin', 1, '--force' ], timeout => 60);
    $j = decode_json(slurp("$res/pin/system.json"));
    is($j->{label}, 'a test: pinned', 'a later run without --label keeps the label');
    $r = run([ $harness, @a, '--force' ], timeout => 60);
    $j = decode_json(slurp("$res/pin/system.json"));
    ok(exists $j->{pin} && !defined $j->{pin}, 'without --pin: "pin": null');
    unlike(parse_file("$res/pin/fake-pin.1.dat")->{header}{args}, qr/-P/, 'and no -P is passed');
    for my $bad ('x', '-1') {
        is(run([ $harness, @a, '--pin', $bad ])->{exit}, 2, "--pin $bad: usage status 2");
    }
}

# --wrap CMD: every program of the suite is started as CMD PROGRAM ARGS
# (CI runs a cross-built tree under qemu-aarch64-static this way)
{
    my $sf = "$tmp/wrap.pl";
    open my $pf, '>', $sf or die;
    print $pf "( { id => 'fake-wrap', program => '$fake', args => ['-c', 3, 'ok'], main_column => 'x_ns' } )\n";
    close $pf;
    my $wrapper = "$tmp/wrapper";
    open my $wf, '>', $wrapper or die;
    print $wf "#!/bin/sh\necho \"\$*\" >> '$tmp/wrapped'\nexec \"\$@\"\n";
    close $wf;
    chmod 0755, $wrapper or die;
    my @a = ('--quick', '--no-build', '--results', $res, '--suite-file', $sf, '--runs', 2, '--tag', 'wrap');
    $r = run([ $harness, @a, '--wrap', "$wrapper" ], timeout => 60);
    is($r->{exit}, 0, '--wrap: the suite runs through the wrapper') or diag $r->{out}, $r->{err};
    is(slurp("$tmp/wrapped"), "$fake -c 3 ok\n" x 2, 'every run was started as WRAPPER PROGRAM ARGS');
    is(decode_json(slurp("$res/wrap/system.json"))->{wrap}, $wrapper, 'system.json records "wrap"');
    is(run([ $harness, @a, '--wrap', ' ' ])->{exit}, 2, '--wrap with no command: usage status 2');
}

# make, or gmake where make is not GNU make and leaves programs unbuilt
{
    my $sf = "$tmp/build.pl";
    open my $bf, '>', $sf or die;
    print $bf "( { id => 'nosuch', program => 'nosuchbench', main_column => 'x_ns' } )\n";
    close $bf;
    my @a = ('--quick', '--results', $res, '--suite-file', $sf, '--runs', 1, '--tag', 'build');
    $r = run([ $harness, @a ], timeout => 120);
    like($r->{out}, qr/^building with make \((?:GNU make [\d.]+|BSD make)\): bench\/nosuchbench$/m, 'the harness says which make it runs');
    like($r->{out}, qr/^make \(status \d+\) left unbuilt: bench\/nosuchbench/m, 'and what it could not build');
    SKIP: {
        skip 'no gmake', 3 unless grep { -x "$_/gmake" } split /:/, $ENV{PATH};
        mkdir "$tmp/fakebin" or die;
        open my $mf, '>', "$tmp/fakebin/make" or die;
        print $mf "#!/bin/sh\n# a BSD make that builds nothing\ncase \"\$1\" in --version) exit 1;; -V) echo 20240101; exit 0;; esac\nexit 0\n";
        close $mf;
        chmod 0755, "$tmp/fakebin/make";
        $r = run([ $harness, @a ], timeout => 120, shell => "PATH='$tmp/fakebin':\$PATH; export PATH");
        like($r->{out}, qr/^building with make \(BSD make\): bench\/nosuchbench$/m, 'a BSD make is named');
        like($r->{out}, qr/^make \(status 0\) left unbuilt: bench\/nosuchbench; trying gmake$/m, 'when it leaves programs unbuilt');
        like($r->{out}, qr/^building with gmake \(GNU make [\d.]+\): bench\/nosuchbench$/m, 'gmake is run, and named');
    }
}

# the checker accepts trailer lines a program adds before "# end:"
{
    my $t = "# scalebench: 1\n# bench: x\n# args: x\n# columns: n a_ns\n# units: count ns\n# clock: c\n# clock_hz: 1\n"
          . "# stamp_overhead_ns: 0\n# os: o\n# release: r\n# machine: m\n# date: d\n# count: 1\n0 1\n"
          . "# rows: 1\n# wall_s: 0.1\n# tick_warning: the clock ticks every 42 ns\n# end: completed\n";
    my $p = Scalebench::Result::parse_text($t);
    is_deeply([ validate($p) ], [], 'a trailer line before # end: is valid');
    is($p->{trailer_extra}{tick_warning}, 'the clock ticks every 42 ns', 'and kept');
    ok(scalar validate(Scalebench::Result::parse_text($t . "# late: x\n")), 'but not after # end:');
}

$r = run([ $harness, '--help' ]);
like($r->{out}, qr/^usage: harness\/run/, '--help prints the usage');

done_testing;
