#!/usr/bin/python3
# A TCP service holding in-memory state, in the shape of a CRIU zdtm test:
# builds state (a running sum and count fed by its clients, a 4 MiB buffer
# with a known checksum), then serves until killed.
#   "<n>\n"   -> adds n: replies "<n> count=<count> sum=<sum>\n"
#   "CHECK\n" -> verifies the buffer: "CHECK ok <count> <sum>" or "CHECK bad"
# Usage: counter-server.py PORT
import hashlib, os, socket, sys, threading

port = int(sys.argv[1])
blob = bytearray(os.urandom(1 << 22))
digest = hashlib.sha256(blob).hexdigest()
state = {"count": 0, "sum": 0}
lock = threading.Lock()


def serve(conn):
    f = conn.makefile("rwb", buffering=0)
    for line in f:
        line = line.strip()
        if line == b"CHECK":
            ok = hashlib.sha256(blob).hexdigest() == digest
            with lock:
                reply = "CHECK %s %d %d\n" % ("ok" if ok else "bad", state["count"], state["sum"])
        else:
            n = int(line)
            with lock:
                state["count"] += 1
                state["sum"] += n
                reply = "%d count=%d sum=%d\n" % (n, state["count"], state["sum"])
        f.write(reply.encode())
    conn.close()


s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(8)
print("counter-server ready on %d, buffer sha256 %s" % (port, digest), flush=True)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
