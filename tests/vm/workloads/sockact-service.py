#!/usr/bin/python3
# Socket-activated test service: accepts on the listening socket systemd
# passes as fd 3 and answers every connection with "sockact <pid> <n>", n
# counting the connections it has answered (state in its memory).
import os, socket

s = socket.socket(fileno=3)
print("activated, pid %d" % os.getpid(), flush=True)
n = 0
while True:
    c, _ = s.accept()
    n += 1
    c.sendall(b"sockact %d %d\n" % (os.getpid(), n))
    c.close()
