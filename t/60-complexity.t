#!/usr/bin/env perl
# The complexity verdict (harness/lib/Scalebench/Complexity.pm) on synthetic
# data of known growth, with noise, outliers and a cold first operation.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../harness/lib";
use SBFixtures qw(series);
use Scalebench::Complexity qw(buckets verdict median);

sub pooled {
    my ($law, $count, $runs, %o) = @_;
    my (@n, @y);
    for my $run (1 .. $runs) {
        for (@{ series($law, $count, %o, seed => $run * 101 + ($o{seed} // 0)) }) {
            push @n, $_->[0];
            push @y, $_->[1];
        }
    }
    return (\@n, \@y);
}

is(median(3, 1, 2), 2, 'median of an odd list');
is(median(4, 1, 3, 2), 2.5, 'median of an even list');
is(median(), undef, 'median of nothing');

# Buckets: log-spaced, every point in one, up to the last n.
{
    my @runs;
    for my $run (1 .. 5) {
        my $s = series('constant', 2000, seed => $run * 101);
        push @runs, [ pack('d*', map { $_->[0] } @$s), pack('d*', map { $_->[1] } @$s) ];
    }
    my $b = buckets(\@runs);
    my $p = $b->{pooled};
    ok(@$p >= 10, 'constant: ' . scalar(@$p) . ' buckets');
    my $pts = 0;
    $pts += $_->{count} for @$p;
    is($pts, 10000, 'every point is in a bucket');
    is($b->{points}, 10000, 'points counted');
    is($p->[-1]{n_hi}, 1999, 'the last bucket reaches the last n');
    is($b->{n_max}, 1999, 'n_max');
    is(scalar @{ $b->{per_run} }, 5, 'one bucket list per run');
    ok($p->[-1]{median} > 1700 && $p->[-1]{median} < 2300, "the last bucket's median $p->[-1]{median}");
}

# Known growth -> known class, at several sizes and noise levels.
my %want = (constant => 'O(1)', logarithmic => 'O(log n)', linear => 'O(n)', quadratic => 'O(n^2)');
my %exp = (linear => 1, quadratic => 2);
for my $law (sort keys %want) {
    for my $case ([ 10000, 5, 0.3, 0.02 ], [ 2000, 3, 0.6, 0.05 ], [ 500, 5, 0.3, 0.10 ]) {
        my ($count, $runs, $noise, $out) = @$case;
        my ($n, $y) = pooled($law, $count, $runs, noise => $noise, outliers => $out);
        my $v = verdict($n, $y);
        my $what = "$law, n < $count, $runs runs, noise $noise, outliers $out";
        is($v->{class}, $want{$law}, "$what: $v->{class}") or diag($v->{reason});
        if (defined $exp{$law}) {
            ok($v->{b_lo} <= $exp{$law} + 0.1 && $v->{b_hi} >= $exp{$law} - 0.1,
               "$what: exponent $v->{exponent}, interval $v->{b_lo}..$v->{b_hi} holds $exp{$law}");
        }
        if ($law eq 'logarithmic') {
            ok($v->{exponent} < 0.3, "$what: exponent $v->{exponent} is near 0 (logarithmic)");
        }
        if ($law eq 'constant') {
            ok($v->{growth} < 1.25, "$what: growth $v->{growth}");
        }
    }
}

# Robust: 20% of the values 5-50x too high leave a constant constant, and a
# line a line.
for my $law (qw(constant linear)) {
    my ($n, $y) = pooled($law, 3000, 5, outliers => 0.2);
    is(verdict($n, $y)->{class}, $want{$law}, "$law with 20% outliers");
}

# A linear term too small to matter over the range is O(1); growth just at
# the bound cannot be called either way.
{
    my @n = map { $_ % 4000 } 0 .. 19999;
    my @y = map { 3000 + 0.05 * $_ * (0.9 + 0.2 * (($_ * 7919) % 100) / 100) } @n;
    my $v = verdict(\@n, \@y);
    is($v->{class}, 'O(1)', "3000 + 0.05 n over n < 4000 (growth $v->{growth}) is O(1)");
}

# Inconclusive: too narrow a range of n, too few points, a bimodal mess.
{
    my @n = map { $_ % 4 } 0 .. 399;
    my @y = map { 1000 + 100 * $_ } @n;
    my $v = verdict(\@n, \@y);
    is($v->{class}, 'inconclusive', "n = 0..3 only: inconclusive ($v->{reason})");
    $v = verdict([ 0 .. 9 ], [ map { 1000 } 0 .. 9 ]);
    is($v->{class}, 'inconclusive', "10 points: inconclusive ($v->{reason})");
    $v = verdict([], []);
    is($v->{class}, 'inconclusive', 'no points: inconclusive');
    is($v->{points}, 0, 'no points counted');
    # Few n values whose medians jump around without a trend or a flat band:
    # each n bucket's median is 1x or 8x the base, alternating in blocks.
    my (@bn, @by);
    for my $n (0 .. 63) {
        for my $r (1 .. 3) {
            push @bn, $n;
            push @by, 1000 * ((int($n / 8) % 2) ? 8 : 1) * (0.95 + 0.1 * $r / 3);
        }
    }
    $v = verdict(\@bn, \@by);
    isnt($v->{class}, 'O(1)', "a staircase 1x/8x is not O(1) ($v->{class}: $v->{reason})");
}

# Counts may be 0: all zero is constant; one per waiter is linear.
{
    my @n = map { 1 + $_ % 64 } 0 .. 639;
    my $v = verdict(\@n, [ map { 0 } @n ]);
    is($v->{class}, 'O(1)', "a count that is always 0: O(1) ($v->{reason})");
    $v = verdict(\@n, [ map { $_ } @n ]);
    is($v->{class}, 'O(n)', "a count of n (every waiter woken): O(n) ($v->{reason})");
}

# Reproducible: the bootstrap is seeded.
{
    my ($n, $y) = pooled('logarithmic', 2000, 3);
    my ($a, $b) = (verdict($n, $y), verdict($n, $y));
    is("$a->{b_lo} $a->{b_hi} $a->{growth_lo}", "$b->{b_lo} $b->{b_hi} $b->{growth_lo}", 'the same data, the same interval');
}

done_testing();
