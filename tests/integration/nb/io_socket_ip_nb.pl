# perl io_socket_ip_nb.pl NAME PORT TIMEOUT
# IO::Socket::IP's documented non-blocking use ("Blocking => 0", then call
# ->connect until it stops saying EINPROGRESS, waiting in select for write
# and except in between).  Each ->connect after the first reads SO_ERROR,
# then calls connect() again on the same address: EALREADY while pending,
# EISCONN once connected; an error moves it to the next address.  Gives up
# after TIMEOUT seconds in all.  Prints "ms=N" (until connected), then what
# the server sends; on failure "error ..." and exit 1.
use strict;
use warnings;
use Errno qw(EINPROGRESS EWOULDBLOCK);
use IO::Socket::IP;
use Time::HiRes qw(time);

my ($name, $port, $timeout) = @ARGV;
my $t = time;
my $s = IO::Socket::IP->new(PeerHost => $name, PeerPort => $port, Blocking => 0);
if (!$s) {
    printf "ms=%d\nerror new: %s\n", (time - $t) * 1000, $@;
    exit 1;
}
while (!$s->connect and ($! == EINPROGRESS or $! == EWOULDBLOCK)) {
    my $left = $t + $timeout - time;
    my $w = '';
    vec($w, fileno $s, 1) = 1;
    my $e = $w;
    if ($left <= 0 or !select(undef, $w, $e, $left)) {
        printf "ms=%d\nerror timeout\n", (time - $t) * 1000;
        exit 1;
    }
}
if ($!) {
    printf "ms=%d\nerror connect: %s\n", (time - $t) * 1000, $!;
    exit 1;
}
printf "ms=%d\n", (time - $t) * 1000;
$s->blocking(1);
$| = 1;
print while <$s>;
