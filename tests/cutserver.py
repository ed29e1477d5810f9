#!/usr/bin/env python3
"""A tiny HTTP server for fault tests: serves files from a folder with
range requests, but cuts every response body after CUT bytes (closing the
connection), as a flaky proxy or load balancer would.  With STALL_FROM, a
range that starts at or past that offset gets its headers and then nothing
for a minute (a stalled transfer).
usage: cutserver.py DIR PORT CUT_BYTES [STALL_FROM]"""
import http.server
import os
import re
import sys
import time

ROOT, PORT, CUT = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
STALL_FROM = int(sys.argv[4]) if len(sys.argv) > 4 else None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send_file(self, body):
        path = os.path.join(ROOT, self.path.lstrip("/").split("?")[0])
        if not os.path.isfile(path):
            self.send_error(404)
            return
        size = os.path.getsize(path)
        start, end = 0, size - 1
        m = re.match(r"bytes=(\d+)-(\d*)$", self.headers.get("Range", ""))
        if m:
            start = int(m.group(1))
            end = min(int(m.group(2)) if m.group(2) else size - 1, size - 1)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        else:
            self.send_response(200)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Connection", "close")
        self.end_headers()
        if not body:
            return
        if STALL_FROM is not None and start >= STALL_FROM:
            self.wfile.flush()
            time.sleep(60)
            return
        with open(path, "rb") as f:
            f.seek(start)
            self.wfile.write(f.read(min(end - start + 1, CUT)))
        self.close_connection = True

    def do_HEAD(self):
        self.send_file(False)

    def do_GET(self):
        self.send_file(True)


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
