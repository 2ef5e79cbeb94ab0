#!/usr/bin/env perl
# httpd: serves files byte-exact (GET, HEAD, keep-alive, pipelining) under
# every event mechanism the OS has, never anything outside its root, survives
# malformed requests and vanishing clients, ends cleanly on SIGTERM.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use SBTest;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX qw(mkfifo);
use Test::More;

my $httpd = bin('httpd');
-x $httpd or plan skip_all => "$httpd not built";

# A document root, and a secret beside it that must never be served.
my $dir = tempdir(CLEANUP => 1);
my $root = "$dir/root";
mkdir $root or die;
mkdir "$root/sub" or die;
my $data = join '', map { chr(int(rand(256))) } 1 .. 100_000;
$data .= "\0\r\n\r\n" . $data;   # binary, with what looks like a head's end
sub write_file { open my $f, '>:raw', $_[0] or die "$_[0]: $!"; print $f $_[1]; close $f or die }
write_file("$root/data.bin", $data);
write_file("$root/small.txt", "small file\n");
write_file("$root/sub/inner.txt", "inner\n");
write_file("$dir/secret.txt", "SECRET-MARKER\n");
mkdir "$dir/outside" or die;
write_file("$dir/outside/secret.txt", "SECRET-MARKER\n");
symlink("$dir/secret.txt", "$root/link") or die;
symlink("../secret.txt", "$root/rellink") or die;
symlink("$dir/outside", "$root/dirlink") or die;
mkfifo("$root/fifo", 0600) or die;

