package Scalebench::Suite;
# The suite: which benchmarks harness/run runs, in which order, with which
# arguments. This file is the one place that says so; harness/run, the VM
# runner and the plots read it. Core perl only.
#
#   use Scalebench::Suite qw(suite data best_backend);
#   for my $b (suite()) { ... }
#
# suite() returns a list of hashrefs, in run order:
#
#   id          file stem of the results: results/<tag>/<id>.<run>.dat
#               (<bench>[-<variant>], lower case)
#   program     the program in bench/ (a path with a '/' is used as it is;
#               test suites use that)
#   args        arguments of a full run, at the sizes of the 2003 study
#   quick_args  arguments of a smoke-test run (harness/run --quick)
#   needs       what the runner prepares before the run:
#                 bigfile        the big file ({bigfile}), data()->{bigfile_bytes}
#                 tree           the small-file tree made by tools/mktestdata ({tree})
#                 httpd:BACKEND  tools/httpd -e BACKEND on a free loopback port,
#                                serving data()->{http_file}; {url} is its URL
#   timeout     wall-clock seconds a full run may take before it is killed
#               (--quick runs: at most 120 s)
#   title       one line for people: what the graph shows
#   main_column the column the summary table gives the median of
#   columns     the columns the program prints (docs/format.md), for checks
#
# args may contain the placeholders {bigfile}, {tree} and {url}; the runner
# fills them in. Entries that cannot run on this OS (epoll outside Linux)
# are left out here, so every entry suite() returns is expected to run.
use strict;
use warnings;
use Exporter 'import';
our @EXPORT_OK = qw(suite data best_backend);

# The event backend httpd uses for the "best backend" run: epoll on Linux,
# kqueue on the BSDs and macOS, poll elsewhere.
sub best_backend {
    my ($os) = @_;
    $os //= $^O;
    return 'epoll'  if $os eq 'linux';
    return 'kqueue' if $os =~ /^(?:freebsd|openbsd|netbsd|dragonfly|darwin)$/;
    return 'poll';
}

# Sizes of the data the runner prepares, full and --quick.
#   bigfile_bytes  the file mmapbench maps every other page of (study: 200 MB)
#   tree_files     files in the mktestdata tree (study: 10000)
#   http_bytes     size of the file httpd serves (small: the study measured
#                  connection and request latency, not throughput)
sub data {
    my ($quick) = @_;
    return $quick
        ? { bigfile_bytes => 16 * 1024 * 1024,  bigfile_size => '16M',  tree_files => 500,   http_bytes => 100 }
        : { bigfile_bytes => 200 * 1024 * 1024, bigfile_size => '200M', tree_files => 10000, http_bytes => 100 };
}

