#!/usr/bin/python3
"""Integration tests of notification delivery under faults, with a running pacewatchd and real
receivers on loopback (tests/support/webhook_sink.py):

- quiet hours: a lagging alert waits until they end, a severe one goes out at once;
- rate budgets: a burst beyond a receiver's budget is merged into one digest, nothing dropped;
- a receiver hanging past its timeout: the attempt fails, the others are served meanwhile, the
  same delivery is retried and arrives;
- Feishu: the body signature checked by an independent implementation, and a refusal in the
  body (code != 0) kept in the spool and retried;
- kill -9 at random moments while alerts change, restarted until everything is delivered:
  every receiver's last word on every indicator matches the final judgement, every spooled
  notification arrived, and the duplicates are counted and reported.
"""

import base64
import glob
import hashlib
import hmac
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

BUILD = os.environ.get("PW_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
SOURCE = os.environ.get("PW_SOURCE", os.path.join(os.path.dirname(__file__), "..", ".."))
PACEWATCH = os.path.join(BUILD, "bin", "pacewatch")
PACEWATCHD = os.path.join(BUILD, "bin", "pacewatchd")
SINK = os.path.join(SOURCE, "tests", "support", "webhook_sink.py")

# As of 2024-05-01 against quarters 28500/95000/142500/190000: 37774 is lagging (7.04 pp behind
# the pace), 5000 severe (24.2 pp), 95000 ok.
LAGGING, SEVERE, OK = 37774, 5000, 95000


def indicator(ind_id, department=True):
    dep = 'department = "wj"; ' if department else ""
    return (f'{{ id = "{ind_id}"; name = "指标{ind_id}"; domain = "health"; {dep}unit = "人"; '
            'kind = "cumulative"; targets = ( { year = 2024; annual = 190000; '
            'quarters = [ 28500, 95000, 142500, 190000 ]; } ); }')


class Env:
    """A configuration with the given receivers, alerting block and indicators, a sink, and
    helpers to run the CLI and the daemon."""

    def __init__(self, receivers, alerting, indicators, dept_receivers):
        self.dir = tempfile.mkdtemp(prefix="pw-delivery-")
        self.log = os.path.join(self.dir, "sink.jsonl")
        self.sink = subprocess.Popen(["/usr/bin/python3", SINK, self.log], stdout=subprocess.PIPE,
                                     text=True)
        self.port = int(self.sink.stdout.readline())
        self.conf = os.path.join(self.dir, "pw.conf")
        recv = ",\n".join(r.replace("PORT", str(self.port)) for r in receivers)
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write('daemon: { state_dir = "state"; http_listen = ""; };\n'
                    'domains = ( { id = "health"; name = "病有良医"; } );\n'
                    f'departments = ( {{ id = "wj"; name = "县卫健局"; receivers = {dept_receivers}; }} );\n'
                    f"receivers = (\n{recv}\n);\n"
                    f"alerting: {{ {alerting} }};\n"
                    "indicators = (\n" + ",\n".join(indicators) + "\n);\n")
        self.daemon = None
        self.daemon_log = None

    def cli(self, *args):
        p = subprocess.run([PACEWATCH, args[0], "-c", self.conf, *args[1:]], capture_output=True,
                           text=True, timeout=90)
        assert p.returncode == 0, p.stderr
        return p.stdout

    def start(self, now):
        self.daemon_log = open(os.path.join(self.dir, "daemon.log"), "a")
        self.daemon = subprocess.Popen([PACEWATCHD, "-c", self.conf, "-f", "--now", now],
                                       stdout=self.daemon_log, stderr=subprocess.STDOUT)
        return time.time()

    def kill(self, sig=9):
        if self.daemon is None:
            return None
        if sig == 9:
            self.daemon.kill()
        else:
            self.daemon.terminate()
        rc = self.daemon.wait(timeout=30)
        self.daemon = None
        self.daemon_log.close()
        return rc

    def once(self, now):
        p = subprocess.run([PACEWATCHD, "-c", self.conf, "--once", "--now", now],
                           capture_output=True, text=True, timeout=120)
        return p.returncode, p.stderr

    def logtext(self):
        path = os.path.join(self.dir, "daemon.log")
        if not os.path.exists(path):
            return ""
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def messages(self, path=None):
        if not os.path.exists(self.log):
            return []
        with open(self.log, encoding="utf-8") as f:
            msgs = [json.loads(l) for l in f if l.endswith("\n")]
        return [m for m in msgs if path is None or m["path"] == path]

    def wait_for(self, cond, timeout, what):
        end = time.time() + timeout
        while time.time() < end:
            if cond():
                return
            assert self.daemon is None or self.daemon.poll() is None, self.logtext()
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}\n{self.logtext()[-3000:]}")

    def spool(self):
        return sorted(glob.glob(os.path.join(self.dir, "state", "spool", "*.json")))

    def close(self):
        if self.daemon is not None:
            self.kill()
        self.sink.kill()
        self.sink.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def alerts_of(msg):
    return json.loads(msg["body"]).get("alerts", [])


