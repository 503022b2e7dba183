# python3 first_addr.py MODE NAME PORT
# getaddrinfo(NAME, AF_UNSPEC), then one socket to the FIRST address only,
# as programs that take the first answer do (and Java does): MODE block is
# a blocking connect(); MODE timeout is settimeout(3), which Python makes a
# non-blocking connect() and a poll().  Prints "peer ADDR" and what the
# server sends; on failure "error ERRNO" and exit 1.
import socket
import sys

mode, name, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
fam, typ, proto, _, addr = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)[0]
s = socket.socket(fam, typ, proto)
if mode == "timeout":
    s.settimeout(3)
try:
    s.connect(addr)
except OSError as e:
    print("error %d" % e.errno)
    sys.exit(1)
peer = s.getpeername()[0]
print("peer " + peer[7:] if peer.startswith("::ffff:") else "peer " + peer)
sys.stdout.flush()
while True:
    data = s.recv(4096)
    if not data:
        break
    sys.stdout.write(data.decode())
