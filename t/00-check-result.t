#!/usr/bin/env perl
# The result-format checker accepts valid files and rejects broken ones.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use SBTest;
use Test::More;
use File::Temp ();

my $good = <<'END';
# scalebench: 1
# bench: demo
# args: demo -c 3
# columns: n a_ns b
# units: count ns count
# clock: rdtsc (invariant TSC, lfence-fenced)
# clock_hz: 2500000000
# stamp_overhead_ns: 12.0
# os: Linux
# release: 6.1.0
# machine: x86_64
# date: 2026-11-22T10:00:00Z
# count: 3
0 812.5 1
1 900.0 -
2 1000 3
# rows: 3
# wall_s: 0.010
# end: completed
END

is_deeply([ check_output($good) ], [], 'a valid file passes');
is_deeply([ check_output($good, rows => 3, columns => 'n a_ns b', end => 'completed', bench => 'demo') ], [],
    'and matches what is asked of it');
ok(scalar check_output($good, rows => 4), 'a wrong row count is reported');
ok(scalar check_output($good, end => 'stopped'), 'a wrong end kind is reported');
# a trailer line of its own (coarse_clock, docs/format.md) before # end: is
# valid; the same line after # end: is not
(my $coarse = $good) =~ s/^# end:/# coarse_clock: a_ns median 900.0 ns is under 10 ticks of 100 ns\n# end:/m;
is_deeply([ check_output($coarse, end => 'completed') ], [], 'a # coarse_clock: trailer line before # end: is valid');
(my $late = $good) .= "# coarse_clock: a_ns median 900.0 ns is under 10 ticks of 100 ns\n";
ok(scalar check_output($late), 'a trailer line after # end: is reported');

my %broken = (
    'a missing header key'        => sub { $_[0] =~ s/^# clock_hz: .*\n//m },
    'a wrong first line'          => sub { $_[0] =~ s/^# scalebench: 1/# scalebench: 2/ },
    'a row with too few fields'   => sub { $_[0] =~ s/^1 900.0 -$/1 900.0/m },
    'a negative value'            => sub { $_[0] =~ s/^1 900.0 -$/1 -900.0 -/m },
    'a non-numeric value'         => sub { $_[0] =~ s/^1 900.0 -$/1 nan -/m },
    'a fractional n'              => sub { $_[0] =~ s/^1 900.0 -$/1.5 900.0 -/m },
    'a trailer row count that lies' => sub { $_[0] =~ s/# rows: 3/# rows: 4/ },
    'a missing end line (cut short)' => sub { $_[0] =~ s/# end: completed\n// },
    'a file cut mid-row'          => sub { $_[0] =~ s/2 1000 3\n.*//s; chop $_[0] },
    'units that do not fit the names' => sub { $_[0] =~ s/units: count ns count/units: count ns ns/ },
    'an unknown end'              => sub { $_[0] =~ s/end: completed/end: fine/ },
    'a stop without errno and limit' => sub { $_[0] =~ s/end: completed/end: stopped: socket()/ },
    'a header line among the rows' => sub { $_[0] =~ s/^1 900.0 -$/# note: x\n1 900.0 -/m },
    'an empty line'               => sub { $_[0] =~ s/^1 900.0 -$/\n1 900.0 -/m },
);
# The clock's trailer lines (issue 13): accepted before '# end:', checked,
# and the migrated values handed to a plot.
(my $clocked = $good) =~ s/# wall_s: 0.010\n/# migrated: 2 of 5\n# migrated_at: 0.1 2.1\n# clock_backwards: 0\n# clock_drift_ppm: -1.5\n# wall_s: 0.010\n/;
is_deeply([ check_output($clocked, rows => 3) ], [], 'migrated, migrated_at, clock_backwards, clock_drift_ppm are trailer lines');
{
    use Scalebench::Result qw(parse_text);
    is_deeply(parse_text($clocked)->{migrated}, { '0.1' => 1, '2.1' => 1 }, 'the migrated values, by row.column');
    (my $unknown = $good) =~ s/# wall_s:/# migrated: unknown (no CPU number per stamp)\n# wall_s:/;
    is_deeply([ check_output($unknown) ], [], 'migrated: unknown (...) is valid');
}
my %clock_broken = (
    'migrated_at beyond the rows'      => sub { $_[0] =~ s/migrated_at: 0.1 2.1/migrated_at: 0.1 3.1/ },
    'migrated_at naming column n'      => sub { $_[0] =~ s/migrated_at: 0.1 2.1/migrated_at: 0.0 2.1/ },
    'migrated_at and migrated disagree' => sub { $_[0] =~ s/migrated: 2 of 5/migrated: 3 of 5/ },
    'more migrated than checked'       => sub { $_[0] =~ s/migrated: 2 of 5/migrated: 6 of 5/ },
    'clock_backwards not a number'     => sub { $_[0] =~ s/clock_backwards: 0/clock_backwards: -1/ },
    'a required header key after the rows' => sub { $_[0] =~ s/# clock_backwards: 0\n/# clock_backwards: 0\n# count: 3\n/ },
);
for my $what (sort keys %clock_broken) {
    my $t = $clocked;
    $clock_broken{$what}->($t);
    isnt($t, $clocked, "(the change applies: $what)");
    ok(scalar check_output($t), "rejected: $what");
}

for my $what (sort keys %broken) {
    my $t = $good;
    $broken{$what}->($t);
    ok(scalar check_output($t), "rejected: $what");
}

my $stopped = $good =~ s/end: completed/end: stopped: socket() at n=3: EMFILE (RLIMIT_NOFILE=64)/r;
is_deeply([ check_output($stopped, end => 'stopped') ], [], 'a run stopped at a limit is valid');

# the command-line checker
my $dir = File::Temp::tempdir(CLEANUP => 1);
open my $fh, '>', "$dir/good.dat" or die;
print $fh $good;
close $fh;
open $fh, '>', "$dir/bad.dat" or die;
print $fh $good =~ s/# rows: 3/# rows: 9/r;
close $fh;
my $r = run([ ROOT() . '/scripts/check-result', '--rows', 3, "$dir/good.dat" ]);
is($r->{exit}, 0, 'check-result exits 0 on a valid file');
like($r->{out}, qr/good\.dat: ok \(demo, 3 rows, completed\)/, 'and says so');
$r = run([ ROOT() . '/scripts/check-result', "$dir/good.dat", "$dir/bad.dat" ]);
is($r->{exit}, 1, 'check-result exits 1 when a file is invalid');
like($r->{out}, qr/bad\.dat: trailer says rows: 9 but the file has 3/, 'and names the problem');

done_testing;
