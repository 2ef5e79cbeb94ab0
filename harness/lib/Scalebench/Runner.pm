package Scalebench::Runner;
# The runner: plan -> prepare -> run one -> summarize, its state in one
# object. harness/run is a thin command over it; the VM runner builds its
# guest script from the same plan (make_plan). Everything it knows about the
# benchmarks comes from Scalebench::Suite; everything that must not outlive
# it is in one Scalebench::Cleanup registry. Core perl only.
#
#   my $r = Scalebench::Runner->new(root => DIR, %options);  # harness/run's options
#   exit $r->main;
#
# Errors: methods die with a one-line message; an argument error dies with
# { usage => MESSAGE } (harness/run exits 2 for it).
use strict;
use warnings;
use Exporter 'import';
use POSIX qw(:sys_wait_h strftime);
use File::Temp qw(tempdir);
use File::Path qw(make_path remove_tree);
use File::Spec;
use IO::Handle;
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes qw(time sleep);
use Scalebench::Suite qw(suite data select_suite load_suite_file fill_args preparation parse_need
    program_path tunables);
use Scalebench::Result qw(parse_file parse_text validate end_kind);
use Scalebench::System qw(collect write_record default_tag sysctl_read sysctl_write rlimit proc_sys
    port_range read_record capture limit_value);
use Scalebench::Cleanup qw(write_atomic io_error);
our @EXPORT_OK = qw(make_plan options);
our $OWNER;    # the pid that set up the cleanup (not a forked child)

sub usage { die { usage => $_[0] } }

# ---- harness/run's options ---------------------------------------------------------
# The one list of them: [ Getopt::Long spec, what harness/remote does with it ].
# 'pass': harness/remote takes it and passes it on to harness/run on the far side;
# 'own': harness/remote has an option of that name with its own meaning (it takes
# care of it itself); 'local': only for harness/run here.
my @OPTIONS = (
    [ 'runs=i' => 'pass' ], [ 'quick' => 'pass' ], [ 'only=s@' => 'pass' ], [ 'skip=s@' => 'pass' ],
    [ 'list' => 'own' ], [ 'results=s' => 'own' ], [ 'tag=s' => 'own' ], [ 'force' => 'pass' ],
    [ 'tune' => 'pass' ], [ 'scratch=s' => 'pass' ], [ 'timeout=i' => 'pass' ], [ 'suite-file=s' => 'own' ],
    [ 'vm=s' => 'local' ], [ 'no-build' => 'pass' ], [ 'pin=s' => 'pass' ], [ 'label=s' => 'pass' ],
    [ 'wrap=s' => 'local' ],
);

# options(WHICH...) -> the Getopt::Long specs of harness/run's options whose
# use by harness/remote is one of WHICH ('pass', 'own', 'local'); all of them
# without an argument.
sub options {
    my %want = map { ($_ => 1) } @_;
    return map { $_->[0] } grep { !@_ || $want{ $_->[1] } } @OPTIONS;
}

