#!/usr/bin/env perl
# The C unit tests of lib/sb.c: t/c/sb_unit prints TAP itself.
use strict;
use warnings;
use FindBin;
my $bin = "$FindBin::Bin/c/sb_unit";
-x $bin or do { print "1..0 # SKIP $bin not built (run make check)\n"; exit 0 };
exec $bin or die "exec $bin: $!";