class QuietHours(unittest.TestCase):
    def test_lagging_waits_severe_does_not(self):
        env = Env([
            '{ id = "dept"; type = "webhook"; url = "http://127.0.0.1:PORT/dept"; }',
            '{ id = "boss"; type = "webhook"; url = "http://127.0.0.1:PORT/boss"; }'],
            'receivers = [ ]; escalate = [ "boss" ]; group_wait = "1s"; '
            'quiet_hours = "22:00-09:01";',
            [indicator("a"), indicator("b", department=False)], '[ "dept" ]')
        try:
            env.cli("record", "a", str(LAGGING), "--as-of", "2024-05-01")
            env.cli("record", "b", str(SEVERE), "--as-of", "2024-05-01")
            # The daemon's clock starts 10 s before the quiet hours end.
            started = env.start("2024-05-02T09:00:50+08:00")
            env.wait_for(lambda: env.messages("/boss"), 30, "the severe alert")
            self.assertEqual(env.messages("/dept"), [], "a lagging alert went out in quiet hours")
            env.wait_for(lambda: env.messages("/dept"), 40, "the lagging alert after quiet hours")
            dept = env.messages("/dept")
            self.assertGreaterEqual(dept[0]["time"] - started, 8.0)  # 09:01 on the daemon's clock
            self.assertEqual([a["alert"] for a in alerts_of(dept[0])], ["a/lag"])
            self.assertEqual([a["alert"] for a in alerts_of(env.messages("/boss")[0])], ["b/lag"])
            self.assertLess(env.messages("/boss")[0]["time"] - started, 8.0)
        finally:
            env.close()


class RateBudget(unittest.TestCase):
    def test_burst_is_merged_into_a_digest(self):
        ids = [f"r{i}" for i in range(6)]
        env = Env(['{ id = "dept"; type = "webhook"; url = "http://127.0.0.1:PORT/dept"; '
                   'rate_per_minute = 2; }'],
                  'receivers = [ ]; group_wait = "0s";', [indicator(i) for i in ids],
                  '[ "dept" ]')
        try:
            env.start("2024-05-02T09:00:00+08:00")
            time.sleep(1.0)
            # One indicator falls behind after another: each is its own notification.
            for i in ids:
                env.cli("record", i, str(LAGGING), "--as-of", "2024-05-01")
                time.sleep(1.2)
            env.wait_for(lambda: "merged into" in env.logtext() and len(env.spool()) == 1, 30,
                         "the digest")
            time.sleep(2.0)
            self.assertLessEqual(len(env.messages("/dept")), 2)  # the budget of the minute
            with open(env.spool()[0], encoding="utf-8") as f:
                digest = json.load(f)
            # (Every indicator was also stale until its first figure: only lag alerts count.)
            waiting = {a["indicator"] for a in digest["payload"]["alerts"]
                       if a["condition"] == "lag"}
            delivered = {a["indicator"] for m in env.messages("/dept") if m["ok"]
                         for a in alerts_of(m) if a["condition"] == "lag"}
            self.assertEqual(delivered | waiting, set(ids))  # nothing dropped
            self.assertEqual(delivered & waiting, set())
            self.assertGreaterEqual(len(waiting), 2)
            env.kill(15)
            # The digest goes out as one message (here by --once, which does not wait for the
            # budget's minute to pass).
            n = len(env.messages("/dept"))
            rc, log = env.once("2024-05-02T09:00:30+08:00")
            self.assertEqual(rc, 0, log)
            new = env.messages("/dept")[n:]
            self.assertEqual(len(new), 1, log)
            self.assertEqual({a["indicator"] for a in alerts_of(new[0]) if a["condition"] == "lag"},
                             waiting)
            with open(os.path.join(env.dir, "state", "audit.log"), encoding="utf-8") as f:
                events = [json.loads(l)["event"] for l in f]
            self.assertGreaterEqual(events.count("merged"), 2)
        finally:
            env.close()


