#!/usr/bin/env perl
# The fault suite, limits: every program under a low `ulimit -n`, `ulimit -v`
# and (as a throwaway unprivileged user) `ulimit -u`. Each case must end the
# way docs/format.md says: a clean named stop (exit 3, `# end: stopped: CALL
# at n=N: ERRNO (LIMIT=value)`), a completed run where the limit leaves room,
# or (httpd, mktestdata: not benchmarks) a one-line error naming the limit --
# never a crash, a hang, a lost result, a process or a file left behind.
# Includes the reproductions of issue 14 (items 1, 4, 5, 6, 11).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use SBTest;
use SBFaults;
use Test::More;

my @progs = qw(socketbench fdbench acceptbench forkbench herdbench mallocbench pollbench mmapbench
               manymapbench httpbench);
for my $p (@progs, 'httpd', 'mktestdata') {
    -x bin($p) or plan skip_all => bin($p) . " not built";
}

# Fixtures: a 64 MiB file for mmapbench, a small-file tree for manymapbench,
# an httpd for httpbench.
sub make_file {
    my ($path, $bytes) = @_;
    open my $f, '>:raw', $path or die "$path: $!";
    my $chunk = ('x' x 4095 . "\n") x 256;    # 1 MiB
    print $f substr($chunk, 0, $bytes < length $chunk ? $bytes : length $chunk) for 1 .. int(($bytes + (1 << 20) - 1) / (1 << 20));
    close $f or die;
}
sub tree {
    my ($count) = @_;
    return sub {
        my ($work) = @_;
        system(bin('mktestdata'), '-c', $count, "$work/tree") == 0 or die "mktestdata failed";
    };
}
my $docroot = File::Temp::tempdir(CLEANUP => 1);
chmod 0755, $docroot or die;
{ open my $f, '>', "$docroot/small.txt" or die; print $f "small\n"; close $f }
my $srv = start_server([ bin('httpd'), '-r', $docroot ], ready => qr/^listening /);
my ($port) = $srv->{line} =~ /^listening \S+ (\d+)/;
my $url = "http://127.0.0.1:$port/small.txt";

my $EMFILE = sub { my ($call, $n) = @_; qr/^stopped: \Q$call\E at n=\d+: EMFILE \(RLIMIT_NOFILE=$n\)/ };

# ---- ulimit -n ----
my @nofile = (
    [ 'socketbench', [ '-c', 100 ], 32, exit => 3, end => $EMFILE->('socket()', 32) ],
    [ 'fdbench', [ '-c', 100 ], 32, exit => 3, end => $EMFILE->('open()', 32) ],
    # issue 14 item 5: below 64 descriptors it used to fail in malloc();
    # keeper processes hold what does not fit, so the run completes
    [ 'acceptbench', [ '-c', 100 ], 32, exit => 0, end => qr/^completed$/, rows => 100 ],
    [ 'forkbench', [ '-c', 10 ], 5, exit => 3, end => $EMFILE->('pipe()', 5) ],
    [ 'herdbench', [ '-w', 2, '-r', 2 ], 4, exit => 3, end => qr/^stopped: \S+ at n=\d+: EMFILE \(RLIMIT_NOFILE=4\)/ ],
    [ 'mallocbench', [ '-t', 2, '-n', 1000 ], 4, exit => 0, end => qr/^completed$/ ],
    [ 'pollbench', [ '-n', 100, '-r', 2 ], 32, exit => 3, end => $EMFILE->('socket()', 32) ],
    [ 'mmapbench', [ '-c', 10, 'file' ], 4, exit => 0, end => qr/^completed$/, rows => 10,
      setup => sub { make_file("$_[0]/file", 1 << 20) }, keep => qr/^file$/ ],
    [ 'manymapbench', [ '-c', 200, 'tree' ], 32, exit => 3, end => $EMFILE->('openat()', 32), setup => tree(200),
      keep => qr/^tree/ ],
    [ 'httpbench', [ '-c', 100, '-i', 50, '-s', 2, $url ], 32, exit => 0, end => qr/^completed$/, rows => 104 ],
);
for my $c (@nofile) {
    my ($prog, $args, $n, %w) = @$c;
    my $r = fault_run([ bin($prog), @$args ], shell => "ulimit -n $n", setup => delete $w{setup},
        keep => delete $w{keep});
    expect_end("$prog @$args, ulimit -n $n", $r, %w);
}

