package Scalebench::Result;
# Reads and validates scalebench result files (docs/format.md).
# Used by scripts/check-result, the harness, the plots and the tests.
# Core perl only.
use strict;
use warnings;
use Exporter 'import';
our @EXPORT_OK = qw(parse_file parse_text validate end_kind);

our $FORMAT_VERSION = 1;
our @REQUIRED_HEADER = qw(scalebench bench args columns units clock clock_hz
    stamp_overhead_ns os release machine date count);
our @TRAILER = qw(rows wall_s end);
my %IS_TRAILER = map { $_ => 1 } @TRAILER;
my %IS_REQUIRED_HEADER = map { $_ => 1 } @REQUIRED_HEADER;

# parse_text($text) -> hashref:
#   header  => { key => value }, header_keys => [ keys in order ],
#   trailer => { rows, wall_s, end }, columns => [..], units => [..],
#   trailer_extra => { key => value } (trailer lines other than rows,
#              wall_s and end, after the rows and before "# end:"),
#   rows    => [ [n, v1, ...], ... ] (missing values stay '-'),
#   migrated => { "ROW.COL" => 1 } the values that crossed CPUs (from the
#               trailer's migrated_at; ROW a 0-based index into rows, COL a
#               column number, 1 = the first after n): a plot can draw
#               them apart,
#   errors  => [ problems found while reading ]
sub parse_text {
    my ($text) = @_;
    my %r = (header => {}, header_keys => [], trailer => {}, trailer_extra => {}, trailer_extra_keys => [], rows => [],
             columns => [], units => [], errors => []);
    my $lineno = 0;
    my $state = 'header';    # header -> rows -> trailer
    my @lines = split /\n/, $text, -1;
    pop @lines if @lines && $lines[-1] eq '';    # the final newline
    for my $line (@lines) {
        $lineno++;
        if ($line =~ /^# ([a-z][a-z0-9_]*): (.*)$/) {
            my ($k, $v) = ($1, $2);
            if ($IS_TRAILER{$k}) {
                push @{ $r{errors} }, "line $lineno: trailer key '$k' given twice"
                    if exists $r{trailer}{$k};
                $r{trailer}{$k} = $v;
                $state = 'trailer';
            } elsif ($state eq 'header') {
                push @{ $r{errors} }, "line $lineno: header key '$k' given twice"
                    if exists $r{header}{$k};
                push @{ $r{header_keys} }, $k unless exists $r{header}{$k};
                $r{header}{$k} = $v;
            } elsif (defined $r{trailer}{end}) {
                push @{ $r{errors} }, "line $lineno: '$k' after the end line";
            } elsif ($IS_REQUIRED_HEADER{$k}) {
                push @{ $r{errors} }, "line $lineno: header line '$k' after the rows";
            } else {
                # more trailer lines ("# key: value" after the rows, before
                # "# end:"): kept in trailer_extra, in order
                push @{ $r{errors} }, "line $lineno: trailer key '$k' given twice"
                    if exists $r{trailer_extra}{$k};
                push @{ $r{trailer_extra_keys} }, $k unless exists $r{trailer_extra}{$k};
                $r{trailer_extra}{$k} = $v;
                $state = 'trailer';
            }
        } elsif ($line =~ /^#/) {
            push @{ $r{errors} }, "line $lineno: malformed comment line '$line'";
        } elsif ($line eq '') {
            push @{ $r{errors} }, "line $lineno: empty line";
        } else {
            push @{ $r{errors} }, "line $lineno: row after the trailer" if $state eq 'trailer';
            $state = 'rows' if $state eq 'header';
            push @{ $r{rows} }, [ split / /, $line, -1 ];
            $r{row_lines}[ $#{ $r{rows} } ] = $lineno;
        }
    }
    push @{ $r{errors} }, "the last line does not end in a newline (cut short?)"
        if length $text && $text !~ /\n\z/;
    $r{columns} = [ split / /, $r{header}{columns} ] if defined $r{header}{columns};
    $r{units}   = [ split / /, $r{header}{units} ]   if defined $r{header}{units};
    $r{end} = $r{trailer}{end};
    $r{migrated} = { map { $_ => 1 } split / /, $r{trailer_extra}{migrated_at} // '' };
    return \%r;
}

sub parse_file {
    my ($path) = @_;
    open my $fh, '<', $path or return { errors => ["cannot read $path: $!"], rows => [],
                                        header => {}, trailer => {}, columns => [], units => [] };
    local $/;
    my $text = <$fh>;
    close $fh;
    return parse_text($text);
}

# completed | stopped | failed | interrupted | undef
sub end_kind {
    my ($end) = @_;
    return undef unless defined $end;
    return $1 if $end =~ /^(completed|stopped|failed|interrupted)\b/;
    return undef;
}

my $NUM = qr/^(?:0|[1-9][0-9]*)(?:\.[0-9]+)?$/;

# validate($parsed, rows => N, min_rows => N, columns => 'n a_ns', bench => NAME,
#          end => 'completed'|'stopped'|...) -> list of problems (empty: valid)
sub validate {
    my ($r, %want) = @_;
    my @e = @{ $r->{errors} };
    my $h = $r->{header};
    push @e, "first line is not '# scalebench: $FORMAT_VERSION'"
        unless ($r->{header_keys}[0] // '') eq 'scalebench' && ($h->{scalebench} // '') eq $FORMAT_VERSION;
    for my $k (@REQUIRED_HEADER) {
        push @e, "header key '$k' missing" unless defined $h->{$k};
    }
    for my $k (@TRAILER) {
        push @e, "trailer key '$k' missing" unless defined $r->{trailer}{$k};
    }
    my @cols = @{ $r->{columns} };
    my @units = @{ $r->{units} };
    if (@cols) {
        push @e, "columns do not start with n" unless $cols[0] eq 'n';
        my %seen;
        for my $c (@cols) {
            push @e, "bad column name '$c'" unless $c =~ /^[a-z][a-z0-9_]*$/;
            push @e, "column '$c' twice" if $seen{$c}++;
        }
        push @e, "units has " . scalar(@units) . " entries for " . scalar(@cols) . " columns"
            unless @units == @cols;
        for my $i (0 .. $#units) {
            my $u = $units[$i];
            my $c = $cols[$i] // '';
            my $expect = $i == 0 ? 'count' : $c =~ /_ns$/ ? 'ns' : 'count';
            push @e, "column '$c' has unit '$u', expected '$expect'" unless $u eq $expect;
        }
    }
    push @e, "clock_hz '$h->{clock_hz}' is not a positive number"
        if defined $h->{clock_hz} && !($h->{clock_hz} =~ $NUM && $h->{clock_hz} > 0);
    push @e, "stamp_overhead_ns '$h->{stamp_overhead_ns}' is not a number"
        if defined $h->{stamp_overhead_ns} && $h->{stamp_overhead_ns} !~ $NUM;
    push @e, "count '$h->{count}' is not a whole number"
        if defined $h->{count} && $h->{count} !~ /^[0-9]+$/;
    my $bad = 0;
    for my $i (0 .. $#{ $r->{rows} }) {
        my $row = $r->{rows}[$i];
        my $ln = $r->{row_lines}[$i];
        my @p;
        push @p, "has " . scalar(@$row) . " fields, expected " . scalar(@cols)
            if @cols && @$row != @cols;
        push @p, "n '$row->[0]' is not a whole number" unless ($row->[0] // '') =~ /^(?:0|[1-9][0-9]*)$/;
        for my $v (@$row[ 1 .. $#$row ]) {
            next if $v eq '-' || $v =~ $NUM;
            push @p, "value '$v' is neither a non-negative number nor -";
        }
        if (@p) {
            push @e, "line $ln: " . join('; ', @p) if $bad < 5;
            $bad++;
        }
    }
    push @e, "... and " . ($bad - 5) . " more bad rows" if $bad > 5;
    my $nrows = @{ $r->{rows} };
    my $t = $r->{trailer};
    push @e, "trailer says rows: $t->{rows} but the file has $nrows"
        if defined $t->{rows} && $t->{rows} ne $nrows;
    push @e, "wall_s '$t->{wall_s}' is not a number" if defined $t->{wall_s} && $t->{wall_s} !~ $NUM;
    my $x = $r->{trailer_extra} // {};   # the clock's trailer lines (docs/format.md)
    if (defined $x->{migrated}) {
        if ($x->{migrated} =~ /^([0-9]+) of ([0-9]+)$/) {
            push @e, "migrated: $1 of $2 counts more than it checked" if $1 > $2;
            my @at = split / /, $x->{migrated_at} // '';
            push @e, "migrated: $1 but migrated_at lists " . scalar(@at) if defined $x->{migrated_at} && @at != $1;
        } elsif ($x->{migrated} !~ /^unknown\b/) {
            push @e, "migrated '$x->{migrated}' is neither 'K of N' nor 'unknown (...)'";
        }
    }
    for my $at (split / /, $x->{migrated_at} // '') {
        my ($row, $col) = $at =~ /^([0-9]+)\.([0-9]+)$/ or do { push @e, "migrated_at entry '$at' is not ROW.COL"; next };
        push @e, "migrated_at $at names no value of the file" if $row >= $nrows || $col < 1 || $col > $#cols;
    }
    push @e, "clock_backwards '$x->{clock_backwards}' is not a whole number"
        if defined $x->{clock_backwards} && $x->{clock_backwards} !~ /^[0-9]+$/;
    push @e, "clock_drift_ppm '$x->{clock_drift_ppm}' is not a number"
        if defined $x->{clock_drift_ppm} && $x->{clock_drift_ppm} !~ /^-?[0-9]+(?:\.[0-9]+)?$/;
    if (defined $r->{end}) {
        my $end = $r->{end};
        push @e, "end '$end' is not one of: completed, stopped: CALL at n=N: ERRNO (LIMIT), failed: ..., interrupted: ..."
            unless $end eq 'completed'
                || $end =~ /^stopped: \S.* at n=[0-9]+: [A-Z][A-Z0-9]* \(.+\)$/
                || $end =~ /^failed: .+$/
                || $end =~ /^interrupted: SIG[A-Z]+/;
    }
    if (defined $want{rows} && $nrows != $want{rows}) {
        push @e, "expected exactly $want{rows} rows, found $nrows";
    }
    if (defined $want{min_rows} && $nrows < $want{min_rows}) {
        push @e, "expected at least $want{min_rows} rows, found $nrows";
    }
    if (defined $want{columns} && join(' ', @cols) ne $want{columns}) {
        push @e, "expected columns '$want{columns}', found '" . join(' ', @cols) . "'";
    }
    if (defined $want{bench} && ($h->{bench} // '') ne $want{bench}) {
        push @e, "expected bench '$want{bench}', found '" . ($h->{bench} // '') . "'";
    }
    if (defined $want{end} && (end_kind($r->{end}) // '') ne $want{end}) {
        push @e, "expected the run to end '$want{end}', it says '" . ($r->{end} // '(nothing)') . "'";
    }
    return @e;
}

1;
