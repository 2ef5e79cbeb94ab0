#!/usr/bin/env perl
# Buckets and growth verdicts (harness/lib/Scalebench/Complexity.pm) on
# synthetic runs of known shape: noise, outliers, cold starts and warm-ups,
# counts, steps, saturation, two bands, a late rise, many fixed seeds.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../harness/lib";
use SBFixtures qw(series);
use Scalebench::Complexity qw(buckets verdict median quantile);

# ---- a generator of runs: [[pack n, pack values], ...]
sub rng {
    my $s = shift;
    return sub { $s = ($s * 1103515245 + 12345) % 2147483648; $s / 2147483648 };
}

# gen(law => sub { n -> value }, N => count, R => runs, noise => width of the
# uniform noise (+-noise/2), out => share of outliers 5..50x too high,
# cold => [factor at n = 0, at n = 1, ...], warm => [factor, tau] (a decaying
# warm-up 1 + factor e^(-n/tau)), ns => [n values] with reps => repeats of
# each, value => sub { (n, rand) -> value } instead of law/noise, seed => S)
sub gen {
    my %o = @_;
    my @runs;
    for my $r (1 .. ($o{R} // 5)) {
        my $rand = rng($o{seed} * 7919 + $r * 104729 + 17);
        my @ns = $o{ns} ? map { ($_) x ($o{reps} // 1) } @{ $o{ns} } : (0 .. $o{N} - 1);
        my @y;
        for my $n (@ns) {
            my $v;
            if ($o{value}) {
                $v = $o{value}->($n, $rand, $r);
            } else {
                $v = $o{law}->($n, $r) * (1 + ($o{noise} // 0.3) * ($rand->() - 0.5));
                $v *= 5 + 45 * $rand->() if $rand->() < ($o{out} // 0.02);
            }
            $v *= $o{cold}[$n] if $o{cold} && $n < @{ $o{cold} };
            $v *= 1 + $o{warm}[0] * exp(-$n / $o{warm}[1]) if $o{warm};
            push @y, $v;
        }
        push @runs, [ pack('d*', @ns), pack('d*', @y) ];
    }
    return \@runs;
}

sub poisson {
    my ($l, $rand) = @_;
    my ($k, $p, $L) = (0, 1, exp(-$l));
    while (1) { $p *= $rand->(); last if $p < $L; $k++ }
    return $k;
}

is(median(3, 1, 2), 2, 'median of an odd list');
is(median(4, 1, 3, 2), 2.5, 'median of an even list');
is(median(), undef, 'median of nothing');

# ---- buckets
{
    my @runs;
    for my $run (1 .. 5) {
        my $s = series('constant', 2000, seed => $run * 101);
        push @runs, [ pack('d*', map { $_->[0] } @$s), pack('d*', map { $_->[1] } @$s) ];
    }
    my $bk = buckets(\@runs);
    my $p = $bk->{pooled};
    ok(@$p >= 10, 'constant: ' . scalar(@$p) . ' buckets');
    my $pts = 0;
    $pts += $_->{count} for @$p;
    is($pts, 10000, 'every point is in a bucket');
    is($bk->{points}, 10000, 'points counted');
    is($p->[-1]{n_hi}, 1999, 'the last bucket reaches the last n');
    is("$bk->{n_min} $bk->{n_max} $bk->{runs}", '0 1999 5', 'n_min, n_max, runs');
    is(scalar @{ $bk->{per_run} }, 5, 'one bucket list per run');
    my %ks = map { $_->{k} => 1 } @$p;
    ok(!grep({ !$ks{ $_->{k} } } map { @$_ } @{ $bk->{per_run} }), "every run's bucket is on the pooled grid");
    my $prev = -1;
    ok(!grep({ my $bad = $_->{n_lo} <= $prev; $prev = $_->{n_hi}; $bad } @$p), 'buckets in order of n, not overlapping');
    # x = n + 1 log-spaced, 8 per decade: n = 999 and n = 1000 .. 1332 share a bucket
    my ($b999) = grep { $_->{n_lo} <= 999 && $_->{n_hi} >= 999 } @$p;
    is("$b999->{n_lo} $b999->{n_hi}", '999 1332', 'the bucket of n = 999 is 999..1332 (x = 10^3 .. 10^3.125)');
    # exact quantiles of a small bucket
    my @v = sort { $a <=> $b } map { my ($n, $y) = @$_; my @n = unpack('d*', $n); my @y = unpack('d*', $y);
                                     map { $y[$_] } grep { $n[$_] >= 999 && $n[$_] <= 1332 } 0 .. $#n } @runs;
    is($b999->{median}, quantile(\@v, 0.5), 'the pooled median is exact') or diag(scalar(@v) . " values, count $b999->{count}");
    is($b999->{p10} . ' ' . $b999->{p90}, quantile(\@v, 0.1) . ' ' . quantile(\@v, 0.9), 'p10 and p90 exact');
    my $mean = 0;
    $mean += $_ for @v;
    ok(abs($b999->{mean} - $mean / @v) < 1e-6 * $b999->{mean}, 'the mean');
    my $r1 = (grep { $_->{k} == $b999->{k} } @{ $bk->{per_run}[0] })[0];
    my @n1 = unpack('d*', $runs[0][0]);
    my @y1 = unpack('d*', $runs[0][1]);
    my @v1 = sort { $a <=> $b } map { $y1[$_] } grep { $n1[$_] >= 999 && $n1[$_] <= 1332 } 0 .. $#n1;
    is($r1->{median}, quantile(\@v1, 0.5), "run 1's median of the bucket");
    is($r1->{count}, 334, "run 1's count in the bucket");
}
# a bucket of more than $CAP values: quantiles from a stride sample, close
{
    my $rand = rng(5);
    my @y = map { 1000 + 1000 * $rand->() } 1 .. 120000;
    my $b = buckets([ [ pack('d*', (100000) x @y), pack('d*', @y) ] ]);
    my $e = $b->{pooled}[0];
    is($e->{count}, 120000, 'a bucket of 120000 values');
    ok(abs($e->{median} - 1500) < 10, "its median $e->{median} ~ 1500 (uniform 1000..2000)");
    ok(abs($e->{p90} - 1900) < 10, "its p90 $e->{p90} ~ 1900");
    ok(abs($e->{mean} - 1500) < 5, "its mean $e->{mean} (exact over all values)");
}
{
    my $b = buckets([]);
    is_deeply([ $b->{points}, scalar @{ $b->{pooled} } ], [ 0, 0 ], 'no runs: no buckets');
    my $v = verdict($b);
    is($v->{class}, 'inconclusive', 'no points: inconclusive');
    ok(length $v->{reason}, 'with a reason');
}

# ---- known growth at several sizes and noise levels
my %want = (constant => 'O(1)', logarithmic => 'O(log n)', linear => 'O(n)', quadratic => 'O(n^2)');
my %exp = (linear => 1, quadratic => 2);
for my $law (sort keys %want) {
    for my $case ([ 10000, 5, 0.3, 0.02 ], [ 2000, 3, 0.6, 0.05 ], [ 500, 5, 0.3, 0.10 ]) {
        my ($count, $runs, $noise, $out) = @$case;
        my @runs;
        for my $run (1 .. $runs) {
            my $s = series($law, $count, noise => $noise, outliers => $out, seed => $run * 101);
            push @runs, [ pack('d*', map { $_->[0] } @$s), pack('d*', map { $_->[1] } @$s) ];
        }
        my $v = verdict(buckets(\@runs));
        my $what = "$law, n < $count, $runs runs, noise $noise, outliers $out";
        is($v->{class}, $want{$law}, "$what: $v->{class}") or diag($v->{reason});
        if (defined $exp{$law}) {
            ok(($v->{b_lo} // -1) <= $exp{$law} + 0.1 && ($v->{b_hi} // -1) >= $exp{$law} - 0.1,
               "$what: exponent interval " . ($v->{b_lo} // '-') . '..' . ($v->{b_hi} // '-') . " holds $exp{$law}");
        }
        is($v->{warmup}, 1, "$what: the cold n = 0 is the warm-up") if $count >= 2000;
    }
}

# ---- the synthetic cases of issue 15, many seeds each
# name => [generator options, allowed classes, the right class, share of
# seeds that must get the right class, seeds]
my %CASE = (
    'flat Poisson(0.7) count, N = 1e4' => [ { value => sub { poisson(0.7, $_[1]) }, N => 10000, count => 1 },
                                           [ 'O(1)', 'inconclusive' ], 'O(1)', 0.8, 10 ],
    'cold start 6x at n = 0..1, log growth over 1000 n' =>
        [ { law => sub { 1000 + 150 * log($_[0] + 1) }, N => 1000, cold => [ 6, 6 ] },
          [ 'O(log n)', 'inconclusive' ], 'O(log n)', 0.7, 20 ],
    'warm-up + linear' => [ { law => sub { 1000 + 2 * $_[0] }, N => 1000, warm => [ 5, 4 ], cold => [ 6, 6 ] },
                            [ 'O(n)', 'inconclusive' ], 'O(n)', 0.7, 20 ],
    'linear 1.5x' => [ { law => sub { 1000 + 0.5 * $_[0] }, N => 1000, cold => [ 6, 6 ] },
                       [ 'O(n)', 'late rise', 'inconclusive' ], 'late rise', 0.5, 20 ],
    'linear 2x' => [ { law => sub { 1000 + 1.0 * $_[0] }, N => 1000, cold => [ 6, 6 ] },
                     [ 'O(n)', 'inconclusive' ], 'O(n)', 0.7, 20 ],
    'saturating a + c n/(n + 100)' => [ { law => sub { 1000 + 2000 * $_[0] / ($_[0] + 100) }, N => 4000, cold => [ 6, 6 ] },
                                        [ 'saturating', 'inconclusive' ], 'saturating', 0.7, 12 ],
    'saturating a + c (1 - e^(-n/300))' => [ { law => sub { 1000 + 1500 * (1 - exp(-$_[0] / 300)) }, N => 4000, cold => [6] },
                                             [ 'saturating', 'inconclusive' ], 'saturating', 0.7, 12 ],
    'bounded 2x step, heavy noise' => [ { law => sub { $_[0] < 2000 ? 1000 : 2000 }, N => 4000, noise => 1.2, out => 0.05, cold => [6] },
                                        [ 'step', 'saturating', 'inconclusive' ], 'step', 0.7, 12 ],
    'bind-like cliff 1.43 us -> 1.52 ms at n = 14100' =>
        [ { law => sub { $_[0] < 14100 ? 1430 : 1520000 }, N => 16000, cold => [6] }, ['step'], 'step', 1, 5 ],
    'flat with a cold start' => [ { law => sub { 2000 }, N => 5000, cold => [ 20, 3 ] }, ['O(1)'], 'O(1)', 1, 10 ],
    'flat epoll-like, log-spaced n' => [ { law => sub { 800 }, ns => [ 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000 ],
                                           reps => 100, noise => 0.1, out => 0.01 }, ['O(1)'], 'O(1)', 1, 10 ],
    'two bands, the upper one thinning (fd-append-like)' =>
        [ { value => sub { my ($n, $r) = @_; ($r->() < 0.7 - 0.4 * $n / 4000 ? 2500 : 1000) * (0.95 + 0.1 * $r->()) }, N => 4000 },
          [ 'two bands', 'inconclusive' ], 'two bands', 0.8, 10 ],
    'late rise to 1.45x over the last 40% of n (bind-ipv6-like)' =>
        [ { law => sub { $_[0] < 6000 ? 1500 : 1500 * (1 + 0.45 * ($_[0] - 6000) / 4000) }, N => 10000, cold => [6] },
          [ 'late rise', 'O(1)', 'inconclusive' ], 'late rise', 0.7, 8 ],
);
my %grows = map { $_ => 1 } grep { !/flat|two bands/ } keys %CASE;
my %dist;
for my $name (sort keys %CASE) {
    my ($o, $allowed, $right, $share, $seeds) = @{ $CASE{$name} };
    my %ok = map { $_ => 1 } @$allowed;
    my ($bad, $hits, @v) = (0, 0);
    for my $seed (1 .. $seeds) {
        my $v = verdict(buckets(gen(%$o, seed => $seed), count => $o->{count} // 0));
        push @v, $v;
        $dist{$name}{ $v->{class} }++;
        $hits++ if $v->{class} eq $right;
        if (!$ok{ $v->{class} }) {
            $bad++;
            diag("$name, seed $seed: $v->{label}: $v->{reason}");
        }
        if ($grows{$name} && $v->{class} eq 'O(1)' && $name !~ /late rise/) {
            fail("$name, seed $seed: a growing series called O(1)");
        }
        if ($v->{class} ne 'inconclusive' && $v->{severity} eq 'growth' && $v->{growth} < 1.5) {
            fail("$name, seed $seed: growth $v->{growth} below 1.5 shown red ($v->{label})");
        }
    }
    my $d = join(', ', map { "$_ $dist{$name}{$_}" } sort keys %{ $dist{$name} });
    is($bad, 0, "$name: every seed's verdict is one of @$allowed ($d)");
    ok($hits >= $share * $seeds, "$name: $hits of $seeds seeds are $right");
    if ($name =~ /^bind/) {
        for my $v (@v) {
            ok($v->{growth} > 500 && $v->{growth} < 2000, "bind: the growth is the data's, $v->{growth}x (~1063x)");
            like($v->{label}, qr/^step \d+x at n≈1[34]\d{3}$/, "bind: '$v->{label}'");
            ok(abs($v->{step}{n} - 14100) < 1000, "bind: the step at n = $v->{step}{n}");
            is($v->{severity}, 'growth', 'bind: a 1000x cliff is red');
        }
    }
    if ($name =~ /Poisson/) {
        ok(!grep({ $_->{severity} eq 'growth' || $_->{severity} eq 'mild' } @v), 'a flat count never grows');
        ok(!grep({ $_->{growth} > 1.25 } @v), 'nor shows growth: ' . join(' ', map { sprintf '%.2f', $_->{growth} } @v));
    }
    if ($name =~ /late rise/) {
        ok(!grep({ $_->{severity} eq 'growth' } @v), 'a late rise is never red');
        for my $v (grep { $_->{class} eq 'late rise' } @v) {
            like($v->{label}, qr/^late rise 1\.[0-9]+x$/, "late rise: '$v->{label}'");
            is($v->{severity}, 'mild', 'late rise: mild');
        }
    }
    if ($name =~ /cold start|warm-up/) {
        ok(!grep({ $_->{warmup} < 2 } @v), "$name: the warm-up is left out: " . join(' ', map { $_->{warmup} } @v));
    }
    if ($name =~ /^warm-up/) {
        ok(!grep({ $_->{warmup} > 40 } @v), 'warm-up + linear: the warm-up is the first few tens of operations');
    }
    if ($name =~ /two bands/) {
        for my $v (grep { $_->{class} eq 'two bands' } @v) {
            ok($v->{bands}[0] < 1100 && $v->{bands}[1] > 2300, "two bands: about $v->{bands}[0] and $v->{bands}[1]");
        }
    }
}

# ---- the headline levels: small n and large n, after the warm-up
{
    my $v = verdict(buckets(gen(law => sub { 1000 + 2 * $_[0] }, N => 2000, cold => [ 20, 5 ], seed => 1)));
    is($v->{class}, 'O(n)', 'linear: O(n)');
    ok($v->{small}{n_lo} >= 1 && $v->{small}{n_hi} < 50, "small n: $v->{small}{n_lo}..$v->{small}{n_hi}");
    ok(abs($v->{small}{value} / (1000 + 2 * ($v->{small}{n_lo} + $v->{small}{n_hi}) / 2) - 1) < 0.1,
       "the level at small n, $v->{small}{value}");
    is($v->{large}{n_hi}, 1999, 'large n ends at the last n');
    ok(abs($v->{large}{value} / (1000 + 2 * ($v->{large}{n_lo} + 1999) / 2) - 1) < 0.1, "the level at large n, $v->{large}{value}");
    ok(abs($v->{growth} - $v->{large}{value} / $v->{small}{value}) < 1e-9, 'growth = large / small');
    ok($v->{growth_lo} <= $v->{growth} && $v->{growth} <= $v->{growth_hi}, "growth interval $v->{growth_lo}..$v->{growth_hi}");
    is($v->{runs_agree}, '5 of 5', 'all 5 runs grow');
    ok(ref $v->{curve} eq 'ARRAY' && @{ $v->{curve} } >= 5, 'a fitted curve');
    like($v->{reason}, qr/resampling 5 runs/, 'the interval comes from resampling runs');
}

# ---- growth in 2 runs of 5 only: not a growth verdict
{
    my $v = verdict(buckets(gen(law => sub { $_[1] <= 2 ? 1000 + 3 * $_[0] : 1000 }, N => 2000, seed => 3)));
    isnt($v->{severity}, 'growth', "growth in 2 of 5 runs: $v->{label} ($v->{reason})");
    is($v->{runs_agree}, '2 of 5', 'runs_agree says 2 of 5');
}

# ---- fewer than 3 runs: said, and the interval from buckets
{
    my $v = verdict(buckets(gen(law => sub { 1000 + 2 * $_[0] }, N => 3000, R => 2, seed => 4)));
    is($v->{class}, 'O(n)', "2 runs of a line: $v->{class}");
    like($v->{reason}, qr/only 2 runs/, 'the reason says so');
    $v = verdict(buckets(gen(law => sub { 900 }, N => 3000, R => 1, seed => 4)));
    is($v->{class}, 'O(1)', "1 run, flat: $v->{class} ($v->{reason})");
}

# ---- inconclusive: too narrow a range of n, too few points
{
    my $b = buckets([ [ pack('d*', map { $_ % 4 } 0 .. 399), pack('d*', map { 1000 + 100 * ($_ % 4) } 0 .. 399) ] ]);
    my $v = verdict($b);
    is($v->{class}, 'inconclusive', "n = 0..3 only: inconclusive ($v->{reason})");
    $v = verdict(buckets([ [ pack('d*', 0 .. 9), pack('d*', (1000) x 10) ] ]));
    is($v->{class}, 'inconclusive', "10 points: inconclusive ($v->{reason})");
}

# ---- counts may be 0: all zero is flat; one per waiter is linear
{
    my @n = map { 1 + $_ % 64 } 0 .. 639;
    my $v = verdict(buckets([ [ pack('d*', @n), pack('d*', (0) x @n) ] ], count => 1));
    is($v->{class}, 'O(1)', "a count that is always 0: O(1) ($v->{reason})");
    $v = verdict(buckets([ map { [ pack('d*', @n), pack('d*', @n) ] } 1 .. 3 ], count => 1));
    is($v->{class}, 'O(n)', "a count of n (every waiter woken): O(n) ($v->{reason})");
}

# ---- reproducible; and the old interface verdict(\@n, \@y) still answers
{
    my $runs = gen(law => sub { 1500 + 400 * log($_[0] + 1) }, N => 2000, R => 3, seed => 9);
    my ($a, $b) = (verdict(buckets($runs)), verdict(buckets($runs)));
    is("$a->{growth_lo} $a->{growth_hi} $a->{b_lo} $a->{b_hi}", "$b->{growth_lo} $b->{growth_hi} $b->{b_lo} $b->{b_hi}",
       'the same data, the same intervals');
    my $v = verdict([ map { $_ % 2000 } 0 .. 5999 ], [ map { 1000 + 2 * ($_ % 2000) } 0 .. 5999 ]);
    is($v->{class}, 'O(n)', 'verdict(\@n, \@y): O(n)');
}

done_testing();
