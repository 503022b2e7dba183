#!/usr/bin/python3
"""Times socket.create_connection((NAME, PORT)) -- name resolution included,
interpreter start-up excluded -- and prints "<milliseconds> <peer address>".

No socket timeout: against a dead address this blocks for the kernel's SYN
timeout (about two minutes), which is the point; bench/run caps it with
timeout(1).
"""

import socket
import sys
import time

name, port = sys.argv[1], int(sys.argv[2])
t0 = time.monotonic()
s = socket.create_connection((name, port))
dt = time.monotonic() - t0
peer = s.getpeername()[0]
s.close()
print("%.3f %s" % (dt * 1000.0, peer))
