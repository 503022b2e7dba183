# perl http_tiny.pl URL TIMEOUT
# HTTP::Tiny->new(timeout => TIMEOUT)->get(URL), no proxy: HTTP::Tiny
# connects through IO::Socket::IP with Timeout (non-blocking connect +
# select, see io_socket_ip.pl).  Prints "ms=N" (the get), then the body; on
# failure "error STATUS REASON ..." and exit 1.
use strict;
use warnings;
use HTTP::Tiny;
use Time::HiRes qw(time);

my ($url, $timeout) = @ARGV;
my $http = HTTP::Tiny->new(timeout => $timeout, proxy => undef, http_proxy => undef);
my $t = time;
my $r = $http->get($url);
printf "ms=%d\n", (time - $t) * 1000;
if (!$r->{success}) {
    my $c = $r->{content} // "";
    $c =~ s/\s+/ /g;
    print "error $r->{status} $r->{reason} $c\n";
    exit 1;
}
print $r->{content};
