#!/usr/bin/env perl
# scripts/install-tools against fake package managers on PATH: a freshly
# installed system whose package lists are empty (the install fails until
# the lists are refreshed), perl as a package on FreeBSD and NetBSD, no
# package manager at all, and nothing to do.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use SBTest;
use Test::More;
use File::Temp ();

my $script = ROOT() . '/scripts/install-tools';

# A PATH of fakes only: id, uname and the named package manager. The fake
# manager logs every call, refuses to install until its lists were
# refreshed (unless fresh => 1), and "installs" perl or gnuplot as an
# executable in the same folder.
sub fake_system {
    my (%o) = @_;
    my $dir = File::Temp->newdir;
    my $bin = "$dir/bin";
    mkdir $bin or die;
    write_exe("$bin/id", "#!/bin/sh\necho $o{uid}\n");
    write_exe("$bin/uname", "#!/bin/sh\necho $o{os}\n");
    my $fresh = $o{fresh} ? 1 : 0;
    write_exe("$bin/$o{pm}", <<"EOS") if $o{pm};
#!/bin/sh
PATH=/usr/bin:/bin
echo "\$(basename "\$0") \$*" >> "$dir/log"
case " \$* " in
*" update "*|*" makecache"*|*" -Sy "*|*" update -f "*) touch "$dir/refreshed"; exit 0 ;;
esac
[ $fresh = 1 ] || [ -e "$dir/refreshed" ] || { echo "E: Unable to locate package" >&2; exit 100; }
for a in "\$@"; do
	case \$a in
	perl|perl5) t=perl ;;
	gnuplot*) t=gnuplot ;;
	*) continue ;;
	esac
	printf '#!/bin/sh\\n' > "$bin/\$t"; chmod 755 "$bin/\$t"
done
exit 0
EOS
    for my $t (@{ $o{have} // [] }) { write_exe("$bin/$t", "#!/bin/sh\n") }
    return $dir;
}

sub write_exe {
    my ($f, $text) = @_;
    open my $fh, '>', $f or die "$f: $!";
    print $fh $text;
    close $fh or die;
    chmod 0755, $f or die;
}

sub install_tools {
    my ($dir) = @_;
    local $ENV{PATH} = "$dir/bin";
    my $r = run([ '/bin/sh', $script ], timeout => 30);
    $r->{log} = -e "$dir/log" ? do { open my $fh, '<', "$dir/log" or die; local $/; <$fh> } : '';
    return $r;
}

# Debian, freshly installed: apt-get install fails until apt-get update.
{
    my $d = fake_system(os => 'Linux', uid => 0, pm => 'apt-get', have => ['perl']);
    my $r = install_tools($d);
    is($r->{exit}, 0, 'Debian with empty package lists: exit 0');
    is($r->{log}, "apt-get install -y -q --no-install-recommends gnuplot-nox\napt-get update -q\n"
        . "apt-get install -y -q --no-install-recommends gnuplot-nox\n",
        'the install failed, the lists were refreshed once, the install was tried again');
    like($r->{out}, qr/refreshing the package lists \(apt-get update -q\)/, 'and it says so');
    ok(-x "$d/bin/gnuplot", 'gnuplot is installed');
}

# Debian with fresh lists: no refresh.
{
    my $d = fake_system(os => 'Linux', uid => 0, pm => 'apt-get', fresh => 1, have => ['perl']);
    my $r = install_tools($d);
    is($r->{exit}, 0, 'fresh lists: exit 0');
    is($r->{log}, "apt-get install -y -q --no-install-recommends gnuplot-nox\n", 'installed at once, no refresh');
}

# FreeBSD: perl is a package (perl5), installed before the harness needs it,
# and the lists are refreshed once for both.
{
    my $d = fake_system(os => 'FreeBSD', uid => 0, pm => 'pkg');
    my $r = install_tools($d);
    is($r->{exit}, 0, 'FreeBSD without perl: exit 0 once perl is installed');
    is($r->{log}, "pkg install -y perl5\npkg update -f\npkg install -y perl5\npkg install -y gnuplot-lite\n",
        'perl5 then gnuplot-lite, one refresh');
    ok(-x "$d/bin/perl" && -x "$d/bin/gnuplot", 'perl and gnuplot are installed');
}

# NetBSD: pkgin, package perl.
{
    my $d = fake_system(os => 'NetBSD', uid => 0, pm => 'pkgin', fresh => 1);
    my $r = install_tools($d);
    is($r->{exit}, 0, 'NetBSD: exit 0');
    is($r->{log}, "pkgin -y install perl\npkgin -y install gnuplot\n", 'perl and gnuplot through pkgin');
}

# No perl and no way to install it: exit 1 and say what to install.
{
    my $d = fake_system(os => 'FreeBSD', uid => 1000, pm => 'pkg');
    my $r = install_tools($d);
    is($r->{exit}, 1, 'not root, perl missing: exit 1');
    like($r->{out}, qr/perl is missing and cannot be installed from here: install it as root: pkg install -y perl5/,
        'names the command that installs perl');
    is($r->{log}, '', 'the package manager was not called');
}

# gnuplot that cannot be installed (the package manager always fails) is
# not fatal: the suite runs, only the page is not rendered.
{
    my $d = fake_system(os => 'Linux', uid => 0, pm => 'dnf', have => ['perl']);
    write_exe("$d/bin/dnf", "#!/bin/sh\necho \"dnf \$*\" >> $d/log\nexit 1\n");
    my $r = install_tools($d);
    is($r->{exit}, 0, 'gnuplot cannot be installed: still exit 0');
    like($r->{out}, qr/'dnf makecache' failed/, 'the failed refresh is named');
    like($r->{out}, qr/only the web page is not rendered \(package gnuplot\)/, 'and what that means');
}

# Everything there: silent, nothing called.
{
    my $d = fake_system(os => 'Linux', uid => 0, pm => 'apt-get', have => [ 'perl', 'gnuplot' ]);
    my $r = install_tools($d);
    is($r->{exit}, 0, 'nothing missing: exit 0');
    is($r->{out} . $r->{log}, '', 'nothing printed, nothing installed');
}

done_testing();
