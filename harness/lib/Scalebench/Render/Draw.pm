package Scalebench::Render::Draw;
# Stage 3 of plot/render: the pictures. For each graph of the model one
# gnuplot script, by the family's `type:` (plot/README.md):
#   scatter  every row of every run as a point, per tag a shaded p10-p90
#            band and the median line over the n buckets up to the last n;
#   levels   x takes a few values (mallocbench's T): per tag and value the
#            points spread a little sideways, a p10-p90 bar and the median
#            joined across the values.
# One PNG per graph (gnuplot's gd terminal). The points are thinned to the
# picture's pixels first: a point that lands on a pixel cell where the same
# series already has a point is not written again, so a graph of 5 million
# rows costs gnuplot what one of a few hundred thousand does and looks the
# same; the raw rows stay in the .dat files the page links. The thinning
# is done here, in the renderer's process; up to `jobs` gnuplots run at
# once, each on its own graph, while the model goes on with the next one.
#
#   my $d = Scalebench::Render::Draw->new(site => DIR, plot_dir => DIR,
#            gnuplot => 'gnuplot', tmp => DIR, jobs => 2);
#   $d->prepare($graph);   # while $series->{runs_data} holds the rows
#   $d->finish;            # waits for every gnuplot; dies if one failed
use strict;
use warnings;
use utf8;
use Exporter 'import';
use POSIX ();
our @EXPORT_OK = qw(gnuplot_ok png_size);

our $WIDTH = 960;
our $HEIGHT = 600;

sub gp_str {
    my ($s) = @_;
    $s =~ s/\\/\\\\/g;
    $s =~ s/"/\\"/g;
    $s =~ s/\n/ /g;
    return qq("$s");
}

