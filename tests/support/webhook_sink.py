#!/usr/bin/python3
"""A webhook receiver for integration tests: records every POST (path, query, headers, body, the
wall-clock time it arrived) as one JSON line in LOG, and answers 200 {"errcode":0,"code":0}.
A path given ?fail=N answers 500 to its first N requests; a path starting /redirect answers 307
to /hook?token=SECRET (recorded with "ok" false). ?big=N answers 200 with N bytes of body (sent
chunked with ?chunked=1), more than a receiver's answer may hold. With a second argument DOWN, a
file path, every POST answers 503 while that file exists (a receiver's outage that the test
starts and ends by creating and removing the file). Prints its port on the first line of stdout.
Loopback only."""
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

LOG = sys.argv[1]
DOWN = sys.argv[2] if len(sys.argv) > 2 else None
LOCK = threading.Lock()
SEEN = {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        u = urlparse(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        q = {k: int(v[0]) for k, v in parse_qs(u.query).items() if v[0].lstrip("-").isdigit()}
        with LOCK:
            n = SEEN[u.path] = SEEN.get(u.path, 0) + 1
        down = DOWN is not None and os.path.exists(DOWN)
        ok = n > q.get("fail", 0) and not u.path.startswith("/redirect") and not down
        with LOCK:
            with open(LOG, "a", encoding="utf-8") as f:
                f.write(json.dumps({"path": u.path, "query": u.query, "ok": ok, "n": n,
                                    "time": time.time(),
                                    "headers": {k.lower(): v for k, v in self.headers.items()},
                                    "body": body.decode("utf-8", "replace")},
                                   ensure_ascii=False) + "\n")
        status, out = (200, b'{"errcode":0,"code":0,"errmsg":"ok"}') if ok else (500, b"down")
        if down:
            status = 503
        if u.path.startswith("/redirect"):
            status, out = 307, b"moved"
        if ok and q.get("big", 0) > 0:
            out = b'{"errcode":0,"code":0,"errmsg":"' + b"x" * q["big"] + b'"}'
            self.close_connection = True  # the client hangs up before the end
        try:
            if q.get("chunked", 0):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for i in range(0, len(out), 65536):
                    part = out[i:i + 65536]
                    self.wfile.write(b"%x\r\n" % len(part) + part + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
                return

            self.send_response(status)
            if status == 307:
                self.send_header("Location", "/hook?token=SECRET")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)
        except OSError:
            pass  # the sender gave up waiting


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
