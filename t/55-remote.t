#!/usr/bin/env perl
# harness/remote against a real OpenSSH server: the test's own sshd on a
# free loopback port with a throwaway host key, user keys and config
# (t/lib/TestSSHD.pm; nothing in any ~/.ssh). One invocation, four hosts
# at once (-j 4):
#   - the good one: --quick --only socketbench,fdbench; its connection is
#     killed mid-run (the sshd session processes are killed, as when the
#     network drops), harness/remote reconnects, the remote harness resumes
#     the complete runs, the results are fetched into results/<tag>/ and
#     pass scripts/check-result;
#   - a wrong port, a refused key, and a host whose PATH has no make: each
#     one clear line, while the others go on.
# The exit status is the number of hosts that failed. Afterwards: no remote
# scratch, no temporary file here, no session left, the sshd stopped.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use SBTest;
use TestSSHD;
use File::Temp qw(tempdir);
use JSON::PP;
use Test::More;

my $tmp = tempdir('sbremote-XXXXXX', TMPDIR => 1, CLEANUP => 1);
# ~/.ssh as it is before: each file's name, size and mtime (or that there is none)
sub ssh_dir_state {
    my $d = "$ENV{HOME}/.ssh";
    return 'none' unless -e $d;
    opendir my $dh, $d or return 'unreadable';
    return join "\n", map { my @st = lstat "$d/$_"; "$_ $st[7] $st[9]" } sort grep { !/^\.\.?$/ } readdir $dh;
}
my $ssh_dir_before = ssh_dir_state();
my $sshd = TestSSHD->start($tmp) or plan skip_all => $TestSSHD::WHY;
my $remote = ROOT() . '/harness/remote';
my $rdir = "$tmp/remote";
my $res = "$tmp/results";
mkdir $rdir or die;
my $ltmp = "$tmp/localtmp";    # harness/remote's own temporary files go here
mkdir $ltmp or die;

sub files_in { opendir my $d, $_[0] or return (); return sort grep { !/^\.\.?$/ } readdir $d }
sub slurp { open my $f, '<', $_[0] or return ''; local $/; return scalar <$f> }

my $user = getpwuid($<);
my $good = $sshd->host;
my $badport = "$user\@127.0.0.1:" . TestSSHD::free_port();
# the same server under other names, so that each gets its own key: ssh's
# -o applies to every host, so the test gives each name its key in a config
my $cfg = "$tmp/ssh_config";
open my $c, '>', $cfg or die;
print $c "Host refused.test\n  HostName 127.0.0.1\n  Port $sshd->{port}\n  IdentityFile $tmp/refused\n";
print $c "Host nomake.test\n  HostName 127.0.0.1\n  Port $sshd->{port}\n  IdentityFile $tmp/nomake\n";
print $c "Host 127.0.0.1\n  IdentityFile $tmp/good\n";
print $c "Host *\n  IdentitiesOnly yes\n  UserKnownHostsFile $tmp/known_hosts\n  GlobalKnownHostsFile /dev/null\n"
       . "  StrictHostKeyChecking accept-new\n  LogLevel ERROR\n  HostKeyAlias scalebench-test\n";
close $c;
my @ssh = ('-F', $cfg);

my $dropped = 0;
my $r = run([ $remote, @ssh, '-j', 4, '--retries', 3, '--retry-wait', 1, '--remote-dir', $rdir,
              '--results', $res, '--quick', '--only', 'socketbench,fdbench', '--tag', 'good,port,key,make',
              $good, $badport, "$user\@refused.test", "$user\@nomake.test" ],
    timeout => 900, shell => "TMPDIR='$ltmp'; export TMPDIR; exec >'$tmp/out'",
    during => sub {    # once the good host's harness has filed its first run: drop its connection
        my $out = slurp("$tmp/out");
        return 0 unless $out =~ /^\Q$good\E: \[ ?1\/\d+\] /m;
        $dropped = $sshd->drop_connections;
        return 1;
    });
$r->{out} = slurp("$tmp/out");

