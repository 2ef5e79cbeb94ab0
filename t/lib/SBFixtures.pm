package SBFixtures;
# Synthetic result trees for the plot and page tests: result files valid per
# docs/format.md whose latency grows with n by a known law, so the verdicts
# drawn from them can be checked.
#
#   my $rows = series('linear', 2000, seed => 3);   # [[n, ns], ...]
#   write_result("$dir/t/socketbench.1.dat", bench => 'socketbench',
#                columns => [qw(n socket_ns bind_ns)], rows => [[0, 1, 2], ...],
#                end => 'completed');
#   write_system("$dir/t", os => 'Linux', release => '6.1', host => 'a');
#   make_tree($dir);   # the three tags the tests use (see below)
use strict;
use warnings;
use Exporter 'import';
use File::Path qw(make_path);
our @EXPORT_OK = qw(law series write_result write_system make_tree);

# The growth laws, in ns: a base plus a term of n.
my %LAW = (
    constant    => sub { 2000 },
    logarithmic => sub { 1500 + 400 * log($_[0] + 1) },
    linear      => sub { 1000 + 2.0 * $_[0] },
    quadratic   => sub { 500 + 0.002 * $_[0] * $_[0] },
);
sub law { return $LAW{ $_[0] } // die "no law $_[0]" }

# A small deterministic generator, so fixtures are the same on every run.
sub _rng {
    my $s = shift;
    return sub { $s = ($s * 1103515245 + 12345) % 2147483648; $s / 2147483648 };
}

# series($law, $count, seed => S, scale => F, noise => 0.3, outliers => 0.02)
# -> [[n, value], ...] for n = 0 .. count-1: value = law(n) * scale times
# uniform noise of +-noise/2, a fraction `outliers` of the values 5..50 times
# too high, and the first operation (n = 0) cold, 20 times slower.
sub series {
    my ($name, $count, %o) = @_;
    my $f = law($name);
    my $r = _rng($o{seed} // 1);
    my ($scale, $noise, $out) = ($o{scale} // 1, $o{noise} // 0.3, $o{outliers} // 0.02);
    my @rows;
    for my $n (0 .. $count - 1) {
        my $v = $f->($n) * $scale * (1 - $noise / 2 + $noise * $r->());
        $v *= 5 + 45 * $r->() if $r->() < $out;
        $v *= 20 if $n == 0;
        push @rows, [ $n, sprintf('%.1f', $v) ];
    }
    return \@rows;
}

sub write_result {
    my ($path, %o) = @_;
    my @cols = @{ $o{columns} };
    my $rows = $o{rows};
    open my $fh, '>', $path or die "$path: $!";
    print $fh "# scalebench: 1\n# bench: $o{bench}\n# args: bench/$o{bench} -c " . scalar(@$rows) . "\n";
    print $fh "# columns: @cols\n# units: " . join(' ', map { $_ eq 'n' || !/_ns$/ ? 'count' : 'ns' } @cols) . "\n";
    print $fh "# clock: clock_gettime(CLOCK_MONOTONIC) (synthetic test data)\n# clock_hz: 1000000000\n";
    print $fh "# stamp_overhead_ns: 20.0\n# os: $o{os}\n# release: $o{release}\n# machine: x86_64\n";
    print $fh "# date: 2026-11-22T13:00:00Z\n# count: " . ($o{count} // scalar @$rows) . "\n";
    print $fh join(' ', @$_) . "\n" for @$rows;
    print $fh "# rows: " . scalar(@$rows) . "\n# wall_s: 0.500\n# end: " . ($o{end} // 'completed') . "\n";
    close $fh or die "$path: $!";
}

sub write_system {
    my ($dir, %s) = @_;
    make_path($dir);
    require JSON::PP;
    my %rec = (tag => $s{tag}, os => $s{os}, release => $s{release}, host => $s{host}, machine => 'x86_64',
               cpu_model => 'Synthetic CPU @ 2.0GHz', cpus => 2, memory_bytes => 25769803776,
               date => '2026-11-22T13:00:00Z', revision => 'fixture');
    $rec{vm} = $s{vm} if $s{vm};
    open my $j, '>', "$dir/system.json" or die "$dir/system.json: $!";
    print $j JSON::PP->new->canonical->pretty->encode(\%rec);
    close $j;
    open my $t, '>', "$dir/system.txt" or die "$dir/system.txt: $!";
    print $t "$_: " . (ref $rec{$_} ? JSON::PP->new->canonical->encode($rec{$_}) : $rec{$_}) . "\n" for sort keys %rec;
    close $t;
}

# Zip several series into rows [n, v1, v2, ...]; a series shorter than the
# first gives '-' for the missing values.
sub _zip {
    my @s = @_;
    return [ map { my $i = $_; [ $s[0][$i][0], map { $_->[$i] ? $_->[$i][1] : '-' } @s ] } 0 .. $#{ $s[0] } ];
}

# make_tree($dir, runs => 3, count => 1500): three tags under $dir,
#   linux-6.1-alpha: every fixture benchmark, completed;
#   freebsd-14.1-beta: socketbench stopped at a limit (EMFILE at n=1019),
#       and no forkbench-static (a missing benchmark);
#   netbsd-10.0-gamma: no mmapbench (missing), its socket() 300x slower
#       than the others (log-y and zoomed versions), inside a VM.
# Returns { tag => { graph_id => expected verdict class } } for the checks.
sub make_tree {
    my ($dir, %o) = @_;
    my $runs = $o{runs} // 3;
    my $count = $o{count} // 1500;
    my %expect;
    my %tags = (
        'linux-6.1-alpha'   => { os => 'Linux', release => '6.1.0-27-amd64', host => 'alpha' },
        'freebsd-14.1-beta' => { os => 'FreeBSD', release => '14.1-RELEASE', host => 'beta' },
        'netbsd-10.0-gamma' => { os => 'NetBSD', release => '10.0', host => 'gamma',
                                 vm => { accelerator => 'kvm', qemu_version => '7.2.0', cpus => 2, memory_mb => 4096 } },
    );
    for my $tag (sort keys %tags) {
        my $d = "$dir/$tag";
        write_system($d, tag => $tag, %{ $tags{$tag} });
        my %sys = (os => $tags{$tag}{os}, release => $tags{$tag}{release});
        for my $run (1 .. $runs) {
            my $seed = $run * 7919 + length $tag;
            # socketbench: socket() constant, bind() logarithmic
            my $sscale = $tag =~ /gamma/ ? 300 : 1;
            my $sc = $count;
            my $end = 'completed';
            if ($tag =~ /beta/) {
                $sc = 1019;
                $end = 'stopped: socket() at n=1019: EMFILE (RLIMIT_NOFILE=1024)';
            }
            write_result("$d/socketbench.$run.dat", %sys, bench => 'socketbench', columns => [qw(n socket_ns bind_ns)],
                         count => $count, end => $end,
                         rows => _zip(series('constant', $sc, seed => $seed, scale => $sscale),
                                      series('logarithmic', $sc, seed => $seed + 1)));
            # forkbench: fork() linear, cleanup constant
            write_result("$d/forkbench.$run.dat", %sys, bench => 'forkbench', columns => [qw(n fork_ns cleanup_ns)],
                         rows => _zip(series('linear', $count, seed => $seed + 2, scale => 50),
                                      series('constant', $count, seed => $seed + 3, scale => 10)));
            write_result("$d/forkbench-static.$run.dat", %sys, bench => 'forkbench-static',
                         columns => [qw(n fork_ns cleanup_ns)],
                         rows => _zip(series('linear', $count, seed => $seed + 4, scale => 25),
                                      series('constant', $count, seed => $seed + 5, scale => 10)))
                unless $tag =~ /beta/;
            # mmapbench: mmap() quadratic, touch constant
            write_result("$d/mmapbench.$run.dat", %sys, bench => 'mmapbench', columns => [qw(n mmap_ns touch_ns)],
                         rows => _zip(series('quadratic', $count, seed => $seed + 6),
                                      series('constant', $count, seed => $seed + 7, scale => 0.2)))
                unless $tag =~ /gamma/;
        }
        $expect{$tag} = {
            socket => 'O(1)', bind => 'O(log n)', fork => 'O(n)', 'fork-cleanup' => 'O(1)',
            ($tag =~ /beta/ ? () : ('fork-static' => 'O(n)')),
            ($tag =~ /gamma/ ? () : (mmap => 'O(n^2)', touch => 'O(1)')),
        };
    }
    return \%expect;
}

1;
