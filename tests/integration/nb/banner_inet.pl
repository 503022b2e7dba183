# perl banner_inet.pl NAME PORT TIMEOUT
# A Perl client of a server-first protocol (Net::SMTP, Net::FTP, ... build
# on IO::Socket::INET): IO::Socket::INET->new(PeerAddr, PeerPort) without
# Timeout, so a blocking connect() to NAME's first address (inet_aton,
# which asks gethostbyname), then the server's first line, waited for with
# select() for at most TIMEOUT seconds after the connect.  Prints the same lines as
# banner_read.py:
#   connect_ms=N
#   peer ADDR
#   banner LINE | eof | timeout | error ERRNO
#   banner_ms=N
# (or "error ERRNO" alone if the connect failed).  Exit 0 for a banner
# line, 1 otherwise.
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use Errno;
use Time::HiRes qw(time);

my ($name, $port, $timeout) = @ARGV;
$| = 1;
my $t0 = time;
sub ms { return int((time - $t0) * 1000); }
# $!'s name (ECONNRESET), as banner_read.py prints it.
sub errname { my ($n) = grep { $!{$_} } keys %!; return $n // ($! + 0); }

my $s = IO::Socket::INET->new(PeerAddr => $name, PeerPort => $port, Proto => 'tcp');
printf "connect_ms=%d\n", ms();
if (!$s) {
    print "error ", errname(), "\n";
    exit 1;
}
print "peer ", $s->peerhost, "\n";
my $t1 = time;
my $sel = IO::Select->new($s);
my $data = '';
my $outcome;
while (index($data, "\n") < 0) {
    my $left = $timeout - (time - $t1);
    if ($left <= 0 || !$sel->can_read($left)) {
        $outcome = 'timeout';
        last;
    }
    my $n = sysread($s, $data, 4096, length $data);
    if (!defined $n) {
        $outcome = 'error ' . errname();
        last;
    }
    if ($n == 0) {
        $outcome = 'eof';
        last;
    }
}
if (index($data, "\n") >= 0) {
    my ($line) = split /\n/, $data;
    $line =~ s/\s+$//;
    $outcome = "banner $line";
}
print "$outcome\n";
printf "banner_ms=%d\n", ms();
close $s;
exit($outcome =~ /^banner / ? 0 : 1);
