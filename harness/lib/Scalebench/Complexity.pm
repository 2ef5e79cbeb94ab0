package Scalebench::Complexity;
# How does a measurement grow with n? Buckets of n over all runs of one
# series, and a growth verdict on them: O(1), O(log n), ..., a step, a
# saturation, two bands, a late rise, or inconclusive. The method is
# described in docs/complexity.md. Core perl only.
#
#   use Scalebench::Complexity qw(buckets verdict);
#   my $b = buckets([ [ pack('d*', @n1), pack('d*', @y1) ], ... ], count => 0);
#   my $v = verdict($b);
#
# buckets() returns
#   pooled   [ { k, n_lo, n_hi, n_mid, count, median, mean, p10, p25, p75, p90 }, ... ]
#            one entry per non-empty log bucket of x = n + 1, in order of n,
#            up to the last n (a partial last bucket included). k is the
#            bucket's index on the fixed grid (the same in every series, so
#            two series' buckets line up by k); n_lo, n_hi the smallest and
#            largest n in it, n_mid the mean n of its points.
#   per_run  [ [ { k, n_lo, n_hi, n_mid, count, median, mean }, ... ], ... ]
#            one list per run, holding that run's non-empty buckets only.
#   n_min n_max runs points count
# verdict() returns class, label, severity, growth, growth_lo, growth_hi,
# warmup, warmup_n, runs_agree, small, large, curve, reason, and exponent,
# b_lo, b_hi where the verdict is a power of n (see docs/complexity.md).
use strict;
use warnings;
use Exporter 'import';
use List::Util qw(sum min max);
our @EXPORT_OK = qw(buckets verdict median quantile wmedian);

# Tunables (documented in docs/complexity.md).
our $PER_DECADE  = 8;      # log-spaced buckets of x = n + 1 per decade
our $CHUNK       = 65536;  # values unpacked at a time
our $MIN_BUCKETS = 5;      # fewer buckets to fit than this: inconclusive
our $MIN_POINTS  = 20;     # fewer points to fit than this: inconclusive
our $MIN_SPAN    = 8;      # x_max / x_min of the fitted buckets must reach this
our $FLAT        = 1.25;   # growth below this over the range: O(1)
our $MILD        = 1.5;    # growth below this is never a red class
our $ALARM       = 10;     # a step or saturation this large is red
our $RESAMPLES   = 200;    # bootstrap resamples (of runs) for the growth
our $B_RESAMPLES = 60;     # ... and for the exponent (each a refit)
our $MAX_B       = 3;      # exponents searched: 0 .. $MAX_B
our $WIDE        = 0.75;   # exponent interval wider than this, spanning two
                           # named classes: inconclusive
our $WARM_TOL    = log(1.2);  # a warm-up bucket is this much above what follows
our $EDGE        = 0.01;   # the small/large regions hold at least this
                           # share of the fitted points (and 10 per run)

sub median {
    my @s = sort { $a <=> $b } @_;
    return undef unless @s;
    my $m = int(@s / 2);
    return @s % 2 ? $s[$m] : ($s[ $m - 1 ] + $s[$m]) / 2;
}

# quantile(\@sorted, p): linear interpolation between order statistics.
sub quantile {
    my ($s, $p) = @_;
    return undef unless @$s;
    my $i = $p * $#$s;
    my $l = int $i;
    return $s->[$l] if $l >= $#$s;
    return $s->[$l] + ($i - $l) * ($s->[ $l + 1 ] - $s->[$l]);
}

# wmedian([[value, weight], ...]): the weighted median (the value at which
# half of the weight lies on each side).
sub wmedian {
    my @p = sort { $a->[0] <=> $b->[0] } grep { $_->[1] > 0 } @{ $_[0] };
    return undef unless @p;
    my $tot = 0;
    $tot += $_->[1] for @p;
    my $acc = 0;
    for my $i (0 .. $#p) {
        $acc += $p[$i][1];
        if ($acc >= $tot / 2 - 1e-12 * $tot) {
            return ($p[$i][0] + $p[ $i + 1 ][0]) / 2 if abs($acc - $tot / 2) <= 1e-12 * $tot && $i < $#p;
            return $p[$i][0];
        }
    }
    return $p[-1][0];
}

# ---------------------------------------------------------------- buckets

# The bucket of x = n + 1 on the fixed grid, and the x range [lo, hi) inside
# which a point surely lies in that bucket (a hair inside the true edges, so
# that the fast test and the logarithm never disagree).
my $SCALE = $PER_DECADE / log(10);
sub _bucket_of {
    my ($x) = @_;
    my $k = $x > 0 ? int(log($x) * $SCALE + 1e-9) : -1 << 30;
    $k-- if $x > 0 && log($x) * $SCALE + 1e-9 < $k;    # negative logs
    return ($k, exp(($k + 1e-6) / $SCALE), exp(($k + 1 - 1e-6) / $SCALE));
}

