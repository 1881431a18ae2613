"""What the fault-injection cases of tests/faults/ share (issue 12, Build item 2).

Every case asserts the same three things about the daemon it attacks:
  - it keeps running: the process is alive, GET /healthz answers "ok", and the good sources
    are still polled (their request counters keep moving);
  - it says what happened in one clear line naming the source (or the file) concerned;
  - it loses nothing: every figure a good source served is in `pacewatch export`, and every
    sample acknowledged to a command stays there.

The pieces:
  Hostile      an HTTP server in this process that misbehaves per path (refuses, resets mid-body,
               trickles, loops redirects, serves bad bytes, huge bodies, gzip bombs) and serves
               "good" figures that change at every request, remembering each one it served.
  TlsServer    a real TLS server on 127.0.0.1 with a self-signed certificate made by `openssl`.
  FaultCase    harness.TestCase plus the three assertions (alive, one_line, nothing_lost).
  main()       runs the module's cases, prints how many there were, and tells run.py.

Run one module alone with `PW_BUILD=build /usr/bin/python3 tests/faults/test_<what>.py`, the
whole suite with `/usr/bin/python3 tests/faults/run.py` (ctest: `ctest -L faults`).
"""

import functools
import gzip
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
import unittest
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import harness  # noqa: E402

# Messages of the daemon a case looks for.
STARTED = harness.STARTED


def root_without_dac():
    """The wrapper that runs a program as root but without the capabilities that let root write
    where the permission bits say it may not (so a chmod'ed state directory is read-only to
    it too); [] when this is not root."""
    if os.geteuid() != 0:
        return []
    if harness.SETPRIV is None:
        raise unittest.SkipTest("setpriv is needed to drop CAP_DAC_OVERRIDE as root")
    return [harness.SETPRIV, "--bounding-set", "-dac_override,-dac_read_search", "--"]


# ---- a misbehaving source server ----

class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # clients giving up (timeouts, max_bytes) are what the cases are about


class Hostile:
    """An HTTP/1.1 server on 127.0.0.1 in this process. `route(path, fn)` makes FN(handler)
    answer PATH; the helpers below make the usual misbehaviours. counts() gives the requests
    per path; a good route (`good(path)`) answers {"v": N} with a new N at every request and
    remembers every N it served (served(path))."""

    def __init__(self, tls=None):
        self.lock = threading.Lock()
        self.routes = {}
        self._counts = {}
        self._served = {}
        hostile = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                path = urlparse(self.path).path
                with hostile.lock:
                    hostile._counts[path] = hostile._counts.get(path, 0) + 1
                    fn = hostile.routes.get(path)
                if fn is None:
                    return send(self, 404, b"no such route")
                try:
                    fn(self)
                except OSError:
                    self.close_connection = True

        self.server = _Server(("127.0.0.1", 0), Handler)
        if tls is not None:
            # The handshake happens in the request's thread, so a client that never sends one
            # holds no one else up.
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True,
                                                 do_handshake_on_connect=False)
        self.port = self.server.server_address[1]
        self.base = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="hostile",
                                       daemon=True)
        self.thread.start()

    def url(self, path):
        return self.base + path

    def route(self, path, fn):
        with self.lock:
            self.routes[path] = fn
        return self.url(path)

    def counts(self, path):
        with self.lock:
            return self._counts.get(path, 0)

    def served(self, path):
        with self.lock:
            return list(self._served.get(path, []))

    # -- routes --

    def good(self, path, start=1000, ctype="application/json", render=None):
        """A route answering a new figure at every request (START, START+1, ...): {"v": N} by
        default, RENDER(N) -> bytes otherwise. Every N handed to the socket is remembered."""
        box = [start]

        def fn(h):
            with self.lock:
                n = box[0]
                box[0] += 1
            body = render(n) if render else json.dumps({"v": n}).encode()
            send(h, 200, body, ctype)
            with self.lock:
                self._served.setdefault(path, []).append(n)
        return self.route(path, fn)

    def static(self, path, body, ctype="application/json", headers=()):
        return self.route(path, lambda h: send(h, 200, body, ctype, headers))

    def reset_mid_body(self, path, length=4096, sent=b'{"v": 12345, "padding": "'):
        """Announces LENGTH bytes, sends a few, then resets the connection (RST)."""
        def fn(h):
            h.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                          b"Content-Length: %d\r\n\r\n" % length + sent)
            h.wfile.flush()
            time.sleep(0.05)
            reset(h.connection)
            h.close_connection = True
        return self.route(path, fn)

    def trickle(self, path, length=1000, every=1.0):
        """Announces LENGTH bytes and sends one every EVERY seconds, for as long as the client
        listens."""
        def fn(h):
            h.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                          b"Content-Length: %d\r\n\r\n" % length)
            h.wfile.flush()
            for _ in range(length):
                h.wfile.write(b" ")
                h.wfile.flush()
                time.sleep(every)
            h.close_connection = True
        return self.route(path, fn)

    def redirect(self, path, to):
        return self.route(path, lambda h: send(h, 302, b"", headers=[("Location", to)]))

    def chunked(self, path, n):
        """N bytes of a JSON-looking body in chunks, without Content-Length."""
        def fn(h):
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Transfer-Encoding", "chunked")
            h.end_headers()
            chunk, left = b" " * 65536, n
            while left > 0:
                c = chunk[:min(left, len(chunk))]
                h.wfile.write(b"%x\r\n%s\r\n" % (len(c), c))
                left -= len(c)
            h.wfile.write(b"0\r\n\r\n")
        return self.route(path, fn)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def send(h, code, body=b"", ctype="application/json", headers=()):
    h.send_response(code)
    h.send_header("Content-Type", ctype)
    h.send_header("Content-Length", str(len(body)))
    for k, v in headers:
        h.send_header(k, v)
    h.end_headers()
    h.wfile.write(body)


