#!/usr/bin/env python3
"""A stand-in for Neutron's port and security-group listings (test peer).

Nova's API asks Neutron for every server's ports (security groups) even
when servers were made with networks 'none'; no neutron-server runs in this
peer, so this answers those listings with empty lists, and 404 otherwise.
Usage: neutron_stub.py PORT (listens on 127.0.0.1 only).
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

EMPTY = {'/v2.0/ports': 'ports', '/v2.0/security-groups': 'security_groups',
         '/v2.0/networks': 'networks', '/v2.0/subnets': 'subnets',
         '/v2.0/floatingips': 'floatingips', '/v2.0/extensions': 'extensions'}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        path = self.path.split('?')[0].rstrip('/')
        if path in EMPTY:
            body, code = {EMPTY[path]: []}, 200
        elif path in ('', '/v2.0'):
            body, code = {'versions': [{'id': 'v2.0', 'status': 'CURRENT'}]}, 200
        else:
            body, code = {'NeutronError': {'message': 'not in the stub'}}, 404
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), Handler).serve_forever()
