"""The shared harness of pacewatch's integration tests (tests/integration/test_*.py).

It starts the real programs on a temporary state directory and real servers on 127.0.0.1,
waits for what they do with a deadline, and cleans everything up: every process it starts is
killed when its test ends (pass or fail), when the interpreter exits, and even when the test
runner itself is killed (parent-death signal). Debian's /usr/bin/python3 and Debian packages only.

Writing a new integration test
------------------------------
A file tests/integration/test_<what>.py, run by ctest as integration_test_<what> (with PW_BUILD,
PW_SOURCE and LSAN_OPTIONS set) or by hand from the source tree:

    #!/usr/bin/python3
    '''One paragraph: what the test covers.'''
    import os, sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
    import harness

    CONF = '''
    daemon: { state_dir = "state"; http_listen = ""; };
    domains = ( { id = "health"; name = "病有良医"; } );
    receivers = ( { id = "ops"; type = "webhook"; url = "http://127.0.0.1:{port}/ops"; } );
    alerting: { receivers = [ "ops" ]; group_wait = "0s"; };
    indicators = ( ... );
    '''

    class Reload(harness.TestCase):
        def test_something(self):
            env = self.new_env()                  # temporary directory, removed at the end
            hook = env.receiver()                 # webhook receiver in this process
            env.write_conf(CONF, port=hook.port)  # {name} placeholders; other braces stay
            env.cli("record", "checkups", "37774", "--as-of", "2024-05-01")
            d = env.start("2024-05-02T09:00:00+08:00")     # pacewatchd -f --now ...
            env.wait(lambda: hook.got("/ops", ok=True), 30, "the alert reaching ops")
            env.write_conf(CONF.replace(...), port=hook.port)
            d.hup()                                        # SIGHUP once the daemon catches it
            d.wait_log("reloaded", 15)
            self.assertEqual(d.stop(), 0)                  # SIGTERM, exit status

    if __name__ == "__main__":
        harness.main()

ctest finds the file by its name (tests/CMakeLists.txt globs integration/test_*.py); nothing to
register. Run it alone with `cd build && ctest -R integration_test_<what> --output-on-failure`,
or `PW_BUILD=build-asan /usr/bin/python3 tests/integration/test_<what>.py` against the ASan
build. Make Envs with `self.new_env()` (or `cls.new_class_env()` in setUpClass): they are
closed, and their processes killed, whatever the test does. A scenario that runs alongside the
tests (started in setUpModule, say) makes its own `harness.Env(name)` and closes it in
tearDownModule. Use `Receiver` when a test changes how a receiver answers while the daemon
runs, `WebhookSink` for a receiver in its own process. Waits take the timeouts the old tests
used; on a loaded machine give a deadline room rather than sleeping a fixed time.

What there is:
  Env              a state directory: dir, conf, state; write_conf, copy_demo, write; cli,
                   cli_run, export, status, once; start/kill9/stop/restart (one Daemon at a
                   time); the sinks and servers below (closed with the Env); spool, dead,
                   audit, journal_lines, rrd, rrd_lastupdate; wait (a condition with a
                   deadline, failing with the daemon's log tail); logs, log_tail,
                   sanitizer_reports; close.
  Daemon           one pacewatchd -f: log(), wait_log(), hup(), signal(), stop() (SIGTERM),
                   kill9(), wait().
  Receiver         webhook receiver in this process, misbehaving per path on demand
                   (fail, hang, code, delay); records in memory: got(path, ok).
  WebhookSink      tests/support/webhook_sink.py in its own process (?fail=N in the URL);
                   messages(path).
  SmtpSink         tests/support/smtp_sink.py (aiosmtpd): port, dir, files(), messages().
  SourcesServer    tests/support/sources_server.py serving a directory: port, counts().
  pacewatch(...), pacewatchd(...)   run a program, returning Result(rc, out, err).
  wait_for, free_port, port_open, alerts_of, spawn.

Logs: every daemon's stdout and stderr, every --once run's stderr, the sinks' records and the
final configuration are kept in the test output directory, $PW_TEST_OUT/<script>/<test>/
(PW_TEST_OUT defaults to $PW_BUILD/tests/output), cleared when the test starts again; failure
messages quote the tail and name that directory. PW_TEST_KEEP=1 keeps the temporary state
directories too.

Under a wrapper: PW_DAEMON_WRAPPER="valgrind ..." runs every pacewatchd of Env.start, Env.once
and pacewatchd(...) under that command (it must exec the daemon in the same process, as
valgrind does), and PW_TIMEOUT_FACTOR=N gives every deadline of the harness (waits, the start,
the stop, --once runs) N times its time; tests/valgrind/test_valgrind.py sets both.

Timing: the daemon's clock (--now) runs in real time from the given instant. `Env.start` waits
for the daemon's start line unless told otherwise (`ready=None` starts and returns at once;
`ready=callable` waits until it is true). pacewatchd logs its start line last in its start-up:
its signals are handled and its status server listens by then. Signals other than SIGKILL are
sent only once the daemon catches them (its SigCgt mask in /proc; with `ready=None` a SIGHUP
sent earlier would end it). Under a wrapper, whose own handlers hide the daemon's, a signal
waits for the start line instead.
"""

