package Scalebench::Complexity;
# How does latency grow with n? A robust growth verdict for one series of
# (n, latency) points: O(1), O(log n), O(n), worse, or inconclusive.
# The method is described in docs/complexity.md. Core perl only.
#
#   use Scalebench::Complexity qw(verdict median);
#   my $v = verdict(\@n, \@y);
#   # $v->{class}    'O(1)', 'O(log n)', 'O(n^0.5)', 'O(n)', 'O(n^2)', ...
#   #                or 'inconclusive'
#   # $v->{exponent} b, [$v->{b_lo}, $v->{b_hi}]: its 95% interval
#   # $v->{growth}   fitted latency at the largest n / at the smallest n,
#   #                [$v->{growth_lo}, $v->{growth_hi}]: its 95% interval
#   # $v->{median}   median latency of all points, $v->{points}, $v->{buckets}
#   # $v->{reason}   one line saying why (always set)
#   # $v->{medians}  [[n, median latency], ...]: the bucket medians
#   # $v->{curve}    [[n, fitted latency], ...] over the buckets
use strict;
use warnings;
use Exporter 'import';
our @EXPORT_OK = qw(verdict median bucket_medians fit_power);

# Tunables (documented in docs/complexity.md).
our $PER_DECADE  = 8;      # log-spaced buckets of x = n + 1 per decade
our $MIN_BUCKETS = 5;      # fewer buckets than this: inconclusive
our $MIN_SPAN    = 8;      # x_max / x_min must reach this: inconclusive
our $FLAT        = 1.25;   # growth below this over the range: O(1)
our $RESAMPLES   = 200;    # bootstrap resamples of the buckets
our $MAX_B       = 3;      # exponents searched: 0 .. $MAX_B
our $WIDE        = 0.75;   # exponent interval wider than this, and spanning
                           # two named classes: inconclusive

sub median {
    my @s = sort { $a <=> $b } @_;
    return undef unless @s;
    my $m = int(@s / 2);
    return @s % 2 ? $s[$m] : ($s[ $m - 1 ] + $s[$m]) / 2;
}

# bucket_medians(\@n, \@y) -> [[x_median, y_median, count], ...]
# x = n + 1. Buckets are log-spaced in x, $PER_DECADE per decade; a bucket
# with fewer than max(5, points/200) points is merged into the next one, so
# that the few cold first operations at small n cannot steer the result.
sub bucket_medians {
    my ($n, $y) = @_;
    # Points go straight into their log bucket (no sort of all points).
    my %by;
    my $scale = $PER_DECADE / log(10);
    my $total = 0;
    for my $i (0 .. $#$n) {
        my $v = $y->[$i];
        next unless defined $v && $v >= 0;
        my $x = $n->[$i] + 1;
        push @{ $by{ int(log($x) * $scale + 1e-9) } }, $x, $v;
        $total++;
    }
    return [] unless $total;
    my $min = $total / 200 > 5 ? $total / 200 : 5;
    my @groups;
    for my $k (sort { $a <=> $b } keys %by) {
        push @groups, [] if !@groups || @{ $groups[-1] } / 2 >= $min;
        push @{ $groups[-1] }, @{ $by{$k} };
    }
    if (@groups > 1 && @{ $groups[-1] } / 2 < $min) {    # too small a tail
        my $tail = pop @groups;
        push @{ $groups[-1] }, @$tail;
    }
    my @b;
    for my $g (@groups) {
        my (@xs, @ys);
        for (my $i = 0; $i < @$g; $i += 2) {
            push @xs, $g->[$i];
            push @ys, $g->[ $i + 1 ];
        }
        push @b, [ median(@xs), median(@ys), scalar @xs ];
    }
    return \@b;
}

# f_b(x) = (x^b - 1)/b, and ln x at b = 0 (the Box-Cox family: b = 0 is
# logarithmic growth, b = 1 linear, b = 2 quadratic).
sub _f {
    my ($x, $b) = @_;
    return $b == 0 ? log($x) : ($x**$b - 1) / $b;
}

