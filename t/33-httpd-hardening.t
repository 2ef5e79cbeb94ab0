#!/usr/bin/env perl
# httpd under attack: a corpus of malformed and malicious requests (traversal
# in every encoding, NUL bytes, overlong lines, 10,000 headers, bare LF,
# HTTP/0.9, pipelining, chunked bodies and smuggling attempts), slowloris, and
# a bounded mutation fuzz (SB_FUZZ_CASES, default 3000; SB_FUZZ_SEED) under
# every event backend. httpd must never serve anything from outside its root,
# never crash (CI runs this against the ASan/UBSan build too), and answer or
# close every connection within a bound. A longer fuzz: scripts/fuzz-httpd.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use SBTest;
use SBHttpFuzz;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use Time::HiRes qw(time sleep);
use Test::More;

my $httpd = bin('httpd');
-x $httpd or plan skip_all => "$httpd not built";

my $dir = tempdir(CLEANUP => 1);
my ($root, $secret, $files) = make_root($dir);
my @corpus = corpus();
my $cases = $ENV{SB_FUZZ_CASES} // 3000;
my $seed = $ENV{SB_FUZZ_SEED} // 1;
diag "fuzz: $cases cases, seed $seed (SB_FUZZ_CASES, SB_FUZZ_SEED)" if $ENV{SB_FUZZ_CASES} || $ENV{SB_FUZZ_SEED};

my @backends = ('poll', 'select');
unshift @backends, 'epoll' if $^O eq 'linux';
unshift @backends, 'kqueue' if $^O =~ /bsd|darwin|dragonfly/i;

my $fuzz = fuzzer(seed => $seed, seeds => [ map { $_->[1] } @corpus ]);
for my $be (@backends) {
    my $srv = start_server([ $httpd, '-e', $be, '-r', $root ], ready => qr/^listening /);
    my ($port) = $srv->{line} =~ /^listening \S+ (\d+)/;

    # the corpus: each request on a connection of its own
    my $res = exchange($port, [ map { $_->[1] } @corpus ], parallel => 16, bound => 5);
    my @bad;
    for my $i (0 .. $#corpus) {
        my ($name, undef, $want) = @{ $corpus[$i] };
        my @st = statuses($res->[$i]{reply});
        if ($name =~ /^(\d+) pipelined/) {
            push @bad, "$name: " . scalar(@st) . " answers (@st[0 .. ($#st < 3 ? $#st : 3)] ...)"
                unless @st == $1 && !grep { $_ != 200 } @st;
        } elsif ($want && !(@st && $st[0] =~ $want)) {
            push @bad, "$name: status " . ($st[0] // 'none') . ", expected $want";
        }
    }
    is_deeply(\@bad, [], "$be: every corpus request gets the answer it must (" . scalar(@corpus) . " requests)");
    my @p = problems($res, $secret, $files);
    is_deeply(\@p, [], "$be: corpus: nothing from outside the root, only HTTP/1.1 answers, every connection "
        . "answered or closed within 5 s");

    # the mutation fuzz, a share of the cases per backend
    my $n = int($cases / @backends);
    my @req = map { $fuzz->() } 1 .. $n;
    $res = exchange($port, \@req, parallel => 32, bound => 5);
    @p = problems($res, $secret, $files);
    is_deeply([ @p[0 .. ($#p < 9 ? $#p : 9)] ], [], "$be: $n mutated requests: nothing forbidden happened")
        or diag join "\n", map { "request: " . ($_ =~ /^#(\d+)/ ? join('', map { $_ ge ' ' && $_ le '~' ? $_ : sprintf('\\x%02x', ord) } split //, substr($req[$1], 0, 200)) : '') } @p[0 .. ($#p < 4 ? $#p : 4)];
    ok(kill(0, $srv->{pid}), "$be: httpd is still running");
    $res = exchange($port, ["GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n"]);
    like($res->[0]{reply}, qr/\AHTTP\/1\.1 200 OK\r\n.*\r\n\r\nsmall\n\z/s, "$be: and still serves");
    my $st = stop_server($srv);
    is($st->{exit}, 0, "$be: SIGTERM ends it with status 0") or diag $st->{err};
    unlike($st->{err}, qr/AddressSanitizer|LeakSanitizer|runtime error|\bSEGV\b/, "$be: no sanitizer report");
}

# slowloris: 20 connections each dripping a header byte every half second
# never finish their request; they are ended (408 or closed) at the request
# deadline while other clients are served meanwhile.
{
    my $srv = start_server([ $httpd, '-r', $root ], ready => qr/^listening /);
    my ($port) = $srv->{line} =~ /^listening \S+ (\d+)/;
    my @slow = map { IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) or die "connect: $!" } 1 .. 20;
    syswrite($_, "GET /small.txt HTTP/1.1\r\nHost: x\r\nX-Slow: ") for @slow;
    my %reply;
    my %open = map { $_ => $_ } @slow;
    my $served;
    my $deadline = time + 25;
    local $SIG{PIPE} = 'IGNORE';
    my $next_drip = time;
    while (%open && time < $deadline) {
        if (time >= $next_drip) {
            syswrite($_, 'b') for values %open;
            $next_drip = time + 0.5;
        }
        if (!defined $served && time > $deadline - 23) {
            my $r = exchange($port, ["GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n"], bound => 5);
            $served = $r->[0]{reply};
        }
        my $bits = '';
        vec($bits, fileno($_), 1) = 1 for values %open;
        next unless select(my $rb = $bits, undef, undef, 0.1) > 0;
        for my $s (values %open) {
            next unless vec($rb, fileno($s), 1);
            my $n = sysread($s, my $buf, 4096);
            if ($n) { $reply{$s} .= $buf; next }
            delete $open{$s};
        }
    }
    like($served // '', qr/\AHTTP\/1\.1 200 /, 'slowloris: another client is served meanwhile');
    is(scalar keys %open, 0, 'slowloris: every dripping connection is ended by the server (within 25 s)');
    my @not408 = grep { length && !/\AHTTP\/1\.1 408 / } values %reply;
    is_deeply(\@not408, [], 'slowloris: what they get is 408 Request Timeout, if anything');
    my $st = stop_server($srv);
    is($st->{exit}, 0, 'slowloris: httpd ends cleanly');
}

done_testing;