# raw HTTP: send bytes, read until the server closes or the time is up.
sub talk {
    my ($port, $req, %o) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp')
        or die "connect: $!";
    binmode $s;
    syswrite($s, $req) if length $req;
    shutdown($s, 1) if $o{half_close};
    my $buf = read_until($s, $o{until} // sub { scalar @{ (responses($_[0]))[0] } }, $o{timeout} // 5);
    close $s;
    return $buf;
}

# parse responses off the front of a byte string: list of [status, {headers}, body]
sub responses {
    my ($buf, $head_only) = @_;
    my @r;
    while ($buf =~ s/\A(HTTP\/1\.[01]) (\d{3}) [^\r\n]*\r\n((?:[^\r\n]+\r\n)*)\r\n//) {
        my ($code, $h) = ($2, $3);
        my %h = map { /^([^:]+):\s*(.*)$/ ? (lc $1 => $2) : () } split /\r\n/, $h;
        my $len = $head_only ? 0 : ($h{'content-length'} // 0);
        last if length($buf) < $len;   # not all there yet
        push @r, [ $code, \%h, substr($buf, 0, $len, '') ];
    }
    return (\@r, $buf);
}

# connect_many($port, $n) -> up to $n connections to it, as many as were made
sub connect_many {
    my ($port, $n) = @_;
    my @c;
    for (1 .. $n) {
        push @c, IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) or last;
    }
    return @c;
}

my @backends = ('poll', 'select');
unshift @backends, 'epoll' if $^O eq 'linux';
unshift @backends, 'kqueue' if $^O =~ /bsd|darwin|dragonfly/i;
# io_uring where it is compiled in and the kernel allows it: pollbench's
# header says which (the same lib/events.c)
{
    my $pb = bin('pollbench');
    my $h = -x $pb ? run([ $pb, '-n', 1, '-r', 1 ])->{out} : '';
    push @backends, 'io_uring' if $h =~ /^# mechanisms: .*\bio_uring\b/m && $h =~ /^# io_uring: multishot/m;
}

my $first = 1;
for my $be (@backends) {
    my $pidfile = "$dir/httpd-$be.pid";
    my $srv = start_server([ $httpd, '-e', $be, '-r', $root, '-P', $pidfile ], ready => qr/^listening /);
    like($srv->{line}, qr/^listening 127\.0\.0\.1 \d+ \Q$be\E$/, "$be: says where it listens and with what");
    my ($port) = $srv->{line} =~ /^listening \S+ (\d+)/;
    open my $pf, '<', $pidfile;
    is(scalar(<$pf> // ''), "$srv->{pid}\n", "$be: the pid file holds its pid");

    # a request that starts and then stalls: it must be ended (408/close)
    my $stall = $first ? IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) : undef;
    syswrite($stall, "GET /small.txt HTTP/1.1\r\nHo") if $stall;
    my $stall_t = time;
    # an idle connection that never says anything may stay
    my $idle = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) or die;

    my ($r, $rest) = responses(talk($port, "GET /data.bin HTTP/1.0\r\n\r\n"));
    is(scalar @$r, 1, "$be: GET, HTTP/1.0: one response");
    is($r->[0][0], 200, "$be: status 200");
    is($r->[0][1]{'content-length'}, length $data, "$be: Content-Length is the file's size");
    ok($r->[0][2] eq $data && $rest eq '', "$be: the body is the file, byte-exact, nothing after it");

    ($r, $rest) = responses(talk($port, "HEAD /data.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), 1);
    ok(@$r == 1 && $r->[0][0] == 200 && $r->[0][1]{'content-length'} == length($data) && $rest eq '',
        "$be: HEAD: 200, the length, no body");

    # keep-alive: one connection, requests one after another, then pipelined
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) or die;
    binmode $s;
    my $ok = 1;
    for my $f ('/data.bin', '/small.txt', '/sub/inner.txt') {
        syswrite($s, "GET $f HTTP/1.1\r\nHost: x\r\n\r\n");
        my $want = $f eq '/data.bin' ? $data : $f eq '/small.txt' ? "small file\n" : "inner\n";
        my $buf = read_until($s, sub { my ($rr) = responses($_[0]); @$rr });
        my ($rr, $left) = responses($buf);
        $ok &&= @$rr == 1 && $rr->[0][0] == 200 && $rr->[0][2] eq $want && $left eq ''
            && ($rr->[0][1]{connection} // '') eq 'keep-alive';
    }
    ok($ok, "$be: keep-alive: three requests on one connection, each byte-exact");
    my $two = "GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\nHEAD /data.bin HTTP/1.1\r\nHost: x\r\n\r\n"
            . "GET /data.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    syswrite($s, $two);
    my $buf = read_until($s);
    close $s;
    # the HEAD response has a Content-Length but no body: split by hand
    ($r, $rest) = responses($buf =~ s/\A(.*?\r\n\r\nsmall file\n)//s ? $1 : '');
    my ($rh, $rest2) = responses($buf =~ s/\A(.*?\r\n\r\n)//s ? $1 : '', 1);
    my ($rg) = responses($buf);
    ok(@$r == 1 && $r->[0][2] eq "small file\n" && @$rh == 1 && $rh->[0][0] == 200 && @$rg == 1
        && $rg->[0][2] eq $data, "$be: pipelined GET, HEAD, GET: all three answered in order, byte-exact");

    # traversal: never anything from outside the root
    my @evil = ('/../secret.txt', '/%2e%2e/secret.txt', '/%2E%2E%2Fsecret.txt', '/sub/../../secret.txt',
        '/sub/%2e%2e/%2e%2e/secret.txt', '/..%2fsecret.txt', '/.%2e/secret.txt', '/%252e%252e/secret.txt',
        '/link', '/rellink', '/dirlink/secret.txt', '/sub/../link', 'http://127.0.0.1/../secret.txt',
        '../secret.txt', $dir . '/secret.txt', '/' . $dir . '/secret.txt', '/fifo', '/sub', '/',
        '/small.txt%00.html', '/%00', '/etc/passwd', '\\..\\secret.txt');
    for my $path (@evil) {
        my $resp = talk($port, "GET $path HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        my ($code) = $resp =~ /\AHTTP\/1\.1 (\d{3})/;
        ok(defined $code && $code >= 400 && $code < 500 && $resp !~ /SECRET-MARKER|root:/,
            "$be: GET $path: ${\($code // 'no answer')}, nothing from outside the root");
    }

    # malformed requests: a 4xx or a close, never a crash
    my @bad = (
        [ 'garbage', "\x01\x02\x03 garbage !!\r\n\r\n" ],
        [ 'huge header', "GET /small.txt HTTP/1.1\r\nHost: x\r\nX-Big: " . ('a' x 20000) . "\r\n\r\n" ],
        [ 'huge request line', 'GET /' . ('a' x 20000) . " HTTP/1.1\r\nHost: x\r\n\r\n" ],
        [ 'NUL byte', "GET /small.txt HTTP/1.1\r\nHost: x\0y\r\n\r\n" ],
        [ 'no CRLF', "GET /small.txt HTTP/1.1\nHost: x\n\n" ],
        [ 'no line end at all', "GET /small.txt HTTP/1.1", half_close => 1 ],
        [ 'early close', "GET /sma", half_close => 1 ],
        [ 'no Host in HTTP/1.1', "GET /small.txt HTTP/1.1\r\n\r\n" ],
        [ 'two Hosts', "GET /small.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n" ],
        [ 'POST with a body', "POST /small.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" ],
        [ 'chunked body', "GET /small.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" ],
        [ 'DELETE', "DELETE /small.txt HTTP/1.1\r\nHost: x\r\n\r\n" ],
        [ 'folded header', "GET /small.txt HTTP/1.1\r\nHost: x\r\n  folded\r\n\r\n" ],
        [ 'bad escape', "GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n" ],
        [ 'two spaces', "GET  /small.txt HTTP/1.1\r\nHost: x\r\n\r\n" ],
        [ 'not HTTP', "GET /small.txt FTP/1.0\r\n\r\n" ],
    );
    for my $b (@bad) {
        my ($name, $req, %o) = @$b;
        my $resp = talk($port, $req, %o);
        my ($code) = $resp =~ /\AHTTP\/1\.1 (\d{3})/;
        ok(($resp eq '' || (defined $code && $code >= 400 && $code < 500)) && $resp !~ /small file/,
            "$be: $name: " . ($resp eq '' ? 'closed' : $code // 'garbage back'));
    }
    my $resp = talk($port, "GET /" . ('a' x 9000) . " HTTP/1.1\r\nHost: x\r\n\r\n");
    like($resp, qr/\AHTTP\/1\.1 414 /, "$be: an over-long request line gets 414");
    $resp = talk($port, "GET /small.txt HTTP/1.1\r\nHost: x\r\nX-Big: " . ('a' x 9000) . "\r\n\r\n");
    like($resp, qr/\AHTTP\/1\.1 431 /, "$be: over-long headers get 431");
    $resp = talk($port, "PUT /small.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    like($resp, qr/\AHTTP\/1\.1 405 .*\r\nAllow: GET, HEAD\r\n/s, "$be: PUT gets 405 with Allow");
    $resp = talk($port, "GET /nothing-here HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    like($resp, qr/\AHTTP\/1\.1 404 /, "$be: a missing file gets 404");
    $resp = talk($port, "HEAD /nothing-here HTTP/1.1\r\nHost: x\r\n\r\nGET /sub/inner.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        until => sub { 0 });
    like($resp, qr/\AHTTP\/1\.1 404 [^\n]*\r\n(?:[^\r\n]+\r\n)*\r\nHTTP\/1\.1 200 OK\r\n.*Content-Type: text\/plain\r\n.*\r\n\r\ninner\n\z/s,
        "$be: HEAD of a missing file: a 404 without a body, the next answer right after it");
    # a client that vanishes mid-response
    for (1 .. 5) {
        my $v = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) or die;
        syswrite($v, "GET /data.bin HTTP/1.1\r\nHost: x\r\n\r\n");
        setsockopt($v, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
        close $v;
    }
    ($r) = responses(talk($port, "GET /small.txt HTTP/1.0\r\n\r\n"));
    ok(@$r == 1 && $r->[0][2] eq "small file\n", "$be: after all that it still serves");

    if ($stall) {
        my $wait = $stall_t + 12 - time;
        select(undef, undef, undef, $wait) if $wait > 0;
        my $got = '';
        my $bits = '';
        vec($bits, fileno($stall), 1) = 1;
        sysread($stall, $got, 4096) if select($bits, undef, undef, 5);
        like($got, qr/\A(?:HTTP\/1\.1 408 |\z)/, "$be: a stalled request is ended after its time (408 or close)");
        my $more = read_until($stall);
        my $eof = length $more;
        ok(!$eof, "$be: and the connection closed");
    }
    syswrite($idle, "GET /small.txt HTTP/1.0\r\n\r\n");
    my $ib = read_until($idle);
    like($ib, qr/\r\n\r\nsmall file\n\z/, "$be: an idle connection opened at the start was still served");

    ok(group_alive($srv->{pid}), "$be: the server is still running");
    my $st = stop_server($srv);
    is($st->{exit}, 0, "$be: SIGTERM: exits 0") or diag $st->{err};
    ok(!@{ $st->{left} }, "$be: nothing of it is left");
    ok(!-e $pidfile, "$be: the pid file is removed");
    $first = 0;
}

# select: it takes as many connections as there are free descriptor numbers
# below FD_SETSIZE at its start, counted one by one (an inherited descriptor
# takes one), and then stops accepting until one closes.
{
    # a descriptor the server inherits, far above the lowest free number
    # (dup2 leaves it open across exec)
    open my $stray, '<', '/dev/null' or die;
    my $high = 700;
    defined POSIX::dup2(fileno($stray), $high) or die "dup2: $!";
    my $srv = start_server([ $httpd, '-e', 'select', '-r', $root ], ready => qr/^listening /);
    POSIX::close($high);
    close $stray;
    my ($port) = $srv->{line} =~ /^listening \S+ (\d+)/;
    my $start = server_said($srv);
    my ($cap) = $start =~ /up to (\d+) connections/;
    my @c = connect_many($port, 1100);
    is(scalar @c, 1100, 'select: 1100 connections made');
    my $said = server_said($srv, qr/at its descriptor limit/);
    my ($held) = $said =~ /(\d+) connections: at its descriptor limit/;
    ok(defined $cap && defined $held && $held == $cap,
        "select: stops accepting at the $cap it announced, the inherited descriptor counted")
        or diag "announced: $start\nsaid: $said";
    unlike($said, qr/beyond FD_SETSIZE/, 'select: no accepted descriptor was past FD_SETSIZE');
    syswrite($c[0], "GET /small.txt HTTP/1.0\r\n\r\n");
    like(read_until($c[0]), qr/small file/, 'select: a held connection is served');
    close $_ for @c;
    my $st = stop_server($srv);
    is($st->{exit}, 0, 'select: SIGTERM: exits 0');
}

# select: a file being sent takes a descriptor number below FD_SETSIZE after
# the start, so a later connection is accepted past it: refused, and said.
{
    my $big = "$root/big.bin";
    open my $bf, '>', $big or die;
    truncate($bf, 64 << 20) or die "truncate: $!";
    close $bf;
    my $srv = start_server([ $httpd, '-e', 'select', '-r', $root ], ready => qr/^listening /);
    my ($port) = $srv->{line} =~ /^listening \S+ (\d+)/;
    # a client that asks for 64 MB and reads none of it: its file stays open
    my $slow = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) or die;
    syswrite($slow, "GET /big.bin HTTP/1.0\r\n\r\n");
    my $head = read_until($slow, sub { length $_[0] > 0 }, 10);
    like($head, qr/\AHTTP\/1\.1 200 /, 'select: a 64 MB answer has begun (its file is open)');
    my @c = connect_many($port, 1100);
    is(scalar @c, 1100, 'select: 1100 connections made beside a file being sent');
    my $said = server_said($srv, qr/beyond FD_SETSIZE/);
    like($said, qr/select: descriptor \d+ is beyond FD_SETSIZE \(\d+\)/, 'select: one accepted past FD_SETSIZE is refused, and it says why');
    my $last = $c[-1];   # accepted after the refusals began
    syswrite($last, "GET /small.txt HTTP/1.0\r\n\r\n");
    my $b = '';
    my $bits = '';
    vec($bits, fileno($last), 1) = 1;
    sysread($last, $b, 4096) if select($bits, undef, undef, 5);
    is($b, '', 'select: the connection past FD_SETSIZE is closed unanswered');
    syswrite($c[0], "GET /small.txt HTTP/1.0\r\n\r\n");
    like(read_until($c[0]), qr/small file/, 'select: one below it is served');
    close $_ for @c, $slow;
    my $st = stop_server($srv);
    is($st->{exit}, 0, 'select: SIGTERM: exits 0');
    unlink $big;
}

# workers: -w 2 serves, and all of it ends on SIGTERM
{
    my $srv = start_server([ $httpd, '-w', 2, '-r', $root ], ready => qr/^listening /);
    my ($port) = $srv->{line} =~ /^listening \S+ (\d+)/;
    is(scalar(children_of($srv->{pid})), 2, '-w 2: two worker processes');
    my $n = 0;
    for (1 .. 20) {
        my ($r) = responses(talk($port, "GET /small.txt HTTP/1.0\r\n\r\n"));
        $n++ if @$r == 1 && $r->[0][2] eq "small file\n";
    }
    is($n, 20, '-w 2: twenty requests served');
    my $st = stop_server($srv);
    is($st->{exit}, 0, '-w 2: SIGTERM: exits 0');
    ok(!@{ $st->{left} }, '-w 2: no worker is left');
}

# -p 0 picks a port; a busy port is an error; bad arguments
{
    my $srv = start_server([ $httpd, '-r', $root, '-l', '127.0.0.1', '-p', 0 ], ready => qr/^listening /);
    my ($port) = $srv->{line} =~ /^listening \S+ (\d+)/;
    my $r = run([ $httpd, '-r', $root, '-p', $port ], timeout => 10);
    is($r->{exit}, 1, 'a port in use: exit 1');
    like($r->{err}, qr/bind\(\).*in use/i, 'with the reason');
    stop_server($srv);
}
for my $bad ([ '-e', 'kqueue2' ], [ '-p', 70000 ], [ '-p', 'x' ], [ '-l', 'localhost' ], [ '-w', 0 ], ['-x'], ['extra']) {
    my $r = run([ $httpd, @$bad ], timeout => 10);
    is($r->{exit}, $EXIT_USAGE, "@$bad: usage status");
    ok($r->{err} =~ /\A[^\n]+\n\z/ && $r->{out} eq '', "@$bad: a one-line error, no output");
}
my $r = run([ $httpd, '-r', "$dir/nonexistent" ], timeout => 10);
is($r->{exit}, 1, 'a missing root: exit 1');
for my $w (1, 2) {
    $r = run([ $httpd, '-w', $w, '-r', $root, '-P', "$dir/nonexistent/pid" ], timeout => 10);
    ok($r->{exit} == 1 && $r->{out} eq '' && !@{ $r->{left} }, "-w $w: a pid file it cannot write: exit 1, nothing left");
}
$r = run([ $httpd, '-h' ]);
is($r->{exit}, 0, '-h exits 0');
like($r->{out}, qr/^usage: httpd/, '-h prints the usage');

done_testing;
