#!/usr/bin/python3
# Many TCP connections inside the guest, each carrying checksummed data both
# ways, for the load scenario (57). One process each side, asyncio.
#
#   load-stream.py server PORT STATS
#   load-stream.py client PORT STATS CONNS [INTERVAL]
#
# The client opens CONNS connections and never reconnects. On connection C it
# sends message 1, 2, 3... each "SEQ LEN\n" and LEN bytes that are a function
# of (C, SEQ); the server checks that SEQ is the next one of that connection
# and that every byte is the expected one, and answers "SEQ SHA256\n" of what
# it got, which the client checks in turn. A lost, doubled, reordered or
# corrupted byte in either direction is a failure; a connection that closes
# is one. One message in flight per connection, one every INTERVAL s
# (default 1).
#
# STATS, rewritten every second (rename): one line of key=value:
#   conns (connections up), msgs, bytes (payload bytes checked, both ways on
#   the client), fails, min_seq/max_seq (the least and most advanced
#   connection; client), lports (a digest of the client's local ports: the
#   same connections); and the first failures, one per line after it.
import asyncio, hashlib, os, sys

mode, port, statf = sys.argv[1], int(sys.argv[2]), sys.argv[3]
stats = {"conns": 0, "msgs": 0, "bytes": 0, "fails": 0}
failures = []
seqs = {}
lports = []


def payload(cid, seq):
    return hashlib.sha256(b"%d:%d" % (cid, seq)).digest() * 16  # 512 bytes


def fail(why):
    stats["fails"] += 1
    if len(failures) < 20:
        failures.append(why)


def write_stats():
    line = " ".join("%s=%s" % kv for kv in stats.items())
    if seqs:
        line += " min_seq=%d max_seq=%d" % (min(seqs.values()), max(seqs.values()))
    if lports:
        line += " lports=%s" % hashlib.sha256(repr(sorted(lports)).encode()).hexdigest()[:16]
    tmp = statf + ".new"
    with open(tmp, "w") as f:
        f.write(line + "\n" + "".join(x + "\n" for x in failures))
    os.rename(tmp, statf)


async def stats_loop():
    while True:
        write_stats()
        await asyncio.sleep(1)


async def serve(r, w):
    try:
        hello = await r.readline()
        cid = int(hello.split()[1])
    except (ValueError, IndexError, ConnectionError):
        fail("a connection said no HELLO: %r" % hello[:40])
        w.close()
        return
    stats["conns"] += 1
    expect = 1
    try:
        while True:
            line = await r.readline()
            if not line:
                fail("connection %d closed by the client after %d" % (cid, expect - 1))
                break
            seq, n = map(int, line.split())
            data = await r.readexactly(n)
            if seq != expect or data != payload(cid, seq):
                fail("connection %d: got message %d (%d bytes), wanted %d" % (cid, seq, n, expect))
                break
            expect += 1
            stats["msgs"] += 1
            stats["bytes"] += n
            w.write(b"%d %s\n" % (seq, hashlib.sha256(data).hexdigest().encode()))
            await w.drain()
    except (ConnectionError, asyncio.IncompleteReadError, ValueError) as e:
        fail("connection %d: %s after %d" % (cid, e.__class__.__name__, expect - 1))
    stats["conns"] -= 1
    w.close()


async def talk(cid, interval):
    try:
        r, w = await asyncio.open_connection("127.0.0.1", port)
    except OSError as e:
        fail("connection %d: cannot connect: %s" % (cid, e))
        return
    lports.append(w.get_extra_info("sockname")[1])
    stats["conns"] += 1
    w.write(b"HELLO %d\n" % cid)
    seq = 0
    seqs[cid] = 0
    try:
        while True:
            seq += 1
            p = payload(cid, seq)
            w.write(b"%d %d\n" % (seq, len(p)) + p)
            await w.drain()
            line = await r.readline()
            if not line:
                fail("connection %d closed by the server after %d" % (cid, seq - 1))
                break
            got, digest = line.split()
            if int(got) != seq or digest.decode() != hashlib.sha256(p).hexdigest():
                fail("connection %d: answer %r to message %d" % (cid, line[:80], seq))
                break
            seqs[cid] = seq
            stats["msgs"] += 1
            stats["bytes"] += 2 * len(p)
            await asyncio.sleep(interval)
    except (ConnectionError, ValueError) as e:
        fail("connection %d: %s after %d" % (cid, e.__class__.__name__, seq - 1))
    stats["conns"] -= 1
    w.close()


async def main():
    if mode == "server":
        srv = await asyncio.start_server(serve, "127.0.0.1", port, backlog=512)
        write_stats()
        async with srv:
            await asyncio.gather(srv.serve_forever(), stats_loop())
    else:
        conns = int(sys.argv[4])
        interval = float(sys.argv[5]) if len(sys.argv) > 5 else 1.0
        tasks = [asyncio.create_task(stats_loop())]
        for cid in range(1, conns + 1):
            tasks.append(asyncio.create_task(talk(cid, interval)))
            await asyncio.sleep(0.01)
        await asyncio.gather(*tasks)


asyncio.run(main())
