#!/usr/bin/env perl
# The rendered page in a real browser: headless Chromium opens it as a file
# and from a loopback web server; every image must have loaded (read from
# the page's image state, not guessed from a picture), every link must
# answer, a screenshot of the whole page is taken, and a graph removed on
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
ok(@imgs >= 9, scalar(@imgs) . ' images on the page');

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
    my @notsvg = grep { $_->{cur} !~ /\.svg$/ } @$st;
    is(scalar @notsvg, 0, "$what: the browser chose the SVG of every graph");
    is_deeply([ grep { "$_->{w}x$_->{h}" ne '960x600' } @$st ], [], "$what: every graph is 960x600");
    return $st;
}

# --- as a file
check_images("file://$dir/site/index.html", 'file://');
is($b->eval('document.title'), 'scalebench: OS scalability results', 'the title');
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
rename "$dir/site/fork.svg", "$dir/site/fork.svg.away" or die;
rename "$dir/site/fork.png", "$dir/site/fork.png.away" or die;
$b->open("file://$dir/site/index.html");
my $st = JSON::PP::decode_json($b->eval($IMAGES));
is_deeply([ map { $_->{src} } grep { !$_->{complete} || !$_->{w} } @$st ], ['fork.png'],
          'with fork.svg/png removed exactly that graph shows as broken');

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
