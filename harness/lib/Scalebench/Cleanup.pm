package Scalebench::Cleanup;
# The harness's one cleanup registry: everything that must not outlive a run
# (process groups, the scratch directory, temporary files, sysctls changed by
# --tune), kept in memory AND in a state file, so that what a run killed by
# SIGKILL left behind is cleaned by the next one:
#
#   my $c = Scalebench::Cleanup->new(dir => STATE_DIR, say => sub {...});
#   $c->group($pgid, 'what'); ... $c->ungroup($pgid);
#   $c->file($tmp, keep_as => $final); ... $c->unfile($tmp);
#   $c->dir($scratch);
#   $c->sysctl(name => N, old => V, root => R) or die ...;  # BEFORE writing it
#   $c->run;                  # on every way out: kills, removes, restores
#   Scalebench::Cleanup->sweep(dir => STATE_DIR, results => [DIR...],
#       scratch => [DIR...], say => sub {...});             # at start
#
# The state file is STATE_DIR/scalebench-run.PID.state, rewritten (to a
# temporary name, then renamed) on every change; sweep() treats the state
# files, scratch directories (scalebench-PID-*) and temporary files
# (.NAME.tmp.PID, .httpd.err.PID) of processes that no longer exist as
# leftovers: it kills the process groups they list, restores the sysctls
# (from the values saved before they were changed), keeps a complete result
# found in a temporary file (renamed to its final name), removes the rest.
# Also home of write_atomic() and io_error(), the harness's way to write a
# file (temporary name, rename) and to name an I/O error. Core perl only.
use strict;
use warnings;
use Exporter 'import';
use POSIX ();
use File::Path qw(remove_tree);
use File::Spec;
use Time::HiRes qw(time sleep);
use Scalebench::Result qw(parse_file validate end_kind);
our @EXPORT_OK = qw(write_atomic io_error errno_name pid_alive kill_group);

# errno_name() -> "ENOSPC" for the current $!, or '' when unknown
sub errno_name {
    return '' unless $! + 0;
    my ($k) = sort grep { $!{$_} } keys %!;
    return $k // '';
}

# io_error(WHAT, PATH) -> "cannot WHAT PATH: No space left on device (ENOSPC)"
sub io_error {
    my ($what, $path) = @_;
    my $msg = "$!";
    my $name = errno_name();
    $msg = 'unknown error' unless length $msg;
    return "cannot $what $path: $msg" . (length $name ? " ($name)" : '');
}

