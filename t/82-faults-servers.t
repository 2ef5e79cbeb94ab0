#!/usr/bin/env perl
# The fault suite, servers: httpbench against servers that misbehave, and
# httpd's own limits (issue 14 items 7 and 11).
#  - a listener that vanishes after some connections: ECONNREFUSED after
#    successes is a failure (exit 1), not a limit (a sample connection still
#    queued when the listener closed is reset: ECONNRESET, a failure too);
#  - a server that drips its answer one byte every 5 s: the request's time
#    limit (10 s) holds for the whole request, not for each read;
#  - httpd: an idle timeout (-t, default in -h, 0 = none); honest capacity
#    (announced from RLIMIT_NOFILE, the select backend capped below
#    FD_SETSIZE and saying so); 414 for a path longer than it takes.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use SBTest;
use SBFaults;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);
use File::Temp ();
use Test::More;

my ($hb, $httpd) = (bin('httpbench'), bin('httpd'));
-x $_ or plan skip_all => "$_ not built" for $hb, $httpd;
my $bad = "$FindBin::Bin/data/badserver";

# ---- httpbench against a listener that goes away ----
{
    my $s = start_server([ $bad, 'vanish', 25 ], ready => qr/^listening /);
    my ($port) = $s->{line} =~ /(\d+) vanish$/;
    my $r = fault_run([ $hb, '-c', 200, '-i', 10, '-s', 1, "http://127.0.0.1:$port/" ], timeout => 60);
    expect_end('httpbench, the listener vanishes after 25 connections', $r, exit => 1,
        end => qr/^failed: (?:(?:sample )?connect\(\) to \S+ port \d+: ECONNREFUSED .* at n=\d+|request at n=\d+: ECONNRESET .*)$/);
    unlike($r->{parsed}{end} // '', qr/listen backlog|somaxconn/, 'not called a listen backlog limit');
    my ($n) = ($r->{parsed}{end} // '') =~ /at n=(\d+)/;
    # (the server's 25 include the sample connections; those still queued
    # when it closed were taken too)
    ok(($n // 0) > 0, 'after connections had succeeded')
        or diag $r->{parsed}{end};
    stop_server($s, signal => 'KILL');
}

# ---- httpbench against a server that drips one byte every 5 s ----
{
    my $s = start_server([ $bad, 'drip', 5 ], ready => qr/^listening /);
    my ($port) = $s->{line} =~ /(\d+) drip$/;
    # (the answer would take 7 minutes to drip: the time limit of 40 s
    # tells "ends at the request's deadline" from "holds it while bytes come")
    my $r = fault_run([ $hb, '-c', 10, '-s', 1, "http://127.0.0.1:$port/" ], timeout => 40);
    expect_end('httpbench, a server dripping a byte every 5 s', $r, exit => 3,
        end => qr/^stopped: request at n=0: ETIMEDOUT \(.*\b10 s\b/);
    stop_server($s, signal => 'KILL');
}

# ---- httpd ----
my $root = File::Temp::tempdir(CLEANUP => 1);
{ open my $f, '>', "$root/small.txt" or die; print $f "small\n"; close $f }

# Does the server close $sock (end of file, nothing read) within $secs?
sub closed_within {
    my ($sock, $secs) = @_;
    my $deadline = time + $secs;
    while (time < $deadline) {
        my $bits = '';
        vec($bits, fileno($sock), 1) = 1;
        next unless select($bits, undef, undef, 0.1);
        my $n = sysread($sock, my $buf, 4096);
        return 'bytes' if $n;
        return 'closed';
    }
    return 'open';
}

sub get {
    my ($port, $path, $sock) = @_;
    my $s = $sock // IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) or return '';
    syswrite($s, "GET $path HTTP/1.1\r\nHost: x\r\n\r\n");
    return read_until($s, sub { $_[0] =~ /\r\n\r\n/ && $_[0] =~ /Content-Length: (\d+)\r\n.*?\r\n\r\n(.*)\z/s
        && length($2) >= $1 }, 5);
}

# -h documents the idle timeout and its default
{
    my $h = run([ $httpd, '-h' ]);
    like($h->{out}, qr/^\s+-t\s.*idle.*\n(?:\s{8,}.*\n)*?.*default \d+/m, 'httpd -h: documents -t (idle timeout) and its default');
}

# an idle connection is closed after -t seconds; -t 0: never
{
    my $s = start_server([ $httpd, '-r', $root, '-t', 1 ], ready => qr/^listening /);
    my ($port) = $s->{line} =~ /^listening \S+ (\d+)/;
    my $idle = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) or die;
    my $used = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) or die;
    like(get($port, '/small.txt', $used), qr/^HTTP\/1\.1 200 /, 'httpd -t 1: serves');
    is(closed_within($idle, 8), 'closed', 'httpd -t 1: an idle connection is closed (end of file, no bytes)');
    is(closed_within($used, 5), 'closed', 'httpd -t 1: so is one idle between requests');
    my $st = stop_server($s);
    is($st->{exit}, 0, 'httpd -t 1: SIGTERM ends it');

    $s = start_server([ $httpd, '-r', $root, '-t', 0 ], ready => qr/^listening /);
    ($port) = $s->{line} =~ /^listening \S+ (\d+)/;
    $idle = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) or die;
    sleep 2.5;
    like(get($port, '/small.txt', $idle), qr/^HTTP\/1\.1 200 /, 'httpd -t 0: an idle connection stays open and usable');
    stop_server($s);
}

# honest capacity: with 48 descriptors it announces 48 - 32 spare = 16
# connections; the select backend is capped below FD_SETSIZE and says so
{
    my $s = start_server([ $httpd, '-r', $root ], ready => qr/^listening /, shell => 'ulimit -n 48');
    my ($port) = $s->{line} =~ /^listening \S+ (\d+)/;
    like(get($port, '/small.txt'), qr/^HTTP\/1\.1 200 /, 'httpd, ulimit -n 48: serves');
    my $st = stop_server($s);
    like($st->{err}, qr/up to 16 connections/, 'httpd, ulimit -n 48: announces room for 16 connections')
        or diag $st->{err};

    $s = start_server([ $httpd, '-e', 'select', '-r', $root ], ready => qr/^listening /);
    $st = stop_server($s);
    my ($cap) = $st->{err} =~ /up to (\d+) connections/;
    ok(defined $cap && $cap < 1024 && $cap > 0, 'httpd -e select: announces a capacity below FD_SETSIZE')
        or diag $st->{err};
    like($st->{err}, qr/FD_SETSIZE/, 'httpd -e select: and names FD_SETSIZE as the cap');
}

# 414 for a path longer than httpd takes (1024 bytes and more), within a
# request that is otherwise short
{
    my $s = start_server([ $httpd, '-r', $root ], ready => qr/^listening /);
    my ($port) = $s->{line} =~ /^listening \S+ (\d+)/;
    for my $len (1024, 1100, 4000) {
        my $path = '/' . ('a' x ($len - 1));
        like(get($port, $path), qr/^HTTP\/1\.1 414 /, "httpd: a $len-byte path: 414 URI Too Long");
    }
    like(get($port, '/' . ('a' x 900)), qr/^HTTP\/1\.1 404 /, 'httpd: a 901-byte path: 404, as any missing file');
    my $st = stop_server($s);
    is($st->{exit}, 0, 'httpd: still ends cleanly');
}

done_testing;
