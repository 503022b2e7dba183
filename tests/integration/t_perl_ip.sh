#!/bin/bash
# Perl's IO::Socket::IP without Timeout: getaddrinfo, then a blocking
# connect() to each address in order.
# shellcheck source=lib.sh
. "$HE_IT_DIR/lib.sh"

# shellcheck disable=SC2016 # Perl, not shell, variables
PL='
use IO::Socket::IP;
my $s = IO::Socket::IP->new(PeerHost => $ARGV[0], PeerPort => $ARGV[1])
    or die "IO::Socket::IP: $@\n";
print while <$s>;
'

client() { HE_CMD=(/usr/bin/perl -e "$PL" "$1" "$LAB_PORT_WHOAMI"); }

he_standard_cases perl_ip "${HE_ALL_KINDS[@]}"
