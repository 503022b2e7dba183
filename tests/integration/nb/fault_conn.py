# python3 fault_conn.py [OPTIONS] HOW TARGET PORT [COUNT [READ_S]]
# COUNT (default 1) connects in one process, one after the other, each on a
# new socket to TARGET's FIRST address (getaddrinfo, as programs that take
# the first answer do), the way HOW says:
#   block:G    a blocking connect(), given up after G s by a SIGALRM whose
#              handler raises (as a program's own alarm would)
#   timeout:S  settimeout(S): Python's non-blocking connect() and poll()
#   epoll:S    a non-blocking socket, connect() (-1/EINPROGRESS), epoll_wait
#              for EPOLLOUT for S s, then SO_ERROR
#   reuse:S:N  as timeout:S, but the first N connects share one socket (a
#              program retrying on the socket it has, after an error
#              already read with SO_ERROR); each later one gets its own
# Prints, per connect:
#   connect ok ms=M peer=ADDR | connect error=ERRNAME ms=M | connect timeout ms=M
# and, when connected, what a read (READ_S, default 1 s) then gets:
#   read data LINE | read eof ms=M | read timeout ms=M | read error=ERRNAME ms=M
# and at the end "outcomes O,O,..." with O ok, timeout or the errno's name.
# Exit 0 if every connect connected, else 1.
# Options:
#   --no-read   close each connection at once: no read, no "read" line
#   --stop      no more connects after the first that does not connect
#   --linger S  sleep S s before exiting (so that what libhe would still do
#               in the background, had it not cancelled it, can be seen)
import errno
import select
import signal
import socket
import sys
import time

args = sys.argv[1:]
no_read = stop = False
linger = 0.0
while args and args[0].startswith("--"):
    opt = args.pop(0)
    if opt == "--no-read":
        no_read = True
    elif opt == "--stop":
        stop = True
    elif opt == "--linger":
        linger = float(args.pop(0))
    else:
        sys.exit("unknown option " + opt)
how, target, port = args[0], args[1], int(args[2])
count = int(args[3]) if len(args) > 3 else 1
read_s = float(args[4]) if len(args) > 4 else 1.0
kind, _, arg = how.partition(":")
arg, _, shared = arg.partition(":")
limit = float(arg) if arg else 1.0
# reuse:S:N: the socket the first N connects share.
shared = int(shared) if kind == "reuse" and shared else 0
shared_sock = None


class Guard(Exception):
    pass


def on_alarm(sig, frame):
    raise Guard()


def ms_since(t):
    return int((time.monotonic() - t) * 1000)


def errname(e):
    return errno.errorcode.get(e, str(e))


def drop(s):
    """Closes s unless it is the shared socket, kept for the next connect."""
    if s is not shared_sock:
        s.close()


def connect_one(fam, addr, i):
    """Returns (outcome, socket or None, ms)."""
    global shared_sock
    if i < shared:
        if shared_sock is None:
            shared_sock = socket.socket(fam, socket.SOCK_STREAM)
        s = shared_sock
    else:
        if shared_sock is not None:
            shared_sock.close()
            shared_sock = None
        s = socket.socket(fam, socket.SOCK_STREAM)
    t = time.monotonic()
    try:
        if kind == "block":
            signal.signal(signal.SIGALRM, on_alarm)
            signal.setitimer(signal.ITIMER_REAL, limit)
            try:
                s.connect(addr)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        elif kind in ("timeout", "reuse"):
            s.settimeout(limit)
            s.connect(addr)
        elif kind == "epoll":
            s.setblocking(False)
            rc = s.connect_ex(addr)
            if rc not in (0, errno.EINPROGRESS):
                raise OSError(rc, "connect")
            if rc != 0:
                ep = select.epoll()
                ep.register(s.fileno(), select.EPOLLOUT)
                events = ep.poll(limit)
                ep.close()
                if not events:
                    raise socket.timeout()
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    raise OSError(err, "SO_ERROR")
        else:
            sys.exit("unknown HOW " + how)
    except (Guard, socket.timeout):
        drop(s)
        return "timeout", None, ms_since(t)
    except OSError as e:
        drop(s)
        return errname(e.errno), None, ms_since(t)
    if s is shared_sock:
        shared_sock = None  # connected: the caller closes it
    return "ok", s, ms_since(t)


fam, _, _, _, addr = socket.getaddrinfo(target, port, type=socket.SOCK_STREAM)[0]
outcomes = []
for i in range(count):
    outcome, s, ms = connect_one(fam, addr, i)
    outcomes.append(outcome)
    if s is None:
        print("connect %s ms=%d" % ("timeout" if outcome == "timeout" else "error=" + outcome, ms))
        sys.stdout.flush()
        if stop:
            break
        continue
    peer = s.getpeername()[0]
    if peer.startswith("::ffff:"):
        peer = peer[7:]
    print("connect ok ms=%d peer=%s" % (ms, peer))
    if no_read:
        s.close()
        continue
    s.settimeout(read_s)
    t = time.monotonic()
    try:
        data = s.recv(4096)
        if data:
            print("read data " + data.decode(errors="replace").splitlines()[0])
        else:
            print("read eof ms=%d" % ms_since(t))
    except socket.timeout:
        print("read timeout ms=%d" % ms_since(t))
    except OSError as e:
        print("read error=%s ms=%d" % (errname(e.errno), ms_since(t)))
    s.close()
    sys.stdout.flush()
if shared_sock is not None:
    shared_sock.close()
print("outcomes " + ",".join(outcomes))
sys.stdout.flush()
time.sleep(linger)
sys.exit(0 if all(o == "ok" for o in outcomes) else 1)