# The values of a bucket for its quantiles: all of them (sorted) when there
# are at most $CAP, else every m-th (in the order of n, so the sample keeps
# the spread over n), which puts a quantile within a rank error of about
# 0.5/sqrt($CAP) (0.2%) of the exact one. Means are always exact.
our $CAP = 50000;
sub _sample {
    my ($str, $m) = @_;
    my $c = length($str) / 8;
    return unpack('d*', $str) if $m <= 1;
    my $ns = int(($c + $m - 1) / $m);
    return unpack('(d x' . (8 * ($m - 1)) . ')' . ($ns - 1) . ' d', $str);
}

sub _sum {
    my ($str) = @_;
    my $s = 0;
    for (my $o = 0; $o < length $str; $o += 8 * $CHUNK) {
        $s += sum(0, unpack('d*', substr($str, $o, 8 * $CHUNK)));
    }
    return $s;
}

sub buckets {
    my ($runs, %o) = @_;
    my $count = $o{count} ? 1 : 0;
    my (@rb, %all);
    my ($points, $nmin, $nmax) = (0, undef, undef);
    # One pass per run: each point's value goes (as packed bytes, a whole
    # stretch of consecutive points at once) to its bucket.
    for my $run (@$runs) {
        my ($np, $yp) = @$run;
        my $len = min(int(length($np) / 8), int(length($yp) / 8));
        my %b;    # k -> [packed values, n sum, n min, n max]
        for (my $off = 0; $off < $len; $off += $CHUNK) {
            my $m = min($CHUNK, $len - $off);
            my @n = unpack("d$m", substr($np, 8 * $off, 8 * $m));
            my ($k, $lo, $hi, $start) = (undef, 1, 0, 0);
            my $flush = sub {
                my ($end) = @_;    # points start .. end-1 are in bucket $k
                my $e = $b{$k} //= [ '', 0, 9**9**9, -9**9**9 ];
                $e->[0] .= substr($yp, 8 * ($off + $start), 8 * ($end - $start));
                my @s = @n[ $start .. $end - 1 ];
                $e->[1] += sum(@s);
                my ($a, $z) = (min(@s), max(@s));
                $e->[2] = $a if $a < $e->[2];
                $e->[3] = $z if $z > $e->[3];
            };
            for my $i (0 .. $#n) {
                my $x = $n[$i] + 1;
                next if $x >= $lo && $x < $hi;
                $flush->($i) if defined $k;
                $start = $i;
                ($k, $lo, $hi) = _bucket_of($x);
            }
            $flush->(scalar @n) if defined $k;
        }
        $all{$_} += length($b{$_}[0]) / 8 for keys %b;
        push @rb, \%b;
    }
    my (@pooled, @per_run);
    push @per_run, [] for @rb;
    for my $k (sort { $a <=> $b } keys %all) {
        my $m = int(($all{$k} + $CAP - 1) / $CAP);
        my ($c, $sum, $nsum, $lo, $hi) = (0, 0, 0, 9**9**9, -9**9**9);
        my @pool;
        for my $r (0 .. $#rb) {
            my $e = delete $rb[$r]{$k} or next;
            my $cr = length($e->[0]) / 8;
            my $sr = _sum($e->[0]);
            my @v = sort { $a <=> $b } _sample($e->[0], $m);
            push @{ $per_run[$r] }, { k => $k, n_lo => $e->[2], n_hi => $e->[3], n_mid => $e->[1] / $cr,
                                      count => $cr, median => quantile(\@v, 0.5), mean => $sr / $cr };
            push @pool, pack('d*', @v);
            ($c, $sum, $nsum) = ($c + $cr, $sum + $sr, $nsum + $e->[1]);
            $lo = $e->[2] if $e->[2] < $lo;
            $hi = $e->[3] if $e->[3] > $hi;
        }
        # the runs' samples are each sorted: perl's merge sort joins them
        my @v = sort { $a <=> $b } map { unpack('d*', $_) } @pool;
        push @pooled, { k => $k, n_lo => $lo, n_hi => $hi, n_mid => $nsum / $c, count => $c, mean => $sum / $c,
                        map { $_->[0] => quantile(\@v, $_->[1]) }
                            [ p10 => 0.1 ], [ p25 => 0.25 ], [ median => 0.5 ], [ p75 => 0.75 ], [ p90 => 0.9 ] };
        $points += $c;
        $nmin = $lo if !defined $nmin || $lo < $nmin;
        $nmax = $hi if !defined $nmax || $hi > $nmax;
    }
    return { pooled => \@pooled, per_run => \@per_run, n_min => $nmin, n_max => $nmax,
             runs => scalar @$runs, points => $points, count => $count };
}

# ---------------------------------------------------------------- verdict

# A seeded generator, so that a verdict is reproducible.
sub _rng {
    my $s = shift;
    return sub { $s = ($s * 1103515245 + 12345) % 2147483648; $s / 2147483648 };
}

