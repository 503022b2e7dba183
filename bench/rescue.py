#!/usr/bin/python3
"""The long-running client of bench/run's stale-address rescue (section 4).

    rescue.py NAME PORT GO CAP_S

Resolves NAME once (getaddrinfo, AF_UNSPEC, SOCK_STREAM) and keeps its first
address X, as a program that resolved a service at start-up does.  Round 0:
socket.create_connection((X, PORT)), prints "round0 <ms> <peer> <reply>".
Then waits for the file GO (bench/run moves NAME in DNS and kills X
meanwhile) and does round 1 the same way, by IP, printing
"round1 <ms> <peer> <reply>" or "round1 TIMEOUT <ms>" when CAP_S seconds
pass first.  <ms> times create_connection() alone; <reply> is the whoami
server's "reached <its local address>".

The sockets stay blocking (no socket timeout: Python would make them
non-blocking, which libhe leaves alone); the cap is a SIGALRM whose
handler raises, which ends a blocking connect() with or without libhe.
"""

import os
import signal
import socket
import sys
import time

name, port, go, cap = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])


class Capped(Exception):
    pass


def on_alarm(signum, frame):
    raise Capped()


signal.signal(signal.SIGALRM, on_alarm)

addr = socket.getaddrinfo(name, port, socket.AF_UNSPEC, socket.SOCK_STREAM)[0][4][0]


def round_(label):
    t0 = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, cap)
    try:
        s = socket.create_connection((addr, port))
    except Capped:
        print("%s TIMEOUT %.3f" % (label, (time.monotonic() - t0) * 1000.0), flush=True)
        return
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    dt = time.monotonic() - t0
    peer = s.getpeername()[0]
    s.settimeout(2)
    try:
        reply = s.makefile().readline().strip().replace(" ", "_")
    except OSError as e:
        reply = "read-error-%s" % e.errno
    s.close()
    print("%s %.3f %s %s" % (label, dt * 1000.0, peer, reply or "-"), flush=True)


round_("round0")
while not os.path.exists(go):
    time.sleep(0.005)
round_("round1")
