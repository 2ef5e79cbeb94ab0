package Scalebench::Remote;
# Running the suite on another host over OpenSSH (harness/remote): the
# host's name, the ssh command, what ssh's errors mean, and each step on
# the far side: probe, upload the source as a tar stream, build with the
# host's own make and compiler, run harness/run there, fetch the results
# as a bundle, remove the scratch folder. Also the agent that runs on the
# far side around harness/run, so that a dropped connection stops the
# remote run cleanly and a new connection resumes it.
#
# Nothing is installed on the far side: it needs sh, perl, tar, make (or
# gmake) and a C compiler, which every supported OS has in its base system
# or its developer tools. Commands sent to it are one line of sh with no
# single quote or '!' in it, so any login shell (sh, bash, csh, tcsh) hands
# them on unchanged. Core perl only.
use strict;
use warnings;
use Exporter 'import';
use POSIX qw(:sys_wait_h);
use File::Temp qw(tempfile);
use Digest::SHA;
use Time::HiRes qw(time sleep);
use Scalebench::Bundle qw(tar_entry tar_end);
use Scalebench::Cleanup qw(io_error kill_group);

our @EXPORT_OK = qw(parse_host ssh_command ssh_error source_files source_tar agent hex_args);

# parse_host('[user@]host[:port]') -> { user, host, port, spec } or undef.
# An IPv6 address with a port goes in brackets: [::1]:2222.
sub parse_host {
    my ($spec) = @_;
    return undef unless defined $spec && length $spec;
    my ($user, $rest) = $spec =~ /^(?:([A-Za-z0-9._-]+)@)?(.+)$/ or return undef;
    my ($host, $port);
    if ($rest =~ /^\[([0-9A-Fa-f:.]+)\](?::(\d+))?$/) { ($host, $port) = ($1, $2) }
    elsif ($rest =~ /^([A-Za-z0-9._-]+)(?::(\d+))?$/) { ($host, $port) = ($1, $2) }
    elsif ($rest =~ /^[0-9A-Fa-f:]+$/ && $rest =~ /:.*:/) { $host = $rest }
    else { return undef }
    return undef if $host =~ /^-/ || (defined $port && ($port < 1 || $port > 65535));
    return { user => $user, host => $host, port => $port, spec => $spec };
}

