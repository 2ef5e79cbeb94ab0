package Scalebench::Render::Load;
# Stage 1 of plot/render: what is there to draw. Finds the tags of a results
# tree and their system records (read, never written), the graph families
# of plot/*.gp, and reads result files: the header alone (read_header) or
# the rows, streamed, as packed columns (read_columns) -- the one place that
# turns a row of a .dat file into numbers. Core perl only.
#
#   my @tags = tags($results_dir);      # [ { tag, dir, sys, label, quick, files } ]
#   my @fams = families($plot_dir);     # [ { graph, stems, columns, type, ... } ]
#   my $h = read_header($path);         # { header, columns, problems }
#   my $d = read_columns($path, [qw(fork_ns cleanup_ns)]);
#   # $d->{cols}{fork_ns} = [ pack('d*', n...), pack('d*', value...) ]
#   # $d->{end}, $d->{kind}, $d->{rows}, $d->{problems} [ ... ]
#   # $d->{migrated}{fork_ns} = [ n_packed, value_packed ]: the values that
#   #   crossed CPUs (trailer's migrated_at); no key when there are none
use strict;
use warnings;
use utf8;
use Exporter 'import';
use Scalebench::Result qw(end_kind);
our @EXPORT_OK = qw(tags families read_header read_columns glob_re stops_of file_key);

sub glob_re {
    my ($g) = @_;
    my $re = join '', map { $_ eq '*' ? '.+' : quotemeta } split /(\*)/, $g;
    return qr/^$re$/;
}

sub _read_kv_text {
    my ($path) = @_;
    my %kv;
    open my $fh, '<', $path or return;
    while (<$fh>) {
        chomp;
        $kv{ lc $1 } //= $2 if /^\s*([A-Za-z][A-Za-z0-9_ .-]*?)\s*[:=]\s*(.*?)\s*$/;
    }
    return \%kv;
}

# The system record of one tag: system.json, else system.txt, else {}.
sub _system {
    my ($dir) = @_;
    my $rec;
    if (-f "$dir/system.json" && open my $fh, '<', "$dir/system.json") {
        local $/;
        my $text = <$fh>;
        $rec = eval { require JSON::PP; JSON::PP->new->decode($text) };
        warn "render: $dir/system.json: $@" if $@;
    }
    $rec = _read_kv_text("$dir/system.txt") if !$rec && -f "$dir/system.txt";
    $rec = {} unless ref $rec eq 'HASH';
    return $rec;
}

sub _true { my ($v) = @_; return 0 unless defined $v; return ref $v ? ($$v ? 1 : 0) : ($v =~ /^(?:1|true|yes)$/i ? 1 : 0) }

# tags($dir) -> list of { tag, dir, sys, has_record, label, quick, files => { stem => [ file... ] } }
# A file: { run, name, path, size, mtime }. A tag is a directory (not site/,
# not hidden) holding .dat files or a system record. quick: system.json's
# "quick" (harness/run --quick), or a tag name ending in -quick.
sub tags {
    my ($res) = @_;
    opendir my $dh, $res or return;
    my @names = sort grep { $_ ne 'site' && !/^\./ && -d "$res/$_" } readdir $dh;
    closedir $dh;
    my @out;
    for my $t (@names) {
        my $dir = "$res/$t";
        opendir my $h, $dir or next;
        my @ents = sort readdir $h;
        closedir $h;
        next unless grep { /\.dat$/ || /^system\.(?:txt|json)$/ } @ents;
        my $sys = _system($dir);
        my %files;
        for my $f (@ents) {
            next unless $f =~ /^([a-z0-9][a-z0-9._-]*?)\.([0-9]+)\.dat$/;
            my @st = stat "$dir/$f" or next;
            push @{ $files{$1} }, { run => $2, name => $f, path => "$dir/$f", size => $st[7], mtime => $st[9] };
        }
        @$_ = sort { $a->{run} <=> $b->{run} } @$_ for values %files;
        my $label = defined $sys->{label} && !ref $sys->{label} && length $sys->{label} ? $sys->{label} : undef;
        push @out, { tag => $t, dir => $dir, sys => $sys, has_record => %$sys ? 1 : 0, label => $label,
                     quick => (_true($sys->{quick}) || $t =~ /-quick$/ ? 1 : 0), files => \%files };
    }
    return @out;
}

