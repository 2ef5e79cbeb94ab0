package Scalebench::Bundle;
# Results bundles: one tag's results as one .tar.gz, and the tar streams
# harness/remote and harness/publish send over ssh.
#
# A bundle holds TAG/bundle.json (a manifest: format, tag, source revision,
# who exported it when) and TAG/FILE for every result file, the system
# record, the summary and the log of results/TAG/. The tar reader is our
# own: it reads the headers itself and refuses absolute paths, '..', links,
# devices and anything else that is not a plain file or directory, so that
# no archive can write outside the place it is unpacked to, whatever tar
# the machine has. Core perl only.
use strict;
use warnings;
use Exporter 'import';
use File::Path qw(make_path remove_tree);
use File::Spec;
use JSON::PP;
use POSIX qw(strftime);
use IO::Compress::Gzip qw($GzipError);
use IO::Uncompress::Gunzip qw($GunzipError);
use Scalebench::Result qw(parse_text validate);
use Scalebench::Cleanup qw(io_error pid_alive);

our @EXPORT_OK = qw(tar_header tar_entry tar_end tar_read tag_files tag_ok
                    export_tag read_bundle install_bundle same_tag);

our $FORMAT = 1;
my $BLOCK = 512;

# ---- tar (POSIX ustar) ----

# tar_header(NAME, SIZE, type => '0'|'5', mode => 0644, mtime => T) -> 512 bytes
sub tar_header {
    my ($name, $size, %o) = @_;
    my $type = $o{type} // '0';
    my $prefix = '';
    if (length $name > 100) {    # split at a / into prefix (155) and name (100)
        my $i = rindex($name, '/', 155);
        die "tar: name too long for ustar: $name\n" if $i <= 0 || length($name) - $i - 1 > 100;
        ($prefix, $name) = (substr($name, 0, $i), substr($name, $i + 1));
    }
    my $mode = $o{mode} // ($type eq '5' ? 0755 : 0644);
    my $h = pack('a100 a8 a8 a8 a12 a12 a8 a1 a100 a6 a2 a32 a32 a8 a8 a155 a12',
        $name, sprintf('%07o', $mode & 07777), sprintf('%07o', 0), sprintf('%07o', 0),
        sprintf('%011o', $size), sprintf('%011o', $o{mtime} // time), ' ' x 8, $type, '',
        "ustar\0", '00', 'root', 'wheel', '', '', $prefix, '');
    my $sum = unpack('%32C*', $h);
    substr($h, 148, 8) = sprintf("%06o\0 ", $sum);
    return $h;
}

# tar_entry(NAME, DATA, %o) -> header and data padded to a whole block
sub tar_entry {
    my ($name, $data, %o) = @_;
    $data //= '';
    my $pad = (-length($data)) % $BLOCK;
    return tar_header($name, length $data, %o) . $data . ("\0" x $pad);
}

sub tar_end { return "\0" x ($BLOCK * 2) }

my %TYPE_NAME = ('1' => 'a hard link', '2' => 'a symbolic link', '3' => 'a character device',
                 '4' => 'a block device', '6' => 'a FIFO', '7' => 'a contiguous file',
                 'K' => 'a long link name', 'S' => 'a sparse file', 'V' => 'a volume label',
                 'M' => 'a multi-volume part', 'N' => 'an old long name');

sub _read_exact {
    my ($fh, $n) = @_;
    my $buf = '';
    while (length $buf < $n) {
        my $got = read($fh, $buf, $n - length $buf, length $buf);
        die 'tar: ' . io_error('read', 'the archive') . "\n" unless defined $got;
        last if $got == 0;
    }
    return $buf;
}

sub _octal {
    my ($field, $what) = @_;
    $field =~ s/[\0 ]+\z//;
    $field =~ s/^ +//;
    return 0 if $field eq '';
    die "tar: bad $what field '$field'\n" unless $field =~ /^[0-7]+$/;
    return oct $field;
}

# A member's path, made relative and checked: no absolute path, no '..',
# nothing strange. Returns the clean path ('' for the archive's './').
sub _clean_path {
    my ($p) = @_;
    die "tar: refused: a member name holds a NUL or newline\n" if $p =~ /[\0\n]/;
    die "tar: refused: absolute path '$p'\n" if $p =~ m{^/};
    my @c = grep { length && $_ ne '.' } split m{/}, $p;
    die "tar: refused: path with '..': '$p'\n" if grep { $_ eq '..' } @c;
    return join '/', @c;
}

# tar_read(FH, max_bytes => N) -> ( { name, type => 'file'|'dir', mode, mtime, data }, ... )
# Dies "tar: ..." at the first member that is not a plain file or directory
# with a safe relative path, or when the archive is damaged.
sub tar_read {
    my ($fh, %o) = @_;
    my $max = $o{max_bytes} // (1 << 30);
    my ($total, @out, $long, %pax) = (0);
    while (1) {
        my $h = _read_exact($fh, $BLOCK);
        die "tar: the archive ends without its end blocks (cut short?)\n" if length $h < $BLOCK;
        last if $h eq "\0" x $BLOCK;
        my ($name, $mode, undef, undef, $size, $mtime, $sum, $type, undef, $magic, undef, undef, undef,
            undef, undef, $prefix) = unpack('a100 a8 a8 a8 a12 a12 a8 a1 a100 a6 a2 a32 a32 a8 a8 a155', $h);
        my $want = _octal($sum, 'checksum');
        my $h2 = $h;
        substr($h2, 148, 8) = ' ' x 8;
        die "tar: header checksum mismatch (not a tar archive, or damaged)\n"
            unless unpack('%32C*', $h2) == $want;
        $size = _octal($size, 'size');
        $total += $size;
        die "tar: refused: more than $max bytes\n" if $total > $max;
        my $data = _read_exact($fh, $size);
        die "tar: the archive is cut short\n" if length $data < $size;
        _read_exact($fh, (-$size) % $BLOCK);
        s/\0.*\z//s for $name, $prefix, $type;
        $type = '0' if $type eq '';
        if ($type eq 'x') {    # pax extended header for the next member
            while ($data =~ /\G(\d+) ([^=]+)=/gc) {
                my ($len, $k) = ($1, $2);
                my $start = pos($data) - length("$len $k=");
                my $v = substr($data, pos($data), $start + $len - pos($data) - 1);
                pos($data) = $start + $len;
                $pax{$k} = $v;
            }
            next;
        }
        next if $type eq 'g';    # pax global header: nothing we use
        if ($type eq 'L') { ($long = $data) =~ s/\0.*\z//s; next }    # GNU long name
        my $path = $pax{path} // $long // (length $prefix && $magic =~ /^ustar/ ? "$prefix/$name" : $name);
        ($long, %pax) = (undef);
        die "tar: refused: '$path' is " . ($TYPE_NAME{$type} // "of unknown type '$type'") . "\n"
            unless $type eq '0' || $type eq '5';
        my $clean = _clean_path($path);
        next if $clean eq '' && $type eq '5';
        die "tar: refused: a member with an empty name\n" if $clean eq '';
        push @out, { name => $clean, type => $type eq '5' ? 'dir' : 'file',
                     mode => _octal($mode, 'mode') & 0777, mtime => _octal($mtime, 'mtime'),
                     data => $type eq '5' ? undef : $data };
    }
    return @out;
}

# ---- one tag's files ----

# tag_ok(TAG) -> true when TAG is a tag name (as harness/run makes them)
sub tag_ok { my ($t) = @_; return defined $t && $t =~ /^[a-z0-9._-]+$/ && $t !~ /^\.\.?$/ && $t ne 'site' }

# A file of a tag that belongs in a bundle: results, system record,
# summary, log and the like; not hidden files, temporary files, the output
# of failed runs (kept for a look, never a result) or files moved aside.
sub _bundled_name {
    my ($n) = @_;
    return $n =~ /^[A-Za-z0-9_][A-Za-z0-9._-]*$/ && $n !~ /\.failed\z/ && $n !~ /\.replaced-/
        && $n !~ /\.tmp\b/ && $n ne 'bundle.json';
}

# tag_files(DIR) -> the sorted names of DIR's files that go into a bundle
sub tag_files {
    my ($dir) = @_;
    opendir my $d, $dir or die io_error('read', $dir) . "\n";
    my @f = sort grep { _bundled_name($_) && -f "$dir/$_" && !-l "$dir/$_" } readdir $d;
    closedir $d;
    return @f;
}

sub _slurp {
    my ($f) = @_;
    open my $fh, '<:raw', $f or die io_error('read', $f) . "\n";
    local $/;
    my $d = <$fh>;
    return $d // '';
}

# Checks one file of a tag by its name: a result file with the format
# checker, a JSON file parses to an object, anything else is text.
# -> list of problems
sub _check_file {
    my ($name, $data) = @_;
    return ("not a file name a bundle may hold") unless _bundled_name($name);
    if ($name =~ /\.dat\z/) {
        return validate(parse_text($data));
    }
    if ($name =~ /\.json\z/) {
        my $j = eval { JSON::PP->new->decode($data) };
        return ("not a JSON object") unless ref $j eq 'HASH';
        return ();
    }
    return ("holds NUL bytes: not a text file") if $data =~ /\0/;
    return ();
}

# export_tag(RESULTS_DIR, TAG, FH, revision => REV) writes TAG's bundle
# (gzip'd tar) to FH. Dies with the reason when TAG is not there, has no
# system record, or one of its files does not pass the checker.
sub export_tag {
    my ($results, $tag, $fh, %o) = @_;
    die "'$tag' is not a tag name\n" unless tag_ok($tag);
    my $dir = "$results/$tag";
    die "no tag '$tag' in $results\n" unless -d $dir;
    my @names = tag_files($dir);
    die "$dir has no system record (system.json)\n" unless grep { $_ eq 'system.json' } @names;
    die "$dir has no result file (*.dat)\n" unless grep { /\.dat\z/ } @names;
    my %data = map { $_ => _slurp("$dir/$_") } @names;
    for my $n (@names) {
        my @p = _check_file($n, $data{$n});
        die "$dir/$n: $p[0]\n" if @p;
    }
    my $sys = JSON::PP->new->decode($data{'system.json'});
    my %man = (format => $FORMAT, tag => $tag, revision => $sys->{revision} // $o{revision} // 'unknown',
               exported => strftime('%Y-%m-%dT%H:%M:%SZ', gmtime), files => [@names],
               exported_from => (POSIX::uname())[1]);
    my $z = IO::Compress::Gzip->new($fh, Minimal => 1) or die "gzip: $GzipError\n";
    my $now = time;
    $z->print(tar_header("$tag/", 0, type => '5', mtime => $now));
    $z->print(tar_entry("$tag/bundle.json", JSON::PP->new->canonical->pretty->encode(\%man), mtime => $now));
    for my $n (@names) {
        $z->print(tar_entry("$tag/$n", $data{$n}, mtime => (stat "$dir/$n")[9]));
    }
    $z->print(tar_end());
    $z->close or die "gzip: $GzipError\n";
    return scalar @names;
}

# read_bundle(FILE or FH) -> { tag, manifest, files => { name => data }, mtime => { name => t } }
# Dies with the reason the bundle is refused: not a gzip'd tar, a member
# that is a link, device, absolute path or '..' (tar_read), more than one
# tag, a subdirectory, no manifest, a file the format checker rejects.
sub read_bundle {
    my ($src) = @_;
    my $z = IO::Uncompress::Gunzip->new($src, MultiStream => 1, Transparent => 0)
        or die "not a gzip file: $GunzipError\n";
    my @m = tar_read($z, max_bytes => 4 << 30);
    $z->close;
    my ($tag, %files, %mtime);
    for my $e (@m) {
        my ($top, @rest) = split m{/}, $e->{name};
        $tag //= $top;
        die "more than one top folder ('$tag', '$top'): a bundle holds one tag\n" if $top ne $tag;
        if ($e->{type} eq 'dir') {
            die "a subfolder '$e->{name}': a tag's folder is flat\n" if @rest;
            next;
        }
        die "'$e->{name}' is not inside the tag's folder\n" unless @rest;
        die "a subfolder in '$e->{name}': a tag's folder is flat\n" if @rest > 1;
        die "'$e->{name}' is in the archive twice\n" if exists $files{ $rest[0] };
        $files{ $rest[0] } = $e->{data};
        $mtime{ $rest[0] } = $e->{mtime};
    }
    die "the archive is empty\n" unless defined $tag;
    die "'$tag' is not a tag name (lower case [a-z0-9._-])\n" unless tag_ok($tag);
    my $mj = delete $files{'bundle.json'} // die "no $tag/bundle.json: not a scalebench bundle\n";
    my $man = eval { JSON::PP->new->decode($mj) };
    die "$tag/bundle.json is not a JSON object\n" unless ref $man eq 'HASH';
    die "$tag/bundle.json: format '" . ($man->{format} // '') . "' is not $FORMAT\n" unless ($man->{format} // '') eq $FORMAT;
    die "$tag/bundle.json names the tag '" . ($man->{tag} // '') . "', the folder is '$tag'\n"
        unless ($man->{tag} // '') eq $tag;
    die "no $tag/system.json: the system record is missing\n" unless exists $files{'system.json'};
    for my $n (sort keys %files) {
        my @p = _check_file($n, $files{$n});
        die "$tag/$n: $p[0]" . (@p > 1 ? ' (and ' . (@p - 1) . ' more problems)' : '') . "\n" if @p;
    }
    if (ref $man->{files} eq 'ARRAY') {
        my %listed = map { $_ => 1 } @{ $man->{files} };
        for my $n (sort keys %files) { die "$tag/$n is not in the manifest\n" unless $listed{$n} }
        for my $n (sort keys %listed) { die "$tag/$n is in the manifest but not in the archive\n" unless exists $files{$n} }
    }
    return { tag => $tag, manifest => $man, files => \%files, mtime => \%mtime };
}

# same_tag(DIR, BUNDLE) -> undef when DIR holds exactly the bundle's files
# (those a bundle would take from it), else the first difference.
sub same_tag {
    my ($dir, $b) = @_;
    my @have = tag_files($dir);
    my %want = %{ $b->{files} };
    for my $n (@have) {
        return "$n is there but not in the bundle" unless exists $want{$n};
        return "$n differs" unless _slurp("$dir/$n") eq $want{$n};
    }
    for my $n (sort keys %want) {
        return "$n is in the bundle but not there" unless -f "$dir/$n";
    }
    return undef;
}

# install_bundle(RESULTS_DIR, BUNDLE, replace => sub { DIR -> true to replace })
# -> 'installed' | 'identical' | 'replaced'. Never overwrites a different
# existing tag unless replace says so; dies naming the conflict. The tag's
# folder appears whole or not at all (written aside, then renamed).
sub install_bundle {
    my ($results, $b, %o) = @_;
    my $tag = $b->{tag};
    my $dir = "$results/$tag";
    my $replace = 0;
    if (-e $dir || -l $dir) {
        die "$dir exists and is not a folder\n" if -l $dir || !-d $dir;
        my $diff = same_tag($dir, $b);
        return 'identical' unless defined $diff;
        die "$dir exists and differs from the bundle ($diff): not overwritten (move it away, or import under another tag)\n"
            unless $o{replace} && $o{replace}->($dir);
        $replace = 1;
    }
    make_path($results) unless -d $results;
    # what an import killed outright left: its folders, by the pid in their name
    if (opendir my $rd, $results) {
        for my $e (readdir $rd) {
            my ($kind, $t, $pid) = $e =~ /^\.(import|replaced)-([a-z0-9._-]+)\.(\d+)\z/ or next;
            next unless $pid == $$ || !pid_alive($pid);
            # killed between its two renames: the old folder goes back
            next if $kind eq 'replaced' && !-e "$results/$t" && rename("$results/$e", "$results/$t");
            remove_tree("$results/$e");
        }
        closedir $rd;
    }
    my $tmp = "$results/.import-$tag.$$";
    mkdir $tmp or die io_error('create', $tmp) . "\n";
    my $err;
    for my $n (sort keys %{ $b->{files} }) {
        my $fh;
        my $ok = open($fh, '>:raw', "$tmp/$n") && print($fh $b->{files}{$n}) && close($fh);
        $err = io_error('write', "$tmp/$n"), last unless $ok;
        my $t = $b->{mtime}{$n};
        utime $t, $t, "$tmp/$n" if $t;
    }
    if (!defined $err && $replace) {
        my $old = "$results/.replaced-$tag.$$";
        if (!rename $dir, $old) { $err = io_error('move aside', $dir) }
        elsif (!rename $tmp, $dir) { $err = io_error('rename to', $dir); rename $old, $dir }
        else { remove_tree($old); return 'replaced' }
    }
    if (!defined $err) {
        return 'installed' if rename $tmp, $dir;
        $err = io_error('rename to', $dir);
    }
    remove_tree($tmp);    # nothing half-written is left
    die "$err\n";
}

1;
