package Scalebench::System;
# The system record: what machine, OS, libc, compiler and limits a set of
# results was measured under. harness/run writes it as results/<tag>/system.txt
# (for people) and system.json (a flat JSON object, for programs).
# Core perl only; every probe may fail, and then says "unknown".
use strict;
use warnings;
use Exporter 'import';
use POSIX qw(uname strftime);
use JSON::PP;
use Scalebench::Suite qw(limit_sysctls);
use Scalebench::Cleanup qw(write_atomic io_error);
our @EXPORT_OK = qw(collect write_record default_tag safe_tag sysctl_read
    sysctl_write rlimit sysctl_name proc_sys port_range read_record capture revision limit_value);

sub _slurp {
    my ($f) = @_;
    open my $fh, '<', $f or return undef;
    local $/;
    my $t = <$fh>;
    close $fh;
    return undef unless defined $t;
    $t =~ s/\s+\z//;
    return $t;
}

# Output of a command (no shell), stderr dropped; undef when it fails.
sub capture {
    my (@cmd) = @_;
    my $pid = open(my $fh, '-|');
    return undef unless defined $pid;
    if ($pid == 0) {
        open STDERR, '>', '/dev/null';
        open STDIN, '<', '/dev/null';
        exec { $cmd[0] } @cmd or POSIX::_exit(127);
    }
    local $/;
    my $out = <$fh>;
    close $fh;
    return undef if $? != 0 || !defined $out;
    $out =~ s/\s+\z//;
    return $out;
}

