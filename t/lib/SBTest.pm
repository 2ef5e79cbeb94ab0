package SBTest;
# Helpers shared by the tests in t/: run a program with a time limit and
# capture what it printed, validate its output, drop root privileges.
use strict;
use warnings;
use Exporter 'import';
use File::Spec;
use File::Temp qw(tempfile);
use POSIX qw(WNOHANG);
use FindBin;
use lib "$FindBin::Bin/../harness/lib";
use Scalebench::Result qw(parse_text validate);

our @EXPORT = qw(ROOT bin run check_output unprivileged children_of group_alive start_server stop_server server_said read_until
                 $EXIT_OK $EXIT_FAIL $EXIT_USAGE $EXIT_LIMIT);

our ($EXIT_OK, $EXIT_FAIL, $EXIT_USAGE, $EXIT_LIMIT) = (0, 1, 2, 3);

sub ROOT { return File::Spec->rel2abs("$FindBin::Bin/..") }

# bin('socketbench') -> absolute path of bench/socketbench
sub bin { my $d = $_[0] =~ /^(?:httpd|mktestdata)$/ ? "tools" : "bench"; return ROOT() . "/$d/$_[0]" }

# run([cmd, args...], timeout => s, shell => 'prefix', stdin => text,
#     during => sub { my ($pid) = @_; ... return 1 when done }, grace => s)
# -> { out, err, exit (undef if killed), signal, timed_out, pid, left }
# shell: a shell snippet run before exec, e.g. 'ulimit -n 64'.
# during: called about every 20 ms while the program runs, until it returns
#   true (e.g. to signal the program once it is mid-run).
# left: the processes of the program's process group (the program runs in a
#   group of its own) still alive after it ended, waiting up to grace seconds
#   (default 0) for them to go; whatever is left is then killed.
# spawn($cmd, $out_fh, $err_fh, $shell): fork and exec cmd in a process
# group of its own (so that all it starts can be found and killed), stdin
# /dev/null, stdout and stderr to the handles; shell: a snippet run first.
sub spawn {
    my ($cmd, $out, $err, $shell) = @_;
    my $pid = fork // die "fork: $!";
    return $pid if $pid;
    open STDOUT, '>&', $out or die;
    open STDERR, '>&', $err or die;
    open STDIN, '<', '/dev/null' or die;
    setpgrp(0, 0);
    exec '/bin/sh', '-c', "$shell; exec \"\$@\"", 'sh', @$cmd if defined $shell;
    exec @$cmd;
    die "exec $cmd->[0]: $!";
}