def reset(sock):
    """Closes SOCK with a TCP reset instead of a FIN."""
    import struct
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def gzip_bomb(n):
    """N zero bytes, gzip-compressed (a few kilobytes for megabytes)."""
    return gzip.compress(b"0" * n, 9)


# ---- TLS ----

class TlsServer:
    """A TLS server on 127.0.0.1 (Python's ssl module) with a self-signed certificate for
    IP:127.0.0.1 made by `openssl req -x509` in DIRECTORY; /v answers {"v": N}, a new N at
    each request, remembered like Hostile.good."""

    def __init__(self, directory):
        self.cert = os.path.join(directory, "tls-cert.pem")
        self.key = os.path.join(directory, "tls-key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
                        "-days", "30", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", self.key, "-out", self.cert],
                       check=True, capture_output=True)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        self.hostile = Hostile(tls=ctx)
        self.url = self.hostile.good("/v")
        self.port = self.hostile.port

    def served(self):
        return self.hostile.served("/v")

    def close(self):
        self.hostile.close()


# ---- the daemon's side ----

def healthz(port, timeout=5):
    """The status and body of GET /healthz on 127.0.0.1:PORT (None when nothing answers)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=timeout) as r:
            return r.status, r.read().decode()
    except OSError:
        return None


def epoch(text):
    """Epoch seconds of an ISO 8601 time with its offset."""
    from datetime import datetime
    return int(datetime.fromisoformat(text).timestamp())


def put_request(env, name, rows, source="record", fetched_at="2024-04-30T09:00:00+08:00"):
    """Hands a samples request to the daemon of ENV as `pacewatch record` does
    (docs/storage.md, inbox): inbox/NAME.tmp written, then renamed to NAME.req. ROWS are
    (indicator, as_of as ISO 8601, value)."""
    doc = {"op": "samples", "source": source, "fetched_at": epoch(fetched_at),
           "rows": [{"indicator": i, "as_of": epoch(a), "value": v} for i, a, v in rows]}
    d = os.path.join(env.state, "inbox")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name + ".tmp"), "w", encoding="utf-8") as f:
        json.dump(doc, f)
    os.rename(os.path.join(d, name + ".tmp"), os.path.join(d, name + ".req"))


def reply_of(env, name):
    """The daemon's reply to inbox request NAME, parsed (None while there is none)."""
    p = os.path.join(env.state, "inbox", name + ".reply")
    try:
        if os.path.isfile(p) and not os.path.islink(p):
            with open(p, encoding="utf-8") as f:
                return json.load(f)
    except (OSError, ValueError):
        pass
    return None


