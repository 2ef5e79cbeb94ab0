package SBFaults;
# The fault suite's helpers (t/80-faults-limits.t, t/81-faults-signals.t):
# run a program under a hostile limit or signal, in a working directory and
# TMPDIR of its own, then check how it ended: exit status or signal, the
# `# end:` line, the result file as the checker sees it, the processes of its
# group still alive, the files it left.
#
#   my $c = fault_run([bin('socketbench'), '-c', 100], shell => 'ulimit -n 32');
#   expect_end("socketbench -n 32", $c, exit => 3,
#       end => qr/^stopped: socket\(\) at n=\d+: EMFILE \(RLIMIT_NOFILE=32\)/);
use strict;
use warnings;
use Exporter 'import';
use File::Find;
use File::Temp qw(tempdir);
use POSIX qw(WNOHANG);
use Time::HiRes qw(time);
use Test::More;
use SBTest;
use Scalebench::Result qw(parse_text);

our @EXPORT = qw(sanitized fault_run expect_end files_under throwaway_user proc_count on_linux
                 fds_of threads_of);

sub on_linux { return -d '/proc/self/fd' }

# Is this build instrumented by the sanitizers (make SANITIZE=1)? ASan
# reserves terabytes of address space for its shadow memory, so such a
# program cannot even start under `ulimit -v`.
sub sanitized {
    open my $f, '<', ROOT() . '/.build-id' or return 0;
    local $/;
    my $id = <$f> // '';
    return $id =~ /-fsanitize=/ ? 1 : 0;
}

# Every file and directory under $dir, relative to it, sorted.
sub files_under {
    my ($dir) = @_;
    my @f;
    find({ wanted => sub { push @f, $File::Find::name =~ s{^\Q$dir\E/?}{}r if $File::Find::name ne $dir },
           no_chdir => 1 }, $dir);
    return sort @f;
}

# Linux: how many descriptors / threads process $pid has (0 when gone).
sub fds_of { opendir my $d, "/proc/$_[0]/fd" or return 0; return scalar grep { /^\d+$/ } readdir $d }
sub threads_of { opendir my $d, "/proc/$_[0]/task" or return 0; return scalar grep { /^\d+$/ } readdir $d }
sub proc_count { return scalar children_of($_[0]) }

