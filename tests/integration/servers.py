#!/usr/bin/python3
"""Lab servers for libhe's integration tests.

Runs inside the server network namespace (never in the client's: RFC 6724
would sort local addresses first and the lab would prove nothing).  One
process, one thread per listener and per connection.  Every listener is a
dual-stack socket on [::]:PORT, so it answers on all the namespace's IPv4
and IPv6 addresses; the "dead" and "refusing" addresses are made so by
iptables in lab.sh, not here.

  whoami  (7000)  sends "reached <local address>\\n", closes.
  http    (8080)  answers any GET with 200 and the same "reached" body.
  banner  (2222)  sends "SSH-2.0-test\\r\\n", reads the client's
                  identification line (or waits BANNER_HOLD seconds),
                  then closes.  ssh then fails its handshake, quickly.
  record  (7001)  reads whatever the client sends for RECORD_WAIT seconds
                  (or until it shuts down its side), logs "got N BYTES"
                  (N bytes, BYTES their Python repr), then answers like
                  whoami.  Shows exactly what went into the connection.

With --at KIND@ADDR:PORT (repeatable; ADDR in brackets for IPv6) it runs
only those listeners, each on that one address (IPv6 ones IPV6_V6ONLY),
logging to LOGDIR/NAME.log (--at-log NAME, default "at"): t_loopback.sh
runs such a process in the client's own namespace, for servers on
loopback, and lab.sh one in the server namespace on port 22 (log
"greet"), for banner-aware racing (t_banner.sh).  KIND is whoami or http
(as above), or one of these servers that speak first (SSH, SMTP, ...) or
only look as if they would:

  greet        sends "SSH-2.0-lab\r\n" at once, then like banner: reads
               the client's identification line (or waits BANNER_HOLD),
               closes.
  slowgreet    the same, SLOW_GREET seconds after the accept.
  silent       accepts and says nothing: reads until the client closes
               (or IO_TIMEOUT), then closes.  A connection that looks
               fine and never speaks (a wedged server).
  acceptclose  accepts and closes at once, without a byte (a server that
               is out of workers or refuses the client).
  noaccept     listens and never accepts: the kernel completes the
               handshakes (up to its backlog), nobody reads or speaks.
               Logs nothing.

Each logs "reached <addr>" when it accepts; greet, slowgreet and silent
log "ident <addr> <line>" for the first line the client sent (so silent
shows whether a client that writes first wrote to it).

Each connection appends "reached <addr>" to LOGDIR/<server>.log; the banner
server also logs "ident <addr> <the client's identification line>", which
shows data flowed both ways through the (possibly spliced) connection.

Writes READY_FILE once every listener is listening, and exits by itself if
the process that started it goes away, so a killed test run leaves no
server behind.
"""

import argparse
import os
import socket
import sys
import threading
import time

BANNER_HOLD = 3.0  # seconds the banner server waits for the client's ident
SLOW_GREET = 2.0   # seconds slowgreet waits before its banner
IO_TIMEOUT = 5.0   # no connection is served for longer than this
RECORD_WAIT = 0.3  # seconds the record server listens before answering


class Log:
    """Append-only, line-buffered log file shared by threads."""

    def __init__(self, path):
        self.lock = threading.Lock()
        self.f = open(path, "a", buffering=1)

    def line(self, text):
        with self.lock:
            self.f.write(text + "\n")


def local_addr(conn):
    """The address the client reached us at, IPv4-mapped prefix removed."""
    addr = conn.getsockname()[0]
    if addr.startswith("::ffff:") and "." in addr:
        addr = addr[len("::ffff:"):]
    return addr


def read_until(conn, marker, limit=65536, deadline=None):
    """Reads until marker (None: never) is seen, EOF, timeout, limit or
    deadline (time.monotonic()); returns the bytes."""
    data = b""
    try:
        while (marker is None or marker not in data) and len(data) < limit:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                conn.settimeout(left)
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    return data


def serve_whoami(conn, log):
    addr = local_addr(conn)
    log.line("reached " + addr)
    conn.sendall(("reached %s\n" % addr).encode())


def serve_http(conn, log):
    addr = local_addr(conn)
    request = read_until(conn, b"\r\n\r\n")
    log.line("reached " + addr)
    if request.startswith(b"GET "):
        body = ("reached %s\n" % addr).encode()
        head = "HTTP/1.0 200 OK\r\n"
    else:
        body = b"only GET here\n"
        head = "HTTP/1.0 405 Method Not Allowed\r\n"
    head += ("Content-Type: text/plain\r\nContent-Length: %d\r\n"
             "Connection: close\r\n\r\n" % len(body))
    conn.sendall(head.encode() + body)


