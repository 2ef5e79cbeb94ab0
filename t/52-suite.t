#!/usr/bin/env perl
# harness/lib/Scalebench/Suite.pm: every entry is complete and consistent
# (the runner, the VM runner and the plots all read it), at the study's sizes.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use SBTest;
use Scalebench::Suite qw(suite data best_backend);
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
        push @p, 'timeout is not a positive number' unless ($b->{timeout} // '') =~ /^[1-9]\d*$/;
        for my $set (qw(args quick_args)) {
            my %ph = map { /^\{(\w+)\}$/ ? ($1 => 1) : () } @{ $b->{$set} };
            my %need = map { /^httpd:/ ? ('url' => 1) : ($_ => 1) } @{ $b->{needs} };
            push @p, "$set placeholders {" . join(',', sort keys %ph) . "} do not match needs (" . join(',', @{ $b->{needs} }) . ')'
                unless join(',', sort keys %ph) eq join(',', sort keys %need);
        }
        for my $n (@{ $b->{needs} }) {
            push @p, "unknown need '$n'" unless $n =~ /^(?:bigfile|tree|httpd:(?:epoll|kqueue|poll|select))$/;
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

done_testing;