# fault_run([cmd...], shell => 'ulimit -n 32', nproc => N, user => $u, setup => sub { my ($dir) = @_; ... },
#           signal => 'INT', to => 'group'|'process', when => sub { my ($pid, $t) = @_; ... },
#           timeout => s, grace => s)
# Runs cmd in a fresh working directory ($dir/work, also its TMPDIR) through
# SBTest::run. setup makes fixtures in $dir/work first (cmd may name them
# relative to it). nproc: RLIMIT_NPROC (prlimit where there is one: dash's
# ulimit has no -u). user (from throwaway_user) runs it as that user. signal:
# sent once `when` returns true (default: 0.5 s after start) to the program
# (to => 'process', default) or to its whole process group (to => 'group',
# as Ctrl-C does). The result is SBTest::run's, plus: dir, parsed (the
# result file parsed), new_files (what is in $dir/work now that was not
# before, less what `keep` matches), signalled (1 when the signal was sent
# while the program still ran).
sub fault_run {
    my ($cmd, %o) = @_;
    my $dir = tempdir(CLEANUP => 1);
    my $work = "$dir/work";
    mkdir $work or die "$work: $!";
    $o{setup}->($work) if $o{setup};
    my @pre;
    # LeakSanitizer checks at exit from a thread of its own: under a low
    # RLIMIT_NPROC it cannot make one and fails the program (exit 1)
    $o{shell} = join ' && ', grep { defined } $o{shell}, 'ASAN_OPTIONS=detect_leaks=0 && export ASAN_OPTIONS'
        if defined $o{nproc} && sanitized();
    if (defined $o{nproc}) {    # RLIMIT_NPROC: dash's ulimit has no -u
        my ($prlimit) = grep { -x } map { "$_/prlimit" } qw(/usr/bin /bin);
        if ($prlimit) {
            push @pre, $prlimit, "--nproc=$o{nproc}", '--';
        } else {
            $o{shell} = join ' && ', grep { defined } $o{shell}, "ulimit -u $o{nproc}";
        }
    }
    if ($o{user}) {
        system('chown', '-R', "$o{user}{uid}:$o{user}{gid}", $dir) == 0 or die "chown $dir";
        push @pre, @{ $o{user}{prefix} };
    }
    my %before = map { $_ => 1 } files_under($work);
    my $shell = "cd '$work' && TMPDIR='$work' && export TMPDIR";
    $shell .= " && $o{shell}" if defined $o{shell};
    my $start = time;
    my $sent = 0;
    my $when = $o{when} // sub { time - $start >= 0.5 };
    my $during = !$o{signal} ? undef : sub {
        my ($pid) = @_;
        return 0 unless $when->($pid, time - $start);
        # still running (not yet reaped: a zombie is not sent anything)
        my $st = -r "/proc/$pid/stat" ? do { open my $f, '<', "/proc/$pid/stat"; <$f> // '' } : '';
        return 1 if $st =~ /^\d+ \(.*\) Z /;
        $sent = kill($o{signal}, ($o{to} // 'process') eq 'group' ? -$pid : $pid) ? 1 : 0;
        return 1;
    };
    my $r = run([ @pre, @$cmd ], timeout => $o{timeout} // 60, shell => $shell, during => $during,
        grace => $o{grace} // 3);
    printf STDERR "# %.1f s (at %.1f): %s\n", time - $start, time - $^T, join(" ", @$cmd) if $ENV{SB_FAULT_TIMES};
    $r->{dir} = $work;
    $r->{signalled} = $sent;
    $r->{parsed} = parse_text($r->{out});
    my $keep = $o{keep};
    $r->{new_files} = [ grep { !$before{$_} && !($keep && $_ =~ $keep) } files_under($work) ];
    return $r;
}

# expect_end($name, $r, exit => N | signal => 'INT', end => qr/.../, output => 0|1,
#            rows => N, files => 0|1)
# The checks every fault case makes: how it ended (exit status, or death by
# the signal), the `# end:` line, a valid result file (output => 0 for a
# program that prints none), no process of its group left, no file left.
sub expect_end {
    my ($name, $r, %w) = @_;
    my $how = defined $r->{signal} ? "signal $r->{signal}" : "exit " . ($r->{exit} // '?');
    ok(!$r->{timed_out}, "$name: ends by itself (no hang)") or return;
    if (defined $w{signal}) {
        my $num = { INT => 2, TERM => 15, KILL => 9, HUP => 1 }->{ $w{signal} };
        is($how, "signal $num", "$name: dies by SIG$w{signal}") or diag "stderr: $r->{err}";
    } else {
        is($how, "exit $w{exit}", "$name: exit status $w{exit}") or diag "stderr: $r->{err}";
    }
    if ($w{output} // 1) {
        my @p = check_output($r->{out}, %{ $w{valid} // {} });
        is_deeply(\@p, [], "$name: the output is a valid result file (header, rows, # end:)")
            or diag "stdout (first 600 bytes): " . substr($r->{out}, 0, 600) . "\nstderr: $r->{err}";
        like($r->{parsed}{end} // '', $w{end}, "$name: # end: names the call and the limit")
            or diag "stderr: $r->{err}" if $w{end};
        is(scalar @{ $r->{parsed}{rows} }, $w{rows}, "$name: $w{rows} rows") if defined $w{rows};
    }
    is_deeply($r->{left}, [], "$name: no process of its group left");
    is_deeply($r->{new_files}, [], "$name: no file left behind") if $w{files} // 1;
}

# A user of its own for the RLIMIT_NPROC cases: root is not held to
# RLIMIT_NPROC, and an existing unprivileged user (nobody) may have processes
# of its own that count against it. Created with useradd, removed with
# userdel when the test ends. -> { name, uid, gid, prefix => [setpriv ...] },
# or a string saying why there is none.
my @made_users;
sub throwaway_user {
    return 'not root: no user can be created (and this user\'s own processes count against RLIMIT_NPROC)'
        if $> != 0;
    my ($setpriv) = grep { -x } map { "$_/setpriv" } qw(/usr/bin /bin /usr/sbin /sbin);
    return 'no setpriv (util-linux) to switch to another user' unless $setpriv;
    my ($useradd) = grep { -x } map { "$_/useradd" } qw(/usr/sbin /sbin /usr/bin);
    my ($userdel) = grep { -x } map { "$_/userdel" } qw(/usr/sbin /sbin /usr/bin);
    return 'no useradd/userdel to make a throwaway user' unless $useradd && $userdel;
    my $name = "sbfault$$";
    my $out = `$useradd --system --no-create-home --home-dir /nonexistent --shell /bin/false $name 2>&1`;
    return "useradd $name failed: $out" if $?;
    push @made_users, [ $userdel, $name ];
    my (undef, undef, $uid, $gid) = getpwnam($name);
    return "useradd made no $name" unless defined $uid;
    return { name => $name, uid => $uid, gid => $gid,
             prefix => [ $setpriv, "--reuid=$uid", "--regid=$gid", '--clear-groups', '--' ] };
}

END {
    local $?;    # the test's exit status
    for my $u (@made_users) {
        my ($userdel, $name) = @$u;
        system("$userdel $name >/dev/null 2>&1");
    }
}

1;
