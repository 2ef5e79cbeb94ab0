#!/usr/bin/env perl
# harness/vm: the pieces (kernel release, tag, initramfs, guest runner,
# result channel), bad arguments, and, when QEMU and a Debian kernel image
# are installed, a real boot that runs the quick socket benchmark inside.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use SBTest;
use Scalebench::Result qw(parse_text);
use Scalebench::VM qw(kernel_release vm_tag write_cpio parse_channel guest_script select_suite);
use Scalebench::Suite qw(check_entry load_suite_file);
use Scalebench::Runner qw(make_plan);
use File::Temp qw(tempdir);
use JSON::PP;
use POSIX ();
use Test::More;

my $VM = ROOT() . '/harness/vm';
my $tmp = tempdir('sb-t70.XXXXXX', TMPDIR => 1, CLEANUP => 1);

# --- kernel_release: the version string the bzImage setup header points to
{
    my $img = "\0" x 0x1000;
    substr($img, 0x202, 4) = 'HdrS';
    substr($img, 0x20e, 2) = pack('v', 0x800 - 0x200);
    substr($img, 0x800, 60) = "6.12.117+deb12-cloud-amd64 (debian-kernel\@lists.debian.org) #1";
    open my $fh, '>:raw', "$tmp/bzImage" or die;
    print $fh $img;
    close $fh;
    is(kernel_release("$tmp/bzImage"), '6.12.117+deb12-cloud-amd64', 'kernel_release reads the setup header');
    substr($img, 0x202, 4) = 'XXXX';
    open $fh, '>:raw', "$tmp/notakernel" or die;
    print $fh $img;
    close $fh;
    is(kernel_release("$tmp/notakernel"), undef, 'not a bzImage: undef');
}
is(vm_tag('6.12.117+deb12-cloud-amd64', 'tcg'), 'linux-6.12.117-deb12-cloud-amd64-qemu-tcg', 'tag: kernel and accelerator, tag alphabet');
is(vm_tag('6.1.0-56-cloud-amd64', 'kvm'), 'linux-6.1.0-56-cloud-amd64-qemu-kvm', 'tag with kvm');

# --- the result channel
{
    my $a = "x 1\ny 2\n";
    my $ch = "\@\@SB BOOTED 3.10\n\@\@SB FILE a.1.dat " . length($a) . "\n$a\n\@\@SB END a.1.dat\n"
        . "\@\@SB FILE empty 0\n\n\@\@SB END empty\n\@\@SB DONE 42\n";
    my $p = parse_channel($ch);
    is($p->{booted}, '3.10', 'channel: BOOTED');
    is($p->{done}, 42, 'channel: DONE');
    is_deeply($p->{files}, [ [ 'a.1.dat', $a ], [ 'empty', '' ] ], 'channel: files, byte exact');
    is_deeply($p->{errors}, [], 'channel: no errors');
    my $cut = parse_channel("\@\@SB FILE b.1.dat 100\nonly a little");
    is_deeply($cut->{files}, [], 'a frame cut short is not kept');
    like($cut->{errors}[0], qr/b\.1\.dat: cut short/, 'and is named');
    my $bad = parse_channel("\@\@SB FILE c 3\nabcdef\n\@\@SB END c\n\@\@SB DONE 1\n");
    like($bad->{errors}[0], qr/c: frame does not end/, 'a wrong size is detected');
    is($bad->{done}, 1, 'and reading goes on after it');
}

# --- the initramfs archive (newc), read back with cpio when installed
{
    write_cpio("$tmp/a.cpio", [ [ 'bin', 040755 ], [ 'bin/sh', 0120777, 'busybox' ],
        [ 'dev/console', 020600, undef, [ 5, 1 ] ], [ 'init', 0100755, "#!/bin/sh\necho hi\n" ] ]);
    open my $fh, '<:raw', "$tmp/a.cpio" or die;
    local $/;
    my $c = <$fh>;
    is(length($c) % 4, 0, 'cpio: 4-byte aligned');
    like($c, qr/^070701/, 'cpio: newc magic');
    like($c, qr/TRAILER!!!\0/, 'cpio: trailer');
    SKIP: {
        my ($cpio) = grep { -x } map { "$_/cpio" } qw(/usr/bin /bin);
        skip 'no cpio', 2 unless $cpio;
        my $list = `cd '$tmp' && $cpio -itv < a.cpio 2>/dev/null`;
        like($list, qr/^crw.*\b5,\s*1\b.*dev\/console$/m, 'cpio lists the console device node');
        like($list, qr/^lrwx.*bin\/sh -> busybox$/m, 'and the symbolic link');
    }
}