# Where Linux keeps its sysctls. The tests point SCALEBENCH_PROC_SYS at a
# copy, to see --tune raise and restore values without touching the machine.
sub proc_sys { return $ENV{SCALEBENCH_PROC_SYS} // '/proc/sys' }

# The first of the named sysctls this OS knows (Linux: /proc/sys/...).
sub sysctl_read {
    for my $name (@_) {
        if ($^O eq 'linux') {
            (my $p = $name) =~ s{\.}{/}g;
            my $v = _slurp(proc_sys() . "/$p");
            if (defined $v) { $v =~ s/\s+/ /g; return $v }
        } else {
            my $v = capture('sysctl', '-n', $name);
            return $v if defined $v && length $v;
        }
    }
    return undef;
}

# sysctl_write(NAME, VALUE, ROOT) -> undef, or the error. ROOT: where Linux
# keeps its sysctls (default proc_sys()); elsewhere sysctl(8) sets it.
sub sysctl_write {
    my ($name, $value, $root) = @_;
    if ($^O eq 'linux') {
        (my $p = $name) =~ s{\.}{/}g;
        my $f = ($root // proc_sys()) . "/$p";
        open my $fh, '>', $f or return io_error('open', $f);
        print $fh "$value\n" or return io_error('write', $f);
        close $fh or return io_error('write', $f);
        return undef;
    }
    my $pid = fork // return "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', '/dev/null';
        open STDIN, '<', '/dev/null';
        exec 'sysctl', "$name=$value" or POSIX::_exit(127);
    }
    waitpid($pid, 0);
    return $? ? 'sysctl exited ' . ($? >> 8) : undef;
}

# The name of the first of the sysctls this OS knows.
sub sysctl_name {
    for my $name (@_) {
        return $name if defined sysctl_read($name);
    }
    return undef;
}

# rlimit('n') -> "soft S, hard H" from the shell's ulimit (perl has no
# setrlimit in core). Letters: n = RLIMIT_NOFILE, u/p = RLIMIT_NPROC.
sub rlimit {
    my ($what) = @_;
    my @letters = $what eq 'nproc' ? ('u', 'p') : ('n');
    for my $l (@letters) {
        my $s = capture('/bin/sh', '-c', "ulimit -S -$l");
        my $h = capture('/bin/sh', '-c', "ulimit -H -$l");
        return ($s, $h) if defined $s && defined $h && $s =~ /^(?:\d+|unlimited)$/;
    }
    return ();
}

sub safe_tag {
    my ($t) = @_;
    $t = lc $t;
    $t =~ s/[^a-z0-9._-]+/-/g;
    $t =~ s/^[-.]+//;
    $t =~ s/-+$//;
    return $t;
}

sub default_tag {
    my ($sys, $node, $rel) = (uname())[ 0, 1, 2 ];
    $node =~ s/\..*//;
    return safe_tag("$sys-$rel-$node");
}

sub _cpu {
    my %c;
    if ($^O eq 'linux') {
        my $ci = _slurp('/proc/cpuinfo') // '';
        ($c{cpu_model}) = $ci =~ /^(?:model name|Hardware|cpu model)\s*:\s*(.+)$/m;
        my $n = () = $ci =~ /^processor\s*:/mg;
        $c{cpus} = $n if $n;
        my ($mhz) = $ci =~ /^cpu MHz\s*:\s*([\d.]+)/m;
        my $max = _slurp('/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq');
        $c{cpu_mhz} = defined $max ? sprintf('%.0f', $max / 1000) : defined $mhz ? sprintf('%.0f', $mhz) : undef;
        my ($mem) = (_slurp('/proc/meminfo') // '') =~ /^MemTotal:\s*(\d+) kB/m;
        $c{memory_bytes} = $mem * 1024 if $mem;
    } else {
        $c{cpu_model} = sysctl_read('machdep.cpu.brand_string', 'hw.model');
        $c{cpus} = sysctl_read('hw.ncpuonline', 'hw.ncpu');
        my $f = sysctl_read('hw.clockrate', 'hw.cpuspeed', 'machdep.cpu.frequency.target');
        if (!defined $f) {
            my $hz = sysctl_read('hw.cpufrequency', 'machdep.tsc_freq');
            $f = sprintf('%.0f', $hz / 1e6) if defined $hz && $hz =~ /^\d+$/;
        }
        $c{cpu_mhz} = $f;
        $c{memory_bytes} = sysctl_read('hw.memsize', 'hw.physmem64', 'hw.physmem');
    }
    return %c;
}

sub _libc {
    my $g = capture('getconf', 'GNU_LIBC_VERSION');
    return split / /, $g, 2 if defined $g && $g =~ /^glibc /;
    if ($^O eq 'linux') {
        # musl's ldd prints its version on stderr and exits 1
        my $m = `ldd --version 2>&1`;
        return ('musl', $1) if defined $m && $m =~ /musl.*?Version\s+(\S+)/s;
        return ('unknown', 'unknown');
    }
    if ($^O eq 'freebsd') {
        return ('FreeBSD libc', capture('freebsd-version', '-u') // (uname())[2]);
    }
    if ($^O eq 'darwin') {
        my $v = capture('sw_vers', '-productVersion') // 'unknown';
        return ('libSystem (macOS)', $v);
    }
    if ($^O eq 'openbsd' || $^O eq 'netbsd') {
        my @libs = sort { $b cmp $a } glob('/usr/lib/libc.so.*');
        my ($v) = @libs ? $libs[0] =~ /libc\.so\.(.+)$/ : ('unknown');
        return ("$^O libc", $v);
    }
    return ('unknown', 'unknown');
}

sub _compiler {
    my ($cc) = @_;
    $cc //= $ENV{CC} // 'cc';
    my $v = capture($cc, '--version') // capture($cc, '-v') // 'unknown';
    my ($first) = split /\n/, $v;
    return ($cc, $first);
}

# The BSDs and macOS have no kernel command line: the kernel booted and the
# boot flags where the OS tells them.
sub _boot_info {
    my @b;
    for my $s (qw(kern.bootfile kern.osversion kern.boothowto)) {
        my $v = sysctl_read($s);
        push @b, "$s=$v" if defined $v && length $v;
    }
    return @b ? '(no command line) ' . join('; ', @b) : undef;
}

sub _mitigations {
    if ($^O eq 'linux') {
        my $d = '/sys/devices/system/cpu/vulnerabilities';
        opendir my $dh, $d or return 'unknown';
        my @m;
        for my $f (sort grep { !/^\./ } readdir $dh) {
            my $v = _slurp("$d/$f") // next;
            push @m, "$f: $v";
        }
        return @m ? join('; ', @m) : 'unknown';
    }
    my @m;
    for my $s (qw(vm.pmap.pti hw.ibrs_active hw.mds_disable_state hw.spec_store_bypass_disable_active
                  machdep.spectre_v2.method machdep.meltdown_mitigation)) {
        my $v = sysctl_read($s);
        push @m, "$s=$v" if defined $v;
    }
    return @m ? join('; ', @m) : 'unknown';
}

sub _aslr {
    if ($^O eq 'linux') {
        my $v = sysctl_read('kernel.randomize_va_space') // return 'unknown';
        my %m = (0 => 'off', 1 => 'on (conservative)', 2 => 'on (full)');
        return "kernel.randomize_va_space=$v: " . ($m{$v} // '?');
    }
    return 'on (always, OpenBSD)' if $^O eq 'openbsd';
    return 'on (always, macOS)' if $^O eq 'darwin';
    for my $s (qw(kern.elf64.aslr.enable security.pax.aslr.enabled)) {
        my $v = sysctl_read($s);
        return "$s=$v" if defined $v;
    }
    return 'unknown';
}

sub revision {
    my ($root) = @_;
    # a copy of the source without .git (harness/remote uploads one) names
    # the revision it was made from in .revision
    if (!-e "$root/.git" && open my $rf, "<", "$root/.revision") {
        my $r = <$rf> // "";
        chomp $r;
        return $r if length $r;
    }
    my $rev = capture('git', '-C', $root, 'rev-parse', 'HEAD') // return 'unknown (not a git checkout)';
    my $st = capture('git', '-C', $root, 'status', '--porcelain', '--untracked-files=no');
    $rev .= '-dirty' if defined $st && length $st;
    return $rev;
}

# limit_value(WHAT) -> the value of a limit in force (pid_max,
# max_map_count, ...) by the names Scalebench::Suite's per-OS table gives;
# in list context (value, the sysctl it was read from). () when unknown.
sub limit_value {
    my ($what) = @_;
    my $n = limit_sysctls()->{$what} // return;
    for my $name (ref $n ? @$n : $n) {
        my $v = sysctl_read($name);
        return wantarray ? ($v, $name) : $v if defined $v;
    }
    return;
}

# The ephemeral port range "LO HI" (one sysctl, or a first and a last).
sub port_range {
    my $t = limit_sysctls();
    my @tries = $t->{port_range} ? ($t->{port_range}) : @{ Scalebench::Suite::os_facts()->{port_ranges} // [] };
    for my $p (@tries) {
        if (@$p == 1) { my $v = sysctl_read($p->[0]); return $v if defined $v; next }
        my ($a, $b) = map { sysctl_read($_) } @$p;
        return "$a $b" if defined $a && defined $b;
    }
    return undef;
}

sub _virt {
    if ($^O eq 'linux') {
        my $ci = _slurp('/proc/cpuinfo') // '';
        my $hv = $ci =~ /^flags\s*:.*\bhypervisor\b/m;
        my $vendor = join ' ', grep { defined && length } map { _slurp("/sys/class/dmi/id/$_") } qw(sys_vendor product_name);
        return $hv ? 'yes' . (length $vendor ? " ($vendor)" : '') : 'no';
    }
    my $v = sysctl_read('kern.vm_guest', 'machdep.hypervisor', 'kern.hv_vmm_present');
    return defined $v ? $v : 'unknown';
}

# collect(root => DIR, tag => TAG, cc => CC, extra => {..}) -> [ [key, value], ... ]
sub collect {
    my (%o) = @_;
    my ($sys, $node, $rel, $ver, $mach) = uname();
    my %cpu = _cpu();
    my ($libc, $libc_ver) = _libc();
    my ($cc, $ccv) = _compiler($o{cc});
    my @nofile = rlimit('nofile');
    my @nproc = rlimit('nproc');
    my @r = (
        [ tag => $o{tag} ],
        [ os => $sys ], [ release => $rel ], [ version => $ver ],
        [ host => $node ], [ machine => $mach ],
        [ uname => join(' ', $sys, $node, $rel, $ver, $mach) ],
        [ cpu_model => $cpu{cpu_model} ], [ cpus => $cpu{cpus} ], [ cpu_mhz => $cpu{cpu_mhz} ],
        [ memory_bytes => $cpu{memory_bytes} ],
        [ libc => $libc ], [ libc_version => $libc_ver ],
        [ compiler => $cc ], [ compiler_version => $ccv ],
        [ kernel_cmdline => $^O eq 'linux' ? _slurp('/proc/cmdline') : _boot_info() ],
        [ mitigations => _mitigations() ],
        [ clocksource => $^O eq 'linux'
              ? _slurp('/sys/devices/system/clocksource/clocksource0/current_clocksource')
              : sysctl_read('kern.timecounter.hardware') ],
        [ rlimit_nofile => @nofile ? "soft $nofile[0], hard $nofile[1]" : undef ],
        [ rlimit_nproc => @nproc ? "soft $nproc[0], hard $nproc[1]" : undef ],
        (map { [ $_ => scalar limit_value($_) ] } qw(pid_max max_map_count somaxconn file_max files_per_proc_max)),
        [ port_range => port_range() ],
        [ aslr => _aslr() ],
        [ virtualized => _virt() ],
        [ perl => sprintf('%vd', $^V) ],
        [ revision => revision($o{root}) ],
        [ date => strftime('%Y-%m-%dT%H:%M:%SZ', gmtime) ],
    );
    push @r, map { [ $_ => $o{extra}{$_} ] } sort keys %{ $o{extra} // {} };
    $_->[1] //= 'unknown' for @r;
    return \@r;
}

# write_record(DIR, $record, vm => {...}, json => {...}): DIR/system.txt and
# DIR/system.json, each written to a temporary file and renamed into place.
# json: typed values for system.json (booleans, null), also shown in
# system.txt. -> undef, or the error (one line, naming errno and the path).
sub write_record {
    my ($dir, $rec, %o) = @_;
    my $txt = '';
    $txt .= sprintf("%-18s %s\n", "$_->[0]:", $_->[1]) for @$rec;
    my %h = map { $_->[0] => $_->[1] } @$rec;
    for my $k (qw(cpus memory_bytes runs)) {
        $h{$k} += 0 if defined $h{$k} && $h{$k} =~ /^\d+$/;
    }
    for my $k (sort keys %{ $o{json} // {} }) {
        my $v = $o{json}{$k};
        $h{$k} = $v;
        my $shown = !defined $v ? 'none' : JSON::PP::is_bool($v) ? ($v ? 'true' : 'false')
                  : ref $v eq 'HASH' ? join('; ', map { "$_: $v->{$_}" } sort keys %$v) : $v;
        $txt .= sprintf("%-18s %s\n", "$k:", $shown);
    }
    if ($o{vm}) {
        $h{vm} = $o{vm};
        $txt .= sprintf("%-18s %s\n", "vm_$_:", $o{vm}{$_} // 'unknown') for sort keys %{ $o{vm} };
    }
    my $json = JSON::PP->new->canonical->pretty->encode(\%h);
    for my $f ([ 'system.txt', $txt ], [ 'system.json', $json ]) {
        my $err = write_atomic("$dir/$f->[0]", $f->[1]);
        return $err if defined $err;
    }
    return undef;
}

# read_record(DIR) -> the hash of DIR/system.json, or undef
sub read_record {
    my ($dir) = @_;
    open my $fh, '<', "$dir/system.json" or return undef;
    local $/;
    my $h = eval { JSON::PP->new->decode(scalar <$fh> // '') };
    return ref $h eq 'HASH' ? $h : undef;
}

1;
