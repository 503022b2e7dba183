#!/usr/bin/python3
"""Servers for libhe's failover benchmark (bench/run, section 3).

Runs in the server network namespace.  Dual-stack listeners on [::]:PORT,
so every address of the namespace answers; which addresses are dead or
refusing is decided by ip(6)tables in bench/run, not here.

  whoami (--whoami-port, 7000)  sends "reached <local address>\\n", closes.
  http   (--http-port, 8080)    answers any request with a 200 whose body is
                                the same "reached" line, closes.

Writes --ready-file once listening.  Exits by itself when the process that
started it goes away, so an interrupted benchmark leaves nothing behind.
"""

import argparse
import os
import socket
import threading
import time

IO_TIMEOUT = 5.0


def local_addr(conn):
    addr = conn.getsockname()[0]
    if addr.startswith("::ffff:") and "." in addr:
        addr = addr[len("::ffff:"):]
    return addr


def listener(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    s.listen(1024)
    return s


def serve_whoami(lsock):
    while True:
        conn, _ = lsock.accept()
        try:
            conn.sendall(("reached %s\n" % local_addr(conn)).encode())
        except OSError:
            pass
        conn.close()


def handle_http(conn):
    try:
        conn.settimeout(IO_TIMEOUT)
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
        body = ("reached %s\n" % local_addr(conn)).encode()
        head = ("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
                "Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body))
        conn.sendall(head.encode() + body)
    except OSError:
        pass
    finally:
        conn.close()


def serve_http(lsock):
    while True:
        conn, _ = lsock.accept()
        threading.Thread(target=handle_http, args=(conn,), daemon=True).start()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--whoami-port", type=int, default=7000)
    ap.add_argument("--http-port", type=int, default=8080)
    ap.add_argument("--ready-file", required=True)
    args = ap.parse_args()
    parent = os.getppid()
    socks = [(serve_whoami, listener(args.whoami_port)),
             (serve_http, listener(args.http_port))]
    for fn, s in socks:
        threading.Thread(target=fn, args=(s,), daemon=True).start()
    with open(args.ready_file, "w") as f:
        f.write("ready\n")
    while os.getppid() == parent:
        time.sleep(0.5)


if __name__ == "__main__":
    main()
