#!/usr/bin/env python3
"""A link model for the benchmark: a TCP proxy on 127.0.0.1 that gives
every connection a round-trip delay and a bandwidth cap, as a WAN link to
a vCenter, an ESXi host or Glance would (tc/netem is not available on
these machines).

Each direction of each connection is a serial link: a chunk read from one
side leaves for the other side RTT/2 after it arrived, and no sooner than
the previous chunk of that direction has finished "transmitting" at CAP
bytes per second (so a connection never carries more than CAP, and a
request waits a full RTT for its first byte).  What is in flight is
bounded: at most QUEUE chunks of at most CHUNK bytes per direction; when
that is full the proxy stops reading and TCP pushes back on the sender.

The cap is here, not in nginx's limit_rate: nginx gives every request
one second of credit (limit = rate * (now - start + 1) - sent), so a range
request smaller than CAP bytes is never slowed at all.

  linkproxy.py --target PORT [--rtt-ms 50] [--cap-mbps 40] [--max-seconds 3600]

Prints the port it listens on (127.0.0.1, free) on stdout, then serves
until SIGTERM, until --max-seconds have passed, or until its parent
process is gone.
"""
import argparse
import asyncio
import os
import signal
import sys
import time

CHUNK = 64 << 10
QUEUE = 64


async def pump(reader, writer, owd, cap):
    """Forward READER to WRITER: each chunk leaves OWD seconds after it
    arrived, serialized at CAP bytes/s (0 = no cap)."""
    q = asyncio.Queue(QUEUE)

    async def rx():
        try:
            while True:
                b = await reader.read(CHUNK)
                await q.put((time.monotonic(), b))
                if not b:
                    return
        except (ConnectionError, OSError):
            await q.put((time.monotonic(), b""))

    async def tx():
        busy = 0.0
        try:
            while True:
                t, b = await q.get()
                if not b:
                    break
                start = max(t + owd, busy)
                busy = start + (len(b) / cap if cap else 0.0)
                d = busy - time.monotonic()
                if d > 0:
                    await asyncio.sleep(d)
                writer.write(b)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError):
            pass

    r = asyncio.ensure_future(rx())
    try:
        await tx()
    finally:
        r.cancel()


async def handle(creader, cwriter, a):
    try:
        sreader, swriter = await asyncio.open_connection("127.0.0.1", a.target)
    except OSError:
        cwriter.close()
        return
    owd, cap = a.rtt_ms / 2000.0, a.cap_mbps * 1e6
    try:
        await asyncio.gather(pump(creader, swriter, owd, cap),
                             pump(sreader, cwriter, owd, cap))
    finally:
        for w in (cwriter, swriter):
            try:
                w.close()
            except Exception:
                pass


async def main(a):
    server = await asyncio.start_server(lambda r, w: handle(r, w, a), "127.0.0.1", a.port)
    print(server.sockets[0].getsockname()[1], flush=True)
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, lambda: stop.done() or stop.set_result(None))
    parent, t_end = os.getppid(), time.monotonic() + a.max_seconds
    async with server:
        while not stop.done() and time.monotonic() < t_end and os.getppid() == parent:
            await asyncio.wait([stop], timeout=1.0)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", type=int, required=True, help="port on 127.0.0.1 to forward to")
    ap.add_argument("--port", type=int, default=0, help="port to listen on (0: a free one)")
    ap.add_argument("--rtt-ms", type=float, default=50.0)
    ap.add_argument("--cap-mbps", type=float, default=40.0, help="MB/s per connection and direction, 0 = none")
    ap.add_argument("--max-seconds", type=float, default=3600.0)
    a = ap.parse_args()
    try:
        asyncio.run(main(a))
    except KeyboardInterrupt:
        pass
    sys.exit(0)
