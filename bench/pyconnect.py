#!/usr/bin/python3
"""Times socket.create_connection((NAME, PORT)) -- name resolution included,
interpreter start-up excluded -- and prints "<milliseconds> <peer address>".

    pyconnect.py NAME PORT [COUNT]

With COUNT (default 1), connects COUNT times one after another in this one
process, printing one line per connect: the later ones are the "warm, same
process" figures of bench/run's section 7.

No socket timeout: against a dead address this blocks for the kernel's SYN
timeout (about two minutes), which is the point; bench/run caps it with
timeout(1).
"""

import socket
import sys
import time

name, port = sys.argv[1], int(sys.argv[2])
count = int(sys.argv[3]) if len(sys.argv) > 3 else 1
for _ in range(count):
    t0 = time.monotonic()
    s = socket.create_connection((name, port))
    dt = time.monotonic() - t0
    peer = s.getpeername()[0]
    s.close()
    print("%.3f %s" % (dt * 1000.0, peer), flush=True)
