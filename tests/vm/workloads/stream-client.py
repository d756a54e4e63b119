#!/usr/bin/python3
# A host-side client holding ONE TCP connection to a guest service across the
# switch. Usage: stream-client.py MODE PORT CTL [ARG]
#   MODE line: sends "1", "2", ... and expects "<n> <pid> <count>" back
#              (zdtm-service.py); CTL.check makes it send "CHECK" once;
#   MODE http: sends "GET ARG HTTP/1.1" (keep-alive) and expects a 200 with
#              the same body every time.
# One request in flight at a time, every 0.5 s. While CTL.pause exists it
# sends nothing (after the reply to what it sent); CTL.stop ends it.
# Writes one line per event to CTL.log: "connected <lport>", "ok <n> <lport>
# <detail>", "paused after <n>", "check <reply>", "FAIL <why>".
import hashlib, os, socket, sys, time

mode, port, ctl = sys.argv[1], int(sys.argv[2]), sys.argv[3]
arg = sys.argv[4] if len(sys.argv) > 4 else "/"
out = open(ctl + ".log", "a", buffering=1)

def fail(why):
    out.write("FAIL %s\n" % why)
    sys.exit(1)

for attempt in range(100):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        break
    except OSError:
        time.sleep(0.3)
else:
    fail("cannot connect to 127.0.0.1:%d" % port)
# A reply may wait for the whole switch.
s.settimeout(1800)
lport = s.getsockname()[1]
f = s.makefile("rwb", buffering=0)
out.write("connected %d\n" % lport)

def http_get():
    f.write(b"GET %s HTTP/1.1\r\nHost: guest\r\nConnection: keep-alive\r\n\r\n" % arg.encode())
    status = f.readline()
    if not status:
        fail("disconnected")
    length = None
    while True:
        h = f.readline()
        if not h:
            fail("disconnected in headers")
        if h in (b"\r\n", b"\n"):
            break
        k, _, v = h.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
        if k.strip().lower() == b"connection" and v.strip().lower() == b"close":
            fail("server closes the connection: %r" % h)
    if length is None:
        fail("no Content-Length")
    body = b""
    while len(body) < length:
        chunk = f.read(length - len(body))
        if not chunk:
            fail("disconnected in a body")
        body += chunk
    return status.split()[1], body

n, first_body, last_count, paused = 0, None, -1, False
while True:
    if os.path.exists(ctl + ".stop"):
        out.write("stopped after %d\n" % n)
        break
    if os.path.exists(ctl + ".pause"):
        if not paused:
            out.write("paused after %d\n" % n)
            paused = True
        time.sleep(0.1)
        continue
    if paused:
        out.write("resumed after %d\n" % n)
        paused = False
    if mode == "line" and os.path.exists(ctl + ".check"):
        f.write(b"CHECK\n")
        reply = f.readline()
        if not reply:
            fail("disconnected at CHECK")
        os.unlink(ctl + ".check")
        out.write("check %s\n" % reply.decode(errors="replace").strip())
        continue
    n += 1
    try:
        if mode == "line":
            f.write(b"%d\n" % n)
            reply = f.readline()
            if not reply:
                fail("disconnected after %d" % (n - 1))
            parts = reply.split()
            if len(parts) != 3 or int(parts[0]) != n:
                fail("reply %r to message %d" % (reply, n))
            if int(parts[2]) < last_count:
                fail("the service's counter went back: %s after %d" % (parts[2], last_count))
            last_count = int(parts[2])
            detail = "pid %s count %s" % (parts[1].decode(), parts[2].decode())
        else:
            code, body = http_get()
            if code != b"200":
                fail("status %r for request %d" % (code, n))
            if first_body is None:
                first_body = body
            if body != first_body:
                fail("body changed at request %d" % n)
            detail = "200 sha256 %s" % hashlib.sha256(body).hexdigest()[:16]
    except OSError as e:
        fail("%s after %d" % (e, n - 1))
    out.write("ok %d %d %s\n" % (n, lport, detail))
    time.sleep(0.5)
