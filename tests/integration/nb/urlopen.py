# python3 urlopen.py URL TIMEOUT
# urllib.request.urlopen(URL, timeout=TIMEOUT) (http.client ->
# socket.create_connection: non-blocking connect + poll per address).  No
# proxy, whatever the environment says.  Prints "ms=N" (urlopen: connect,
# request, response head), then the body; on failure "error ..." and exit 1.
import sys
import time
import urllib.request

opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
t = time.monotonic()
try:
    r = opener.open(sys.argv[1], timeout=float(sys.argv[2]))
except OSError as e:
    print("ms=%d" % ((time.monotonic() - t) * 1000))
    print("error %r" % (e,))
    sys.exit(1)
print("ms=%d" % ((time.monotonic() - t) * 1000))
sys.stdout.write(r.read().decode())