# The level of each group of buckets (@$groups: lists of bucket indexes):
# for count columns the mean; else, with 3 or more runs, the weighted
# median of the runs' own bucket medians (each weighted by its points), over
# the runs @$use (a resample may repeat a run); with fewer runs, the
# weighted median of the pooled bucket medians. So one outlier in a thin
# bucket is one value among many, even when a resample repeats its run.
sub _levels {
    my ($S, $groups, $use) = @_;
    my @lv;
    for my $g (@$groups) {
        my @p;
        if ($S->{by_runs}) {
            for my $i (@$g) {
                push @p, map { $S->{run}[$_][$i] || () } @$use;
            }
        } else {
            @p = map { [ $S->{pooled_level}[$_], $S->{cnt}[$_] ] } @$g;
        }
        if (!@p) {
            push @lv, undef;
        } elsif ($S->{count}) {
            my ($sw, $sy) = (0, 0);
            $sw += $_->[1], $sy += $_->[0] * $_->[1] for @p;
            push @lv, $sw ? $sy / $sw : undef;
        } else {
            push @lv, wmedian(\@p);
        }
    }
    return \@lv;
}

# Weighted least squares of y on the profile y = alpha + ln(1 + r g) with
# g in [0, 1]: alpha is profiled out, u = ln(1 + r) >= 0 found by
# Gauss-Newton steps (halved while they do not lower the residual) from u0.
# Returns (ssr, u, alpha).
sub _ssr_u {
    my ($y, $w, $g, $u, $sw) = @_;
    my $r = exp($u) - 1;
    my ($al, @d) = (0);
    for my $i (0 .. $#$y) {
        my $d = $d[$i] = $y->[$i] - log(1 + $r * $g->[$i]);
        $al += $w->[$i] * $d;
    }
    $al /= $sw;
    my $s = 0;
    $s += $w->[$_] * ($d[$_] - $al)**2 for 0 .. $#d;
    return ($s, $al, \@d);
}

sub _fit_shape {
    my ($y, $w, $g, $u0, $sw) = @_;
    if (!$sw) { $sw = 0; $sw += $_ for @$w }
    my $u = $u0 > 0 ? $u0 : 0;
    my ($s, $al, $d) = _ssr_u($y, $w, $g, $u, $sw);
    for (1 .. 30) {
        my $e = exp($u);
        my $r = $e - 1;
        my @q = map { $e * $g->[$_] / (1 + $r * $g->[$_]) } 0 .. $#$g;
        my $qm = 0;
        $qm += $w->[$_] * $q[$_] for 0 .. $#q;
        $qm /= $sw;
        my ($num, $den) = (0, 0);
        for my $i (0 .. $#q) {
            $num += $w->[$i] * ($d->[$i] - $al) * $q[$i];
            $den += $w->[$i] * ($q[$i] - $qm)**2;
        }
        last unless $den > 0;
        my $step = $num / $den;
        $step = 2 if $step > 2;
        $step = -2 if $step < -2;
        my $moved = 0;
        for (1 .. 20) {
            my $nu = $u + $step;
            $nu = 0 if $nu < 0;
            last if abs($nu - $u) < 1e-7;
            my ($ns, $nal, $nd) = _ssr_u($y, $w, $g, $nu, $sw);
            if ($ns < $s) {
                ($u, $s, $al, $d, $moved) = ($nu, $ns, $nal, $nd, abs($step) > 1e-4);
                last;
            }
            $step /= 2;
        }
        last unless $moved;
    }
    return ($s, $u, $al);
}

# g_b(x): the Box-Cox growth (x^b - 1)/b (ln x at b = 0), scaled to 0 at the
# first fitted x and 1 at the last.
sub _g_power {
    my ($x, $b) = @_;
    my @f = map { $b == 0 ? log($_) : ($_**$b - 1) / $b } @$x;
    my ($f0, $f1) = ($f[0], $f[-1]);
    return [ map { $f1 > $f0 ? ($_ - $f0) / ($f1 - $f0) : 0 } @f ];
}

