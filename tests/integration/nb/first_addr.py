# python3 first_addr.py MODE NAME PORT [PORT2]
# getaddrinfo(NAME, AF_UNSPEC), then one socket to the FIRST address only,
# as programs that take the first answer do (and Java does): MODE block is
# a blocking connect(); MODE timeout is settimeout(3), which Python makes a
# non-blocking connect() and a poll().  block6 and timeout6: the first IPv6
# address instead.  Prints "peer ADDR" and what the server sends; on
# failure "error ERRNO" and exit 1, except that with PORT2 the same socket
# is then connected again, blocking, to the same address at PORT2 (Linux
# lets a socket whose connect failed try again): "reuse error ERRNO" or
# the peer and what that server sends.
import socket
import sys

mode, name, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
port2 = int(sys.argv[4]) if len(sys.argv) > 4 else None
answers = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
if mode.endswith("6"):
    answers = [a for a in answers if a[0] == socket.AF_INET6]
fam, typ, proto, _, addr = answers[0]
s = socket.socket(fam, typ, proto)
if mode.startswith("timeout"):
    s.settimeout(3)
try:
    s.connect(addr)
except OSError as e:
    print("error %d" % e.errno)
    if port2 is None:
        sys.exit(1)
    s.settimeout(3)
    try:
        s.connect((addr[0], port2) + tuple(addr[2:]))
    except OSError as e2:
        print("reuse error %s" % (e2.errno,))
        sys.exit(1)
peer = s.getpeername()[0]
print("peer " + peer[7:] if peer.startswith("::ffff:") else "peer " + peer)
sys.stdout.flush()
while True:
    data = s.recv(4096)
    if not data:
        break
    sys.stdout.write(data.decode())