import atexit
import collections
import csv
import io
import json
import os
import queue
import re
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from urllib.parse import urlparse

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.abspath(os.environ.get("PW_BUILD", os.path.join(HERE, "..", "..", "build")))
SOURCE = os.path.abspath(os.environ.get("PW_SOURCE", os.path.join(HERE, "..", "..")))
PACEWATCH = os.path.join(BUILD, "bin", "pacewatch")
PACEWATCHD = os.path.join(BUILD, "bin", "pacewatchd")
SUPPORT = os.path.join(SOURCE, "tests", "support")
DEMO = os.path.join(SOURCE, "conf", "demo")
PYTHON = "/usr/bin/python3"
OUT = os.path.abspath(os.environ.get("PW_TEST_OUT") or os.path.join(BUILD, "tests", "output"))
KEEP = os.environ.get("PW_TEST_KEEP", "") not in ("", "0")
# What pacewatchd logs at the end of its start-up: its state open, its modules set up, its
# signals handled, its status server listening.
STARTED = "indicators, "
SETPRIV = shutil.which("setpriv")
# PW_DAEMON_WRAPPER: a command line put before every pacewatchd the harness runs (valgrind, for
# tests/valgrind/); PW_TIMEOUT_FACTOR: what the harness's deadlines are multiplied by.
DAEMON_WRAPPER = shlex.split(os.environ.get("PW_DAEMON_WRAPPER", ""))
TIMEOUT_FACTOR = float(os.environ.get("PW_TIMEOUT_FACTOR") or 1)

Result = collections.namedtuple("Result", "rc out err")


# ---- processes ----

_live = []  # every process spawn() started and nobody has reaped yet
_live_lock = threading.Lock()


_spawn_queue = None  # requests to the thread that starts every process


def _spawner():
    # The parent-death signal is sent when the *thread* that forked the child ends, so every
    # process is forked here, on one thread that lives as long as the interpreter.
    while True:
        argv, kw, box, done = _spawn_queue.get()
        try:
            box.append(subprocess.Popen(argv, **kw))
        except BaseException as e:  # handed to the caller
            box.append(e)
        done.set()


def spawn(argv, **kw):
    """subprocess.Popen(argv, **kw), registered so that it is killed at the latest when the
    interpreter exits, and given SIGKILL should the test runner die first (setpriv
    --pdeathsig), whichever thread calls."""
    global _spawn_queue
    if SETPRIV:
        argv = [SETPRIV, "--pdeathsig", "KILL", "--", *argv]
    with _live_lock:
        if _spawn_queue is None:
            _spawn_queue = queue.Queue()
            threading.Thread(target=_spawner, name="harness-spawner", daemon=True).start()
    box, done = [], threading.Event()
    _spawn_queue.put((argv, kw, box, done))
    done.wait()
    if isinstance(box[0], BaseException):
        raise box[0]
    p = box[0]
    with _live_lock:
        _live.append(p)
    return p


def reap(p, timeout=30):
    """Kills P (SIGKILL) if it still runs and waits for it; returns its exit status."""
    if p.poll() is None:
        p.kill()
    try:
        rc = p.wait(timeout=timeout)
    finally:
        with _live_lock:
            if p in _live:
                _live.remove(p)
    return rc


@atexit.register
def _kill_all():
    with _live_lock:
        left = list(_live)
    for p in left:
        try:
            reap(p, 10)
        except (OSError, subprocess.TimeoutExpired):
            pass


