#!/usr/bin/env perl
# The fault suite, signals: every program, mid-run, gets SIGINT (to its whole
# process group, as Ctrl-C sends it), SIGTERM (to the program, as a harness
# or kill(1) sends it) and SIGKILL (to the program alone). SIGINT/SIGTERM: it
# prints the rows so far and `# end: interrupted: SIGxxx`, then dies by that
# signal (docs/format.md); SIGKILL: nothing of it outlives it -- no child
# (keepers, waiters, workers, forked children), and whatever file a killed
# run leaves the next run cleans up or refuses, never silently uses
# (issue 14 items 9, 10).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use SBTest;
use SBFaults;
use POSIX ();
use Test::More;

for my $p (qw(socketbench fdbench acceptbench forkbench herdbench mallocbench pollbench mmapbench
              manymapbench httpbench httpd mktestdata)) {
    -x bin($p) or plan skip_all => bin($p) . " not built";
}

my $docroot = File::Temp::tempdir(CLEANUP => 1);
{ open my $f, '>', "$docroot/small.txt" or die; print $f "small\n"; close $f }
my $srv = start_server([ bin('httpd'), '-r', $docroot ], ready => qr/^listening /);
my ($port) = $srv->{line} =~ /^listening \S+ (\d+)/;
my $url = "http://127.0.0.1:$port/small.txt";

