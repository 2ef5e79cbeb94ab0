package Scalebench::Compare;
# How much faster or slower is one tag than another, where in n, and how
# sure is that? The ratio of two series' medians in a few ranges of n over
# their common range, each with a 95% bootstrap interval. The method is
# described in docs/complexity.md ("Comparing two tags"). Core perl only.
#
#   use Scalebench::Complexity qw(buckets);
#   use Scalebench::Compare qw(compare);
#   my $c = compare(buckets($base_runs), buckets($other_runs));
#   # $c->{ranges} [ { n_lo, n_hi, base, other, ratio, lo, hi, significant,
#   #                  method, buckets }, ... ]  ratio = other / base
#   # $c->{worst}, $c->{best}   indexes into ranges (highest, lowest ratio)
#   # $c->{common} [n_lo, n_hi];  $c->{note} one line
use strict;
use warnings;
use Exporter 'import';
use Scalebench::Complexity qw(quantile wmedian);
our @EXPORT_OK = qw(compare);

our $MAX_RANGES = 4;      # n ranges at most (about one per decade)
our $RESAMPLES  = 1000;   # bootstrap resamples
our $MIN_RUNS   = 3;      # runs on both sides to resample runs

sub _rng {
    my $s = shift;
    return sub { $s = ($s * 1103515245 + 12345) % 2147483648; $s / 2147483648 };
}

# A side's summaries per bucket k: [[level, count] per run].
sub _side {
    my ($B) = @_;
    my %by;
    my $count = $B->{count} ? 1 : 0;
    my @runs = @{ $B->{per_run} || [] };
    for my $r (0 .. $#runs) {
        for my $e (@{ $runs[$r] }) {
            next unless $e->{count};
            $by{ $e->{k} }[$r] = [ $count ? $e->{mean} : $e->{median}, $e->{count} ];
        }
    }
    my %pool = map { $_->{k} => [ $count ? $_->{mean} : $_->{median}, $_->{count} ] } @{ $B->{pooled} || [] };
    return { count => $count, runs => scalar @runs, by => \%by, pool => \%pool };
}

# The level of a side over buckets @$ks from runs @$use: the count-weighted
# median of the runs' bucket medians (the mean of the means for counts).
sub _level {
    my ($s, $ks, $use) = @_;
    my @p;
    for my $k (@$ks) {
        if ($use) {
            push @p, grep { defined } map { $s->{by}{$k}[$_] } @$use;
        } else {
            push @p, $s->{pool}{$k} if $s->{pool}{$k};
        }
    }
    return undef unless @p;
    if ($s->{count}) {
        my ($sw, $sy) = (0, 0);
        $sw += $_->[1], $sy += $_->[0] * $_->[1] for @p;
        return $sw ? $sy / $sw : undef;
    }
    return wmedian(\@p);
}

sub _fmt {
    my ($n) = @_;
    return sprintf('%.0f', $n) if $n < 1e6;
    return sprintf('%.3g', $n);
}

