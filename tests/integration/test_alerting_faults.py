#!/usr/bin/python3
"""Integration tests of alert delivery under faults: a running pacewatchd against real HTTP
receivers on loopback (a threaded HTTP server in this process, whose misbehaviour each test
sets per path).

- quiet hours: a lagging notification produced during them waits until they end, a severe one
  goes out at once (and does not take the waiting one with it);
- rate budget: a burst beyond a receiver's rate_per_minute is merged into a digest; nothing is
  dropped and no 60 s of the daemon's clock holds more messages than the budget;
- a receiver that hangs past its timeout: the attempt fails with a timeout, the notification
  stays in the spool, the other receivers are served meanwhile, and the same delivery id
  arrives once the receiver answers again;
- kill -9 at random moments during a burst (several receivers, one failing its first
  attempts), restarted until everything is delivered: every notification arrives at least
  once, duplicates are counted (stderr) and must carry the delivery id of the original;
- kill -9 at one chosen moment (strace injects SIGKILL) between spooling a batch and saving
  the alert states: the restart spools it again under the same id, and it arrives once;
- Feishu: the body signature checked by an independent implementation, and a reply whose
  `code` is not 0 treated as a failure (kept in the spool, or dead for a signature refusal).

The rate-budget case must wait a minute of the daemon's clock (which runs in real time), so it
starts at module set-up and runs alongside the others; its assertions come last.
"""

import base64
import hashlib
import hmac
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
import unittest
from datetime import datetime

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import harness  # noqa: E402
from harness import alerts_of, wait_for  # noqa: E402

# As of 2024-05-01 against quarters 28500/95000/142500/190000: 37774 is lagging (7.04 pp behind
# the pace), 5000 severe (24.2 pp); 95000 as of 2024-04-20 is on track.
LAGGING, SEVERE, OK = 37774, 5000, 95000
TARGETS = 'targets = ( { year = 2024; annual = 190000; quarters = [ 28500, 95000, 142500, 190000 ]; } );'

CONF = """
daemon: { state_dir = "state"; http_listen = ""; };
domains = ( { id = "health"; name = "病有良医"; } );
departments = ( { id = "wj"; name = "县卫健局"; receivers = [ "dept" ]; } );
receivers = (
  {receivers}
);
alerting: { {alerting} };
indicators = (
  {indicators}
);
{extra}
"""


def ts(text):
    return datetime.fromisoformat(text).timestamp()


def setup(env, receivers, alerting, indicators, extra=""):
    """ENV with a Receiver (env.sink; PORT in RECEIVERS is its port) and the configuration of
    the given receivers, alerting block and indicators."""
    env.sink = env.receiver()
    env.write_conf(CONF, receivers=",\n  ".join(r.replace("PORT", str(env.sink.port))
                                                 for r in receivers),
                   alerting=alerting, indicators=",\n  ".join(indicators), extra=extra)
    return env


def indicator(ind_id, department=True, extra=""):
    dep = 'department = "wj"; ' if department else ""
    return (f'{{ id = "{ind_id}"; name = "指标{ind_id}"; domain = "health"; {dep}unit = "人"; '
            f'kind = "cumulative"; {extra}{TARGETS} }}')


# ---- rate budget: started at module set-up, asserted last ----

class RateScenario:
    """Receiver `hook` has rate_per_minute = 2; eight indicators go lagging one after another
    while the daemon runs, each in its own notification."""

    N = 8

    def __init__(self):
        self.env = setup(harness.Env("rate"), ['{ id = "dept"; type = "log"; }',
                                        '{ id = "hook"; type = "webhook"; url = "http://127.0.0.1:PORT/hook"; '
                                        'rate_per_minute = 2; }'],
                         'receivers = [ "hook" ]; group_wait = "0s";',
                         [indicator(f"r{i}", department=False) for i in range(self.N)])
        self.error = None
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        try:
            env = self.env
            for i in range(self.N):
                env.cli("record", f"r{i}", str(OK), "--as-of", "2024-04-20")
            env.start("2024-05-02T09:00:00+08:00")
            for i in range(self.N):
                env.cli("record", f"r{i}", str(LAGGING), "--as-of", "2024-05-01")
        except Exception as e:  # reported by the test
            self.error = e


