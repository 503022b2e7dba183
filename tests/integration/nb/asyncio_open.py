# python3 asyncio_open.py NAME PORT TIMEOUT
# asyncio.open_connection(NAME, PORT) with the default event loop (selector:
# epoll) and no happy_eyeballs_delay: getaddrinfo in the default executor (a
# thread), then for each address, in order, a non-blocking socket,
# connect() -> EINPROGRESS, EPOLL_CTL_ADD EPOLLOUT, epoll_wait,
# getsockopt(SO_ERROR), EPOLL_CTL_DEL.  asyncio sets no timeout of its own
# per address (a dead one costs the kernel's SYN timeout), so the whole call
# is bounded by asyncio.wait_for(TIMEOUT).
# Prints "selector=<class>", "ms=N" (open_connection), then the server's
# line; on failure "error ..." and exit 1.
import asyncio
import sys
import time


async def main():
    print("selector=%s" % type(asyncio.get_running_loop()._selector).__name__)
    t = time.monotonic()
    try:
        r, w = await asyncio.wait_for(
            asyncio.open_connection(sys.argv[1], int(sys.argv[2])), float(sys.argv[3]))
    except (OSError, asyncio.TimeoutError) as e:
        print("ms=%d" % ((time.monotonic() - t) * 1000))
        print("error %r" % (e,))
        return 1
    print("ms=%d" % ((time.monotonic() - t) * 1000))
    sys.stdout.write((await r.read()).decode())
    w.close()
    await w.wait_closed()
    return 0


sys.exit(asyncio.run(main()))