def caught(pid, sig):
    """Whether process PID has a handler for SIG (None when /proc cannot tell)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) >> (sig - 1) & 1)
    except (OSError, ValueError):
        pass
    return None


def pacewatch(*args, env=None, cwd=None, timeout=60):
    """Runs the CLI with ARGS as given; returns Result(rc, stdout, stderr)."""
    p = subprocess.run([PACEWATCH, *args], capture_output=True, text=True, env=env, cwd=cwd,
                       timeout=timeout)
    return Result(p.returncode, p.stdout, p.stderr)


def pacewatchd(*args, timeout=120):
    """Runs pacewatchd with ARGS as given, to its end (-t, --once, a refused second start);
    returns Result(rc, stdout, stderr)."""
    p = subprocess.run([*DAEMON_WRAPPER, PACEWATCHD, *args], capture_output=True, text=True,
                       timeout=timeout * TIMEOUT_FACTOR)
    return Result(p.returncode, p.stdout, p.stderr)


# ---- waiting ----

def wait_for(cond, timeout, step=0.1):
    """Calls COND every STEP seconds until it returns something true or TIMEOUT seconds have
    passed; returns that value, or COND's value at the deadline."""
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return cond()


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port, host="127.0.0.1", timeout=1):
    """Whether something accepts connections on HOST:PORT."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def alerts_of(rec):
    """The alerts of one webhook payload (a Receiver's or WebhookSink's record)."""
    return json.loads(rec["body"]).get("alerts", [])


def read_text(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


# ---- servers ----

class _Helper:
    """A server of tests/support/ in its own process that prints its port on its first line."""

    def __init__(self, script, *args, what=None):
        self.what = what or os.path.basename(script)
        self.proc = spawn([PYTHON, script, *args], stdout=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        line = self.proc.stdout.readline() if ready else ""
        if not line.strip().isdigit():
            reap(self.proc)
            raise AssertionError(f"{self.what} did not start (first line {line!r})")
        self.port = int(line)

    def close(self):
        if self.proc is not None:
            reap(self.proc)
            self.proc.stdout.close()
            self.proc = None


class WebhookSink(_Helper):
    """tests/support/webhook_sink.py: records every POST as a JSON line in LOG (path, query,
    ok, n, time, headers, body) and answers 200, or 500 to the first N requests of a path
    called with ?fail=N."""

    def __init__(self, log):
        self.log = log
        super().__init__(os.path.join(SUPPORT, "webhook_sink.py"), log)

    def messages(self, path=None):
        try:
            with open(self.log, encoding="utf-8") as f:
                msgs = [json.loads(line) for line in f if line.endswith("\n")]
        except FileNotFoundError:
            return []
        return [m for m in msgs if path is None or m["path"] == path]


class SmtpSink(_Helper):
    """tests/support/smtp_sink.py (aiosmtpd): saves each message as DIR/<n>.eml; recipients
    starting with "reject" get 550."""

    def __init__(self, directory):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        super().__init__(os.path.join(SUPPORT, "smtp_sink.py"), directory)

    def files(self):
        return sorted(n for n in os.listdir(self.dir) if n.endswith(".eml"))

    def messages(self):
        """The messages, parsed with email's default policy."""
        import email
        import email.policy
        out = []
        for n in self.files():
            with open(os.path.join(self.dir, n), "rb") as f:
                out.append(email.message_from_binary_file(f, policy=email.policy.default))
        return out


class SourcesServer(_Helper):
    """tests/support/sources_server.py: serves the files of DATA (/data/NAME, re-read at every
    request) and broken answers (/status/CODE, /slow, /chunked, /big, /redirect-file)."""

    def __init__(self, data):
        self.data = data
        os.makedirs(data, exist_ok=True)
        super().__init__(os.path.join(SUPPORT, "sources_server.py"), data)
        self.base = f"http://127.0.0.1:{self.port}"

    def counts(self):
        """How many requests each path got."""
        import urllib.request
        with urllib.request.urlopen(self.base + "/count", timeout=5) as r:
            return json.loads(r.read())