RATE = None


def setUpModule():
    global RATE
    RATE = RateScenario()


def tearDownModule():
    if RATE is not None:
        RATE.env.close()


class Faults(harness.TestCase):
    def test_quiet_hours_running_daemon(self):
        """quiet_hours 22:00-07:30 and a daemon whose clock starts at 07:29:38: a lagging
        indicator recorded during them is held until 07:30; a severe one recorded after it goes
        out at once, alone."""
        env = setup(self.new_env(),
                    ['{ id = "dept"; type = "webhook"; url = "http://127.0.0.1:PORT/dept"; }',
                     '{ id = "ops"; type = "webhook"; url = "http://127.0.0.1:PORT/ops"; }'],
                    'receivers = [ "ops" ]; group_wait = "0s"; quiet_hours = "22:00-07:30";',
                    [indicator("warn"), indicator("crit")])
        env.cli("record", "warn", str(OK), "--as-of", "2024-04-20")
        env.cli("record", "crit", str(OK), "--as-of", "2024-04-20")
        env.start("2024-05-02T07:29:38+08:00")
        env.cli("record", "warn", str(LAGGING), "--as-of", "2024-05-01")
        # The lagging one is decided (waiting for quiet hours) before the severe one comes.
        env.wait(lambda: "alert warn/lag: firing" in env.logs(), 30, "warn/lag firing")
        env.cli("record", "crit", str(SEVERE), "--as-of", "2024-05-01")
        end = ts("2024-05-02T07:30:00+08:00")
        for path in ("/dept", "/ops"):
            env.wait(lambda: env.sink.got(path, ok=True), 30, f"a delivery to {path}")
        env.wait(lambda: all(
            {"warn/lag", "crit/lag"} <= {a["alert"] for r in env.sink.got(p, ok=True)
                                         for a in alerts_of(r)}
            for p in ("/dept", "/ops")), 60, "warn/lag and crit/lag at dept and ops")
        for path in ("/dept", "/ops"):
            got = env.sink.got(path, ok=True)
            for rec in got:
                body = json.loads(rec["body"])
                sent = ts(body["sent_at"])
                for a in body["alerts"]:
                    if a["severity"] == "severe":
                        self.assertLess(sent, end, (path, a["alert"], body["sent_at"]))
                    else:
                        # held: never sent before quiet hours end
                        self.assertGreaterEqual(sent, end, (path, a["alert"], body["sent_at"]))
            crit = [r for r in got if any(a["alert"] == "crit/lag" for a in alerts_of(r))]
            warn = [r for r in got if any(a["alert"] == "warn/lag" for a in alerts_of(r))]
            self.assertEqual(len(crit), 1, path)
            self.assertEqual(len(warn), 1, path)
            self.assertEqual([a["severity"] for a in alerts_of(crit[0])], ["severe"])
            self.assertEqual([a["severity"] for a in alerts_of(warn[0])], ["lagging"])
            # the severe one arrived first, the held one once quiet hours ended
            self.assertLess(crit[0]["time"], warn[0]["time"])
            print(f"quiet hours: {path}: severe sent at {json.loads(crit[0]['body'])['sent_at']}"
                  f", lagging at {json.loads(warn[0]['body'])['sent_at']}", file=sys.stderr)
        self.assertIsNone(env.daemon.poll())

    def test_receiver_hanging_past_timeout(self):
        """`slow` (timeout 2s) accepts and never answers: its attempt fails with a timeout, the
        notification stays spooled, `fast` gets this and later notifications meanwhile; once
        `slow` answers again the same delivery id arrives."""
        env = setup(self.new_env(),
                    ['{ id = "dept"; type = "log"; }',
                     '{ id = "slow"; type = "webhook"; url = "http://127.0.0.1:PORT/slow"; timeout = "2s"; }',
                     '{ id = "fast"; type = "webhook"; url = "http://127.0.0.1:PORT/fast"; }'],
                    'receivers = [ "slow", "fast" ]; group_wait = "0s";',
                    [indicator("a", False), indicator("b", False)])
        env.sink.behave("/slow", hang=5)
        env.cli("record", "a", str(LAGGING), "--as-of", "2024-05-01")
        env.cli("record", "b", str(OK), "--as-of", "2024-04-20")
        env.start("2024-05-02T09:00:00+08:00")
        # fast is served while slow's attempt hangs
        env.wait(lambda: env.sink.got("/fast", ok=True), 30, "a delivery to fast")
        env.wait(lambda: env.sink.got("/slow"), 30, "an attempt at slow")
        first = env.sink.got("/slow")[0]
        self.assertLess(env.sink.got("/fast", ok=True)[0]["time"], first["time"] + 2)
        hung_id = first["headers"]["x-pacewatch-delivery"]
        # the attempt fails with a timeout; the notification stays in the spool
        retry = env.wait(lambda: [e for e in env.audit()
                                  if e["event"] == "retry" and e["receiver"] == "slow"], 30,
                         "a retry event for slow in the audit log")
        self.assertEqual(retry[0]["delivery"], hung_id)
        self.assertIn("timeout", retry[0]["error"].lower())
        spooled = env.spool()
        self.assertIn(hung_id, spooled)
        self.assertEqual(spooled[hung_id]["receiver"], "slow")
        self.assertEqual(spooled[hung_id]["attempts"], 1)
        self.assertIn("timeout", spooled[hung_id]["last_error"].lower())
        # the daemon goes on: a new alert reaches fast while slow still hangs
        env.cli("record", "b", str(LAGGING), "--as-of", "2024-05-01")
        env.wait(lambda: any(
            a["alert"] == "b/lag" for r in env.sink.got("/fast", ok=True)
            for a in alerts_of(r)), 30, "b/lag at fast")
        self.assertFalse(env.sink.got("/slow", ok=True))
        self.assertIsNone(env.daemon.poll())
        # slow answers again: both notifications arrive, the first with the same id
        env.sink.behave("/slow")
        env.wait(lambda: {"a/lag", "b/lag"} <= {
            a["alert"] for r in env.sink.got("/slow", ok=True) for a in alerts_of(r)}, 60,
            "a/lag and b/lag delivered to slow")
        ok = env.sink.got("/slow", ok=True)
        ids = [r["headers"]["x-pacewatch-delivery"] for r in ok]
        self.assertIn(hung_id, ids)
        a_msg = [r for r in ok if any(a["alert"] == "a/lag" for a in alerts_of(r))]
        self.assertEqual([r["headers"]["x-pacewatch-delivery"] for r in a_msg], [hung_id])
        # every attempt of slow carried an id that was spooled before it: retries, not new
        spooled_ids = {e["delivery"] for e in env.audit() if e["event"] == "spooled"}
        self.assertTrue({r["headers"]["x-pacewatch-delivery"]
                         for r in env.sink.got("/slow")} <= spooled_ids)
        self.assertTrue(wait_for(lambda: not env.spool(), 10), env.spool())
        self.assertIsNone(env.daemon.poll())

    def test_feishu_signature_and_code(self):
        """Feishu: timestamp (seconds) and sign in the body, sign = base64(HMAC-SHA256(key =
        timestamp + "\\n" + secret, message = "")); a reply with code 11232 keeps the
        notification in the spool and it is sent again on the next run; code 19021 (signature
        refused) sends it to spool/dead/ at once."""
        secret = "SECfs/+=飞书"
        env = setup(self.new_env(),
                    ['{ id = "dept"; type = "feishu"; url = "http://127.0.0.1:PORT/fs/hook/T"; '
                     f'secret = "{secret}"; }}',
                     '{ id = "fs2"; type = "feishu"; url = "http://127.0.0.1:PORT/fs2/hook/T"; }'],
                    'receivers = [ "fs2" ]; group_wait = "0s";', [indicator("checkups")])
        env.sink.behave("/fs/hook/T", code=11232, codes=1)
        env.sink.behave("/fs2/hook/T", code=19021, codes=1)
        env.cli("record", "checkups", str(LAGGING), "--as-of", "2024-05-01")
        rc, log = env.once("2024-05-02T09:00:00+08:00")
        self.assertEqual(rc, 1, log)  # undelivered
        fs = env.sink.got("/fs/hook/T")
        self.assertEqual(len(fs), 1, log)
        body = json.loads(fs[0]["body"])
        self.assertEqual(body["msg_type"], "text")
        self.assertIn("指标checkups", body["content"]["text"])
        t = body["timestamp"]
        self.assertIsInstance(t, str)
        self.assertLess(abs(int(t) - time.time()), 120)  # seconds, the real clock
        mac = hmac.new((t + "\n" + secret).encode(), b"", hashlib.sha256).digest()
        self.assertEqual(body["sign"], base64.b64encode(mac).decode())
        self.assertNotIn("sign", fs[0]["query"])
        # fs2 has no secret: nothing signed
        fs2 = json.loads(env.sink.got("/fs2/hook/T")[0]["body"])
        self.assertNotIn("sign", fs2)
        self.assertNotIn("timestamp", fs2)
        # code 11232 (rate limited): a failure, kept in the spool for a retry
        spool = env.spool()
        self.assertEqual([e["receiver"] for e in spool.values()], ["dept"], log)
        entry = list(spool.values())[0]
        self.assertEqual(entry["attempts"], 1)
        self.assertIn("11232", entry["last_error"])
        # code 19021 (signature refused): can never succeed, dead at once
        self.assertEqual(len(env.dead()), 1, log)
        with open(os.path.join(env.state, "spool", "dead", env.dead()[0]),
                  encoding="utf-8") as f:
            self.assertEqual(json.load(f)["receiver"], "fs2")
        # the next run sends the same spooled notification again, and it is delivered
        rc, log = env.once("2024-05-02T09:01:00+08:00")
        self.assertEqual(rc, 0, log)  # delivered (the dead letter was the first run's)
        fs = env.sink.got("/fs/hook/T")
        self.assertEqual([r["ok"] for r in fs], [False, True], log)
        self.assertEqual(json.loads(fs[1]["body"])["content"], body["content"])
        self.assertEqual(env.spool(), {})
        delivered = [e for e in env.audit() if e["event"] == "delivered"
                     and e["receiver"] == "dept"]
        self.assertEqual([e["delivery"] for e in delivered], [entry["id"]])

    def test_kill9_during_burst(self):
        """Twelve indicators go lagging one after another, then four of them severe, through a
        file source the test rewrites, while pacewatchd is killed with SIGKILL at random moments
        and restarted on the same state directory; four receivers, `flaky` failing its first
        attempts. Every notification of the final state (each indicator's firing alert at its
        last severity, to each receiver of its route) arrives at least once; a notification
        delivered twice carries the same delivery id each time."""
        seed = int(os.environ.get("PW_KILL_SEED", str(random.randrange(1 << 30))))
        print(f"\ntest_kill9_during_burst: seed {seed} (PW_KILL_SEED={seed} to repeat)",
              file=sys.stderr)
        rng = random.Random(seed)
        ids = [f"k{i:02d}" for i in range(12)]
        dept_ids = ids[0::2]
        severe_ids = ids[0::3]
        env = setup(self.new_env(),
                    ['{ id = "dept"; type = "webhook"; url = "http://127.0.0.1:PORT/dept"; }',
                     '{ id = "flaky"; type = "webhook"; url = "http://127.0.0.1:PORT/flaky"; }',
                     '{ id = "ops"; type = "webhook"; url = "http://127.0.0.1:PORT/ops"; }',
                     '{ id = "boss"; type = "webhook"; url = "http://127.0.0.1:PORT/boss"; }'],
                    'receivers = [ "ops" ]; escalate = [ "boss" ]; group_wait = "0s";',
                    [indicator(i, i in dept_ids, f'source = "feed"; path = "$.{i}"; ')
                     for i in ids],
                    'sources = ( { id = "feed"; url = "feed.json"; format = "json"; '
                    'as_of = "$.as_of"; interval = "1s"; } );')
        env.edit_conf('receivers = [ "dept" ]', 'receivers = [ "dept", "flaky" ]')
        feed = env.path("feed.json")
        values = {}

        def write_feed():
            with open(feed + ".tmp", "w", encoding="utf-8") as f:
                json.dump(dict(values, as_of="2024-05-01"), f)
            os.replace(feed + ".tmp", feed)

        # The burst: every indicator lagging (shuffled), then the severe ones severe.
        steps = [(i, LAGGING) for i in rng.sample(ids, len(ids))]
        steps += [(i, SEVERE) for i in rng.sample(severe_ids, len(severe_ids))]
        expected = set()
        for i in ids:
            sev = "severe" if i in severe_ids else "lagging"
            for path in ["/ops"] + (["/dept", "/flaky"] if i in dept_ids else []) + \
                    (["/boss"] if i in severe_ids else []):
                expected.add((i, path, sev))

        def arrived():
            return {(a["indicator"], r["path"], a["severity"]) for r in env.sink.got(ok=True)
                    for a in alerts_of(r) if a["condition"] == "lag" and a["state"] == "firing"}

        # Each restart's clock carries on from where the killed daemon's was (a clock set back
        # would make samples fetched "later" invisible to the judgement for a while).
        t0 = time.time()

        def clock():
            t = ts("2024-05-02T09:00:00+08:00") + int(time.time() - t0) + 1
            return datetime.fromtimestamp(t).astimezone().isoformat()

        env.sink.behave("/flaky", fail=2)
        # Slow answers widen the moment when a kill finds a delivery done at the receiver
        # but not yet in the daemon's spool: the retry is a duplicate.
        env.sink.behave("/ops", delay=0.3)
        env.sink.behave("/dept", delay=0.3)
        write_feed()
        env.start(clock())
        kills = 0
        t_end = time.time() + 10
        next_kill = time.time() + rng.uniform(0.2, 1.5)
        next_feed = time.time() + 0.5
        while time.time() < t_end or steps:
            now = time.time()
            if steps and now >= next_feed:
                for _ in range(min(len(steps), rng.choice((1, 1, 2)))):
                    i, v = steps.pop(0)
                    values[i] = v
                write_feed()
                next_feed = now + rng.uniform(0.3, 1.0)
            if now >= next_kill:
                env.kill9()
                kills += 1
                env.start(clock())
                next_kill = time.time() + rng.uniform(0.2, 1.5)
            time.sleep(0.02)
        # Left running: everything spooled gets delivered (flaky's back-off is 10 s, 20 s).
        ok = wait_for(lambda: expected <= arrived() and not env.spool(), 75, 0.25)
        self.assertTrue(ok, f"seed {seed}: missing {sorted(expected - arrived())}, spool "
                        f"{list(env.spool())}\n{env.log_tail()}")
        self.assertIsNone(env.daemon.poll())
        self.assertFalse(env.dead(), f"seed {seed}")

        delivered = env.sink.got(ok=True)
        by_id = {}
        for r in delivered:
            by_id.setdefault(r["headers"]["x-pacewatch-delivery"], []).append(r)
        dups = sum(len(v) - 1 for v in by_id.values())
        # A duplicate is a retry of one spooled entry: same id, same receiver, same alerts.
        for d_id, rs in by_id.items():
            self.assertEqual(len({r["path"] for r in rs}), 1, d_id)
            self.assertEqual(len({json.dumps(alerts_of(r), sort_keys=True) for r in rs}), 1,
                             d_id)
        # No news was delivered under two ids (a second spool entry for the same news would
        # be a duplicate its receiver cannot recognise).
        seen = {}
        for r in delivered:
            for a in alerts_of(r):
                key = (r["path"], a["alert"], a["state"], a["severity"])
                seen.setdefault(key, set()).add(r["headers"]["x-pacewatch-delivery"])
        twice = {k: v for k, v in seen.items() if len(v) > 1}
        self.assertEqual(twice, {}, f"seed {seed}\n{env.log_tail()}")
        failed = len(env.sink.got("/flaky", ok=False))
        print(f"test_kill9_during_burst: seed {seed}: {kills} kills, {len(delivered)} "
              f"deliveries of {len(by_id)} notifications, {dups} duplicates "
              f"(same delivery id), {failed} failed attempts at flaky", file=sys.stderr)

    @unittest.skipUnless(shutil.which("strace"), "needs strace to kill at a chosen system call")
    def test_kill9_between_spool_and_states(self):
        """SIGKILL exactly after a batch is written to the spool and before alerts.json drops it
        from its pending part (strace injects the signal at the audit log's first opening,
        which comes between the two): the restart spools the batch again under the same
        delivery id, so the receiver gets one message, not two it cannot tell apart."""
        env = setup(self.new_env(),
                    ['{ id = "dept"; type = "log"; }',
                     '{ id = "ops"; type = "webhook"; url = "http://127.0.0.1:PORT/ops"; }'],
                    'receivers = [ "ops" ]; group_wait = "1s";', [indicator("a", False)])
        env.cli("record", "a", str(LAGGING), "--as-of", "2024-05-01")
        audit = os.path.join(env.state, "audit.log")
        open(audit, "w").close()  # strace -P follows an existing path
        p = subprocess.run(["strace", "-f", "-qq", "-o", os.devnull, "-P", audit,
                            "-e", "trace=openat", "-e", "inject=openat:signal=SIGKILL:when=1",
                            harness.PACEWATCHD, "-c", env.conf, "-f", "--now",
                            "2024-05-02T09:00:00+08:00"],
                           capture_output=True, text=True, timeout=120)
        self.assertIn(p.returncode, (-9, 137), p.stderr)
        spooled = env.spool()
        with open(os.path.join(env.state, "alerts.json"), encoding="utf-8") as f:
            pending = json.load(f)["pending"]
        # the window: in the spool, and still pending in the saved states
        self.assertEqual([e["receiver"] for e in spooled.values()], ["ops"], p.stderr)
        self.assertEqual([a["alert"] for a in pending["ops"]["alerts"]], ["a/lag"], pending)
        self.assertEqual(env.sink.got(), [])
        env.start("2024-05-02T09:00:30+08:00")
        env.wait(lambda: env.sink.got("/ops", ok=True) and not env.spool(), 30,
                 "the delivery to ops, and an empty spool")
        got = env.sink.got("/ops")
        self.assertEqual(len(got), 1, [r["headers"]["x-pacewatch-delivery"] for r in got])
        self.assertEqual([r["headers"]["x-pacewatch-delivery"] for r in got], list(spooled))
        self.assertEqual([a["alert"] for a in alerts_of(got[0])], ["a/lag"])

    def test_zz_rate_budget_digest(self):
        """(Started at module set-up.) More notifications than `hook`'s budget of 2 a minute:
        the excess becomes one digest; every indicator arrives exactly once; no 60 s of the
        daemon's clock (sent_at) holds more than 2 messages."""
        RATE.thread.join(120)
        env = RATE.env
        self.assertIsNone(RATE.error, env.log_tail())
        want = {f"r{i}/lag" for i in range(RateScenario.N)}

        def arrived():
            return [a["alert"] for r in env.sink.got("/hook", ok=True) for a in alerts_of(r)
                    if a["condition"] == "lag"]
        self.assertTrue(wait_for(lambda: want <= set(arrived()) and not env.spool(), 120, 0.25),
                        f"{arrived()}\n{env.log_tail()}")
        self.assertEqual(sorted(arrived()), sorted(want))  # nothing dropped, nothing twice
        msgs = env.sink.got("/hook", ok=True)
        sent = sorted(ts(json.loads(r["body"])["sent_at"]) for r in msgs)
        for k, s in enumerate(sent):
            self.assertLessEqual(len([x for x in sent[k:] if x < s + 60]), 2, sent)
        # the daemon decided more notifications than the budget, and merged the excess
        audit = env.audit()
        spooled = [e for e in audit if e["event"] == "spooled"]
        merged = [e for e in audit if e["event"] == "merged"]
        self.assertGreater(len(spooled) - len({e["error"] for e in merged}), 2, audit)
        self.assertTrue(merged, audit)
        digest = msgs[-1]
        self.assertGreaterEqual(len(alerts_of(digest)), 2)
        self.assertIn(digest["headers"]["x-pacewatch-delivery"],
                      {e["delivery"] for e in spooled})
        self.assertIsNone(env.daemon.poll())


if __name__ == "__main__":
    harness.main()
