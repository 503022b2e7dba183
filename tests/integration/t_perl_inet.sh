#!/bin/bash
# Perl's IO::Socket::INET without Timeout, which resolves two different
# ways depending on MultiHomed (as Debian 12's perl 5.36 / Socket 2.033 do):
#
#   perl_inet     MultiHomed off (the default): Socket::inet_aton, i.e.
#                 getaddrinfo with AF_INET hints, and one blocking connect()
#                 to the first address only -- without libhe a dead first
#                 address is simply fatal.
#   perl_inet_mh  MultiHomed => 1: perl's gethostbyname, i.e. glibc's
#                 gethostbyname_r, then a blocking connect() to each address
#                 in order.
#
# No dead6 cases: both ways ask for IPv4 only, so dead6.test is just
# 198.51.100.10 to this program and the case would repeat "healthy".
# shellcheck source=lib.sh
. "$HE_IT_DIR/lib.sh"

# shellcheck disable=SC2016 # Perl, not shell, variables
PL='
use IO::Socket::INET;
my $s = IO::Socket::INET->new(PeerAddr => $ARGV[0], PeerPort => $ARGV[1],
                              Proto => "tcp", MultiHomed => $ARGV[2])
    or die "IO::Socket::INET: $@\n";
print while <$s>;
'

MULTIHOMED=0
client() { HE_CMD=(/usr/bin/perl -e "$PL" "$1" "$LAB_PORT_WHOAMI" "$MULTIHOMED"); }

he_standard_cases perl_inet plain healthy dead4 dead3x refuse alldead
MULTIHOMED=1
he_standard_cases perl_inet_mh plain healthy dead4 dead3x refuse alldead
