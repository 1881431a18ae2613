#!/usr/bin/python3
"""The departments' endpoints of the simulated year (tests/year/test_year.py): serves figures
that change week by week on the daemon's clock. It reads that clock from the daemon's /metrics
(`pacewatch_clock_seconds`) at every request, so it always agrees with the daemon on the date,
whatever the load on the machine; between two readings that fail it extrapolates with the
clock's rate. Prints its port on the first line of stdout. Loopback only.

  python3 year_sources.py PLAN LOG

PLAN is a JSON file: {"clock_url": URL, "rate": N, "sources": {PATH: SOURCE}}, each SOURCE
{"format": "json" | "csv" | "const", "outages": [[FROM, TO], ...], "pubs": [PUB, ...]} with
PUB = {"at": EPOCH, "as_of": ISO, "values": {KEY: NUMBER}} sorted by "at". A request at clock t
is answered 503 inside an outage (FROM <= t < TO), else with the last publication whose "at"
<= t: json `{"as_of": ISO, "items": [{"code": KEY, "value": NUMBER}, ...]}`, csv the header
`as_of,KEY...` and one row per publication so far. "const" answers {"value": 7} (no date).
Every request is appended to LOG as a JSON line {"path", "t", "code", "pub"} (pub: the index
of the publication served, or null).
"""
import json
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

with open(sys.argv[1], encoding="utf-8") as f:
    PLAN = json.load(f)
LOG = sys.argv[2]
LOCK = threading.Lock()
LAST = [None, None]  # (monotonic, clock) of the last reading


def clock():
    """The daemon's clock now, in epoch seconds."""
    try:
        with urllib.request.urlopen(PLAN["clock_url"], timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith("pacewatch_clock_seconds "):
                    t = float(line.split()[1])
                    with LOCK:
                        LAST[0], LAST[1] = time.monotonic(), t
                    return t
    except OSError:
        pass
    with LOCK:
        if LAST[0] is None:
            return None
        return LAST[1] + (time.monotonic() - LAST[0]) * PLAN["rate"]


def answer(src, t):
    """(code, body, content type, index of the publication) for SRC at clock T."""
    if src["format"] == "const":
        return 200, b'{"value": 7}', "application/json", None
    if t is None or any(a <= t < b for a, b in src.get("outages", [])):
        return 503, b"down for maintenance", "text/plain", None
    pubs = [p for p in src["pubs"] if p["at"] <= t]
    if not pubs:
        return 404, b"nothing published yet", "text/plain", None
    last = pubs[-1]
    if src["format"] == "json":
        doc = {"as_of": last["as_of"],
               "items": [{"code": k, "value": v} for k, v in last["values"].items()]}
        return 200, json.dumps(doc).encode(), "application/json", len(pubs) - 1
    keys = list(last["values"])
    rows = ["as_of," + ",".join(keys)]
    rows += [p["as_of"] + "," + ",".join(repr(p["values"][k]) for k in keys) for p in pubs]
    return 200, ("\n".join(rows) + "\n").encode(), "text/csv", len(pubs) - 1


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        src = PLAN["sources"].get(self.path)
        t = clock()
        if src is None:
            code, body, ctype, pub = 404, b"no such source", "text/plain", None
        else:
            code, body, ctype, pub = answer(src, t)
        with LOCK:
            with open(LOG, "a", encoding="utf-8") as f:
                f.write(json.dumps({"path": self.path, "t": t, "code": code, "pub": pub}) + "\n")
        try:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