# families($plot_dir) -> the graph families of NN-name.gp, in file order.
# Header lines '# key: value' (plot/README.md); type defaults to 'scatter'.
sub families {
    my ($dir) = @_;
    my @f;
    for my $gp (sort glob "$dir/[0-9]*.gp") {
        open my $fh, '<:encoding(UTF-8)', $gp or die "cannot read $gp: $!\n";
        my %m = (script => $gp);
        my $head = 1;
        while (<$fh>) {
            $head = 0 unless /^#/;
            $m{$1} = $2 if $head && /^# ([a-z][a-z0-9_.]*): (.*?)\s*$/;
            $m{ylabel} = $1 if /^set ylabel "(.*)"/;
            $m{xlabel} = $1 if /^set xlabel "(.*)"/;
        }
        close $fh;
        for my $k (qw(graph stems columns)) {
            die "$gp: no '# $k:' line\n" unless defined $m{$k};
        }
        $m{title} //= $m{graph};
        $m{type} //= 'scatter';
        die "$gp: unknown type '$m{type}' (scatter, levels)\n" unless $m{type} =~ /^(?:scatter|levels)$/;
        push @f, \%m;
    }
    return @f;
}

my @REQUIRED = @Scalebench::Result::REQUIRED_HEADER;

# read_header($path) -> { header => {k => v}, columns => [...], problems => [...] }
# Reads only the header lines.
sub read_header {
    my ($path) = @_;
    my %h;
    my @p;
    open my $fh, '<', $path or return { header => {}, columns => [], problems => ["cannot read: $!"] };
    my $first = 1;
    while (my $l = <$fh>) {
        last unless $l =~ /^#/;
        chomp $l;
        push @p, "first line is not '# scalebench: 1'" if $first && $l ne '# scalebench: 1';
        $first = 0;
        $h{$1} //= $2 if $l =~ /^# ([a-z][a-z0-9_]*): (.*)$/;
    }
    close $fh;
    push @p, "header key '$_' missing" for grep { !defined $h{$_} } @REQUIRED;
    my @cols = split / /, $h{columns} // '';
    push @p, 'columns do not start with n' if @cols && $cols[0] ne 'n';
    return { header => \%h, columns => \@cols, problems => \@p };
}

