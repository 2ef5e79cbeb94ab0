#!/usr/bin/env perl
# Measurement fidelity through the library, in every benchmark (issue 13):
# the command line recorded verbatim (a multi-valued option included), -P
# pinning and its header line, the clock's trailer lines.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use SBTest;
use Scalebench::Result qw(parse_text);
use Test::More;
use File::Temp qw(tempdir);

# a shell reads # args: back into the same arguments
sub shell_quote { my ($a) = @_; return $a if length $a && $a !~ m{[^A-Za-z0-9_\@%+=:,./-]}; $a =~ s/'/'\\''/g; return "'$a'" }
my $dir = tempdir('fidelity XXXXXX', TMPDIR => 1, CLEANUP => 1);   # a space in the path

my %small = (
    socketbench => [ '-c', 3 ],
    fdbench     => [ '-c', 5 ],
    forkbench   => [ '-c', 2 ],
    mmapbench   => [ '-c', 3, '-s', '64K', "$dir/it's a file" ],
    pollbench   => [ '-m', 'select,poll', '-n', 5, '-r', 1 ],
);
for my $b (sort keys %small) {
    my $prog = bin($b);
    SKIP: {
        skip "$prog not built", 6 unless -x $prog;
        my @cmd = ($prog, @{ $small{$b} });
        my $r = run([ @cmd ]);
        is($r->{exit}, $EXIT_OK, "$b @{ $small{$b} } exits 0") or diag $r->{err};
        my $p = parse_text($r->{out});
        is($p->{header}{args}, join(' ', map { shell_quote($_) } @cmd), "$b: # args: is the command line verbatim");
        is($p->{header}{pin}, 'none', "$b: # pin: none without -P");
        like($p->{trailer_extra}{migrated} // '', qr/^(?:[0-9]+ of [0-9]+|unknown \(.+\))$/, "$b: # migrated: in the trailer");
        is($p->{trailer_extra}{clock_backwards}, 0, "$b: # clock_backwards: 0");
        my @cpu = ($p->{header}{clock_cpu} // '') =~ /^none/ ? () : (1);
        ok(!@cpu || ($p->{trailer_extra}{migrated} // '') =~ /^[0-9]+ of [1-9]/, "$b: the time values were checked for migration")
            or diag "clock_cpu: $p->{header}{clock_cpu}; migrated: $p->{trailer_extra}{migrated}";
    }
}

# pollbench splits -m's list in place: the header still has it whole, and a
# second multi-valued spelling too
my $pb = bin('pollbench');
SKIP: {
    skip "$pb not built", 2 unless -x $pb;
    my @cmd = ($pb, '-n', 3, '-r', 1, '-m', 'poll,select');
    my $r = run([ @cmd ]);
    is($r->{exit}, $EXIT_OK, 'pollbench -m poll,select exits 0') or diag $r->{err};
    is(parse_text($r->{out})->{header}{args}, "$pb -n 3 -r 1 -m poll,select", '-m poll,select recorded whole');
}

# -P CPU: every benchmark takes it through the library
my $sb = bin('socketbench');
SKIP: {
    skip "$sb not built", 5 unless -x $sb;
    my $r = run([ $sb, '-c', 3, '-P', 0 ]);
    is($r->{exit}, $EXIT_OK, 'socketbench -P 0 exits 0') or diag $r->{err};
    my $p = parse_text($r->{out});
    like($p->{header}{pin}, qr/^(?:cpu 0|none \(-P 0 asked; .+\))$/, "# pin: says it ($p->{header}{pin})");
    is($p->{header}{args}, "$sb -c 3 -P 0", '-P is in # args: too');
    $r = run([ $sb, '-c', 3, '-P', 100000 ]);
    is($r->{exit}, $EXIT_USAGE, 'a CPU number out of range is a usage error');
    $r = run([ $sb, '-c', 3, '-P', 4095 ]);
    ok($r->{exit} == $EXIT_USAGE && $r->{err} =~ /-P: CPU 4095 does not exist/ || $r->{exit} == $EXIT_OK,
        'a CPU this machine does not have is a one-line usage error (or unpinnable here)') or diag $r->{err};
}

# forkbench: fork_ns and cleanup_ns are both checked for migration, and the
# caller's extra descriptors are closed at start and counted
my $fb = bin('forkbench');
SKIP: {
    skip "$fb not built", 3 unless -x $fb;
    my $r = run([ $^X, '-e', '$^F = 1000; open my $a, "<", "/dev/null"; open my $b, "<", "/dev/null"; exec @ARGV',
                  $fb, '-c', 4 ]);
    is($r->{exit}, $EXIT_OK, 'forkbench -c 4 with two extra inherited descriptors exits 0') or diag $r->{err};
    my $p = parse_text($r->{out});
    like($p->{header}{caller_fds} // '', qr/^([2-9]|[1-9][0-9]+) descriptors above 2 inherited from the caller, closed at start$/,
        '# caller_fds: counts them');
    like($p->{trailer_extra}{migrated} // '', qr/^(?:[0-9]+ of 8|unknown \(.+\))$/, '4 forks and 4 cleanups checked for migration');
}

done_testing;
