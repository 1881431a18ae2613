#!/usr/bin/python3
"""pacewatchd and the CLI under valgrind memcheck (docs/testing.md, "Valgrind").

Runs the daemon's integration test (tests/integration/test_daemon.py: polling of every parser
plugin and broken source, storage in the journal and RRD files directly and through rrdcached,
judgement, a revision, SIGHUP with a broken and a good file, a CLI write through the inbox, a
refused second daemon, SIGTERM) with every pacewatchd under memcheck (PW_DAEMON_WRAPPER of
tests/support/harness.py), then a running daemon on the demo configuration serving its status
server (every route, PNG and SVG graphs, a 404), delivering alerts to a webhook, a WeCom robot
(the graph as an image) and the log, sending the weekly briefing, reloading on SIGHUP and taking
a record through its inbox; and the CLI (check, import, record, status, export, graph, briefing,
silence, rebuild) under memcheck too, and a start refused half-way (the status server's address
taken).

Every program's valgrind log is kept in the test output directory's valgrind/ folder; the run
fails when any of them shows an error or a definite leak (--errors-for-leak-kinds=definite makes
a definite leak an error), or did not reach valgrind's summary. Suppressions:
tests/support/valgrind.supp, each with its reason. Exit status 77 (ctest: skipped) when valgrind
is not installed or the build is instrumented by ASan."""

import glob
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402
import test_daemon  # noqa: E402

SUPP = os.path.join(harness.SOURCE, "tests", "support", "valgrind.supp")
VGDIR = os.path.join(harness.OUT, "test_valgrind", "valgrind")
# The exit status of a program in which memcheck found an error or a definite leak.
VG_ERROR = 99
NOW = "2024-04-29T07:59:40+08:00"  # 20 s before the demo's weekly briefing (Mon 08:00)


def memcheck(name):
    """valgrind's command line, its log VGDIR/NAME-<pid>.log."""
    return ["valgrind", "--tool=memcheck", f"--error-exitcode={VG_ERROR}",
            "--leak-check=full", "--show-leak-kinds=definite", "--errors-for-leak-kinds=definite",
            "--num-callers=40", f"--suppressions={SUPP}",
            f"--log-file={os.path.join(VGDIR, name)}-%p.log"]


def vg_cli(env, cmd, *args, timeout=300):
    """`pacewatch CMD -c CONF ARGS...` under memcheck; returns harness.Result."""
    p = subprocess.run([*memcheck("pacewatch-" + cmd), harness.PACEWATCH, cmd, "-c", env.conf,
                        *args], capture_output=True, text=True, timeout=timeout)
    return harness.Result(p.returncode, p.stdout, p.stderr)


