package Scalebench::Markdown;
# A small, safe Markdown subset to HTML, for the method pages shown on the
# results page: headings, paragraphs, lists, pipe tables, fenced and indented
# code, `code`, **bold**, *em*, links (kept as text unless absolute
# http(s)). Everything else is escaped. Core perl only.
#
#   use Scalebench::Markdown qw(md_to_html inline_md h);
#   my $html = md_to_html($markdown, $heading_shift);
use strict;
use warnings;
use Exporter 'import';
our @EXPORT_OK = qw(md_to_html inline_md h);

# HTML-escape text (for content and attribute values).
sub h {
    my ($s) = @_;
    $s //= '';
    $s =~ s/&/&amp;/g;
    $s =~ s/</&lt;/g;
    $s =~ s/>/&gt;/g;
    $s =~ s/"/&quot;/g;
    return $s;
}

sub inline_md {
    my ($t) = @_;
    my @parts = split /(`[^`]*`)/, $t;
    my $o = '';
    for my $p (@parts) {
        if ($p =~ /^`(.*)`$/s) { $o .= '<code>' . h($1) . '</code>'; next }
        my $x = h($p);
        $x =~ s/\[([^\]]+)\]\((https?:[^)\s]+)\)/<a href="$2">$1<\/a>/g;
        $x =~ s/\[([^\]]+)\]\([^)]*\)/$1/g;
        $x =~ s/\*\*(.+?)\*\*/<strong>$1<\/strong>/g;
        $x =~ s/(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])/<em>$1<\/em>/g;
        $o .= $x;
    }
    return $o;
}

# md_to_html($md, $shift): headings move down by $shift levels (the page's
# own h1/h2 stay above them).
sub md_to_html {
    my ($md, $shift) = @_;
    $shift //= 0;
    my @code;    # fenced code first: it may hold empty lines
    $md =~ s/^```[^\n]*\n(.*?)^```[ \t]*$/push @code, $1; "\0CODE" . $#code . "\0"/gmse;
    my $o = '';
    for my $b (split /\n\s*\n/, $md) {
        $b =~ s/^\s*\n|\s+$//g;
        next unless $b =~ /\S/;
        if ($b =~ /^\0CODE([0-9]+)\0$/) {
            $o .= '<pre>' . h($code[$1]) . "</pre>\n";
        } elsif ($b =~ /^(?: {4}|\t)/ && $b !~ /^(?! {4}|\t)/m) {
            $b =~ s/^(?: {4}|\t)//mg;
            $o .= '<pre>' . h($b) . "</pre>\n";
        } elsif ($b =~ /^(#+)\s+(.*)$/ && $b !~ /\n/) {
            my $l = length($1) + $shift;
            $l = 6 if $l > 6;
            $o .= "<h$l>" . inline_md($2) . "</h$l>\n";
        } elsif ($b =~ /^\s*(?:[0-9]+\.|[-*])\s/) {
            my $tag = $b =~ /^\s*[0-9]+\./ ? 'ol' : 'ul';
            $o .= "<$tag>\n";
            for my $it (split /\n(?=\s*(?:[0-9]+\.|[-*])\s)/, $b) {
                $it =~ s/^\s*(?:[0-9]+\.|[-*])\s+//;
                $it =~ s/\s*\n\s*/ /g;
                $o .= '<li>' . inline_md($it) . "</li>\n";
            }
            $o .= "</$tag>\n";
        } elsif ($b =~ /^\|/) {
            my @rows = grep { !/^\|[\s:|-]+\|$/ } split /\n/, $b;
            $o .= "<table class=\"doc\">\n";
            for my $i (0 .. $#rows) {
                my @c = split /\s*\|\s*/, $rows[$i];
                shift @c;
                my $cell = $i ? 'td' : 'th';
                $o .= '<tr>' . join('', map { "<$cell>" . inline_md($_) . "</$cell>" } @c) . "</tr>\n";
            }
            $o .= "</table>\n";
        } else {
            $b =~ s/^\s+//;
            $b =~ s/\s*\n\s*/ /g;
            $o .= '<p>' . inline_md($b) . "</p>\n";
        }
    }
    return $o;
}

1;