sub run {
    my ($cmd, %o) = @_;
    my $timeout = $o{timeout} // 120;
    my ($ofh, $ofile) = tempfile(UNLINK => 1);
    my ($efh, $efile) = tempfile(UNLINK => 1);
    my $pid = spawn($cmd, $ofh, $efh, $o{shell});
    my $deadline = time + $timeout;
    my ($st, $timed_out) = (undef, 0);
    my $during = $o{during};
    while (1) {
        my $w = waitpid($pid, WNOHANG);
        if ($w == $pid) { $st = $?; last }
        $during = undef if $during && $during->($pid);
        if (time > $deadline) {
            $timed_out = 1;
            kill 'KILL', -$pid;
            waitpid($pid, 0);
            $st = $?;
            last;
        }
        select(undef, undef, undef, 0.02);
    }
    my @left = group_alive($pid);
    my $until = time + ($o{grace} // 0);
    while (@left && time < $until) {
        select(undef, undef, undef, 0.02);
        @left = group_alive($pid);
    }
    kill 'KILL', -$pid;    # anything the program left in its group
    local $/;
    open my $o, '<', $ofile or die;
    open my $e, '<', $efile or die;
    my %r = (out => scalar <$o>, err => scalar <$e>, timed_out => $timed_out, pid => $pid, left => \@left);
    $r{out} //= '';
    $r{err} //= '';
    if ($st & 127) { $r{signal} = $st & 127 } else { $r{exit} = $st >> 8 }
    return \%r;
}

# start_server([cmd, args...], ready => qr/^listening /, timeout => s, shell => 'prefix')
# Starts a long-running program (a server) in its own process group and waits
# for the first line of its stdout to match ready. -> { pid, line, err_file }
# or dies (after killing the group) when it exits or times out first.
sub start_server {
    my ($cmd, %o) = @_;
    my $ready = $o{ready} // qr/./;
    my ($efh, $efile) = tempfile(UNLINK => 1);
    pipe(my $rd, my $wr) or die "pipe: $!";
    my $pid = spawn($cmd, $wr, $efh, $o{shell});
    close $wr;
    my $line = read_until($rd, sub { $_[0] =~ /\n/ }, $o{timeout} // 20);
    if ($line !~ $ready) {
        kill 'KILL', -$pid;
        waitpid($pid, 0);
        local $/;
        open my $e, '<', $efile or die;
        my $err = <$e> // '';
        die "$cmd->[0] did not get ready: '$line' $err";
    }
    chomp $line;
    return { pid => $pid, line => $line, err_file => $efile, out => $rd };
}

# server_said($server, qr/pattern/, $timeout) -> what the server has written
# to stderr so far, once it matches pattern or after $timeout seconds
# (default 20); without a pattern, at once.
sub server_said {
    my ($s, $re, $timeout) = @_;
    my $deadline = time + ($timeout // 20);
    while (1) {
        open my $e, '<', $s->{err_file} or die "$s->{err_file}: $!";
        my $said = do { local $/; <$e> } // '';
        return $said if !defined $re || $said =~ $re || time > $deadline;
        select(undef, undef, undef, 0.05);
    }
}

# read_until($fh, $cond, $timeout) -> the bytes read from $fh until
# $cond->(bytes so far) holds, end of file, or $timeout seconds (default 10)
sub read_until {
    my ($fh, $cond, $timeout) = @_;
    my $buf = '';
    my $deadline = time + ($timeout // 10);
    while (time <= $deadline) {
        my $bits = '';
        vec($bits, fileno($fh), 1) = 1;
        next unless select($bits, undef, undef, 0.1);
        my $n = sysread($fh, my $chunk, 65536);
        last unless $n;
        $buf .= $chunk;
        last if $cond && $cond->($buf);
    }
    return $buf;
}

# stop_server($server, signal => 'TERM', timeout => s)
# -> { exit (undef if killed), signal, err, timed_out, left }
# Sends the signal to the server process, waits for it, then reports whether
# what of its process group outlived it (and kills that).
sub stop_server {
    my ($s, %o) = @_;
    kill $o{signal} // 'TERM', $s->{pid};
    my $deadline = time + ($o{timeout} // 20);
    my ($st, $timed_out);
    while (1) {
        my $w = waitpid($s->{pid}, WNOHANG);
        if ($w == $s->{pid}) { $st = $?; last }
        if (time > $deadline) {
            $timed_out = 1;
            kill 'KILL', -$s->{pid};
            waitpid($s->{pid}, 0);
            $st = $?;
            last;
        }
        select(undef, undef, undef, 0.02);
    }
    my %r = (timed_out => $timed_out);
    # a worker may take a moment to go after its parent
    for (1 .. 50) { last unless group_alive($s->{pid}); select(undef, undef, undef, 0.02) }
    $r{left} = [ group_alive($s->{pid}) ];
    kill 'KILL', -$s->{pid};
    $r{err} = server_said($s);
    if ($st & 127) { $r{signal} = $st & 127 } else { $r{exit} = $st >> 8 }
    return \%r;
}

# check_output($text, rows => N, columns => '...', end => 'completed', ...)
# -> list of problems, empty when the output is a valid result file
sub check_output {
    my ($text, %want) = @_;
    return validate(parse_text($text), %want);
}

# The command prefix that runs a program as an unprivileged user when the
# tests run as root (root may raise its hard limits and is not held to
# RLIMIT_NPROC); empty when not root. undef when root but no way to drop.
sub unprivileged {
    return [] if $> != 0;
    for my $dir (qw(/usr/bin /bin /usr/sbin /sbin)) {
        return [ "$dir/setpriv", '--reuid=65534', '--regid=65534', '--clear-groups', '--' ]
            if -x "$dir/setpriv";
    }
    return undef;
}

# children_of($pid) -> pids whose parent is $pid (Linux /proc, else ps)
sub children_of {
    my ($ppid) = @_;
    my @kids;
    if (-r "/proc/$ppid/task/$ppid/children") {    # Linux: no scan of /proc
        for my $t (glob "/proc/$ppid/task/*/children") {
            open my $fh, '<', $t or next;
            push @kids, split ' ', (<$fh> // '');
        }
        return @kids;
    }
    if (-d '/proc/self') {
        opendir my $d, '/proc' or return ();
        for my $p (grep { /^\d+$/ } readdir $d) {
            open my $fh, '<', "/proc/$p/stat" or next;
            my $stat = <$fh> // next;
            push @kids, $p if $stat =~ /\)\s+\S\s+(\d+)/ && $1 == $ppid;
        }
        return @kids;
    }
    for (`ps -A -o pid= -o ppid=`) {
        push @kids, $1 if /^\s*(\d+)\s+(\d+)/ && $2 == $ppid;
    }
    return @kids;
}

# group_alive($pgid) -> pids of the live processes in process group $pgid
# (zombies are dead: they only wait to be reaped, so they are not counted)
sub group_alive {
    my ($pgid) = @_;
    my @pids;
    if (-d '/proc/self') {
        opendir my $d, '/proc' or return ();
        for my $p (grep { /^\d+$/ } readdir $d) {
            open my $fh, '<', "/proc/$p/stat" or next;
            my $stat = <$fh> // next;
            push @pids, $p if $stat =~ /\)\s+([^Z\s])\s+\d+\s+(\d+)/ && $2 == $pgid;
        }
        return @pids;
    }
    for (`ps -A -o pid= -o pgid= -o stat=`) {
        push @pids, $1 if /^\s*(\d+)\s+(\d+)\s+([A-Z])/ && $2 == $pgid && $3 ne 'Z';
    }
    return @pids;
}

1;
