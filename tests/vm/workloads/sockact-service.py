#!/usr/bin/python3
# Socket-activated test service: accepts on the listening socket systemd
# passes as fd 3 and answers every connection with "sockact <pid>".
import os, socket

s = socket.socket(fileno=3)
print("activated, pid %d" % os.getpid(), flush=True)
while True:
    c, _ = s.accept()
    c.sendall(b"sockact %d\n" % os.getpid())
    c.close()