# httpd cannot hold a single connection under ulimit -n 32 (it keeps 32
# descriptors spare for the files it sends): it refuses to start, naming the
# limit, instead of announcing room for 0 connections (issue 14 item 11).
{
    my $r = fault_run([ bin('httpd'), '-r', $docroot ], shell => 'ulimit -n 32', timeout => 20);
    expect_end('httpd, ulimit -n 32', $r, exit => 1, output => 0);
    unlike($r->{out}, qr/listening/, 'httpd, ulimit -n 32: never says it is listening');
    like($r->{err}, qr/RLIMIT_NOFILE=32\b/, 'httpd, ulimit -n 32: names RLIMIT_NOFILE and its value')
        or diag $r->{err};
    ok($r->{err} =~ /\A[^\n]+\n\z/, 'httpd, ulimit -n 32: one line') or diag $r->{err};
}
# mktestdata: not a benchmark; a one-line error naming EMFILE, exit 1, and no
# marker (the tree is not complete)
{
    my $r = fault_run([ bin('mktestdata'), '-c', 300, 'tree' ], shell => 'ulimit -n 4', keep => qr/^tree/);
    expect_end('mktestdata, ulimit -n 4', $r, exit => 1, output => 0);
    like($r->{err}, qr/Too many open files|EMFILE/, 'mktestdata, ulimit -n 4: names the error') or diag $r->{err};
    ok(!-e "$r->{dir}/tree/.mktestdata", 'mktestdata, ulimit -n 4: no marker of a complete tree');
}