class Receiver:
    """A webhook/robot receiver in this process: records every POST, answers 200
    {"errcode":0,"code":0} unless the path's behaviour (set with `behave`) says otherwise:
      fail=N    answer 500 to the next N requests
      hang=S    hold every request S seconds before answering 200 (set S beyond the sender's
                timeout: such a request is recorded as not delivered)
      code=C, codes=N  answer 200 {"errcode":C,"code":C} to the next N requests
      delay=S   take S seconds over every answer (the request counts as delivered)
    A record: path, query, time, status, code, hung, headers (lower-case names), body, ok."""

    def __init__(self, log=None):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        self.lock = threading.Lock()
        self.records = []
        self.behaviour = {}
        self.log = log
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                sink._handle(self)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                if not isinstance(sys.exc_info()[1], ConnectionError):
                    super().handle_error(request, client_address)  # (a killed sender is not)

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def behave(self, path, **kw):
        with self.lock:
            self.behaviour[path] = dict(kw)

    def _handle(self, h):
        u = urlparse(h.path)
        body = h.rfile.read(int(h.headers.get("Content-Length", "0")))
        with self.lock:
            b = self.behaviour.setdefault(u.path, {})
            status, code, hang = 200, 0, b.get("hang", 0)
            if b.get("fail", 0) > 0:
                b["fail"] -= 1
                status = 500
            elif b.get("codes", 0) > 0:
                b["codes"] -= 1
                code = b["code"]
            rec = {"path": u.path, "query": u.query, "time": time.time(), "status": status,
                   "code": code, "hung": bool(hang),
                   "headers": {k.lower(): v for k, v in h.headers.items()},
                   "body": body.decode("utf-8", "replace")}
            # Delivered: the sender was told 200 with code 0 in time.
            rec["ok"] = status == 200 and code == 0 and not hang
            self.records.append(rec)
        if hang or b.get("delay"):
            time.sleep(hang or b["delay"])
        out = b"down" if status != 200 else json.dumps(
            {"errcode": code, "code": code, "errmsg": "refused" if code else "ok",
             "msg": "refused" if code else "success"}).encode()
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(out)))
            h.end_headers()
            h.wfile.write(out)
        except OSError:
            pass  # the sender gave up waiting

    def got(self, path=None, ok=None):
        with self.lock:
            return [r for r in self.records
                    if (path is None or r["path"] == path) and (ok is None or r["ok"] == ok)]

    def close(self):
        if self.server is None:
            return
        self.server.shutdown()
        self.server.server_close()
        self.server = None
        if self.log:
            with self.lock, open(self.log, "w", encoding="utf-8") as f:
                for r in self.records:
                    f.write(json.dumps(r, ensure_ascii=False) + "\n")


# ---- the daemon ----

class Daemon:
    """One `pacewatchd -c CONF -f [--now NOW] ARGS...` of an Env, its stdout and stderr in
    LOG_PATH."""

    def __init__(self, env, log_path, argv):
        self.env = env
        self.log_path = log_path
        self.argv = argv
        with open(log_path, "w") as log:
            self.proc = spawn(argv, stdout=log, stderr=subprocess.STDOUT)
        self.pid = self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def poll(self):
        return self.proc.poll()

    def log(self):
        return read_text(self.log_path)

    def wait_log(self, text, timeout=30, count=1):
        """Waits until TEXT appears COUNT times in the daemon's log (failing with the log tail);
        returns the log."""
        what = f"{text!r} in the daemon's log" + (f" {count} times" if count > 1 else "")
        return self.env.wait(lambda: self.log().count(text) >= count and self.log(), timeout,
                             what)

    def wait_ready(self, ready, timeout=60):
        """Waits until READY() is true while the daemon runs; fails with its log otherwise."""
        timeout *= TIMEOUT_FACTOR
        end = time.time() + timeout
        while True:
            if ready() and self.alive():
                return
            if not self.alive():
                raise AssertionError(f"pacewatchd exited with {self.proc.returncode} before it "
                                     f"was ready\n{self.env.log_tail()}")
            if time.time() > end:
                raise AssertionError(f"pacewatchd not ready after {timeout:g} s\n"
                                     f"{self.env.log_tail()}")
            time.sleep(0.05)

    def signal(self, sig, timeout=10):
        """Sends SIG once the daemon has a handler for it (within TIMEOUT seconds)."""
        if not self.alive():
            return
        end = time.time() + timeout * TIMEOUT_FACTOR
        while caught(self.pid, sig) is False and self.alive() and time.time() < end:
            time.sleep(0.01)
        while DAEMON_WRAPPER and STARTED not in self.log() and self.alive() and time.time() < end:
            time.sleep(0.01)
        if self.alive():
            self.proc.send_signal(sig)

    def hup(self):
        self.signal(signal.SIGHUP)

    def wait(self, timeout=30):
        """Waits for the daemon's end; returns its exit status."""
        timeout *= TIMEOUT_FACTOR
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"pacewatchd still running after {timeout:g} s\n"
                                 f"{self.env.log_tail()}") from None

    def stop(self, timeout=30):
        """SIGTERM; returns the exit status (0: a clean stop). A daemon that does not stop within
        TIMEOUT seconds is killed and the call fails."""
        self.signal(signal.SIGTERM)
        try:
            return self.wait(timeout)
        finally:
            reap(self.proc)

    def kill9(self):
        """SIGKILL; returns the exit status (-9, or what it exited with before)."""
        return reap(self.proc)


