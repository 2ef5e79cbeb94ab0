#!/usr/bin/env perl
# The rendered page in a real browser: headless Chromium opens it as a file
# and from a loopback web server; every image must have loaded (read from
# the page's image state, not guessed from a picture), the comparison matrix
# must be there and agree with comparison.json, no tag label may repeat,
# every link must answer, a screenshot of the whole page is taken, and a graph removed on
# purpose must show up as broken (so this test can fail). Chromium and all
# its helper processes must be gone afterwards.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use SBTest;
use SBFixtures qw(make_tree);
use SBBrowser;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX qw(WNOHANG);

my $gnuplot = grep { -x "$_/gnuplot" } split /:/, $ENV{PATH};
plan skip_all => 'gnuplot is not installed (.ci/run installs gnuplot-nox)' unless $gnuplot;
plan skip_all => 'chromium is not installed (.ci/run installs it)' unless SBBrowser::find_chromium();

my $dir = tempdir('sb-site-XXXXXX', TMPDIR => 1, CLEANUP => 1);
make_tree($dir, runs => 2, count => 800);
my $r = run([ $^X, ROOT() . '/plot/render', '--results', $dir, '--quiet' ], timeout => 300);
is($r->{exit}, 0, 'plot/render exits 0') or BAIL_OUT("render failed: $r->{err}");
my $html = do { open my $fh, '<', "$dir/site/index.html" or die; local $/; <$fh> };
my @imgs = $html =~ /<img src="([^"]+)"/g;
ok(@imgs >= 7, scalar(@imgs) . ' images on the page');

my $b = SBBrowser->start;
ok($b, 'headless chromium started') or BAIL_OUT('no browser');
my $pgid = $b->pid;

my $IMAGES = 'JSON.stringify(Array.from(document.images).map(i => ({ src: i.getAttribute("src"), '
    . 'cur: i.currentSrc, complete: i.complete, w: i.naturalWidth, h: i.naturalHeight })))';

sub check_images {
    my ($url, $what) = @_;
    my $nav = $b->open($url);
    ok(!$nav->{errorText}, "$what: the page opens") or diag($nav->{errorText});
    my $st = JSON::PP::decode_json($b->eval($IMAGES));
    is(scalar @$st, scalar @imgs, "$what: the browser sees every image");
    my @broken = grep { !$_->{complete} || !$_->{w} } @$st;
    is_deeply([ map { $_->{src} } @broken ], [], "$what: every graph loaded (complete, naturalWidth > 0)");
    is_deeply([ grep { $_->{cur} !~ /\.png$/ } @$st ], [], "$what: every graph is a PNG (no multi-MB SVG)");
    is_deeply([ grep { "$_->{w}x$_->{h}" ne '960x600' } @$st ], [], "$what: every graph is 960x600");
    return $st;
}

# --- as a file
check_images("file://$dir/site/index.html", 'file://');
is($b->eval('document.title'), 'scalebench: OS scalability results', 'the title');

# the comparison matrix: there, at the top, and what comparison.json says
my $cmp = JSON::PP::decode_json(do { open my $fh, '<', "$dir/site/comparison.json" or die; local $/; <$fh> });
my $cells = JSON::PP->new->decode($b->eval('JSON.stringify(Array.from(document.querySelectorAll("#matrix td[data-which]"))'
    . '.map(td => ({ g: td.dataset.graph, s: td.dataset.stem, t: td.dataset.tag, w: td.dataset.which, '
    . 'r: parseFloat(td.dataset.ratio), sig: td.dataset.significant, cls: td.className, '
    . 'bg: getComputedStyle(td).backgroundColor, text: td.textContent })))'));
