#!/usr/bin/python3
# Client of counter-server.py on one long-lived connection: sends 1, 2, 3...
# every INTERVAL s and checks each reply: same number, count == n and
# sum == n(n+1)/2 (nothing lost, nothing doubled, state intact). Appends
# "ok <n> <local port>" or "FAIL <why>" lines to LOG, and exits on a failure.
# Usage: counter-client.py PORT LOG [INTERVAL]
import socket, sys, time

port, log = int(sys.argv[1]), sys.argv[2]
interval = float(sys.argv[3]) if len(sys.argv) > 3 else 0.2
out = open(log, "a", buffering=1)
for attempt in range(50):
    try:
        s = socket.create_connection(("127.0.0.1", port))
        break
    except ConnectionRefusedError:
        time.sleep(0.2)
else:
    out.write("FAIL cannot connect to port %d\n" % port)
    sys.exit(1)
lport = s.getsockname()[1]
f = s.makefile("rwb", buffering=0)
n = 0
while True:
    n += 1
    f.write(b"%d\n" % n)
    line = f.readline()
    if not line:
        out.write("FAIL disconnected after %d\n" % (n - 1))
        sys.exit(1)
    got, count, total = line.split()
    want = "%d count=%d sum=%d" % (n, n, n * (n + 1) // 2)
    if line.decode().strip() != want:
        out.write("FAIL got %r want %r\n" % (line.decode().strip(), want))
        sys.exit(1)
    out.write("ok %d %d %.3f\n" % (n, lport, time.time()))
    time.sleep(interval)
