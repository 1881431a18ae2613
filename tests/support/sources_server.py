#!/usr/bin/python3
"""A department's data endpoint for integration tests: serves the files of a directory
(re-read at every request, so a test changes the data by rewriting a file) and a few broken
answers. Prints its port on the first line of stdout. Loopback only.

  /data/NAME            the file DIR/NAME (ETag and Last-Modified from its content and mtime)
  /status/CODE          an empty answer with that status
  /slow?ms=N            waits N ms, then answers {"as_of": "2024-03-31", "v": 1}
  /chunked?n=BYTES      a chunked body of that many bytes (no Content-Length)
  /big?n=BYTES          a body of that many bytes with Content-Length
  /redirect-file        302 to file:///etc/hostname
  /count                how many requests each path got (JSON)
"""
import hashlib
import json
import os
import sys
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

ROOT = sys.argv[1]
COUNTS = {}
LOCK = threading.Lock()
TYPES = {".json": "application/json", ".csv": "text/csv", ".txt": "text/plain; version=0.0.4",
         ".html": "text/html"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, code, body=b"", ctype="application/json", headers=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        u = urlparse(self.path)
        q = parse_qs(u.query)
        with LOCK:
            COUNTS[u.path] = COUNTS.get(u.path, 0) + 1
        if u.path.startswith("/data/"):
            p = os.path.join(ROOT, os.path.basename(u.path))
            if not os.path.exists(p):
                return self.send(404)
            body = open(p, "rb").read()
            etag = '"' + hashlib.sha1(body).hexdigest() + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            ext = os.path.splitext(p)[1]
            return self.send(200, body, TYPES.get(ext, "application/octet-stream"),
                             [("ETag", etag),
                              ("Last-Modified", formatdate(os.path.getmtime(p), usegmt=True))])
        if u.path.startswith("/status/"):
            return self.send(int(u.path.split("/")[2]), b"oops")
        if u.path == "/slow":
            time.sleep(int(q.get("ms", ["1000"])[0]) / 1000)
            return self.send(200, b'{"as_of": "2024-03-31", "v": 1}')
        if u.path == "/big":
            return self.send(200, b"x" * int(q["n"][0]), "text/plain")
        if u.path == "/chunked":
            n = int(q["n"][0])
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"y" * 65536
            try:
                while n > 0:
                    c = chunk[:min(n, len(chunk))]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(c), c))
                    n -= len(c)
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        if u.path == "/redirect-file":
            return self.send(302, b"", headers=[("Location", "file:///etc/hostname")])
        if u.path == "/count":
            with LOCK:
                return self.send(200, json.dumps(COUNTS).encode())
        self.send(404)


class Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # Clients that give up (timeouts, max_bytes) are part of the tests.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


server = Server(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