ok(@$cells >= 10, scalar(@$cells) . ' cells in the comparison matrix');
my $top = $b->eval('document.getElementById("matrix").getBoundingClientRect().top < document.getElementById("systems").getBoundingClientRect().top');
ok($top, 'the matrix comes before the systems table');
my %json = map { ("$_->{graph} $_->{stem} $_->{tag}" => $_) } grep { $_->{ranges} } @{ $cmp->{graphs} };
my @wrong;
for my $c (@$cells) {
    my $j = $json{"$c->{g} $c->{s} $c->{t}"} or do { push @wrong, "$c->{g} $c->{t}: not in comparison.json"; next };
    my $r = $j->{ranges}[ $j->{ $c->{w} } ];
    push @wrong, "$c->{g} $c->{t} $c->{w}: $c->{r} vs $r->{ratio}" if abs($c->{r} - $r->{ratio}) > 1e-5 * $r->{ratio};
    push @wrong, "$c->{g} $c->{t} $c->{w}: significance" if $c->{sig} != ($r->{significant} ? 1 : 0);
    push @wrong, "$c->{g} $c->{t} $c->{w}: no '*' on a significant ratio" if $r->{significant} && $c->{text} !~ /\*/;
}
is_deeply(\@wrong, [], 'every matrix cell shows comparison.json\'s ratio and significance');
my ($slow) = grep { $_->{g} eq 'socket' && $_->{t} eq 'netbsd-10.0-gamma' && $_->{w} eq 'worst' } @$cells;
ok($slow && $slow->{bg} =~ /^rgb\((2[0-9][0-9]), ([0-9]+), ([0-9]+)\)$/ && $1 > $2 + 50,
   'a 300x slower cell is drawn red (' . ($slow->{bg} // '?') . ')');
my %pairs = map { ("$_->{g} $_->{s} $_->{t}" => 1) } @$cells;
is(scalar(keys %pairs), scalar(grep { $_->{ranges} && @{ $_->{ranges} } } @{ $cmp->{graphs} }),
   'every compared graph and tag of comparison.json has its cells');

# no label repeats: the tags in the systems table, the summary's and the
# matrix's column heads, and each graph's verdict table
my $labels = JSON::PP->new->decode($b->eval('JSON.stringify({ '
    . 'systems: Array.from(document.querySelectorAll("#systems-table td.tag")).map(x => x.textContent), '
    . 'summary: Array.from(document.querySelectorAll("#summary-table tr:first-child th[colspan]")).map(x => x.textContent), '
    . 'matrix: Array.from(document.querySelectorAll("#matrix tr:first-child th[colspan]")).map(x => x.textContent), '
    . 'graphs: Array.from(document.querySelectorAll("table.verdicts")).map(t => Array.from(t.querySelectorAll("td.tag")).map(x => x.textContent)) })'));
for my $k (qw(systems summary matrix)) {
    my %n;
    $n{$_}++ for @{ $labels->{$k} };
    ok(@{ $labels->{$k} } >= 2 && !grep({ $_ > 1 } values %n), "$k: " . scalar(@{ $labels->{$k} }) . ' labels, none repeated');
}
my @rep = grep { my %n; $n{$_}++ for @$_; grep { $_ > 1 } values %n } @{ $labels->{graphs} };
is_deeply(\@rep, [], 'no label repeats in any graph\'s table (' . scalar(@{ $labels->{graphs} }) . ' tables)');
my $shot = "$dir/page.png";
my $size = $b->screenshot($shot);
ok(-s $shot > 50000, 'a screenshot of the whole page (' . (-s $shot) . ' bytes)');
open my $ph, '<:raw', $shot or die;
read $ph, my $head, 24;
close $ph;
my ($w, $h) = unpack 'NN', substr($head, 16, 8);
ok(substr($head, 0, 8) eq "\x89PNG\r\n\x1a\n" && $w == 1200 && $h > 3000, "the screenshot is a ${w}x$h PNG");

# --- from a web server on loopback (relative links only: it must not matter)
my ($srv, $port) = serve($dir);
check_images("http://127.0.0.1:$port/site/index.html", 'http://');
my $codes = JSON::PP::decode_json($b->eval(
    'Promise.all(Array.from(document.querySelectorAll("a[href]")).filter(a => !a.getAttribute("href").startsWith("#"))'
    . '.map(a => fetch(a.href, { method: "HEAD" }).then(r => [a.getAttribute("href"), r.status])))'
    . '.then(x => JSON.stringify(x))'));
ok(@$codes > 20, scalar(@$codes) . ' links fetched by the browser');
is_deeply([ grep { $_->[1] != 200 } @$codes ], [], 'every link answers 200 from the web server');

# --- a graph gone missing must be seen as broken
rename "$dir/site/fork.png", "$dir/site/fork.png.away" or die;
$b->open("file://$dir/site/index.html");
my $st = JSON::PP::decode_json($b->eval($IMAGES));
is_deeply([ map { $_->{src} } grep { !$_->{complete} || !$_->{w} } @$st ], ['fork.png'],
          'with fork.png removed exactly that graph shows as broken');

$b->stop;
kill 'TERM', $srv;
waitpid $srv, 0;
ok(!kill(0, -$pgid), 'no chromium process is left (its process group is empty)');
ok(!kill(0, $srv), 'the test web server is gone');
done_testing();

# A minimal static file server for GET/HEAD under $root, in a child process.
sub serve {
    my ($root) = @_;
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 64, ReuseAddr => 1)
        or die "listen: $!";
    my $port = $l->sockport;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        local $SIG{TERM} = sub { POSIX::_exit(0) };
        alarm 300;    # never outlive the test by much
        while (my $c = $l->accept) {
            my $req = '';
            while ($req !~ /\r\n\r\n/) {
                my $n = sysread $c, $req, 4096, length $req;
                last unless $n;
            }
            my ($m, $path) = $req =~ m{^(GET|HEAD) (/[^ ?#]*)};
            my $file = defined $path ? "$root$path" : '';
            $file =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
            if (!$m || $file =~ m{/\.\.(/|$)} || !-f $file) {
                print $c "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            } else {
                my $type = $file =~ /\.svg$/ ? 'image/svg+xml' : $file =~ /\.png$/ ? 'image/png'
                         : $file =~ /\.html$/ ? 'text/html; charset=utf-8' : 'text/plain; charset=utf-8';
                open my $fh, '<:raw', $file;
                local $/;
                my $body = <$fh>;
                print $c "HTTP/1.0 200 OK\r\nContent-Type: $type\r\nContent-Length: " . length($body)
                    . "\r\nConnection: close\r\n\r\n";
                print $c $body if $m eq 'GET';
            }
            close $c;
        }
        POSIX::_exit(0);
    }
    close $l;
    return ($pid, $port);
}
