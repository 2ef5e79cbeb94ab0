package TestSSHD;
# A throwaway OpenSSH server for the tests of harness/remote and
# harness/publish: its own host key, user keys and config in a temporary
# folder, listening on a free loopback port, for the user running the
# tests. Nothing is written to any ~/.ssh: the client options it gives
# point ssh at the folder's known_hosts and key, and at no config file.
#
#   my $s = TestSSHD->start($tmpdir) or plan skip_all => $TestSSHD::WHY;
#   $s->{port}; $s->ssh_opts('good'|'nomake'|'refused'); $s->host;
#   $s->sessions (pids of live session processes); $s->stop;
#
# Keys: 'good' logs in; 'nomake' logs in with a PATH that has everything of
# /usr/bin and /bin but make, gmake and bmake (authorized_keys environment=);
# 'refused' is not authorized.
use strict;
use warnings;
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use SBTest qw(children_of);

our $WHY;
my $SSHD;

sub _which {
    my ($p) = @_;
    for my $d (split(/:/, $ENV{PATH} // ''), qw(/usr/sbin /sbin /usr/local/sbin)) {
        return "$d/$p" if -x "$d/$p";
    }
    return undef;
}

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp', Listen => 1)
        or die "free port: $!";
    my $p = $s->sockport;
    close $s;
    return $p;
}

sub _sh { my $st = system(@_); return $st == 0 }

sub start {
    my ($class, $dir) = @_;
    $SSHD = _which('sshd') or do { $WHY = 'sshd is not installed (Debian: apt-get install openssh-server)'; return };
    my $keygen = _which('ssh-keygen') or do { $WHY = 'ssh-keygen is not installed'; return };
    _which('ssh') or do { $WHY = 'ssh is not installed'; return };
    my $user = getpwuid($<) // do { $WHY = "no passwd entry for uid $<"; return };
    my $self = bless { dir => $dir, user => $user }, $class;
    # root's sshd wants its privilege separation folder (Debian's service
    # makes it at boot): made here when missing, removed at stop
    if ($> == 0 && !-d '/run/sshd' && -d '/run') {
        mkdir '/run/sshd', 0755 or do { $WHY = "cannot create /run/sshd: $!"; return };
        $self->{made_run_sshd} = 1;
    }
    for my $k (qw(host_key good nomake refused)) {
        _sh($keygen, '-q', '-t', 'ed25519', '-N', '', '-C', "scalebench-test-$k", '-f', "$dir/$k")
            or do { $WHY = "ssh-keygen failed"; $self->stop; return };
    }
    # the PATH without make
    my $nomake = "$dir/nomake-bin";
    mkdir $nomake or die;
    for my $d (qw(/bin /usr/bin)) {
        opendir my $dh, $d or next;
        for my $e (readdir $dh) {
            next if $e =~ /^\.\.?$/ || $e =~ /^(?:[gb]?make|make-.*)$/ || -e "$nomake/$e";
            symlink "$d/$e", "$nomake/$e";
        }
    }
    $self->{nomake_path} = $nomake;
    open my $ak, '>', "$dir/authorized_keys" or die;
    print $ak _slurp("$dir/good.pub");
    print $ak qq(environment="PATH=$nomake" ), _slurp("$dir/nomake.pub");
    close $ak;
    chmod 0600, "$dir/authorized_keys";
    $self->{port} = free_port();
    open my $cf, '>', "$dir/sshd_config" or die;
    print $cf <<"EOC";
Port $self->{port}
ListenAddress 127.0.0.1
HostKey $dir/host_key
AuthorizedKeysFile $dir/authorized_keys
PidFile $dir/sshd.pid
StrictModes no
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
PermitUserEnvironment PATH
AllowUsers $user
MaxStartups 100
MaxSessions 100
PrintMotd no
X11Forwarding no
AllowTcpForwarding no
EOC
    close $cf;
    open my $err, '>', "$dir/sshd.log" or die;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        setpgrp(0, 0);
        open STDIN, '<', '/dev/null';
        open STDOUT, '>&', $err;
        open STDERR, '>&', $err;
        exec { $SSHD } $SSHD, '-D', '-e', '-f', "$dir/sshd_config" or POSIX::_exit(127);
    }
    $self->{pid} = $pid;
    for (1 .. 200) {
        last if IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{port}, Proto => 'tcp');
        if (waitpid($pid, WNOHANG) == $pid) {
            delete $self->{pid};
            $WHY = 'sshd did not start: ' . (_slurp("$dir/sshd.log") =~ s/\s+/ /gr);
            $self->stop;
            return;
        }
        select(undef, undef, undef, 0.05);
    }
    return $self;
}

sub _slurp { open my $f, '<', $_[0] or return ''; local $/; return scalar <$f> }

sub host { my ($s) = @_; return "$s->{user}\@127.0.0.1:$s->{port}" }

# the ssh client options for harness/remote and harness/publish (-o each)
sub ssh_opts {
    my ($s, $key) = @_;
    return map { ('-o', $_) } ("IdentityFile=$s->{dir}/" . ($key // 'good'), 'IdentitiesOnly=yes',
        "UserKnownHostsFile=$s->{dir}/known_hosts", 'GlobalKnownHostsFile=/dev/null',
        'StrictHostKeyChecking=accept-new', 'LogLevel=ERROR');
}

# pids of the server's session processes (every process below the listener)
sub sessions {
    my ($s) = @_;
    return () unless $s->{pid};
    my @all;
    my @q = children_of($s->{pid});
    while (my $p = shift @q) { push @all, $p; push @q, children_of($p) }
    return @all;
}

# Kills the sshd session processes (not what they run): what a dropped
# connection looks like to both ends.
sub drop_connections {
    my ($s) = @_;
    my @k = grep { (readlink("/proc/$_/exe") // '') eq $SSHD || (_slurp("/proc/$_/comm") =~ /^sshd/) } $s->sessions;
    kill 'KILL', @k if @k;
    return scalar @k;
}

sub stop {
    my ($s) = @_;
    if (my $pid = delete $s->{pid}) {
        my @left = $s->sessions;
        kill 'TERM', $pid;
        kill 'KILL', @left if @left;
        for (1 .. 100) { last if waitpid($pid, WNOHANG) == $pid; select(undef, undef, undef, 0.05) }
        kill 'KILL', -$pid;
        waitpid($pid, 0);
    }
    rmdir '/run/sshd' if delete $s->{made_run_sshd};
    return;
}

sub DESTROY { $_[0]->stop }

1;
