package SBBrowser;
# Drive a headless Chromium over the DevTools protocol on a pipe
# (--remote-debugging-pipe: commands on fd 3, replies on fd 4, each message
# JSON ended by a NUL byte), with core perl only. Used by the page tests to
# read what a real browser made of the page, e.g. every image's load state.
#
#   my $b = SBBrowser->start or skip 'no chromium';
#   $b->open("file:///.../index.html");            # waits for the load event
#   my $v = $b->eval('document.images.length');     # returns the value
#   $b->screenshot('/tmp/page.png');                 # the whole page
#   $b->stop;                                        # the browser and all its
#                                                    # processes are gone
use strict;
use warnings;
use JSON::PP;
use File::Temp qw(tempdir);
use POSIX qw(WNOHANG);
use IO::Handle;
use IO::Select;
use MIME::Base64 qw(decode_base64);

# The Chromium binary: $SB_CHROMIUM, else the first of the usual names.
sub find_chromium {
    return $ENV{SB_CHROMIUM} if $ENV{SB_CHROMIUM};
    for my $name (qw(chromium chromium-browser google-chrome)) {
        for my $dir (split /:/, $ENV{PATH} // '/usr/bin:/bin') {
            return "$dir/$name" if -x "$dir/$name";
        }
    }
    return undef;
}