# ---- the plan ------------------------------------------------------------------
# make_plan(suite => [entries], quick => 0|1, runs => N, only => [..], skip => [..],
#           timeout => S, pin => CPU) -> {
#   quick, runs, data (Suite::data), pin,
#   entries => [ entry + { run_args => [...], run_timeout => S, run_uses => {..} } ],
#   needs => { need => 1 } (of the applicable entries), programs => { bench => [names], tool => [names] } }
sub make_plan {
    my (%o) = @_;
    my $quick = $o{quick} ? 1 : 0;
    my @sel = eval { select_suite($o{suite}, only => $o{only}, skip => $o{skip}) };
    usage($@ =~ s/\n\z//r) if $@;
    my (@entries, %needs, %progs);
    for my $b (@sel) {
        my $e = { %$b };
        $e->{run_args} = [ (defined $o{pin} ? ('-P', $o{pin}) : ()), @{ $quick ? $b->{quick_args} : $b->{args} } ];
        my $t = $b->{timeout};
        $t = 120 if $quick && $t > 120;
        $e->{run_timeout} = $o{timeout} // $t;
        $e->{run_uses} = $quick ? $b->{quick_uses} : $b->{uses};
        push @entries, $e;
        next if $e->{not_applicable};
        $progs{bench}{ $b->{program} } = 1;
        for my $n (@{ $b->{needs} }) {
            my ($name) = parse_need($n);
            $needs{$n} = 1;
            my $p = preparation($name);
            for my $dep (@{ $p->{needs} // [] }) { $needs{$dep} = 1 }
            $progs{tool}{ $p->{program} } = 1 if defined $p->{program};
        }
    }
    return { quick => $quick, runs => $o{runs} // 5, data => data($quick), pin => $o{pin},
        entries => \@entries, needs => \%needs,
        programs => { map { ($_ => [ sort keys %{ $progs{$_} // {} } ]) } qw(bench tool) } };
}

# ---- the object ------------------------------------------------------------------
sub new {
    my ($class, %o) = @_;
    my $self = bless { root => $o{root}, opt => \%o, caught => undef, fill => {}, filed => {},
        dur => {}, why => {}, prep_s => 0, log_failed => 0 }, $class;
    return $self;
}

sub say_ { my $self = shift; print @_, "\n" }

sub log {
    my ($self, @m) = @_;
    my $fh = $self->{logfh} or return;
    return if print $fh '== ', strftime('%Y-%m-%dT%H:%M:%SZ ', gmtime), @m, "\n";
    $self->_log_failed;
}

sub log_raw {
    my ($self, $text) = @_;
    my $fh = $self->{logfh} or return;
    return unless length $text;
    return if print $fh $text, ($text =~ /\n\z/ ? '' : "\n");
    $self->_log_failed;
}

sub _log_failed {
    my ($self) = @_;
    return if $self->{log_failed}++;
    my $m = io_error('write', $self->{log}) . '; going on, the log may miss lines';
    print STDERR "harness/run: $m\n";
}

sub note { my ($self, $m) = @_; $self->say_($m); $self->log($m) }

sub caught { return $_[0]{caught} }

# Dies by the signal that interrupted us, after cleaning up.
sub die_by_signal {
    my ($self) = @_;
    my $sig = $self->{caught};
    $self->say_("\ninterrupted by SIG$sig: cleaned up; run harness/run again with the same options to resume");
    $self->log("interrupted by SIG$sig");
    $self->cleanup;
    close $self->{logfh} if $self->{logfh};
    $SIG{$sig} = 'DEFAULT';
    kill $sig, $$;
    sleep 1;
    exit 128 + POSIX->can("SIG$sig")->();
}

sub check_signal { $_[0]->die_by_signal if $_[0]{caught} }

sub cleanup {
    my ($self) = @_;
    $self->stop_server;
    $self->{cleanup}->run if $self->{cleanup};
}

# ---- main ------------------------------------------------------------------------
sub main {
    my ($self) = @_;
    my $o = $self->{opt};
    $self->load_plan;
    return $self->list if $o->{list};
    @{ $self->{plan}{entries} } or die "nothing to run\n";
    $self->setup_output;
    $self->build;
    $self->plan_runs;
    $self->write_system_record;
    $self->tune;
    $self->limit_warnings;
    $self->check_signal;
    $self->prepare_data;
    $self->run_all;
    my $st = $self->summarize;
    $self->cleanup;
    return $st;
}

sub load_plan {
    my ($self) = @_;
    my $o = $self->{opt};
    my @suite;
    if (defined $o->{'suite-file'}) {
        my $f = File::Spec->rel2abs($o->{'suite-file'});
        @suite = eval { load_suite_file($f) };
        usage($@ =~ s/\n\z//r) if $@;
    } else {
        @suite = suite();
    }
    $self->{plan} = make_plan(suite => \@suite, quick => $o->{quick}, runs => $o->{runs},
        only => $o->{only}, skip => $o->{skip}, timeout => $o->{timeout}, pin => $o->{pin});
}

sub list {
    my ($self) = @_;
    my $p = $self->{plan};
    printf "%-26s %s\n", 'id', 'command (' . ($p->{quick} ? 'quick' : 'full') . ' sizes)';
    for my $b (@{ $p->{entries} }) {
        printf "%-26s %s\n", $b->{id}, join(' ', $b->{program}, @{ $b->{run_args} });
        my $u = $b->{run_uses};
        printf "%-26s   %s; needs: %s; uses: %s; timeout %d s\n", '', $b->{title} // '',
            (@{ $b->{needs} } ? join(', ', @{ $b->{needs} }) : 'nothing'),
            (%$u ? join(', ', map { "$u->{$_} $_" } sort keys %$u) : 'nothing counted'), $b->{run_timeout};
        printf "%-26s   not applicable here: %s\n", '', $b->{not_applicable} if $b->{not_applicable};
    }
    return 0;
}

# The results folder, the log, the cleanup registry, the signal handlers,
# and the sweep of what dead runs left.
sub setup_output {
    my ($self) = @_;
    my $o = $self->{opt};
    my $tag = defined $o->{tag} ? $o->{tag} : default_tag() . ($self->{plan}{quick} ? '-quick' : '');
    usage("tag '$tag' is not lower case [a-z0-9._-]+") unless $tag =~ /^[a-z0-9._-]+$/ && $tag !~ /^\.\.?$/;
    $self->{tag} = $tag;
    my $res = File::Spec->rel2abs($o->{results});
    usage("--results $o->{results} is not a directory") if -e $res && !-d $res;
    my $out = "$res/$tag";
    usage("--results $o->{results}: $out is not a directory") if -e $out && !-d $out;
    if (!-d $out) {
        make_path($out, { error => \my $err });
        if (@$err) {
            my ($p, $m) = %{ $err->[-1] };
            usage("--results $o->{results}: cannot create " . (length $p ? $p : $out) . ": $m");
        }
    }
    usage("--results $o->{results}: cannot write into $out: $!") unless -w $out;
    $self->{out} = $out;
    $self->{log} = "$out/log";
    open my $logfh, '>>', $self->{log} or usage(io_error('write', $self->{log}));
    $logfh->autoflush(1);
    $self->{logfh} = $logfh;
    $self->log('harness/run ', ($self->{plan}{quick} ? '--quick ' : ''), "--runs $self->{plan}{runs} into $out (pid $$)");

    my $state_dir = $ENV{SCALEBENCH_STATE_DIR} // File::Spec->tmpdir;
    $self->{scratch_base} = defined $o->{scratch} ? File::Spec->rel2abs($o->{scratch}) : File::Spec->tmpdir;
    my @said;
    Scalebench::Cleanup->sweep(dir => $state_dir, results => [$out],
        scratch => [ grep { -d } $self->{scratch_base}, File::Spec->tmpdir ],
        say => sub { push @said, $_[0] });
    $self->note("cleanup: $_") for @said;
    $self->{cleanup} = Scalebench::Cleanup->new(dir => $state_dir, say => sub { $self->note($_[0]) });
    $self->{cleanup}->save;
    $Scalebench::Runner::OWNER = $$;
    for my $sig (qw(INT TERM HUP)) {
        $SIG{$sig} = sub {
            $self->{caught} //= $sig;
            kill $sig, -$self->{child} if $self->{child};
        };
    }
    $SIG{PIPE} = 'IGNORE';
}

# Runs a helper command (make, mktestdata) in its own process group, so a
# signal to the harness reaches it through the handlers; -> wait status.
sub run_cmd {
    my ($self, @cmd) = @_;
    my $pid = fork // die io_error('fork for', $cmd[0]) . "\n";
    if ($pid == 0) {
        setpgrp(0, 0);
        $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP PIPE);
        open STDIN, '<', '/dev/null';
        exec { $cmd[0] } @cmd or do { print STDERR "harness/run: cannot run $cmd[0]: $!\n"; POSIX::_exit(127) };
    }
    setpgrp($pid, $pid);
    $self->{child} = $pid;
    $self->{cleanup}->group($pid, $cmd[0]);
    1 while waitpid($pid, 0) == -1 && $!{EINTR};
    my $st = $?;
    kill 'KILL', -$pid if kill 0, -$pid;
    $self->{child} = undef;
    $self->{cleanup}->ungroup($pid);
    return $st;
}

# Which make this is: "GNU make 4.3", "BSD make", or undef when there is none.
sub make_kind {
    my ($make) = @_;
    my $v = capture($make, '--version');
    return "GNU make $1" if defined $v && $v =~ /GNU Make (\S+)/;
    return defined(capture($make, '-V', 'MAKE_VERSION', '-f', '/dev/null')) || defined $v ? 'BSD make' : undef;
}

sub missing_programs {
    my ($self) = @_;
    my $p = $self->{plan}{programs};
    return grep { !-x $_ } (map { program_path($self->{root}, $_, 'bench') } @{ $p->{bench} }),
                           (map { program_path($self->{root}, $_, 'tool') } @{ $p->{tool} });
}

# Builds missing programs with make (nothing else: a harness run inside
# `make SANITIZE=1 check` must not swap programs under the tests); where
# that make is not GNU make and leaves them unbuilt, with gmake.
sub build {
    my ($self) = @_;
    return if $self->{opt}{'no-build'};
    my $root = $self->{root};
    my @targets = map { File::Spec->abs2rel($_, $root) } grep { index($_, "$root/") == 0 } $self->missing_programs;
    return unless @targets;
    my @makes = ('make');
    push @makes, 'gmake' if ($ENV{SCALEBENCH_MAKE} // '') eq '' && grep { -x "$_/gmake" } split /:/, $ENV{PATH} // '';
    @makes = ($ENV{SCALEBENCH_MAKE}) if length($ENV{SCALEBENCH_MAKE} // '');
    my $ran = 0;
    for my $i (0 .. $#makes) {
        my $make = $makes[$i];
        my $kind = make_kind($make) // next;
        $ran++;
        next if $i > 0 && $kind !~ /^GNU/;
        $self->note("building with $make ($kind): @targets");
        my $st = $self->run_cmd($make, '-k', '-C', $root, @targets);
        $self->check_signal;
        my %left = map { $_ => 1 } $self->missing_programs;
        @targets = grep { $left{"$root/$_"} } @targets;
        last unless @targets;
        $self->note("$make (status " . ($st >> 8) . ") left unbuilt: @targets" .
            ($i < $#makes && $kind !~ /^GNU/ ? '; trying gmake' : ': they will be reported as failed'));
        last if $kind =~ /^GNU/;
    }
    $self->note("no make found (tried: @makes): not built, reported as failed: @targets") unless $ran;
}

# ---- which runs are still to do ------------------------------------------------
sub dat_path { my ($self, $b, $run) = @_; return "$self->{out}/$b->{id}.$run.dat" }

# What the summary needs of a filed run: path -> { end, kind, vals }.
sub note_run {
    my ($self, $b, $path, $r) = @_;
    my $mc = $b->{main_column} // ($r->{columns}[1] // '');
    my ($ci) = grep { $r->{columns}[$_] eq $mc } 0 .. $#{ $r->{columns} };
    $ci //= 1;
    $self->{filed}{$path} = { end => $r->{end}, kind => end_kind($r->{end}) // '',
        vals => [ grep { $_ ne '-' } map { $_->[$ci] // '-' } @{ $r->{rows} } ] };
}

# A file from an earlier session counts as complete when it is valid, ended
# completed or stopped, and was made with the same arguments (a placeholder
# matches any word), so quick and full runs never pass for each other.
sub complete_run {
    my ($self, $b, $path) = @_;
    return 0 unless -f $path;
    my $r = parse_file($path);
    return 0 if validate($r);
    $self->note_run($b, $path, $r);
    my $k = end_kind($r->{end}) // '';
    return 0 unless $k eq 'completed' || $k eq 'stopped';
    my (undef, @got) = split / /, $r->{header}{args} // '';
    my @want = @{ $b->{run_args} };
    return 0 unless @got == @want;
    for my $i (0 .. $#want) {
        next if $want[$i] =~ /\{[a-z_]+\}/;
        return 0 unless $got[$i] eq $want[$i];
    }
    return 1;
}

sub plan_runs {
    my ($self) = @_;
    my $p = $self->{plan};
    my (@todo, $skipped);
    $skipped = 0;
    for my $run (1 .. $p->{runs}) {
        for my $b (grep { !$_->{not_applicable} } @{ $p->{entries} }) {
            my $f = $self->dat_path($b, $run);
            if (-e $f && !$self->{opt}{force}) {
                if ($self->complete_run($b, $f)) { $skipped++; next }
                my $aside = "$f.replaced-" . strftime('%Y%m%dT%H%M%S', gmtime);
                if (rename $f, $aside) {
                    $self->say_("$b->{id} run $run: the earlier file is not a complete run with these arguments: moved to $aside");
                    $self->log("$f moved to $aside (not complete, or other arguments)");
                } else {
                    die io_error('move aside', $f) . "\n";
                }
            }
            push @todo, [ $b, $run ];
        }
    }
    $self->{todo} = \@todo;
    $self->{skipped} = $skipped;
    for my $b (grep { $_->{not_applicable} } @{ $p->{entries} }) {
        $self->note("$b->{id}: not applicable here: $b->{not_applicable}");
    }
    $self->say_("results: $self->{out}");
    $self->say_("$skipped run(s) already complete: skipped (--force measures them again)") if $skipped;
    $self->say_('--force: complete runs are measured again and replaced') if $self->{opt}{force};
}

# ---- the system record ---------------------------------------------------------
# Written when there is something to measure; a resumed run with nothing
# left to do leaves the record (and its dates) as it is.
sub write_system_record {
    my ($self) = @_;
    my $o = $self->{opt};
    return unless @{ $self->{todo} };
    my $vm;
    if (defined $o->{vm}) {
        open my $fh, '<', $o->{vm} or usage(io_error('read --vm', $o->{vm}));
        local $/;
        $vm = eval { JSON::PP->new->decode(scalar <$fh> // '') };
        usage("--vm $o->{vm} is not a JSON object") unless ref $vm eq 'HASH';
    }
    my $old = read_record($self->{out}) // {};
    my $p = $self->{plan};
    my $rec = collect(root => $self->{root}, tag => $self->{tag},
        extra => { harness_args => join(' ', 'harness/run', @{ $o->{argv} // [] }),
                   mode => $p->{quick} ? 'quick' : 'full', runs => $p->{runs} });
    my %na = map { ($_->{id} => $_->{not_applicable}) } grep { $_->{not_applicable} } @{ $p->{entries} };
    my %json = (quick => $p->{quick} ? JSON::PP::true : JSON::PP::false,
        pin => defined $p->{pin} ? $p->{pin} + 0 : undef,
        label => $o->{label} // $old->{label});
    $json{not_applicable} = \%na if %na;
    $json{wrap} = $o->{wrap} if defined $o->{wrap};
    my $err = write_record($self->{out}, $rec, vm => $vm, json => \%json);
    die "$err\n" if defined $err;
}

# ---- sysctls: --tune raises them; otherwise only report what cuts runs short ----
sub lower_than {
    my ($have, $want) = @_;
    if (my ($ha, $hb) = $have =~ /^(\d+)\s+(\d+)$/) {    # a port range: narrower than wanted?
        my ($wa, $wb) = $want =~ /^(\d+)\s+(\d+)$/;
        return ($hb - $ha) < ($wb - $wa);
    }
    return $have =~ /^\d+$/ && $want =~ /^\d+$/ && $have < $want;
}

sub tune {
    my ($self) = @_;
    return unless $self->{opt}{tune};
    if ($> != 0) { $self->say_('--tune needs root: sysctls are left as they are'); return }
    for my $t (tunables()) {
        my $old = sysctl_read($t->{name});
        next unless defined $old && lower_than($old, $t->{want});
        my $root = $^O eq 'linux' ? proc_sys() : undef;
        my $err = $self->{cleanup}->sysctl(name => $t->{name}, old => $old, root => $root);
        if (defined $err) {
            $self->note("--tune: $t->{name} left at '$old': its value could not be saved first ($err)");
            next;
        }
        $err = sysctl_write($t->{name}, $t->{want}, $root);
        if (defined $err) {
            $self->note("--tune: cannot raise $t->{name} from '$old' to '$t->{want}': $err");
            $self->{cleanup}->unsysctl($t->{name});    # unchanged: nothing to restore
        } else {
            $self->say_("--tune: $t->{name} = $t->{want} (was $old; restored at the end)");
            $self->log("--tune: $t->{name} = $t->{want} (was $old)");
        }
    }
    $self->check_signal;
}

# Limits that will cut a benchmark short, from the resources each entry
# declares (Suite.pm's uses/quick_uses): reported before starting.
sub limit_warnings {
    my ($self) = @_;
    my @run = grep { !$_->{not_applicable} } @{ $self->{plan}{entries} };
    my (@warn, %max);
    for my $b (@run) {
        for my $k (keys %{ $b->{run_uses} }) {
            my $v = $b->{run_uses}{$k} // next;
            $max{$k} = [ $v, $b->{id} ] if $v > ($max{$k}[0] // 0);
        }
    }
    my (undef, $hard) = rlimit('nofile');
    for my $b (grep { $_->{run_uses}{descriptors} } @run) {
        my $n = $b->{run_uses}{descriptors};
        my $fds = $n + 64;
        push @warn, "RLIMIT_NOFILE hard limit $hard < $fds: $b->{id} holds $n descriptors in one process and will stop at EMFILE (raise it: ulimit -H -n as root, or login.conf / limits.conf)"
            if defined $hard && $hard ne 'unlimited' && $hard < $fds;
    }
    if (my $m = $max{processes}) {
        my ($n, $id) = @$m;
        if ($> != 0) {
            my (undef, $ph) = rlimit('nproc');
            push @warn, "RLIMIT_NPROC hard limit $ph < " . ($n + 500) . ": $id will stop at EAGAIN"
                if defined $ph && $ph ne 'unlimited' && $ph < $n + 500;
        }
        my $pid_max = limit_value('pid_max');
        push @warn, "pid_max/maxproc $pid_max is close to the $n processes $id keeps alive (--tune raises it)"
            if defined $pid_max && $pid_max =~ /^\d+$/ && $pid_max < 2 * $n + 1000;
    }
    if (my $m = $max{ports}) {
        my ($n, $id) = @$m;
        my $pr = port_range();
        push @warn, "ephemeral port range $pr holds fewer than $n+1000 ports: $id may stop at EADDRINUSE (--tune widens it)"
            if defined $pr && $pr =~ /^(\d+)\s+(\d+)$/ && $2 - $1 + 1 < $n + 1000;
    }
    if (my $m = $max{mappings}) {
        my ($n, $id) = @$m;
        my ($mmc, $name) = limit_value('max_map_count');
        push @warn, "$name $mmc < " . ($n + 1000) . ": $id will stop at ENOMEM (--tune raises it)"
            if defined $mmc && $mmc =~ /^\d+$/ && $mmc < $n + 1000;
    }
    for (@warn) { $self->say_("limit: $_"); $self->log("limit: $_") }
}

# ---- data ----------------------------------------------------------------------
# Reads every byte of the files, so they are in the page cache (the study
# used cat for this).
sub warm {
    my (@files) = @_;
    my $buf;
    for my $f (@files) {
        open my $fh, '<:raw', $f or die io_error('read', $f) . "\n";
        1 while sysread($fh, $buf, 1 << 20);
        close $fh;
    }
}

sub prepare_data {
    my ($self) = @_;
    my %need = map { ($_ => 1) } map { @{ $_->[0]{needs} } } @{ $self->{todo} };
    for my $n (keys %need) {
        my ($name) = parse_need($n);
        $need{$_} = 1 for @{ preparation($name)->{needs} // [] };
    }
    $self->{need} = \%need;
    return unless %need;
    my $base = $self->{scratch_base};
    if (!-d $base) {
        make_path($base, { error => \my $err });
        die "--scratch $base: cannot create it: " . join('; ', map { values %$_ } @$err) . "\n" if @$err;
    }
    my $dir = eval { tempdir("scalebench-$$-XXXXXX", DIR => $base) };
    if (!defined $dir) {
        my $e = $@ =~ s/ at \S+ line \d+.*//sr;
        $e =~ s/^Error in tempdir\(\) using \S+: //;
        $e =~ s/\s+\z//;
        $self->note("cannot make a scratch directory in $base: $e: the benchmarks that need "
            . join(', ', sort keys %need) . ' will fail');
        return;
    }
    $self->{scratch} = $dir;
    $self->{cleanup}->dir($dir);
    $self->log("scratch: $dir");
    # files and trees first (they take the time), then docroots; servers start per run
    for my $n (sort { (preparation((parse_need($a))[0])->{kind} eq 'docroot') <=> (preparation((parse_need($b))[0])->{kind} eq 'docroot') || $a cmp $b } keys %need) {
        my ($name) = parse_need($n);
        my $p = preparation($name);
        next if $p->{kind} eq 'server';
        $self->say_("preparing $name ...") unless $p->{kind} eq 'docroot';
        my $t0 = time;
        my $ok = eval { $self->prepare_one($name, $p); 1 };
        $self->check_signal;
        if (!$ok) {
            my $e = $@;
            chomp $e;
            $self->note("preparing $name: $e: the benchmarks that need $name will fail");
            next;
        }
        my $dt = time - $t0;
        $self->{prep_s} += $dt;
        $self->log(sprintf('prepared %s in %.1f s', $name, $dt));
    }
}

sub prepare_one {
    my ($self, $name, $p) = @_;
    my $d = $self->{plan}{data};
    my $path = "$self->{scratch}/$name";
    if ($p->{kind} eq 'file') {
        open my $fh, '>:raw', $path or die io_error('create', $path) . "\n";
        my $chunk = join '', map { chr(1 + $_ % 255) } 0 .. 4095;
        $chunk x= 256;    # 1 MiB of non-zero bytes: real blocks, no holes
        my $left = $d->{bigfile_bytes};
        while ($left > 0 && !$self->{caught}) {
            my $n = $left < length $chunk ? $left : length $chunk;
            my $off = 0;
            while ($off < $n) {
                my $w = syswrite($fh, $chunk, $n - $off, $off);
                if (!$w) {
                    my $e = defined $w ? "cannot write $path: wrote nothing" : io_error('write', $path);
                    close $fh;
                    unlink $path;
                    die "$e\n";
                }
                $off += $w;
            }
            $left -= $n;
        }
        if (!close $fh) { my $e = io_error('write', $path); unlink $path; die "$e\n" }
        warm($path);
    } elsif ($p->{kind} eq 'tree') {
        my $mk = program_path($self->{root}, $p->{program}, 'tool');
        -x $mk or die "$mk is not built\n";
        my $st = $self->run_cmd($self->wrapped($mk, '-c', $d->{tree_files}, $path));
        $self->check_signal;
        die "$mk -c $d->{tree_files} $path: " . ($st & 127 ? 'signal ' . ($st & 127) : 'exit status ' . ($st >> 8)) . "\n" if $st;
        my (@files, @dirs);
        @dirs = ($path);
        while (my $dir = shift @dirs) {
            opendir my $dh, $dir or next;
            for my $e (readdir $dh) {
                next if $e eq '.' || $e eq '..';
                my $f = "$dir/$e";
                if (-d $f) { push @dirs, $f } elsif (-f _) { push @files, $f }
            }
        }
        warm(@files);
    } elsif ($p->{kind} eq 'docroot') {
        mkdir $path or die io_error('create', $path) . "\n";
        my $body = "<html><body>scalebench</body></html>\n";
        $body .= 'x' x ($d->{http_bytes} - length $body) if length $body < $d->{http_bytes};
        my $err = write_atomic("$path/index.html", $body);
        die "$err\n" if defined $err;
    }
    $self->{fill}{ $p->{placeholder} } = $path if defined $p->{placeholder};
    $self->{fill}{$name} = $path;
}

# ---- children: a process group each, stderr (and a server's stdout) on pipes ----
# The wrapper every program runs under: soft limits raised to the hard ones
# (sh's ulimit: perl has no setrlimit in core), then exec.
my $WRAP = 'ulimit -S -n "$(ulimit -H -n)" 2>/dev/null; '
         . '{ ulimit -S -u "$(ulimit -H -u)" || ulimit -S -p "$(ulimit -H -p)"; } >/dev/null 2>&1; '
         . 'exec "$@"';
my $KEEP = 65536;    # bytes of a child's stderr kept (the last ones)

# A program of the suite (benchmark, server, mktestdata) as it is started:
# behind --wrap's command words when given (e.g. qemu-aarch64-static, to run
# a cross-built tree; CI does), else as it is.
sub wrapped {
    my ($self, @cmd) = @_;
    my $w = $self->{opt}{wrap};
    return ((defined $w ? split(' ', $w) : ()), @cmd);
}

# spawn(cmd => [..], stdout => FILE | undef (a pipe), what => TEXT) -> child
# { pid, pipes => { err => fh, out => fh }, buf => { err, out } }
sub spawn {
    my ($self, %o) = @_;
    pipe(my $er, my $ew) or die io_error('make a pipe for', $o{what}) . "\n";
    my ($or, $ow);
    if (!defined $o{stdout}) { pipe($or, $ow) or die io_error('make a pipe for', $o{what}) . "\n" }
    my $pid = fork // die io_error('fork for', $o{what}) . "\n";
    if ($pid == 0) {
        setpgrp(0, 0);
        $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP PIPE);
        close $er;
        close $or if $or;
        open STDERR, '>&', $ew or POSIX::_exit(127);
        if (defined $o{stdout}) {
            open STDOUT, '>', $o{stdout} or do { print STDERR io_error('create', $o{stdout}), "\n"; POSIX::_exit(127) };
        } else {
            open STDOUT, '>&', $ow or POSIX::_exit(127);
        }
        open STDIN, '<', '/dev/null' or POSIX::_exit(127);
        chdir $self->{root};
        exec('/bin/sh', '-c', $WRAP, 'sh', $self->wrapped(@{ $o{cmd} })) or do { print STDERR "cannot run /bin/sh: $!\n"; POSIX::_exit(127) };
    }
    setpgrp($pid, $pid);    # also from here: no race with a signal right now
    $self->{cleanup}->group($pid, $o{what});
    close $ew;
    close $ow if $ow;
    my %c = (pid => $pid, what => $o{what}, pipes => { err => $er }, buf => { err => '', out => '' });
    $c{pipes}{out} = $or if $or;
    $_->blocking(0) for values %{ $c{pipes} };
    return \%c;
}

# Reads what the children's pipes hold, without blocking; waits up to $wait
# seconds for something to arrive.
sub drain {
    my ($self, $wait, @children) = @_;
    my $rin = '';
    my @open;
    for my $c (@children) {
        for my $k (keys %{ $c->{pipes} }) {
            my $fh = $c->{pipes}{$k} or next;
            vec($rin, fileno($fh), 1) = 1;
            push @open, [ $c, $k, $fh ];
        }
    }
    if (!@open) { sleep $wait if $wait; return }
    select(my $rout = $rin, undef, undef, $wait) if $wait;
    for my $o (@open) {
        my ($c, $k, $fh) = @$o;
        while (1) {
            my $n = sysread($fh, my $buf, 65536);
            if (!defined $n) { last if $!{EAGAIN} || $!{EWOULDBLOCK} || $!{EINTR}; $n = 0 }
            if ($n == 0) { close $fh; delete $c->{pipes}{$k}; last }
            $c->{buf}{$k} .= $buf;
            substr($c->{buf}{$k}, 0, length($c->{buf}{$k}) - $KEEP, '[... cut]') if length $c->{buf}{$k} > 2 * $KEEP;
        }
    }
}

sub close_child {
    my ($self, $c) = @_;
    close $_ for values %{ $c->{pipes} };
    $c->{pipes} = {};
    $self->{cleanup}->ungroup($c->{pid});
}

# ---- servers (preparations of kind server), fresh for each run ----
# Deadlines: the "listening" line within 15 s; then GET /index.html must be
# answered 200 within 10 s in all, each attempt bounded at 3 s (a server that
# accepts and never answers, or drips, is not ready: no read ever blocks).
sub start_server {
    my ($self, $need) = @_;
    my ($name, $param) = parse_need($need);
    my $p = preparation($name);
    my $prog = program_path($self->{root}, $p->{program}, 'tool');
    -x $prog or die "$prog is not built\n";
    my %v = (param => $param, map { ($_ => $self->{fill}{$_}) } keys %{ $self->{fill} });
    for my $dep (@{ $p->{needs} // [] }) { defined $self->{fill}{$dep} or die "$dep could not be prepared\n" }
    my @args = fill_args($p->{args} // [], \%v);
    my $c = $self->spawn(cmd => [ $prog, @args ], what => $need);
    $self->{server} = $c;
    $c->{name} = $need;
    my $deadline = time + 15;
    while ($c->{buf}{out} !~ /\n/ && time < $deadline && !$self->{caught} && $c->{pipes}{out}) {
        $self->drain(0.1, $c);
    }
    my $why;
    if ($c->{buf}{out} =~ /^listening (\S+) (\d+)\b[^\n]*\n/) {
        my ($addr, $port) = ($1, $2);
        $self->log("$need: pid $c->{pid}, " . ($c->{buf}{out} =~ /^([^\n]*)/)[0]);
        my $url = "http://$addr:$port/index.html";
        my $end = time + 10;
        while (time < $end && !$self->{caught}) {
            my ($ok, $w) = http_check($addr, $port, $end);
            return $url if $ok;
            $why = $w;
            last unless kill 0, $c->{pid};
            $self->drain(0.1, $c);
        }
        $why = 'it did not answer an HTTP request within 10 s' . (defined $why ? " ($why)" : '');
    } else {
        my ($line) = $c->{buf}{out} =~ /^([^\n]*)/;
        $why = length $line ? "it printed '$line' instead of 'listening ADDR PORT ...'"
                            : 'it did not say it was listening within 15 s';
    }
    $self->stop_server;
    my $err = $c->{buf}{err};
    $err =~ s/\s+\z//;
    $err =~ s/\n/; /g;
    die "$need: $why" . (length $err ? " (stderr: $err)" : '') . "\n";
}

# http_check(ADDR, PORT, DEADLINE) -> (1) when GET /index.html gets 200, else
# (0, why). One attempt, bounded at 3 s and by DEADLINE.
sub http_check {
    my ($addr, $port, $deadline) = @_;
    my $end = time + 3;
    $end = $deadline if $deadline < $end;
    my $left = $end - time;
    return (0, 'no time left') if $left <= 0;
    my $s = IO::Socket::INET->new(PeerAddr => $addr, PeerPort => $port, Proto => 'tcp',
        Timeout => $left < 2 ? $left : 2) or return (0, "connect: $!");
    $s->blocking(0);
    my $req = "GET /index.html HTTP/1.0\r\nHost: $addr\r\n\r\n";
    my $resp = '';
    while (time < $end) {
        my ($rin, $win) = ('', '');
        vec($rin, fileno($s), 1) = 1;
        vec($win, fileno($s), 1) = 1 if length $req;
        my $t = $end - time;
        last if $t <= 0;
        my $n = select(my $rout = $rin, my $wout = length $req ? $win : undef, undef, $t < 0.2 ? $t : 0.2);
        next if !$n || $n < 0;    # a timeout is not ready: look at the clock again
        if (length $req && vec($wout, fileno($s), 1)) {
            my $w = syswrite($s, $req);
            substr($req, 0, $w, '') if $w;
        }
        next unless vec($rout, fileno($s), 1);
        my $r = sysread($s, my $buf, 4096);
        next if !defined $r && ($!{EAGAIN} || $!{EINTR});
        last if !$r;
        $resp .= $buf;
        last if $resp =~ /\r?\n\r?\n/;
    }
    close $s;
    return (1) if $resp =~ m{^HTTP/1\.[01] 200 };
    return (0, length $resp ? "it answered '" . (split /\r?\n/, $resp)[0] . "'" : 'no answer within 3 s');
}

sub stop_server {
    my ($self) = @_;
    my $c = delete $self->{server} or return;
    my $alive = kill 0, $c->{pid};
    kill 'TERM', $c->{pid};
    my $end = time + 5;
    my $st;
    while (time < $end) {
        my $w = waitpid($c->{pid}, WNOHANG);
        if ($w == $c->{pid}) { $st = $?; last }
        last if $w < 0;
        $self->drain(0.02, $c);
    }
    if (!defined $st) {
        $self->log("$c->{name} (pid $c->{pid}) did not exit on SIGTERM within 5 s: killed");
        kill 'KILL', -$c->{pid};
        waitpid($c->{pid}, 0);
    } else {
        kill 'KILL', -$c->{pid};    # anything it left in its group
        $self->log("$c->{name} stopped: " . ($st & 127 ? 'signal ' . ($st & 127) : 'exit ' . ($st >> 8))
            . ($alive ? '' : ' (it had ended by itself during the run)')) if $st != 0 || !$alive;
    }
    $self->drain(0, $c);
    $self->log_raw($c->{buf}{err});
    $self->close_child($c);
}

# ---- running one benchmark -------------------------------------------------------
sub run_one {
    my ($self, $b, $run) = @_;
    my $prog = program_path($self->{root}, $b->{program}, 'bench');
    $prog = File::Spec->rel2abs($prog) unless File::Spec->file_name_is_absolute($prog);
    my %res = (status => 'failed', why => '', wall => 0);
    my $start_err;
    $start_err = "$prog is not built" unless -x $prog;
    my %fill = %{ $self->{fill} };
    for my $n (defined $start_err ? () : @{ $b->{needs} }) {
        my ($name) = parse_need($n);
        my $p = preparation($name);
        if ($p->{kind} eq 'server') {
            my $url = eval { $self->start_server($n) };
            $self->check_signal;
            if (!defined $url) { $start_err = $@ =~ s/\n\z//r; last }
            $fill{ $p->{placeholder} } = $url;
        } elsif (!defined $self->{fill}{$name}) {
            $start_err = "$name could not be prepared";
        }
    }
    my @args = fill_args($b->{run_args}, \%fill);
    $self->log("$b->{id} run $run: " . join(' ', $prog, @args));
    if (defined $start_err) {
        $self->stop_server;
        $res{why} = $start_err;
        $self->log("$b->{id} run $run: failed: $start_err");
        return \%res;
    }
    my $final = $self->dat_path($b, $run);
    my $tmp = "$self->{out}/.$b->{id}.$run.dat.tmp.$$";
    $self->{cleanup}->file($tmp, keep_as => $final);
    my $t0 = time;
    my $c = $self->spawn(cmd => [ $prog, @args ], stdout => $tmp, what => "$b->{id} run $run");
    my $pid = $c->{pid};
    $self->{child} = $pid;
    $self->log("$b->{id} run $run: started, process group $pid");
    my $deadline = $t0 + $b->{run_timeout};
    my ($st, $timed_out) = (undef, 0);
    my @watch = grep { defined } $c, $self->{server};
    while (1) {
        my $w = waitpid($pid, WNOHANG);
        if ($w == $pid) { $st = $?; last }
        if (!$timed_out && time > $deadline) {
            $timed_out = 1;
            $self->log("$b->{id} run $run: timed out after $b->{run_timeout} s: SIGTERM");
            kill 'TERM', -$pid;
            $deadline = time + 10;    # then SIGKILL
        } elsif ($timed_out && time > $deadline) {
            kill 'KILL', -$pid;
        }
        $self->drain(0.02, @watch);
    }
    $res{wall} = time - $t0;
    # nothing of the benchmark may outlive it
    if (kill 0, -$pid) {
        $self->log("$b->{id} run $run: processes left behind in its process group: killed");
        kill 'KILL', -$pid;
    }
    $self->{child} = undef;
    $self->drain(0, @watch);
    $self->close_child($c);
    $self->stop_server;
    my $err = $c->{buf}{err};
    $self->log_raw($err);

    my ($exit, $sig) = ($st & 127) ? (undef, $st & 127) : ($st >> 8, undef);
    my $text = '';
    if (open my $o, '<', $tmp) { local $/; $text = <$o> // '' }
    my $r = parse_text($text);
    my @problems = validate($r);
    my $kind = end_kind($r->{end}) // '';
    if ($self->{caught} && (defined $sig || $kind eq 'interrupted')) {
        unlink $tmp;
        $self->{cleanup}->unfile($tmp);
        $res{status} = 'interrupted';
        return \%res;
    }
    if (!@problems && defined $exit && $exit == 0 && $kind eq 'completed') {
        $res{status} = 'ok';
    } elsif (!@problems && defined $exit && $exit == 3 && $kind eq 'stopped') {
        $res{status} = 'limited';
        $res{why} = $r->{end};
    } else {
        $res{why} = $timed_out ? "timed out after $b->{run_timeout} s"
                  : defined $sig ? "killed by signal $sig"
                  : "exit status $exit";
        $res{why} .= ": $r->{end}" if defined $r->{end} && $kind ne 'completed';
        $res{why} .= '; output: ' . $problems[0] if @problems && length $text;
        my ($last) = grep { length } reverse split /\n/, $err;
        $res{why} .= "; stderr: $last" if !defined $r->{end} && defined $last;
    }
    if ($res{status} eq 'failed') {
        # kept for a look, but never taken for a result
        my $f = "$self->{out}/$b->{id}.$run.failed";
        my $kept = length $text && rename $tmp, $f;
        unlink $tmp unless $kept;
        $self->log("$b->{id} run $run: failed: $res{why}" . ($kept ? " (output kept in $f)" : ''));
    } else {
        if (!rename $tmp, $final) {
            $res{status} = 'failed';
            $res{why} = io_error('rename to', $final);
            unlink $tmp;
            $self->log("$b->{id} run $run: failed: $res{why}");
        } else {
            $self->note_run($b, $final, $r);
            unlink "$self->{out}/$b->{id}.$run.failed";
            $self->log(sprintf('%s run %d: %s%s, %.1f s', $b->{id}, $run, $res{status},
                $res{why} ? " ($res{why})" : '', $res{wall}));
        }
    }
    $self->{cleanup}->unfile($tmp);
    return \%res;
}

sub hms {
    my ($s) = @_;
    $s = int($s + 0.5);
    return sprintf('%d:%02d:%02d', $s / 3600, ($s / 60) % 60, $s % 60) if $s >= 3600;
    return sprintf('%d:%02d', $s / 60, $s % 60);
}

sub run_all {
    my ($self) = @_;
    my @todo = @{ $self->{todo} };
    my $p = $self->{plan};
    $self->{t_start} = time;
    my $total = @todo;
    $self->say_(sprintf('%d run(s) to do: %d benchmark(s) x %d run(s)%s', $total,
        scalar(grep { !$_->{not_applicable} } @{ $p->{entries} }), $p->{runs},
        $self->{skipped} ? ", less $self->{skipped} complete" : ''));
    for my $i (0 .. $#todo) {
        my ($b, $run) = @{ $todo[$i] };
        $self->check_signal;
        my $res = $self->run_one($b, $run);
        $self->check_signal;
        push @{ $self->{dur}{ $b->{id} } }, $res->{wall};
        $self->{why}{ $b->{id} } = $res->{why} if $res->{status} eq 'failed';
        # ETA: each remaining run as long as that benchmark's runs so far, or
        # the mean of all runs so far when it has not run yet
        my $elapsed = time - $self->{t_start};
        my $done = $i + 1;
        my $mean_all = $elapsed / $done;
        my $eta = 0;
        for my $t (@todo[ $done .. $#todo ]) {
            my $d = $self->{dur}{ $t->[0]{id} };
            my $s = 0;
            $s += $_ for @{ $d // [] };
            $eta += $d ? $s / @$d : $mean_all;
        }
        my $w = length $total;
        my $st = $res->{status} eq 'ok' ? 'ok' : "$res->{status}: $res->{why}";
        $self->say_(sprintf("[%*d/%d] %-26s run %d/%d  %6.1f s  %s  (elapsed %s, ETA %s)",
            $w, $done, $total, $b->{id}, $run, $p->{runs}, $res->{wall}, $st, hms($elapsed), hms($eta)));
    }
}

sub median {
    my @v = sort { $a <=> $b } @_;
    return undef unless @v;
    return @v % 2 ? $v[$#v / 2] : ($v[ @v / 2 - 1 ] + $v[ @v / 2 ]) / 2;
}

# The summary: every run on disk for this tag, this session's or earlier.
# -> exit status (1 when a run failed)
sub summarize {
    my ($self) = @_;
    my $p = $self->{plan};
    my (@lines, @notes);
    my $failed = 0;
    push @lines, sprintf('%-26s %4s %7s %6s  %-18s %s', 'bench', 'ok', 'limited', 'failed', 'main column', 'median');
    for my $b (@{ $p->{entries} }) {
        if ($b->{not_applicable}) {
            push @lines, sprintf('%-26s %4s %7s %6s  %-18s %s', $b->{id}, '-', '-', '-', $b->{main_column} // '?', 'not applicable');
            push @notes, "$b->{id}: not applicable: $b->{not_applicable}";
            next;
        }
        my ($ok, $lim, $fail) = (0, 0, 0);
        my (@vals, @fails);
        for my $run (1 .. $p->{runs}) {
            my $f = $self->dat_path($b, $run);
            if (-f $f) {
                $self->note_run($b, $f, parse_file($f)) unless $self->{filed}{$f};
                my $r = $self->{filed}{$f};
                if ($r->{kind} eq 'completed') { $ok++ }
                elsif ($r->{kind} eq 'stopped') { $lim++; push @notes, "$b->{id}.$run: $r->{end}" }
                else { $fail++; push @fails, $run; next }
                push @vals, @{ $r->{vals} };
            } else {
                $fail++;
                push @fails, $run;
            }
        }
        if (@fails) {
            $failed++;
            push @notes, sprintf('%s: run%s %s failed: %s', $b->{id}, @fails > 1 ? 's' : '', join(',', @fails),
                $self->{why}{ $b->{id} } // "see $self->{out}/log");
        }
        my $m = median(@vals);
        my $mc = $b->{main_column} // '?';
        push @lines, sprintf('%-26s %4d %7d %6d  %-18s %s', $b->{id}, $ok, $lim, $fail, $mc,
            defined $m ? sprintf($mc =~ /_ns$/ ? '%.1f ns' : '%.1f', $m) : '-');
    }
    my $wall = time - ($self->{t_start} // time);
    my $summary = join("\n", @lines) . "\n";
    $summary .= "\n" . join("\n", map { "  $_" } @notes) . "\n" if @notes;
    $summary .= sprintf("\n%d run(s) measured in %s (data preparation %.1f s); %d skipped as complete.\n",
        scalar @{ $self->{todo} }, hms($wall), $self->{prep_s}, $self->{skipped});
    my $err = write_atomic("$self->{out}/summary.txt", $summary);
    print "\n$summary";
    if (defined $err) {
        $self->note("summary.txt not written: $err (the old one, if any, is unchanged)");
        $failed++;
    }
    $self->log('done: ' . scalar(@{ $self->{todo} }) . ' run(s) in ' . hms($wall));
    return $failed ? 1 : 0;
}

1;
