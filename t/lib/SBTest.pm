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

our @EXPORT = qw(ROOT bin run check_output unprivileged children_of group_alive $EXIT_OK $EXIT_FAIL $EXIT_USAGE $EXIT_LIMIT);

our ($EXIT_OK, $EXIT_FAIL, $EXIT_USAGE, $EXIT_LIMIT) = (0, 1, 2, 3);

sub ROOT { return File::Spec->rel2abs("$FindBin::Bin/..") }

# bin('socketbench') -> absolute path of bench/socketbench
sub bin { return ROOT() . "/bench/$_[0]" }

# run([cmd, args...], timeout => s, shell => 'prefix', stdin => text)
# -> { out, err, exit (undef if killed), signal, timed_out, pid }
# shell: a shell snippet run before exec, e.g. 'ulimit -n 64'.
sub run {
    my ($cmd, %o) = @_;
    my $timeout = $o{timeout} // 120;
    my ($ofh, $ofile) = tempfile(UNLINK => 1);
    my ($efh, $efile) = tempfile(UNLINK => 1);
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>&', $ofh or die;
        open STDERR, '>&', $efh or die;
        open STDIN, '<', '/dev/null' or die;
        setpgrp(0, 0);
        if (defined $o{shell}) {
            exec '/bin/sh', '-c', "$o{shell}; exec \"\$@\"", 'sh', @$cmd;
        }
        exec @$cmd;
        die "exec $cmd->[0]: $!";
    }
    my $deadline = time + $timeout;
    my ($st, $timed_out) = (undef, 0);
    while (1) {
        my $w = waitpid($pid, WNOHANG);
        if ($w == $pid) { $st = $?; last }
        if (time > $deadline) {
            $timed_out = 1;
            kill 'KILL', -$pid;
            waitpid($pid, 0);
            $st = $?;
            last;
        }
        select(undef, undef, undef, 0.02);
    }
    kill 'KILL', -$pid;    # anything the program left in its group
    local $/;
    open my $o, '<', $ofile or die;
    open my $e, '<', $efile or die;
    my %r = (out => scalar <$o>, err => scalar <$e>, timed_out => $timed_out, pid => $pid);
    $r{out} //= '';
    $r{err} //= '';
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