class HangingReceiver(unittest.TestCase):
    def test_timeout_then_retry(self):
        env = Env([
            '{ id = "hang"; type = "webhook"; url = "http://127.0.0.1:PORT/hang?hang=30&hangs=1"; '
            'timeout = "2s"; }',
            '{ id = "ok"; type = "webhook"; url = "http://127.0.0.1:PORT/ok"; }'],
            'receivers = [ ]; group_wait = "0s";', [indicator("a"), indicator("b")],
            '[ "hang", "ok" ]')
        try:
            env.cli("record", "a", str(LAGGING), "--as-of", "2024-05-01")
            env.start("2024-05-02T09:00:00+08:00")
            env.wait_for(lambda: env.messages("/hang") and env.messages("/ok"), 30,
                         "the first attempts")
            # While /hang holds its connection, the other receiver is served, and a new alert
            # reaches it too.
            env.cli("record", "b", str(LAGGING), "--as-of", "2024-05-01")
            env.wait_for(lambda: len(env.messages("/ok")) == 2, 30, "the second alert at /ok")
            self.assertLess(env.messages("/ok")[1]["time"] - env.messages("/hang")[0]["time"], 30)
            env.wait_for(lambda: any(m["ok"] for m in env.messages("/hang")), 60,
                         "the retry to /hang")
            hang = env.messages("/hang")
            self.assertFalse(hang[0]["ok"])
            # The delivery that timed out is retried under the same id and arrives.
            first_id = hang[0]["headers"]["x-pacewatch-delivery"]
            env.wait_for(lambda: any(m["ok"] and m["headers"]["x-pacewatch-delivery"] == first_id
                                     for m in env.messages("/hang")), 60, "the retry")
            self.assertRegex(env.logtext(), r"(?i)receiver 'hang'.*(timed? ?out|timeout)")
            env.wait_for(lambda: {a["indicator"] for m in env.messages("/hang") if m["ok"]
                                  for a in alerts_of(m)} == {"a", "b"}, 60, "b at /hang")
            self.assertIsNone(env.daemon.poll())
        finally:
            env.close()


class Feishu(unittest.TestCase):
    def test_signature_and_refusal(self):
        secret = "fs-Secret+/="
        env = Env([f'{{ id = "fs"; type = "feishu"; url = "http://127.0.0.1:PORT/fs?code=11232&codes=1"; '
                   f'secret = "{secret}"; }}'],
                  'receivers = [ "fs" ]; group_wait = "0s";', [indicator("a")], '[ ]')
        try:
            env.cli("record", "a", str(LAGGING), "--as-of", "2024-05-01")
            rc, log = env.once("2024-05-02T09:00:00+08:00")
            self.assertEqual(rc, 1, log)  # refused in the body: kept in the spool
            self.assertEqual(len(env.spool()), 1)
            rc, log = env.once("2024-05-02T09:01:00+08:00")
            self.assertEqual(rc, 0, log)
            self.assertEqual(env.spool(), [])
            msgs = env.messages("/fs")
            self.assertEqual([m["ok"] for m in msgs], [False, True])
            for m in msgs:
                body = json.loads(m["body"])
                ts = body["timestamp"]
                self.assertRegex(ts, r"^\d{10}$")  # seconds, as a string
                self.assertLess(abs(int(ts) - time.time()), 300)
                # Key = timestamp + "\n" + secret, message empty: the reverse of DingTalk.
                want = base64.b64encode(hmac.new((ts + "\n" + secret).encode(), b"",
                                                 hashlib.sha256).digest()).decode()
                self.assertEqual(body["sign"], want)
                self.assertEqual(body["msg_type"], "text")
                self.assertIn("指标a", body["content"]["text"])
                self.assertIn("滞后7.0个百分点", body["content"]["text"])
        finally:
            env.close()


