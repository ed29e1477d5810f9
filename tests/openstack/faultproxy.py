# A proxy in front of Nova that injects the server errors a real cloud
# gives now and then (a restarting API behind its load balancer; a
# database that refused a write half way through a call):
#   - the first GET of /servers/detail is answered 503 (not forwarded);
#   - the first POST of a createImage action is answered 500 after the
#     image it names is made in Glance (left "queued"), as Nova does when
#     recording the snapshot task fails after it asked Glance for the image
#     (seen with the test peer's former sqlite databases: "database is
#     locked").
# Everything else is forwarded as it is.  Each injection is a line in LOG.
#   faultproxy.py PORT NOVA_PORT GLANCE_PORT LOG
import http.client
import http.server
import json
import sys
import threading

PORT, NOVA, GLANCE, LOG = (int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]),
                           sys.argv[4])
done = set()
lock = threading.Lock()
HOP = {'connection', 'keep-alive', 'transfer-encoding', 'content-length'}


def once(what):
    with lock:
        if what in done:
            return False
        done.add(what)
    with open(LOG, 'a') as f:
        f.write(what + '\n')
    return True


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def answer(self, status, headers, body):
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in HOP:
                self.send_header(k, v)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def forward(self):
        n = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(n) if n else None
        c = http.client.HTTPConnection('127.0.0.1', NOVA, timeout=300)
        h = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        c.request(self.command, self.path, body=body, headers=h)
        r = c.getresponse()
        out = (r.status, r.getheaders(), r.read())
        c.close()
        return body, out

    def fault(self, status, text):
        body = ('{"computeFault": {"code": %d, "message": "%s"}}'
                % (status, text)).encode()
        self.answer(status, [('Content-Type', 'application/json')], body)

    def do_GET(self):
        if (self.path.startswith('/v2.1/servers/detail')
                and once('503 GET ' + self.path)):
            n = int(self.headers.get('Content-Length') or 0)
            if n:
                self.rfile.read(n)
            return self.fault(503, 'injected: service unavailable')
        self.answer(*self.forward()[1])

    def do_POST(self):
        n = int(self.headers.get('Content-Length') or 0)
        peek = self.rfile.peek(n)[:n] if n else b''
        if (self.path.endswith('/action') and b'createImage' in peek
                and once('500 POST ' + self.path + ' (a queued image made)')):
            body = json.loads(self.rfile.read(n))
            c = http.client.HTTPConnection('127.0.0.1', GLANCE, timeout=60)
            c.request('POST', '/v2/images', body=json.dumps({
                'name': body['createImage']['name'], 'disk_format': 'raw',
                'container_format': 'bare'}), headers={
                'X-Auth-Token': self.headers['X-Auth-Token'],
                'Content-Type': 'application/json'})
            r = c.getresponse()
            r.read()
            c.close()
            if r.status != 201:
                sys.exit('faultproxy: Glance said %d' % r.status)
            return self.fault(500, 'injected: database is locked')
        self.answer(*self.forward()[1])

    do_PUT = do_DELETE = lambda self: self.answer(*self.forward()[1])


http.server.ThreadingHTTPServer.daemon_threads = True
http.server.ThreadingHTTPServer(('127.0.0.1', PORT), Proxy).serve_forever()
