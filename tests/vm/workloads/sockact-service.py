#!/usr/bin/python3
# Socket-activated test service: accepts on the listening sockets systemd
# passes from fd 3 on (LISTEN_FDS: TCP port 7100 and a unix socket) and
# answers every connection with "sockact <pid> <n>", n counting the
# connections it has answered (state in its memory).
import os, selectors, socket

sel = selectors.DefaultSelector()
for fd in range(3, 3 + int(os.environ.get("LISTEN_FDS", "1"))):
    sel.register(socket.socket(fileno=fd), selectors.EVENT_READ)
print("activated, pid %d" % os.getpid(), flush=True)
n = 0
while True:
    for key, _ in sel.select():
        c, _ = key.fileobj.accept()
        n += 1
        c.sendall(b"sockact %d %d\n" % (os.getpid(), n))
        c.close()