# --- the guest runner, generated from the runner's plan
{
    my @suite = map { check_entry($_, 'linux') }
        { id => 'socketbench', program => 'socketbench', args => [ '-c', 10000 ], quick_args => [ '-c', 500 ], needs => [], timeout => 300 },
        { id => 'mmapbench', program => 'mmapbench', args => [ '-s', '200M', '{bigfile}' ], quick_args => [ '-c', 500, '-s', '16M', '{bigfile}' ], needs => ['bigfile'], timeout => 600 },
        { id => 'manymapbench', program => 'manymapbench', args => [ '-c', 10000, '{tree}' ], needs => ['tree'], timeout => 600 },
        { id => 'httpbench-epoll', program => 'httpbench', args => [ '-c', 10000, '{url}' ], quick_args => [ '-c', 300, '{url}' ], needs => ['httpd:epoll'], timeout => 900 };
    my $plan = make_plan(suite => \@suite, quick => 1, runs => 3);
    my $s = guest_script(plan => $plan, timeout_factor => 4);
    like($s, qr/^RUNS=3$/m, 'runner: --runs');
    like($s, qr{run_one socketbench \$run 480 \$BIN/socketbench -c 500$}m, 'runner: quick args, timeout capped at 120 s times the TCG factor');
    like($s, qr{\$BIN/mmapbench -c 500 -s 16M \$SB/bigfile}, 'runner: {bigfile} filled in');
    like($s, qr{head -c 16777216 /dev/zero \| tr .* > \$SB/bigfile}, 'runner: the big file is made at the plan\'s size');
    like($s, qr{\$BIN/manymapbench -c 10000 \$SB/tree}, 'runner: {tree}, full args when there are no quick args');
    like($s, qr{\$BIN/mktestdata -c 500 \$SB/tree}, 'runner: the tree is made at the suite size');
    like($s, qr{if start_server httpd:epoll \$BIN/httpd -e epoll -l 127\.0\.0\.1 -p 0 -t 0 -r \$SB/docroot; then run_one httpbench-epoll \$run 480 \$BIN/httpbench -c 300 "\$SERVER_URL"; stop_server; fi},
        'runner: the server preparation started around its benchmark, with the registry\'s arguments');
    unlike($s, qr/\{[a-z_]+\}/, 'runner: no placeholder left');
    like($s, qr{^\s*: > \$SB/server\.out\b.*\n\s*"\$@" > \$SB/server\.out}m,
        'runner: the server output file is emptied before the server starts in the background (no stale port read)');
    like($s, qr{nc "\$addr" "\$port".*\n.*grep -q '\^HTTP/1\\\.\[01\] 200 '}, 'runner: the server must answer a request before its benchmark');
    like($s, qr{k max_map_count "\$\(rd /proc/sys/vm/max_map_count\)"}, 'runner: the limits by the names of Suite.pm\'s Linux table');
    my $full = guest_script(plan => make_plan(suite => [ $suite[0] ], runs => 1, quick => 0), timeout_factor => 1);
    like($full, qr{run_one socketbench \$run 300 \$BIN/socketbench -c 10000$}m, 'runner: full args and timeout');
    my $pinned = guest_script(plan => make_plan(suite => [ $suite[0] ], runs => 1, quick => 0, pin => 1));
    like($pinned, qr{\$BIN/socketbench -P 1 -c 10000$}m, 'runner: --pin passes -P CPU');
    open my $fh, '>', "$tmp/init" or die;
    print $fh $s;
    close $fh;
    for my $sh (grep { -x } qw(/bin/busybox /bin/sh)) {
        my @cmd = $sh =~ /busybox/ ? ($sh, 'sh', '-n', "$tmp/init") : ($sh, '-n', "$tmp/init");
        my $r = run(\@cmd, timeout => 10);
        is($r->{exit}, 0, "runner: $sh accepts its syntax") or diag $r->{err};
    }
    is_deeply([ map { $_->{id} } select_suite(\@suite, only => ['httpbench,socketbench']) ],
        [ 'socketbench', 'httpbench-epoll' ], 'select: by program or id, in suite order');
    is_deeply([ map { $_->{id} } select_suite(\@suite, skip => ['mmapbench']) ],
        [ 'socketbench', 'manymapbench', 'httpbench-epoll' ], 'select: --skip');
    ok(!eval { select_suite(\@suite, only => ['nosuch']); 1 }, 'select: an unknown id is an error');
}

