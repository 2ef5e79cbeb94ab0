#!/usr/bin/env perl
# pollbench: valid output at small sizes, every mechanism of the OS listed and
# run, select only below FD_SETSIZE, a descriptor limit ends the run cleanly,
# bad arguments rejected.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use SBTest;
use Scalebench::Result qw(parse_text);
use Test::More;

my $pb = bin('pollbench');
-x $pb or plan skip_all => "$pb not built";

my %expect = (linux => [qw(select poll epoll)], freebsd => [qw(select poll kqueue)],
              openbsd => [qw(select poll kqueue)], netbsd => [qw(select poll kqueue)],
              darwin => [qw(select poll kqueue)]);

# poll alone, N from 1 to 5000
my $r = run([ $pb, '-m', 'poll', '-n', 5000, '-r', 3 ]);
is($r->{exit}, $EXIT_OK, '-m poll -n 5000 exits 0') or diag $r->{err};
is_deeply([ check_output($r->{out}, columns => 'n poll_ns', end => 'completed', bench => 'pollbench') ], [],
    'valid result file with one column, poll_ns');
my $p = parse_text($r->{out});
my %n;
$n{ $_->[0] }++ for @{ $p->{rows} };
is($n{1}, 3, 'N=1 measured 3 times');
is($n{5000}, 3, 'N=5000 measured 3 times');
ok(keys(%n) >= 30, 'a geometric grid of at least 30 points from 1 to 5000 (' . keys(%n) . ')');
ok(!(grep { $_->[0] < 1 || $_->[0] > 5000 } @{ $p->{rows} }), 'no N outside 1..5000');
ok(!(grep { $_->[1] eq '-' } @{ $p->{rows} }), 'every poll event measured');

# every mechanism the OS has: listed, and run by default
my @mechs = split ' ', $p->{header}{mechanisms} // '';
SKIP: {
    skip "no expectation for $^O", 1 unless $expect{$^O};
    my %have = map { $_ => 1 } @mechs;
    ok(!(grep { !$have{$_} } @{ $expect{$^O} }), "the header lists @{ $expect{$^O} } on $^O (it says: @mechs)");
}
$r = run([ $pb, '-n', 300, '-r', 2 ]);
is($r->{exit}, $EXIT_OK, 'default mechanisms, -n 300: exits 0') or diag $r->{err};
$p = parse_text($r->{out});
my @run = grep { $_ ne 'io_uring' || ($p->{header}{io_uring} // '') !~ /^unavailable/ } @mechs;
is_deeply([ check_output($r->{out}, columns => join(' ', 'n', map { "${_}_ns" } @run), end => 'completed') ], [],
    "one column per mechanism available: @run");
ok(!(grep { my $row = $_; grep { $row->[$_] eq '-' } 1 .. $#$row } @{ $p->{rows} }),
    'every mechanism measured every N up to 300');

# select stops at FD_SETSIZE: its column is "-" beyond, poll goes on
$r = run([ $pb, '-m', 'select,poll', '-n', 1500, '-r', 1 ]);
is($r->{exit}, $EXIT_OK, '-m select,poll -n 1500 exits 0') or diag $r->{err};
is_deeply([ check_output($r->{out}, columns => 'n select_ns poll_ns', end => 'completed') ], [], 'valid');
$p = parse_text($r->{out});
my ($last) = grep { $_->[0] == 1500 } @{ $p->{rows} };
ok($last && $last->[1] eq '-' && $last->[2] ne '-', 'N=1500: select not measured (FD_SETSIZE), poll measured');
my ($first) = grep { $_->[0] == 1 } @{ $p->{rows} };
ok($first && $first->[1] ne '-', 'N=1: select measured');

# '# args:' is the command line as given, a comma list included
$r = run([ $pb, '-m', 'select,poll', '-n', 20, '-r', 1 ]);
is($r->{exit}, $EXIT_OK, '-m select,poll -n 20 exits 0') or diag $r->{err};
like($r->{out}, qr/^# args: \S*pollbench -m select,poll -n 20 -r 1$/m, '# args: records -m select,poll verbatim');

# the ready descriptor's position: each one valid and in the header; the
# window is the wait call alone, and the header says so
for my $pos (qw(first middle last)) {
    $r = run([ $pb, '-m', 'poll', '-n', 50, '-r', 2, '-p', $pos ]);
    is($r->{exit}, $EXIT_OK, "-p $pos exits 0") or diag $r->{err};
    is_deeply([ check_output($r->{out}, columns => 'n poll_ns', end => 'completed') ], [], "-p $pos: valid");
    $p = parse_text($r->{out});
    like($p->{header}{position} // '', qr/^\Q$pos\E\b/, "-p $pos: the header names the position");
    ok(!(grep { $_->[1] eq '-' } @{ $p->{rows} }), "-p $pos: every event measured");
}
like($p->{header}{window} // '', qr/wait call alone/, 'the header says what the window holds');
$r = run([ $pb, '-m', 'poll', '-n', 5, '-r', 1 ]);
like(parse_text($r->{out})->{header}{position} // '', qr/^last\b/, 'the default position is last');

SKIP: {
    my $pre = unprivileged();
    skip 'root, and no setpriv to drop privileges', 5 unless defined $pre;
    $r = run([ @$pre, $pb, '-m', 'poll', '-n', 1000, '-r', 1 ], shell => 'ulimit -n 64');
    is($r->{exit}, $EXIT_LIMIT, 'ulimit -n 64: exits with the stopped-at-limit status');
    is_deeply([ check_output($r->{out}, end => 'stopped', min_rows => 10) ], [],
        'still a valid result file, with the N that fit measured');
    $p = parse_text($r->{out});
    like($p->{end}, qr/^stopped: socket\(\) at n=\d+: EMFILE \(RLIMIT_NOFILE=64\)$/, 'names socket(), EMFILE and the limit');
    my $max = 0;
    $max = $_->[0] > $max ? $_->[0] : $max for @{ $p->{rows} };
    ok($max > 30 && $max < 64, "measured up to the descriptors that exist (N=$max)");
    like($r->{err}, qr/^pollbench: stopped: socket\(\)/m, 'and says so on stderr');
}

my @bad = ([ '-m', 'foo' ], [ '-m', '' ], [ '-m', 'poll,nope' ], [ '-n', 0 ], [ '-n', 'x' ], [ '-r', 0 ],
           [ '-r', '-1' ], ['-x'], ['extra'], ['-n'], [ '-p', 'end' ], [ '-p', '' ], ['-p']);
push @bad, [ '-m', 'kqueue' ] if $^O eq 'linux';
push @bad, [ '-m', 'epoll' ] if $^O ne 'linux';
for my $bad (@bad) {
    my $b = run([ $pb, @$bad ]);
    my $what = join ' ', map { "'$_'" } @$bad;
    is($b->{exit}, $EXIT_USAGE, "$what: usage status");
    ok($b->{err} =~ /\A[^\n]+\n\z/ && $b->{out} eq '', "$what: a one-line error, no output") or diag "stderr: $b->{err}";
}
$r = run([ $pb, '-h' ]);
is($r->{exit}, 0, '-h exits 0');
like($r->{out}, qr/^usage: pollbench/, '-h prints the usage');

done_testing;
