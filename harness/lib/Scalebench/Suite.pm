package Scalebench::Suite;
# The registry of what the suite is: the one place that knows the benchmarks,
# what they need prepared, the resources they use, and what each OS has and
# lets a user tune. The runner (Scalebench::Runner, behind harness/run), the
# limit warnings, --tune, the system record (Scalebench::System) and the VM
# runner (Scalebench::VM, harness/vm) all read it; none of them names a
# benchmark. Adding a benchmark is one entry in suite() below. Core perl only.
#
#   use Scalebench::Suite qw(suite data best_backend preparation os_facts
#       tunables limit_sysctls load_suite_file select_suite fill_args);
#
# suite(os => OS) returns a list of hashrefs, in run order:
#
#   id          file stem of the results: results/<tag>/<id>.<run>.dat
#               (<bench>[-<variant>], lower case)
#   program     the program in bench/ (a path with a '/' is used as it is;
#               test suites use that)
#   args        arguments of a full run, at the sizes of the 2003 study
#   quick_args  arguments of a smoke-test run (harness/run --quick)
#   needs       preparations (see preparation() below), each "NAME" or
#               "NAME:PARAM": bigfile, tree, httpd:BACKEND. Their
#               placeholders ({bigfile}, {tree}, {url}) appear in the args.
#   uses        the resources a full run holds at its largest n, declared
#               here (never scraped from arguments): { descriptors => N
#               (in one process), processes => N, ports => N (local ports
#               bound or connected), mappings => N }; quick_uses the same
#               for --quick. The limit warnings compare them with the limits.
#   timeout     wall-clock seconds a full run may take before it is killed
#               (--quick runs: at most 120 s)
#   title       one line for people: what the graph shows
#   main_column the column the summary table gives the median of
#   columns     the columns the program prints (docs/format.md), for checks
#   requires    capabilities of the OS the entry needs (os_facts()->{has});
#               where one is missing the entry is kept but carries
#               not_applicable => REASON: the runner records it as not
#               applicable, never as failed.
#
# Variants that exist only on one OS (the epoll ones on Linux) are left out
# of other OSes' suites altogether.
use strict;
use warnings;
use Exporter 'import';
our @EXPORT_OK = qw(suite data best_backend preparation preparations os_facts tunables
    limit_sysctls load_suite_file select_suite fill_args placeholders program_path
    parse_need check_entry);

