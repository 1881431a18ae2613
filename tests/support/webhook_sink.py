#!/usr/bin/python3
"""A webhook receiver for integration tests: records every POST (path, headers, body) as one
JSON line in LOG, and answers 200 {"errcode":0} — except that a path given ?fail=N answers
500 to its first N requests. Prints its port on the first line of stdout. Loopback only."""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

LOG = sys.argv[1]
LOCK = threading.Lock()
SEEN = {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        u = urlparse(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        fail = int(parse_qs(u.query).get("fail", ["0"])[0])
        with LOCK:
            n = SEEN[u.path] = SEEN.get(u.path, 0) + 1
            ok = n > fail
            with open(LOG, "a", encoding="utf-8") as f:
                f.write(json.dumps({"path": u.path, "query": u.query, "ok": ok,
                                    "headers": {k.lower(): v for k, v in self.headers.items()},
                                    "body": body.decode("utf-8", "replace")},
                                   ensure_ascii=False) + "\n")
        out = b'{"errcode":0,"errmsg":"ok"}' if ok else b"down"
        self.send_response(200 if ok else 500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
