# python3 fault_conn.py HOW TARGET PORT [COUNT [READ_S]]
# COUNT (default 1) connects in one process, one after the other, each on a
# new socket to TARGET's FIRST address (getaddrinfo, as programs that take
# the first answer do), the way HOW says:
#   block:G    a blocking connect(), given up after G s by a SIGALRM whose
#              handler raises (as a program's own alarm would)
#   timeout:S  settimeout(S): Python's non-blocking connect() and poll()
#   epoll:S    a non-blocking socket, connect() (-1/EINPROGRESS), epoll_wait
#              for EPOLLOUT for S s, then SO_ERROR
# Prints, per connect:
#   connect ok ms=M peer=ADDR | connect error=ERRNAME ms=M | connect timeout ms=M
# and, when connected, what a read (READ_S, default 1 s) then gets:
#   read data LINE | read eof ms=M | read timeout ms=M | read error=ERRNAME ms=M
# and at the end "outcomes O,O,..." with O ok, timeout or the errno's name.
# Exit 0 if every connect connected, else 1.
import errno
import select
import signal
import socket
import sys
import time

how, target, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
count = int(sys.argv[4]) if len(sys.argv) > 4 else 1
read_s = float(sys.argv[5]) if len(sys.argv) > 5 else 1.0
kind, _, arg = how.partition(":")
limit = float(arg) if arg else 1.0


class Guard(Exception):
    pass


def on_alarm(sig, frame):
    raise Guard()


def ms_since(t):
    return int((time.monotonic() - t) * 1000)


def errname(e):
    return errno.errorcode.get(e, str(e))


def connect_one(fam, addr):
    """Returns (outcome, socket or None, ms)."""
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
        elif kind == "timeout":
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
        s.close()
        return "timeout", None, ms_since(t)
    except OSError as e:
        s.close()
        return errname(e.errno), None, ms_since(t)
    return "ok", s, ms_since(t)


fam, _, _, _, addr = socket.getaddrinfo(target, port, type=socket.SOCK_STREAM)[0]
outcomes = []
for _ in range(count):
    outcome, s, ms = connect_one(fam, addr)
    outcomes.append(outcome)
    if s is None:
        print("connect %s ms=%d" % ("timeout" if outcome == "timeout" else "error=" + outcome, ms))
        sys.stdout.flush()
        continue
    peer = s.getpeername()[0]
    if peer.startswith("::ffff:"):
        peer = peer[7:]
    print("connect ok ms=%d peer=%s" % (ms, peer))
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
print("outcomes " + ",".join(outcomes))
sys.exit(0 if all(o == "ok" for o in outcomes) else 1)