# ---- per-OS facts ------------------------------------------------------------
# has:      capabilities (name => 1, or name => 0 with the reason in why)
# backends: httpd event backends, best first
# sysctls:  the limits the system record reports, by what they limit
# tunables: what --tune raises, in order: { name, for, want } (want: a number,
#           or "LO HI" for a port range, compared by its width)
my %OS = (
    linux => {
        has => { static_link => 1, epoll => 1, epoll_exclusive => 1, kqueue => 0 },
        why => { kqueue => 'Linux has no kqueue' },
        backends => [qw(epoll poll)],
        sysctls => { pid_max => 'kernel.pid_max', max_map_count => 'vm.max_map_count',
            somaxconn => 'net.core.somaxconn', file_max => 'fs.file-max',
            files_per_proc_max => 'fs.nr_open', port_range => ['net.ipv4.ip_local_port_range'] },
        tunables => [
            { name => 'kernel.pid_max',     for => 'processes',       want => 4194304 },
            { name => 'vm.max_map_count',   for => 'mappings',        want => 262144 },
            { name => 'net.core.somaxconn', for => 'listen backlog',  want => 65535 },
            { name => 'fs.file-max',        for => 'descriptors',     want => 1048576 },
            { name => 'net.ipv4.ip_local_port_range', for => 'ports', want => '1024 65535' },
        ],
    },
    freebsd => {
        has => { static_link => 1, kqueue => 1 },
        backends => [qw(kqueue poll)],
        sysctls => { pid_max => 'kern.maxproc', somaxconn => 'kern.ipc.somaxconn',
            file_max => 'kern.maxfiles', files_per_proc_max => 'kern.maxfilesperproc',
            port_range => [qw(net.inet.ip.portrange.first net.inet.ip.portrange.last)] },
        tunables => [
            { name => 'kern.ipc.somaxconn',   for => 'listen backlog', want => 65535 },
            { name => 'kern.maxfiles',        for => 'descriptors',    want => 1048576 },
            { name => 'kern.maxfilesperproc', for => 'descriptors',    want => 1048576 },
            { name => 'net.inet.ip.portrange.first', for => 'ports',   want => 1024 },
        ],
    },
    openbsd => {
        has => { static_link => 1, kqueue => 1 },
        backends => [qw(kqueue poll)],
        sysctls => { pid_max => 'kern.maxproc', somaxconn => 'kern.somaxconn',
            file_max => 'kern.maxfiles',
            port_range => [qw(net.inet.ip.porthifirst net.inet.ip.porthilast)] },
        tunables => [
            { name => 'kern.maxproc',   for => 'processes',      want => 32768 },
            { name => 'kern.somaxconn', for => 'listen backlog', want => 65535 },
            { name => 'kern.maxfiles',  for => 'descriptors',    want => 1048576 },
            { name => 'net.inet.ip.porthifirst', for => 'ports', want => 1024 },
        ],
    },
    netbsd => {
        has => { static_link => 1, kqueue => 1 },
        backends => [qw(kqueue poll)],
        sysctls => { pid_max => 'kern.maxproc', somaxconn => 'kern.somaxconn',
            file_max => 'kern.maxfiles',
            port_range => [qw(net.inet.ip.anonportmin net.inet.ip.anonportmax)] },
        tunables => [
            { name => 'kern.maxproc',   for => 'processes',      want => 32768 },
            { name => 'kern.somaxconn', for => 'listen backlog', want => 65535 },
            { name => 'kern.maxfiles',  for => 'descriptors',    want => 1048576 },
            { name => 'net.inet.ip.anonportmin', for => 'ports', want => 1024 },
        ],
    },
    darwin => {
        has => { static_link => 0, kqueue => 1 },
        why => { static_link => 'macOS has no static linking (Apple ships no static libc or crt0.o)' },
        backends => [qw(kqueue poll)],
        sysctls => { pid_max => 'kern.maxproc', somaxconn => 'kern.ipc.somaxconn',
            file_max => 'kern.maxfiles', files_per_proc_max => 'kern.maxfilesperproc',
            port_range => [qw(net.inet.ip.portrange.first net.inet.ip.portrange.last)] },
        tunables => [
            { name => 'kern.maxproc',         for => 'processes',      want => 10000 },
            { name => 'kern.ipc.somaxconn',   for => 'listen backlog', want => 65535 },
            { name => 'kern.maxfiles',        for => 'descriptors',    want => 1048576 },
            { name => 'kern.maxfilesperproc', for => 'descriptors',    want => 1048576 },
            { name => 'net.inet.ip.portrange.first', for => 'ports',   want => 1024 },
        ],
    },
);
$OS{dragonfly} = { %{ $OS{freebsd} } };

# os_facts(OS) -> the hash above for OS ($^O by default); an OS not in the
# table gets poll, static linking, and every sysctl name tried in turn.
sub os_facts {
    my ($os) = @_;
    $os //= $^O;
    return $OS{$os} if $OS{$os};
    my %names;
    for my $o (values %OS) {
        for my $k (keys %{ $o->{sysctls} }) {
            next if $k eq 'port_range';
            push @{ $names{$k} }, $o->{sysctls}{$k} unless grep { $_ eq $o->{sysctls}{$k} } @{ $names{$k} };
        }
    }
    return { has => { static_link => 1 }, backends => ['poll'], sysctls => \%names, tunables => [],
             port_ranges => [ map { $_->{sysctls}{port_range} } @OS{qw(linux freebsd openbsd netbsd)} ] };
}

sub best_backend { return os_facts($_[0])->{backends}[0] }

# tunables(OS) -> list of { name, for, want }
sub tunables { return @{ os_facts($_[0])->{tunables} } }

# limit_sysctls(OS) -> { what => NAME or [NAMES tried in turn], port_range => [NAME] or [FIRST, LAST] }
sub limit_sysctls { return os_facts($_[0])->{sysctls} }