class KillNine(unittest.TestCase):
    def test_kill_during_bursts(self):
        seed = int(os.environ.get("PW_TEST_SEED", str(int(time.time()))))
        rng = random.Random(seed)
        print(f"\nkill -9 test: seed {seed} (PW_TEST_SEED={seed} repeats it)", file=sys.stderr)
        ids = [f"k{i:02d}" for i in range(12)]
        env = Env([
            '{ id = "dept"; type = "webhook"; url = "http://127.0.0.1:PORT/dept?fail=3"; }',
            '{ id = "ops"; type = "webhook"; url = "http://127.0.0.1:PORT/ops"; }',
            '{ id = "boss"; type = "webhook"; url = "http://127.0.0.1:PORT/boss"; }'],
            'receivers = [ "ops" ]; escalate = [ "boss" ]; group_wait = "0s";',
            [indicator(i) for i in ids], '[ "dept" ]')
        final = {}
        try:
            rounds = 8
            for r in range(rounds):
                # While the daemon is down the CLI journals new figures for some indicators...
                for i in rng.sample(ids, rng.randint(3, len(ids))):
                    final[i] = rng.choice([LAGGING, SEVERE, OK])
                    env.cli("record", i, str(final[i]), "--as-of", f"2024-05-{r + 1:02d}")
                # ...the daemon starts, judges, notifies, and is killed at a random moment.
                env.start(f"2024-05-10T09:{r:02d}:00+08:00")
                time.sleep(rng.uniform(0.0, 2.5))
                env.kill(9)
            # Restarted until everything is delivered (--once ignores back-off).
            for k in range(6):
                rc, log = env.once(f"2024-05-10T09:{rounds + k:02d}:00+08:00")
                if rc == 0:
                    break
            self.assertEqual(rc, 0, log)
            self.assertEqual(env.spool(), [])

            msgs = [m for m in env.messages() if m["ok"]]
            # Every receiver's last word on each indicator matches the final judgement.
            def order(m):
                created, _pid, counter = m["headers"]["x-pacewatch-delivery"].split("-")[:3]
                return int(created), int(counter)
            # Whoever was told an alert fired hears its changes and its end: boss, told while
            # severe, also hears "lagging" and "resolved".
            for path, routed in (("/dept", lambda v: v in (LAGGING, SEVERE)),
                                 ("/ops", lambda v: v in (LAGGING, SEVERE)),
                                 ("/boss", lambda v: v == SEVERE)):
                last = {}
                for m in sorted((m for m in msgs if m["path"] == path), key=order):
                    for a in alerts_of(m):
                        if a["condition"] == "lag":
                            last[a["indicator"]] = (a["state"], a["severity"])
                for i, v in final.items():
                    want = {LAGGING: ("firing", "lagging"), SEVERE: ("firing", "severe"),
                            OK: ("resolved", None)}[v]
                    if path == "/boss" and v == LAGGING and last.get(i) == ("resolved", None):
                        continue  # severe, then ok (boss told), then lagging (not boss's)
                    if routed(v) or i in last:
                        self.assertEqual(last.get(i), want, f"{path} {i} (seed {seed})")
            # Every notification spooled was delivered (or merged into one that was).
            with open(os.path.join(env.dir, "state", "audit.log"), encoding="utf-8") as f:
                audit = [json.loads(l) for l in f if l.endswith("\n")]
            spooled = {e["delivery"] for e in audit if e["event"] == "spooled"}
            merged = {e["delivery"] for e in audit if e["event"] == "merged"}
            got = {m["headers"]["x-pacewatch-delivery"] for m in msgs}
            self.assertEqual(spooled - merged - got, set(), f"seed {seed}")
            # Duplicates: the same delivery id received more than once (a kill between the
            # receiver's answer and the spool's removal), or the same decision re-made after a
            # kill before its state was saved.
            ids_seen = [m["headers"]["x-pacewatch-delivery"] for m in msgs]
            same_id = len(ids_seen) - len(set(ids_seen))
            # A repeated decision shows as the same alert, state and severity twice in a row to
            # one receiver (a severity going back and forth is not a repeat).
            same_decision, prev = 0, {}
            for m in sorted(msgs, key=order):
                for a in alerts_of(m):
                    key = (m["path"], a["alert"])
                    now_ = (a["state"], a["severity"], a["since"])
                    same_decision += prev.get(key) == now_
                    prev[key] = now_
            decisions = [a for m in msgs for a in alerts_of(m)]
            print(f"kill -9 test: {rounds} kills, {len(msgs)} messages delivered "
                  f"({len(decisions)} alerts); duplicate deliveries of one id: {same_id}; "
                  f"alerts delivered more than once: {same_decision}", file=sys.stderr)
        finally:
            env.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