# When a program is mid-run (Linux: by what it holds; elsewhere by time).
my $L = on_linux();
sub fds_over { my $n = shift; sub { $L ? fds_of($_[0]) > $n : $_[1] > 1 } }
sub kids_over { my $n = shift; sub { $L ? proc_count($_[0]) > $n : $_[1] > 1 } }
sub threads_over { my $n = shift; sub { $L ? threads_of($_[0]) > $n || proc_count($_[0]) > 0 : $_[1] > 1 } }
sub file_over {
    my ($f, $bytes) = @_;
    sub { my $d = readlink("/proc/$_[0]/cwd") // ''; (-s "$d/$f" // 0) > $bytes || (glob("$d/$f.*"))[0] && -s (glob("$d/$f.*"))[0] > $bytes }
}
sub tree_over { my $n = shift; sub { my $d = readlink("/proc/$_[0]/cwd") // ''; -d sprintf("%s/tree/%04d", $d, $n) } }
my $shared_tree = File::Temp::tempdir(CLEANUP => 1) . '/tree';
system(bin('mktestdata'), '-c', 2000, $shared_tree) == 0 or die "mktestdata failed";
my $tree = sub { symlink($shared_tree, "$_[0]/tree") or die "symlink: $!" };

# program, arguments (each runs well beyond the signal), when it is mid-run
my @cases = (
    [ 'socketbench', [ '-c', 19000 ], fds_over(200) ],
    [ 'fdbench', [ '-c', 19000 ], fds_over(200) ],
    [ 'acceptbench', [ '-c', 19000 ], fds_over(200) ],
    [ 'forkbench', [ '-c', 5000 ], kids_over(20) ],
    # rounds under way (issue 14 item 9: Ctrl-C there was "failed: waiter N
    # ended (signal 2)")
    [ 'herdbench', [ '-w', 200, '-r', 20 ], sub { kids_over(5)->(@_) && $_[1] > 1.2 }, only => 'INT' ],
    [ 'herdbench', [ '-w', 200, '-r', 20 ], kids_over(5), only => 'TERM KILL' ],
    [ 'mallocbench', [ '-t', 4, '-n', 1000000000000 ], threads_over(1) ],
    [ 'pollbench', [ '-n', 3000, '-r', 3000 ], fds_over(1000) ],
    [ 'manymapbench', [ 'tree' ], fds_over(300), setup => $tree, keep => qr/^tree/ ],
    [ 'httpbench', [ '-c', 19000, $url ], fds_over(200) ],
    # creating its file: a run that ends short of SIGKILL removes it
    [ 'mmapbench', [ '-s', '1G', 'file' ], file_over('file', 8 << 20) ],
);

for my $c (@cases) {
    my ($prog, $args, $when, %o) = @$c;
    (my $name = "$prog @$args") =~ s{http://\S+}{URL};
    for my $sig ([ 'INT', 'group' ], [ 'TERM', 'process' ], [ 'KILL', 'process' ]) {
        my ($s, $to) = @$sig;
        next if $o{only} && $o{only} !~ /\b$s\b/;
        my $r = fault_run([ bin($prog), @$args ], signal => $s, to => $to, when => $when, timeout => 60,
            setup => $o{setup}, keep => $o{keep});
        my $what = "$name, SIG$s to the " . ($to eq 'group' ? 'process group' : 'program');
        ok($r->{signalled}, "$what: the signal came mid-run") or diag "exit $r->{exit}: $r->{err}";
        if ($s eq 'KILL') {
            # a killed mmapbench leaves its unfinished file: checked below
            expect_end($what, $r, signal => 'KILL', output => 0, files => $prog ne 'mmapbench');
        } else {
            expect_end($what, $r, signal => $s, end => qr/^interrupted: SIG$s\b/);
        }
    }
}

# mmapbench killed while creating its file, then run again on the same path
# (issue 14 item 10): the second run never measures a half-written file as if
# it were whole -- it refuses it (exit 2, one line) or makes a whole one --
# and afterwards nothing but the file is left.
{
    my $page = POSIX::sysconf(POSIX::_SC_PAGESIZE()) || 4096;
    my ($kept, $second);
    my $r = fault_run([ bin('mmapbench'), '-s', '128M', 'file' ], signal => 'KILL', when => file_over('file', 4 << 20),
        setup => sub { $kept = $_[0] });
    ok($r->{signalled}, 'mmapbench -s 128M killed while creating its file');
    my $second_run = fault_run([ bin('mmapbench'), '-s', '128M', 'file' ], keep => qr/^file$/,
        setup => sub { system('cp', '-a', "$kept/.", $_[0]) == 0 or die "cp: $?" });
    my $e = $second_run->{exit} // -1;
    if ($e == 2) {
        pass('the next run refuses the unfinished file (exit 2)');
        like($second_run->{err}, qr/\A[^\n]*file[^\n]*\n\z/, 'in one line naming it');
    } else {
        is($e, 0, 'the next run completes') or diag $second_run->{err};
        is(scalar @{ $second_run->{parsed}{rows} }, (128 << 20) / (2 * $page),
            'over the whole 128 MiB: every other page mapped, none missing');
    }
    is_deeply($second_run->{new_files}, [], 'nothing else left behind (no temporary or half-written file)');
}

# mktestdata: a tool, no result file; interrupted it dies by the signal, the
# tree has no marker (it is not complete), and a second run completes it
# leaving nothing but the tree.
for my $sig ([ 'INT', 'group' ], [ 'TERM', 'process' ], [ 'KILL', 'process' ]) {
    my ($s, $to) = @$sig;
    my $kept;
    my $r = fault_run([ bin('mktestdata'), '-c', 4000, 'tree' ], signal => $s, to => $to, when => tree_over(10),
        keep => qr/^tree/, setup => sub { $kept = $_[0] });
    ok($r->{signalled}, "mktestdata, SIG$s: mid-run");
    expect_end("mktestdata, SIG$s", $r, signal => $s, output => 0);
    ok(!-e "$r->{dir}/tree/.mktestdata", "mktestdata, SIG$s: no marker: the tree is not complete");
    my $again = system(bin('mktestdata'), '-c', 4000, "$r->{dir}/tree");
    is($again, 0, "mktestdata, SIG$s: a second run completes the tree");
    my @odd = grep { !m{^tree(?:/\d{4}(?:/\d{2})?|/\.mktestdata)?$} } files_under($r->{dir});
    is_deeply(\@odd, [], "mktestdata, SIG$s: nothing but the tree's files");
}

# httpd with two workers: SIGINT and SIGTERM end it (exit 0) and remove its
# pid file; SIGKILL of the master takes the workers with it.
for my $sig ([ 'INT', 'group' ], [ 'TERM', 'process' ], [ 'KILL', 'process' ]) {
    my ($s, $to) = @$sig;
    my $r = fault_run([ bin('httpd'), '-w', 2, '-r', $docroot, '-P', 'pid' ], signal => $s, to => $to,
        when => kids_over(1), timeout => 20);
    ok($r->{signalled}, "httpd -w 2, SIG$s: while serving");
    if ($s eq 'KILL') {
        expect_end("httpd -w 2, SIG$s", $r, signal => 'KILL', output => 0, files => 0);
    } else {
        expect_end("httpd -w 2, SIG$s", $r, exit => 0, output => 0);
    }
}

my $st = stop_server($srv);
is($st->{exit}, 0, 'the httpd the httpbench cases used ends cleanly');

done_testing;