# ---- preparations ------------------------------------------------------------
# What the runner makes before a benchmark runs. Every preparation has a
# kind the runner (and the VM's guest script) knows how to make:
#   file    a file of non-zero bytes (real blocks), read once so that it is
#           in the page cache; size from data()->{bigfile_bytes}
#   tree    a directory made by PROGRAM -c data()->{tree_files} DIR, every
#           file read once
#   docroot a directory with index.html of data()->{http_bytes} bytes
#   server  PROGRAM ARGS started fresh for each run, in its own process
#           group; it prints "listening ADDR PORT ..." on stdout, and must
#           then answer GET /index.html with 200 within the deadlines; its
#           placeholder is http://ADDR:PORT/index.html. {param} in ARGS is
#           the need's parameter (httpd:epoll -> epoll), {docroot} the
#           docroot preparation.
# placeholder: the word in a benchmark's args the runner replaces.
my %PREP = (
    bigfile => { kind => 'file', placeholder => 'bigfile',
                 what => 'the big file mmapbench maps every other page of' },
    tree    => { kind => 'tree', placeholder => 'tree', program => 'mktestdata',
                 what => 'the small-file tree' },
    docroot => { kind => 'docroot', what => "the HTTP server's docroot" },
    httpd   => { kind => 'server', placeholder => 'url', program => 'httpd', needs => ['docroot'],
                 # -t 0: no idle timeout, so the benchmark's own idle
                 # connections stay open however long the run takes
                 args => [ '-e', '{param}', '-l', '127.0.0.1', '-p', 0, '-t', 0, '-r', '{docroot}' ],
                 what => 'tools/httpd on a free loopback port' },
);
my %EXTRA_PREP;    # added by a suite file