# ssh_command(F => CONFIG, o => [OPTIONS]) -> the ssh command, without the
# host: the user's options first (ssh takes the first value it is given),
# then the defaults (no password prompts, a bounded connect, a dead
# connection noticed within a minute), no terminal.
sub ssh_command {
    my (%o) = @_;
    return ('ssh', (defined $o{F} ? ('-F', $o{F}) : ()), (map { ('-o', $_) } @{ $o{o} // [] }),
            '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=15', '-o', 'ServerAliveInterval=15',
            '-o', 'ServerAliveCountMax=4', '-T');
}

# what ssh's last words mean, as one line
sub ssh_error {
    my ($err) = @_;
    my @l = grep { /\S/ && !/^Warning: Permanently added/ } split /\r?\n/, $err // '';
    my $last = $l[-1] // 'ssh failed without a message';
    return "authentication failed: $last" if grep { /Permission denied|Too many authentication failures|no matching host key/ } @l;
    return "host key verification failed (known_hosts)" if grep { /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/ } @l;
    return "cannot connect: $last" if $last =~ /Connection refused|timed out|No route to host|Could not resolve|Name or service not known|nodename nor servname|Network is unreachable|Connection reset|kex_exchange_identification/;
    return "connection lost: $last";
}

# source_files(ROOT) -> the files of the source to send: git's tracked
# files as they are in the working tree; without git, the tree less what is
# built or measured.
sub source_files {
    my ($root) = @_;
    if (-e "$root/.git") {
        my $pid = open(my $fh, '-|') // die "fork: $!\n";
        if ($pid == 0) {
            open STDERR, '>', '/dev/null';
            chdir $root or POSIX::_exit(1);
            exec 'git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard' or POSIX::_exit(127);
        }
        local $/;
        my $out = <$fh> // '';
        close $fh;
        if ($? == 0 && length $out) {
            return grep { -f "$root/$_" && !-l "$root/$_" } split /\0/, $out;
        }
    }
    my @out;
    my @dirs = ('');
    while (defined(my $d = shift @dirs)) {
        opendir my $dh, "$root/$d" or next;
        for my $e (sort readdir $dh) {
            next if $e =~ /^\.\.?$/ || $e eq '.git';
            my $p = length $d ? "$d/$e" : $e;
            next if $p =~ m{^(?:results|bench/static)(?:/|$)};
            if (-d "$root/$p" && !-l "$root/$p") { push @dirs, $p; next }
            next unless -f "$root/$p" && !-l "$root/$p";
            next if $p =~ m{^(?:bench|tools)/[^/.]+$} || $p =~ /\.o$/ || $p eq '.build-id' || $p eq 't/c/sb_unit';
            push @out, $p;
        }
    }
    return @out;
}

# source_tar(ROOT, FILES, extra => { name => data }) -> (tar bytes, id):
# the id (a SHA-1 of the tar) tells whether the far side has this source.
sub source_tar {
    my ($root, $files, %o) = @_;
    my $t = '';
    my $sha = Digest::SHA->new(1);    # of names, modes and contents: not of mtimes
    my $add = sub {
        my ($name, $data, $mode, $mtime) = @_;
        $t .= tar_entry($name, $data, mode => $mode, mtime => $mtime);
        $sha->add(sprintf("%s\0%o\0%d\0", $name, $mode, length $data), $data);
    };
    for my $f (@$files) {
        open my $fh, '<:raw', "$root/$f" or die io_error('read', "$root/$f") . "\n";
        local $/;
        my $data = <$fh> // '';
        my @st = stat "$root/$f";
        $add->($f, $data, ($st[2] & 0111) ? 0755 : 0644, $st[9]);
    }
    for my $n (sort keys %{ $o{extra} // {} }) {
        $add->($n, $o{extra}{$n}, 0644, time);
    }
    $t .= tar_end();
    return ($t, $sha->hexdigest);
}

# hex_args(LIST) -> one word that carries a list of arguments through any
# shell unchanged; agent() decodes it.
sub hex_args { return unpack('H*', join("\0", @_)) || '-' }

# ---- the far side ----

# agent(WORKDIR, HEXARGS, RUN): runs RUN (harness/run) with the arguments in
# its own process group, passes its output on, and watches its own stdin:
# when that closes (the ssh connection is gone) or the output cannot be
# written, the harness gets SIGTERM (it stops its benchmark, cleans up and
# keeps every complete run), SIGKILL 60 s later. An agent left from a
# dropped connection is stopped first. Exits with the harness's status
# (128+N when it died by signal N, 75 when the connection was lost).
sub agent {
    my ($w, $hex, $run) = @_;
    my @args = $hex eq '-' ? () : split /\0/, pack('H*', $hex), -1;
    unshift @args, "--results", "$w/results";
    my $pidfile = "$w/agent.pid";
    if (open my $pf, '<', $pidfile) {
        my $old = <$pf> // '';
        close $pf;
        if ($old =~ /^(\d+)/ && $1 > 1 && kill 0, -$1) {
            my $pg = $1;
            print "the earlier remote run (process group $pg, from a dropped connection) is stopped first\n";
            kill_group($pg, 60);
        }
    }
    $SIG{PIPE} = 'IGNORE';
    pipe(my $r, my $wr) or die "pipe: $!\n";
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        close $r;
        setpgrp(0, 0);
        open STDOUT, '>&', $wr or POSIX::_exit(127);
        open STDERR, '>&', $wr or POSIX::_exit(127);
        open STDIN, '<', '/dev/null' or POSIX::_exit(127);
        exec $^X, $run, @args or POSIX::_exit(127);
    }
    close $wr;
    setpgrp($pid, $pid);
    if (open my $pf, '>', "$pidfile.tmp") { print $pf "$pid\n"; close $pf; rename "$pidfile.tmp", $pidfile }
    my $lost = sub {
        kill 'TERM', -$pid;
        my $end = time + 60;
        while (time < $end) { last if waitpid($pid, WNOHANG) == $pid; sleep 0.1 }
        kill 'KILL', -$pid;
        waitpid($pid, 0);
        unlink $pidfile;
        POSIX::_exit(75);
    };
    my $stdin_open = 1;
    while (1) {
        my $rin = '';
        vec($rin, fileno($r), 1) = 1;
        vec($rin, 0, 1) = 1 if $stdin_open;
        my $n = select(my $rout = $rin, undef, undef, 1);
        next if !defined $n || $n <= 0;
        if ($stdin_open && vec($rout, 0, 1)) {
            my $got = sysread(STDIN, my $junk, 4096);
            $lost->() unless $got;    # EOF or error: the connection is gone
        }
        if (vec($rout, fileno($r), 1)) {
            my $got = sysread($r, my $buf, 65536);
            last unless $got;
            my $off = 0;
            while ($off < length $buf) {
                my $wn = syswrite(STDOUT, $buf, length($buf) - $off, $off);
                $lost->() unless $wn;
                $off += $wn;
            }
        }
    }
    waitpid($pid, 0);
    my $st = $?;
    unlink $pidfile;
    kill 'KILL', -$pid;    # nothing of it may outlive it
    return $st & 127 ? 128 + ($st & 127) : $st >> 8;
}

1;
