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
our @EXPORT_OK = qw(law series write_result write_system make_tree suite_tree big_tree);

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
    print $fh "# rows: " . scalar(@$rows) . "\n";
    print $fh "# $_\n" for @{ $o{trailer} || [] };    # extra trailer lines, 'key: value'
    print $fh "# wall_s: 0.500\n# end: " . ($o{end} // 'completed') . "\n";
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
    $rec{$_} = $s{$_} for grep { exists $s{$_} } qw(label quick pin);
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

# A fast writer for large synthetic files: $row->($n) returns the values of
# row n (undef: '-'), rows for n in @$ns.
sub _write_big {
    my ($path, %o) = @_;
    my @cols = @{ $o{columns} };
    open my $fh, '>', $path or die "$path: $!";
    print $fh "# scalebench: 1\n# bench: $o{bench}\n# args: bench/$o{bench} (synthetic)\n";
    print $fh "# columns: @cols\n# units: " . join(' ', map { $_ eq 'n' || !/_ns$/ ? 'count' : 'ns' } @cols) . "\n";
    print $fh "# clock: clock_gettime(CLOCK_MONOTONIC) (synthetic test data)\n# clock_hz: 1000000000\n";
    print $fh "# stamp_overhead_ns: 20.0\n# os: $o{os}\n# release: $o{release}\n# machine: x86_64\n";
    print $fh "# date: 2026-11-22T13:00:00Z\n# count: " . scalar(@{ $o{ns} }) . "\n";
    my $rows = 0;
    my $buf = '';
    for my $n (@{ $o{ns} }) {
        $buf .= join(' ', $n, map { defined $_ ? sprintf('%.1f', $_) : '-' } $o{row}->($n)) . "\n";
        $rows++;
        if (length $buf > 1 << 16) { print $fh $buf; $buf = '' }
    }
    print $fh $buf, "# rows: $rows\n# wall_s: 1.000\n# end: " . ($o{end} // 'completed') . "\n";
    close $fh or die "$path: $!";
}

# suite_tree($dir, tag => T, runs => 5, os => 'Linux', speed => 1, quick => 0, label => TEXT)
# One tag with the file set and the sizes of a full `make run` on Linux
# (socketbench[-ipv6], forkbench[-static], mmapbench, manymapbench,
# httpbench-epoll/-poll, acceptbench, pollbench, fdbench, herdbench-*,
# mallocbench), values from simple laws with noise; speed scales them
# (2: twice as slow). quick: the --quick sizes (about 1/20).
sub suite_tree {
    my ($dir, %o) = @_;
    require JSON::PP;
    my $tag = $o{tag};
    my $d = "$dir/$tag";
    my $sp = $o{speed} // 1;
    my $q = $o{quick} ? 20 : 1;
    my %sys = (os => $o{os} // 'Linux', release => $o{release} // '6.1.0-27-amd64');
    write_system($d, tag => $tag, %sys, host => $o{host} // 'alpha',
                 (defined $o{label} ? (label => $o{label}) : ()), ($o{quick} ? (quick => JSON::PP::true()) : ()));
    my $r = _rng($o{seed} // length $tag);
    my $nz = sub { $_[0] * $sp * (0.85 + 0.3 * $r->()) * ($r->() < 0.01 ? 5 + 20 * $r->() : 1) };
    my $c = int(10000 / $q);
    my @lin = (0 .. $c - 1);
    my @grid = grep { $_ <= 10000 / $q } map { my $e = $_; map { int($_ * 10**$e + 0.5) } 1, 1.26, 1.58, 2, 2.51, 3.16, 3.98, 5.01, 6.31, 7.94 } 0 .. 4;
    my %seen;
    @grid = grep { !$seen{$_}++ } @grid;
    my @wgrid = grep { $_ <= 1000 / $q } 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000;
    for my $run (1 .. ($o{runs} // 5)) {
        my %w = (%sys);
        _write_big("$d/socketbench$_.$run.dat", %w, bench => 'socketbench', columns => [qw(n socket_ns bind_ns)], ns => \@lin,
                   row => sub { ($nz->(1500), $nz->(900 + 0.05 * $_[0])) }) for '', '-ipv6';
        _write_big("$d/$_->[0].$run.dat", %w, bench => $_->[0], columns => [qw(n fork_ns cleanup_ns)], ns => \@lin,
                   row => do { my $k = $_->[1]; sub { ($nz->($k * (100000 + 20 * $_[0])), $nz->(30000 + 2 * $_[0])) } })
            for [ 'forkbench', 1 ], [ 'forkbench-static', 0.6 ];
        _write_big("$d/mmapbench.$run.dat", %w, bench => 'mmapbench', columns => [qw(n mmap_ns touch_ns)],
                   ns => [ 0 .. int(25600 / $q) - 1 ], row => sub { ($nz->(1200), $nz->(400)) });
        _write_big("$d/manymapbench.$run.dat", %w, bench => 'manymapbench', columns => [qw(n open_ns mmap_ns touch_ns)],
                   ns => \@lin, row => sub { ($nz->(2500), $nz->(1300), $nz->(600)) });
        for my $be (qw(epoll poll)) {
            _write_big("$d/httpbench-$be.$run.dat", %w, bench => 'httpbench',
                       columns => [qw(n connect_ns sample_connect_ns request_ns)], ns => \@lin,
                       row => sub { ($nz->(20000), $_[0] % 100 ? undef : $nz->(21000),
                                     $nz->($be eq 'poll' ? 30000 + 4 * $_[0] : 30000)) });
        }
        _write_big("$d/acceptbench.$run.dat", %w, bench => 'acceptbench', columns => [qw(n accept_ns)], ns => \@lin,
                   row => sub { ($nz->(15000)) });
        _write_big("$d/pollbench.$run.dat", %w, bench => 'pollbench', columns => [qw(n select_ns poll_ns epoll_ns io_uring_ns)],
                   ns => [ map { ($_) x 100 } @grid ],
                   row => sub { ($_[0] <= 1020 ? $nz->(800 + 3 * $_[0]) : undef, $nz->(700 + 2.5 * $_[0]), $nz->(600), $nz->(900)) });
        _write_big("$d/fdbench.$run.dat", %w, bench => 'fdbench', columns => [qw(n reopen_ns append_ns)],
                   ns => [ 0 .. int(100000 / $q) - 1 ], row => sub { ($nz->(900), $nz->(800)) });
        for my $m (qw(accept epoll epoll-exclusive reuseport)) {
            _write_big("$d/herdbench-$m.$run.dat", %w, bench => 'herdbench', columns => [qw(n wakeups latency_ns)],
                       ns => [ map { ($_) x 20 } @wgrid ],
                       row => sub { ($m eq 'epoll' ? $_[0] : 1, $nz->($m eq 'epoll' ? 20000 + 50 * $_[0] : 20000)) });
        }
        _write_big("$d/mallocbench.$run.dat", %w, bench => 'mallocbench', columns => [qw(n threads_ns processes_ns)],
                   ns => [ map { ($_) x $_ } 1, 2, 3, 4, 6, 8 ], row => sub { ($nz->(40 * ($_[0] > 2 ? $_[0] / 2 : 1)), $nz->(40)) });
    }
    return $d;
}

# big_tree($dir, runs => 5, rows => 1_000_000, tag => 'big'): one tag, one
# forkbench of `rows` rows per run (fork_ns linear, cleanup_ns constant):
# the renderer's scale test.
sub big_tree {
    my ($dir, %o) = @_;
    my $tag = $o{tag} // 'big';
    my $d = "$dir/$tag";
    write_system($d, tag => $tag, os => 'Linux', release => '6.1', host => 'big');
    my $r = _rng(7);
    for my $run (1 .. ($o{runs} // 5)) {
        _write_big("$d/forkbench.$run.dat", os => 'Linux', release => '6.1', bench => 'forkbench',
                   columns => [qw(n fork_ns cleanup_ns)], ns => [ 0 .. ($o{rows} // 1e6) - 1 ],
                   row => sub { ((100000 + 0.1 * $_[0]) * (0.85 + 0.3 * $r->()), 30000 * (0.85 + 0.3 * $r->())) });
    }
    return $d;
}

1;