def serve_banner(conn, log):
    addr = local_addr(conn)
    log.line("reached " + addr)
    conn.sendall(b"SSH-2.0-test\r\n")
    conn.settimeout(BANNER_HOLD)
    ident = read_until(conn, b"\n").split(b"\n")[0].strip()
    if ident:
        log.line("ident %s %s" % (addr, ident.decode("ascii", "replace")))


def log_ident(conn, log, addr, wait):
    """Reads the client's first line for up to WAIT seconds (until EOF
    when None, within IO_TIMEOUT) and logs it as "ident ADDR LINE"."""
    conn.settimeout(IO_TIMEOUT if wait is None else wait)
    ident = read_until(conn, b"\n" if wait is not None else None)
    ident = ident.split(b"\n")[0].strip()
    if ident:
        log.line("ident %s %s" % (addr, ident.decode("ascii", "replace")))


def serve_greet(conn, log):
    addr = local_addr(conn)
    log.line("reached " + addr)
    conn.sendall(b"SSH-2.0-lab\r\n")
    log_ident(conn, log, addr, BANNER_HOLD)


def serve_slowgreet(conn, log):
    addr = local_addr(conn)
    log.line("reached " + addr)
    time.sleep(SLOW_GREET)
    conn.sendall(b"SSH-2.0-lab\r\n")
    log_ident(conn, log, addr, BANNER_HOLD)


def serve_silent(conn, log):
    addr = local_addr(conn)
    log.line("reached " + addr)
    log_ident(conn, log, addr, None)


def serve_acceptclose(conn, log):
    log.line("reached " + local_addr(conn))


def serve_record(conn, log):
    addr = local_addr(conn)
    data = read_until(conn, None, deadline=time.monotonic() + RECORD_WAIT)
    conn.settimeout(IO_TIMEOUT)
    log.line("got %d %r" % (len(data), data))
    log.line("reached " + addr)
    conn.sendall(("reached %s\n" % addr).encode())


def handle(conn, handler, log):
    try:
        conn.settimeout(IO_TIMEOUT)
        handler(conn, log)
        conn.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    finally:
        conn.close()


def listen(port):
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind(("::", port))
    sock.listen(128)
    return sock


def listen_at(spec):
    """KIND@ADDR:PORT -> (kind, listening socket)."""
    kind, _, where = spec.partition("@")
    addr, _, port = where.rpartition(":")
    addr = addr.strip("[]")
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    sock.bind((addr, int(port)))
    # noaccept's queue only grows: room for every case's connections.
    sock.listen(1024 if kind == "noaccept" else 128)
    return kind, sock


def accept_loop(sock, handler, log):
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=handle, args=(conn, handler, log),
                         daemon=True).start()


def watch_parent(parent):
    """Exits when the starting process dies (we get reparented)."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--log-dir", required=True)
    ap.add_argument("--ready-file", required=True)
    ap.add_argument("--whoami-port", type=int, default=7000)
    ap.add_argument("--http-port", type=int, default=8080)
    ap.add_argument("--banner-port", type=int, default=2222)
    ap.add_argument("--record-port", type=int, default=7001)
    ap.add_argument("--at", action="append", default=[])
    ap.add_argument("--at-log", default="at")
    args = ap.parse_args()

    servers = [
        ("whoami", args.whoami_port, serve_whoami),
        ("http", args.http_port, serve_http),
        ("banner", args.banner_port, serve_banner),
        ("record", args.record_port, serve_record),
    ]
    threads = []
    idle = []  # noaccept listeners: held open, never accepted from
    if args.at:
        log = Log(os.path.join(args.log_dir, args.at_log + ".log"))
        handlers = {"whoami": serve_whoami, "http": serve_http,
                    "greet": serve_greet, "slowgreet": serve_slowgreet,
                    "silent": serve_silent, "acceptclose": serve_acceptclose,
                    "noaccept": None}
        for spec in args.at:
            if spec.partition("@")[0] not in handlers:
                ap.error("unknown kind in --at " + spec)
            kind, sock = listen_at(spec)
            if handlers[kind] is None:
                idle.append(sock)
                continue
            threads.append(threading.Thread(
                target=accept_loop, args=(sock, handlers[kind], log),
                daemon=True))
        servers = []
    for name, port, handler in servers:
        log = Log(os.path.join(args.log_dir, name + ".log"))
        sock = listen(port)
        threads.append(threading.Thread(target=accept_loop,
                                        args=(sock, handler, log), daemon=True))
    for t in threads:
        t.start()
    threading.Thread(target=watch_parent, args=(os.getppid(),),
                     daemon=True).start()

    with open(args.ready_file, "w") as f:
        f.write("%d\n" % os.getpid())
    sys.stdout.flush()
    threading.Event().wait()


if __name__ == "__main__":
    main()