# read_columns($path, \@wanted) -> {
#   header, columns, end, kind, rows, wall_s, problems,
#   cols => { column => [ n_packed, y_packed ] } }  (pack 'd*', missing values left out)
# One pass over the file; no per-row perl structure is kept. A file with
# problems (bad header, a malformed row, no '# end:' line) still returns what
# was read; the caller decides (plot/render draws only files without problems).
sub read_columns {
    my ($path, $want) = @_;
    my $hd = read_header($path);
    my %r = (header => $hd->{header}, columns => $hd->{columns}, problems => [ @{ $hd->{problems} } ], rows => 0);
    my @cols = @{ $hd->{columns} };
    my %idx = map { $cols[$_] => $_ } 1 .. $#cols;
    my @ci = map { $idx{$_} } @$want;
    my (@np, @yp);
    $np[$_] = $yp[$_] = '' for 0 .. $#ci;
    open my $fh, '<', $path or do { push @{ $r{problems} }, "cannot read: $!"; return \%r };
    my ($nf, $bad, %trailer) = (scalar @cols, 0);
    my $rows = 0;
    while (my $l = <$fh>) {
        if (ord($l) == 35) {    # '#'
            $trailer{$1} = $2 if $l =~ /^# (rows|wall_s|end|migrated_at): (.*)$/;
            next;
        }
        chomp $l;
        if (%trailer) { $bad++; next }
        # a row: the right number of fields of digits, '.' and '-' (the
        # shape only; scripts/check-result checks every number)
        my @f = split / /, $l, -1;
        if (@f != $nf || $l =~ tr/0-9. -//c || $f[0] eq '-') { $bad++; next }
        $rows++;
        for my $j (0 .. $#ci) {
            my $c = $ci[$j] // next;
            my $v = $f[$c];
            next if $v eq '-';
            $np[$j] .= pack 'd', $f[0];
            $yp[$j] .= pack 'd', $v;
        }
    }
    close $fh;
    push @{ $r{problems} }, "$bad malformed row(s)" if $bad;
    push @{ $r{problems} }, 'no "# end:" line (cut short?)' unless defined $trailer{end};
    push @{ $r{problems} }, "trailer says rows: $trailer{rows} but the file has $rows"
        if defined $trailer{rows} && $trailer{rows} ne $rows;
    $r{rows} = $rows;
    $r{end} = $trailer{end};
    $r{wall_s} = $trailer{wall_s};
    $r{kind} = end_kind($trailer{end}) // 'unknown';
    for my $j (0 .. $#ci) {
        next unless defined $ci[$j];
        $r{cols}{ $want->[$j] } = [ $np[$j], $yp[$j] ];
    }
    _migrated($path, \%r, $want, \@ci, $trailer{migrated_at}) if defined $trailer{migrated_at};
    return \%r;
}

# _migrated($path, $r, \@want, \@ci, "ROW.COL ..."): from the trailer's
# migrated_at (docs/format.md), the wanted columns' values that began and
# ended on different CPUs, as $r->{migrated}{column} = [ n_packed, y_packed ]
# (a copy of those points of $r->{cols}). A value's place in the packed
# column is its row's, less the missing values ('-') above it; only a column
# that has both missing and migrated values needs another pass over the rows
# to count them.
sub _migrated {
    my ($path, $r, $want, $ci, $at) = @_;
    my %rows_of;    # column number -> rows
    for (split ' ', $at) { push @{ $rows_of{$2} }, $1 if /^([0-9]+)\.([0-9]+)$/ }
    for my $j (0 .. $#$ci) {
        my $c = $ci->[$j] // next;
        my $at_rows = $rows_of{$c} or next;
        my ($np, $yp) = @{ $r->{cols}{ $want->[$j] } };
        my $pts = length($np) / 8;
        my @idx = sort { $a <=> $b } @$at_rows;
        @idx = _packed_index($path, $c, \@idx) if $pts != $r->{rows};
        my ($mn, $my) = ('', '');
        for my $i (@idx) {
            next if $i >= $pts;
            $mn .= substr($np, $i * 8, 8);
            $my .= substr($yp, $i * 8, 8);
        }
        $r->{migrated}{ $want->[$j] } = [ $mn, $my ] if length $mn;
    }
}

# _packed_index($path, $col, \@rows sorted) -> the rows' places in the packed
# column $col, which leaves out missing values (a missing row: left out).
sub _packed_index {
    my ($path, $col, $rows) = @_;
    open my $fh, '<', $path or return;
    my ($row, $missing, @out) = (-1, 0);
    my @want = @$rows;
    while (@want && defined(my $l = <$fh>)) {
        next if ord($l) == 35;
        $row++;
        next if $row != $want[0] && index($l, '-') < 0;    # most rows: nothing to count
        chomp $l;
        my $dash = ((split / /, $l)[$col] // '') eq '-';
        if ($row == $want[0]) {
            push @out, $row - $missing unless $dash;
            shift @want;
        }
        $missing++ if $dash;
    }
    close $fh;
    return @out;
}

# Where did runs stop? One entry per distinct reason: its smallest n and how
# many runs stopped so. $ends: list of '# end:' texts.
sub stops_of {
    my (@ends) = @_;
    my %by;
    for my $e (@ends) {
        next unless defined $e && $e =~ /^stopped: (.+?) at n=([0-9]+): (.+)$/;
        my $key = "$1: $3";
        my $s = $by{$key} //= { reason => $key, n => $2, runs => 0 };
        $s->{runs}++;
        $s->{n} = $2 if $2 < $s->{n};
    }
    return [ sort { $a->{n} <=> $b->{n} } values %by ];
}

# What identifies a file's contents for the render cache.
sub file_key { my ($f) = @_; return "$f->{path} $f->{size} $f->{mtime}" }

1;
