#!/usr/bin/python3
"""Delivery across kill -9 while alerts change state, with real receivers on loopback
(tests/support/webhook_sink.py): indicators flip between lagging, severe and ok while the
daemon is down, the daemon starts, notifies and is killed at a random moment, eight times, then
runs until everything is delivered. Every receiver's last word on every indicator matches the
final judgement (firing with the right severity, or resolved to whoever was told), every
spooled notification arrived, and duplicates are counted and reported. (Quiet hours, rate
budgets, a hanging receiver, Feishu and kill -9 during a burst are in test_alerting_faults.py.)
"""

import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import harness  # noqa: E402
from harness import alerts_of  # noqa: E402

# As of 2024-05-01 against quarters 28500/95000/142500/190000: 37774 is lagging (7.04 pp behind
# the pace), 5000 severe (24.2 pp), 95000 ok.
LAGGING, SEVERE, OK = 37774, 5000, 95000


def indicator(ind_id, department=True):
    dep = 'department = "wj"; ' if department else ""
    return (f'{{ id = "{ind_id}"; name = "指标{ind_id}"; domain = "health"; {dep}unit = "人"; '
            'kind = "cumulative"; targets = ( { year = 2024; annual = 190000; '
            'quarters = [ 28500, 95000, 142500, 190000 ]; } ); }')


def setup(env, receivers, alerting, indicators, dept_receivers):
    """ENV with a webhook sink (env.sink; PORT in RECEIVERS is its port) and a configuration
    with the given receivers, alerting block, indicators and department receivers."""
    env.sink = env.webhook_sink()
    recv = ",\n".join(r.replace("PORT", str(env.sink.port)) for r in receivers)
    env.write_conf('daemon: { state_dir = "state"; http_listen = ""; };\n'
                   'domains = ( { id = "health"; name = "病有良医"; } );\n'
                   f'departments = ( {{ id = "wj"; name = "县卫健局"; receivers = {dept_receivers}; }} );\n'
                   f"receivers = (\n{recv}\n);\n"
                   f"alerting: {{ {alerting} }};\n"
                   "indicators = (\n" + ",\n".join(indicators) + "\n);\n")
    return env


class KillNine(harness.TestCase):
    def test_kill_during_bursts(self):
        seed = int(os.environ.get("PW_TEST_SEED", str(int(time.time()))))
        rng = random.Random(seed)
        print(f"\nkill -9 test: seed {seed} (PW_TEST_SEED={seed} repeats it)", file=sys.stderr)
        ids = [f"k{i:02d}" for i in range(12)]
        env = setup(self.new_env(), [
            '{ id = "dept"; type = "webhook"; url = "http://127.0.0.1:PORT/dept?fail=3"; }',
            '{ id = "ops"; type = "webhook"; url = "http://127.0.0.1:PORT/ops"; }',
            '{ id = "boss"; type = "webhook"; url = "http://127.0.0.1:PORT/boss"; }'],
            'receivers = [ "ops" ]; escalate = [ "boss" ]; group_wait = "0s";',
            [indicator(i) for i in ids], '[ "dept" ]')
        final = {}
        rounds = 8
        for r in range(rounds):
            # While the daemon is down the CLI journals new figures for some indicators...
            for i in rng.sample(ids, rng.randint(3, len(ids))):
                final[i] = rng.choice([LAGGING, SEVERE, OK])
                env.cli("record", i, str(final[i]), "--as-of", f"2024-05-{r + 1:02d}")
            # ...the daemon starts, judges, notifies, and is killed at a random moment.
            env.start(f"2024-05-10T09:{r:02d}:00+08:00", ready=None)
            time.sleep(rng.uniform(0.0, 2.5))
            env.kill9()
        # Restarted until everything is delivered (--once ignores back-off).
        for k in range(6):
            rc, log = env.once(f"2024-05-10T09:{rounds + k:02d}:00+08:00")
            if rc == 0:
                break
        self.assertEqual(rc, 0, log)
        self.assertEqual(env.spool_files(), [])

        msgs = [m for m in env.sink.messages() if m["ok"]]
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
        audit = env.audit()
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


if __name__ == "__main__":
    harness.main()