# Weighted least squares of y = a + c f, a >= 0, c >= 0, with relative
# weights 1/y^2 (y at least $floor: counts may be 0). Returns (a, c, ssr).
sub _fit_b {
    my ($f, $y, $floor) = @_;
    my ($sw, $sf, $sy, $sff, $sfy) = (0) x 5;
    my @w;
    for my $i (0 .. $#$y) {
        my ($fi, $yi) = ($f->[$i], $y->[$i]);
        my $d = $yi > $floor ? $yi : $floor;
        my $w = $w[$i] = 1 / ($d * $d);
        $sw += $w; $sf += $w * $fi; $sy += $w * $yi; $sff += $w * $fi * $fi; $sfy += $w * $fi * $yi;
    }
    my $det = $sw * $sff - $sf * $sf;
    my ($a, $c);
    if ($det > 1e-300 * ($sw * $sff || 1)) {
        $c = ($sw * $sfy - $sf * $sy) / $det;
        $a = ($sy - $c * $sf) / $sw;
    }
    if (!defined $c || $c < 0) {
        ($a, $c) = ($sy / $sw, 0);
    } elsif ($a < 0) {
        ($a, $c) = (0, $sff > 0 ? $sfy / $sff : 0);
    }
    my $ssr = 0;
    for my $i (0 .. $#$y) {
        my $r = $y->[$i] - $a - $c * $f->[$i];
        $ssr += $w[$i] * $r * $r;
    }
    return ($a, $c, $ssr);
}