sub start {
    my ($class, %o) = @_;
    my $bin = $o{chromium} // find_chromium() // return undef;
    my $profile = tempdir('sb-chromium-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    pipe(my $c_in, my $to_c) or die "pipe: $!";       # we write, chromium reads fd 3
    pipe(my $from_c, my $c_out) or die "pipe: $!";    # chromium writes fd 4
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        setpgrp(0, 0);    # its own group: stop() ends every process it makes
        close $to_c;
        close $from_c;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null' unless $ENV{SB_CHROMIUM_DEBUG};
        # fds 3 and 4 as chromium wants them
        # move both ends above 4 first (pipe() may have handed out 3 or 4),
        # then onto 3 and 4 (dup2 clears close-on-exec on the copy)
        my $in = POSIX::dup(fileno $c_in) // POSIX::_exit(127);
        my $out = POSIX::dup(fileno $c_out) // POSIX::_exit(127);
        ($in, $out) = (POSIX::dup($in), POSIX::dup($out)) while $in <= 4 || $out <= 4;
        POSIX::dup2($in, 3) // POSIX::_exit(127);
        POSIX::dup2($out, 4) // POSIX::_exit(127);
        { exec $bin, '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
            '--no-default-browser-check', '--disable-background-networking',
            '--disable-component-update', '--disable-sync', '--disable-extensions',
            '--disable-dev-shm-usage', '--hide-scrollbars', '--mute-audio',
            '--remote-debugging-pipe', "--user-data-dir=$profile",
            '--window-size=1200,900', 'about:blank' };
        POSIX::_exit(127);
    }
    close $c_in;
    close $c_out;
    $to_c->autoflush(1);
    my $self = bless { pid => $pid, to => $to_c, from => $from_c, buf => '', id => 0,
                       events => [], profile => $profile, timeout => $o{timeout} // 60 }, $class;
    my $ok = eval {
        my $t = $self->call('Target.createTarget', { url => 'about:blank' });
        my $s = $self->call('Target.attachToTarget', { targetId => $t->{targetId}, flatten => JSON::PP::true });
        $self->{session} = $s->{sessionId};
        $self->call('Page.enable', {}, 1);
        $self->call('Runtime.enable', {}, 1);
        1;
    };
    if (!$ok) {
        my $e = $@;
        $self->stop;
        die "chromium did not answer over the DevTools pipe: $e";
    }
    return $self;
}

sub pid { $_[0]{pid} }

# Read one NUL-terminated message, or die after the timeout.
sub _read_msg {
    my ($self, $deadline) = @_;
    my $sel = IO::Select->new($self->{from});
    while (1) {
        my $i = index $self->{buf}, "\0";
        if ($i >= 0) {
            my $m = substr $self->{buf}, 0, $i;
            substr($self->{buf}, 0, $i + 1) = '';
            return decode_json($m);
        }
        my $left = $deadline - time;
        die "timed out waiting for chromium\n" if $left <= 0;
        next unless $sel->can_read($left);
        my $n = sysread $self->{from}, $self->{buf}, 1 << 20, length $self->{buf};
        die "chromium closed the DevTools pipe\n" unless $n;
    }
}

# call(method, params, in_session) -> result; dies on a protocol error
sub call {
    my ($self, $method, $params, $in_session) = @_;
    my $id = ++$self->{id};
    my %msg = (id => $id, method => $method, params => $params // {});
    $msg{sessionId} = $self->{session} if $in_session;
    print { $self->{to} } encode_json(\%msg) . "\0";
    my $deadline = time + $self->{timeout};
    while (1) {
        my $m = $self->_read_msg($deadline);
        if (defined $m->{id} && $m->{id} == $id) {
            die "$method: $m->{error}{message}\n" if $m->{error};
            return $m->{result};
        }
        push @{ $self->{events} }, $m if $m->{method};
    }
}

sub wait_event {
    my ($self, $method) = @_;
    my $deadline = time + $self->{timeout};
    while (1) {
        for my $i (0 .. $#{ $self->{events} }) {
            return splice @{ $self->{events} }, $i, 1 if $self->{events}[$i]{method} eq $method;
        }
        my $m = $self->_read_msg($deadline);
        push @{ $self->{events} }, $m if $m->{method};
    }
}

# open(url): navigate and wait for the load event (all images loaded or
# failed). Returns the navigation result (errorText set when it failed).
sub open {
    my ($self, $url) = @_;
    @{ $self->{events} } = ();
    my $r = $self->call('Page.navigate', { url => $url }, 1);
    $self->wait_event('Page.loadEventFired') unless $r->{errorText};
    return $r;
}

# eval(js) -> the value of the expression (JSON-able), dies on an exception
sub eval {
    my ($self, $js) = @_;
    my $r = $self->call('Runtime.evaluate', { expression => $js, returnByValue => JSON::PP::true,
                                              awaitPromise => JSON::PP::true }, 1);
    die "eval: " . ($r->{exceptionDetails}{exception}{description} // $r->{exceptionDetails}{text}) . "\n"
        if $r->{exceptionDetails};
    return $r->{result}{value};
}

# screenshot(path): the whole page as PNG
sub screenshot {
    my ($self, $path) = @_;
    my $m = $self->call('Page.getLayoutMetrics', {}, 1);
    my $size = $m->{cssContentSize} // $m->{contentSize};
    my $r = $self->call('Page.captureScreenshot', {
        format => 'png', captureBeyondViewport => JSON::PP::true,
        clip => { x => 0, y => 0, width => $size->{width}, height => $size->{height}, scale => 1 } }, 1);
    CORE::open my $fh, '>:raw', $path or die "$path: $!";
    print $fh decode_base64($r->{data});
    close $fh or die "$path: $!";
    return { width => $size->{width}, height => $size->{height} };
}

# stop(): close the browser, then end its whole process group; returns
# once the browser process is reaped.
sub stop {
    my ($self) = @_;
    return unless $self->{pid};
    eval { local $self->{timeout} = 5; $self->call('Browser.close') };
    close $self->{to};
    my $pid = delete $self->{pid};
    for my $i (1 .. 50) {
        last if waitpid($pid, WNOHANG) == $pid;
        kill 'TERM', -$pid if $i == 20;
        select undef, undef, undef, 0.1;
    }
    kill 'KILL', -$pid;
    waitpid($pid, 0);
    # the helpers (zygote, renderers) were in the same group: wait until the
    # kernel has taken them all away
    for (1 .. 50) {
        last unless kill 0, -$pid;
        kill 'KILL', -$pid;
        select undef, undef, undef, 0.1;
    }
    $self->{pgid} = $pid;
    return 1;
}

# group_alive(pgid) -> how many processes are still in that process group
sub group_alive {
    my ($pgid) = @_;
    return kill 0, -$pgid;
}

sub DESTROY { $_[0]->stop if $_[0]{pid} }

1;