is($r->{exit}, 3, 'exit status 3: three hosts failed') or diag $r->{out}, $r->{err};
ok($dropped, 'the good host\'s connection was killed mid-run') or diag $r->{out};
my @err = grep { /\S/ } split /\n/, $r->{err};
like($r->{err}, qr/^harness\/remote: \Q$badport\E: cannot connect: .*Connection refused$/m, 'wrong port: one line, cannot connect');
like($r->{err}, qr/^harness\/remote: \Q$user\E\@refused\.test: authentication failed: .*Permission denied/m,
     'refused key: one line, authentication failed');
like($r->{err}, qr/^harness\/remote: \Q$user\E\@nomake\.test: no make or gmake on the remote PATH$/m,
     'no make on the PATH: one line, naming it');
is(scalar(grep { /^harness\/remote: / } @err), 3, 'one error line per failed host') or diag $r->{err};

# the good host: dropped, reconnected, resumed, fetched
like($r->{out}, qr/^\Q$good\E: connection lost: .*reconnecting in 1 s \(attempt 2 of 4\)$/m, 'the dropped connection is retried');
like($r->{out}, qr/^\Q$good\E: \d+ run\(s\) already complete: skipped/m, 'the remote harness resumed the complete runs');
my @built = $r->{out} =~ /^\Q$good\E: (built with)/mg;
is(scalar @built, 1, 'it was built once, not again after reconnecting');
like($r->{out}, qr/^\Q$good\E: fetched \d+ files into \Q$res\E\/good$/m, 'the results were fetched into results/good');
like($r->{out}, qr/^1 of 4 host\(s\) done in \d+:\d\d; 3 failed$/m, 'the summary line');
my $dir = "$res/good";
my @dat = grep { /\.dat$/ } files_in($dir);
is(scalar(grep { /^fdbench\.[1-5]\.dat$/ } @dat), 5, 'fdbench: 5 runs fetched');
is(scalar(grep { /^socketbench\.[1-5]\.dat$/ } @dat), 5, 'socketbench: 5 runs fetched');
my $chk = run([ ROOT() . '/scripts/check-result', map { "$dir/$_" } @dat ]);
is($chk->{exit}, 0, 'every fetched result passes scripts/check-result') or diag $chk->{out};
my $sys = eval { JSON::PP->new->decode(slurp("$dir/system.json")) } // {};
is($sys->{tag}, 'good', 'system.json is the remote harness\'s record, under the given tag');
like($sys->{revision} // '', qr/^[0-9a-f]{7,}(?:-dirty)?$/, 'it names the source revision sent (no .git over there)');
like(slurp("$dir/log"), qr/interrupted by SIGTERM/, 'the remote log shows the harness stopped when the connection dropped');
my $rj = eval { JSON::PP->new->decode(slurp("$dir/remote.json")) } // {};
is($rj->{host}, $good, 'remote.json names the host');
ok(!-e "$res/$_", "nothing filed for the failed host's tag '$_'") for qw(port key make);

# nothing left behind
is_deeply([ files_in($rdir) ], [], 'the remote scratch folders are removed (the good and the no-make host)');
is_deeply([ files_in($ltmp) ], [], 'no temporary file of harness/remote is left here');
my @left = $sshd->sessions;
for (1 .. 100) { last unless @left; select(undef, undef, undef, 0.1); @left = $sshd->sessions }
is_deeply(\@left, [], 'no ssh session is left');
$sshd->stop;
is(ssh_dir_state(), $ssh_dir_before, 'nothing was written to ~/.ssh');

# usage
is(run([ $remote ])->{exit}, 2, 'no host: exit 2');
is(run([ $remote, '--tag', 'a', 'h1', 'h2' ])->{exit}, 2, 'one tag for two hosts: exit 2');
is(run([ $remote, 'h1', 'h1' ])->{exit}, 2, 'the same host twice without tags: exit 2');
is(run([ $remote, 'bad host' ])->{exit}, 2, 'a bad host name: exit 2');
done_testing;
