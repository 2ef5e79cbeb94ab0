package Scalebench::Render::Draw;
# Stage 3 of plot/render: the pictures. For each graph of the model one
# gnuplot script, by the family's `type:` (plot/README.md):
#   scatter  every row of every run as a point (read by gnuplot straight
#            from the .dat files), per tag a shaded p10-p90 band and the
#            median line over the n buckets up to the last n;
#   levels   x takes a few values (mallocbench's T): per tag and value the
#            points spread a little sideways, a p10-p90 bar and the median
#            joined across the values.
# One PNG per graph (gnuplot's gd terminal: every point drawn, an indexed-
# looking picture that compresses to tens of kB). Up to $JOBS gnuplots run at
# once. Core perl only.
#
#   draw_all($model, site => DIR, plot_dir => DIR, gnuplot => 'gnuplot',
#            tmp => DIR, jobs => 2, log => sub {...});
use strict;
use warnings;
use utf8;
use Exporter 'import';
use POSIX qw(WNOHANG);
our @EXPORT_OK = qw(draw_all gnuplot_ok png_size);

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
    my ($g, %o) = @_;
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
    # sideways spread of a tag's points at one level: a fraction of the gap
    my $k = 0;
    my %jx;
    for my $s (@p) {
        my $slot = @p > 1 ? ($k++ / (@p - 1) - 0.5) : 0;
        $jx{$s} = $slot;
    }
    # points: one entry per run file; the legend once per series
    my @pts = map { my $s = $_; map { [ $_, $s ] } @{ $s->{files} } } @p;
    $o .= sprintf "NS = %d\narray SF[NS]\narray SC[NS]\narray SK[NS]\narray ST[NS]\narray SP[NS]\narray SJ[NS]\n",
        scalar @pts;
    for my $i (0 .. $#pts) {
        my ($f, $s) = @{ $pts[$i] };
        my $col = (grep { $f->{columns}[$_] eq $g->{column} } 0 .. $#{ $f->{columns} })[0] // 1;
        my $j = $levels ? $jx{$s} * ($ax->{logx} ? 0.12 : 0.5) : 0;
        $o .= sprintf "SF[%d] = %s; SC[%d] = %d; SK[%d] = %s; ST[%d] = %s; SP[%d] = %d; SJ[%d] = %.4f\n",
            $i + 1, gp_str($f->{path}), $i + 1, $col + 1, $i + 1, gp_str($s->{colour}), $i + 1,
            gp_str(''), $i + 1, $s->{marker}, $i + 1, $j;
    }
    # bands and median lines from the pooled buckets (levels: per value)
    my @lines;
    for my $s (@p) {
        my $rows = $levels ? $s->{levels} : $s->{b}{pooled};
        next unless $rows && @$rows;
        my $file = "$tmp/" . ($o{serial}->()) . '.band';
        open my $fh, '>', $file or die "cannot write $file: $!\n";
        my @r = map { [ $levels ? $_->{n} : $_->{n_mid}, $_->{median}, $_->{p10} // $_->{median}, $_->{p90} // $_->{median} ] } @$rows;
        # the line reaches the last n (and starts at the first)
        if (!$levels) {
            unshift @r, [ $rows->[0]{n_lo}, @{ $r[0] }[ 1 .. 3 ] ] if $rows->[0]{n_lo} < $r[0][0];
            push @r, [ $rows->[-1]{n_hi}, @{ $r[-1] }[ 1 .. 3 ] ] if $rows->[-1]{n_hi} > $r[-1][0];
        }
        @r = grep { $_->[0] > 0 } @r if $ax->{logx};
        printf $fh "%.17g %.17g %.17g %.17g\n", @$_ for @r;
        close $fh or die "cannot write $file: $!\n";
        push @lines, [ $file, $s ];
    }
    $o .= sprintf "NM = %d\narray MF[%d]\narray MK[%d]\narray MB[%d]\narray MD[%d]\narray MJ[%d]\n",
        scalar @lines, (@lines || 1) x 5;
    $o .= "MF[1] = \"/dev/null\"; MK[1] = \"#000000\"; MB[1] = \"#000000\"; MD[1] = 1; MJ[1] = 0\n" unless @lines;
    for my $i (0 .. $#lines) {
        my ($f, $s) = @{ $lines[$i] };
        my $j = $levels ? $jx{$s} * ($ax->{logx} ? 0.12 : 0.5) : 0;
        $o .= sprintf "MF[%d] = %s; MK[%d] = %s; MB[%d] = %s; MD[%d] = %d; MJ[%d] = %.4f\n", $i + 1, gp_str($f),
            $i + 1, gp_str(darken($s->{colour})), $i + 1, gp_str($s->{colour}), $i + 1, $s->{dash}, $i + 1, $j;
    }
    # the legend: one entry per tag and stem, marker and median line's dash
    $o .= sprintf "NK = %d\narray KT[%d]\narray KK[%d]\narray KP[%d]\narray KD[%d]\n", scalar @p, (@p || 1) x 4;
    for my $i (0 .. $#p) {
        $o .= sprintf "KT[%d] = %s; KK[%d] = %s; KP[%d] = %d; KD[%d] = %d\n", $i + 1, gp_str($p[$i]{label}),
            $i + 1, gp_str($p[$i]{colour}), $i + 1, $p[$i]{marker}, $i + 1, $p[$i]{dash};
    }
    # room under the x label for the legend's rows (two entries a row)
    $o .= "set bmargin " . (4 + int((@p + 1) / 2) * 1.3) . "\n";
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
    $o .= "LEVELS = " . ($levels ? 1 : 0) . "\nLOGX = " . ($ax->{logx} ? 1 : 0) . "\n";
    my $out = "$o{site}/$g->{id}.png";
    $o .= "set terminal png truecolor size $WIDTH,$HEIGHT font \"DejaVuSans,9\" background rgb \"white\"\n";
    $o .= "set output " . gp_str("$out.tmp") . "\n";
    $o .= "load " . gp_str("$o{plot_dir}/draw.gp") . "\nset output\n";
    return ($o, $out);
}

# draw_all($model, site, plot_dir, gnuplot, tmp, jobs, log, only => { id => 1 })
# Draws every graph with data (or only those named); dies when gnuplot fails.
sub draw_all {
    my ($m, %o) = @_;
    my $serial = 0;
    $o{serial} = sub { $serial++ };
    my $jobs = $o{jobs} // 2;
    my @todo;
    for my $g (@{ $m->{graphs} }) {
        next unless @{ $g->{present} || [] };
        my ($text, $out) = _script($g, %o);
        $g->{png} = "$g->{id}.png";
        next if $o{only} && !$o{only}{ $g->{id} };
        my $script = "$o{tmp}/" . $serial++ . '.gp';
        open my $fh, '>:encoding(UTF-8)', $script or die "cannot write $script: $!\n";
        print $fh $text;
        close $fh or die "cannot write $script: $!\n";
        push @todo, [ $g, $script, $out ];
    }
    my %run;
    my @failed;
    my $reap = sub {
        my ($block) = @_;
        while (%run) {
            my $pid = waitpid(-1, $block ? 0 : WNOHANG);
            last if $pid <= 0;
            my $job = delete $run{$pid} or next;
            my ($g, $script, $out) = @$job;
            if ($? != 0 || !-s "$out.tmp") {
                my $err = '';
                if (open my $e, '<', "$script.err") { local $/; $err = <$e> }
                push @failed, "gnuplot failed for $g->{id} (status $?): " . ($err // '');
                unlink "$out.tmp";
            } else {
                rename "$out.tmp", $out or push @failed, "cannot rename $out.tmp: $!";
            }
            last unless $block;
            return;
        }
    };
    for my $job (@todo) {
        $reap->(1) while keys %run >= $jobs;
        my $pid = fork // die "fork: $!\n";
        if ($pid == 0) {
            open STDERR, '>', "$job->[1].err";
            open STDOUT, '>', '/dev/null';
            exec $o{gnuplot}, $job->[1] or POSIX::_exit(127);
        }
        $run{$pid} = $job;
    }
    $reap->(1) while %run;
    die join("\n", @failed) . "\n" if @failed;
    return scalar @todo;
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
