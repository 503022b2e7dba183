# python3 create_connection.py NAME PORT TIMEOUT
# socket.create_connection((NAME, PORT), timeout=TIMEOUT): getaddrinfo, then
# for each address a socket with a timeout (non-blocking: ioctl FIONBIO),
# connect() -> EINPROGRESS, poll(POLLOUT, TIMEOUT), getsockopt(SO_ERROR).
# Prints "ms=N" (the create_connection call), then what the server sends;
# on failure "error <exception>" and exit 1.
import socket
import sys
import time

t = time.monotonic()
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))
except OSError as e:
    print("ms=%d" % ((time.monotonic() - t) * 1000))
    print("error %r" % (e,))
    sys.exit(1)
print("ms=%d" % ((time.monotonic() - t) * 1000))
data = b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode())