class Planted:
    """A file outside the state directory that planted symlinks point at, and the check that
    nothing wrote through them."""

    TEXT = "precious: written by the test, never by pacewatch\n"

    def __init__(self, env):
        self.path = env.write("outside.txt", self.TEXT)

    def untouched(self, case):
        with open(self.path, encoding="utf-8") as f:
            case.assertEqual(f.read(), self.TEXT, f"{self.path} was written through a symlink")


def _sanitized():
    try:
        with open(os.path.join(harness.BUILD, "CMakeCache.txt"), encoding="utf-8") as f:
            return re.search(r"^PW_(ASAN|UBSAN):BOOL=ON$", f.read(), re.M) is not None
    except OSError:
        return False


# Whether PW_BUILD is the ASan/UBSan build.
SANITIZED = _sanitized()


def known_sanitizer_defect(signature, reason):
    """For a case that meets a known defect only a sanitizer sees, and not at every run (it
    depends on timing): on the ASan/UBSan build, a case that fails while a daemon's log holds
    a report matching SIGNATURE (a regular expression) is reported skipped, naming REASON,
    instead of failed. Any other failure stays a failure; other builds are not affected."""
    def decorate(f):
        @functools.wraps(f)
        def run(self, *args, **kw):
            try:
                return f(self, *args, **kw)
            except AssertionError:
                if SANITIZED and any(re.search(signature, e.logs())
                                     for e in self._fault_envs + type(self)._fault_class_envs):
                    self.skipTest(f"known defect seen by the sanitizers: {reason}")
                raise
        return run
    return decorate


# Not an issue-12 item (daemon/data/persist.c after_cb, daemon/pacewatchd/main.c
# reload_when_idle): a reload that waits for a journal batch runs inside that batch's completion
# callback, which frees the persist state the callback reads next (p->again): a use after free
# at a SIGHUP that comes while a batch is being written, reported by ASan.
RELOAD_UAF = known_sanitizer_defect(r"heap-use-after-free[\s\S]*persist\.c:\d+ in after_cb",
                                    "use after free in persist.c after_cb at a reload")