sub preparation { my ($name) = @_; return $EXTRA_PREP{$name} // $PREP{$name} }
sub preparations { return (%PREP, %EXTRA_PREP) }

# "httpd:epoll" -> ('httpd', 'epoll'); "tree" -> ('tree', undef)
sub parse_need { my ($n) = @_; return $n =~ /^([a-z0-9_-]+)(?::(\S+))?$/ ? ($1, $2) : () }

# The placeholders a list of needs fills: { placeholder => need }.
sub placeholders {
    my (@needs) = @_;
    my %p;
    for my $n (@needs) {
        my ($name) = parse_need($n);
        my $pr = defined $name ? preparation($name) : undef;
        $p{ $pr->{placeholder} } = $n if $pr && defined $pr->{placeholder};
    }
    return \%p;
}

# fill_args(\@args, \%values, $quote) -> the args with every {name} that
# has a value replaced (once; values are not scanned again). $quote, when
# given, is applied to the literal parts (the VM's shell quoting), and the
# values are taken as they are.
sub fill_args {
    my ($args, $values, $quote) = @_;
    my @out;
    for my $a (@$args) {
        my @parts = split /(\{[a-z_]+\})/, $a;
        push @out, join '', map {
            /^\{([a-z_]+)\}$/ && defined $values->{$1} ? $values->{$1}
                : $quote ? (length $_ ? $quote->($_) : '') : $_
        } @parts;
    }
    return @out;
}

# program_path(ROOT, NAME, KIND): a benchmark's program is ROOT/bench/NAME, a
# preparation's ROOT/tools/NAME; a path with a '/' is taken as it is.
sub program_path {
    my ($root, $name, $kind) = @_;
    return $name if $name =~ m{/};
    return "$root/" . (($kind // 'bench') eq 'tool' ? 'tools' : 'bench') . "/$name";
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

# ---- the benchmarks ----------------------------------------------------------
sub suite {
    my (%o) = @_;
    my $os = $o{os} // $^O;
    my $f = os_facts($os);
    my $full = data(0);
    my $quick = data(1);
    my @s;

    # socket() and bind(): the first two graphs of the study, 10000 sockets.
    for my $v ([ 'socketbench', [], 'IPv4' ], [ 'socketbench-ipv6', ['-6'], 'IPv6' ]) {
        push @s, { id => $v->[0], program => 'socketbench',
            args => [ '-c', 10000, @{ $v->[1] } ], quick_args => [ '-c', 500, @{ $v->[1] } ], needs => [],
            uses => { descriptors => 10000, ports => 10000 }, quick_uses => { descriptors => 500, ports => 500 },
            timeout => 300, title => "socket() and bind() latency, $v->[2]",
            main_column => 'socket_ns', columns => 'n socket_ns bind_ns' };
    }

    # fork() with n children alive, dynamically and statically linked.
    for my $v ([ 'forkbench', 'dynamically linked', [] ], [ 'forkbench-static', 'statically linked', ['static_link'] ]) {
        push @s, { id => $v->[0], program => $v->[0], requires => $v->[2],
            args => [ '-c', 10000 ], quick_args => [ '-c', 200 ], needs => [],
            uses => { processes => 10000 }, quick_uses => { processes => 200 },
            timeout => 600, title => "fork() latency, $v->[1]",
            main_column => 'fork_ns', columns => 'n fork_ns cleanup_ns' };
    }

    # mmap() of every other page of a 200 MB file, then touching each page.
    push @s, { id => 'mmapbench', program => 'mmapbench',
        args => [ '-s', $full->{bigfile_size}, '{bigfile}' ],
        quick_args => [ '-c', 500, '-s', $quick->{bigfile_size}, '{bigfile}' ],
        needs => ['bigfile'], timeout => 600,
        uses => { mappings => int($full->{bigfile_bytes} / 8192) }, quick_uses => { mappings => 500 },
        title => 'mmap() and first touch of a page of a 200 MB file',
        main_column => 'mmap_ns', columns => 'n mmap_ns touch_ns' };

    # open()+mmap()+touch of many small files (the Oct 2003 addendum).
    push @s, { id => 'manymapbench', program => 'manymapbench',
        args => [ '-c', $full->{tree_files}, '{tree}' ],
        quick_args => [ '-c', $quick->{tree_files}, '{tree}' ],
        needs => ['tree'], timeout => 600,
        uses => { descriptors => $full->{tree_files}, mappings => $full->{tree_files} },
        quick_uses => { descriptors => $quick->{tree_files}, mappings => $quick->{tree_files} },
        title => 'open(), mmap() and touch of 10000 small files',
        main_column => 'mmap_ns', columns => 'n open_ns mmap_ns touch_ns' };

    # connect and HTTP request latency with n connections open, against
    # httpd on the best event backend and on poll(). The client's
    # descriptors past its limit go to keeper processes.
    my @be = @{ $f->{backends} };
    for my $be (@be) {
        push @s, { id => "httpbench-$be", program => 'httpbench',
            args => [ '-c', 10000, '{url}' ], quick_args => [ '-c', 300, '{url}' ],
            needs => ["httpd:$be"], timeout => 900,
            uses => { ports => 10000 }, quick_uses => { ports => 300 },
            title => "connect() and HTTP request latency, httpd on $be",
            main_column => 'request_ns',
            columns => 'n connect_ns sample_connect_ns request_ns' };
    }

    # accept() with n connections established (the OpenBSD pcblookup study).
    push @s, { id => 'acceptbench', program => 'acceptbench',
        args => [], quick_args => [ '-c', 300 ], needs => [], timeout => 600,
        uses => { ports => 10000 }, quick_uses => { ports => 300 },
        title => 'accept() latency with n connections established',
        main_column => 'accept_ns', columns => 'n accept_ns' };

    # select/poll/epoll/kqueue with n descriptors watched (the c10k question).
    push @s, { id => 'pollbench', program => 'pollbench',
        args => [], quick_args => [ '-n', 500, '-r', 3 ], needs => [], timeout => 600,
        uses => { descriptors => 10000 }, quick_uses => { descriptors => 500 },
        title => 'readiness notification latency with n descriptors watched',
        main_column => 'poll_ns', columns => undef };    # one column per mechanism

    # open() of the lowest free descriptor and O_APPEND writes with n open.
    push @s, { id => 'fdbench', program => 'fdbench',
        args => [ '-c', 100000 ], quick_args => [ '-c', 500 ], needs => [], timeout => 600,
        uses => { descriptors => 100000 }, quick_uses => { descriptors => 500 },
        title => 'open() of the lowest free descriptor (a hole at n) and with no hole, n open',
        main_column => 'reopen_ns', columns => 'n reopen_ns append_ns' };

    # Thundering herd: how many of W waiters wake for one connection.
    for my $m ([ 'accept', [] ], [ 'epoll', ['epoll'] ], [ 'epoll-exclusive', ['epoll_exclusive'] ],
               [ 'reuseport', [] ]) {
        next if grep { !$f->{has}{$_} } @{ $m->[1] };    # a variant this OS does not have
        push @s, { id => "herdbench-$m->[0]", program => 'herdbench',
            args => [ '-m', $m->[0] ], quick_args => [ '-m', $m->[0], '-w', 8, '-r', 5 ],
            needs => [], timeout => 600,
            uses => { processes => 1000 }, quick_uses => { processes => 8 },
            title => "thundering herd: waiters woken per connection ($m->[0])",
            main_column => 'wakeups', columns => 'n wakeups latency_ns' };
    }

    # malloc/free throughput with T threads or processes.
    push @s, { id => 'mallocbench', program => 'mallocbench',
        args => [], quick_args => [ '-t', 2, '-n', 10000 ], needs => [], timeout => 600,
        uses => {}, quick_uses => {},
        title => 'malloc()+free() time per operation with T threads or processes',
        main_column => 'threads_ns',
        columns => 'n threads_ns processes_ns' };

    return map { check_entry($_, $os) } @s;
}

# check_entry(ENTRY, OS) -> ENTRY with defaults filled in and
# not_applicable set where a capability it requires is missing; dies with
# one line naming what is wrong.
sub check_entry {
    my ($b, $os) = @_;
    die "suite entry without id or program\n" unless ref $b eq 'HASH' && $b->{id} && $b->{program};
    die "suite id '$b->{id}' is not [a-z0-9._-]+\n" unless $b->{id} =~ /^[a-z0-9._-]+$/;
    $b->{args} //= [];
    $b->{quick_args} //= $b->{args};
    $b->{needs} //= [];
    $b->{uses} //= {};
    $b->{quick_uses} //= $b->{uses};
    $b->{timeout} //= 600;
    for my $k (qw(args quick_args needs requires)) {
        die "suite entry $b->{id}: $k is not a list\n" if defined $b->{$k} && ref $b->{$k} ne 'ARRAY';
    }
    for my $n (@{ $b->{needs} }) {
        my ($name) = parse_need($n);
        die "suite entry $b->{id}: unknown preparation '$n'\n" unless defined $name && preparation($name);
    }
    my $f = os_facts($os);
    for my $c (@{ $b->{requires} // [] }) {
        next if $f->{has}{$c};
        $b->{not_applicable} = $f->{why}{$c} // "this OS has no $c";
        last;
    }
    return $b;
}

# load_suite_file(FILE, OS) -> list of entries. FILE is perl returning a
# list of entries (as suite() does), or an arrayref of them, or a hashref
# { benchmarks => [...], preparations => { NAME => {...} } } that also adds
# preparations (a test's fake server). Dies with one line.
sub load_suite_file {
    my ($file, $os) = @_;
    -e $file or die "cannot read suite file $file: No such file or directory\n";
    -f _ && -r _ or die "cannot read suite file $file: not a readable file\n";
    my @s = do $file;
    if ($@) { my $e = $@ =~ s/\s+/ /gr; $e =~ s/ \z//; die "suite file $file: $e\n" }
    die "cannot read suite file $file: $!\n" if !@s && $!;
    @s = @{ $s[0] } if @s == 1 && ref $s[0] eq 'ARRAY';
    if (@s == 1 && ref $s[0] eq 'HASH' && exists $s[0]{benchmarks}) {
        my $h = $s[0];
        for my $p (keys %{ $h->{preparations} // {} }) {
            my $d = $h->{preparations}{$p};
            die "suite file $file: preparation '$p' has no kind of file, tree, docroot or server\n"
                unless ref $d eq 'HASH' && ($d->{kind} // '') =~ /^(?:file|tree|docroot|server)$/;
            $EXTRA_PREP{$p} = $d;
        }
        @s = @{ $h->{benchmarks} // [] };
    }
    die "suite file $file returned no benchmarks\n" unless @s;
    my @out;
    for my $b (@s) {
        my $e = eval { check_entry($b, $os) };
        die "suite file $file: $@" unless $e;
        push @out, $e;
    }
    return @out;
}

# select_suite(\@suite, only => [ 'a,b', ... ], skip => [...]) -> entries,
# in suite order. A word is an id or a program name (all its variants).
# Dies "no benchmark 'x' in the suite" for an unknown word.
sub select_suite {
    my ($suite, %o) = @_;
    my @sel = map { split /,/ } @{ $o{only} // [] };
    my @skip = map { split /,/ } @{ $o{skip} // [] };
    my %known;
    for my $b (@$suite) {
        $known{ $b->{id} } = 1;
        (my $p = $b->{program}) =~ s{.*/}{};
        $known{$p} = 1;
    }
    for my $w (@sel, @skip) { die "no benchmark '$w' in the suite (see --list)\n" unless $known{$w} }
    my $match = sub {
        my ($b, @w) = @_;
        (my $p = $b->{program}) =~ s{.*/}{};
        return grep { $_ eq $b->{id} || $_ eq $p } @w;
    };
    my @s = @$suite;
    @s = grep { $match->($_, @sel) } @s if @sel;
    return grep { !$match->($_, @skip) } @s;
}

1;
