#!/usr/bin/env perl
# harness/lib/Scalebench/Suite.pm: every entry is complete and consistent
# (the runner, the VM runner and the plots all read it), at the study's sizes.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use SBTest;
use Scalebench::Suite qw(suite data best_backend preparation parse_need placeholders tunables limit_sysctls os_facts);
use Test::More;

for my $os (qw(linux freebsd openbsd netbsd darwin)) {
    my @s = suite(os => $os);
    ok(@s >= 10, "$os: a suite of " . scalar(@s) . ' entries');
    my %seen;
    for my $b (@s) {
        my $id = $b->{id} // '(no id)';
        my @p;
        push @p, 'id is not [a-z0-9._-]+' unless $id =~ /^[a-z0-9._-]+$/;
        push @p, 'id given twice' if $seen{$id}++;
        push @p, "id does not start with its program" unless $id eq $b->{program} || index($id, "$b->{program}-") == 0
            || $b->{program} eq 'forkbench-static';
        for my $k (qw(program title main_column)) { push @p, "no $k" unless defined $b->{$k} && length $b->{$k} }
        for my $k (qw(args quick_args needs)) { push @p, "$k is not a list" unless ref $b->{$k} eq 'ARRAY' }
        for my $k (qw(uses quick_uses)) {
            if (ref $b->{$k} ne 'HASH') { push @p, "$k is not a hash"; next }
            for my $r (keys %{ $b->{$k} }) {
                push @p, "$k: unknown resource '$r'" unless $r =~ /^(?:descriptors|processes|ports|mappings)$/;
                push @p, "$k: $r is not a count" unless ($b->{$k}{$r} // '') =~ /^[1-9]\d*$/;
            }
        }
        push @p, 'timeout is not a positive number' unless ($b->{timeout} // '') =~ /^[1-9]\d*$/;
        for my $set (qw(args quick_args)) {
            my %ph = map { /^\{(\w+)\}$/ ? ($1 => 1) : () } @{ $b->{$set} };
            my %need = map { ($_ => 1) } keys %{ placeholders(@{ $b->{needs} }) };
            push @p, "$set placeholders {" . join(',', sort keys %ph) . "} do not match needs (" . join(',', @{ $b->{needs} }) . ')'
                unless join(',', sort keys %ph) eq join(',', sort keys %need);
        }
        for my $n (@{ $b->{needs} }) {
            my ($name, $param) = parse_need($n);
            push @p, "unknown need '$n'" unless defined $name && preparation($name);
            push @p, "httpd backend '$param' is not one of this OS's" if ($name // '') eq 'httpd'
                && !grep { $_ eq ($param // '') } @{ os_facts($os)->{backends} };
        }
        if (defined $b->{columns}) {
            push @p, "columns do not start with n" unless $b->{columns} =~ /^n /;
            push @p, "main_column '$b->{main_column}' is not one of the columns"
                unless grep { $_ eq $b->{main_column} } split / /, $b->{columns};
        }
        is_deeply(\@p, [], "$os: $id is complete and consistent");
    }
    my @ids = map { $_->{id} } @s;
    my $best = best_backend($os);
    for my $want (qw(socketbench socketbench-ipv6 forkbench forkbench-static mmapbench manymapbench
                     acceptbench pollbench fdbench herdbench-accept mallocbench), "httpbench-$best", 'httpbench-poll') {
        ok((grep { $_ eq $want } @ids), "$os: runs $want");
    }
    is(scalar(grep { /epoll/ } @ids), $os eq 'linux' ? 3 : 0, "$os: the epoll entries only on Linux");
    my %na = map { ($_->{id} => $_->{not_applicable}) } grep { $_->{not_applicable} } @s;
    if ($os eq 'darwin') {
        is_deeply([ keys %na ], ['forkbench-static'], 'darwin: forkbench-static is the one entry not applicable');
        like($na{'forkbench-static'} // '', qr/static link/, 'darwin: and the reason says why (no static linking)');
    } else {
        is_deeply(\%na, {}, "$os: every entry applies");
    }
    my @t = tunables($os);
    ok(@t >= 3, "$os: tunables for --tune");
    for my $t (@t) {
        ok($t->{name} =~ /^[a-z][a-z0-9_.-]+$/ && defined $t->{want} && $t->{for}, "$os: tunable $t->{name} has a target value and a purpose");
    }
    my $ls = limit_sysctls($os);
    ok($ls->{$_}, "$os: the limit $_ has a sysctl name") for qw(pid_max somaxconn file_max port_range);
}

# no benchmark is named outside the registry: the runner, harness/run, the
# VM runner and the system record all read Suite.pm
{
    my %progs = map { ($_->{program} => 1) } map { suite(os => $_) } qw(linux freebsd darwin);
    for my $f (qw(harness/run harness/vm harness/lib/Scalebench/Runner.pm harness/lib/Scalebench/VM.pm
                  harness/lib/Scalebench/System.pm harness/lib/Scalebench/Cleanup.pm)) {
        open my $fh, '<', ROOT() . "/$f" or die "$f: $!";
        my $text = do { local $/; <$fh> };
        my @named = grep { $text =~ /\b\Q$_\E\b/ } sort keys %progs;
        is_deeply(\@named, [], "$f names no benchmark");
    }
}
is(best_backend('linux'), 'epoll', 'best backend on Linux: epoll');
is(best_backend($_), 'kqueue', "best backend on $_: kqueue") for qw(freebsd openbsd netbsd darwin);

# the sizes of the 2003 study
my %s = map { ($_->{id} => $_) } suite(os => 'linux');
is("@{ $s{socketbench}{args} }", '-c 10000', 'socket/bind: 10000');
is("@{ $s{forkbench}{args} }", '-c 10000', 'fork: 10000');
is("@{ $s{'forkbench-static'}{args} }", '-c 10000', 'fork, static: 10000');
is("@{ $s{mmapbench}{args} }", '-s 200M {bigfile}', 'mmap: a 200 MB file');
is(data(0)->{bigfile_bytes}, 200 * 1024 * 1024, 'the runner makes it 200 MB');
is("@{ $s{manymapbench}{args} }", '-c 10000 {tree}', 'small files: 10000');
is(data(0)->{tree_files}, 10000, 'the runner makes 10000 of them');
is("@{ $s{'httpbench-epoll'}{args} }", '-c 10000 {url}', 'HTTP: 10000 connections');
is($s{fdbench}{uses}{descriptors}, 100000, 'resources are declared: fdbench holds 100000 descriptors');
is($s{forkbench}{quick_uses}{processes}, 200, 'and at --quick sizes: forkbench 200 processes');

done_testing;