sub gnuplot_ok {
    my ($gp) = @_;
    my $v = `$gp --version 2>/dev/null`;
    return ($v // '') =~ /gnuplot/;
}

sub darken {
    my ($hex, $f) = @_;
    my @c = map { hex } $hex =~ /^#(..)(..)(..)$/;
    return sprintf '#%02x%02x%02x', map { $_ * ($f // 0.6) } @c;
}

sub _q { my ($s) = @_; $s =~ s/'/'\\''/g; return "'$s'" }

# The axis unit: ns, µs or ms, whichever reads best at the top.
sub _scale {
    my ($g) = @_;
    return (1, $g->{unit}) unless $g->{unit} eq 'ns';
    my $top = $g->{axes}{logy} ? $g->{axes}{yhi} / 10 : $g->{axes}{yhi};
    return $top >= 1e7 ? (1e6, 'ms') : $top >= 1e4 ? (1e3, 'µs') : (1, 'ns');
}

# script($g, ...) -> gnuplot text for one graph
sub _script {
    my ($self, $g) = @_;
    my %o = %$self;
    my $tmp = $o{tmp};
    my $ax = $g->{axes};
    my ($ys, $un) = _scale($g);
    $g->{yunit} = $un;
    my $fam = $g->{fam};
    my $o = '';
    $o .= "load " . gp_str("$o{plot_dir}/style.gp") . "\n";
    $o .= "load " . gp_str($fam->{script}) . "\n";
    $o .= "set title " . gp_str($g->{title}) . "\n";
    my $ylabel = $fam->{"ylabel.$g->{column}"} // $fam->{ylabel} // "$g->{column} [ns]";
    $ylabel =~ s/\[ns\]/[$un]/;
    $ylabel .= ' (log scale)' if $ax->{logy};
    $o .= "set ylabel " . gp_str($ylabel) . "\n";
    $o .= "YS = $ys\n";
    if ($ax->{logy}) {
        $o .= sprintf "set logscale y\nset yrange [%.17g:%.17g]\nset format y \"%%g\"\nYMAX = 1e300\n",
            $ax->{ylo} / $ys, $ax->{yhi} / $ys;
    } else {
        $o .= sprintf "set yrange [0:%.17g]\nset format y \"%%g\"\nYMAX = %.17g\n", $ax->{yhi} / $ys,
            $ax->{cap} ? $ax->{cap} / $ys : 1e300;
    }
    if ($ax->{logx}) {
        $o .= sprintf "set logscale x\nset xrange [%.17g:%.17g]\nset format x \"%%g\"\n", $ax->{xmin}, $ax->{xmax};
        my $xl = $fam->{xlabel} // 'n';
        $o .= "set xlabel " . gp_str("$xl (log scale)") . "\n";
    } else {
        $o .= sprintf "set xrange [0:%.17g]\n", $ax->{xmax};
    }
    $o .= "set offsets 0, 0, 0, 0\n";
    my @p = @{ $g->{present} };
    my $levels = $g->{type} eq 'levels';
    # levels graphs: each tag's points, bars and line moved sideways at one
    # level (a fraction of the gap), written so into the files gnuplot reads
    my $k = 0;
    my %jx;
    for my $s (@p) {
        my $slot = @p > 1 ? ($k++ / (@p - 1) - 0.5) : 0;
        $jx{$s} = $levels ? $slot * ($ax->{logx} ? 0.12 : 0.5) : 0;
    }
    # points: per series, thinned to the grid, and its clipped points
    $o .= sprintf "NS = %d\narray SF[NS]\narray CF[NS]\narray SK[NS]\narray SP[NS]\n", scalar @p;
    for my $i (0 .. $#p) {
        my $s = $p[$i];
        my $pf = "$self->{tmp}/" . $self->{serial}++ . '.pts';
        my $cf = "$self->{tmp}/" . $self->{serial}++ . '.clip';
        push @{ $self->{thin} }, [ $s, $pf, $cf, $ys, $jx{$s} ];
        $o .= sprintf "SF[%d] = %s; CF[%d] = %s; SK[%d] = %s; SP[%d] = %d\n",
            $i + 1, gp_str($pf), $i + 1, gp_str($cf), $i + 1, gp_str($s->{colour}), $i + 1, $s->{marker};
    }
    $o .= $self->_rings($g, \@p, \%jx, $ys);
    # bands and median lines from the pooled buckets (levels: per value)
    my @lines;
    for my $s (@p) {
        my $rows = $levels ? $s->{levels} : $s->{b}{pooled};
        next unless $rows && @$rows;
        my $file = "$tmp/" . $self->{serial}++ . '.band';
        open my $fh, '>', $file or die "cannot write $file: $!\n";
        my @r = map { [ $levels ? $_->{n} : $_->{n_mid}, $_->{median}, $_->{p10} // $_->{median}, $_->{p90} // $_->{median} ] } @$rows;
        # the line reaches the last n (and starts at the first)
        if (!$levels) {
            unshift @r, [ $rows->[0]{n_lo}, @{ $r[0] }[ 1 .. 3 ] ] if $rows->[0]{n_lo} < $r[0][0];
            push @r, [ $rows->[-1]{n_hi}, @{ $r[-1] }[ 1 .. 3 ] ] if $rows->[-1]{n_hi} > $r[-1][0];
        }
        @r = grep { $_->[0] > 0 } @r if $ax->{logx};
        printf $fh "%.17g %.17g %.17g %.17g\n", _aside($_->[0], $jx{$s}, $ax->{logx}), @$_[ 1 .. 3 ] for @r;
        close $fh or die "cannot write $file: $!\n";
        push @lines, [ $file, $s ];
    }
    $o .= sprintf "NM = %d\narray MF[%d]\narray MK[%d]\narray MB[%d]\narray MD[%d]\n",
        scalar @lines, (@lines || 1) x 4;
    $o .= "MF[1] = \"/dev/null\"; MK[1] = \"#000000\"; MB[1] = \"#000000\"; MD[1] = 1\n" unless @lines;
    for my $i (0 .. $#lines) {
        my ($f, $s) = @{ $lines[$i] };
        $o .= sprintf "MF[%d] = %s; MK[%d] = %s; MB[%d] = %s; MD[%d] = %d\n", $i + 1, gp_str($f),
            $i + 1, gp_str(darken($s->{colour})), $i + 1, gp_str($s->{colour}), $i + 1, $s->{dash};
    }
    # the legend: one entry per tag and stem, marker and median line's dash
    $o .= sprintf "NK = %d\narray KT[%d]\narray KK[%d]\narray KP[%d]\narray KD[%d]\n", scalar @p, (@p || 1) x 4;
    for my $i (0 .. $#p) {
        $o .= sprintf "KT[%d] = %s; KK[%d] = %s; KP[%d] = %d; KD[%d] = %d\n", $i + 1, gp_str($p[$i]{label}),
            $i + 1, gp_str($p[$i]{colour}), $i + 1, $p[$i]{marker}, $i + 1, $p[$i]{dash};
    }
    # room under the x label for the legend's rows (two entries a row)
    $o .= "set bmargin " . (4 + int((@p + 1 + ($g->{migrated} ? 1 : 0)) / 2) * 1.3) . "\n";
    # stops: a dashed line at n, its label in the top margin (off the data)
    my $an = 0;
    my %at;
    for my $s (@p) {
        for my $st (@{ $s->{stops} || [] }) {
            $an++;
            my $row = $at{ $st->{n} }++;
            $o .= "set arrow $an from $st->{n}, graph 0 to $st->{n}, graph 1 nohead dt 2 lw 1.5 lc rgb "
                . gp_str($s->{colour}) . " front\n";
            $o .= "set label $an " . gp_str("stop $an") . " at $st->{n}, graph 1 offset 0," . (1.1 + 1.1 * $row)
                . " center font \",8\" textcolor rgb " . gp_str(darken($s->{colour})) . " front\n";
            $st->{mark} = "stop $an";
        }
    }
    if ($an) {
        my ($rows) = sort { $b <=> $a } values %at;
        $o .= "set tmargin " . (3 + $rows) . "\n";
    }
    $o .= "LEVELS = " . ($levels ? 1 : 0) . "\n";
    my $out = "$o{site}/$g->{id}.png";
    $o .= "set terminal png truecolor size $WIDTH,$HEIGHT font \"DejaVuSans,9\" background rgb \"white\"\n";
    $o .= "set output " . gp_str("$out.tmp") . "\n";
    $o .= "load " . gp_str("$o{plot_dir}/draw.gp") . "\nset output\n";
    return ($o, $out);
}

# _rings($g, \@present, \%jx, $ys) -> gnuplot text: the points that
# crossed CPUs (a series' migrated_data: only where they are rare, see
# Model::_migrated_of), thinned like the others, drawn by draw.gp as open
# black rings over the scatter; a legend entry "crossed CPUs (K)" only when
# K > 0. Sets $g->{migrated} = K, the ringed points.
sub _rings {
    my ($self, $g, $p, $jx, $ys) = @_;
    my @r = grep { $_->{migrated_data} } @$p;
    my $k = 0;
    $k += $_->{migrated} // 0 for @r;
    $g->{migrated} = $k;
    my $o = sprintf "NR = %d\narray RF[%d]\narray RC[%d]\nRT = %s\n", scalar @r, (@r || 1) x 2,
        gp_str($k ? "crossed CPUs ($k)" : '');
    $o .= "RF[1] = \"/dev/null\"; RC[1] = \"/dev/null\"\n" unless @r;
    for my $i (0 .. $#r) {
        my $rf = "$self->{tmp}/" . $self->{serial}++ . '.ring';
        my $rc = "$self->{tmp}/" . $self->{serial}++ . '.ringclip';
        push @{ $self->{thin} }, [ { runs_data => $r[$i]{migrated_data} }, $rf, $rc, $ys, $jx->{ $r[$i] } ];
        $o .= sprintf "RF[%d] = %s; RC[%d] = %s\n", $i + 1, gp_str($rf), $i + 1, gp_str($rc);
    }
    return $o;
}

sub new {
    my ($class, %o) = @_;
    return bless { %o, jobs => $o{jobs} // 2, timeout => $o{timeout} // 600, serial => 0, workers => [], failed => [],
                   count => 0 }, $class;
}

# _aside($x, $j, $logx) -> x moved sideways by $j: a factor 1 + $j on a log
# axis, an addition on a linear one (levels graphs; $j is 0 elsewhere).
sub _aside {
    my ($x, $j, $logx) = @_;
    return !$j ? $x : $logx ? $x * (1 + $j) : $x + $j;
}

# Cells of the thinning grid: finer than the plot area's pixels.
our ($CELLS_X, $CELLS_Y) = (1800, 1000);

# _thin($g, $s, $pf, $cf, $ys, $j): write the series' points, one per grid
# cell, scaled to the axis unit and moved sideways by $j (_aside), into $pf; points
# above the cap go to $cf, at the cap. Returns how many points were kept.
# The files are final: draw.gp plots them `using 1:2`, because any
# expression in a `using` costs gnuplot a signal-handler swap per point
# (three system calls: two thirds of its time on a scatter graph).
sub _thin {
    my ($self, $g, $s, $pf, $cf, $ys, $j) = @_;
    $j //= 0;
    my $a = $g->{axes};
    my ($lx, $ly) = ($a->{logx}, $a->{logy});
    my ($x0, $x1) = $lx ? (log($a->{xmin}), log($a->{xmax})) : ($a->{xmin}, $a->{xmax});
    my ($y0, $y1) = $ly ? (log($a->{ylo}), log($a->{yhi})) : ($a->{ylo}, $a->{yhi});
    my $sx = $CELLS_X / (($x1 - $x0) || 1);
    my $sy = $CELLS_Y / (($y1 - $y0) || 1);
    my $cap = $a->{cap} // 9**9**9;
    my $capv = sprintf '%.9g', $cap / $ys;
    my ($bits, $cbits) = ('', '');
    open my $p, '>', $pf or die "cannot write $pf: $!\n";
    open my $c, '>', $cf or die "cannot write $cf: $!\n";
    my $kept = 0;
    my $CH = 65536 * 8;
    for my $run (@{ $s->{runs_data} }) {
        my ($np, $yp) = @$run;
        for (my $off = 0; $off < length $np; $off += $CH) {
            my @n = unpack 'd*', substr($np, $off, $CH);
            my @y = unpack 'd*', substr($yp, $off, $CH);
            my $out = '';
            if (!$lx && !$ly && !$j) {    # linear axes (the usual case): the loop below, unrolled
                my $cyp = $CELLS_Y + 1;
                for my $i (0 .. $#n) {
                    my $y = $y[$i];
                    if ($y > $cap) {
                        my $cx = int(($n[$i] - $x0) * $sx);
                        next if vec($cbits, $cx, 1);
                        vec($cbits, $cx, 1) = 1;
                        print $c "$n[$i] $capv\n";
                        next;
                    }
                    my $k = int(($n[$i] - $x0) * $sx) * $cyp + int(($y - $y0) * $sy);
                    next if vec($bits, $k, 1);
                    vec($bits, $k, 1) = 1;
                    $out .= $n[$i] . ' ' . ($y / $ys) . "\n";
                    $kept++;
                }
                print $p $out;
                next;
            }
            for my $i (0 .. $#n) {
                my ($n, $y) = ($n[$i], $y[$i]);
                my $x = $lx ? ($n > 0 ? log($n) : next) : $n;
                my $cx = int(($x - $x0) * $sx);
                my $xo = _aside($n, $j, $lx);
                if ($y > $cap) {
                    next if vec($cbits, $cx, 1);
                    vec($cbits, $cx, 1) = 1;
                    print $c "$xo $capv\n";
                    next;
                }
                my $cy = int((($ly ? ($y > 0 ? log($y) : next) : $y) - $y0) * $sy);
                my $k = $cx * ($CELLS_Y + 1) + $cy;
                next if vec($bits, $k, 1);
                vec($bits, $k, 1) = 1;
                $out .= $xo . ' ' . ($y / $ys) . "\n";
                $kept++;
            }
            print $p $out;
        }
    }
    close $p or die "cannot write $pf: $!\n";
    close $c or die "cannot write $cf: $!\n";
    return $kept;
}

# prepare($g): thin its points, write its script, hand it to a gnuplot.
sub prepare {
    my ($self, $g) = @_;
    $self->{thin} = [];
    my ($text, $out) = $self->_script($g);
    my @thin = @{ $self->{thin} };
    my $script = "$self->{tmp}/" . $self->{serial}++ . '.gp';
    open my $fh, '>:encoding(UTF-8)', $script or die "cannot write $script: $!\n";
    print $fh $text;
    close $fh or die "cannot write $script: $!\n";
    $g->{png} = "$g->{id}.png";
    # The points are thinned here, not in a child: a child forked from this
    # process (which holds the rows) would cost both copy-on-write faults on
    # every page either writes, more than the thinning itself (a one-tag
    # page: 3.5 s of 23 s CPU).
    $self->_thin($g, @$_) for @thin;
    my $w = $self->_idle_worker;
    $w->{job} = [ $g, $script, $out, -s $w->{err} // 0, time + $self->{timeout} ];
    # reset session: nothing of the last graph is left (variables, arrays,
    # settings); reset errors: GPVAL_ERRNO tells whether this one failed
    # (an error ends the load, not gnuplot: the print still comes)
    my $cmd = "reset session\nreset errors\nload " . gp_str($script) . "\nset print \"-\"\n"
        . "print sprintf(\"scalebench-done %d %s\", GPVAL_ERRNO, GPVAL_ERRMSG)\nset print\n";
    local $SIG{PIPE} = 'IGNORE';
    syswrite $w->{in}, $cmd;    # when it fails, gnuplot is gone: _reap sees its end
    $self->{count}++;
}

# The gnuplots: up to `jobs` processes, each started once and given one
# graph after another on its standard input (a gnuplot costs 0.1 s of CPU
# to start, a third of what a typical graph costs it). Each says
# "scalebench-done ERRNO MESSAGE" on its standard output after each graph.
sub _start_worker {
    my ($self) = @_;
    my $k = $self->{workers_started}++;
    my $err = "$self->{tmp}/gnuplot.$k.err";
    pipe(my $cr, my $pw) or die "pipe: $!\n";
    pipe(my $pr, my $cw) or die "pipe: $!\n";
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        close $pw;
        close $pr;
        open STDIN, '<&', $cr or POSIX::_exit(127);
        open STDOUT, '>&', $cw or POSIX::_exit(127);
        open STDERR, '>', $err or POSIX::_exit(127);
        $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP PIPE);
        exec $self->{gnuplot} or POSIX::_exit(127);
    }
    close $cr;
    close $cw;
    my $w = { pid => $pid, in => $pw, out => $pr, err => $err, buf => '' };
    push @{ $self->{workers} }, $w;
    return $w;
}

sub _idle_worker {
    my ($self) = @_;
    while (1) {
        my ($w) = grep { !$_->{job} } @{ $self->{workers} };
        return $w if $w;
        return $self->_start_worker if @{ $self->{workers} } < $self->{jobs};
        $self->_reap(1);
    }
}

# _reap($block): take the answer of every gnuplot that has finished its
# graph (waiting for one if $block); a graph it failed, or a gnuplot that
# died, goes into the failures, and so does a graph that took longer than
# `timeout` seconds (its gnuplot is killed; the next graph gets a new one).
sub _reap {
    my ($self, $block) = @_;
    my @busy = grep { $_->{job} } @{ $self->{workers} };
    return unless @busy;
    my $bits = '';
    vec($bits, fileno $_->{out}, 1) = 1 for @busy;
    my ($due) = sort { $a <=> $b } map { $_->{job}[4] } @busy;
    my $wait = $block ? $due - time : 0;
    my $n = select(my $ready = $bits, undef, undef, $wait > 0 ? $wait : 0);
    if ($n <= 0) {
        for my $w (grep { $_->{job}[4] <= time } @busy) {
            my ($g, undef, $out) = @{ delete $w->{job} };
            $self->_end_worker($w, 'KILL');
            push @{ $self->{failed} }, "gnuplot failed for $g->{id}: no answer in $self->{timeout} s (killed)";
            unlink "$out.tmp";
        }
        return;
    }
    for my $w (grep { vec($ready, fileno $_->{out}, 1) } @busy) {
        my $got = sysread $w->{out}, $w->{buf}, 4096, length $w->{buf};
        if ($got && $w->{buf} !~ /\n/) { next }
        my ($g, $script, $out, $erroff) = @{ delete $w->{job} };
        my $errs = sub {
            open my $e, '<', $w->{err} or return '';
            seek $e, $erroff, 0;
            local $/;
            my $t = <$e> // '';
            $t =~ s/\s+\z//;
            return length $t ? ": $t" : '';
        };
        if (!$got) {    # end of file: it died
            $self->_end_worker($w);
            push @{ $self->{failed} }, "gnuplot failed for $g->{id} (it exited: status $?)" . $errs->();
            unlink "$out.tmp";
            next;
        }
        (my $line, $w->{buf}) = split /\n/, $w->{buf}, 2;
        my ($errno, $msg) = $line =~ /^scalebench-done (-?\d+) ?(.*)$/ ? ($1, $2) : (-1, "unexpected output: $line");
        if ($errno != 0 || !-s "$out.tmp") {
            push @{ $self->{failed} }, "gnuplot failed for $g->{id}: " . ($errno ? $msg : 'no picture') . $errs->();
            unlink "$out.tmp";
        } else {
            rename "$out.tmp", $out or push @{ $self->{failed} }, "cannot rename $out.tmp: $!";
        }
    }
}

sub _end_worker {
    my ($self, $w, $sig) = @_;
    close $w->{in};
    kill $sig, $w->{pid} if $sig;
    waitpid $w->{pid}, 0;
    close $w->{out};
    $self->{workers} = [ grep { $_ != $w } @{ $self->{workers} } ];
}

# finish(): wait for every graph, end the gnuplots; dies naming the graphs
# that failed.
sub finish {
    my ($self) = @_;
    $self->_reap(1) while grep { $_->{job} } @{ $self->{workers} };
    $self->_end_worker($_) for @{ $self->{workers} };
    die join("\n", @{ $self->{failed} }) . "\n" if @{ $self->{failed} };
    return $self->{count};
}

# stop(): end the gnuplots (on a signal)
sub stop {
    my ($self) = @_;
    $self->_end_worker($_, 'TERM') for @{ $self->{workers} };
}

# png_size($path) -> (width, height) or ()
sub png_size {
    my ($path) = @_;
    open my $fh, '<:raw', $path or return;
    read $fh, my $head, 24;
    return unless length $head == 24 && substr($head, 0, 8) eq "\x89PNG\r\n\x1a\n";
    return unpack 'NN', substr($head, 16, 8);
}

1;