sub compare {
    my ($B0, $B1) = @_;
    my %c = (ranges => [], worst => undef, best => undef, common => undef);
    my ($s0, $s1) = (_side($B0), _side($B1));
    my %k1 = map { $_->{k} => $_ } @{ $B1->{pooled} || [] };
    my @ks = map { $_->{k} } grep { $k1{ $_->{k} } } @{ $B0->{pooled} || [] };
    if (!@ks || !defined $B0->{n_min} || !defined $B1->{n_min}) {
        $c{note} = 'no common range of n';
        return \%c;
    }
    my %k0 = map { $_->{k} => $_ } @{ $B0->{pooled} };
    my $lo = $B0->{n_min} > $B1->{n_min} ? $B0->{n_min} : $B1->{n_min};
    my $hi = $B0->{n_max} < $B1->{n_max} ? $B0->{n_max} : $B1->{n_max};
    $c{common} = [ $lo, $hi ];

    # Ranges: equal steps of log n (k is log-spaced), about one per decade,
    # at most $MAX_RANGES, each of at least two buckets where there are.
    my $decades = ($ks[-1] - $ks[0] + 1) / $Scalebench::Complexity::PER_DECADE;
    my $nr = int($decades + 0.5);
    $nr = $MAX_RANGES if $nr > $MAX_RANGES;
    $nr = int(@ks / 2) if $nr > int(@ks / 2);
    $nr = 1 if $nr < 1;
    my @groups;
    my $w = ($ks[-1] - $ks[0] + 1) / $nr;
    for my $k (@ks) {
        push @{ $groups[ int(($k - $ks[0]) / $w) ] }, $k;
    }
    @groups = grep { $_ && @$_ } @groups;

    my $byruns = $s0->{runs} >= $MIN_RUNS && $s1->{runs} >= $MIN_RUNS;
    my $rand = _rng(4242);
    for my $g (@groups) {
        my @all0 = (0 .. $s0->{runs} - 1);
        my @all1 = (0 .. $s1->{runs} - 1);
        my ($l0, $l1) = $byruns ? (_level($s0, $g, \@all0), _level($s1, $g, \@all1))
                                : (_level($s0, $g), _level($s1, $g));
        my %r = (n_lo => $k0{ $g->[0] }{n_lo} > $k1{ $g->[0] }{n_lo} ? $k0{ $g->[0] }{n_lo} : $k1{ $g->[0] }{n_lo},
                 n_hi => $k0{ $g->[-1] }{n_hi} < $k1{ $g->[-1] }{n_hi} ? $k0{ $g->[-1] }{n_hi} : $k1{ $g->[-1] }{n_hi},
                 base => $l0, other => $l1, buckets => scalar @$g,
                 method => $byruns ? 'runs' : 'buckets', significant => 0);
        $r{ratio} = defined $l0 && defined $l1 && $l0 > 0 ? $l1 / $l0 : undef;
        if (defined $r{ratio}) {
            my @rs;
            for (1 .. $RESAMPLES) {
                my ($a, $b);
                if ($byruns) {
                    $a = _level($s0, $g, [ map { int($rand->() * $s0->{runs}) } @all0 ]);
                    $b = _level($s1, $g, [ map { int($rand->() * $s1->{runs}) } @all1 ]);
                } else {
                    my @g0 = map { $g->[ int($rand->() * @$g) ] } @$g;
                    my @g1 = map { $g->[ int($rand->() * @$g) ] } @$g;
                    ($a, $b) = (_level($s0, \@g0), _level($s1, \@g1));
                }
                push @rs, $b / $a if defined $a && defined $b && $a > 0;
            }
            @rs = sort { $a <=> $b } @rs;
            @r{qw(lo hi)} = @rs ? (quantile(\@rs, 0.025), quantile(\@rs, 0.975)) : ($r{ratio}, $r{ratio});
            # a bootstrap of R units spreads sqrt((R-1)/R) too little:
            # widen (in log ratio, about the estimate) by the inverse
            my $units = $byruns ? ($s0->{runs} < $s1->{runs} ? $s0->{runs} : $s1->{runs}) : scalar @$g;
            if ($units > 1 && $r{lo} > 0 && $r{ratio} > 0) {
                my $f = sqrt($units / ($units - 1));
                $r{lo} = $r{ratio} * ($r{lo} / $r{ratio})**$f;
                $r{hi} = $r{ratio} * ($r{hi} / $r{ratio})**$f;
            }
            $r{lo} = $r{ratio} if $r{lo} > $r{ratio};
            $r{hi} = $r{ratio} if $r{hi} < $r{ratio};
            $r{significant} = ($r{lo} > 1 || $r{hi} < 1) ? 1 : 0;
        }
        push @{ $c{ranges} }, \%r;
    }
    my @ok = grep { defined $c{ranges}[$_]{ratio} } 0 .. $#{ $c{ranges} };
    if (@ok) {
        my @by = sort { $c{ranges}[$a]{ratio} <=> $c{ranges}[$b]{ratio} } @ok;
        ($c{best}, $c{worst}) = ($by[0], $by[-1]);
        my $fmt = sub {
            my $r = $c{ranges}[ $_[0] ];
            sprintf('%.2fx at n = %s..%s (95%% interval %.2f..%.2f%s)', $r->{ratio}, _fmt($r->{n_lo}),
                    _fmt($r->{n_hi}), $r->{lo}, $r->{hi}, $r->{significant} ? '' : ', not significant');
        };
        $c{note} = 'other/base: highest ' . $fmt->($c{worst})
            . (@ok > 1 ? '; lowest ' . $fmt->($c{best}) : '')
            . ($byruns ? '; intervals from resampling runs' : '; intervals from resampling buckets (fewer than 3 runs)');
    } else {
        $c{note} = 'the base is zero in every range: no ratio';
    }
    return \%c;
}

1;