# ---- ulimit -v (address space) ----
SKIP: {
    skip 'a sanitizer build: ASan reserves terabytes of address space for its shadow memory, so no '
        . 'program of this build can start under ulimit -v', 1 if sanitized();
    my $AS = qr/RLIMIT_(?:AS|DATA)=\d+/;
    my @as = (
        # issue 14 item 1: pollbench wrote through a null pointer (SIGSEGV);
        # now its descriptors (40 MB) may fit, and the descriptor limit
        # stops it: either is a clean named stop
        [ 'pollbench', [ '-n', 10000000, '-r', 2 ], 100000,
          end => qr/^stopped: .* (?:ENOMEM \((?:RLIMIT_AS|RLIMIT_DATA)=\d+|EMFILE \(RLIMIT_NOFILE=\d+)/ ],
        [ 'pollbench', [ '-n', 10000000, '-r', 2 ], 30000 ],
        # item 4: the reservation of room for samples failed with no header,
        # no rows, no # end: line
        [ 'socketbench', [ '-c', 1000000 ], 8000 ],
        [ 'forkbench', [ '-c', 1000000 ], 8000 ],
        [ 'herdbench', [ '-w', 100000, '-r', 100000 ], 8000 ],
        [ 'httpbench', [ '-c', 1000000, $url ], 8000 ],
        [ 'fdbench', [ '-c', 100000000 ], 8000 ],
        [ 'acceptbench', [ '-c', 10000000 ], 8000 ],
        # item 6: mmap() out of address space is RLIMIT_AS, not vm.max_map_count
        [ 'mmapbench', [ '-c', 8192, 'file' ], 30000, setup => sub { make_file("$_[0]/file", 64 << 20) },
          keep => qr/^file$/, call => qr/mmap\(\)/ ],
        [ 'manymapbench', [ 'tree' ], 10000, setup => tree(3000), keep => qr/^tree/, call => qr/mmap\(\)/ ],
        # item 6: a thread that finds no room for its stack is RLIMIT_AS,
        # not RLIMIT_NPROC
        [ 'mallocbench', [ '-t', 16, '-n', 1000 ], 20000, call => qr/(?:pthread_create|malloc)\(\)/ ],
    );
    for my $c (@as) {
        my ($prog, $args, $kb, %o) = @$c;
        my $call = $o{call} // qr/.+?/;
        my $r = fault_run([ bin($prog), @$args ], shell => "ulimit -v $kb", setup => $o{setup}, keep => $o{keep});
        my $name = "$prog @$args, ulimit -v $kb";
        $name =~ s{http://\S+}{URL};
        expect_end($name, $r, exit => 3, end => $o{end} // qr/^stopped: $call .*\b(?:ENOMEM|EAGAIN) \($AS/);
        unlike($r->{err}, qr/out of memory for|failed: malloc/, "$name: no unnamed malloc() failure");
        unlike($r->{parsed}{end} // '', qr/max_map_count|RLIMIT_NPROC/, "$name: not misnamed");
    }
}

# ---- ulimit -u (processes), as a throwaway unprivileged user ----
SKIP: {
    my $u = throwaway_user();
    skip "RLIMIT_NPROC cases: $u", 1 unless ref $u;
    my $NPROC = sub { my ($call, $n) = @_; qr/^stopped: $call at n=\d+: EAGAIN \(RLIMIT_NPROC=$n\b/ };
    my @nproc = (
        [ 'forkbench', [ '-c', 100 ], 10, exit => 3, end => $NPROC->(qr/fork\(\)/, 10) ],
        [ 'herdbench', [ '-w', 100, '-r', 2 ], 10, exit => 3, end => $NPROC->(qr/fork\(\)/, 10) ],
        [ 'mallocbench', [ '-t', 64, '-n', 1000 ], 10, exit => 3,
          end => $NPROC->(qr/(?:pthread_create|fork)\(\)/, 10) ],
        # item 6: a keeper process that cannot be forked is RLIMIT_NPROC, not
        # "a kernel resource"
        [ 'acceptbench', [ '-c', 200 ], '40/1', exit => 3,
          end => $NPROC->(qr/fork\(\) of a keeper process/, 1) ],
        [ 'httpbench', [ '-c', 200, '-i', 100, '-s', 1, $url ], '40/1', exit => 3,
          end => $NPROC->(qr/fork\(\) of a keeper process/, 1) ],
        # the rest start no process: they complete
        [ 'socketbench', [ '-c', 100 ], 1, exit => 0, end => qr/^completed$/, rows => 100 ],
        [ 'fdbench', [ '-c', 100 ], 1, exit => 0, end => qr/^completed$/, rows => 100 ],
        [ 'pollbench', [ '-n', 100, '-r', 2, '-m', 'poll' ], 1, exit => 0, end => qr/^completed$/ ],
        [ 'mmapbench', [ '-c', 10, '-s', '1M', 'file' ], 1, exit => 0, end => qr/^completed$/,
          rows => 10, keep => qr/^file$/ ],
        [ 'manymapbench', [ '-c', 100, 'tree' ], 1, exit => 0, end => qr/^completed$/,
          rows => 100, setup => tree(100), keep => qr/^tree/ ],
    );
    for my $c (@nproc) {
        my ($prog, $args, $lim, %w) = @$c;
        my ($nofile, $nproc) = $lim =~ m{^(\d+)/(\d+)$} ? ($1, $2) : (undef, $lim);
        my $r = fault_run([ bin($prog), @$args ], nproc => $nproc, user => $u, setup => delete $w{setup},
            shell => $nofile ? "ulimit -n $nofile" : undef, keep => delete $w{keep});
        my $name = "$prog @$args, " . ($nofile ? "ulimit -n $nofile, " : '') . "RLIMIT_NPROC $nproc, user $u->{name}";
        $name =~ s{http://\S+}{URL};
        expect_end($name, $r, %w);
    }
    # httpd -w 2: the worker it cannot fork is named
    my $r = fault_run([ bin('httpd'), '-w', 2, '-r', $docroot ], nproc => 1, user => $u, timeout => 20);
    expect_end('httpd -w 2, RLIMIT_NPROC 1', $r, exit => 1, output => 0);
    like($r->{err}, qr/fork\(\).*RLIMIT_NPROC=1\b/, 'httpd -w 2, RLIMIT_NPROC 1: names fork() and RLIMIT_NPROC')
        or diag $r->{err};
    my $m = fault_run([ bin('mktestdata'), '-c', 100, 'tree' ], nproc => 1, user => $u,
        keep => qr/^tree/);
    expect_end('mktestdata, RLIMIT_NPROC 1', $m, exit => 0, output => 0);
}

my $st = stop_server($srv);
is($st->{exit}, 0, 'the httpd the httpbench cases used ends cleanly');

done_testing;
