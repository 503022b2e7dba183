# perl io_socket_inet.pl NAME PORT TIMEOUT
# IO::Socket::INET->new(PeerAddr, PeerPort, Timeout): the first IPv4
# address only (inet_aton; MultiHomed is off by default), then
# IO::Socket::connect with a timeout, which never reads SO_ERROR: O_NONBLOCK
# (fcntl), connect() -> EINPROGRESS, select() for write and except with the
# timeout, then connect() AGAIN on the same fd, to the same address, whose
# answer is the outcome (EISCONN: connected; ECONNREFUSED, ...: failed),
# blocking again.  Prints "ms=N" (new), then what the server sends; on
# failure "error ..." and exit 1.
use strict;
use warnings;
use IO::Socket::INET;
use Time::HiRes qw(time);

my ($name, $port, $timeout) = @ARGV;
my $t = time;
my $s = IO::Socket::INET->new(PeerAddr => $name, PeerPort => $port, Proto => "tcp",
                              Timeout => $timeout);
printf "ms=%d\n", (time - $t) * 1000;
if (!$s) {
    print "error $@\n";
    exit 1;
}
$| = 1;
print while <$s>;
