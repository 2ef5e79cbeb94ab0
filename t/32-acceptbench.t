#!/usr/bin/env perl
# acceptbench: valid output, both ends kept open (past a small descriptor
# limit too, by keeper processes), nothing left behind, bad arguments rejected.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use SBTest;
use Scalebench::Result qw(parse_text);
use Test::More;

my $ab = bin('acceptbench');
-x $ab or plan skip_all => "$ab not built";

my $r = run([ $ab, '-c', 3000 ], timeout => 120);
is($r->{exit}, $EXIT_OK, '-c 3000: exits 0') or diag $r->{err};
is_deeply([ check_output($r->{out}, rows => 3000, columns => 'n accept_ns', end => 'completed', bench => 'acceptbench') ],
    [], '-c 3000: a valid result file with 3000 rows');
my $p = parse_text($r->{out});
is_deeply([ map { $_->[0] } @{ $p->{rows} } ], [ 0 .. 2999 ], 'n counts the connections accepted before, 0 to 2999');
ok(!(grep { $_->[1] eq '-' } @{ $p->{rows} }), 'every accept measured');
like($p->{header}{connections_held}, qr/^3000 server ends in this process, 3000 descriptors in 1 keeper process$/,
    'all 3000 connections were held open, both ends');
ok(!@{ $r->{left} }, 'no keeper process is left');

SKIP: {
    my $pre = unprivileged();
    skip 'root, and no setpriv to drop privileges', 4 unless defined $pre;
    $r = run([ @$pre, $ab, '-c', 300 ], shell => 'ulimit -n 64', timeout => 120);
    is($r->{exit}, $EXIT_OK, 'ulimit -n 64, -c 300: completes (keeper processes hold the descriptors)')
        or diag $r->{err};
    is_deeply([ check_output($r->{out}, rows => 300, end => 'completed') ], [], 'with 300 valid rows');
    like(parse_text($r->{out})->{header}{connections_held} // '', qr/^0 server ends in this process, 600 descriptors in \d+ keeper processes$/,
        'the header says who held them');
    ok(!@{ $r->{left} }, 'and every keeper process is gone');
}

for my $bad ([ '-c', 0 ], [ '-c', 'x' ], ['-x'], ['extra']) {
    my $res = run([ $ab, @$bad ], timeout => 10);
    is($res->{exit}, $EXIT_USAGE, "@$bad: usage status");
    ok($res->{err} =~ /\A[^\n]+\n\z/ && $res->{out} eq '', "@$bad: a one-line error, no output");
}
$r = run([ $ab, '-h' ]);
is($r->{exit}, 0, '-h exits 0');
like($r->{out}, qr/^usage: acceptbench/, '-h prints the usage');

done_testing;
