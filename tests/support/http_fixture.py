#!/usr/bin/python3
"""HTTP server for the fetch tests: a threaded http.server on 127.0.0.1.

Usage: http_fixture.py PORT   (0 picks a free port; the port is printed on stdout's first
line either way, then stdout is closed). Run it with Debian's /usr/bin/python3.

Routes:
  /ok                 JSON 200 with ETag and Last-Modified; 304 when If-None-Match matches
                      the ETag or If-Modified-Since equals Last-Modified
  /chunked?n=BYTES    Transfer-Encoding: chunked, no Content-Length
  /big?n=BYTES        with Content-Length
  /status/CODE        that status with a short text body
  /slow?ms=N&tag=T    sleeps N ms, then answers 200; counts concurrent requests per tag
  /stats?tag=T        {"max": ..., "now": ..., "total": ...} of /slow requests with that tag
  /redirect-file      302 to file:///etc/hostname
  /redirect-ok        302 to /ok
  /gzip?n=BYTES       BYTES of "z", sent gzip-compressed (Content-Encoding: gzip)
  /gbk                a CSV body encoded in GBK
  /echo               echoes the method, body and request headers as JSON (GET or POST)
  /conn               {"conn": N}: N numbers the connections the server accepted, so two
                      answers with the same N came over one kept-alive connection
  /bye                as /conn, then the server closes the connection 50 ms later without
                      having said so (no "Connection: close"), as an idle timeout would
"""
import gzip
import json
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlparse

ETAG = '"v1"'
LAST_MODIFIED = "Mon, 01 Jan 2024 00:00:00 GMT"
OK_BODY = b'{"as_of":"2024-06-30","items":[{"code":"TJ01","value":4.35}]}\n'
GBK_BODY = "指标,值\n托位数,4.35\n".encode("gbk")

stats_lock = threading.Lock()
stats = {}  # tag -> {"now": requests sleeping, "max": most at once, "total": requests}
connections = 0  # accepted so far (under stats_lock)


class Server(socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # Clients that give up (timeouts, size limits, cancellation) are part of the tests.
        pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        global connections
        super().setup()
        with stats_lock:
            connections += 1
            self.conn_id = connections

    def log_message(self, fmt, *args):
        pass

    def send_body(self, code, body, ctype="text/plain", extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def route(self):
        u = urlparse(self.path)
        q = parse_qs(u.query)
        n = int(q.get("n", ["0"])[0])
        p = u.path
        if p == "/ok":
            inm = self.headers.get("If-None-Match")
            ims = self.headers.get("If-Modified-Since")
            validators = [("ETag", ETAG), ("Last-Modified", LAST_MODIFIED)]
            if inm == ETAG or (inm is None and ims == LAST_MODIFIED):
                self.send_response(304)
                for k, v in validators:
                    self.send_header(k, v)
                self.end_headers()
                return
            self.send_body(200, OK_BODY, "application/json", validators)
        elif p == "/chunked":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            left = n
            while left > 0:
                k = min(left, 16384)
                self.wfile.write(b"%x\r\n" % k + b"c" * k + b"\r\n")
                left -= k
            self.wfile.write(b"0\r\n\r\n")
        elif p == "/gzip":
            self.send_body(200, gzip.compress(b"z" * n), extra=[("Content-Encoding", "gzip")])
        elif p == "/big":
            self.send_body(200, b"b" * n)
        elif p.startswith("/status/"):
            code = int(p[len("/status/"):])
            self.send_body(code, b"status %d\n" % code)
        elif p == "/slow":
            ms = int(q.get("ms", ["100"])[0])
            tag = q.get("tag", [""])[0]
            with stats_lock:
                st = stats.setdefault(tag, {"now": 0, "max": 0, "total": 0})
                st["now"] += 1
                st["total"] += 1
                st["max"] = max(st["max"], st["now"])
            try:
                time.sleep(ms / 1000.0)
            finally:
                with stats_lock:
                    st["now"] -= 1
            self.send_body(200, b"slept %d\n" % ms)
        elif p == "/stats":
            tag = q.get("tag", [""])[0]
            with stats_lock:
                body = json.dumps(stats.get(tag, {"now": 0, "max": 0, "total": 0})).encode()
            self.send_body(200, body, "application/json")
        elif p == "/redirect-file":
            self.send_body(302, b"", extra=[("Location", "file:///etc/hostname")])
        elif p == "/redirect-ok":
            self.send_body(302, b"moved\n", extra=[("Location", "/ok"), ("ETag", '"stale"')])
        elif p == "/gbk":
            self.send_body(200, GBK_BODY, "text/csv; charset=GBK")
        elif p == "/echo":
            body = self.read_body()
            out = {
                "method": self.command,
                "body": body.decode("utf-8", "replace"),
                "headers": {k: v for k, v in self.headers.items()},
            }
            self.send_body(200, json.dumps(out).encode(), "application/json")
        elif p in ("/conn", "/bye"):
            self.send_body(200, json.dumps({"conn": self.conn_id}).encode(), "application/json")
            if p == "/bye":
                self.wfile.flush()
                time.sleep(0.05)
                self.close_connection = True
        else:
            self.send_body(404, b"no such route\n")

    def do_GET(self):
        self.route()

    def do_POST(self):
        self.route()


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    srv = Server(("127.0.0.1", port), Handler)
    sys.stdout.write("%d\n" % srv.server_address[1])
    sys.stdout.flush()
    sys.stdout.close()
    srv.serve_forever()


if __name__ == "__main__":
    main()
