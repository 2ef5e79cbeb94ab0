package Scalebench::Render::Page;
# Stage 4 of plot/render: the page. Fills plot/page.html's {{content}} from
# the model: the systems compared, the comparison matrix against the
# baseline, the summary (verdict, level at small and large n per tag), then
# per graph its explanation (docs/bench/*.md through Scalebench::Markdown),
# the picture, the verdicts and the comparison table. Also the plain-text
# comparison for a terminal (text_table). Core perl only.
#
#   my $html = page($model, template => 'plot/page.html', root => $ROOT, results => $RES);
#   print text_table($model);
use strict;
use warnings;
use utf8;
use Exporter 'import';
use Scalebench::Markdown qw(md_to_html inline_md h);
use Scalebench::Render::Model ();
our @EXPORT_OK = qw(page text_table fmt_value fmt_ratio cell_class);

# percent-encode a path segment for an href
sub u {
    my ($s) = @_;
    utf8::encode($s) if utf8::is_utf8($s);
    $s =~ s/([^A-Za-z0-9._~\/-])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

sub fmt_value {
    my ($v, $unit) = @_;
    return '–' unless defined $v;
    return sprintf('%.3g', $v) if ($unit // 'ns') ne 'ns';
    return sprintf('%.3g s', $v / 1e9)  if $v >= 1e9;
    return sprintf('%.3g ms', $v / 1e6) if $v >= 1e6;
    return sprintf('%.3g µs', $v / 1e3) if $v >= 1e4;
    return sprintf('%.0f ns', $v);
}

sub fmt_ratio {
    my ($r) = @_;
    return '–' unless defined $r;
    return sprintf('×%.3g', $r);
}

sub _n { my ($v) = @_; return defined $v ? sprintf('%.0f', $v) : '?' }

sub fmt_range {
    my ($x) = @_;
    return 'n ' . _n($x->{n_lo}) . '–' . _n($x->{n_hi});
}

# The colour of a comparison cell: significant and above 1 (the tag's value
# is higher than the baseline's: slower, or more of a count), below 1, or
# not significant; three steps of strength.
sub cell_class {
    my ($r) = @_;
    return 'same' unless $r && $r->{significant} && defined $r->{ratio} && $r->{ratio} > 0;
    my $x = $r->{ratio} >= 1 ? $r->{ratio} : 1 / $r->{ratio};
    my $k = $x < 1.25 ? 1 : $x < 2 ? 2 : 3;
    return ($r->{ratio} >= 1 ? 'slower' : 'faster') . $k;
}

sub _range_text {
    my ($r) = @_;
    return fmt_ratio($r->{ratio}) . ($r->{significant} ? '*' : '')
        . sprintf(' (%.3g–%.3g)', $r->{lo} // 0, $r->{hi} // 0);
}

sub _swatch {
    my ($s) = @_;
    return '<span class="swatch" style="background:' . $s->{colour} . '"></span>';
}

sub _tagname {
    my ($t, $m) = @_;
    return h($t->{tag}) . ($t->{quick} ? ' <span class="quick">quick</span>' : '')
        . (defined $m->{baseline} && $t->{tag} eq $m->{baseline} ? ' <span class="base">baseline</span>' : '');
}

my %doc_cache;
sub _doc_html {
    my ($g, $root) = @_;
    my $doc = $g->{fam}{doc} or return '';
    return $doc_cache{$doc} //= do {
        if (open my $fh, '<:encoding(UTF-8)', "$root/$doc") {
            local $/;
            my $md = <$fh>;
            $md =~ s/\A#[^\n]*\n+//;    # the page's own title
            my ($first, $rest) = split /\n\s*\n/, $md, 2;
            md_to_html($first, 2)
                . "<details><summary>Method, limits and how to read the graph (from <code>" . h($doc)
                . "</code>)</summary>\n" . md_to_html($rest // '', 2) . "</details>\n";
        } else {
            '<p class="nodoc">No method page yet (<code>' . h($doc) . "</code> is missing).</p>\n";
        }
    };
}

sub _verdict_cells {
    my ($s, $unit) = @_;
    return '<td class="missing" colspan="4">missing</td>' if $s->{missing};
    return '<td class="missing" colspan="4">no data</td>' unless $s->{v};
    my $v = $s->{v};
    my $sev = $v->{severity} // 'inconclusive';
    my ($sm, $lg) = ($v->{small}, $v->{large});
    my $ratio = $sm && $lg && ($sm->{value} // 0) > 0 ? $lg->{value} / $sm->{value} : undef;
    return '<td class="v ' . h($sev) . '" title="' . h($v->{reason}) . '">' . h($v->{label} // $v->{class}) . '</td>'
        . '<td class="num" title="' . ($sm ? h(fmt_range($sm)) : '') . '">' . h(fmt_value($sm && $sm->{value}, $unit)) . '</td>'
        . '<td class="num" title="' . ($lg ? h(fmt_range($lg)) : '') . '">' . h(fmt_value($lg && $lg->{value}, $unit)) . '</td>'
        . '<td class="num">' . h(fmt_ratio($ratio)) . '</td>';
}

# The rows of the matrix and the text table: one per graph and stem.
sub _rows {
    my ($m) = @_;
    my @rows;
    for my $g (@{ $m->{graphs} }) {
        next unless @{ $g->{present} || [] };
        for my $stem (@{ $g->{stems} }) {
            my $label = $g->{title} . (@{ $g->{stems} } > 1 ? " · $stem" : '');
            push @rows, [ $g, $stem, $label ];
        }
    }
    return @rows;
}

sub _matrix {
    my ($m) = @_;
    my $o = "<h2 id=\"comparison\">Comparison against the baseline</h2>\n";
    my %tag = map { $_->{tag} => $_ } @{ $m->{tags} };
    my @left = grep { $_->{quick} && !$m->{include_quick} } @{ $m->{tags} };
    my $leftnote = @left ? '<p class="small">Left out as quick (smoke-test) runs: '
        . join(', ', map { h($_->{tag}) } @left) . ' (<code>plot/render --include-quick</code> compares them too).</p>' . "\n" : '';
    if (!defined $m->{baseline} || !@{ $m->{compared} }) {
        return $o . '<p id="no-comparison">Nothing to compare: '
            . (defined $m->{baseline} ? 'only the baseline ' . h($m->{baseline}) . ' is a full run.' : 'no full run.')
            . "</p>\n$leftnote";
    }
    $o .= '<p>Each cell: the ratio of the tag\'s median to the baseline <strong>' . h($m->{baseline})
        . '</strong>\'s, in the n range where it is highest (worst) and lowest (best) over the n both measured, '
        . 'with its 95% interval; <strong>*</strong> marks an interval that excludes 1. Red: higher (slower), '
        . 'green: lower (faster), grey: not significant. The table under each graph has every range.</p>' . "\n$leftnote";
    $o .= "<div class=\"scroll\"><table id=\"matrix\">\n<tr><th rowspan=\"2\">graph</th>";
    $o .= '<th colspan="2">' . _swatch($tag{$_}) . _tagname($tag{$_}, $m) . '</th>' for @{ $m->{compared} };
    $o .= "</tr>\n<tr>" . ('<th>worst</th><th>best</th>' x @{ $m->{compared} }) . "</tr>\n";
    for my $row (_rows($m)) {
        my ($g, $stem, $label) = @$row;
        $o .= '<tr><td><a href="#' . h($g->{id}) . '">' . h($label) . '</a></td>';
        for my $t (@{ $m->{compared} }) {
            my ($c) = grep { $_->{tag} eq $t && $_->{stem} eq $stem } @{ $g->{compare} || [] };
            if (!$c || $c->{missing} || !@{ $c->{c}{ranges} || [] }) {
                my $why = !$c ? 'no data' : $c->{missing} // ($c->{c}{note} // 'no common n range');
                $o .= '<td class="missing" colspan="2" data-graph="' . h($g->{id}) . '" data-stem="' . h($stem)
                    . '" data-tag="' . h($t) . '" title="' . h($why) . '">–</td>';
                next;
            }
            for my $which (qw(worst best)) {
                my $r = $c->{c}{ranges}[ $c->{c}{$which} // 0 ];
                $o .= '<td class="cmp ' . cell_class($r) . '" data-graph="' . h($g->{id}) . '" data-stem="' . h($stem)
                    . '" data-tag="' . h($t) . '" data-which="' . $which . '" data-ratio="' . sprintf('%.6g', $r->{ratio})
                    . '" data-significant="' . ($r->{significant} ? 1 : 0) . '" title="' . h(fmt_range($r) . ': '
                    . fmt_value($r->{other}, $g->{unit}) . ' against ' . fmt_value($r->{base}, $g->{unit}) . ($r->{method} ? "; $r->{method}" : ''))
                    . '">' . h(_range_text($r)) . '<br><span class="small">' . h(fmt_range($r)) . '</span></td>';
            }
        }
        $o .= "</tr>\n";
    }
    return $o . "</table></div>\n";
}

sub _systems {
    my ($m, $res) = @_;
    my $o = "<h2 id=\"systems\">Systems compared</h2>\n";
    return $o . "<p>No results yet: run <code>make run</code> first.</p>\n" unless @{ $m->{tags} };
    my @keys = ([os => 'OS'], [release => 'release'], [host => 'host'], [machine => 'machine'],
                [cpu_model => 'CPU'], [cpus => 'CPUs'], [memory_bytes => 'memory'], [pin => 'pinned to CPU'],
                [date => 'measured'], [revision => 'revision']);
    $o .= "<div class=\"scroll\"><table id=\"systems-table\">\n<tr><th>tag</th><th>label</th>"
        . join('', map { "<th>$_->[1]</th>" } @keys) . "<th>VM</th><th>record</th></tr>\n";
    for my $t (@{ $m->{tags} }) {
        my $s = $t->{sys};
        $o .= '<tr><td class="tag">' . _swatch($t) . _tagname($t, $m) . '</td><td>' . h($t->{label} // '') . '</td>';
        for my $k (@keys) {
            my $v = $s->{ $k->[0] };
            $v = sprintf('%.1f GiB', $v / 2**30) if $k->[0] eq 'memory_bytes' && defined $v && $v =~ /^[0-9]+$/;
            $o .= '<td>' . (defined $v && !ref $v ? h($v) : '<span class="small">–</span>') . '</td>';
        }
        my $vm = ref $s->{vm} eq 'HASH'
            ? join(', ', map { "$_ " . h($s->{vm}{$_}) } grep { defined $s->{vm}{$_} && !ref $s->{vm}{$_} } sort keys %{ $s->{vm} })
            : 'no';
        $o .= "<td>$vm</td><td>";
        my @rec = grep { -f "$t->{dir}/$_" } qw(system.txt system.json);
        $o .= @rec ? join(' ', map { '<a href="../' . u($t->{tag}) . '/' . $_ . '">' . $_ . '</a>' } @rec)
                   : '<span class="small">none</span>';
        $o .= "</td></tr>\n";
    }
    return $o . "</table></div>\n";
}

sub _summary {
    my ($m) = @_;
    my @rows = _rows($m);
    return '' unless @rows;
    my $o = "<h2 id=\"summary\">Summary: growth verdict and level at small and large n</h2>\n"
        . "<p class=\"small\">Per tag: the verdict (green flat, amber mild, red growth, grey inconclusive; hover for why), "
        . "the median at small n and at large n (hover for the n range) and their ratio.</p>\n"
        . "<div class=\"scroll\"><table id=\"summary-table\">\n<tr><th rowspan=\"2\">graph</th>";
    $o .= '<th colspan="4">' . _swatch($_) . _tagname($_, $m) . '</th>' for @{ $m->{tags} };
    $o .= "</tr>\n<tr>" . ('<th>verdict</th><th>small n</th><th>large n</th><th>ratio</th>' x @{ $m->{tags} }) . "</tr>\n";
    for my $row (@rows) {
        my ($g, $stem, $label) = @$row;
        $o .= '<tr><td><a href="#' . h($g->{id}) . '">' . h($label) . '</a></td>';
        for my $t (@{ $m->{tags} }) {
            my ($s) = grep { $_->{tag} eq $t->{tag} && $_->{stem} eq $stem } @{ $g->{series} };
            $o .= _verdict_cells($s // { missing => 1 }, $g->{unit});
        }
        $o .= "</tr>\n";
    }
    return $o . "</table></div>\n";
}

sub _graph {
    my ($m, $g, %o) = @_;
    my $unit = $g->{unit};
    my $o = '<section><h2 id="' . h($g->{id}) . '">' . h($g->{title}) . "</h2>\n";
    $o .= '<p class="small">Column <code>' . h($g->{column}) . '</code> of <code>' . h(join(', ', @{ $g->{stems} })) . "</code>.</p>\n";
    $o .= _doc_html($g, $o{root});
    $o .= '<p class="note">' . inline_md($g->{fam}{note}) . "</p>\n" if $g->{fam}{note};
    my $a = $g->{axes};
    my $alt = $g->{title} . ': ' . join('; ', map { "$_->{label}: " . ($_->{v}{label} // $_->{v}{class} // '') } @{ $g->{present} });
    my @cap;
    push @cap, 'y on a log scale (the tags or the n range differ by orders of magnitude)' if $a->{logy};
    push @cap, 'n on a log scale (n is log-spaced)' if $a->{logx};
    push @cap, sprintf('%d point%s above %s, up to %s, sit on the top edge as triangles', $a->{clipped},
                       $a->{clipped} == 1 ? '' : 's', fmt_value($a->{cap}, $unit), fmt_value($a->{maxv}, $unit))
        if $a->{clipped};
    push @cap, $g->{type} eq 'levels' ? 'bars: 10th–90th percentile at each x, the line joins the medians'
                                      : 'shaded: 10th–90th percentile per n bucket, line: the bucket medians up to the last n';
    push @cap, _migrated_caption($g) if grep { $_->{migrated} } @{ $g->{present} };
    for my $s (@{ $g->{present} }) {
        push @cap, "$_->{mark}: $s->{tag} stopped: $_->{reason}" . ($_->{runs} > 1 ? " ($_->{runs} runs)" : '')
            for grep { $_->{mark} } @{ $s->{stops} || [] };
    }
    $o .= '<figure><img src="' . u($g->{png}) . '" width="960" height="600" alt="' . h($alt) . '">'
        . '<figcaption>' . h(ucfirst join('; ', @cap)) . '. Every row of every run is a point. <a href="' . u($g->{png})
        . "\">PNG</a></figcaption></figure>\n";
    # verdicts
    $o .= "<table class=\"verdicts\">\n<tr><th>tag</th><th>verdict</th><th>small n</th><th>large n</th><th>ratio</th>"
        . "<th>growth (95% interval), why</th><th>points</th><th>runs (raw data)</th></tr>\n";
    for my $s (@{ $g->{series} }) {
        $o .= '<tr><td class="tag">' . _swatch($s) . '<span class="mark" style="color:' . $s->{colour} . '">'
            . $s->{markname} . '</span>' . h($s->{label}) . '</td>' . _verdict_cells($s, $unit);
        if ($s->{missing} || !$s->{v}) {
            $o .= '<td colspan="3" class="missing">' . ($s->{missing} ? 'this tag has no ' . h($s->{stem}) . ' results'
                : 'no values in this column: ' . join('; ', map { '<a href="../' . u($s->{tag}) . '/' . u($_->{name}) . '">run '
                    . h($_->{run}) . '</a>: ' . h(@{ $_->{problems} } ? "unreadable ($_->{problems}[0])" : $_->{end}) } @{ $s->{all_files} || [] }))
                . "</td></tr>\n";
            next;
        }
        my $v = $s->{v};
        my @why;
        push @why, sprintf('%.3g× (%.3g–%.3g)', $v->{growth}, $v->{growth_lo} // $v->{growth}, $v->{growth_hi} // $v->{growth})
            if defined $v->{growth};
        push @why, "warm-up: first $v->{warmup} operations left out" if $v->{warmup};
        push @why, "growth in $v->{runs_agree} runs" if $v->{runs_agree};
        $o .= '<td>' . h(join('; ', @why)) . '<br><span class="small">' . h($v->{reason}) . '</span></td>';
        $o .= '<td class="num">' . $s->{points} . '</td><td>';
        $o .= join(' ', map {
            my $f = $_;
            my $mark = $f->{kind} eq 'completed' ? '' : ' <span class="small" title="' . h($f->{end}) . '">(' . h($f->{kind}) . ')</span>';
            '<a href="../' . u($s->{tag}) . '/' . u($f->{name}) . '">' . h($f->{run}) . "</a>$mark";
        } @{ $s->{all_files} });
        $o .= '<br><span class="small">run ' . h($_->{run}) . ': ' . h($_->{end}) . '</span>'
            for grep { $_->{kind} ne 'completed' } @{ $s->{all_files} };
        $o .= "</td></tr>\n";
    }
    $o .= "</table>\n";
    # the comparison against the baseline
    my @cmp = @{ $g->{compare} || [] };
    if (@cmp) {
        $o .= '<table class="compare"><tr><th>tag against ' . h($m->{baseline}) . '</th><th>n range</th><th>baseline</th>'
            . "<th>tag</th><th>ratio (95% interval)</th><th>method</th></tr>\n";
        for my $c (@cmp) {
            my $name = h($c->{tag}) . (@{ $g->{stems} } > 1 ? ' · ' . h($c->{stem}) : '');
            if ($c->{missing} || !@{ $c->{c}{ranges} || [] }) {
                $o .= "<tr><td>$name</td><td colspan=\"5\" class=\"missing\">"
                    . h($c->{missing} // $c->{c}{note} // 'no common n range') . "</td></tr>\n";
                next;
            }
            my @r = @{ $c->{c}{ranges} };
            for my $i (0 .. $#r) {
                my $r = $r[$i];
                $o .= '<tr>' . ($i ? '' : '<td rowspan="' . scalar(@r) . "\">$name"
                        . ($c->{c}{note} ? '<br><span class="small">' . h($c->{c}{note}) . '</span>' : '') . '</td>')
                    . '<td class="num">' . h(fmt_range($r)) . '</td><td class="num">' . h(fmt_value($r->{base}, $unit))
                    . '</td><td class="num">' . h(fmt_value($r->{other}, $unit)) . '</td><td class="cmp ' . cell_class($r) . '">'
                    . h(_range_text($r)) . '</td><td class="small">' . h($r->{method} // '') . "</td></tr>\n";
            }
        }
        $o .= "</table>\n";
    }
    return $o . "</section>\n";
}

# How many points of each tag crossed CPUs (only said when some did), and
# which of them are not ringed because they are too many.
sub _migrated_caption {
    my ($g) = @_;
    my $stems = @{ $g->{stems} } > 1;
    my $share = sprintf '%g%%', 100 * $Scalebench::Render::Model::RING_SHARE;
    return (grep({ $_->{ringed} } @{ $g->{present} }) ? 'black rings: ' : '')
        . 'samples that crossed CPUs (began and ended on different CPUs; kept, and counted in the verdicts): '
        . join(', ', map { "$_->{tag}" . ($stems ? " · $_->{stem}" : '') . " $_->{migrated} of $_->{points}"
                           . ($_->{migrated} && !$_->{ringed} ? " (not ringed: more than $share)" : '') }
               @{ $g->{present} });
}

# page($model, template, root, results, rendered) -> the HTML text
sub page {
    my ($m, %o) = @_;
    my @shown = grep { @{ $_->{present} || [] } || grep { !$_->{missing} } @{ $_->{series} || [] } } @{ $m->{graphs} };
    my $c = "<h1>scalebench results</h1>\n"
        . "<p>How the latency of one kernel operation grows with <em>n</em>, the number of objects the kernel already "
        . "holds, on each system (tag) compared. Every point on a graph is one operation of one run (all runs are drawn, "
        . "not averages); the shaded band holds the middle 80% of each n bucket and the line is its median, up to the last n. "
        . "A dashed vertical line marks where runs stopped at a limit. The verdict says how the value grows over the "
        . "measured range (method: <code>docs/complexity.md</code>); the comparison gives each tag's ratio to the baseline "
        . "per n range with a 95% interval.</p>\n"
        . '<p class="small">' . scalar(@{ $m->{tags} }) . ' tag(s), ' . scalar(@shown) . " graph(s).</p>\n";
    $c .= _matrix($m) if @{ $m->{tags} };
    $c .= _systems($m, $o{results});
    $c .= _summary($m);
    if (@shown) {
        $c .= "<nav><h2 id=\"graphs\">Graphs</h2><ol>\n"
            . join('', map { '<li><a href="#' . h($_->{id}) . '">' . h($_->{title}) . "</a></li>\n" } @shown) . "</ol></nav>\n";
    }
    for my $g (@shown) {
        if (!@{ $g->{present} || [] }) {
            $c .= '<section><h2 id="' . h($g->{id}) . '">' . h($g->{title}) . "</h2>\n"
                . "<p class=\"note\">No graph: no run has a value in this column.</p></section>\n";
            next;
        }
        $c .= _graph($m, $g, %o);
    }
    open my $fh, '<:encoding(UTF-8)', $o{template} or die "cannot read $o{template}: $!\n";
    local $/;
    my $t = <$fh>;
    close $fh;
    $t =~ s/\{\{content\}\}/$c/;
    my $r = defined $o{rendered} ? ', ' . h($o{rendered}) : '';
    $t =~ s/\{\{rendered\}\}/$r/;
    return $t;
}

# text_table($model): the comparison as plain text, one line per graph and
# tag, mmtests style: every n range's ratio with its interval, '*' significant.
sub text_table {
    my ($m) = @_;
    return "nothing to compare: " . (defined $m->{baseline} ? "only the baseline $m->{baseline} is a full run" : 'no full run')
        . "\n" unless defined $m->{baseline} && @{ $m->{compared} };
    my @lines = ("baseline: $m->{baseline}   ratio = tag / baseline of the medians per n range, (95% interval), * = significant");
    my $w = 10;
    for my $row (_rows($m)) {
        my $id = $row->[0]{id} . (@{ $row->[0]{stems} } > 1 ? ":$row->[1]" : '');
        $w = length $id if length $id > $w;
    }
    my ($tw) = sort { $b <=> $a } map { length } @{ $m->{compared} };
    for my $row (_rows($m)) {
        my ($g, $stem) = @$row;
        my $id = $g->{id} . (@{ $g->{stems} } > 1 ? ":$stem" : '');
        for my $t (@{ $m->{compared} }) {
            my ($c) = grep { $_->{tag} eq $t && $_->{stem} eq $stem } @{ $g->{compare} || [] };
            my $txt;
            if (!$c || $c->{missing} || !@{ $c->{c}{ranges} || [] }) {
                $txt = '-  ' . (!$c ? 'no data' : $c->{missing} // $c->{c}{note} // 'no common n range');
            } else {
                $txt = join('  ', map { sprintf('%s:%s', 'n' . _n($_->{n_lo}) . '-' . _n($_->{n_hi}), _range_text($_)) }
                            @{ $c->{c}{ranges} });
            }
            push @lines, sprintf("%-*s  %-*s  %s", $w, $id, $tw, $t, $txt);
        }
    }
    return join("\n", @lines) . "\n";
}

1;