sub suite {
    my (%o) = @_;
    my $os = $o{os} // $^O;
    my $best = best_backend($os);
    my $linux = $os eq 'linux';
    my $full = data(0);
    my $quick = data(1);
    my @s;

    # socket() and bind(): the first two graphs of the study, 10000 sockets.
    push @s, { id => 'socketbench', program => 'socketbench',
        args => [ '-c', 10000 ], quick_args => [ '-c', 500 ], needs => [],
        timeout => 300, title => 'socket() and bind() latency, IPv4',
        main_column => 'socket_ns', columns => 'n socket_ns bind_ns' };
    push @s, { id => 'socketbench-ipv6', program => 'socketbench',
        args => [ '-c', 10000, '-6' ], quick_args => [ '-c', 500, '-6' ], needs => [],
        timeout => 300, title => 'socket() and bind() latency, IPv6',
        main_column => 'socket_ns', columns => 'n socket_ns bind_ns' };

    # fork() with n children alive, dynamically and statically linked.
    for my $v ([ 'forkbench', 'dynamically linked' ], [ 'forkbench-static', 'statically linked' ]) {
        push @s, { id => $v->[0], program => $v->[0],
            args => [ '-c', 10000 ], quick_args => [ '-c', 200 ], needs => [],
            timeout => 600, title => "fork() latency, $v->[1]",
            main_column => 'fork_ns', columns => 'n fork_ns cleanup_ns' };
    }

    # mmap() of every other page of a 200 MB file, then touching each page.
    push @s, { id => 'mmapbench', program => 'mmapbench',
        args => [ '-s', $full->{bigfile_size}, '{bigfile}' ],
        quick_args => [ '-c', 500, '-s', $quick->{bigfile_size}, '{bigfile}' ],
        needs => ['bigfile'], timeout => 600,
        title => 'mmap() and first touch of a page of a 200 MB file',
        main_column => 'mmap_ns', columns => 'n mmap_ns touch_ns' };

    # open()+mmap()+touch of many small files (the Oct 2003 addendum).
    push @s, { id => 'manymapbench', program => 'manymapbench',
        args => [ '-c', $full->{tree_files}, '{tree}' ],
        quick_args => [ '-c', $quick->{tree_files}, '{tree}' ],
        needs => ['tree'], timeout => 600,
        title => 'open(), mmap() and touch of 10000 small files',
        main_column => 'mmap_ns', columns => 'n open_ns mmap_ns touch_ns' };

    # connect and HTTP request latency with n connections open, against
    # httpd on the best event backend and on poll().
    for my $be ($best eq 'poll' ? ('poll') : ($best, 'poll')) {
        push @s, { id => "httpbench-$be", program => 'httpbench',
            args => [ '-c', 10000, '{url}' ], quick_args => [ '-c', 300, '{url}' ],
            needs => ["httpd:$be"], timeout => 900,
            title => "connect() and HTTP request latency, httpd on $be",
            main_column => 'connect_ns',
            columns => 'n connect_ns sample_connect_ns request_ns' };
    }

    # accept() with n connections established (the OpenBSD pcblookup study).
    push @s, { id => 'acceptbench', program => 'acceptbench',
        args => [], quick_args => [ '-c', 300 ], needs => [], timeout => 600,
        title => 'accept() latency with n connections established',
        main_column => 'accept_ns', columns => 'n accept_ns' };

    # select/poll/epoll/kqueue with n descriptors watched (the c10k question).
    push @s, { id => 'pollbench', program => 'pollbench',
        args => [], quick_args => [ '-n', 500, '-r', 3 ], needs => [], timeout => 600,
        title => 'readiness notification latency with n descriptors watched',
        main_column => 'poll_ns', columns => undef };    # one column per mechanism

    # open() of the lowest free descriptor and O_APPEND writes with n open.
    push @s, { id => 'fdbench', program => 'fdbench',
        args => [ '-c', 100000 ], quick_args => [ '-c', 500 ], needs => [], timeout => 600,
        title => 'open() of the lowest free descriptor (a hole at n) and with no hole, n open',
        main_column => 'reopen_ns', columns => 'n reopen_ns append_ns' };

    # Thundering herd: how many of W waiters wake for one connection.
    my @herd = ('accept', ($linux ? ('epoll', 'epoll-exclusive') : ()), 'reuseport');
    for my $m (@herd) {
        push @s, { id => "herdbench-$m", program => 'herdbench',
            args => [ '-m', $m ], quick_args => [ '-m', $m, '-w', 8, '-r', 5 ],
            needs => [], timeout => 600,
            title => "thundering herd: waiters woken per connection ($m)",
            main_column => 'wakeups', columns => 'n wakeups latency_ns' };
    }

    # malloc/free throughput with T threads or processes.
    push @s, { id => 'mallocbench', program => 'mallocbench',
        args => [], quick_args => [ '-t', 2, '-n', 10000 ], needs => [], timeout => 600,
        title => 'malloc()+free() time per operation with T threads or processes',
        main_column => 'threads_ns',
        columns => 'n threads_ns processes_ns' };

    return @s;
}

1;
