#!/usr/bin/env perl
# harness/run --quick with the real suite, end to end, into a temporary
# results folder: every expected file exists and passes the format checker,
# httpd and the scratch data are gone afterwards. Skipped until every
# program of the suite is built (the benchmarks land one by one).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use SBTest;
use Scalebench::Suite qw(suite);
use Scalebench::Result qw(parse_file validate end_kind);
use File::Temp qw(tempdir);
use Test::More;

my @suite = suite();
my %progs = map { ($_->{program} => 1) } @suite;
for my $b (@suite) {
    for (@{ $b->{needs} }) { $progs{mktestdata} = 1 if $_ eq 'tree'; $progs{httpd} = 1 if /^httpd:/ }
}
my @missing = grep { !-x bin($_) } sort keys %progs;
plan skip_all => "not built yet: @missing" if @missing;

my $tmp = tempdir('sbquick-XXXXXX', TMPDIR => 1, CLEANUP => 1);
mkdir "$tmp/scratch" or die;
my $runs = 2;
my $r = run([ ROOT() . '/harness/run', '--quick', '--no-build', '--runs', $runs, '--tag', 'quick',
              '--results', "$tmp/results", '--scratch', "$tmp/scratch" ], timeout => 600);
is($r->{exit}, 0, "harness/run --quick --runs $runs exits 0 (no benchmark failed)") or diag $r->{out}, $r->{err};
my $dir = "$tmp/results/quick";
for my $b (@suite) {
    for my $run (1 .. $runs) {
        my $f = "$dir/$b->{id}.$run.dat";
        ok(-f $f, "$b->{id}.$run.dat exists") or next;
        my $p = parse_file($f);
        is_deeply([ validate($p, defined $b->{columns} ? (columns => $b->{columns}) : ()) ], [],
                  "$b->{id}.$run.dat passes the format checker");
        like(end_kind($p->{end}) // '', qr/^(?:completed|stopped)$/, "$b->{id}.$run.dat: completed or stopped at a limit");
    }
    like($r->{out}, qr/^\Q$b->{id}\E +\d+ +\d+ +0 /m, "$b->{id} is in the summary, none failed");
}
open my $fh, '<', "$dir/system.txt" or die;
my $txt = do { local $/; <$fh> };
for my $k (qw(uname cpu_model cpus cpu_mhz memory_bytes libc libc_version compiler compiler_version
              kernel_cmdline mitigations clocksource rlimit_nofile rlimit_nproc pid_max max_map_count
              port_range somaxconn aslr revision date)) {
    like($txt, qr/^\Q$k\E: +\S/m, "system.txt has $k");
}
opendir my $d, "$tmp/scratch" or die;
is_deeply([ grep { !/^\.\.?$/ } readdir $d ], [], 'the scratch data is gone');
open my $lf, '<', "$dir/log" or die;
my $log = do { local $/; <$lf> };
my @groups = ($log =~ /started, process group (\d+)/g, $log =~ /^== \S+ httpd:\S+: pid (\d+)/mg);
ok(@groups > @suite, 'the log names the processes it started');
ok(!(grep { group_alive($_) } @groups), 'none of them (benchmarks, httpd) is left');

done_testing;