# write_atomic(PATH, CONTENT) -> undef, or the error (one line). The content
# goes to PATH's directory as .NAME.tmp.PID, is flushed and closed, then
# renamed over PATH: PATH is whole (old or new), never empty or cut short.
sub write_atomic {
    my ($path, $content) = @_;
    my ($vol, $dir, $name) = File::Spec->splitpath($path);
    my $tmp = File::Spec->catpath($vol, $dir, ".$name.tmp.$$");
    my $err;
    if (open my $fh, '>', $tmp) {
        $err = io_error('write', $tmp) unless print $fh $content;
        if (!close $fh) { $err //= io_error('write', $tmp) }
    } else {
        $err = io_error('create', $tmp);
    }
    if (!defined $err && !rename $tmp, $path) { $err = io_error('rename to', $path) }
    unlink $tmp if defined $err;
    return $err;
}

# pid_alive(PID) -> true when a process PID exists (kill 0: EPERM means it does)
sub pid_alive {
    my ($pid) = @_;
    return 0 unless $pid && $pid =~ /^\d+$/ && $pid > 1;
    return 1 if kill 0, $pid;
    return $!{EPERM} ? 1 : 0;
}

sub group_alive {
    my ($pg) = @_;
    return 0 unless $pg && $pg =~ /^\d+$/ && $pg > 1;
    return 1 if kill 0, -$pg;
    return $!{EPERM} ? 1 : 0;
}

sub new {
    my ($class, %o) = @_;
    my $self = bless { dir => $o{dir}, say => $o{say} // sub { }, pid => $$,
        groups => {}, files => {}, dirs => [], sysctls => [], done => 0 }, $class;
    $self->{state} = defined $o{dir} ? "$o{dir}/scalebench-run.$$.state" : undef;
    return $self;
}

# Rewrites the state file; -> undef or the error.
sub save {
    my ($self) = @_;
    return undef unless defined $self->{state};
    my $s = "pid $$\n";
    $s .= "group $_ $self->{groups}{$_}\n" for sort keys %{ $self->{groups} };
    for my $f (sort keys %{ $self->{files} }) {
        my $k = $self->{files}{$f};
        $s .= "file $f" . (defined $k ? "\t$k" : '') . "\n";
    }
    $s .= "dir $_\n" for @{ $self->{dirs} };
    $s .= "sysctl $_->{name}\t$_->{old}\t" . ($_->{root} // '') . "\n" for @{ $self->{sysctls} };
    my $err = write_atomic($self->{state}, $s);
    $self->{say}->("cleanup state: $err") if defined $err && !$self->{warned}++;
    return $err;
}

sub group   { my ($s, $pg, $what) = @_; $s->{groups}{$pg} = ($what // 'process') =~ s/\s+/_/gr; $s->save; }
sub ungroup { my ($s, $pg) = @_; delete $s->{groups}{$pg}; $s->save; }
sub file    { my ($s, $f, %o) = @_; $s->{files}{$f} = $o{keep_as}; $s->save; }
sub unfile  { my ($s, $f) = @_; delete $s->{files}{$f}; $s->save; }
sub dir     { my ($s, $d) = @_; push @{ $s->{dirs} }, $d; $s->save; }

# sysctl(name => N, old => V, root => R): records the original value before
# it is changed; -> undef when it is safely recorded, else the error (the
# caller must then not change it).
sub sysctl {
    my ($s, %o) = @_;
    return 'no state file' unless defined $s->{state};
    push @{ $s->{sysctls} }, { name => $o{name}, old => $o{old}, root => $o{root} };
    my $err = $s->save;
    pop @{ $s->{sysctls} } if defined $err;
    return $err;
}

# unsysctl(NAME): NAME was not changed after all (its write failed).
sub unsysctl {
    my ($s, $name) = @_;
    $s->{sysctls} = [ grep { $_->{name} ne $name } @{ $s->{sysctls} } ];
    return $s->save;
}

# kill_group(PG, GRACE): SIGTERM to process group PG, SIGKILL after GRACE
# seconds (default 3) if anything of it is still there.
sub kill_group {
    my ($pg, $grace) = @_;
    return unless group_alive($pg);
    kill 'TERM', -$pg;
    my $end = time + ($grace // 3);
    while (time < $end) {
        last unless group_alive($pg);
        sleep 0.05;
    }
    kill 'KILL', -$pg;
}

# Cleans up everything registered, once: process groups (SIGTERM, then
# SIGKILL), temporary files, directories, sysctls (last changed first). The
# state file goes last, when all is done.
sub run {
    my ($self, %o) = @_;
    return if $self->{done}++ || $$ != $self->{pid};
    for my $pg (keys %{ $self->{groups} }) { kill_group($pg, $o{grace} // 3); waitpid($pg, POSIX::WNOHANG()) }
    unlink keys %{ $self->{files} };
    for my $d (@{ $self->{dirs} }) { remove_tree($d) if -d $d }
    while (my $sc = pop @{ $self->{sysctls} }) { restore_sysctl($sc, $self->{say}) }
    unlink $self->{state} if defined $self->{state};
}

# Restores one recorded sysctl and says so.
sub restore_sysctl {
    my ($sc, $say) = @_;
    require Scalebench::System;
    my $err = Scalebench::System::sysctl_write($sc->{name}, $sc->{old}, $sc->{root});
    $say->(defined $err ? "could not restore $sc->{name} to '$sc->{old}': $err" : "restored $sc->{name} = $sc->{old}");
    return !defined $err;
}

# A temporary result file left by a dead run: a complete result (valid,
# ended completed or stopped) is renamed to its final name when there is
# none; anything else is removed. -> what was done, for the log.
sub _settle_tmp {
    my ($tmp, $final) = @_;
    if (defined $final && $tmp =~ /\.dat\.tmp\.\d+$/ && !-e $final) {
        my $r = parse_file($tmp);
        my $k = end_kind($r->{end}) // '';
        if (!validate($r) && ($k eq 'completed' || $k eq 'stopped')) {
            return rename($tmp, $final) ? "kept the complete result in $tmp as $final" : io_error('rename to', $final);
        }
    }
    unlink $tmp;
    return "removed $tmp";
}

# sweep(dir => STATE_DIR, results => [DIR], scratch => [DIR], say => CODE)
# -> number of leftovers handled.
sub sweep {
    my ($class, %o) = @_;
    my $say = $o{say} // sub { };
    my $n = 0;
    my (%seen_dir);
    if (defined $o{dir} && opendir my $dh, $o{dir}) {
        for my $e (sort readdir $dh) {
            my ($pid) = $e =~ /^scalebench-run\.(\d+)\.state$/ or next;
            next if $pid == $$ || pid_alive($pid);
            my $path = "$o{dir}/$e";
            open my $fh, '<', $path or next;
            my @lines = <$fh>;
            close $fh;
            $n++;
            $say->("a harness run (pid $pid) ended without cleaning up: cleaning what it left");
            my (@groups, @files, @dirs, @sysctls);
            for (@lines) {
                chomp;
                if (/^group (\d+) (\S+)/) { push @groups, [ $1, $2 ] }
                elsif (/^file ([^\t]+)(?:\t(.+))?$/) { push @files, [ $1, $2 ] }
                elsif (/^dir (.+)$/) { push @dirs, $1 }
                elsif (/^sysctl ([^\t]+)\t([^\t]*)\t(.*)$/) { push @sysctls, { name => $1, old => $2, root => length $3 ? $3 : undef } }
            }
            for my $g (@groups) {
                next unless group_alive($g->[0]);
                $say->("killed process group $g->[0] ($g->[1]) of the dead run");
                kill_group($g->[0], 2);
            }
            for my $f (@files) { $say->(_settle_tmp(@$f)) if -e $f->[0] }
            for my $d (@dirs) { if (-d $d) { remove_tree($d); $say->("removed $d") } $seen_dir{$d} = 1 }
            my $ok = 1;
            for my $sc (reverse @sysctls) { $ok = 0 unless restore_sysctl($sc, $say) }
            if ($ok) { unlink $path } else { $say->("kept $path: run harness/run again as root to restore the rest") }
        }
        closedir $dh;
    }
    # leftovers without a state file (it could not be written, or an older harness)
    for my $base (@{ $o{scratch} // [] }) {
        opendir my $dh, $base or next;
        for my $e (readdir $dh) {
            my ($pid) = $e =~ /^scalebench-(\d+)-\w+$/ or next;
            next if $pid == $$ || pid_alive($pid);
            my $d = "$base/$e";
            next unless -d $d && !-l $d;
            remove_tree($d);
            $n++;
            $say->("removed $d, left by a dead run (pid $pid)");
        }
        closedir $dh;
    }
    for my $out (@{ $o{results} // [] }) {
        opendir my $dh, $out or next;
        for my $e (sort readdir $dh) {
            my ($pid) = $e =~ /^\..+\.tmp\.(\d+)$/ or $e =~ /^\.httpd\.err\.(\d+)$/ or next;
            $pid //= ($e =~ /(\d+)$/)[0];
            next if $pid == $$ || pid_alive($pid);
            my $final;
            $final = "$out/$1" if $e =~ /^\.(.+\.dat)\.tmp\.\d+$/;
            $say->(_settle_tmp("$out/$e", $final));
            $n++;
        }
        closedir $dh;
    }
    return $n;
}

1;