# --- a benchmark added to the suite only (the tests' fake one, as a sh
# script: the guest has no perl) runs in the guest script with no other
# change: the script generated from the plan is run on this host (its
# SB_TEST_ROOT mode: nothing mounted, no power-off) and its channel read back
{
    my $fake = ROOT() . '/t/data/fakebench-sh';
    # busybox's sh and tools where there is a busybox (the guest's own: its
    # nc checks the server), else /bin/sh without the server entry
    my ($bb) = grep { defined && -x } $ENV{SB_BUSYBOX}, '/bin/busybox', '/usr/bin/busybox';
    open my $sf, '>', "$tmp/fake-suite.pl" or die;
    print $sf "( { id => 'fake', program => '$fake', args => ['-c', 7, 'ok'], main_column => 'x_ns' },\n",
              "  { id => 'fake-file', program => '$fake', args => ['-c', 5, 'needfile', '{bigfile}'], needs => ['bigfile'], main_column => 'x_ns' },\n",
              "  { id => 'fake-limit', program => '$fake', args => ['-c', 8, 'limit'], main_column => 'x_ns' },\n",
              "  { id => 'fake-tree', program => '$fake', args => ['-c', 3, 'needfile', '{tree}'], needs => ['tree'], main_column => 'x_ns' },\n",
              ($bb ? "  { id => 'fake-url', program => '$fake', args => ['-c', 3, 'ok', '{url}'], needs => ['httpd:poll'], main_column => 'x_ns' },\n" : ''),
              ")\n";
    close $sf;
    my @suite = load_suite_file("$tmp/fake-suite.pl", 'linux');
    my $plan = make_plan(suite => \@suite, quick => 1, runs => 2);
    is_deeply($plan->{programs}{bench}, [$fake], 'the plan names the fake program');
    my $root = "$tmp/guest";
    mkdir $root or die;
    mkdir "$root/sb" or die;
    mkdir "$root/sb/bin" or die;
    # what harness/vm puts in the initramfs: every program of the plan in /sb/bin
    for my $p (@{ $plan->{programs}{bench} }) {
        (my $n = $p) =~ s{.*/}{};
        symlink($p, "$root/sb/bin/$n") or die;
    }
    is_deeply($plan->{programs}{tool}, [ $bb ? qw(httpd mktestdata) : qw(mktestdata) ], 'and the programs its preparations run');
    symlink(bin($_), "$root/sb/bin/$_") or die for @{ $plan->{programs}{tool} };
    open my $gf, '>', "$tmp/guest.sh" or die;
    print $gf guest_script(plan => $plan, timeout_factor => 1);
    close $gf;
    my @sh = ('/bin/sh');
    my $path = '';
    if ($bb) {
        mkdir "$tmp/bbin" or die;
        system($bb, '--install', '-s', "$tmp/bbin") == 0 or die "busybox --install failed";
        @sh = ("$tmp/bbin/sh");
        $path = "PATH='$tmp/bbin'; export PATH; ";
    }
    my $r = run([ @sh, "$tmp/guest.sh" ], timeout => 90, grace => 3,
        shell => "${path}SB_TEST_ROOT='$root' SB_TEST_CHANNEL='$tmp/channel'; export SB_TEST_ROOT SB_TEST_CHANNEL");
    note('the guest script ran under ' . ($bb ? "busybox ($bb)" : '/bin/sh'));
    is($r->{exit}, 0, 'the generated guest script runs to its end') or diag $r->{err};
    my $ch = parse_channel(slurp("$tmp/channel"));
    is_deeply($ch->{errors}, [], 'its channel has no errors');
    ok(defined $ch->{done}, 'it says DONE');
    my %f = map { @$_ } @{ $ch->{files} };
    for my $id (qw(fake fake-file fake-limit fake-tree), $bb ? 'fake-url' : ()) {
        for my $run (1, 2) {
            is_deeply([ check_output($f{"$id.$run.dat"} // '') ], [], "$id.$run.dat comes back valid");
        }
    }
    like($f{'fake.1.dat'} // '', qr/^# count: 7$/m, 'with the arguments of the plan');
    like($f{'fake-file.1.dat'} // '', qr/^# end: completed$/m, 'the preparation (the big file) was made for it');
    like($f{'fake-limit.2.dat'} // '', qr/^# end: stopped: /m, 'a stop at a limit is kept');
    like($f{system} // '', qr/^os: /m, 'the system record is sent');
    like($f{'fake-tree.1.dat'} // '', qr/^# end: completed$/m, 'the tree was made for it');
    SKIP: {
    skip 'no busybox: no nc to check a server with', 2 unless $bb;
    like($f{'fake-url.2.dat'} // '', qr{^# args: \S+ -c 3 ok http://127\.0\.0\.1:\d+/index\.html$}m,
        'the server was started, answered, and its URL filled in');
    unlike($f{log} // '', qr/did not start/, 'no server failed to start') or diag $f{log};
    }
    is_deeply($r->{left}, [], 'no server (nothing of its process group) is left running')
        or diag map { slurp("/proc/$_/cmdline") =~ s/\0/ /gr } @{ $r->{left} };
}

# --- bad arguments
for my $bad ([], [ '--kernel', "$tmp/nosuch" ], [ '--kernel', "$tmp/notakernel" ],
             [ '--kernel', "$tmp/bzImage", '--accel', 'xen' ], [ '--kernel', "$tmp/bzImage", '--runs', 0 ],
             [ '--kernel', "$tmp/bzImage", '--tag', 'Bad Tag' ], [ '--kernel', "$tmp/bzImage", 'extra' ]) {
    my $r = run([ $VM, @$bad ], timeout => 30);
    my $what = join(' ', @$bad) || '(none)';
    is($r->{exit}, $EXIT_USAGE, "harness/vm $what: usage status");
    like($r->{err}, qr/\Aharness\/vm: [^\n]+\n\z/, "harness/vm $what: one line");
}
my $h = run([ $VM, '-h' ], timeout => 30);
is($h->{exit}, 0, '-h exits 0');
like($h->{out}, qr/^usage: harness\/vm --kernel IMAGE/, '-h prints the usage');

# --- a real boot
my ($qemu) = grep { -x "$_/qemu-system-x86_64" } split /:/, $ENV{PATH};
# SB_TEST_KERNEL names another image (e.g. one unpacked from a .deb, not installed)
my ($kernel) = grep { defined && kernel_release($_) } $ENV{SB_TEST_KERNEL};
($kernel) = sort { $b cmp $a } grep { kernel_release($_) } glob('/boot/vmlinuz-*-cloud-amd64') unless $kernel;
($kernel) = sort { $b cmp $a } grep { kernel_release($_) } glob('/boot/vmlinuz-*') unless $kernel;
# harness/vm takes SCALEBENCH_BUSYBOX before the usual places
my ($busybox) = grep { defined && -x } $ENV{SCALEBENCH_BUSYBOX}, qw(/bin/busybox /usr/bin/busybox);
SKIP: {
    skip 'qemu-system-x86_64 is not installed', 1 unless $qemu;
    skip 'no kernel image in /boot', 1 unless $kernel;
    skip 'no busybox', 1 unless $busybox;
    skip 'not x86_64', 1 unless (POSIX::uname())[4] eq 'x86_64';
    my $release = kernel_release($kernel);
    # A test suite of the quick socket benchmark, so that this test does not
    # depend on the sizes Suite.pm gives the others, and the tests' fake
    # benchmark (a sh script) with a preparation: added to the suite only,
    # it runs in the VM with no other change.
    my $fakesh = ROOT() . '/t/data/fakebench-sh';
    open my $sf, '>', "$tmp/suite.pl" or die;
    print $sf "({ id => 'socketbench', program => 'socketbench', args => ['-c', 10000], quick_args => ['-c', 500], needs => [], timeout => 60 },\n",
              " { id => 'fake-file', program => '$fakesh', args => ['-c', 5, 'needfile', '{bigfile}'], needs => ['bigfile'], timeout => 60 });\n";
    close $sf;
    my $vmtmp = "$tmp/vmtmp";
    mkdir $vmtmp or die;
    my $res = "$tmp/results";
    my $r = run([ $VM, '--kernel', $kernel, '--quick', '--runs', 1, '--suite-file', "$tmp/suite.pl",
        '--results', $res, '--boot-timeout', 90, '--timeout', 240 ], timeout => 300,
        shell => "TMPDIR='$vmtmp'; export TMPDIR");
    is($r->{exit}, 0, "boot $release: harness/vm exits 0") or diag "$r->{out}$r->{err}", map { slurp($_) } glob("$res/*/log");
    my ($accel) = $r->{out} =~ /with (kvm|tcg), /;
    ok($accel, 'it says which accelerator it used') or diag $r->{out};
    $accel //= 'none';
    my $pr = run([ $VM, '--kernel', $kernel, '--probe' ], timeout => 90);
    is($pr->{exit}, 0, '--probe exits 0');
    like($pr->{out}, qr/(?:kvm|tcg)\n\z/, '--probe prints the accelerator last');
    my $dir = "$res/" . vm_tag($release, $accel) . '-quick';
    ok(-d $dir, "results land in results/<tag>/: $dir");
    my $dat = slurp("$dir/socketbench.1.dat");
    is_deeply([ check_output($dat, rows => 500, columns => 'n socket_ns bind_ns', end => 'completed',
        bench => 'socketbench') ], [], 'the guest\'s result passes the format checker');
    is_deeply([ check_output(slurp("$dir/fake-file.1.dat"), rows => 5, end => 'completed') ], [],
        'the fake benchmark added to the suite ran in the guest, its big file prepared there');
    my $p = parse_text($dat);
    is($p->{header}{release}, $release, "it was measured under the guest kernel ($release)");
    if ($accel eq 'tcg') {
        like($p->{header}{clock}, qr/^rdtsc/, 'TCG: timed with the TSC (tsc=reliable), not the emulated HPET');
    }
    my $sys = eval { decode_json(slurp("$dir/system.json")) };
    is(ref $sys, 'HASH', 'system.json is a JSON object');
    $sys = {} unless ref $sys eq 'HASH';
    is($sys->{release}, $release, 'system.json: the guest\'s release');
    is($sys->{tag}, vm_tag($release, $accel) . '-quick', 'system.json: the tag');
    is(ref $sys->{vm}, 'HASH', 'system.json: a vm object');
    my $v = $sys->{vm} // {};
    is($v->{accelerator}, $accel, 'vm: accelerator');
    is_deeply([ @$v{qw(cpus memory_mb)} ], [ 2, 2048 ], 'vm: the CPUs and memory it was given');
    is($sys->{cpus}, 2, 'the guest saw 2 CPUs');
    like($v->{qemu_version}, qr/^\d+\.\d+/, 'vm: QEMU version');
    like(slurp("$dir/log"), qr/the guest's log.*\nsocketbench run 1: \/sb\/bin\/socketbench -c 500\nsocketbench run 1: exit status 0\n/s,
        'the log has the guest\'s log of the run');
    opendir my $dh, $vmtmp or die;
    is_deeply([ grep { !/^\.\.?$/ } readdir $dh ], [], 'no temporary file left behind');
    is_deeply([ procs_mentioning($vmtmp) ], [], 'no QEMU left running');

    # A guest that never comes up: the boot deadline kills QEMU, the log keeps its console.
    my $h2 = run([ $VM, '--kernel', $kernel, '--quick', '--runs', 1, '--suite-file', "$tmp/suite.pl",
        '--results', $res, '--tag', 'hang', '--accel', 'tcg', '--boot-timeout', 1 ], timeout => 120,
        shell => "TMPDIR='$vmtmp'; export TMPDIR");
    is($h2->{exit}, 1, 'a guest that does not come up in time: exit status 1');
    my $log = slurp("$res/hang/log");
    like($log, qr/FAILED: the guest did not come up within 1 s/, 'the log says why');
    like($log, qr/the last lines of the guest's console/, 'and keeps the console\'s last lines');
    opendir $dh, $vmtmp or die;
    is_deeply([ grep { !/^\.\.?$/ } readdir $dh ], [], 'no temporary file left behind');
    is_deeply([ procs_mentioning($vmtmp) ], [], 'no QEMU left running');

    # A guest kernel that panics (no init to run: it cannot mount a root).
    my $h3 = run([ $VM, '--kernel', $kernel, '--quick', '--runs', 1, '--suite-file', "$tmp/suite.pl",
        '--results', $res, '--tag', 'panic', '--accel', 'tcg', '--append', 'rdinit=/nosuch', '--boot-timeout', 60 ],
        timeout => 120, shell => "TMPDIR='$vmtmp'; export TMPDIR");
    is($h3->{exit}, 1, 'a guest that panics: exit status 1');
    $log = slurp("$res/panic/log");
    like($log, qr/FAILED: the guest stopped .*\(Kernel panic/, 'the log says the kernel panicked') or diag $log;
    like($log, qr/the last lines of the guest's console\n(?s:.*)Kernel panic/, 'and keeps the console\'s last lines');
    is_deeply([ procs_mentioning($vmtmp) ], [], 'no QEMU left running');

    # Interrupted while the guest runs (SIGTERM), and killed outright (SIGKILL).
    for my $sig (qw(TERM KILL)) {
        my $out = "$tmp/out.$sig";
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            $ENV{TMPDIR} = $vmtmp;
            open STDOUT, '>', $out or die;
            open STDERR, '>&', \*STDOUT or die;
            exec $VM, '--kernel', $kernel, '--quick', '--runs', 50, '--suite-file', "$tmp/suite.pl",
                '--results', $res, '--tag', "sig" . lc $sig, '--accel', 'tcg';
            die "exec: $!";
        }
        my $deadline = time + 90;
        sleep 1 until time > $deadline || slurp($out) =~ /guest up|booting/;
        sleep 2;
        my @qemu = procs_mentioning($vmtmp);
        ok(@qemu >= 1, "SIG$sig: QEMU was running (pid @qemu)");
        kill $sig, $pid;
        my $t = time + 30;
        my $w;
        select(undef, undef, undef, 0.1) until ($w = waitpid($pid, POSIX::WNOHANG())) || time > $t;
        if (!$w) { kill 'KILL', $pid; waitpid($pid, 0) }
        is($? & 127, $sig eq 'TERM' ? 15 : 9, "SIG$sig: harness/vm died by the signal");
        $t = time + 10;
        select(undef, undef, undef, 0.1) while procs_mentioning($vmtmp) && time < $t;
        is_deeply([ procs_mentioning($vmtmp) ], [], "SIG$sig: QEMU went with it");
        if ($sig eq 'TERM') {
            opendir $dh, $vmtmp or die;
            is_deeply([ grep { !/^\.\.?$/ } readdir $dh ], [], 'SIGTERM: no temporary file left behind');
        }
    }
}

sub slurp {
    open my $fh, '<', $_[0] or return '';
    local $/;
    return scalar(<$fh>) // '';
}

# Processes whose command line mentions PATH (QEMU's does: its files are there).
sub procs_mentioning {
    my ($path) = @_;
    my @p;
    opendir my $d, '/proc' or return ();
    for my $pid (grep { /^\d+$/ } readdir $d) {
        open my $fh, '<', "/proc/$pid/cmdline" or next;
        local $/;
        my $c = <$fh> // next;
        push @p, $pid if index($c, $path) >= 0;
    }
    return @p;
}

done_testing;
