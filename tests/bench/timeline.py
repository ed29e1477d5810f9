#!/usr/bin/env python3
"""Where a remote copy's time goes: run a vmimport or vmimportfs command
with -v -v (every HTTP GET is logged when it ends, with its time to the
first byte and its total time), and print each request as start..end
seconds since launch, then how many were in flight every STEP seconds and
the rate at which bytes arrived.

  tests/bench/timeline.py [--step S] -- BUILD/tools/vmimport copy -v -v URL OUT

"read" is a reader's own request, "read-ahead" a window.  Lines that are
not GET lines go to stderr as they come.  Not part of the test suite."""
import argparse
import re
import subprocess
import sys
import time

GET = re.compile(r"GET (\d+)\+(\d+) \((\S+)\): first byte ([\d.]+) s, done ([\d.]+) s")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--step", type=float, default=0.25)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    if not cmd:
        ap.error("no command")
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    rows = []
    for line in p.stderr:
        now = time.monotonic() - t0
        m = GET.search(line)
        if m:
            rows.append((now - float(m[5]), now, m[3], int(m[1]), int(m[2])))
        elif "debug" not in line:
            sys.stderr.write(line)
    p.wait()
    end = time.monotonic() - t0
    for s, e, kind, off, n in sorted(rows):
        print(f"{s:7.3f}..{e:7.3f}  {kind:10s} {off:>14d} +{n / 1048576:7.2f} MiB")
    print(f"exit {p.returncode} after {end:.3f} s; {len(rows)} GETs, "
          f"{sum(r[4] for r in rows) / 1e6:.1f} MB")
    t = 0.0
    while rows and t < end:
        fl = [r for r in rows if r[0] <= t < r[1]]
        done = sum(r[4] for r in rows if t <= r[1] < t + a.step)
        print(f"{t:6.2f} s  in flight: {sum(r[2] == 'read' for r in fl):2d} reads, "
              f"{sum(r[2] != 'read' for r in fl):2d} windows;  {done / a.step / 1e6:6.1f} MB/s")
        t += a.step
    return p.returncode


if __name__ == "__main__":
    sys.exit(main())