class FaultCase(harness.TestCase):
    """A fault case: harness.TestCase with the three assertions every case makes."""

    _fault_class_envs = []

    def setUp(self):
        self._fault_envs = []

    def new_env(self, name=None, **kw):
        env = super().new_env(name, **kw)
        self._fault_envs.append(env)
        return env

    @classmethod
    def new_class_env(cls, name=None, **kw):
        env = super().new_class_env(name, **kw)
        if "_fault_class_envs" not in cls.__dict__:
            cls._fault_class_envs = []
        cls._fault_class_envs.append(env)
        return env

    def assert_alive(self, env, http_port=None, polled=()):
        """The daemon of ENV runs, answers /healthz on HTTP_PORT (when it has one), still polls
        every (server, path) of POLLED (each path's counter moves within 15 s), and no
        sanitizer has spoken in its logs."""
        d = env.daemon
        self.assertIsNotNone(d, "no daemon was started")
        self.assertTrue(d.alive(), f"pacewatchd exited with {d.poll()}\n{env.log_tail()}")
        if http_port is not None:
            self.assertEqual(healthz(http_port), (200, "ok\n"),
                             f"/healthz does not answer\n{env.log_tail()}")
        before = [(srv, path, srv.counts(path)) for srv, path in polled]
        for srv, path, n in before:
            env.wait(lambda: srv.counts(path) > n, 15, f"a poll of {path}")
        self.assertTrue(d.alive(), f"pacewatchd exited with {d.poll()}\n{env.log_tail()}")
        # Against the ASan/UBSan build (PW_BUILD=build-asan), whatever they said so far.
        self.assertEqual(env.sanitizer_reports(), [])

    def one_line(self, env, pattern, timeout=30, at_most=1, log=None):
        """Waits until the daemon's log has a line matching PATTERN (a regular expression) and
        asserts it has at most AT_MOST of them; returns the first."""
        rx = re.compile(pattern)
        text = log or (lambda: env.daemon.log())
        lines = env.wait(lambda: [line for line in text().splitlines() if rx.search(line)],
                         timeout, f"a log line matching {pattern!r}")
        if at_most is not None:
            lines = [line for line in text().splitlines() if rx.search(line)]
            self.assertLessEqual(len(lines), at_most,
                                 f"{len(lines)} lines match {pattern!r}:\n" + "\n".join(lines))
        return lines[0]

    def nothing_lost(self, env, indicator, served, timeout=15):
        """Every figure of SERVED (a callable giving what a good source served) is a value of
        INDICATOR in `pacewatch export`, within TIMEOUT seconds (the last poll may still be on
        its way to the journal)."""
        want = set(float(v) for v in served())
        self.assertTrue(want, f"nothing was served for {indicator}")

        def missing():
            got = set(float(r["value"]) for r in env.export(indicator))
            return want - got
        if not harness.wait_for(lambda: not missing(), timeout, 0.5):
            self.fail(f"{indicator}: served but not in the journal: {sorted(missing())}\n"
                      f"{env.log_tail()}")
        return len(want)


# ---- running ----

_report = {"run": 0, "passed": 0, "failures": 0, "errors": 0, "skipped": 0,
           "expected_failures": 0, "unexpected_successes": 0, "cases": []}


class _Result(unittest.TextTestResult):
    def _note(self, test, outcome):
        _report["cases"].append((test.id(), outcome))

    def addSuccess(self, test):
        super().addSuccess(test)
        self._note(test, "ok")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._note(test, "FAIL")

    def addError(self, test, err):
        super().addError(test, err)
        self._note(test, "ERROR")

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._note(test, f"skipped ({reason})")

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._note(test, "expected failure")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._note(test, "UNEXPECTED SUCCESS")


def main():
    """Runs the cases of the calling module, prints their count, writes the tally to
    $PW_FAULTS_REPORT for run.py, and exits 0 only when every case passed or failed as
    expected."""
    module = sys.modules["__main__"]
    suite = unittest.defaultTestLoader.loadTestsFromModule(module)
    runner = unittest.TextTestRunner(verbosity=2, resultclass=_Result)
    t0 = time.time()
    result = runner.run(suite)
    cases = _report["cases"]  # an error of a setUpClass is listed too
    # The cases the module defines (those of a class whose setUpClass failed included).
    _report.update(run=suite.countTestCases(), failures=len(result.failures), errors=len(result.errors),
                   skipped=len(result.skipped), expected_failures=len(result.expectedFailures),
                   unexpected_successes=len(result.unexpectedSuccesses),
                   seconds=round(time.time() - t0, 1), cases=cases)
    _report["passed"] = sum(1 for _, o in cases if o == "ok")
    name = os.path.basename(getattr(module, "__file__", "faults"))
    print(f"{name}: {_report['run']} fault cases: {_report['passed']} passed, "
          f"{_report['expected_failures']} expected failures, "
          f"{_report['unexpected_successes']} unexpected successes, "
          f"{_report['failures'] + _report['errors']} failed, {_report['skipped']} skipped")
    out = os.environ.get("PW_FAULTS_REPORT")
    if out:
        with open(out, "w", encoding="utf-8") as f:
            json.dump(_report, f)
    sys.exit(0 if result.wasSuccessful() else 1)
