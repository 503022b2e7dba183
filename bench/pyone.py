#!/usr/bin/python3
"""Times one non-blocking connect to the FIRST address of NAME, the way a
program that tries one address with a timeout does (Python's socket with
settimeout, Java's Socket.connect(addr, timeout)): getaddrinfo (untimed),
then socket.settimeout(3) and connect().  Prints "<milliseconds> <peer>"
or "ERR <milliseconds> <errno name>".

    pyone.py NAME PORT
"""

import errno
import socket
import sys
import time

name, port = sys.argv[1], int(sys.argv[2])
addr = socket.getaddrinfo(name, port, socket.AF_INET, socket.SOCK_STREAM)[0][4]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(3)
t0 = time.monotonic()
try:
    s.connect(addr)
    print("%.3f %s" % ((time.monotonic() - t0) * 1000.0, s.getpeername()[0]))
except OSError as e:
    name = errno.errorcode.get(e.errno, "timeout") if e.errno else "timeout"
    print("ERR %.3f %s" % ((time.monotonic() - t0) * 1000.0, name))
