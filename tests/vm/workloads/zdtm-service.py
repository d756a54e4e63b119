#!/usr/bin/python3
# A test service in the shape of CRIU's zdtm tests: it builds state, then
# serves clients until told to check that the state is intact.
#
# State, built at start:
#  - 16 MiB of anonymous memory filled from a seed, with its SHA-256;
#  - a thread that counts up every 10 ms (its count only grows);
#  - a pipe pair holding a known message in its buffer (never read but at check);
#  - a file under /var/lib/kupgrade-zdtm with an fcntl write lock on it;
#  - a child process sharing an anonymous MAP_SHARED page, which it counts up
#    in, and a unix socketpair to it that answers "ping" with "pong <n>";
#  - SIGUSR1 handled, and an interval timer (SIGALRM) ticking every 0.2 s;
#  - a TCP listener on PORT (default 7000).
#
# Protocol, one line per request: "<n>" -> "<n> <pid> <thread count>", every
# exchange also logged to stdout (the journal); "CHECK" -> "CHECK OK ..." or
# "CHECK FAIL <why>". A new client is served once the previous one is gone.
import fcntl, hashlib, mmap, os, random, signal, socket, struct, sys, threading, time

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 7000
STATE_DIR = "/var/lib/kupgrade-zdtm"
PIPE_MSG = b"zdtm pipe message: kept in the kernel's pipe buffer\n"

rng = random.Random(20261126)
mem = bytearray(rng.getrandbits(8 * 1024 * 1024).to_bytes(1024 * 1024, "little") * 16)
mem_sum = hashlib.sha256(mem).hexdigest()

count = 0
def counter():
    global count
    while True:
        count += 1
        time.sleep(0.01)
threading.Thread(target=counter, daemon=True).start()

pipe_r, pipe_w = os.pipe()
os.write(pipe_w, PIPE_MSG)

os.makedirs(STATE_DIR, exist_ok=True)
lock_path = os.path.join(STATE_DIR, "lock")
lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
os.write(lock_fd, b"%d\n" % os.getpid())
fcntl.lockf(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

shared = mmap.mmap(-1, 4096, flags=mmap.MAP_SHARED)
sp, sc = socket.socketpair()
child = os.fork()
if child == 0:
    sp.close()
    def child_count():
        while True:
            v = struct.unpack_from("Q", shared, 0)[0]
            struct.pack_into("Q", shared, 0, v + 1)
            time.sleep(0.05)
    threading.Thread(target=child_count, daemon=True).start()
    f = sc.makefile("rwb", buffering=0)
    for line in f:
        f.write(b"pong %d\n" % struct.unpack_from("Q", shared, 0)[0])
    os._exit(0)
sc.close()
sp_file = sp.makefile("rwb", buffering=0)

usr1 = 0
def on_usr1(sig, frame):
    global usr1
    usr1 += 1
signal.signal(signal.SIGUSR1, on_usr1)
ticks = 0
def on_alarm(sig, frame):
    global ticks
    ticks += 1
signal.signal(signal.SIGALRM, on_alarm)
signal.setitimer(signal.ITIMER_REAL, 0.2, 0.2)

last = {"count": 0, "shared": 0, "ticks": 0}

def check():
    """Every piece of state, or the first thing found wrong."""
    if hashlib.sha256(mem).hexdigest() != mem_sum:
        return "memory checksum changed"
    if count <= last["count"]:
        return "thread counter did not move (%d)" % count
    data = os.read(pipe_r, len(PIPE_MSG))
    os.write(pipe_w, data)
    if data != PIPE_MSG:
        return "pipe buffer holds %r" % data
    with open("/proc/locks") as f:
        ino = os.fstat(lock_fd).st_ino
        mine = [l for l in f if " %d " % os.getpid() in l and (":%d " % ino) in l]
    if not mine:
        return "the fcntl lock on %s is gone" % lock_path
    sp_file.write(b"ping\n")
    reply = sp_file.readline().split()
    if len(reply) != 2 or reply[0] != b"pong" or int(reply[1]) <= last["shared"]:
        return "child over socketpair/shared memory answered %r" % reply
    os.kill(os.getpid(), signal.SIGUSR1)
    if usr1 < 1:
        return "SIGUSR1 handler did not run"
    with open("/proc/self/status") as f:
        cgt = int([l for l in f if l.startswith("SigCgt:")][0].split()[1], 16)
    if not cgt & (1 << (signal.SIGUSR1 - 1)) or not cgt & (1 << (signal.SIGALRM - 1)):
        return "signal handlers not installed in the kernel (SigCgt %x)" % cgt
    if ticks <= last["ticks"]:
        return "interval timer stopped (%d ticks)" % ticks
    last.update(count=count, shared=int(reply[1]), ticks=ticks)
    return None

def log(msg):
    print(msg, flush=True)

srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", PORT))
srv.listen(4)
log("zdtm-service pid %d listening on %d, memory sha256 %s, child %d" % (os.getpid(), PORT, mem_sum, child))
while True:
    conn, peer = srv.accept()
    log("client %s:%d connected" % peer)
    f = conn.makefile("rwb", buffering=0)
    for line in f:
        line = line.strip()
        if line == b"CHECK":
            why = check()
            reply = ("CHECK FAIL %s" % why) if why else \
                ("CHECK OK pid %d count %d shared %d ticks %d usr1 %d sha256 %s" %
                 (os.getpid(), count, last["shared"], ticks, usr1, mem_sum))
        else:
            reply = "%s %d %d" % (line.decode(errors="replace"), os.getpid(), count)
        log("message %s -> %s" % (line.decode(errors="replace"), reply))
        f.write(reply.encode() + b"\n")
    log("client %s:%d gone" % peer)
    conn.close()
