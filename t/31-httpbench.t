#!/usr/bin/env perl
# httpbench: valid output against httpd (IPv4, IPv6, a host name, keep-alive),
# errors instead of numbers against broken servers, a server limit ends the
# run cleanly, bad arguments rejected, nothing left behind.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use SBTest;
use Scalebench::Result qw(parse_text);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX qw(_exit);
use Test::More;

my ($httpd, $hb) = (bin('httpd'), bin('httpbench'));
-x $httpd && -x $hb or plan skip_all => 'httpd or httpbench not built';
my $cols = 'n connect_ns sample_connect_ns request_ns';

my $dir = tempdir(CLEANUP => 1);
chmod 0755, $dir;   # served by an unprivileged httpd below
open my $f, '>:raw', "$dir/page.html" or die;
print $f 'x' x 4096;
close $f;

my $srv = start_server([ $httpd, '-r', $dir ], ready => qr/^listening /);
my ($port) = $srv->{line} =~ /^listening \S+ (\d+)/;

# -c 1000: 1000 idle connections, a sample of 5 fresh connections every 10
my $r = run([ $hb, '-c', 1000, "http://127.0.0.1:$port/page.html" ], timeout => 120);
is($r->{exit}, $EXIT_OK, '-c 1000: exits 0') or diag $r->{err};
is_deeply([ check_output($r->{out}, rows => 1500, columns => $cols, end => 'completed', bench => 'httpbench') ],
    [], '-c 1000: a valid result file, 1000 + 100 * 5 rows');
my $p = parse_text($r->{out});
my @idle = grep { $_->[1] ne '-' } @{ $p->{rows} };
my @samp = grep { $_->[1] eq '-' } @{ $p->{rows} };
is_deeply([ map { $_->[0] } @idle ], [ 0 .. 999 ], 'one connect_ns row per idle connection, n = 0 .. 999');
ok(!(grep { $_->[2] ne '-' || $_->[3] ne '-' } @idle), 'idle rows have no sample values');
is(scalar @samp, 500, '500 sample rows');
ok(!(grep { $_->[0] % 10 || $_->[2] eq '-' || $_->[3] eq '-' } @samp),
    'samples at every 10th n, each with its own connect and request time');
like($p->{header}{sources}, qr/one address/, 'the header says how connections were spread');
like($p->{header}{slow_over_200ms}, qr/^connect \d+, request \d+/, 'and counts stalls over 200 ms');
is($p->{header}{server}, 'scalebench-httpd', 'and names the server');
ok(!@{ $r->{left} }, 'nothing of httpbench is left');

# -k: one connection per sample
$r = run([ $hb, '-c', 100, '-i', 20, '-s', 4, '-k', "http://127.0.0.1:$port/page.html" ], timeout => 60);
is($r->{exit}, $EXIT_OK, '-k: exits 0') or diag $r->{err};
is_deeply([ check_output($r->{out}, rows => 120, columns => $cols, end => 'completed') ], [], '-k: valid, 100 + 5 * 4 rows');
$p = parse_text($r->{out});
my @s = grep { $_->[1] eq '-' } @{ $p->{rows} };
is(scalar(grep { $_->[2] ne '-' } @s), 5, '-k: one connect per sample, reused for its 4 requests');