def get(base, path, timeout=120):
    """(status, content type, body) of GET BASE+PATH."""
    try:
        with urllib.request.urlopen(base + path, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


CONF_RECEIVERS = """receivers = (
  { id = "ops_log"; type = "log"; },
  { id = "hook"; type = "webhook"; url = "http://127.0.0.1:{port}/hook"; },
  { id = "wc"; type = "wecom"; url = "http://127.0.0.1:{port}/wecom?key=K"; },
  { id = "mail"; type = "email"; url = "smtp://127.0.0.1:{smtp}"; from = "pw@example.gov.cn";
    to = [ "office@example.gov.cn" ]; }
);"""


class Serving(harness.TestCase):
    """The demo configuration with its history, a running daemon under memcheck."""

    def check(self, r, what):
        self.assertEqual(r.rc, 0, f"{what}: {r.out[-2000:]}{r.err[-4000:]}")
        return r.out

    def test_serve_alert_brief_reload_and_cli(self):
        env = self.new_env()
        env.copy_demo()
        hook = env.receiver()
        hook.behave("/hook", fail=1)  # the first attempt fails: retried from the spool
        smtp = env.smtp_sink()
        port = harness.free_port()
        env.edit_conf('http_listen = "127.0.0.1:9464";', f'http_listen = "127.0.0.1:{port}";')
        env.edit_conf('receivers = (\n  { id = "ops_log"; type = "log"; }\n);',
                      CONF_RECEIVERS.replace("{port}", str(hook.port))
                      .replace("{smtp}", str(smtp.port)))
        env.edit_conf('alerting: {\n  receivers = [ "ops_log" ];',
                      'alerting: {\n  receivers = [ "ops_log", "hook", "wc", "mail" ]; '
                      'group_wait = "0s";')
        env.edit_conf('schedule = "Mon 08:00";', 'schedule = "Mon 08:00"; receivers = [ "hook" ];')
        self.check(vg_cli(env, "check"), "check")
        self.check(vg_cli(env, "import", env.path("history.csv")), "import")
        self.check(vg_cli(env, "record", "livelihood_projects", "20", "--as-of", "2024-04-20"),
                   "record")
        self.check(vg_cli(env, "silence", "add", "zhejiang_trail_km", "--until", "2099-12-31",
                          "--reason", "测试"), "silence add")
        self.check(vg_cli(env, "silence", "list"), "silence list")

        base = f"http://127.0.0.1:{port}"
        d = env.start(NOW, ready=lambda: harness.port_open(port))
        status, ctype, body = get(base, "/healthz")
        self.assertEqual((status, body), (200, b"ok\n"))
        status, ctype, body = get(base, "/api/v1/status")
        self.assertEqual(status, 200)
        ids = [i["id"] for i in json.loads(body)["indicators"]]
        self.assertIn("service_circle_score", ids)
        status, _, body = get(base, "/metrics")
        self.assertEqual(status, 200)
        self.assertIn(b"pacewatch_indicator_status", body)
        status, _, body = get(base, "/")
        self.assertEqual(status, 200)
        self.assertIn("数据源状态", body.decode())
        for path, ctype_want, magic in (("/graphs/health_checkups.png", "image/png", b"\x89PNG"),
                                        ("/graphs/health_checkups.png?size=small", "image/png",
                                         b"\x89PNG"),
                                        ("/graphs/vocational_training.svg", "image/svg+xml",
                                         b"<?xml")):
            status, ctype, body = get(base, path)
            self.assertEqual((status, ctype), (200, ctype_want), path)
            self.assertTrue(body.startswith(magic), (path, body[:40]))
        self.assertEqual(get(base, "/graphs/nope.png")[0], 404)
        self.assertEqual(get(base, "/nope")[0], 404)

        # The lagging score fires: the webhook (at its second attempt), the WeCom robot
        # (markdown, then the graph), a mail with the graph.
        env.wait(lambda: hook.got("/hook", ok=True), 60, "an alert reaching the webhook")
        self.assertTrue(hook.got("/hook", ok=False))
        env.wait(lambda: smtp.files(), 60, "the alert's mail")
        env.wait(lambda: len(hook.got("/wecom", ok=True)) >= 2, 60, "the WeCom image")
        kinds = [json.loads(r["body"])["msgtype"] for r in hook.got("/wecom")]
        self.assertIn("image", kinds)
        # The weekly briefing at Mon 08:00 of the daemon's clock.
        env.wait(lambda: [r for r in hook.got("/hook") if '"briefing"' in r["body"]], 90,
                 "the weekly briefing")
        # A record through the inbox of the running daemon (the CLI under memcheck as well).
        self.check(vg_cli(env, "record", "livelihood_projects", "30", "--as-of", "2024-04-28"),
                   "record through the inbox")
        # SIGHUP: a reload with a receiver gone and a source's interval changed.
        env.edit_conf('{ id = "wc"; type = "wecom"; url = "http://127.0.0.1:'
                      f'{hook.port}/wecom?key=K"; }}', '{ id = "wc"; type = "log"; }')
        env.edit_conf('format = "prometheus"; interval = "1h";',
                      'format = "prometheus"; interval = "2h";')
        d.hup()
        d.wait_log("reloaded", 60)
        self.assertEqual(get(base, "/graphs/health_checkups.svg")[0], 200)
        self.assertEqual(get(base, "/api/v1/status")[0], 200)
        self.assertEqual(d.stop(timeout=120), 0, env.log_tail())
        self.assertNotIn("handles still open", d.log())

        # The CLI on the state the daemon left.
        out = self.check(vg_cli(env, "export", "livelihood_projects"), "export csv")
        self.assertIn("30", out)
        self.check(vg_cli(env, "export", "health_checkups", "--format", "json"), "export json")
        out = self.check(vg_cli(env, "status", "--at", "2024-04-30", "--json"), "status")
        self.assertIn("service_circle_score", out)
        self.check(vg_cli(env, "graph", "health_checkups", "--at", "2024-04-30", "-o",
                          env.path("g.png")), "graph")
        self.check(vg_cli(env, "briefing", "--at", "2024-04-30", "-o", env.path("brief")),
                   "briefing")
        self.check(vg_cli(env, "rebuild"), "rebuild")
        self.check(vg_cli(env, "silence", "remove", "s1"), "silence remove")
        # A configuration error and an unknown indicator end in an error, not in a leak.
        env.append_conf("\nbogus = 1;\n")
        self.assertNotEqual(vg_cli(env, "check").rc, 0)
        self.assertNotEqual(vg_cli(env, "export", "nope").rc, 0)


class RefusedStart(harness.TestCase):
    """A start that fails half-way stops what it started: exit status 1, nothing leaked."""

    def test_status_server_address_taken(self):
        env = self.new_env()
        env.copy_demo()
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            port = taken.getsockname()[1]
            env.edit_conf('http_listen = "127.0.0.1:9464";', f'http_listen = "127.0.0.1:{port}";')
            r = harness.pacewatchd("-c", env.conf, "-f", "--now", NOW)
        self.assertEqual(r.rc, 1, r.err[-3000:])
        self.assertIn("cannot listen", r.err)
        self.assertIn("stopped", r.err)

    def test_configuration_test_and_errors(self):
        env = self.new_env()
        env.copy_demo()
        self.assertEqual(harness.pacewatchd("-c", env.conf, "-t").rc, 0)
        self.assertEqual(harness.pacewatchd("-c", env.conf, "-f", "--now", "bogus").rc, 2)
        env.append_conf("\nbogus = 1;\n")
        r = harness.pacewatchd("-c", env.conf, "-t")
        self.assertEqual(r.rc, 2, r.err[-3000:])
        self.assertIn("bogus", r.err)


def read_logs():
    """Every valgrind log of the run: [(name, errors or None when the log has no summary,
    bytes definitely lost, bytes of leaks suppressed)]."""
    out = []
    for path in sorted(glob.glob(os.path.join(VGDIR, "*.log"))):
        text = harness.read_text(path)
        errors = re.search(r"ERROR SUMMARY: ([\d,]+) errors", text)
        lost = re.search(r"definitely lost: ([\d,]+) bytes", text)
        supp = re.search(r"suppressed: ([\d,]+) bytes", text)
        out.append((os.path.basename(path),
                    int(errors.group(1).replace(",", "")) if errors else None,
                    int(lost.group(1).replace(",", "")) if lost else 0,
                    int(supp.group(1).replace(",", "")) if supp else 0))
    return out


def skip_reason():
    if shutil.which("valgrind") is None:
        return "valgrind is not installed (apt-get install valgrind; ./quickstart.sh test does)"
    cache = harness.read_text(os.path.join(harness.BUILD, "CMakeCache.txt"))
    if re.search(r"^PW_ASAN:BOOL=ON", cache, re.M):
        return "an ASan build cannot run under valgrind"
    return None


def main():
    why = skip_reason()
    if why:
        print(f"test_valgrind: skipped: {why}")
        return 77
    shutil.rmtree(VGDIR, ignore_errors=True)
    os.makedirs(VGDIR)
    # Every pacewatchd of the harness under memcheck; its deadlines stretched (memcheck runs
    # the daemon 10 to 50 times slower).
    harness.DAEMON_WRAPPER = memcheck("pacewatchd")
    harness.TIMEOUT_FACTOR = float(os.environ.get("PW_TIMEOUT_FACTOR") or 4)
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    for case in (test_daemon.Once, test_daemon.Running, test_daemon.ThroughRrdcached, Serving,
                 RefusedStart):
        suite.addTests(loader.loadTestsFromTestCase(case))
    result = unittest.TextTestRunner(verbosity=2).run(suite)

    logs = read_logs()
    bad = [n for n, e, lost, _ in logs if e != 0 or lost]
    print(f"\nvalgrind logs in {VGDIR}:")
    for n, e, lost, supp in logs:
        state = "no summary (killed?)" if e is None else \
            f"{e} errors, {lost} bytes definitely lost, {supp} bytes of leaks suppressed"
        print(f"  {n}: {state}")
    progs = {n.rsplit("-", 1)[0] for n, _, _, _ in logs}
    print(f"valgrind: {len(logs)} runs checked ({len(progs)} programs/commands), "
          f"{len(bad)} with an error, a definite leak or no summary")
    if not result.wasSuccessful() or bad or not logs:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
