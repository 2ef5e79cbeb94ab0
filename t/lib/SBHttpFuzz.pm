package SBHttpFuzz;
# Hostile requests for httpd: a corpus of malformed and malicious requests,
# a mutation fuzzer, and a driver that sends many at once and collects what
# came back. Used by t/33-httpd-hardening.t (a few thousand cases) and
# scripts/fuzz-httpd (as many as asked).
#
#   my ($root, $secret) = make_root($dir);   # a docroot, a secret beside it
#   my @c = corpus();                       # [name, bytes, expected status re or undef]
#   my $f = fuzzer(seed => 1, seeds => [map { $_->[1] } @c]);
#   my @req = map { $f->() } 1 .. 1000;
#   my $res = exchange($port, \@req, parallel => 32, bound => 5);
#       # [ { reply => bytes, closed => 0|1 (server closed within the bound),
#       #     secs => time from the last byte sent to the close }, ... ]
#   my @bad = problems($res, $secret, \%files);   # what must never happen
use strict;
use warnings;
use Exporter 'import';
use IO::Socket::INET;
use IO::Select;
use Socket qw(SHUT_WR);
use Time::HiRes qw(time);
use Errno qw(EAGAIN EWOULDBLOCK EINTR);

our @EXPORT = qw(make_root corpus fuzzer exchange problems statuses);

our $SECRET = 'SECRET-MARKER-7f3a';

sub _write { open my $f, '>:raw', $_[0] or die "$_[0]: $!"; print $f $_[1]; close $f or die }

# A document root with a few files, a secret outside it, and symbolic links
# from inside to outside. -> (root, secret marker, {path => content} of
# every file that may be served)
sub make_root {
    my ($dir) = @_;
    my $root = "$dir/root";
    mkdir $root or die "$root: $!";
    mkdir "$root/sub" or die;
    mkdir "$dir/outside" or die;
    my %files = ('/small.txt' => "small\n", '/sub/inner.txt' => "inner\n", '/index.html' => "<p>hi</p>\n");
    _write("$root$_", $files{$_}) for keys %files;
    _write("$dir/secret.txt", "$SECRET\n");
    _write("$dir/outside/secret.txt", "$SECRET\n");
    _write("$dir/root.txt", "$SECRET\n");    # "/root/../root.txt"-style neighbours
    symlink("$dir/secret.txt", "$root/link") or die;
    symlink('../secret.txt', "$root/rellink") or die;
    symlink("$dir/outside", "$root/dirlink") or die;
    symlink('/etc', "$root/etc") or die;
    return ($root, $SECRET, \%files);
}

