#!/usr/bin/python3
"""How long a large import through a running daemon stalls its loop (issue 12, defect 11).

Starts pacewatchd (100 cumulative indicators, the status server on a free loopback port), asks
GET /healthz every 10 ms from a thread, runs `pacewatch import` of ROWS rows (hourly figures,
ROWS / 100 per indicator) beside it, and prints: the import's duration, the longest /healthz
answer, pacewatch_loop_stall_max_seconds from /metrics, and the daemon's peak and final RSS
(VmHWM, VmRSS), plus when the request appeared in inbox/, was taken, admitted and replied to.

    tests/bench/import_stall.py BUILD_DIR [ROWS]        (ROWS defaults to 300000)

Not run by the test suite: the figures depend on the machine."""

import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 300000
    n_ind = 100
    d = tempfile.mkdtemp(prefix="pacewatch-import-stall-")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    inds = ",\n".join(
        f'{{ id = "i{i}"; name = "I{i}"; domain = "d"; kind = "cumulative"; '
        f'targets = ( {{ year = 2024; annual = 1000000; }} ); }}' for i in range(n_ind))
    conf = os.path.join(d, "pw.conf")
    with open(conf, "w") as f:
        f.write(f'daemon: {{ state_dir = "state"; http_listen = "127.0.0.1:{port}"; '
                f'timezone = "Asia/Shanghai"; }};\n'
                f'domains = ( {{ id = "d"; name = "D"; }} );\nindicators = (\n{inds}\n);\n')
    per = rows // n_ind
    t0 = 1714406400 - per * 3600  # hourly as_of values up to 2024-04-30
    with open(os.path.join(d, "in.csv"), "w") as f:
        f.write("indicator,as_of,value\n")
        for i in range(n_ind):
            for k in range(per):
                f.write(f"i{i},{t0 + k * 3600},{k + i}\n")
    log = open(os.path.join(d, "daemon.log"), "w")
    daemon = subprocess.Popen([os.path.join(build, "bin", "pacewatchd"), "-c", conf, "-f"],
                              stdout=log, stderr=subprocess.STDOUT)

    def get(path):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        c.request("GET", path)
        body = c.getresponse().read()
        c.close()
        return body

    for _ in range(200):
        try:
            get("/healthz")
            break
        except OSError:
            time.sleep(0.05)
    stop = threading.Event()
    worst, marks = [0.0], {}

    def probe():
        while not stop.is_set():
            a = time.monotonic()
            get("/healthz")
            worst[0] = max(worst[0], time.monotonic() - a)
            time.sleep(0.01)

    def watch(start):
        inbox = os.path.join(d, "state", "inbox")
        while not stop.is_set():
            t = time.monotonic() - start
            names = os.listdir(inbox) if os.path.isdir(inbox) else []
            req = any(n.endswith(".req") for n in names)
            if req:
                marks.setdefault("request", t)
            elif "request" in marks:
                marks.setdefault("taken", t)
            if any(n.endswith(".reply") for n in names):
                marks.setdefault("replied", t)
            with open(os.path.join(d, "daemon.log")) as f:
                if "rows taken from the inbox" in f.read():
                    marks.setdefault("admitted", t)
            time.sleep(0.01)

    threads = [threading.Thread(target=probe)]
    threads[0].start()
    time.sleep(0.5)
    start = time.monotonic()
    threads.append(threading.Thread(target=watch, args=(start,)))
    threads[1].start()
    p = subprocess.run([os.path.join(build, "bin", "pacewatch"), "import", "-c", conf,
                        os.path.join(d, "in.csv")], capture_output=True, text=True)
    took = time.monotonic() - start
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join()
    mem = {}
    with open(f"/proc/{daemon.pid}/status") as f:
        for line in f:
            if line.startswith(("VmHWM", "VmRSS")):
                mem[line.split(":")[0]] = int(line.split()[1]) // 1024
    stall = [line.split()[1] for line in get("/metrics").decode().splitlines()
             if line.startswith("pacewatch_loop_stall_max_seconds")]
    daemon.terminate()
    daemon.wait()
    print(f"rows {rows}: import exit {p.returncode} in {took:.2f} s; longest /healthz "
          f"{worst[0] * 1000:.0f} ms; pacewatch_loop_stall_max_seconds "
          f"{stall[0] if stall else 'n/a'}; daemon VmHWM {mem.get('VmHWM')} MB, VmRSS "
          f"{mem.get('VmRSS')} MB")
    print("seconds after the command started: " +
          ", ".join(f"{k} {v:.2f}" for k, v in sorted(marks.items(), key=lambda kv: kv[1])))
    if p.returncode != 0:
        print(p.stderr[-2000:])
    shutil.rmtree(d, ignore_errors=True)
    return 0 if p.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
