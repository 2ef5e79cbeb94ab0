#!/usr/bin/env perl
# The comparison of two tags' series (harness/lib/Scalebench/Compare.pm):
# ratios of medians per n range with bootstrap intervals, on synthetic
# series of known ratio, over fixed seeds.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/../harness/lib";
use Scalebench::Complexity qw(buckets);
use Scalebench::Compare qw(compare);

sub rng {
    my $s = shift;
    return sub { $s = ($s * 1103515245 + 12345) % 2147483648; $s / 2147483648 };
}

# Runs of law(n) with +-15% noise, 2% outliers and a level of each run's own
# (runs differ by a few percent, as real runs do: cache placement, boot).
sub gen {
    my (%o) = @_;
    my @runs;
    for my $r (1 .. ($o{R} // 5)) {
        my $rand = rng($o{seed} * 7919 + $r * 104729 + ($o{salt} // 0));
        my $run_level = 1 + ($o{spread} // 0.04) * ($rand->() - 0.5) * 2;
        my @n = (0 .. $o{N} - 1);
        my @y;
        for my $n (@n) {
            my $v = $o{count} ? _count($o{law}->($n), $rand)
                              : $o{law}->($n) * $run_level * (0.85 + 0.3 * $rand->());
            $v *= 5 + 45 * $rand->() if !$o{count} && $rand->() < 0.02;
            push @y, $v;
        }
        push @runs, [ pack('d*', @n), pack('d*', @y) ];
    }
    return buckets(\@runs, count => $o{count} // 0);
}

sub _count {    # Poisson
    my ($l, $rand) = @_;
    my ($k, $p, $L) = (0, 1, exp(-$l));
    while (1) { $p *= $rand->(); last if $p < $L; $k++ }
    return $k;
}

my $flat = sub { 1000 };
my $step3 = sub { $_[0] < 1000 ? 1000 : 3000 };    # 3x at n >= 1000, equal below
my $step500 = sub { $_[0] < 500 ? 1000 : 3000 };

# ---- the fields, a known ratio, worst and best
{
    my $c = compare(gen(law => $flat, N => 10000, seed => 1), gen(law => $step3, N => 10000, seed => 1, salt => 99));
    my $r = $c->{ranges};
    ok(@$r >= 2 && @$r <= 4, scalar(@$r) . ' ranges over 4 decades of n');
    for my $f (qw(n_lo n_hi base other ratio lo hi significant method)) {
        ok(!grep({ !defined $_->{$f} } @$r), "every range has $f");
    }
    is_deeply($c->{common}, [ 0, 9999 ], 'the common range');
    is($r->[-1]{n_hi}, 9999, 'the last range ends at the last common n');
    my $last = $r->[-1];
    ok(abs($last->{ratio} - 3) < 0.15, "large n: ratio $last->{ratio} ~ 3");
    ok($last->{lo} <= $last->{ratio} && $last->{ratio} <= $last->{hi}, "its interval $last->{lo}..$last->{hi}");
    is($last->{significant}, 1, 'significant');
    is($last->{method}, 'runs', 'intervals from resampling runs (5 and 5)');
    is($c->{worst}, $#$r, 'the worst range is the last');
    my $first = $r->[0];
    ok(abs($first->{ratio} - 1) < 0.15, "small n: ratio $first->{ratio} ~ 1");
    ok(abs($last->{other} / $last->{base} - $last->{ratio}) < 1e-9, 'ratio = other / base');
    like($c->{note}, qr/highest [23]\.\d\dx at n = 1333\.\.9999/, "note: $c->{note}");
    my $c2 = compare(gen(law => $flat, N => 10000, seed => 1), gen(law => $step3, N => 10000, seed => 1, salt => 99));
    is_deeply($c2, $c, 'deterministic: the same input, the same intervals');
}

# ---- across seeds: the interval covers the true ratio; equal is not
# significant (mostly); a 3x difference always is
{
    my ($cover, $total, $eq_sig, $eq_total, $big_sig, $big_total) = (0) x 6;
    my @missed;
    for my $seed (1 .. 12) {
        my $base = gen(law => $flat, N => 5000, seed => $seed);
        my $c = compare($base, gen(law => $step500, N => 5000, seed => $seed, salt => 99));
        for my $r (@{ $c->{ranges} }) {
            my $truth = $r->{n_hi} < 500 ? 1 : $r->{n_lo} >= 500 ? 3 : next;
            $total++;
            if ($r->{lo} <= $truth && $truth <= $r->{hi}) { $cover++ } else { push @missed, sprintf('%.3f..%.3f', $r->{lo}, $r->{hi}) }
            if ($truth == 3) { $big_total++; $big_sig += $r->{significant} }
        }
        my $e = compare($base, gen(law => $flat, N => 5000, seed => $seed, salt => 77));
        for my $r (@{ $e->{ranges} }) { $eq_total++; $eq_sig += $r->{significant} }
    }
    ok($big_total >= 12 && $total >= 36, "$total ranges of known ratio, $big_total of them 3x");
    ok($cover >= 0.8 * $total, "the 95% intervals cover the true ratio in $cover of $total ranges (missed: @missed)");
    is($big_sig, $big_total, "3x is significant in all $big_total ranges");
    ok($eq_sig <= 0.2 * $eq_total, "equal series: $eq_sig of $eq_total ranges marked significant");
}

# ---- a smaller other range: the common range is the shorter one
{
    my $c = compare(gen(law => $flat, N => 8000, seed => 3), gen(law => sub { 1500 }, N => 2000, seed => 3, salt => 5));
    is_deeply($c->{common}, [ 0, 1999 ], 'common range 0..1999');
    ok(!grep({ $_->{n_hi} > 1999 } @{ $c->{ranges} }), 'no range beyond it');
    ok(!grep({ abs($_->{ratio} - 1.5) > 0.1 } @{ $c->{ranges} }), 'ratio 1.5 everywhere: '
       . join(' ', map { sprintf '%.3f', $_->{ratio} } @{ $c->{ranges} }));
    is($c->{best}, $c->{best}, 'best is set');
    ok(defined $c->{best} && defined $c->{worst}, 'worst and best');
}

# ---- fewer than 3 runs on a side: buckets are resampled, and said so
{
    my $c = compare(gen(law => $flat, N => 5000, R => 2, seed => 4), gen(law => sub { 2000 }, N => 5000, seed => 4, salt => 3));
    ok(!grep({ $_->{method} ne 'buckets' } @{ $c->{ranges} }), 'method: buckets');
    like($c->{note}, qr/fewer than 3 runs/, 'the note says why');
    ok(!grep({ abs($_->{ratio} - 2) > 0.15 } @{ $c->{ranges} }), 'ratio 2 in every range');
}

# ---- count columns: the ratio of means (a median of Poisson(0.7) is 0 or 1)
{
    my $c = compare(gen(law => sub { 0.7 }, N => 4000, count => 1, seed => 5),
                    gen(law => sub { 1.4 }, N => 4000, count => 1, seed => 5, salt => 8));
    my $last = $c->{ranges}[-1];
    ok(abs($last->{ratio} - 2) < 0.15, "counts: ratio of means $last->{ratio} ~ 2");
    is($last->{significant}, 1, 'significant');
}

# ---- nothing in common
{
    my $c = compare(buckets([]), gen(law => $flat, N => 100, seed => 6));
    is_deeply($c->{ranges}, [], 'no common range: no ranges');
    like($c->{note}, qr/no common range/, 'and a note');
}

done_testing();