# The power family over the exponents @$bs: best { b, u, alpha, ssr } and the
# ssr of every b.
sub _fit_power {
    my ($S, $y, $bs) = @_;
    my $u0 = max(0, $y->[-1] - $y->[0]);
    my $sw = sum(@{ $S->{fw} });
    my $best;
    for my $b (@$bs) {
        my $g = $S->{gcache}{$b} //= _g_power($S->{fx}, $b);
        my ($s, $u, $al) = _fit_shape($y, $S->{fw}, $g, $S->{ustart}{$b} // $u0, $sw);
        $S->{ulast}{$b} = $u;
        $best = { b => $b, u => $u, alpha => $al, ssr => $s } if !$best || $s < $best->{ssr} - 1e-15;
    }
    return $best;
}

# A step: y = alpha1 before group s, alpha2 from s on (alpha2 > alpha1),
# 3 parameters; or with group t between them at a level of its own inside
# [alpha1, alpha2] (the step falls inside t's buckets, whose medians mix
# the two levels), 4 parameters. The best by BIC: { s, t, a1, a2, ssr, p, bic }.
sub _fit_step {
    my ($y, $w, $sw, $K) = @_;
    my @cw = (0);
    my @cy = (0);
    my @cyy = (0);
    for my $i (0 .. $K - 1) {
        push @cw, $cw[-1] + $w->[$i];
        push @cy, $cy[-1] + $w->[$i] * $y->[$i];
        push @cyy, $cyy[-1] + $w->[$i] * $y->[$i]**2;
    }
    my $best;
    # groups before $s: low; from $e on: high; a group between ($e = $s + 1)
    for my $s (2 .. $K - 1) {
        for my $e ($s, $s + 1) {
            next if $e > $K - 1;
            my ($w1, $w2) = ($cw[$s], $cw[$K] - $cw[$e]);
            next unless $w1 > 0 && $w2 > 0;
            my ($m1, $m2) = ($cy[$s] / $w1, ($cy[$K] - $cy[$e]) / $w2);
            next unless $m2 > $m1;
            my $ssr = ($cyy[$s] - $w1 * $m1**2) + ($cyy[$K] - $cyy[$e] - $w2 * $m2**2);
            my $p = 3;
            if ($e > $s) {
                my $yt = $y->[$s];
                my $c = $yt < $m1 ? $m1 : $yt > $m2 ? $m2 : $yt;
                $ssr += $w->[$s] * ($yt - $c)**2;
                $p = 4;
            }
            $ssr = 0 if $ssr < 0;
            my $bic = _bic($ssr, $sw, $K, $p);
            $best = { s => $s, e => $e, a1 => $m1, a2 => $m2, ssr => $ssr, p => $p, bic => $bic }
                if !$best || $bic < $best->{bic};
        }
    }
    return $best;
}

# Saturation: y = alpha + ln(1 + r h(x)), h = x^p/(x^p + x_h^p), the Hill
# curve, rising about x_h and flat well after it.
sub _fit_sat {
    my ($S, $y) = @_;
    my $x = $S->{fx};
    my $u0 = max(0, $y->[-1] - $y->[0]);
    my $sw = sum(@{ $S->{fw} });
    my $best;
    for my $p (1, 2) {
        for my $j (1 .. $#$x - 2) {
            my $xh = $x->[$j];
            my @h = map { my $t = ($_ / $xh)**$p; $t / (1 + $t) } @$x;
            my ($h0, $h1) = ($h[0], $h[-1]);
            next unless $h1 > $h0;
            my $g = [ map { ($_ - $h0) / ($h1 - $h0) } @h ];
            my ($s, $u, $al) = _fit_shape($y, $S->{fw}, $g, $u0, $sw);
            $best = { p => $p, xh => $xh, j => $j, u => $u, alpha => $al, ssr => $s, g => $g, h1 => $h1 }
                if !$best || $s < $best->{ssr};
        }
    }
    return $best;
}

sub _bic {
    my ($ssr, $sw, $K, $p) = @_;
    my $v = $ssr / $sw;
    $v = 1e-300 if $v < 1e-300;
    return $K * log($v) + $p * log($K);
}

sub _fmt_n {
    my ($n) = @_;
    return sprintf('%.0f', $n) if $n < 1000;
    return sprintf('%.3g', $n) =~ s/e\+0?(\d+)/e$1/r if $n >= 1e6;
    return sprintf('%.0f', sprintf('%.3g', $n));
}

sub _fmt_g {
    my ($g) = @_;
    return sprintf('%.2f', $g) if $g < 10;
    return sprintf('%.1f', $g) if $g < 100;
    return sprintf('%.0f', $g);
}

sub class_of_exponent {
    my ($b) = @_;
    return 'O(log n)' if $b < 0.3;
    return 'O(n^0.5)' if $b < 0.75;
    return 'O(n)' if $b < 1.35;
    return 'O(n^1.5)' if $b < 1.75;
    return 'O(n^2)' if $b < 2.5;
    return 'O(n^3)';
}

# The exponent regions that have a name: logarithmic, sublinear, linear,
# worse than linear.
sub _region {
    my ($b) = @_;
    return $b < 0.3 ? 0 : $b < 0.75 ? 1 : $b < 1.35 ? 2 : 3;
}

# Two bands: most well-filled buckets are bimodal (their quantiles jump
# between two levels), and the median sits in the low band in some buckets
# and in the high band in others.
sub _two_bands {
    my ($pooled, $idx) = @_;
    my ($bi, $lowmed, $highmed, $tot) = (0, 0, 0, 0);
    my (@lo, @hi);
    for my $i (@$idx) {
        my $e = $pooled->[$i];
        next if $e->{count} < 20 || $e->{p10} <= 0;
        $tot++;
        my @q = map { log($e->{$_}) } qw(p10 p25 median p75 p90);
        my $span = $q[4] - $q[0];
        next if $span < log(1.5);
        my ($gap, $at) = (0, 0);
        for my $j (0 .. 3) {
            ($gap, $at) = ($q[ $j + 1 ] - $q[$j], $j) if $q[ $j + 1 ] - $q[$j] > $gap;
        }
        next if $gap < 0.6 * $span;
        $bi++;
        push @lo, $e->{p10};
        push @hi, $e->{p90};
        $at <= 1 ? $highmed++ : $lowmed++;
    }
    return undef unless $tot >= 4 && $bi >= 0.5 * $tot && $lowmed >= 2 && $highmed >= 2;
    return { low => median(@lo), high => median(@hi), buckets => $bi, of => $tot };
}

# verdict($buckets) -> hashref (see the top of this file). For the old
# interface, verdict(\@n, \@y) pools all points as one run.
sub verdict {
    my ($B, @rest) = @_;
    if (ref $B eq 'ARRAY') {
        my ($n, $y) = ($B, $rest[0]);
        my (@nn, @yy);
        for my $i (0 .. $#$n) {
            next unless defined $y->[$i] && $y->[$i] >= 0;
            push @nn, $n->[$i];
            push @yy, $y->[$i];
        }
        my $b = buckets([ [ pack('d*', @nn), pack('d*', @yy) ] ]);
        my $v = verdict($b);
        $v->{median} = median(@yy);
        $v->{medians} = [ map { [ $_->{n_mid}, $_->{median} ] } @{ $b->{pooled} } ];
        return $v;
    }
    my $pooled = $B->{pooled} || [];
    my $R = $B->{runs} || 0;
    my %v = (class => 'inconclusive', label => 'inconclusive', severity => 'inconclusive', warmup => 0,
             points => $B->{points} // 0, buckets => scalar @$pooled, runs => $R);
    if (!@$pooled) {
        $v{reason} = 'no points';
        return _headline(\%v, $B);
    }
    # The series as the verdict sees it: per bucket its runs' summaries
    # [level, points], the level being the median (the mean for counts).
    my %S = (count => $B->{count} ? 1 : 0, by_runs => $R >= 3);
    $S{k} = [ map { $_->{k} } @$pooled ];
    $S{cnt} = [ map { $_->{count} } @$pooled ];
    $S{x} = [ map { $_->{n_mid} + 1 } @$pooled ];
    $S{pooled_level} = [ map { $S{count} ? $_->{mean} : $_->{median} } @$pooled ];
    my %at = map { $S{k}[$_] => $_ } 0 .. $#{ $S{k} };
    for my $r (0 .. $R - 1) {
        for my $e (@{ $B->{per_run}[$r] || [] }) {
            my $i = $at{ $e->{k} };
            $S{run}[$r][$i] = [ $S{count} ? $e->{mean} : $e->{median}, $e->{count} ] if defined $i;
        }
    }
    my @allruns = (0 .. $R - 1);
    my $K = @$pooled;
    my $lv = _levels(\%S, [ map { [$_] } 0 .. $K - 1 ], \@allruns);
    # log levels; an offset keeps a zero (or tiny) level from dominating
    my $top = max(map { $_ // 0 } @$lv);
    my $eps = $S{count} ? 0.5 : ($top > 0 ? $top * 1e-6 : 1);
    $S{eps} = $eps;
    my @y = map { log(($_ // 0) + $eps) } @$lv;

    # Warm-up: leading buckets, within the first half of the log range,
    # above the median of the three buckets that follow them.
    my $half = sqrt($S{x}[0] * $S{x}[-1]);
    my $wu = 0;
    while ($wu + 3 < $K && $S{x}[$wu] <= $half) {
        my $next = median(@y[ $wu + 1 .. $wu + 3 ]);
        last unless $y[$wu] > $next + $WARM_TOL;
        $wu++;
    }
    if ($wu) {
        my $c = 0;
        $c += $S{cnt}[$_] for 0 .. $wu - 1;
        $v{warmup} = int($c / ($R || 1) + 0.5);
        $v{warmup_n} = $pooled->[$wu]{n_lo};
    }
    my @fi = ($wu .. $K - 1);
    my $fitpts = 0;
    $fitpts += $S{cnt}[$_] for @fi;

    # Groups for the fit: consecutive buckets until each holds 5 points per
    # run (the thin buckets of small n together; a thin last one joins the
    # one before).
    my @groups;
    my $gc = 0;
    for my $i (@fi) {
        push @groups, [] if !@groups || $gc >= 5 * ($R || 1);
        $gc = 0 if !@{ $groups[-1] };
        push @{ $groups[-1] }, $i;
        $gc += $S{cnt}[$i];
    }
    if (@groups > 1 && $gc < 5 * ($R || 1)) {
        my $t = pop @groups;
        push @{ $groups[-1] }, @$t;
    }
    $S{groups} = \@groups;
    $S{fx} = [ map { my $g = $_; my ($c, $sx) = (0, 0); $c += $S{cnt}[$_], $sx += $S{cnt}[$_] * $S{x}[$_] for @$g; $sx / $c } @groups ];
    $S{fw} = [ (1) x @groups ];
    my $glv = _levels(\%S, \@groups, \@allruns);
    my @fy = map { log(($_ // 0) + $eps) } @$glv;
    my $fK = @groups;

    # Headline regions: from the first kept bucket on and back from the last
    # until each holds $EDGE of the points (and 10 per run).
    my $need = max($EDGE * $fitpts, 10 * ($R || 1));
    my (@small, @large);
    my $c = 0;
    for my $i (@fi) { push @small, $i; $c += $S{cnt}[$i]; last if $c >= $need }
    $c = 0;
    for my $i (reverse @fi) { unshift @large, $i; $c += $S{cnt}[$i]; last if $c >= $need }
    my ($small, $large) = @{ _levels(\%S, [ \@small, \@large ], \@allruns) };
    $v{small} = { n_lo => $pooled->[ $small[0] ]{n_lo}, n_hi => $pooled->[ $small[-1] ]{n_hi}, value => $small };
    $v{large} = { n_lo => $pooled->[ $large[0] ]{n_lo}, n_hi => $pooled->[ $large[-1] ]{n_hi}, value => $large };
    my $growth = _ratio($large, $small, $eps, $S{count});
    $v{growth} = $growth;
    my $span = sprintf('n = %s..%s', _fmt_n($pooled->[$wu]{n_lo}), _fmt_n($pooled->[-1]{n_hi}));
    $span .= sprintf(' (after %d warm-up operations)', $v{warmup}) if $wu;

    # Growth interval: resample the runs (>= 3), else the buckets of each
    # region; and how many runs grow by themselves.
    my $rand = _rng(12345);
    my @gs;
    if ($R >= 3) {
        for (1 .. $RESAMPLES) {
            my @use = map { int($rand->() * $R) } 1 .. $R;
            my ($s, $g) = @{ _levels(\%S, [ \@small, \@large ], \@use) };
            push @gs, _ratio($g, $s, $eps, $S{count}) if defined $s && defined $g;
        }
        $v{interval} = 'runs';
    } else {
        for (1 .. $RESAMPLES) {
            my @s = map { $small[ int($rand->() * @small) ] } @small;
            my @g = map { $large[ int($rand->() * @large) ] } @large;
            my ($ls, $lg) = @{ _levels(\%S, [ \@s, \@g ], \@allruns) };
            push @gs, _ratio($lg, $ls, $eps, $S{count});
        }
        $v{interval} = 'buckets';
    }
    @gs = sort { $a <=> $b } @gs;
    @v{qw(growth_lo growth_hi)} = @gs ? (quantile(\@gs, 0.025), quantile(\@gs, 0.975)) : ($growth, $growth);
    # a bootstrap of R runs spreads sqrt((R-1)/R) too little: widen (in log
    # growth, about the estimate) by the inverse
    if ($R >= 3 && $growth > 0 && $v{growth_lo} > 0) {
        my $f = sqrt($R / ($R - 1));
        $v{growth_lo} = $growth * ($v{growth_lo} / $growth)**$f;
        $v{growth_hi} = $growth * ($v{growth_hi} / $growth)**$f;
    }
    $v{growth_lo} = $growth if $v{growth_lo} > $growth;
    $v{growth_hi} = $growth if $v{growth_hi} < $growth;
    my $agree = 0;
    {
        local $S{by_runs} = 1;
        for my $r (@allruns) {
            my ($s, $g) = @{ _levels(\%S, [ \@small, \@large ], [$r]) };
            $agree++ if defined $s && defined $g && _ratio($g, $s, $eps, $S{count}) >= $FLAT;
        }
    }
    $v{runs_agree} = "$agree of $R";
    $v{reason} = '';

    if ($fK < $MIN_BUCKETS) {
        $v{reason} = sprintf('only %d groups of n buckets after the warm-up (at least %d needed)', $fK, $MIN_BUCKETS);
        return _headline(\%v, $B);
    }
    if ($fitpts < $MIN_POINTS) {
        $v{reason} = sprintf('only %d points after the warm-up (at least %d needed)', $fitpts, $MIN_POINTS);
        return _headline(\%v, $B);
    }
    if ($S{fx}[-1] / $S{fx}[0] < $MIN_SPAN) {
        $v{reason} = sprintf('%s: too narrow a range of n to tell (a factor %d needed)', $span, $MIN_SPAN);
        return _headline(\%v, $B);
    }

    # The models, fitted to the log levels, compared by BIC.
    my $sw = sum(@{ $S{fw} });
    my @grid = map { $_ / 10 } 0 .. $MAX_B * 10;
    my $pw = _fit_power(\%S, \@fy, \@grid);
    my $b0 = $pw->{b};
    $pw = _fit_power(\%S, \@fy, [ grep { $_ >= 0 && $_ <= $MAX_B } map { $b0 + $_ / 100 } -9 .. 9 ]);
    my $cst = 0;
    {
        my $m = 0;
        $m += $S{fw}[$_] * $fy[$_] for 0 .. $#fy;
        $m /= $sw;
        $cst += $S{fw}[$_] * ($fy[$_] - $m)**2 for 0 .. $#fy;
    }
    my $st = _fit_step(\@fy, $S{fw}, $sw, $fK);
    my $sat = _fit_sat(\%S, \@fy);
    my %bic = (const => _bic($cst, $sw, $fK, 1), power => _bic($pw->{ssr}, $sw, $fK, 3));
    $bic{step} = $st->{bic} if $st;
    # a saturation must reach its plateau inside the range
    $bic{sat} = _bic($sat->{ssr}, $sw, $fK, 4) if $sat && $sat->{h1} >= 0.8 && $sat->{u} > 0;
    my ($model) = sort { $bic{$a} <=> $bic{$b} } keys %bic;
    $v{bic} = \%bic if $ENV{SB_DEBUG};
    $v{model} = $model;
    my $fx = $S{fx};
    my @curve;
    if ($model eq 'power') {
        my $g = _g_power($fx, $pw->{b});
        @curve = map { exp($pw->{alpha} + log(1 + (exp($pw->{u}) - 1) * $g->[$_])) } 0 .. $#$fx;
    } elsif ($model eq 'step') {
        @curve = map {
            my $l = $_ < $st->{s} ? $st->{a1} : $_ >= $st->{e} ? $st->{a2} : $fy[$_];
            $l = $st->{a1} if $l < $st->{a1};
            $l = $st->{a2} if $l > $st->{a2};
            exp($l)
        } 0 .. $#$fx;
    } elsif ($model eq 'sat') {
        @curve = map { exp($sat->{alpha} + log(1 + (exp($sat->{u}) - 1) * $sat->{g}[$_])) } 0 .. $#$fx;
    } else {
        my $m = 0;
        $m += $S{fw}[$_] * $fy[$_] for 0 .. $#fy;
        @curve = (exp($m / $sw)) x @$fx;
    }
    $v{curve} = [ map { [ $fx->[$_] - 1, max(0, $curve[$_] - $eps) ] } 0 .. $#$fx ];

    my $bands = $S{count} ? undef : _two_bands($pooled, \@fi);
    my ($glo, $ghi) = @v{qw(growth_lo growth_hi)};
    my $gtxt = sprintf('%sx (95%% interval %s..%s, from %s)', _fmt_g($growth), _fmt_g($glo), _fmt_g($ghi),
                       $v{interval} eq 'runs' ? "resampling $R runs" : "the buckets: only $R run" . ($R == 1 ? '' : 's'));
    if ($bands) {
        @v{qw(class label severity)} = ('two bands', 'two bands', 'mild');
        $v{bands} = [ $bands->{low}, $bands->{high} ];
        $v{reason} = sprintf('two bands (about %s and %s) in %d of %d buckets over %s; the median moves between them, '
                             . 'so it does not show growth', _fmt_g($bands->{low}), _fmt_g($bands->{high}),
                             $bands->{buckets}, $bands->{of}, $span);
        return _headline(\%v, $B);
    }
    if ($ghi < $FLAT || ($growth < $FLAT && $model eq 'const')) {
        @v{qw(class label severity)} = ('O(1)', 'O(1)', 'flat');
        $v{reason} = sprintf('flat over %s: growth %s', $span, $gtxt);
        return _headline(\%v, $B);
    }
    if ($growth < $FLAT || $glo < 1) {
        $v{reason} = sprintf('growth over %s is %s: it may not grow at all', $span, $gtxt);
        return _headline(\%v, $B);
    }
    if ($agree * 2 <= $R) {
        $v{reason} = sprintf('growth %s over %s, but only %d of %d runs grow by themselves', $gtxt, $span, $agree, $R);
        return _headline(\%v, $B);
    }
    if ($growth >= $MILD && $glo < $FLAT) {
        $v{reason} = sprintf('growth over %s is %s, which reaches below %.2f', $span, $gtxt, $FLAT);
        return _headline(\%v, $B);
    }
    my $sev = $growth < $MILD ? 'mild' : 'growth';
    # Bounded shapes (a step, a saturation) do not scale with n: amber,
    # unless the jump is $ALARM-fold or more (bind's cliff).
    my $bsev = $growth < $MILD ? 'mild' : $growth >= $ALARM ? 'growth' : 'mild';
    if ($model eq 'step') {
        my $size = exp($st->{a2} - $st->{a1});
        my $mid = exp(($st->{a1} + $st->{a2}) / 2) - $eps;
        my @cand = (@{ $groups[ $st->{s} ] }, $st->{e} < @groups ? $groups[ $st->{e} ][0] : ());
        my ($bi) = grep { $pooled->[$_]{median} >= $mid } @cand;
        my $at = _step_at($pooled, $bi // $cand[0], $st, $mid);
        $v{step} = { n => $at, size => $size };
        if ($growth < $MILD && log($at + 1) >= 0.5 * log($pooled->[-1]{n_hi} + 1)) {
            @v{qw(class label severity)} = ('late rise', sprintf('late rise %sx', _fmt_g($growth)), 'mild');
            $v{reason} = sprintf('a small late rise (a step of %sx at n≈%s) over %s: growth %s', _fmt_g($size),
                                 _fmt_n($at), $span, $gtxt);
            return _headline(\%v, $B);
        }
        @v{qw(class severity)} = ('step', $bsev);
        $v{label} = sprintf('step %sx at n≈%s', _fmt_g($size), _fmt_n($at));
        $v{reason} = sprintf('a step of %sx at n≈%s over %s; growth %s', _fmt_g($size), _fmt_n($at), $span, $gtxt);
        return _headline(\%v, $B);
    }
    if ($model eq 'sat') {
        @v{qw(class severity)} = ('saturating', $bsev);
        $v{label} = sprintf('saturating %sx', _fmt_g($growth));
        $v{reason} = sprintf('rises %sx and levels off after n≈%s over %s; growth %s', _fmt_g($growth),
                             _fmt_n($sat->{xh} - 1), $span, $gtxt);
        return _headline(\%v, $B);
    }
    # A power of n; its exponent's interval from the same resamples.
    my $bx = $pw->{b};
    $v{exponent} = $bx;
    my @bs;
    my $coarse = [ map { $_ / 4 } 0 .. $MAX_B * 4 ];
    _fit_power(\%S, \@fy, $coarse);
    $S{ustart} = { %{ $S{ulast} } };
    my $rand2 = _rng(54321);
    my $nres = $B_RESAMPLES;
    if ($R >= 3) {
        for (1 .. $nres) {
            my @use = map { int($rand2->() * $R) } 1 .. $R;
            my $l = _levels(\%S, \@groups, \@use);
            next if grep { !defined } @$l;
            my @ry = map { log($_ + $eps) } @$l;
            my $f = _fit_power(\%S, \@ry, $coarse);
            push @bs, $f->{b} if $f->{u} > 0;
        }
    } else {    # residual bootstrap: the fit plus resampled residuals
        my @res = map { $fy[$_] - log($curve[$_]) } 0 .. $#fy;
        for (1 .. $nres) {
            my @ry = map { log($curve[$_]) + $res[ int($rand2->() * @res) ] } 0 .. $#fy;
            my $f = _fit_power(\%S, \@ry, $coarse);
            push @bs, $f->{b} if $f->{u} > 0;
        }
    }
    @bs = sort { $a <=> $b } @bs;
    @v{qw(b_lo b_hi)} = @bs ? (quantile(\@bs, 0.025), quantile(\@bs, 0.975)) : ($bx, $bx);
    $v{b_lo} = $bx if $v{b_lo} > $bx;
    $v{b_hi} = $bx if $v{b_hi} < $bx;
    my $cls = class_of_exponent($bx);
    if ($growth < $MILD && $bx >= 0.75) {
        @v{qw(class label severity)} = ('late rise', sprintf('late rise %sx', _fmt_g($growth)), 'mild');
        $v{reason} = sprintf('a small late rise over %s (fits exponent %.2f): growth %s', $span, $bx, $gtxt);
        return _headline(\%v, $B);
    }
    if ($v{b_hi} - $v{b_lo} > $WIDE && _region($v{b_lo}) != _region($v{b_hi})) {
        $v{reason} = sprintf('grows over %s, growth %s, but its exponent is only known within %.2f..%.2f',
                             $span, $gtxt, $v{b_lo}, $v{b_hi});
        return _headline(\%v, $B);
    }
    @v{qw(class label severity)} = ($cls, $cls, $sev);
    $v{reason} = sprintf('grows over %s: growth %s; exponent %.2f (95%% interval %.2f..%.2f)',
                         $span, $gtxt, $bx, $v{b_lo}, $v{b_hi});
    return _headline(\%v, $B);
}

sub _ratio {
    my ($hi, $lo, $eps, $count) = @_;
    return 1 unless defined $hi && defined $lo;
    # counts: compare levels a count apart from zero alike (0 vs 0.5 is not
    # "infinitely more")
    ($hi, $lo) = ($hi + $eps, $lo + $eps) if $count;
    return $lo > 0 ? $hi / $lo : ($hi > 0 ? 9**9**9 : 1);
}

# Where in n a step lies: between the last low bucket and the first high
# one; inside the first high bucket if its low quantiles are still low.
sub _step_at {
    my ($pooled, $i1, $st, $mid) = @_;
    my $e = $pooled->[$i1];
    my @q = ([ 0.1, $e->{p10} ], [ 0.25, $e->{p25} ], [ 0.5, $e->{median} ], [ 0.75, $e->{p75} ], [ 0.9, $e->{p90} ]);
    my $frac = 0;
    for my $j (0 .. $#q) {
        last if $q[$j][1] >= $mid;
        $frac = $j < $#q ? ($q[$j][0] + $q[ $j + 1 ][0]) / 2 : $q[$j][0];
    }
    return $frac > 0 ? $e->{n_lo} + $frac * ($e->{n_hi} - $e->{n_lo}) : $e->{n_lo};
}

sub _headline {
    my ($v, $B) = @_;
    $v->{reason} ||= $v->{class};
    $v->{label} //= $v->{class};
    $v->{curve} //= undef;
    $v->{runs_agree} //= '0 of ' . ($B->{runs} // 0);
    for my $f (qw(growth growth_lo growth_hi)) { $v->{$f} //= undef }
    return $v;
}

1;