# fit_power($buckets) -> { b, a, c, ssr }: the exponent b in 0..$MAX_B whose
# fit has the smallest relative residual (grid 0.1, then refined to 0.01).
sub fit_power {
    my ($pts) = @_;
    my @x = map { $_->[0] } @$pts;
    my @y = map { $_->[1] } @$pts;
    return _fit_power(\@x, \@y, [ 0 .. $#x ], {});
}

# The same over the points $idx (indices into @$x, @$y, repeats allowed);
# $cache keeps f_b(x) per b across calls on the same x (the bootstrap).
sub _fit_power {
    my ($x, $y, $idx, $cache) = @_;
    my @yy = @$y[@$idx];
    my ($top) = sort { $b <=> $a } @yy;
    my $floor = $top > 0 ? $top * 1e-3 : 1;
    my $best;
    my $try = sub {
        my ($bx) = @_;    # exponent, in hundredths
        return if $bx < 0 || $bx > $MAX_B * 100;
        my $f = $cache->{$bx} //= [ map { _f($_, $bx / 100) } @$x ];
        my ($a, $c, $ssr) = _fit_b([ @$f[@$idx] ], \@yy, $floor);
        $best = { b => $bx / 100, a => $a, c => $c, ssr => $ssr }
            if !$best || $ssr < $best->{ssr} - 1e-15;
    };
    $try->($_ * 10) for 0 .. $MAX_B * 10;
    my $b0 = int($best->{b} * 100 + 0.5);
    $try->($b0 + $_) for grep { $_ } -9 .. 9;
    return $best;
}

sub _growth {
    my ($fit, $xmin, $xmax) = @_;
    my $lo = $fit->{a} + $fit->{c} * _f($xmin, $fit->{b});
    my $hi = $fit->{a} + $fit->{c} * _f($xmax, $fit->{b});
    return $lo > 0 ? $hi / $lo : ($hi > 0 ? 9**9**9 : 1);
}

sub _pct {
    my ($sorted, $p) = @_;
    my $i = $p * $#$sorted;
    my $l = int $i;
    return $sorted->[$l] if $l >= $#$sorted;
    return $sorted->[$l] + ($i - $l) * ($sorted->[ $l + 1 ] - $sorted->[$l]);
}

# The exponent regions that have a name: logarithmic, sublinear, linear,
# worse than linear.
sub _region {
    my ($b) = @_;
    return $b < 0.3 ? 0 : $b < 0.75 ? 1 : $b < 1.35 ? 2 : 3;
}

sub class_of_exponent {
    my ($b) = @_;
    return 'O(log n)' if $b < 0.3;
    return 'O(n)' if $b >= 0.75 && $b < 1.35;
    return 'O(n^0.5)' if $b < 0.75;
    return 'O(n^1.5)' if $b < 1.75;
    return 'O(n^2)' if $b < 2.5;
    return 'O(n^3)';
}

# verdict(\@n, \@y) -> hashref (see the top of this file)
sub verdict {
    my ($n, $y) = @_;
    my @ys = grep { defined && $_ >= 0 } @$y;
    my %v = (points => scalar @ys, median => median(@ys), class => 'inconclusive');
    my $bk = bucket_medians($n, $y);
    $v{buckets} = @$bk;
    $v{medians} = [ map { [ $_->[0] - 1, $_->[1] ] } @$bk ];
    if (@$bk < $MIN_BUCKETS) {
        $v{reason} = sprintf('only %d n buckets (at least %d needed)', scalar @$bk, $MIN_BUCKETS);
        return \%v;
    }
    my ($xmin, $xmax) = ($bk->[0][0], $bk->[-1][0]);
    if ($xmax / $xmin < $MIN_SPAN) {
        $v{reason} = sprintf('n spans only %g..%g (a factor %d needed)', $xmin - 1, $xmax - 1, $MIN_SPAN);
        return \%v;
    }
    my @bx = map { $_->[0] } @$bk;
    my @by = map { $_->[1] } @$bk;
    my %cache;
    my $fit = _fit_power(\@bx, \@by, [ 0 .. $#bx ], \%cache);
    $v{exponent} = $fit->{b};
    $v{growth} = _growth($fit, $xmin, $xmax);
    $v{curve} = [ map { [ $_->[0] - 1, $fit->{a} + $fit->{c} * _f($_->[0], $fit->{b}) ] } @$bk ];

    # Bootstrap: resample the buckets with replacement, refit. Seeded, so a
    # verdict is reproducible.
    my $seed = 1;
    my $rand = sub { $seed = ($seed * 1103515245 + 12345) % 2147483648; $seed / 2147483648 };
    my (@bs, @gs);
    for (1 .. $RESAMPLES) {
        my @s = map { int($rand->() * @$bk) } 1 .. @$bk;
        my %ux = map { $_ => 1 } @s;
        next if keys %ux < 3;
        my $f = _fit_power(\@bx, \@by, \@s, \%cache);
        push @bs, $f->{c} > 0 ? $f->{b} : undef;
        push @gs, _growth($f, $xmin, $xmax);
    }
    @gs = sort { $a <=> $b } @gs;
    @v{qw(growth_lo growth_hi)} = (_pct(\@gs, 0.025), _pct(\@gs, 0.975));
    my @grow = sort { $a <=> $b } grep { defined } @bs;
    @v{qw(b_lo b_hi)} = @grow ? (_pct(\@grow, 0.025), _pct(\@grow, 0.975)) : ($v{exponent}, $v{exponent});

    my $span = sprintf('n = %g..%g', $xmin - 1, $xmax - 1);
    if ($v{growth_hi} < $FLAT) {
        $v{class} = 'O(1)';
        $v{reason} = sprintf('latency grows by less than %.0f%% over %s (95%% interval of the growth %.2f..%.2f)',
                             ($FLAT - 1) * 100, $span, $v{growth_lo}, $v{growth_hi});
    } elsif ($v{growth_lo} < $FLAT) {
        $v{reason} = sprintf('growth over %s is %.2f, 95%% interval %.2f..%.2f straddles the O(1) bound %.2f',
                             $span, $v{growth}, $v{growth_lo}, $v{growth_hi}, $FLAT);
    } elsif ($v{b_hi} - $v{b_lo} > $WIDE && _region($v{b_lo}) != _region($v{b_hi})) {
        $v{reason} = sprintf('latency grows %.2fx over %s, but its exponent is only known within %.2f..%.2f',
                             $v{growth}, $span, $v{b_lo}, $v{b_hi});
    } else {
        $v{class} = class_of_exponent($v{exponent});
        $v{reason} = sprintf('latency grows %.2fx over %s; exponent %.2f (95%% interval %.2f..%.2f)',
                             $v{growth}, $span, $v{exponent}, $v{b_lo}, $v{b_hi});
    }
    return \%v;
}

1;
