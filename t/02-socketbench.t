#!/usr/bin/env perl
# socketbench: valid output, limits end runs cleanly, bad arguments rejected.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use SBTest;
use Scalebench::Result qw(parse_text);
use Test::More;

my $sb = bin('socketbench');
-x $sb or plan skip_all => "$sb not built";

for my $fam ([ 'IPv4', [] ], [ 'IPv6', ['-6'] ]) {
    my ($name, $args) = @$fam;
    my $r = run([ $sb, '-c', 10000, @$args ]);
    if ($name eq 'IPv6' && $r->{exit} && $r->{err} =~ /EAFNOSUPPORT/) {
        SKIP: { skip 'no IPv6 on this machine', 4 }
        next;
    }
    is($r->{exit}, $EXIT_OK, "$name: -c 10000 exits 0") or diag $r->{err};
    is_deeply([ check_output($r->{out}, rows => 10000, columns => 'n socket_ns bind_ns',
        end => 'completed', bench => 'socketbench') ], [], "$name: 10000 valid rows");
    my $p = parse_text($r->{out});
    my @n = map { $_->[0] } @{ $p->{rows} };
    is_deeply(\@n, [ 0 .. 9999 ], "$name: n counts the sockets that existed before, 0 to 9999");
    ok(!(grep { $_->[1] eq '-' || $_->[2] eq '-' } @{ $p->{rows} }), "$name: every socket() and bind() measured");
}

SKIP: {
    my $pre = unprivileged();
    skip 'root, and no setpriv to drop privileges', 6 unless defined $pre;
    my $r = run([ @$pre, $sb, '-c', 1000 ], shell => 'ulimit -n 64');
    is($r->{exit}, $EXIT_LIMIT, 'ulimit -n 64: exits with the stopped-at-limit status');
    is_deeply([ check_output($r->{out}, end => 'stopped', min_rows => 1) ], [], 'the output is still a valid result file');
    my $p = parse_text($r->{out});
    like($p->{end}, qr/^stopped: socket\(\) at n=\d+: EMFILE \(RLIMIT_NOFILE=64\)$/, 'the end line names socket(), EMFILE and the limit');
    my ($n) = $p->{end} =~ /n=(\d+)/;
    is(scalar @{ $p->{rows} }, $n, 'one row per socket made before the limit');
    ok($n > 40 && $n < 64, "it stopped near the limit (n=$n)");
    like($r->{err}, qr/^socketbench: stopped: socket\(\) at n=\d+: EMFILE/m, 'and says so on stderr');
}

for my $bad ([ '-c', 0 ], [ '-c', -5 ], [ '-c', 'abc' ], [ '-c', '12abc' ], [ '-c', '' ],
             [ '-c', '99999999999999999999' ], ['-x'], ['extra'], ['-c']) {
    my $r = run([ $sb, @$bad ]);
    my $what = join ' ', map { "'$_'" } @$bad;
    is($r->{exit}, $EXIT_USAGE, "$what: usage status");
    ok($r->{err} =~ /\A[^\n]+\n\z/ && $r->{out} eq '', "$what: a one-line error, no output")
        or diag "stderr: $r->{err}";
}
my $r = run([ $sb, '-h' ]);
is($r->{exit}, 0, '-h exits 0');
like($r->{out}, qr/^usage: socketbench/, '-h prints the usage');

done_testing;
