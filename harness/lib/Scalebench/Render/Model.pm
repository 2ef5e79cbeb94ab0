package Scalebench::Render::Model;
# Stage 2 of plot/render: the model. Graphs x tags x series, each series
# bucketed once (Scalebench::Complexity::buckets), its verdict, and every
# compared tag against the baseline (Scalebench::Compare::compare); also
# what the drawing needs to know of the data (y range, log axes, clipped
# points). Nothing here draws or writes HTML. Core perl only.
#
#   my $m = build(tags => \@tags, families => \@fams, baseline => 'tagA',
#                 include_quick => 0, log => sub { ... });
#   $m->{graphs}[i]{series}[j]{b}        buckets
#   $m->{graphs}[i]{series}[j]{v}        verdict
#   $m->{graphs}[i]{series}[j]{migrated} how many of its points crossed CPUs
#   $m->{graphs}[i]{compare}             [ { tag, stem, c } ]  (c: compare())
#   verdicts_json($m), comparison_json($m)  -> the data written beside the page
use strict;
use warnings;
use utf8;
use Exporter 'import';
use Scalebench::Render::Load qw(read_header read_columns glob_re stops_of);
use Scalebench::Complexity qw(buckets verdict);
use POSIX ();
use List::Util qw(min max);
use Scalebench::Compare qw(compare);
our @EXPORT_OK = qw(build verdicts_json comparison_json tag_order unit_of);

# Tableau 10 for tags; a variant stem of a graph that draws several (fork vs
# fork-static) takes its tag's hue from the second list: a different hue, not
# a shade of the first.
our @PALETTE = map { "#$_" } qw(1f77b4 d62728 2ca02c ff7f0e 9467bd 8c564b e377c2 17becf bcbd22 7f7f7f);
our @VARIANT = map { "#$_" } qw(bcbd22 17becf e377c2 8c564b 7f7f7f 2ca02c ff7f0e 1f77b4 d62728 9467bd);
our @MARKERS = (7, 9, 5, 13, 11);     # gnuplot pt: circle, triangle, square, diamond, down triangle
our @MARKNAME = ('●', '▲', '■', '◆', '▼');
our @DASH = (1, 2, 4, 5, 3);          # gnuplot dt for the median lines of stem 0, 1, ...
our $LOG_Y_RATIO = 30;                # tags' large-n levels differ more than this: log y
our $LOG_Y_SPAN = 100;                # one series' median levels span more than this: log y
our $PARALLEL_READ_BYTES = 16 << 20;  # a stem's files are read in parallel from this size on
our $RING_SHARE = 0.05;               # samples that crossed CPUs are ringed up to this share of a series

sub unit_of { return $_[0] =~ /_ns$/ ? 'ns' : 'count' }

# tag_order(\@tags, order => [names], baseline => NAME, include_quick => 0)
# -> (baseline name or undef, list of tag names compared against it).
# Rule: the baseline is --baseline, else the first tag of the order given
# (--tags), else the first tag by name that is not a quick run. Quick tags are
# compared only with include_quick.
sub tag_order {
    my ($tags, %o) = @_;
    my @names = map { $_->{tag} } @$tags;
    my %quick = map { $_->{tag} => $_->{quick} } @$tags;
    my @cand = grep { $o{include_quick} || !$quick{$_} } @names;
    my $base = $o{baseline} // $cand[0];
    return (undef) unless defined $base;
    return ($base, grep { $_ ne $base } @cand);
}

sub _sample {    # every k-th value of a packed string, at most $max of them
    my ($p, $max) = @_;
    my $n = length($p) / 8;
    return () unless $n;
    my $k = $n > $max ? int($n / $max) : 1;
    return unpack('d*', $p) if $k == 1;
    my @s;
    for (my $i = 0; $i < $n; $i += $k) { push @s, unpack('d', substr($p, $i * 8, 8)) }
    return @s;
}

sub _count_above {    # exact count of values > $top in a packed string, in chunks
    my ($p, $top) = @_;
    my $c = 0;
    for (my $o = 0; $o < length $p; $o += 8 * 65536) {
        $c += grep { $_ > $top } unpack 'd*', substr($p, $o, 8 * 65536);
    }
    return $c;
}

