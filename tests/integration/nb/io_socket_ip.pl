# perl io_socket_ip.pl NAME PORT TIMEOUT
# IO::Socket::IP->new(PeerHost, PeerPort, Timeout): getaddrinfo, then for
# each address O_NONBLOCK (fcntl), connect() -> EINPROGRESS, select() for
# write and except with the timeout, getsockopt(SO_ERROR), blocking again.
# Prints "ms=N" (new), then what the server sends; on failure "error ..."
# and exit 1.
use strict;
use warnings;
use IO::Socket::IP;
use Time::HiRes qw(time);

my ($name, $port, $timeout) = @ARGV;
my $t = time;
my $s = IO::Socket::IP->new(PeerHost => $name, PeerPort => $port, Timeout => $timeout);
printf "ms=%d\n", (time - $t) * 1000;
if (!$s) {
    print "error $@\n";
    exit 1;
}
$| = 1;
print while <$s>;