# ---- the state directory ----

_out_used = set()


def _label(text):
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", text) or "env"


class Env:
    """A temporary directory with a configuration (self.conf, state_dir "state" relative to
    it), the programs run on it, one daemon at a time (self.daemon) and the servers it made.
    NAME labels the directory and the output directory (LABEL, when given, is the output
    directory's name: the test id; see TestCase.new_env)."""

    def __init__(self, name="env", label=None, conf_name="pw.conf", cli_timeout=90):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix=f"pw-{_label(name)}-")
        self.conf = os.path.join(self.dir, conf_name)
        self.state = os.path.join(self.dir, "state")
        self.cli_timeout = cli_timeout
        self.daemon = None
        self._label = label or name
        self._out = None
        self._logs = []  # every log file written, in order
        self._owned = []  # servers closed with the Env
        self._n_once = 0
        self._n_daemon = 0

    # -- files --

    @property
    def out(self):
        """The output directory kept for people to read (created, and emptied of an earlier
        run's files, on first use)."""
        if self._out is None:
            main = getattr(sys.modules.get("__main__"), "__file__", None) or sys.argv[0]
            script = os.path.splitext(os.path.basename(main or "test"))[0]
            label, n = _label(self._label), 1
            while os.path.join(script, label) in _out_used:
                n += 1
                label = f"{_label(self._label)}-{n}"
            _out_used.add(os.path.join(script, label))
            self._out = os.path.join(OUT, script, label)
            shutil.rmtree(self._out, ignore_errors=True)
            os.makedirs(self._out)
        return self._out

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def write(self, name, data):
        """Writes DATA (str as UTF-8, or bytes) to NAME in the directory; returns its path."""
        p = self.path(name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
        return p

    def write_conf(self, text, **fields):
        """Writes the configuration: TEXT with every {NAME} of FIELDS replaced by its value, in
        one pass (other braces stay as they are: libconfig's own need no doubling)."""
        if fields:
            text = re.sub(r"\{(\w+)\}",
                          lambda m: str(fields[m[1]]) if m[1] in fields else m[0], text)
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write(text)

    def conf_text(self):
        with open(self.conf, encoding="utf-8") as f:
            return f.read()

    def edit_conf(self, old, new):
        """Replaces OLD by NEW in the configuration; OLD must be there."""
        text = self.conf_text()
        assert old in text, f"{old!r} is not in {self.conf}"
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write(text.replace(old, new))

    def append_conf(self, text):
        with open(self.conf, "a", encoding="utf-8") as f:
            f.write(text)

    def copy_demo(self, history=True, data=True):
        """Copies conf/demo's pacewatch.conf (with history.csv and data/ unless told not to)
        into the directory; the configuration becomes pacewatch.conf."""
        for f in ("pacewatch.conf", "history.csv") if history else ("pacewatch.conf",):
            shutil.copy(os.path.join(DEMO, f), self.dir)
        if data:
            shutil.copytree(os.path.join(DEMO, "data"), self.path("data"))
        self.conf = self.path("pacewatch.conf")

    # -- the CLI --

    def cli_run(self, cmd, *args, env=None, timeout=None):
        """`pacewatch CMD -c CONF ARGS...`; returns Result(rc, out, err)."""
        return pacewatch(cmd, "-c", self.conf, *args, env=env,
                         timeout=timeout or self.cli_timeout)

    def cli(self, cmd, *args, **kw):
        """`pacewatch CMD -c CONF ARGS...`, which must succeed; returns its stdout."""
        r = self.cli_run(cmd, *args, **kw)
        assert r.rc == 0, ((cmd, *args), r.out, r.err)
        return r.out

    def export(self, ind, *args):
        """`pacewatch export IND ARGS...`: the rows as dicts (CSV), or the parsed document
        with --format json."""
        out = self.cli("export", ind, *args)
        if "json" in args:
            return json.loads(out)
        return list(csv.DictReader(io.StringIO(out)))

    def status(self, *args):
        """`pacewatch status --json ARGS...` (e.g. "--at", "2024-04-30"), parsed."""
        return json.loads(self.cli("status", *args, "--json"))

    # -- the daemon --

    def once(self, now, *args, timeout=120):
        """`pacewatchd -c CONF --once --now NOW ARGS...`; returns (exit status, stderr), the
        stderr also kept as once-<n>.log."""
        p = subprocess.run([*DAEMON_WRAPPER, PACEWATCHD, "-c", self.conf, "--once", "--now", now,
                            *args], capture_output=True, text=True,
                           timeout=timeout * TIMEOUT_FACTOR)
        log = os.path.join(self.out, f"once-{self._n_once}.log")
        self._n_once += 1
        with open(log, "w", encoding="utf-8") as f:
            f.write(p.stderr)
        self._logs.append(log)
        return p.returncode, p.stderr

    def start(self, now=None, *args, ready="started", timeout=60, wrap=()):
        """Starts `pacewatchd -c CONF -f [--now NOW] ARGS...` (self.daemon), its output in
        pacewatchd-<n>.log. READY: "started" waits for its start line, None returns at once, a
        callable is waited for; the daemon must still run then. WRAP: a command that runs it
        (setpriv with fewer capabilities, say), whose exec keeps the process id."""
        assert self.daemon is None or not self.daemon.alive(), "a daemon already runs"
        log = os.path.join(self.out, f"pacewatchd-{self._n_daemon}.log")
        self._n_daemon += 1
        self._logs.append(log)
        argv = [*wrap, *DAEMON_WRAPPER, PACEWATCHD, "-c", self.conf, "-f",
                *(["--now", now] if now else []), *args]
        self.daemon = d = Daemon(self, log, argv)
        if ready == "started":
            d.wait_ready(lambda: STARTED in d.log(), timeout)
        elif ready is not None:
            d.wait_ready(ready, timeout)
        return d

    def kill9(self):
        """Kills the running daemon, if any, with SIGKILL; returns its exit status."""
        d, self.daemon = self.daemon, None
        return d.kill9() if d is not None else None

    def stop(self, timeout=30):
        """Stops the running daemon, if any, with SIGTERM; returns its exit status."""
        d, self.daemon = self.daemon, None
        return d.stop(timeout) if d is not None else None

    def restart(self, now=None, *args, **kw):
        """kill -9, then start again on the same state directory."""
        self.kill9()
        return self.start(now, *args, **kw)

    def logs(self):
        """Every log so far (daemons and --once runs), in order."""
        return "".join(f"--- {p}\n" + read_text(p) for p in self._logs)

    def log_tail(self, chars=6000):
        """The end of every log, for failure messages."""
        tails = "".join(f"--- {p}\n" + read_text(p)[-chars:] for p in self._logs)
        return tails + f"(full logs in {self._out})" if self._out else tails

    def sanitizer_reports(self):
        """The lines of every log so far where AddressSanitizer, LeakSanitizer or UBSan spoke
        (with PW_BUILD=build-asan), as "LOG: LINE"; a test asserts it is empty."""
        pat = re.compile(r"ERROR: (Address|Leak)Sanitizer|runtime error: ")
        return [f"{p}: {line}" for p in self._logs for line in read_text(p).splitlines()
                if pat.search(line)]

    def wait(self, cond, timeout, what="the condition", step=0.1):
        """wait_for(COND, TIMEOUT, STEP), failing with WHAT and the log tail when it never
        holds; returns COND's value."""
        timeout *= TIMEOUT_FACTOR
        v = wait_for(cond, timeout, step)
        if not v:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}\n"
                                 f"{self.log_tail()}")
        return v

    # -- servers owned by the Env --

    def _own(self, server):
        self._owned.append(server)
        return server

    def receiver(self):
        """A Receiver (in this process); its records are kept as receiver.jsonl."""
        return self._own(Receiver(os.path.join(self.out, "receiver.jsonl")))

    def webhook_sink(self):
        """A WebhookSink whose records are kept as webhook-sink.jsonl."""
        return self._own(WebhookSink(os.path.join(self.out, "webhook-sink.jsonl")))

    def smtp_sink(self):
        """An SmtpSink saving its messages in the output directory's mails/."""
        return self._own(SmtpSink(os.path.join(self.out, "mails")))

    def sources_server(self, data=None):
        """A SourcesServer serving DATA (default: the directory's data/)."""
        return self._own(SourcesServer(data or self.path("data")))

    def spawn(self, argv, **kw):
        """Any other process (rrdcached, prometheus...), killed when the Env closes."""
        p = spawn(argv, **kw)
        self._owned.append(p)
        return p

    # -- the state directory --

    def journal_lines(self):
        """The journal's data lines (comments left out)."""
        with open(os.path.join(self.state, "journal", "journal.tsv"), encoding="utf-8") as f:
            return [line for line in f if not line.startswith("#")]

    def journal_text(self):
        """The journal file as it is ("" before it exists)."""
        return read_text(os.path.join(self.state, "journal", "journal.tsv"))

    def spool_files(self):
        """The spooled notifications' files, sorted."""
        d = os.path.join(self.state, "spool")
        names = os.listdir(d) if os.path.isdir(d) else []
        return sorted(os.path.join(d, n) for n in names if n.endswith(".json"))

    def spool(self):
        """The spooled notifications: delivery id -> entry."""
        out = {}
        for p in self.spool_files():
            try:
                with open(p, encoding="utf-8") as f:
                    out[os.path.basename(p)[:-5]] = json.load(f)
            except (OSError, ValueError):
                pass  # replaced while read
        return out

    def dead(self):
        """The names of the dead letters (spool/dead/*.json)."""
        d = os.path.join(self.state, "spool", "dead")
        return [n for n in os.listdir(d) if n.endswith(".json")] if os.path.isdir(d) else []

    def audit(self):
        """The audit log's events (complete lines)."""
        try:
            with open(os.path.join(self.state, "audit.log"), encoding="utf-8") as f:
                return [json.loads(line) for line in f if line.endswith("\n")]
        except FileNotFoundError:
            return []

    def rrd(self, ind):
        return os.path.join(self.state, "rrd", ind + ".rrd")

    def rrd_lastupdate(self, ind):
        """`rrdtool lastupdate` of IND's RRD file: (time, [values, None for U])."""
        out = subprocess.run(["rrdtool", "lastupdate", self.rrd(ind)], capture_output=True,
                             text=True, check=True).stdout
        line = [l for l in out.splitlines() if ":" in l and l.split(":")[0].strip().isdigit()][-1]
        t, vals = line.split(":", 1)
        return int(t), [float(v) if v.strip() != "U" else None for v in vals.split()]

    # -- the end --

    def close(self):
        """Kills the daemon and every process and server of the Env, keeps the configuration
        beside the logs, says on stderr where a sanitizer spoke, and removes the directory
        (unless PW_TEST_KEEP)."""
        self.kill9()
        for line in self.sanitizer_reports():
            print(f"harness: sanitizer report in {line}", file=sys.stderr)
        for s in reversed(self._owned):
            if isinstance(s, subprocess.Popen):
                reap(s)
            else:
                s.close()
        self._owned = []
        if self._out is not None and os.path.exists(self.conf):
            shutil.copy(self.conf, os.path.join(self._out, os.path.basename(self.conf)))
        if KEEP:
            print(f"kept {self.dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


class TestCase(unittest.TestCase):
    """unittest.TestCase whose Envs are closed when the test (or the class) ends, whatever
    happened, and whose output directories are named after the test."""

    def new_env(self, name=None, **kw):
        """An Env for this test, closed when it ends; NAME tells two Envs of a test apart."""
        test = self.id().split(".", 1)[-1]
        env = Env(name or self._testMethodName, label=test + (f"-{name}" if name else ""),
                  **kw)
        self.addCleanup(env.close)
        return env

    @classmethod
    def new_class_env(cls, name=None, **kw):
        """An Env shared by the class's tests (made in setUpClass), closed after the last."""
        env = Env(name or cls.__name__, label=cls.__name__ + (f"-{name}" if name else ""), **kw)
        cls.addClassCleanup(env.close)
        return env


def main():
    unittest.main(verbosity=2)