my $H = "Host: x\r\n";
sub _get { my ($target, $extra) = @_; return "GET $target HTTP/1.1\r\n$H" . ($extra // '') . "\r\n" }

# The corpus: [name, request bytes, qr/status/ expected or undef (any
# answer, or none, as long as nothing forbidden happens)].
sub corpus {
    my @c;
    my $no = qr/^(?:400|404)$/;    # refused or not found: never 200
    # traversal, in every encoding
    my @trav = (
        '/../secret.txt', '/../../secret.txt', '/sub/../../secret.txt', '/./../secret.txt',
        '/%2e%2e/secret.txt', '/%2E%2E/secret.txt', '/%2e%2e%2fsecret.txt', '/..%2fsecret.txt',
        '/%2e./secret.txt', '/.%2e/secret.txt', '/..%5csecret.txt', '/..\\secret.txt', '/%5c..%5csecret.txt',
        '/%252e%252e/secret.txt', '/%252e%252e%252fsecret.txt', '/%c0%ae%c0%ae/secret.txt',
        '/%c0%af../secret.txt', '/%e0%80%ae%e0%80%ae/secret.txt', '/%u002e%u002e/secret.txt',
        '/....//secret.txt', '/..../secret.txt', '//../secret.txt', '/sub//..//..//secret.txt',
        '/%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/../../../../../../etc/passwd', '/etc/passwd', '/etc/hostname',
        '/link', '/rellink', '/dirlink/secret.txt', '/dirlink/../secret.txt', '/sub/%2e%2e/%2e%2e/secret.txt',
        '/;/../secret.txt', '/..;/secret.txt', '/%2e%2e;/secret.txt', '/small.txt/../../secret.txt',
        '/%00/../secret.txt', '/secret.txt%00.html', '/..%00/secret.txt', '/%ff%fe/../secret.txt',
        '/sub%2f..%2f..%2fsecret.txt', '/.%252e/secret.txt', '/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
        '/?/../../secret.txt', '/#/../secret.txt',
    );
    push @c, [ "traversal $_", _get($_), $no ] for @trav;
    push @c, [ 'traversal, absolute-form', "GET http://x/../secret.txt HTTP/1.1\r\n$H\r\n", qr/^400$/ ];
    push @c, [ 'traversal, no leading slash', "GET ../secret.txt HTTP/1.1\r\n$H\r\n", qr/^400$/ ];
    push @c, [ 'asterisk-form', "GET * HTTP/1.1\r\n$H\r\n", qr/^400$/ ];
    push @c, [ 'traversal, HTTP/1.0', "GET /../secret.txt HTTP/1.0\r\n\r\n", $no ];
    # NUL bytes
    push @c, [ 'NUL in the target', "GET /small.txt\0 HTTP/1.1\r\n$H\r\n", qr/^400$/ ];
    push @c, [ 'NUL in a header', "GET /small.txt HTTP/1.1\r\nHost: x\0y\r\n\r\n", qr/^400$/ ];
    push @c, [ 'NUL before the request', "\0\0\0\0GET /small.txt HTTP/1.1\r\n$H\r\n", qr/^400$/ ];
    push @c, [ 'NULs only', "\0" x 100, qr/^400$/ ];
    # overlong lines, many headers
    push @c, [ 'request line of 9000 bytes', _get('/' . 'a' x 9000), qr/^414$/ ];
    push @c, [ 'path of 1024 bytes', _get('/' . 'a' x 1023), qr/^414$/ ];
    push @c, [ 'path of 2000 bytes, encoded', _get('/' . '%61' x 700), qr/^414$/ ];
    push @c, [ 'header line of 9000 bytes', _get('/small.txt', 'X-Long: ' . ('b' x 9000) . "\r\n"), qr/^431$/ ];
    push @c, [ '10,000 headers', _get('/small.txt', "X-A: b\r\n" x 10000), qr/^431$/ ];
    push @c, [ '100 KB of garbage without a newline', 'G' x 100000, qr/^414$/ ];
    # line endings, versions
    push @c, [ 'bare LF', "GET /small.txt HTTP/1.1\nHost: x\n\n", qr/^400$/ ];
    push @c, [ 'bare CR', "GET /small.txt HTTP/1.1\rHost: x\r\r\n\r\n", qr/^400$/ ];
    push @c, [ 'HTTP/0.9 request', "GET /small.txt\r\n\r\n", qr/^400$/ ];
    push @c, [ 'HTTP/0.9 request, one line', "GET /small.txt\r\n", undef ];
    push @c, [ 'HTTP/2.0', "GET /small.txt HTTP/2.0\r\n$H\r\n", qr/^505$/ ];
    push @c, [ 'HTTP/1.10', "GET /small.txt HTTP/1.10\r\n$H\r\n", qr/^400$/ ];
    push @c, [ 'http/1.1 lower case', "GET /small.txt http/1.1\r\n$H\r\n", qr/^400$/ ];
    push @c, [ 'PRI * HTTP/2.0 preface', "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", qr/^(?:400|505)$/ ];
    push @c, [ 'no Host in HTTP/1.1', "GET /small.txt HTTP/1.1\r\n\r\n", qr/^400$/ ];
    push @c, [ 'two Host headers', _get('/small.txt', $H), qr/^400$/ ];
    push @c, [ 'space before the colon', _get('/small.txt', "X-A : b\r\n"), qr/^400$/ ];
    push @c, [ 'obsolete line folding', _get('/small.txt', "X-A: b\r\n c\r\n"), qr/^400$/ ];
    push @c, [ 'two spaces in the request line', "GET  /small.txt HTTP/1.1\r\n$H\r\n", qr/^400$/ ];
    push @c, [ 'tab in the request line', "GET\t/small.txt HTTP/1.1\r\n$H\r\n", qr/^400$/ ];
    push @c, [ 'POST', "POST /small.txt HTTP/1.1\r\n${H}Content-Length: 0\r\n\r\n", qr/^405$/ ];
    push @c, [ 'lower-case method', "get /small.txt HTTP/1.1\r\n$H\r\n", qr/^405$/ ];
    push @c, [ 'bad percent escape', _get('/%zz'), qr/^400$/ ];
    push @c, [ 'truncated percent escape', _get('/small.txt%2'), qr/^400$/ ];
    # bodies and smuggling
    push @c, [ 'chunked body', _get('/small.txt', "Transfer-Encoding: chunked\r\n") . "5\r\nhello\r\n0\r\n\r\n", qr/^400$/ ];
    push @c, [ 'Content-Length with a body', _get('/small.txt', "Content-Length: 5\r\n") . 'hello', qr/^400$/ ];
    push @c, [ 'Content-Length and Transfer-Encoding',
        _get('/small.txt', "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n") . "0\r\n\r\n", qr/^400$/ ];
    push @c, [ 'Transfer-Encoding with a space before the colon',
        _get('/small.txt', "Transfer-Encoding : chunked\r\n") . "0\r\n\r\n", qr/^400$/ ];
    push @c, [ 'Transfer-Encoding: xchunked', _get('/small.txt', "Transfer-Encoding: xchunked\r\n"), qr/^400$/ ];
    push @c, [ 'two Content-Lengths', _get('/small.txt', "Content-Length: 0\r\nContent-Length: 5\r\n") . 'hello',
        qr/^400$/ ];
    push @c, [ 'negative Content-Length', _get('/small.txt', "Content-Length: -1\r\n"), qr/^400$/ ];
    push @c, [ 'smuggled second request in a body',
        _get('/small.txt', "Content-Length: 35\r\n") . _get('/../secret.txt'), qr/^400$/ ];
    # pipelining
    push @c, [ '50 pipelined requests', _get('/small.txt') x 49 . _get('/small.txt', "Connection: close\r\n"),
        qr/^200$/ ];
    push @c, [ 'pipelined, then traversal', _get('/small.txt') . _get('/../secret.txt'), qr/^200$/ ];
    push @c, [ 'a valid request', _get('/small.txt'), qr/^200$/ ];
    push @c, [ 'a valid HEAD', "HEAD /small.txt HTTP/1.1\r\n$H\r\n", qr/^200$/ ];
    push @c, [ 'a valid HTTP/1.0 request', "GET /sub/inner.txt HTTP/1.0\r\n\r\n", qr/^200$/ ];
    push @c, [ 'nothing at all', '', undef ];
    return @c;
}

# A small deterministic generator (xorshift64*), the same everywhere.
sub _rng {
    my $s = (shift // 1) * 2654435761 % 4294967296 || 1;
    my ($hi, $lo) = (($s >> 16) | 1, $s & 0xffffffff);
    return sub {
        # 32-bit xorshift on two words: enough for choosing mutations
        $lo ^= ($lo << 13) & 0xffffffff; $lo ^= $lo >> 17; $lo ^= ($lo << 5) & 0xffffffff;
        $hi = (69069 * $hi + 1) % 4294967296;
        return (($lo ^ $hi) & 0xffffffff) / 4294967296;
    };
}

my @TOKENS = ('%', '%2e', '%2f', '%2E%2E', '..', '../', '/', '//', "\0", "\r", "\n", "\r\n", "\r\n\r\n", ' ', "\t",
    ':', '?', '#', ';', '\\', '%00', '%c0%ae', '%ff', "\xff", "\x80", 'HTTP/1.1', 'HTTP/1.0', 'HTTP/0.9', 'GET ',
    'HEAD ', "Host: x\r\n", "Connection: close\r\n", "Connection: keep-alive\r\n", "Transfer-Encoding: chunked\r\n",
    "Content-Length: 5\r\n", "Content-Length: 0\r\n", '0' x 20, 'A' x 1100, 'secret.txt', '/link', '/dirlink/',
    '/etc/passwd', '%252e', "\x7f", '*');

# fuzzer(seed => S, seeds => [bytes, ...]) -> a function returning one
# mutated request per call: 1 to 4 mutations of a seed (flip a byte, insert
# a token, delete or repeat a span, truncate, splice with another seed).
sub fuzzer {
    my (%o) = @_;
    my $r = _rng($o{seed});
    my @seeds = grep { length && length($_) < 4096 } @{ $o{seeds} };
    my $pick = sub { int($r->() * $_[0]) };
    return sub {
        my $s = $seeds[ $pick->(scalar @seeds) ];
        for (0 .. $pick->(4)) {
            my $len = length $s;
            my $at = $pick->($len + 1);
            my $m = $pick->(7);
            if ($m == 0 && $len) {
                substr($s, $at < $len ? $at : $len - 1, 1) = chr($pick->(256));
            } elsif ($m <= 2) {
                substr($s, $at, 0) = $TOKENS[ $pick->(scalar @TOKENS) ];
            } elsif ($m == 3 && $len) {
                substr($s, $at, 1 + $pick->(16)) = '';
            } elsif ($m == 4 && $len) {
                my $span = substr($s, $at, 1 + $pick->(64));
                substr($s, $at, 0) = $span x (1 + $pick->(8));
            } elsif ($m == 5) {
                $s = substr($s, 0, $at);
            } else {
                my $o = $seeds[ $pick->(scalar @seeds) ];
                $s = substr($s, 0, $at) . substr($o, $pick->(length($o) + 1));
            }
        }
        return $s;
    };
}

# exchange($port, \@requests, parallel => 32, bound => 5, half_close => 1)
# Sends each request on a connection of its own (up to `parallel` at once),
# then half-closes it (the server sees the end of the request stream) and
# reads until the server closes or `bound` seconds pass.
sub exchange {
    my ($port, $reqs, %o) = @_;
    my $parallel = $o{parallel} // 32;
    my $bound = $o{bound} // 5;
    local $SIG{PIPE} = 'IGNORE';
    my @res;
    my %live;    # fileno -> { i, sock, out, deadline }
    my $next = 0;
    my ($rsel, $wsel) = (IO::Select->new, IO::Select->new);
    while ($next < @$reqs || %live) {
        while ($next < @$reqs && keys(%live) < $parallel) {
            my $i = $next++;
            my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp');
            if (!$s) {
                $res[$i] = { reply => '', closed => 0, connect_error => "$!" };
                next;
            }
            $s->blocking(0);
            binmode $s;
            my $c = { i => $i, sock => $s, out => $reqs->[$i], reply => '', deadline => time + $bound };
            $live{ fileno $s } = $c;
            $rsel->add($s);
            if (length $c->{out}) {
                $wsel->add($s);
            } else {
                shutdown($s, SHUT_WR);
                $c->{sent} = time;
            }
        }
        my ($r, $w) = IO::Select->select($rsel, $wsel, undef, 0.05);
        for my $s (@{ $w // [] }) {
            my $c = $live{ fileno $s } or next;
            my $n = syswrite($s, $c->{out}, 65536);
            if (defined $n) {
                substr($c->{out}, 0, $n) = '';
            } elsif ($! != EAGAIN && $! != EWOULDBLOCK && $! != EINTR) {
                $c->{out} = '';    # the server closed: what it said is read below
            }
            if (!length $c->{out}) {
                $wsel->remove($s);
                shutdown($s, SHUT_WR) if $o{half_close} // 1;
                $c->{sent} = time;
                $c->{deadline} = time + $bound;
            }
        }
        for my $s (@{ $r // [] }) {
            my $c = $live{ fileno $s } or next;
            my $n = sysread($s, my $buf, 65536);
            next if !defined $n && ($! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR);
            if ($n) {
                $c->{reply} .= $buf;
                next;
            }
            _done(\%live, \@res, $rsel, $wsel, $c, 1);
        }
        my $now = time;
        for my $c (grep { $now > $_->{deadline} } values %live) {
            _done(\%live, \@res, $rsel, $wsel, $c, 0);
        }
    }
    return \@res;
}

sub _done {
    my ($live, $res, $rsel, $wsel, $c, $closed) = @_;
    my $s = $c->{sock};
    delete $live->{ fileno $s };
    $rsel->remove($s);
    $wsel->remove($s);
    close $s;
    $res->[ $c->{i} ] = { reply => $c->{reply}, closed => $closed, secs => time - ($c->{sent} // time) };
}

# The status codes of the responses in a reply, in order (bodies skipped by
# Content-Length; a HEAD's body-less answer may hide later ones).
sub statuses {
    my ($reply) = @_;
    my @s;
    while ($reply =~ s/\AHTTP\/1\.[01] (\d{3}) [^\r\n]*\r\n((?:[^\r\n]+\r\n)*)\r\n//) {
        push @s, $1;
        my ($len) = $2 =~ /^Content-Length:\s*(\d+)\r?$/mi;
        substr($reply, 0, $len // 0) = '';
    }
    return @s;
}

# problems($results, $secret, $files) -> descriptions of what must never
# happen: the secret in a reply, a reply that is not HTTP/1.1, a 200 whose
# body is not one of the files under the root, a connection left open
# beyond the bound.
sub problems {
    my ($res, $secret, $files) = @_;
    my %ok = map { $_ => 1 } values %$files;
    my @p;
    for my $i (0 .. $#$res) {
        my $x = $res->[$i] // { reply => '', closed => 0 };
        my $rep = $x->{reply};
        push @p, "#$i: could not connect: $x->{connect_error}" if $x->{connect_error};
        push @p, "#$i: the secret from outside the root was served" if index($rep, $secret) >= 0;
        push @p, "#$i: a reply that does not start with HTTP/1.1: " . _show(substr($rep, 0, 40))
            if length $rep && $rep !~ /\AHTTP\/1\.1 \d{3} /;
        push @p, "#$i: the server neither answered nor closed within the bound" unless $x->{closed};
        while ($rep =~ /HTTP\/1\.1 200 OK\r\n(?:[^\r\n]+\r\n)*?Content-Length: (\d+)\r\n(?:[^\r\n]+\r\n)*\r\n/g) {
            my $body = substr($rep, pos($rep), $1);
            # a HEAD's answer has no body: the next answer or the end follows
            next if $ok{$body} || pos($rep) == length($rep) || substr($rep, pos($rep), 9) eq 'HTTP/1.1 ';
            push @p, "#$i: a 200 whose body is no file of the root: " . _show(substr($body, 0, 40));
        }
    }
    return @p;
}

sub _show { my $s = shift; $s =~ s/([^\x20-\x7e])/sprintf('\\x%02x', ord $1)/ge; return "'$s'" }

1;
