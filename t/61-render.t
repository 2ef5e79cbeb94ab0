#!/usr/bin/env perl
# plot/render on fixture results for three tags (one stopped at a limit, two
# missing a benchmark, one 300x slower): the graphs exist and are light PNGs,
# the page is sound HTML5 whose every link resolves, the verdicts match the
# fixtures' known growth, the comparison against the baseline finds the 300x
# and states it in comparison.json, the matrix and the per-graph tables; an
# unchanged tree is not rendered again; quick tags are marked and left out;
# log-x and levels graphs; 1, 10 or 0 tags work too.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use SBTest;
use SBFixtures qw(make_tree write_system);
use File::Temp qw(tempdir);
use File::Path qw(make_path);
use File::Copy qw(copy);
use File::Spec;
use POSIX ();
use JSON::PP;

my $gnuplot = grep { -x "$_/gnuplot" } split /:/, $ENV{PATH};
plan skip_all => 'gnuplot is not installed (.ci/run installs gnuplot-nox)' unless $gnuplot;

my $render = ROOT() . '/plot/render';
my $dir = tempdir('sb-render-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $expect = make_tree($dir, runs => 3, count => 1500);
my @scheck = `$^X ${\ ROOT()}/scripts/check-result $dir/*/*.dat`;
is($? >> 8, 0, 'the fixtures are valid result files') or diag(grep { !/: ok/ } @scheck);

my $r = run([ $^X, $render, '--results', $dir ], timeout => 300);
is($r->{exit}, 0, 'plot/render exits 0') or diag($r->{err});
like($r->{out}, qr/3 tag\(s\)/, 'it found the three tags');
my $site = "$dir/site";

# --- the graphs: one light PNG per graph, every point in it
my @want = qw(socket bind fork fork-static fork-cleanup mmap touch);
for my $g (@want) {
    my $f = "$site/$g.png";
    my $png = slurp($f);
    ok(length $png > 5000, "$g.png exists and is not trivial (" . length($png) . ' bytes)');
    ok(substr($png, 0, 8) eq "\x89PNG\r\n\x1a\n", "$g.png is a PNG");
    my ($w, $h) = unpack 'NN', substr($png, 16, 8);
    is("${w}x$h", '960x600', "$g.png is 960x600");
    ok(length $png < 300_000, "$g.png is light (" . length($png) . ' bytes)');
}
is_deeply([ glob("$site/*.svg") ], [], 'no SVG: the page loads PNGs only');

# --- the verdicts
my $verdicts = decode_json(slurp("$site/verdicts.json"));
my %got;
$got{ $_->{tag} }{ $_->{graph} . ($_->{stem} eq 'forkbench' && $_->{graph} eq 'fork-static' ? '-dyn' : '') } = $_
    for @$verdicts;
for my $tag (sort keys %$expect) {
    for my $g (sort keys %{ $expect->{$tag} }) {
        is($got{$tag}{$g}{class}, $expect->{$tag}{$g}, "$tag $g: $expect->{$tag}{$g}")
            or diag($got{$tag}{$g}{reason} // 'no verdict');
    }
}
is($got{'freebsd-14.1-beta'}{'fork-static'}{class}, 'missing', 'beta has no forkbench-static: missing');
is($got{'netbsd-10.0-gamma'}{mmap}{class}, 'missing', 'gamma has no mmapbench: missing');
is($got{'freebsd-14.1-beta'}{socket}{stops}[0]{n}, 1019, 'the stop is recorded at n=1019');
my $fork = $got{'linux-6.1-alpha'}{fork};
ok($fork->{small}{value} > 0 && $fork->{large}{value} > 3 * $fork->{small}{value},
   "fork's summary: the level at small n and at large n from the verdict ($fork->{small}{value} -> $fork->{large}{value})");
ok(abs($fork->{ratio} - $fork->{large}{value} / $fork->{small}{value}) < 1e-9, '... and their ratio');

# --- the comparison
my $cmp = decode_json(slurp("$site/comparison.json"));
is($cmp->{baseline}, 'freebsd-14.1-beta', 'the baseline: the first tag by name (no --baseline, no --tags)');
is_deeply($cmp->{compared}, [qw(linux-6.1-alpha netbsd-10.0-gamma)], 'every other tag is compared with it');
my %c = map { ("$_->{graph} $_->{stem} $_->{tag}" => $_) } @{ $cmp->{graphs} };
my $slow = $c{'socket socketbench netbsd-10.0-gamma'};
my $w = $slow->{ranges}[ $slow->{worst} ];
ok($w->{ratio} > 200 && $w->{ratio} < 450 && $w->{significant} && $w->{lo} > 200,
   "gamma's socket() is ~300x the baseline's, significant ($w->{ratio}, $w->{lo}..$w->{hi})");
my $same = $c{'socket socketbench linux-6.1-alpha'};
ok(!grep({ $_->{ratio} < 0.8 || $_->{ratio} > 1.25 } @{ $same->{ranges} }), "alpha's socket() is the baseline's (same law)");
ok(@{ $same->{ranges} } >= 2, scalar(@{ $same->{ranges} }) . ' n ranges over the common range');
like($c{'mmap mmapbench netbsd-10.0-gamma'}{missing}, qr/no mmapbench/, 'a tag without the benchmark: said so');

# --- the page
my $html = slurp("$site/index.html");
my @problems = html5_problems($html);
is_deeply(\@problems, [], 'index.html is well-formed HTML5') or diag(join "\n", @problems);
my %ids = map { $_ => 1 } $html =~ /\bid="([^"]+)"/g;
my @links = ($html =~ /\b(?:href|src|srcset)="([^"]+)"/g);
ok(@links > 40, scalar(@links) . ' links');
my @bad;
for my $l (@links) {
    if ($l =~ m{^[a-z]+:|^/}i) { push @bad, "$l: not relative"; next }
    my ($path, $frag) = split /#/, $l, 2;
    if ($path eq '') { push @bad, "$l: no such id" unless $ids{$frag}; next }
    $path =~ s/%([0-9A-F]{2})/chr hex $1/ge;
    push @bad, "$l: does not resolve" unless -f "$site/$path";
}
is_deeply(\@bad, [], 'every link and image is relative and resolves');
my @dat = grep { /\.dat$/ } @links;
ok(@dat >= 3 * 3, scalar(@dat) . ' links to raw .dat files');
for my $g (@want) {
    like($html, qr/<img src="\Q$g\E\.png" width="960" height="600" alt="[^"]+">/, "the page shows $g (PNG, with alt text)");
}
unlike($html, qr/<source|\.svg"/, 'no SVG on the page');
like($html, qr/<table id="matrix">/, 'the comparison matrix is on the page');
ok(index($html, 'id="matrix"') < index($html, 'id="systems"'), '... at the top, before the systems');
my @cells = $html =~ /<td class="cmp ([a-z0-9]+)" data-graph="socket" data-stem="socketbench" data-tag="netbsd-10\.0-gamma" data-which="(worst|best)" data-ratio="([0-9.e+-]+)"/g;
is(scalar @cells, 6, 'gamma socket: a worst and a best cell');
is($cells[0], 'slower3', '300x slower, significant: the strongest red');
ok(abs($cells[2] - $w->{ratio}) / $w->{ratio} < 1e-5, 'the matrix shows comparison.json\'s worst ratio');
like($html, qr/<table class="compare">.*?netbsd-10\.0-gamma/s, 'a comparison table under the graphs');
like($html, qr/Question\.<\/strong> Does creating a socket get slower/, 'the socket graph is explained from docs/bench/socketbench.md');
like($html, qr/<td class="missing" colspan="4">missing<\/td>/, 'the summary shows missing benchmarks as missing');
like($html, qr/stop 1: freebsd-14\.1-beta stopped: socket\(\): EMFILE \(RLIMIT_NOFILE=1024\)/, 'the stop is named under the graph');
like($html, qr/run 1: stopped: socket\(\) at n=1019/, 'the stopped runs are listed with their end');
like($html, qr/y on a log scale/i, 'socket (tags 300x apart) is drawn on a log y axis');
like($html, qr/points? above [^,]+, up to [^,]+, sit on the top edge as triangles/, 'the clipped outliers are counted');
for my $t (sort keys %$expect) {
    like($html, qr/<td class="tag"><span class="swatch"[^>]*><\/span>\Q$t\E.*?<\/td><td>[^<]*<\/td><td>(Linux|FreeBSD|NetBSD)<\/td>/,
         "$t is in the systems table");
}

# --- unchanged inputs: nothing redone, no system record touched
{
    my @st = map { [ (stat $_)[9, 7] ] } "$site/index.html", "$site/socket.png", "$dir/linux-6.1-alpha/system.json";
    my $sys = slurp("$dir/linux-6.1-alpha/system.json");
    utime 1_000_000_000, 1_000_000_000, "$site/index.html", "$site/socket.png";    # to see a rewrite
    my $r2 = run([ $^X, $render, '--results', $dir ], timeout => 300);
    is($r2->{exit}, 0, 'a second render exits 0');
    like($r2->{out}, qr/up to date/, 'and says the site is up to date');
    is((stat "$site/index.html")[9], 1_000_000_000, 'index.html was not rewritten');
    is((stat "$site/socket.png")[9], 1_000_000_000, 'nor a graph');
    is(slurp("$dir/linux-6.1-alpha/system.json"), $sys, 'the system record is unchanged');
    is((stat "$dir/linux-6.1-alpha/system.json")[9], $st[2][0], '... and not rewritten');
    # a changed input renders again
    utime time, time + 5, "$dir/linux-6.1-alpha/socketbench.1.dat";
    my $r3 = run([ $^X, $render, '--results', $dir, '--baseline', 'linux-6.1-alpha' ], timeout => 300);
    is($r3->{exit}, 0, '--baseline: render exits 0');
    unlike($r3->{out}, qr/up to date/, 'a changed input (and option) renders again');
    is(decode_json(slurp("$site/comparison.json"))->{baseline}, 'linux-6.1-alpha', '--baseline sets the baseline');
    my $rt = run([ $^X, $render, '--results', $dir, '--compare', '--baseline', 'netbsd-10.0-gamma' ], timeout => 300);
    is($rt->{exit}, 0, '--compare exits 0');
    like($rt->{out}, qr/^baseline: netbsd-10\.0-gamma/, '--compare prints the table with its baseline');
    like($rt->{out}, qr/^socket\s+freebsd-14\.1-beta\s+n0-[0-9]+:×0\.00[0-9]+\*/m, '... one line per graph and tag, ratios and marks');
    my $rn = run([ $^X, $render, '--results', $dir, '--baseline', 'nope' ], timeout => 60);
    is($rn->{exit}, 1, '--baseline of a tag that is not there: exit 1');
}

# --- quick tags, labels, levels and log-x graphs, one tag, ten tags, no tag
{
    my $q = tempdir('sb-renderq-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    SBFixtures::suite_tree($q, tag => 'linux-a', runs => 3, quick => 1, label => 'same host');
    SBFixtures::suite_tree($q, tag => 'linux-b', runs => 3, quick => 1, label => 'same host', speed => 2);
    SBFixtures::suite_tree($q, tag => 'linux-c-quick', runs => 1, quick => 1);
    # linux-a and linux-b: full size in all but the quick mark
    for my $t (qw(linux-a linux-b)) {
        my $j = decode_json(slurp("$q/$t/system.json"));
        delete $j->{quick};
        open my $fh, '>', "$q/$t/system.json" or die;
        print $fh encode_json($j);
        close $fh;
    }
    my $rq = run([ $^X, $render, '--results', $q ], timeout => 600);
    is($rq->{exit}, 0, 'suite-shaped tree: render exits 0') or diag($rq->{err});
    my $cq = decode_json(slurp("$q/site/comparison.json"));
    is_deeply([ $cq->{baseline}, @{ $cq->{compared} } ], [qw(linux-a linux-b)], 'a quick tag is left out of the comparison');
    is_deeply($cq->{left_out}, ['linux-c-quick'], '... and named as left out');
    my $hq = slurp("$q/site/index.html");
    like($hq, qr/linux-c-quick <span class="quick">quick<\/span>/, 'the quick tag is marked');
    like($hq, qr/Left out as quick[^<]*linux-c-quick/, 'the page says it was left out');
    like($hq, qr/<td class="tag">.*?linux-a.*?<\/td><td>same host<\/td>/, 'the label from system.json is shown');
    my @legends = $hq =~ /<th colspan="4"><span class="swatch"[^>]*><\/span>([^<]+)/g;
    is(scalar(@legends), 3, 'three tags in the summary');
    is(scalar(keys %{ { map { $_ => 1 } @legends } }), 3, 'no label repeats although two tags have the same host and label');
    like($hq, qr/<h2 id="poll-select">.*?n on a log scale/si, 'pollbench (log-spaced n) is drawn on a log x axis');
    like($hq, qr/<h2 id="herd-accept-wakeups">.*?n on a log scale/si, 'herdbench too');
    unlike($hq, qr/<h2 id="socket">(?:(?!<\/section>).)*n on a log scale/si, 'socketbench (every n) is not');
    like($hq, qr/<h2 id="malloc-threads">.*?bars: 10th–90th percentile at each x/s, 'mallocbench is drawn by T (type: levels)');
    ok(-s "$q/site/malloc-threads.png", 'malloc-threads.png is drawn');
    my $vq = decode_json(slurp("$q/site/verdicts.json"));
    my ($req) = grep { $_->{graph} eq 'request-poll' && $_->{tag} eq 'linux-b' } @$vq;
    ok($req && $req->{large}{value} > $req->{small}{value} && $req->{column} eq 'request_ns',
   "httpbench-poll's request latency: its level at large n above that at small n (" . ($req->{ratio} // '?') . ')');
    my $rqi = run([ $^X, $render, '--results', $q, '--include-quick', '--quiet' ], timeout => 600);
    is($rqi->{exit}, 0, '--include-quick: exits 0');
    is_deeply(decode_json(slurp("$q/site/comparison.json"))->{compared}, [qw(linux-b linux-c-quick)],
              '--include-quick compares the quick tag too');
    my $rtags = run([ $^X, $render, '--results', $q, '--tags', 'linux-b,linux-a', '--compare' ], timeout => 600);
    like($rtags->{out}, qr/^baseline: linux-b/, '--tags: the first tag given is the baseline');

    my $one = tempdir('sb-render1-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    make_path("$one/solo");
    copy($_, "$one/solo/") or die for glob "$dir/linux-6.1-alpha/{socketbench,forkbench}.*.dat";
    write_system("$one/solo", tag => 'solo', os => 'Linux', release => '6.1', host => 'solo');
    open my $bad, '>', "$one/solo/mmapbench.1.dat" or die;
    print $bad "# scalebench: 1\n# bench: mmapbench\n0 12 1";    # cut short
    close $bad;
    my $r1 = run([ $^X, $render, '--results', $one ], timeout => 300);
    is($r1->{exit}, 0, 'one tag: render exits 0') or diag($r1->{err});
    like($r1->{err}, qr/mmapbench\.1\.dat: /, 'an invalid result file is reported');
    ok(!-e "$one/site/mmap.png", '... and not drawn');
    ok(-s "$one/site/socket.png" && -s "$one/site/fork.png", 'one tag: graphs drawn');
    like(slurp("$one/site/index.html"), qr/id="no-comparison">Nothing to compare: only the baseline solo/,
         'one tag: the page says there is nothing to compare');

    # ten tags: ten colours, ten columns in the summary
    my $ten = tempdir('sb-render10-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    for my $i (1 .. 10) {
        my $t = sprintf 'os%02d-1.0-h', $i;
        write_system("$ten/$t", tag => $t, os => "OS$i", release => '1.0', host => "h$i");
        SBFixtures::write_result("$ten/$t/socketbench.1.dat", bench => 'socketbench', os => "OS$i", release => '1.0',
            columns => [qw(n socket_ns bind_ns)],
            rows => [ map { [ $_->[0], $_->[1] * $i, $_->[1] ] } @{ SBFixtures::series('constant', 300, seed => $i) } ]);
    }
    my $r10 = run([ $^X, $render, '--results', $ten, '--quiet' ], timeout => 300);
    is($r10->{exit}, 0, 'ten tags: render exits 0') or diag($r10->{err});
    my $h10 = slurp("$ten/site/index.html");
    my %colours = map { $_ => 1 } $h10 =~ /class="swatch" style="background:(#[0-9a-f]{6})"/g;
    is(scalar(keys %colours), 10, 'ten tags: ten colours');
    my @m10 = $h10 =~ /data-graph="socket" data-stem="socketbench" data-tag="(os[0-9]+-1\.0-h)" data-which="worst"/g;
    is(scalar(@m10), 9, 'ten tags: nine compared against the baseline');

    my $none = tempdir('sb-render0-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $r0 = run([ $^X, $render, '--results', $none, '--quiet' ], timeout => 60);
    is($r0->{exit}, 0, 'no tags: render exits 0');
    like(slurp("$none/site/index.html"), qr/No results yet/, 'no tags: the page says so');
    my $rb = run([ $^X, $render, '--bogus' ], timeout => 60);
    is($rb->{exit}, 2, 'a bad argument exits 2');
    my $rm = run([ $^X, $render, '--results', "$none/nope" ], timeout => 60);
    is($rm->{exit}, 1, 'a missing results directory exits 1');
}

# --- samples that crossed CPUs (the trailer's migrated_at): Load keeps which
# points they are, the graph rings them with a legend entry and the caption
# counts them per tag; a tree without migrated_at shows none of it
{
    require Scalebench::Render::Load;
    my $mg = tempdir('sb-renderm-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $rows = [ map { [ $_->[0], $_->[1], $_->[0] % 50 == 12 ? '-' : $_->[1] * 2 ] }
                 @{ SBFixtures::series('constant', 300, seed => 5) } ];
    # rows 3, 150, 299 of socket_ns; 8, 12 (a missing value) and 200 of bind_ns
    my @at = qw(3.1 150.1 8.2 12.2 299.1 200.2);
    # forkbench: 200 of 300 fork_ns samples crossed (its end stamp is the child's)
    my @fat = map { "$_.1" } grep { $_ % 3 } 0 .. 299;
    for my $t (qw(linux-mig linux-plain)) {
        write_system("$mg/$t", tag => $t, os => 'Linux', release => '6.1', host => $t);
        SBFixtures::write_result("$mg/$t/socketbench.1.dat", bench => 'socketbench', os => 'Linux', release => '6.1',
            columns => [qw(n socket_ns bind_ns)], rows => $rows,
            ($t eq 'linux-mig' ? (trailer => [ 'migrated: ' . @at . ' of 600', "migrated_at: @at" ]) : ()));
        SBFixtures::write_result("$mg/$t/forkbench.1.dat", bench => 'forkbench', os => 'Linux', release => '6.1',
            columns => [qw(n fork_ns cleanup_ns)], rows => $rows,
            ($t eq 'linux-mig' ? (trailer => [ 'migrated: ' . @fat . ' of 600', "migrated_at: @fat" ]) : ()));
    }
    my @ck = `$^X ${\ ROOT()}/scripts/check-result $mg/*/*.dat`;
    is($? >> 8, 0, 'migrated fixtures: valid result files') or diag(@ck);
    my $d = Scalebench::Render::Load::read_columns("$mg/linux-mig/socketbench.1.dat", [qw(socket_ns bind_ns)]);
    is_deeply($d->{problems}, [], 'read_columns: no problems');
    my %m = map { my $c = $_; ($c => [ [ unpack 'd*', $d->{migrated}{$c}[0] ], [ unpack 'd*', $d->{migrated}{$c}[1] ] ]) }
            keys %{ $d->{migrated} || {} };
    is_deeply($m{socket_ns}, [ [ 3, 150, 299 ], [ map { $rows->[$_][1] } 3, 150, 299 ] ],
              'read_columns keeps the migrated points of socket_ns (n and value)');
    is_deeply($m{bind_ns}, [ [ 8, 200 ], [ map { $rows->[$_][2] } 8, 200 ] ],
              '... and of bind_ns, whose missing values shift the packed places (a migrated missing value is left out)');
    is(length($d->{cols}{socket_ns}[0]) / 8, 300, 'the migrated points stay among all points');
    my $dp = Scalebench::Render::Load::read_columns("$mg/linux-plain/socketbench.1.dat", [qw(socket_ns bind_ns)]);
    ok(!exists $dp->{migrated}, 'a file without migrated_at: no migrated points');

    # a gnuplot that keeps a copy of each graph's script it is given
    my $gpdir = "$mg/gp";
    make_path($gpdir);
    fake_gnuplot("$mg/gnuplot-keep", keep => $gpdir);
    my $scripts = sub {
        my %s;
        for my $f (glob "$gpdir/*.gp") {
            my $t = slurp($f);
            my ($id) = $t =~ m{set output "[^"]*/([a-z-]+)\.png\.tmp"};
            $s{$id} = $t;
            unlink $f;
        }
        return \%s;
    };
    my $rm = run([ $^X, $render, '--results', $mg, '--gnuplot', "$mg/gnuplot-keep", '--quiet' ], timeout => 300);
    is($rm->{exit}, 0, 'migrated samples: render exits 0') or diag($rm->{err});
    my $sc = $scripts->();
    like($sc->{socket}, qr/^NR = 1$/m, 'socket: one series with rings');
    like($sc->{socket}, qr/^RT = "crossed CPUs \(3\)"$/m, 'socket: the legend entry "crossed CPUs (3)"');
    like($sc->{bind}, qr/^RT = "crossed CPUs \(2\)"$/m, 'bind: "crossed CPUs (2)"');
    like($sc->{fork}, qr/^NR = 0$/m, 'fork, 200 of 300 crossed: no rings (they would hide the points)');
    like($sc->{fork}, qr/^RT = ""$/m, '... and no legend entry for them');
    ok(-s "$mg/site/socket.png", 'socket.png is drawn with its rings');
    my $hm = slurp("$mg/site/index.html");
    like($hm, qr/<h2 id="socket">(?:(?!<\/section>).)*samples that crossed CPUs[^<]*: linux-mig 3 of 300, linux-plain 0 of 300/s,
         'the caption under socket counts them per tag');
    like($hm, qr/<h2 id="bind">(?:(?!<\/section>).)*samples that crossed CPUs[^<]*: linux-mig 2 of 294, linux-plain 0 of 294/s,
         '... and under bind');
    like($hm, qr/<h2 id="fork">(?:(?!<\/section>).)*samples that crossed CPUs[^<]*: linux-mig 200 of 300 \(not ringed: more than 5%\), linux-plain 0 of 300/s,
         '... under fork: counted, "not ringed"');
    my ($fsec) = $hm =~ /<h2 id="fork">(.*?)<\/section>/s;
    ok(defined $fsec && $fsec =~ /crossed CPUs/ && $fsec !~ /black rings/, '... and not called black rings');
    my %vm = map { ("$_->{graph} $_->{tag}" => $_) } @{ decode_json(slurp("$mg/site/verdicts.json")) };
    is($vm{'socket linux-mig'}{migrated}, 3, 'verdicts.json: migrated 3');
    is($vm{'socket linux-mig'}{points}, 300, '... of 300 points, all of them in the verdict');
    is($vm{'socket linux-plain'}{migrated}, 0, 'verdicts.json: migrated 0 without migrated_at');

    # without migrated_at: no rings, no legend entry, no caption
    File::Path::remove_tree("$mg/linux-mig", "$mg/site");
    my $rp = run([ $^X, $render, '--results', $mg, '--gnuplot', "$mg/gnuplot-keep", '--quiet' ], timeout => 300);
    is($rp->{exit}, 0, 'no migrated samples: render exits 0') or diag($rp->{err});
    $sc = $scripts->();
    like($sc->{socket}, qr/^NR = 0$/m, 'no rings');
    unlike(join('', values %$sc), qr/crossed CPUs/, 'no legend entry');
    unlike(slurp("$mg/site/index.html"), qr/crossed CPUs/, 'no caption');
}
unlike(slurp("$site/index.html"), qr/crossed CPUs/, 'the fixture tree (no migrated_at) says nothing of crossed CPUs');

# --- a graph gnuplot fails on, and a gnuplot that dies: the renderer's
# gnuplots take one graph after another, so a failure must be pinned on its
# graph, the other graphs still drawn, the exit status 1, no gnuplot left
{
    my $fd = tempdir('sb-render-fail-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    make_tree($fd, runs => 1, count => 200);
    my $fake = sub { my ($name, $id, $what) = @_; fake_gnuplot("$fd/$name", id => $id, what => $what) };
    # the scratch a killed render left (its PID gone) is removed by the next
    my $dead = fork // die;
    POSIX::_exit(0) unless $dead;
    waitpid $dead, 0;
    my $left = File::Spec->tmpdir . "/scalebench-render-$dead-AbC123";
    make_path($left);
    my $bad = $fake->('gnuplot-bad', 'bind', 'plot no_such_function(x)');
    my $rb = run([ $^X, $render, '--results', $fd, '--gnuplot', $bad, '--quiet', '--jobs', 1 ], timeout => 300);
    is($rb->{exit}, 1, 'a graph gnuplot fails on: exit 1');
    like($rb->{err}, qr/gnuplot failed for bind: undefined function: no_such_function/, '... named, with gnuplot\'s message');
    ok(-s "$fd/site/socket.png" && -s "$fd/site/fork.png", '... the graphs before and after it are drawn');
    ok(!-e "$fd/site/bind.png" && !glob("$fd/site/*.tmp"), '... no picture and no .tmp for it');
    ok(!-e $left, "the scratch of a killed render (PID $dead) is gone");
    my $dies = $fake->('gnuplot-dies', 'fork', 'die');
    my $rd = run([ $^X, $render, '--results', $fd, '--gnuplot', $dies, '--quiet', '--force' ], timeout => 300);
    is($rd->{exit}, 1, 'a gnuplot that dies mid-way: exit 1');
    like($rd->{err}, qr/gnuplot failed for fork \(it exited/, '... the graph it had is named') or diag($rd->{err});
    ok(-s "$fd/site/bind.png" && -s "$fd/site/mmap.png", '... the others are drawn (by a new gnuplot)');
    my $hangs = $fake->('gnuplot-hangs', 'mmap', 'hang');
    my $rh = run([ $^X, $render, '--results', $fd, '--gnuplot', $hangs, '--quiet', '--force', '--timeout', 3 ],
                 timeout => 300);
    is($rh->{exit}, 1, 'a gnuplot that hangs: exit 1 after --timeout');
    like($rh->{err}, qr/gnuplot failed for mmap: no answer in 3 s \(killed\)/, '... the graph is named');
    ok(-s "$fd/site/socket.png" && -s "$fd/site/fork.png", '... the others are drawn');
    my @left;    # a killed wrapper's own gnuplot ends at the end of its input: give it a moment
    for (1 .. 50) {
        @left = grep { /gnuplot/ && !/<defunct>/ } `ps -eo pid,args`;
        last unless @left;
        select(undef, undef, undef, 0.1);
    }
    is(scalar(@left), 0, 'no gnuplot is left running')
        or diag(`ps -eo pid,ppid,args | grep gnuplot`);
}

done_testing();

# fake_gnuplot($path, keep => DIR | id => GRAPH, what => CMD|'die'|'hang')
# -> $path: a gnuplot in front of the real one. The renderer's gnuplots read
# 'load "SCRIPT"' lines on their input; this one copies each SCRIPT into
# DIR (keep), or, for the graph whose script writes GRAPH.png, sends CMD
# instead, kills the real gnuplot and exits ('die'), or stops answering
# ('hang').
sub fake_gnuplot {
    my ($path, %o) = @_;
    require Data::Dumper;
    open my $w, '>', $path or die "$path: $!";
    print $w "#!$^X\n", 'my %o = %{ ', Data::Dumper->new([ \%o ])->Terse(1)->Dump, " };\n", <<'EOS';
use strict;
use File::Copy qw(copy);
exec 'gnuplot', @ARGV if @ARGV;
my $pid = open(my $gp, '|-', 'gnuplot') or die "gnuplot: $!";
select((select($gp), $| = 1)[0]);
while (my $l = <STDIN>) {
    if ($l =~ /^load "(.*)"$/) {
        my $script = $1;
        copy($script, "$o{keep}/") or die "copy $script: $!" if defined $o{keep};
        if (defined $o{id} && open my $f, '<', $script) {
            local $/;
            if (<$f> =~ m{/\Q$o{id}\E\.png}) {
                if ($o{what} eq 'die') { kill 'KILL', $pid; exit 3 }
                sleep 3600 if $o{what} eq 'hang';
                $l = "$o{what}\n";
            }
        }
    }
    print $gp $l;
}
EOS
    close $w or die "$path: $!";
    chmod 0755, $path;
    return $path;
}

sub slurp {
    my ($f) = @_;
    open my $fh, '<:raw', $f or return '';
    local $/;
    return scalar <$fh>;
}

# A small HTML5 checker: doctype, lang, charset, title; every non-void
# element closed in order; ids unique; img with alt; no obsolete elements.
sub html5_problems {
    my ($h) = @_;
    my @p;
    push @p, 'no <!DOCTYPE html> first' unless $h =~ /\A<!DOCTYPE html>\n/;
    push @p, 'no <html lang>' unless $h =~ /<html lang="[a-z-]+">/;
    push @p, 'no <meta charset="utf-8">' unless $h =~ /<meta charset="utf-8">/;
    push @p, 'no <title>' unless $h =~ /<title>[^<]+<\/title>/;
    my %void = map { $_ => 1 } qw(area base br col embed hr img input link meta source track wbr);
    my %obsolete = map { $_ => 1 } qw(center font big strike tt frame frameset marquee);
    (my $body = $h) =~ s/<style>.*?<\/style>//s;
    $body =~ s/<!--.*?-->//sg;
    my @stack;
    while ($body =~ /<(\/?)([a-zA-Z][a-zA-Z0-9]*)([^>]*)>/g) {
        my ($close, $tag, $attrs) = ($1, lc $2, $3);
        push @p, "obsolete <$tag>" if $obsolete{$tag};
        if ($close) {
            my $top = pop @stack;
            push @p, "</$tag> closes <" . ($top // 'nothing') . '>' if ($top // '') ne $tag;
        } elsif (!$void{$tag}) {
            push @stack, $tag;
        }
        push @p, "<img> without alt" if $tag eq 'img' && $attrs !~ /\balt="/;
        (my $bare = $attrs) =~ s/="[^"]*"/=""/g;
        push @p, "unquoted or broken attribute in <$tag$attrs>" if $bare =~ /=(?!"")|"(?<!="")(?!")/;
    }
    push @p, 'unclosed: ' . join(' ', @stack) if @stack;
    my %seen;
    push @p, map { "duplicate id $_" } grep { $seen{$_}++ == 1 } $h =~ /\bid="([^"]+)"/g;
    push @p, 'a raw & in the text' if $body =~ /&(?![a-zA-Z]+;|#[0-9]+;)/;
    return @p;
}
