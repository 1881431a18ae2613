#!/usr/bin/python3
"""Delivery across kill -9 while alerts change state, with real receivers on loopback
(tests/support/webhook_sink.py): indicators flip between lagging, severe and ok while the
daemon is down, the daemon starts, notifies and is killed at a random moment, eight times, then
runs until everything is delivered. Every receiver's last word on every indicator matches the
final judgement (firing with the right severity, or resolved to whoever was told), every
spooled notification arrived, and duplicates are counted and reported. (Quiet hours, rate
budgets, a hanging receiver, Feishu and kill -9 during a burst are in test_alerting_faults.py.)
"""

import glob
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
