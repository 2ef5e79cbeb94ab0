#!/usr/bin/env perl
# harness/publish (make publish DEST=...): copies results/site/ and the raw
# files its pages link, in the same layout, to a folder, and over ssh to
# the test's own sshd (a tar stream into tar xf -). Links outside the
# results tree, to other sites, or to nothing are not followed; files of
# results/ no page links are not copied.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use SBTest;
use TestSSHD;
use File::Temp qw(tempdir);
use File::Path qw(make_path);
use Test::More;

my $tmp = tempdir('sbpublish-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $pub = ROOT() . '/harness/publish';
my $res = "$tmp/results";
sub spew { my ($f, $d) = @_; my ($dir) = $f =~ m{^(.*)/}; make_path($dir); open my $h, '>', $f or die; print $h $d; close $h or die }
sub slurp { open my $f, '<', $_[0] or return undef; local $/; return scalar <$f> }
sub tree {
    my ($d) = @_;
    my %t;
    my @q = ('');
    while (defined(my $p = shift @q)) {
        opendir my $dh, "$d/$p" or next;
        for my $e (grep { !/^\.\.?$/ } readdir $dh) {
            my $x = length $p ? "$p/$e" : $e;
            if (-d "$d/$x") { push @q, $x } else { $t{$x} = slurp("$d/$x") }
        }
    }
    return \%t;
}

spew("$res/site/index.html", <<'EOH');
<html><body>
<img src="socket.png"><a href="socket.svg">SVG</a> <a href='sub/page.html'>more</a>
<a href="../box-1/socketbench.1.dat">run 1</a> <a href="../box%2D1/socketbench.2.dat">run 2</a>
<a href="../box-1/system.txt?x=1#top">system</a> <a href="#graphs">here</a>
<a href="https://example.org/x.dat">elsewhere</a> <a href="/etc/passwd">rooted</a>
<a href="../../outside.txt">outside</a> <a href="../box-1/missing.dat">gone</a>
</body></html>
EOH
spew("$res/site/socket.png", "png");
spew("$res/site/socket.svg", "<svg/>");
spew("$res/site/sub/page.html", '<a href="../../box-2/fdbench.1.dat">fd</a>');
spew("$res/box-1/socketbench.$_.dat", "data $_\n") for 1 .. 3;
spew("$res/box-1/system.txt", "sys\n");
spew("$res/box-1/log", "log\n");
spew("$res/box-2/fdbench.1.dat", "fd\n");
spew("$tmp/outside.txt", "secret\n");

my @want = sort qw(site/index.html site/socket.png site/socket.svg site/sub/page.html
    box-1/socketbench.1.dat box-1/socketbench.2.dat box-1/system.txt box-2/fdbench.1.dat);

my $r = run([ $pub, '--results', $res, "$tmp/www" ]);
is($r->{exit}, 0, 'publish to a folder: exit 0') or diag $r->{err};
like($r->{out}, qr{^published 8 files \(\d+ kB: the site and the 4 raw files it links\) to \Q$tmp/www\E; 1 links point at nothing}m,
     'it says what it copied, and that one link points at nothing');
my $got = tree("$tmp/www");
is_deeply([ sort keys %$got ], \@want, 'the site and exactly the raw files its pages link, in the same layout');
is($got->{'box-1/socketbench.2.dat'}, "data 2\n", 'a file is copied whole');
ok(!-e "$tmp/www/box-1/socketbench.3.dat" && !-e "$tmp/www/box-1/log", 'files no page links are not copied');
ok(!-e "$tmp/outside.txt.copy" && !grep { /outside/ } keys %$got, 'a link out of the results tree is not followed');

# again: overwrites in place, nothing else
spew("$res/site/socket.svg", "<svg>2</svg>");
$r = run([ $pub, '--results', $res, "$tmp/www" ]);
is($r->{exit}, 0, 'publishing again: exit 0');
is(slurp("$tmp/www/site/socket.svg"), "<svg>2</svg>", '... the changed file is updated');

# make publish
$r = run([ 'make', '-s', '-C', ROOT(), 'publish', "RESULTS=$res", "DEST=$tmp/www2" ]);
is($r->{exit}, 0, 'make publish DEST=dir: exit 0') or diag $r->{out}, $r->{err};
is_deeply([ sort keys %{ tree("$tmp/www2") } ], \@want, '... copies the same files');
$r = run([ 'make', '-s', '-C', ROOT(), 'publish', "RESULTS=$res" ]);
isnt($r->{exit}, 0, 'make publish without DEST fails');
like($r->{out} . $r->{err}, qr/DEST=dir or DEST=\[user\@\]host:path/, '... saying what DEST is');

# errors
is(run([ $pub, '--results', "$tmp/none", "$tmp/x" ])->{exit}, 1, 'no rendered site: exit 1');
is(run([ $pub ])->{exit}, 2, 'no DEST: exit 2');
is(run([ $pub, '--results', $res, "host:it's" ])->{exit}, 2, 'a remote path with a quote: exit 2');

# over ssh, to the test's own sshd
SKIP: {
    mkdir "$tmp/sshd" or die;
    my $sshd = TestSSHD->start("$tmp/sshd") or skip $TestSSHD::WHY, 3;
    my $user = getpwuid($<);
    $r = run([ $pub, '--results', $res, $sshd->ssh_opts('good'), '-o', "Port=$sshd->{port}",
               "$user\@127.0.0.1:$tmp/remote-www/pub" ], timeout => 60);
    is($r->{exit}, 0, 'publish to [user@]host:path over ssh: exit 0') or diag $r->{err};
    is_deeply(tree("$tmp/remote-www/pub"), tree("$tmp/www"), '... the same files arrive there');
    $r = run([ $pub, '--results', $res, $sshd->ssh_opts('refused'), '-o', "Port=$sshd->{port}",
               "$user\@127.0.0.1:$tmp/remote-www/no" ], timeout => 60);
    is($r->{exit}, 1, 'a refused key: exit 1');
    $sshd->stop;
}
done_testing;