# a host name and an IPv6 literal
$r = run([ $hb, '-c', 20, "http://localhost:$port/page.html" ], timeout => 60);
is($r->{exit}, $EXIT_OK, 'a host name (localhost) works') or diag $r->{err};
SKIP: {
    my $s6 = eval { start_server([ $httpd, '-l', '::1', '-r', $dir ], ready => qr/^listening /, timeout => 10) };
    skip 'no IPv6 loopback here', 2 unless $s6;
    my ($p6) = $s6->{line} =~ /^listening \S+ (\d+)/;
    $r = run([ $hb, '-c', 50, "http://[::1]:$p6/page.html" ], timeout => 60);
    is($r->{exit}, $EXIT_OK, '[::1]: exits 0') or diag $r->{err};
    like(parse_text($r->{out})->{header}{target} // '', qr/^::1 port $p6$/, '[::1]: the target is ::1');
    stop_server($s6);
}

# a missing file is an error, not a number
$r = run([ $hb, '-c', 5, "http://127.0.0.1:$port/missing" ], timeout => 60);
is($r->{exit}, $EXIT_FAIL, '404: exits 1');
is_deeply([ check_output($r->{out}, end => 'failed', rows => 0) ], [], '404: valid output, no rows');
like(parse_text($r->{out})->{end}, qr/^failed: request: status line 'HTTP\/1\.1 404/, '404: the end line says so');

# SIGTERM mid-run: rows so far, then death by that signal; keeper processes
# (a low descriptor limit forces them) and everything else gone.
$r = run([ $hb, '-c', 15000, "http://127.0.0.1:$port/page.html" ], timeout => 120,
    shell => 'ulimit -n 1000; setsid sh -c "sleep 1; kill -TERM $$" & :');   # the killer is not of its group
is($r->{signal}, 15, 'SIGTERM: dies by SIGTERM');
is_deeply([ check_output($r->{out}, end => 'interrupted', min_rows => 100) ], [], 'SIGTERM: the rows so far, valid');
like(parse_text($r->{out})->{header}{connections_held} // '', qr/^936 in this process, \d+ in [1-9]\d* keeper process/,
    'SIGTERM: keepers held the connections past its descriptor limit');
ok(!@{ $r->{left} }, 'SIGTERM: nothing of it is left');

is(stop_server($srv)->{exit}, 0, 'httpd ends with exit 0');

# Broken servers: each answers every request the same wrong way.
sub fake_server {
    my ($reply) = @_;
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 64, ReuseAddr => 1) or die;
    my $pid = fork // die;
    if ($pid == 0) {
        $SIG{PIPE} = 'IGNORE';
        while (my $c = $l->accept) {
            my $req = '';
            while ($req !~ /\r\n\r\n/) { sysread($c, $req, 4096, length $req) or last }
            syswrite($c, $reply) if length $reply;
            close $c;
        }
        _exit(0);
    }
    my $port = $l->sockport;
    close $l;
    return ($pid, $port);
}
for my $case (
    [ 'closes at once', '', qr/closed the connection after 0 bytes/ ],
    [ 'short body', "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" . ('y' x 50), qr/short body: .* 50 of 100 body bytes/ ],
    [ 'long body', "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n" . ('y' x 50), qr/40 bytes after a body of Content-Length 10/ ],
    [ 'no length', "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" . ('y' x 50), qr/without a valid Content-Length/ ],
    [ 'not HTTP', "SSH-2.0-OpenSSH\r\n\r\n", qr/is not HTTP\/1\.x 200/ ],
) {
    my ($name, $reply, $why) = @$case;
    my ($pid, $fport) = fake_server($reply);
    my $res = run([ $hb, '-c', 5, "http://127.0.0.1:$fport/" ], timeout => 60);
    kill 'KILL', $pid;
    waitpid($pid, 0);
    is($res->{exit}, $EXIT_FAIL, "$name: exits 1");
    my $pp = parse_text($res->{out});
    is_deeply([ check_output($res->{out}, end => 'failed') ], [], "$name: still a valid result file");
    ok(!(grep { $_->[3] ne '-' } @{ $pp->{rows} }), "$name: no request time was recorded");
    like($pp->{end} // '', qr/^failed: request: .*$why/, "$name: the error says what was wrong");
}

# nothing listening: an error at n=0
{
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1) or die;
    my $dead = $l->sockport;
    close $l;
    my $res = run([ $hb, '-c', 5, "http://127.0.0.1:$dead/" ], timeout => 60);
    is($res->{exit}, $EXIT_FAIL, 'nothing listening: exits 1');
    like(parse_text($res->{out})->{end} // '', qr/^failed: (?:sample )?connect\(\) .*ECONNREFUSED \(nothing listens there\)/, 'nothing listening: says so');
}

# The server's descriptor limit ends the run cleanly, named (takes ~10 s).
SKIP: {
    my $pre = unprivileged();
    skip 'root, and no setpriv to drop privileges', 4 unless defined $pre;
    my $small = start_server([ @$pre, $httpd, '-r', $dir ], ready => qr/^listening /, shell => 'ulimit -n 64');
    my ($sp) = $small->{line} =~ /^listening \S+ (\d+)/;
    my $res = run([ $hb, '-c', 200, "http://127.0.0.1:$sp/page.html" ], timeout => 60);
    is($res->{exit}, $EXIT_LIMIT, 'a server at its descriptor limit: exit 3');
    is_deeply([ check_output($res->{out}, end => 'stopped', min_rows => 30) ], [], 'valid output, rows so far kept');
    like(parse_text($res->{out})->{end} // '', qr/^stopped: request at n=\d+: ETIMEDOUT \(no response within 10 s/,
        'the end line names the timeout and why');
    is(stop_server($small)->{exit}, 0, 'that httpd still ends with exit 0');
}

for my $bad ([], [ '-c', 0, 'http://127.0.0.1:1/' ], [ '-i', 'x', 'http://127.0.0.1:1/' ], ['https://127.0.0.1/'],
             ['http://127.0.0.1:99999/'], ['http://[::1/'], ['http:///x'], [ 'http://127.0.0.1:1/', 'extra' ], ['-x']) {
    my $res = run([ $hb, @$bad ], timeout => 10);
    my $what = join(' ', @$bad) || '(no arguments)';
    is($res->{exit}, $EXIT_USAGE, "$what: usage status");
    ok($res->{err} =~ /\A[^\n]+\n\z/ && $res->{out} eq '', "$what: a one-line error, no output");
}
$r = run([ $hb, '-h' ]);
is($r->{exit}, 0, '-h exits 0');
like($r->{out}, qr/^usage: httpbench/, '-h prints the usage');

done_testing;
