#!/usr/bin/env perl
# plot/render on fixture results for three tags (one stopped at a limit, two
# missing a benchmark): the graphs exist and are real, the page is sound
# HTML5 whose every link resolves, the verdicts match the fixtures' known
# growth, and 1 or 0 tags work too.
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

# --- the graphs
my @want = qw(socket socket-log socket-zoom bind fork fork-static fork-cleanup mmap touch);
for my $g (@want) {
    for my $ext (qw(svg png)) {
        my $f = "$site/$g.$ext";
        ok(-s $f && -s $f > 10000, "$g.$ext exists and is not trivial (" . (-s $f // 0) . ' bytes)');
    }
    my $png = slurp("$site/$g.png");
    ok(substr($png, 0, 8) eq "\x89PNG\r\n\x1a\n", "$g.png is a PNG");
    my ($w, $h) = unpack 'NN', substr($png, 16, 8);
    is("${w}x$h", '960x600', "$g.png is 960x600");
    my $svg = slurp("$site/$g.svg");
    ok(utf8::decode(my $copy = $svg), "$g.svg is valid UTF-8");
    like($svg, qr/<svg\b.*<\/svg>\s*\z/s, "$g.svg is a whole SVG document");
    my $points = () = $svg =~ /<use /g;
    ok($points > 1000, "$g.svg draws the points ($points marks)");
}
ok(!-e "$site/mmap-zoom.svg", 'no zoomed mmap graph: no tag dwarfs the others there');

my $socket = slurp("$site/socket.svg");
ok($socket =~ qr/FreeBSD 14\.1-RELEASE beta/, 'legend text from the system record (OS release host)');
ok($socket =~ qr/NetBSD 10\.0 gamma \(VM\)/, 'a VM is marked in the legend');
ok($socket =~ qr/freebsd-14\.1-beta stopped: socket\(\): EMFILE \(RLIMIT_NOFILE=1024\), 3 runs/,
     'the stop at the limit is marked on the graph with its reason');
ok(slurp("$site/socket-zoom.svg") =~ qr/without NetBSD 10\.0 gamma/, 'the zoomed version leaves out the tag that dwarfs the rest');
ok(slurp("$site/socket-zoom.svg") !~ qr/NetBSD 10\.0 gamma \(VM\)<\/tspan>/, 'and has no legend entry for it');

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
for my $g (grep { !/-log$/ } @want) {
    like($html, qr/<img src="\Q$g\E\.png"[^>]*alt="[^"]+"/, "the page shows $g (PNG fallback, with alt text)");
    like($html, qr/<source srcset="\Q$g\E\.svg" type="image\/svg\+xml">/, "the page offers $g as SVG");
}
like($html, qr/Question\.<\/strong> Does creating a socket get slower/, 'the socket graph is explained from docs/bench/socketbench.md');
like($html, qr/No method page yet \(<code>docs\/bench\/forkbench\.md<\/code>/,
     'a benchmark without a docs page says so') if !-f ROOT() . '/docs/bench/forkbench.md';
like($html, qr/<td class="missing" colspan="2">missing<\/td>/, 'the summary shows missing benchmarks as missing');
like($html, qr/run 1: stopped: socket\(\) at n=1019/, 'the stopped runs are listed with their end');
for my $t (sort keys %$expect) {
    like($html, qr/<td class="tag">.*\Q$t\E<\/td><td>(Linux|FreeBSD|NetBSD)<\/td>/, "$t is in the systems table");
}

# --- one tag, and no tag at all
{
    my $one = tempdir('sb-render1-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    make_path("$one/solo");
    copy($_, "$one/solo/") or die for glob "$dir/linux-6.1-alpha/{socketbench,forkbench}.*.dat";
    write_system("$one/solo", tag => 'solo', os => 'Linux', release => '6.1', host => 'solo');
    open my $bad, '>', "$one/solo/mmapbench.1.dat" or die;
    print $bad "# scalebench: 1\n# bench: mmapbench\n0 12 1";    # cut short
    close $bad;
    my $r1 = run([ $^X, $render, '--results', $one, '--quiet' ], timeout => 300);
    is($r1->{exit}, 0, 'one tag: render exits 0') or diag($r1->{err});
    like($r1->{err}, qr/mmapbench\.1\.dat: /, 'an invalid result file is reported');
    ok(!-e "$one/site/mmap.svg", '... and not drawn');
    ok(-s "$one/site/socket.svg" && -s "$one/site/fork.png", 'one tag: graphs drawn');
    ok(!-e "$one/site/socket-zoom.svg", 'one tag: no zoomed version');
    ok(!-e "$one/site/mmap.svg", 'one tag: no graph for a benchmark nobody ran');

    # ten tags: ten colours, ten legend entries, ten columns in the summary
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
    my $svg10 = slurp("$ten/site/socket.svg");
    my @legend = $svg10 =~ />(OS[0-9]+ 1\.0 h[0-9]+)</g;
    is(scalar(@legend), 10, 'ten tags: ten legend entries');
    my %colours = map { $_ => 1 } slurp("$ten/site/index.html") =~ /class="swatch" style="background:(#[0-9a-f]{6})"/g;
    is(scalar(keys %colours), 10, 'ten tags: ten colours');

    my $none = tempdir('sb-render0-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $r0 = run([ $^X, $render, '--results', $none, '--quiet' ], timeout => 60);
    is($r0->{exit}, 0, 'no tags: render exits 0');
    like(slurp("$none/site/index.html"), qr/No results yet/, 'no tags: the page says so');
    my $rb = run([ $^X, $render, '--bogus' ], timeout => 60);
    is($rb->{exit}, 2, 'a bad argument exits 2');
    my $rm = run([ $^X, $render, '--results', "$none/nope" ], timeout => 60);
    is($rm->{exit}, 1, 'a missing results directory exits 1');
}

done_testing();

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
