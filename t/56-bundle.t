#!/usr/bin/env perl
# harness/export and harness/import: a tag round-trips through a bundle;
# importing it again changes nothing; a different tag of the same name is
# never overwritten (the conflict is named); crafted archives are refused
# before anything is written: '../', an absolute path, a symbolic link, a
# hard link, a device, a result file the format checker rejects.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use SBTest;
use File::Temp qw(tempdir);
use File::Path qw(make_path);
use POSIX ();
use IO::Compress::Gzip qw(gzip);
use Scalebench::Bundle qw(tar_header tar_entry tar_end tag_files);
use Test::More;

my $tmp = tempdir('sbbundle-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $export = ROOT() . '/harness/export';
my $import = ROOT() . '/harness/import';
my $fake = ROOT() . '/t/data/fakebench';

sub slurp { open my $f, '<:raw', $_[0] or return ''; local $/; return scalar <$f> }
sub spew { open my $f, '>:raw', $_[0] or die "$_[0]: $!"; print $f $_[1]; close $f or die }
sub tree {    # name -> content of a tag folder's bundled files
    my ($d) = @_;
    return { map { $_ => slurp("$d/$_") } tag_files($d) };
}
sub files_in { opendir my $d, $_[0] or return (); return sort grep { !/^\.\.?$/ } readdir $d }

# ---- a real tag: harness/run with a suite of the fake benchmark ----
my $suite = "$tmp/suite.pl";
spew($suite, "( { id => 'fake', program => '$fake', args => ['-c', 30], main_column => 'x_ns' },\n"
           . "  { id => 'fake-limit', program => '$fake', args => ['-c', 20, 'limit'], main_column => 'x_ns' } )\n");
my $r = run([ ROOT() . '/harness/run', '--no-build', '--runs', 2, '--results', "$tmp/a", '--tag', 'box-1',
              '--suite-file', $suite ], timeout => 120);
is($r->{exit}, 0, 'harness/run made a tag to export') or diag $r->{out}, $r->{err};
spew("$tmp/a/box-1/fake.1.failed", "junk\n");    # kept for a look: not a result, not bundled

# ---- round trip ----
mkdir "$tmp/out" or die;
$r = run([ $export, '--results', "$tmp/a", '-o', "$tmp/out", 'box-1' ]);
is($r->{exit}, 0, 'export: exit 0') or diag $r->{err};
like($r->{out}, qr{^box-1: 8 files -> \Q$tmp/out/box-1.tar.gz\E}m, 'export names the bundle and its file count');
my $bundle = "$tmp/out/box-1.tar.gz";
ok(-s $bundle, 'the bundle exists');
is_deeply([ files_in("$tmp/out") ], ['box-1.tar.gz'], 'nothing else left in the output folder');

# what an import killed outright left (a pid that is gone): a half-written
# folder, and a tag moved aside between the two renames of a replace
my $dead = fork // die;
if (!$dead) { POSIX::_exit(0) }
waitpid($dead, 0);
make_path("$tmp/b/.import-box-1.$dead", "$tmp/b/.replaced-old-1.$dead");
spew("$tmp/b/.import-box-1.$dead/fake.1.dat", 'cut sh');
spew("$tmp/b/.replaced-old-1.$dead/system.json", '{}');
$r = run([ $import, '--results', "$tmp/b", $bundle ]);
is($r->{exit}, 0, 'import: exit 0') or diag $r->{err};
is_deeply([ files_in("$tmp/b") ], [ 'box-1', 'old-1' ], 'the dead import\'s half-written folder is removed, the tag it moved aside is back');
is(slurp("$tmp/b/old-1/system.json"), '{}', '... whole');
like($r->{out}, qr{box-1: 8 files -> \Q$tmp/b/box-1\E \(source revision \S+\)}, 'import says where the tag went');
my $want = tree("$tmp/a/box-1");
is_deeply(tree("$tmp/b/box-1"), $want, 'the imported tag holds the same files, byte for byte');
ok(exists $want->{$_}, "$_ is in the bundle") for qw(fake.1.dat fake-limit.2.dat system.json system.txt summary.txt log);
ok(!-e "$tmp/b/box-1/fake.1.failed", 'the output of a failed run is not bundled');
ok(!-e "$tmp/b/box-1/bundle.json", 'the manifest is not installed as a file of the tag');
my $c = run([ ROOT() . '/scripts/check-result', glob("$tmp/b/box-1/*.dat") ]);
is($c->{exit}, 0, 'the imported result files pass scripts/check-result') or diag $c->{out};

# idempotent
$r = run([ $import, '--results', "$tmp/b", $bundle ]);
is($r->{exit}, 0, 'importing the same bundle again: exit 0');
like($r->{out}, qr/already in .*identical: nothing to do/, '... and says nothing was to do');
is_deeply(tree("$tmp/b/box-1"), $want, '... and the tag is unchanged');

# a different tag of the same name
# (fake.1.dat itself may be byte for byte fake.2.dat: the fake benchmark's
# output is the same within one second; fake-limit.1.dat never is)
spew("$tmp/b/box-1/fake.2.dat", slurp("$tmp/b/box-1/fake-limit.1.dat"));
my $before = tree("$tmp/b/box-1");
$r = run([ $import, '--results', "$tmp/b", $bundle ]);
is($r->{exit}, 1, 'a different existing tag: exit 1');
like($r->{err}, qr{refused: \Q$tmp/b/box-1\E exists and differs from the bundle \(fake\.2\.dat differs\)},
     '... naming the tag and the file that differs');
is_deeply(tree("$tmp/b/box-1"), $before, '... and it is not overwritten');

# export refuses what import would refuse
spew("$tmp/a/box-1/fake.2.dat", "# scalebench: 1\nnot a result\n");
$r = run([ $export, '--results', "$tmp/a", '-o', "$tmp/out", 'box-1', 'no-such-tag' ]);
is($r->{exit}, 1, 'export of a tag with a bad result file, and of a missing tag: exit 1');
like($r->{err}, qr{box-1: .*/fake\.2\.dat: }, '... naming the bad file');
like($r->{err}, qr{no-such-tag: no tag 'no-such-tag'}, '... and the missing tag');
is(run([ $export, 'Bad/Tag' ])->{exit}, 2, 'a bad tag name: exit 2');
is(run([ $import ])->{exit}, 2, 'import without a file: exit 2');

# ---- crafted bundles: each refused, nothing written ----
my $dat = $want->{'fake.1.dat'};
my $sys = $want->{'system.json'};
my $man = qq({"format":1,"tag":"evil"}\n);
sub crafted {
    my ($name, @members) = @_;
    my $t = join('', @members) . tar_end();
    gzip(\$t => "$tmp/$name.tar.gz") or die;
    return "$tmp/$name.tar.gz";
}
my @base = (tar_header('evil/', 0, type => '5'), tar_entry('evil/bundle.json', $man),
            tar_entry('evil/system.json', $sys));
my %cases = (
    dotdot   => [ [ @base, tar_entry('evil/../../escaped.dat', $dat) ], qr/refused: path with '\.\.'/ ],
    absolute => [ [ @base, tar_entry("$tmp/escaped.dat", $dat) ], qr/refused: absolute path/ ],
    symlink  => [ [ @base, tar_header('evil/fake.1.dat', 0, type => '2') ], qr/is a symbolic link/ ],
    hardlink => [ [ @base, tar_header('evil/fake.1.dat', 0, type => '1') ], qr/is a hard link/ ],
    device   => [ [ @base, tar_header('evil/fake.1.dat', 0, type => '3') ], qr/is a character device/ ],
    fifo     => [ [ @base, tar_header('evil/fake.1.dat', 0, type => '6') ], qr/is a FIFO/ ],
    baddat   => [ [ @base, tar_entry('evil/fake.1.dat', "# scalebench: 1\n1 2\n") ], qr{evil/fake\.1\.dat: } ],
    subdir   => [ [ @base, tar_entry('evil/sub/fake.1.dat', $dat) ], qr/a tag's folder is flat/ ],
    twotags  => [ [ @base, tar_entry('other/fake.1.dat', $dat) ], qr/more than one top folder/ ],
    nomanif  => [ [ tar_entry('evil/fake.1.dat', $dat), tar_entry('evil/system.json', $sys) ], qr/not a scalebench bundle/ ],
    cut      => [ [ @base, substr(tar_entry('evil/fake.1.dat', $dat), 0, 700) ], qr/cut short/ ],
);
# a symbolic link first, then a file through it: the second must never be reached
$cases{linkthen} = [ [ @base, tar_header('evil/x', 0, type => '2'), tar_entry('evil/x/y.dat', $dat) ], qr/is a symbolic link/ ];
for my $name (sort keys %cases) {
    my ($members, $why) = @{ $cases{$name} };
    my $f = crafted($name, @$members);
    my $rr = run([ $import, '--results', "$tmp/c", $f ]);
    is($rr->{exit}, 1, "crafted bundle '$name': refused (exit 1)");
    like($rr->{err}, $why, "... with the reason") or diag $rr->{err};
}
ok(!-e "$tmp/c" || !files_in("$tmp/c"), 'nothing was written by any refused bundle');
ok(!-e "$tmp/escaped.dat" && !-e "$tmp/../escaped.dat", 'nothing escaped the results tree');
$r = run([ $import, '--results', "$tmp/c", "$tmp/suite.pl" ]);
like($r->{err}, qr/refused: not a gzip file/, 'a file that is not a bundle is refused');

# the crafted base itself, made valid, is accepted: the refusals are the members'
my $ok = crafted('good', @base, tar_entry('evil/fake.1.dat', $dat));
$r = run([ $import, '--results', "$tmp/c", $ok ]);
is($r->{exit}, 0, 'the same archive without the bad member is accepted') or diag $r->{err};
done_testing;