# _top(\@values, p) -> (_pct(sorted, p), the largest, the smallest > 0 or
# undef), as from sorting them all, but sorting only the values at or
# above a threshold taken from a sample (all of them if that misses).
sub _top {
    my ($v, $p) = @_;
    return (undef, undef, undef) unless @$v;
    my $N = @$v;
    my $m = $N - int($p * ($N - 1) + 0.5);    # the quantile is the m-th largest
    my ($max, $pos) = (max(@$v), min(grep { $_ > 0 } @$v));
    if ($N > 5000) {
        my $step = int($N / 2000);
        my @s = sort { $a <=> $b } @$v[ map { $_ * $step } 0 .. int(($N - 1) / $step) ];
        my $r = int(@s * (1 - 3 * $m / $N)) - 5;    # about three times as many as needed
        if ($r > 0) {
            my $t = $s[$r];
            my @hi = sort { $a <=> $b } grep { $_ >= $t } @$v;
            return ($hi[ @hi - $m ], $max, $pos) if @hi >= $m;
        }
    }
    my @all = sort { $a <=> $b } @$v;
    return ($all[ $N - $m ], $max, $pos);
}

sub _pct {
    my ($s, $p) = @_;
    return undef unless @$s;
    return $s->[ int($p * $#$s + 0.5) ];
}

# read_columns of several files, up to $jobs at once in child processes
# that hand back the packed columns through a pipe (Storable).
sub _read_parallel {
    my ($paths, $cols, $jobs) = @_;
    return map { read_columns($_, $cols) } @$paths if $jobs < 2 || @$paths < 2;
    require Storable;
    my @out;
    my @pending = (0 .. $#$paths);
    my %kids;    # index -> [pid, fh]
    my $start = sub {
        my $i = shift @pending;
        pipe(my $r, my $w) or die "pipe: $!\n";
        my $pid = fork // die "fork: $!\n";
        if ($pid == 0) {
            close $r;
            $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP);
            my $ok = eval { Storable::nstore_fd(read_columns($paths->[$i], $cols), $w); close $w; 1 };
            POSIX::_exit($ok ? 0 : 1);
        }
        close $w;
        $kids{$i} = [ $pid, $r ];
    };
    for my $i (0 .. $#$paths) {
        $start->() while @pending && keys %kids < $jobs;
        my ($pid, $r) = @{ delete $kids{$i} };
        my $d = eval { Storable::fd_retrieve($r) };
        close $r;
        waitpid $pid, 0;
        $d = read_columns($paths->[$i], $cols) unless $d && !$?;    # the child failed: read it here
        push @out, $d;
    }
    return @out;
}

# For a graph whose x takes a few values: per value its median, p10, p90.
sub _levels {
    my ($runs) = @_;
    my %by;
    for my $r (@$runs) {
        my @n = unpack 'd*', $r->[0];
        my @y = unpack 'd*', $r->[1];
        push @{ $by{ $n[$_] } }, $y[$_] for 0 .. $#n;
    }
    return [ map {
        my @v = sort { $a <=> $b } @{ $by{$_} };
        my $m = @v % 2 ? $v[ $#v / 2 ] : ($v[ @v / 2 - 1 ] + $v[ @v / 2 ]) / 2;
        { n => $_, count => scalar @v, median => $m, p10 => _pct(\@v, 0.1), p90 => _pct(\@v, 0.9) }
    } sort { $a <=> $b } keys %by ];
}

# The graphs of a family: one per stem (or one for all stems: together) and
# column found in some tag's files.
sub _expand {
    my ($fam, $tags, $headers, $log) = @_;
    my @stem_res = map { glob_re($_) } split ' ', $fam->{stems};
    my @excl = map { glob_re($_) } split ' ', ($fam->{exclude} // '');
    my $base = (split ' ', $fam->{stems})[0];
    my %stems;
    for my $t (@$tags) {
        for my $s (keys %{ $t->{files} }) {
            $stems{$s} = 1 if grep({ $s =~ $_ } @stem_res) && !grep { $s =~ $_ } @excl;
        }
    }
    return () unless %stems;
    my @groups = $fam->{together} ? ([ sort keys %stems ]) : map { [$_] } sort keys %stems;
    my @colspecs = split ' ', $fam->{columns};
    my $multi = @colspecs > 1 || $fam->{columns} =~ /\*/;
    my @g;
    for my $grp (@groups) {
        my (@cols, %seen);
        for my $t (@$tags) {
            for my $s (@$grp) {
                for my $f (@{ $t->{files}{$s} || [] }) {
                    my $h = $headers->{ $f->{path} } //= do {
                        my $hd = read_header($f->{path});
                        $log->("$f->{path}: $hd->{problems}[0]") if @{ $hd->{problems} };
                        $hd;
                    };
                    my @c = @{ $h->{columns} };
                    for my $c (@c[ 1 .. $#c ]) {
                        push @cols, $c if !$seen{$c}++ && grep { $c =~ glob_re($_) } @colspecs;
                    }
                }
            }
        }
        my %rank = map { $colspecs[$_] => $_ } 0 .. $#colspecs;
        @cols = sort { ($rank{$a} // 99) <=> ($rank{$b} // 99) } @cols;
        for my $c (@cols) {
            my $id = $fam->{graph};
            my $variant = '';
            if (!$fam->{together} && $grp->[0] ne $base) {
                ($variant = $grp->[0]) =~ s/^\Q$base\E-?//;
                $id .= "-$variant";
            }
            (my $cs = $c) =~ s/_ns$//;
            $cs =~ s/_/-/g;
            $id .= "-$cs" if $multi;
            (my $cname = $c) =~ s/_ns$//;
            my $title = $fam->{"title.$c"} // ($multi ? "$fam->{title}: $cname" : $fam->{title});
            $title .= " — $variant" if length $variant;
            push @g, { id => $id, fam => $fam, stems => $grp, column => $c, title => $title, variant => $variant,
                       type => $fam->{"type.$c"} // $fam->{type}, unit => unit_of($c) };
        }
    }
    return @g;
}

# build(tags => [...from Load::tags], families => [...], baseline, include_quick, log,
#       with_data => sub { my ($graph) = @_; ... })
# with_data is called once per graph with data, while its series still hold
# their rows ($series->{runs_data}: [ [n_packed, y_packed], ... ]); they are
# dropped after it, so that only one graph's rows are in memory at a time.
sub build {
    my (%o) = @_;
    my @tags = @{ $o{tags} };
    my $log = $o{log} // sub { };
    my $warn = $o{warn} // $log;    # unreadable files
    my %tag = map { $_->{tag} => $_ } @tags;
    for my $i (0 .. $#tags) {
        my $t = $tags[$i];
        $t->{colour} = $PALETTE[ $i % @PALETTE ];
        $t->{variant_colour} = $VARIANT[ $i % @VARIANT ];
        $t->{short} = $t->{tag} . ($t->{quick} ? ' (quick)' : '');
        $t->{legend} = $t->{short} . (defined $t->{label} ? ": $t->{label}" : '');
    }
    my ($base, @cmp) = tag_order(\@tags, baseline => $o{baseline}, include_quick => $o{include_quick});
    die "no tag '$base' to compare against (the tags: " . join(' ', map { $_->{tag} } @tags) . ")\n"
        if defined $base && !$tag{$base};
    my %headers;
    my @graphs = map { _expand($_, \@tags, \%headers, $warn) } @{ $o{families} };

    # Each (tag, stem) is read once, with every column any graph wants of it,
    # and dropped after its last graph.
    my (%want, %uses);
    for my $g (@graphs) {
        for my $t (@tags) {
            for my $s (@{ $g->{stems} }) {
                next unless $t->{files}{$s};
                $want{"$t->{tag}\0$s"}{ $g->{column} } = 1;
                $uses{"$t->{tag}\0$s"}++;
            }
        }
    }
    my (%loaded, %bucketed);
    my $load = sub {
        my ($t, $s) = @_;
        my $k = "$t->{tag}\0$s";
        return $loaded{$k} //= do {
            my @cols = sort keys %{ $want{$k} };
            # in child processes only when there is much to read: a fork of
            # this process costs it copy-on-write faults on every page it
            # then writes (a one-tag page: 5 s more CPU for 80 small files)
            my $bytes = 0;
            $bytes += $_->{size} for @{ $t->{files}{$s} };
            my $jobs = $bytes >= $PARALLEL_READ_BYTES ? $o{jobs} // 2 : 1;
            my @read = _read_parallel([ map { $_->{path} } @{ $t->{files}{$s} } ], \@cols, $jobs);
            [ map {
                my $d = shift @read;
                my %f = (%$_, end => $d->{end} // '(no end line: cut short?)', kind => $d->{kind},
                         problems => $d->{problems}, rows => $d->{rows}, cols => $d->{cols}, mig => $d->{migrated},
                         columns => $d->{columns});
                $warn->("$_->{path}: $d->{problems}[0]" . (@{ $d->{problems} } > 1 ? ' (and '
                       . (@{ $d->{problems} } - 1) . ' more problems)' : '')) if @{ $d->{problems} };
                \%f;
            } @{ $t->{files}{$s} } ];
        };
    };

    for my $g (@graphs) {
        my @series;
        my $k = 0;
        for my $t (@tags) {
            for my $si (0 .. $#{ $g->{stems} }) {
                my $s = $g->{stems}[$si];
                my %ser = (tag => $t->{tag}, stem => $s, stem_index => $si, quick => $t->{quick},
                           colour => $si ? $t->{variant_colour} : $t->{colour},
                           marker => $MARKERS[ $si % @MARKERS ], markname => $MARKNAME[ $si % @MARKNAME ],
                           dash => $DASH[ $si % @DASH ],
                           label => $t->{legend} . (@{ $g->{stems} } > 1 ? " · $s" : ''));
                push @series, \%ser;
                if (!$t->{files}{$s}) { $ser{missing} = 1; next }
                my $files = $load->($t, $s);
                my @ok = grep { !@{ $_->{problems} } && $_->{cols}{ $g->{column} } } @$files;
                $ser{files} = [ map { my %f = %$_; delete @f{qw(cols mig)}; \%f } @ok ];
                $ser{all_files} = [ map { my %f = %$_; delete @f{qw(cols mig)}; \%f } @$files ];
                my @runs = grep { length $_->[0] } map { $_->{cols}{ $g->{column} } } @ok;
                $ser{points} = 0;
                $ser{points} += length($_->[0]) / 8 for @runs;
                $ser{stops} = stops_of(map { $_->{end} } @ok);
                next unless $ser{points};
                $ser{runs_data} = \@runs;
                _migrated_of(\%ser, \@ok, $g->{column});
                # a series in two graphs (fork and fork-static) is bucketed once
                my $bv = $bucketed{"$t->{tag}\0$s\0$g->{column}"} //= do {
                    my $b = buckets(\@runs, count => $g->{unit} eq 'count' ? 1 : 0);
                    [ $b, verdict($b) ];
                };
                @ser{qw(b v)} = @$bv;
                $ser{levels} = _levels(\@runs) if $g->{type} eq 'levels';
                my @y = map { _sample($_->[1], 200000 / @runs) } @runs;
                @ser{qw(p99 ymax ypos)} = _top(\@y, 0.99);
                my %dn;
                @dn{ map { _sample($_->[0], 20000 / @runs) } @runs } = ();
                $ser{distinct_n} = [ sort { $a <=> $b } keys %dn ];
                ($ser{nmax}) = $ser{b}{n_max};
                $ser{nmin} = $ser{b}{n_min};
            }
        }
        for my $t (@tags) {    # free what no later graph needs
            for my $s (@{ $g->{stems} }) {
                my $key = "$t->{tag}\0$s";
                delete $loaded{$key} if $t->{files}{$s} && --$uses{$key} == 0;
            }
        }
        $g->{series} = \@series;
        my @present = grep { $_->{points} } @series;
        $g->{present} = \@present;
        _axes($g) if @present;
        $o{with_data}->($g) if $o{with_data} && @present;    # the drawing stage's look at the rows
        delete @$_{qw(runs_data migrated_data)} for @series;
        # the comparison: every compared tag against the baseline, per stem
        $g->{compare} = [];
        if (defined $base) {
            for my $s (@{ $g->{stems} }) {
                my ($bs) = grep { $_->{tag} eq $base && $_->{stem} eq $s && $_->{b} } @series;
                for my $ot (@cmp) {
                    my ($os) = grep { $_->{tag} eq $ot && $_->{stem} eq $s } @series;
                    next unless $os;
                    my %row = (tag => $ot, stem => $s, series => $os);
                    if (!$bs) { $row{missing} = "the baseline $base has no $s results" }
                    elsif (!$os->{b}) { $row{missing} = "$ot has no $s results" }
                    else { $row{c} = compare($bs->{b}, $os->{b}) }
                    push @{ $g->{compare} }, \%row;
                }
            }
        }
        $log->(sprintf '%s: %s', $g->{id}, join(', ', map { "$_->{tag}: " . ($_->{v}{label} // $_->{v}{class}) } @present));
    }
    return { tags => \@tags, graphs => \@graphs, baseline => $base, compared => \@cmp,
             include_quick => $o{include_quick} ? 1 : 0 };
}

# The points of a series that crossed CPUs (the files' migrated_at): their
# count in $ser->{migrated}, and while the rows are held, the points
# themselves in $ser->{migrated_data} ([ [n_packed, y_packed], ... ] like
# runs_data) for the drawing, which rings them. They stay in runs_data: they
# are valid samples. Rings mark the rare: a series where more than
# $RING_SHARE of the samples crossed (forkbench, whose end stamp is the
# child's own, on whichever CPU it ran) is counted but not ringed
# ($ser->{ringed} = 0), or the rings would hide its points and band.
sub _migrated_of {
    my ($ser, $files, $column) = @_;
    my @mig = grep { $_ } map { $_->{mig} && $_->{mig}{$column} } @$files;
    $ser->{migrated} = 0;
    $ser->{migrated} += length($_->[0]) / 8 for @mig;
    $ser->{ringed} = $ser->{migrated} && $ser->{migrated} <= $RING_SHARE * $ser->{points} ? 1 : 0;
    $ser->{migrated_data} = \@mig if $ser->{ringed};
}

# The axes a graph is drawn with, from its data: log x where n is
# log-spaced (or the family says '# x: log'); log y where the tags' levels
# differ by more than $LOG_Y_RATIO or one series spans more than
# $LOG_Y_SPAN; otherwise a linear y up to what fits every tag's p10-p90 band
# and 99th percentile, the points above it counted (drawn on the top edge).
sub _axes {
    my ($g) = @_;
    my @p = @{ $g->{present} };
    my %a;
    my ($nmax) = sort { $b <=> $a } map { $_->{nmax} } @p;
    my ($nmin) = sort { $a <=> $b } map { $_->{nmin} } @p;
    my $x = $g->{fam}{x} // '';
    if ($x eq 'log' || $x eq 'linear') {
        $a{logx} = $x eq 'log' ? 1 : 0;
    } else {    # few distinct n, spaced by a roughly constant factor, over >= 2 decades
        my %dn = map { $_ => 1 } map { @{ $_->{distinct_n} } } @p;
        my @d = sort { $a <=> $b } grep { $_ > 0 } keys %dn;
        my @r = map { $d[$_] / $d[ $_ - 1 ] } 1 .. $#d;
        @r = sort { $a <=> $b } @r;
        $a{logx} = @d >= 4 && @d <= 200 && $d[-1] / $d[0] >= 100 && $r[ int(@r / 2) ] >= 1.25 ? 1 : 0;
    }
    $a{xmin} = $a{logx} ? (($nmin > 0 ? $nmin : 1) / 1.15) : 0;
    $a{xmax} = $a{logx} ? $nmax * 1.15 : $nmax * 1.02 + 1;
    my @lv = grep { $_ > 0 } map { $_->{v}{large}{value} // () } @p;
    @lv = sort { $a <=> $b } @lv;
    my $spread = 0;
    for my $s (@p) {
        my @m = sort { $a <=> $b } grep { $_ > 0 } map { $_->{median} } @{ $s->{b}{pooled} || [] };
        $spread = $m[-1] / $m[0] if @m && $m[-1] / $m[0] > $spread;
    }
    # the top of the bands: per series the highest p90 of its last buckets
    # or the 90th percentile of all its buckets' p90 (a cold first bucket
    # does not count)
    my $band = 0;
    for my $s (@p) {
        my @q = map { $_->{p90} // $_->{median} } @{ $s->{b}{pooled} || [] };
        next unless @q;
        my @srt = sort { $a <=> $b } @q;
        my ($t) = sort { $b <=> $a } $srt[ int(0.9 * $#srt) ], @q[ ($#q > 2 ? $#q - 2 : 0) .. $#q ];
        $band = $t if $t > $band;
    }
    my ($p99) = sort { $b <=> $a } map { $_->{p99} } @p;
    my ($ymax) = sort { $b <=> $a } map { $_->{ymax} } @p;
    # up to the 99th percentile, but no higher than 2.5 times the top of the
    # bands (rare outliers can be more than 1% of the points) and no lower
    # than the bands with some room
    my $top = $p99 // 0;
    $top = 2.5 * $band if $top > 2.5 * $band;
    $top = 1.15 * $band if $top < 1.15 * $band;
    $top = $ymax if $top > $ymax;
    $top = 1 unless $top > 0;
    if ($g->{unit} eq 'ns' && ((@lv >= 2 && $lv[-1] / $lv[0] > $LOG_Y_RATIO) || $spread > $LOG_Y_SPAN)) {
        $a{logy} = 1;
        my ($lo) = sort { $a <=> $b } grep { defined } map { $_->{ypos} } @p;
        $a{ylo} = ($lo // 1) / 1.25;
        $a{yhi} = $ymax * 1.25;
        $a{clipped} = 0;
    } else {
        $a{logy} = 0;
        $a{ylo} = 0;
        $a{yhi} = $top * 1.04;
        if ($ymax > $a{yhi}) {
            $a{cap} = $a{yhi};
            $a{maxv} = $ymax;
            for my $s (@p) { $a{clipped} += _count_above($_->[1], $a{cap}) for @{ $s->{runs_data} } }
        }
    }
    $g->{axes} = \%a;
}

sub _num { my ($v) = @_; return defined $v ? 0 + $v : undef }

# verdicts.json: every tag x graph x stem verdict with its numbers.
sub verdicts_json {
    my ($m) = @_;
    my @out;
    for my $g (@{ $m->{graphs} }) {
        for my $s (@{ $g->{series} }) {
            my %e = (graph => $g->{id}, title => $g->{title}, column => $g->{column}, tag => $s->{tag},
                     stem => $s->{stem}, quick => $s->{quick} ? JSON::PP::true() : JSON::PP::false());
            if ($s->{missing}) { $e{class} = 'missing'; push @out, \%e; next }
            $e{runs} = [ map { { run => 0 + $_->{run}, file => "$s->{tag}/$_->{name}", end => $_->{end} } }
                         @{ $s->{all_files} } ];
            $e{stops} = [ map { { n => 0 + $_->{n}, reason => $_->{reason}, runs => $_->{runs} } } @{ $s->{stops} } ];
            $e{points} = $s->{points};
            $e{migrated} = $s->{migrated} // 0;
            if (!$s->{v}) { $e{class} = 'no data'; push @out, \%e; next }
            my $v = $s->{v};
            $e{$_} = $v->{$_} for grep { defined $v->{$_} && !ref $v->{$_} } keys %$v;
            $e{$_} = $v->{$_} for grep { ref $v->{$_} eq 'HASH' } qw(small large);
            $e{ratio} = $v->{large}{value} / $v->{small}{value}
                if $v->{small} && $v->{large} && ($v->{small}{value} // 0) > 0;
            push @out, \%e;
        }
    }
    return \@out;
}

# comparison.json: the baseline, the compared tags, and per graph and stem
# every tag's ranges against the baseline.
sub comparison_json {
    my ($m) = @_;
    my %out = (baseline => $m->{baseline}, compared => $m->{compared},
               include_quick => $m->{include_quick} ? JSON::PP::true() : JSON::PP::false(),
               left_out => [ map { $_->{tag} } grep { $_->{quick} && !$m->{include_quick} } @{ $m->{tags} } ],
               graphs => []);
    for my $g (@{ $m->{graphs} }) {
        for my $row (@{ $g->{compare} || [] }) {
            my %e = (graph => $g->{id}, title => $g->{title}, column => $g->{column}, stem => $row->{stem},
                     tag => $row->{tag}, baseline => $m->{baseline});
            if ($row->{missing}) { $e{missing} = $row->{missing} }
            else { %e = (%e, %{ $row->{c} }) }
            push @{ $out{graphs} }, \%e;
        }
    }
    return \%out;
}

1;
