#!/usr/bin/python3
"""Crash safety (docs/storage.md, "What a crash can lose"): pacewatchd is killed with SIGKILL
PW_KILLS times (default 10) at random moments and restarted each time, while two file sources
polled every second change their values, the webhook receiver answers 500 some of the time and
`pacewatch record` / `pacewatch import` hand samples to the running daemon through the inbox.
The random seed is printed; PW_KILL_SEED repeats a run. At the end, with the daemon stopped
cleanly and one final `pacewatchd --once`:

- every sample acknowledged to a command (record/import exit 0) is in the journal exactly once;
  every poll sample the daemon logged at least 2 s before a kill (or in a run stopped cleanly) is
  in the journal, and no sample (as_of, indicator, value) is journaled twice;
- every RRD file equals the file `pacewatch rebuild` makes from the journal in a copy of the
  state directory (`rrdtool fetch` of both, compared as text);
- every alert firing in the final alerts.json was delivered as firing, and every alert ever
  delivered that no longer fires was last delivered as resolved, "last" in the order the
  notifications were made (audit.log's `spooled`): an entry in back-off may arrive after a newer
  one, and the alerts whose last arrival is not their final state are counted and printed;
  nothing is left in the spool;
- the number of duplicate deliveries (a delivery id received with 200 more than once) is printed.

Run the long version with `PW_KILLS=100 /usr/bin/python3 tests/crash/test_crash.py` (PW_BUILD,
PW_SOURCE as for the integration tests), or `ctest -L crash_long` in a build configured with
-DPW_CRASH_LONG=ON."""

import datetime
import json
import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import harness  # noqa: E402

KILLS = int(os.environ.get("PW_KILLS", "10"))
SEED = int(os.environ.get("PW_KILL_SEED") or random.SystemRandom().randrange(1 << 31))
TZ = datetime.timezone(datetime.timedelta(hours=8))
BASE = datetime.datetime(2024, 5, 2, 9, 0, 0, tzinfo=TZ)
SOURCES = ("a", "b")
# A value far behind the pace of its target (lagging) or ahead of it; the lag alerts flap.
VALUES = (20000, 30000, 60000, 90000, 120000)

CONF = """
daemon: { state_dir = "{state}"; log_level = "debug"; http_listen = ""; };
domains = ( { id = "d"; name = "测试"; } );
receivers = ( { id = "ops"; type = "webhook"; url = "http://127.0.0.1:{port}/ops"; } );
alerting: { receivers = [ "ops" ]; group_wait = "0s"; };
sources = (
  { id = "a"; url = "data/a.json"; format = "json"; interval = "1s"; },
  { id = "b"; url = "data/b.json"; format = "json"; interval = "1s"; }
);
indicators = (
  { id = "ia"; name = "甲"; domain = "d"; source = "a"; path = "$.v"; kind = "cumulative";
    targets = ( { year = 2024; annual = 190000; } ); },
  { id = "ib"; name = "乙"; domain = "d"; source = "b"; path = "$.v"; kind = "cumulative";
    targets = ( { year = 2024; annual = 190000; } ); },
  { id = "imp"; name = "导入"; domain = "d"; kind = "cumulative";
    targets = ( { year = 2024; annual = 190000; } ); }
);
"""

NEW_SAMPLE = re.compile(r"indicator '(\w+)': (?:new sample|revision) from (\w+): (\S+) as of (\S+)")


def now_arg(t0):
    """The daemon clock: BASE plus the real time elapsed since T0, so that it never goes back
    across restarts."""
    return (BASE + datetime.timedelta(seconds=time.time() - t0)).isoformat()


def epoch(text):
    return int(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def polled(log):
    """The (indicator, as_of epoch, value) of every poll sample a log says was accepted."""
    return [(m[1], epoch(m[4]), float(m[3])) for m in NEW_SAMPLE.finditer(log)
            if m[2] in SOURCES]


class Crash(harness.TestCase):
    def test_kills(self):
        rnd = random.Random(SEED)
        print(f"crash: seed {SEED} (PW_KILL_SEED={SEED} repeats it), {KILLS} kills",
              file=sys.stderr, flush=True)
        env = self.new_env(cli_timeout=90)
        hook = env.receiver()
        env.write_conf(CONF, port=hook.port, state=env.state)
        for s in SOURCES:
            env.write(f"data/{s}.json", '{"v": 10000}')
        t0 = time.time()
        stop = threading.Event()
        acked = []  # (indicator, as_of epoch, value) acknowledged by a command
        errors = []

        def sources():
            r = random.Random(SEED + 1)
            while not stop.wait(0.5):
                s = r.choice(SOURCES)
                env.write(f"data/{s}.json.tmp", '{"v": %d}' % r.choice(VALUES))
                os.rename(env.path(f"data/{s}.json.tmp"), env.path(f"data/{s}.json"))

        def receiver():
            r = random.Random(SEED + 2)
            while not stop.wait(1.0):
                hook.behave("/ops", fail=r.choice((0, 0, 1, 2, 3)))

        def imports():
            r = random.Random(SEED + 3)
            k = 0
            while not stop.is_set():
                k += 1
                # Increasing as_ofs, one hour apart, within 2024-01..04: each row new.
                rows = [(datetime.datetime(2024, 1, 1, tzinfo=TZ)
                         + datetime.timedelta(hours=3 * k + i), 1000 * k + i)
                        for i in range(r.choice((1, 3)))]
                k += 1
                if len(rows) == 1:
                    res = env.cli_run("record", "imp", str(rows[0][1]), "--as-of",
                                      rows[0][0].isoformat())
                else:
                    csv = env.write(f"imp-{k}.csv", "indicator,as_of,value\n" + "".join(
                        f"imp,{t.isoformat()},{v}\n" for t, v in rows))
                    res = env.cli_run("import", csv)
                if res.rc == 0:
                    acked.extend(("imp", int(t.timestamp()), float(v)) for t, v in rows)
                elif "timed out" not in res.err and "超时" not in res.err:
                    errors.append((rows, res))
                stop.wait(r.uniform(0.1, 0.6))

        threads = [threading.Thread(target=f) for f in (sources, receiver, imports)]
        for t in threads:
            t.start()
        must = []  # poll samples logged at least 2 s before the kill of their run
        try:
            kills = busy = 0
            while kills < KILLS:
                d = env.start(now_arg(t0), ready=None)
                delay = rnd.uniform(0.05, 4.0)
                if delay > 2.0:
                    time.sleep(delay - 2.0)
                    must.extend(polled(d.log()))
                    time.sleep(2.0)
                else:
                    time.sleep(delay)
                rc = env.kill9()
                if rc == 1 and "holds this state directory" in d.log():
                    busy += 1  # a command without the daemon had the state lock: again
                    self.assertLess(busy, 10 * KILLS, env.log_tail())
                    continue
                self.assertEqual(rc, -9, f"run {kills} ended by itself\n{env.log_tail()}")
                kills += 1
            while True:
                d = env.start(now_arg(t0), ready=None)
                harness.wait_for(lambda: harness.STARTED in d.log() or not d.alive(), 60)
                if d.alive() and harness.STARTED in d.log():
                    break
                self.assertIn("holds this state directory", d.log(), env.log_tail())
                env.kill9()
            time.sleep(3)
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertEqual(errors, [])
        hook.behave("/ops", fail=0)
        last = env.daemon
        self.assertEqual(env.stop(), 0, env.log_tail())
        must.extend(polled(last.log()))
        rc, log = env.once(now_arg(t0))
        self.assertEqual(rc, 0, env.log_tail())
        must.extend(polled(log))

        # The journal: every acknowledged sample once, nothing journaled twice.
        journal = [(f[1], epoch(f[0]), float(f[2]))
                   for f in (line.rstrip("\n").split("\t") for line in env.journal_lines())]
        counts = {}
        for j in journal:
            counts[j] = counts.get(j, 0) + 1
        twice = sorted(j for j, n in counts.items() if n > 1)
        self.assertEqual(twice, [], "samples journaled more than once")
        missing = sorted(a for a in acked if counts.get(a, 0) != 1)
        self.assertEqual(missing, [], "acknowledged samples not in the journal once")
        lost = sorted(set(m for m in must if m not in counts))
        self.assertEqual(lost, [], "logged poll samples missing from the journal")

        # Every RRD file equals a rebuild from the journal.
        copy = env.path("copy")
        shutil.copytree(env.state, os.path.join(copy, "state"))
        conf = os.path.join(copy, "pw.conf")
        with open(conf, "w", encoding="utf-8") as f:
            f.write(env.conf_text().replace(env.state, os.path.join(copy, "state")))
        os.symlink(env.path("data"), os.path.join(copy, "data"))
        for ind in ("ia", "ib", "imp"):
            os.unlink(os.path.join(copy, "state", "rrd", ind + ".rrd"))
        r = harness.pacewatch("rebuild", "-c", conf)
        self.assertEqual(r.rc, 0, r.err)
        start, end = int(BASE.timestamp()) - 200 * 86400, int(time.time()) + 86400
        for ind in ("ia", "ib", "imp"):
            for cf in ("AVERAGE", "MAX"):
                live, rebuilt = (subprocess.run(
                    ["rrdtool", "fetch", p, cf, "-s", str(start), "-e", str(end)],
                    capture_output=True, text=True, check=True).stdout
                    for p in (env.rrd(ind), os.path.join(copy, "state", "rrd", ind + ".rrd")))
                self.assertEqual(live, rebuilt, f"{ind}.rrd differs from its rebuild")

        # Notifications: the final states were delivered; nothing left behind.
        with open(os.path.join(env.state, "alerts.json"), encoding="utf-8") as f:
            states = json.load(f)
        pending = states.pop("pending", {})
        self.assertEqual(pending, {}, "batches left pending")
        self.assertEqual(env.spool_files(), [])
        self.assertEqual(env.dead(), [])
        delivered = hook.got("/ops", ok=True)
        # A notification in back-off may arrive after a newer one: judge each alert by the
        # last notification made (the order the audit log spooled them in; a step the crash
        # cut off from the audit log by the id's batch start), count those that arrived late.
        spooled = {}
        for ev in env.audit():
            if ev["event"] == "spooled":
                spooled.setdefault(ev["delivery"], len(spooled))

        def made(dl):
            return (int(dl.split("-")[0]), spooled.get(dl, 1 << 30))
        last_state, arrived, seen, dups = {}, {}, set(), 0
        for rec in delivered:
            dl = rec["headers"].get("x-pacewatch-delivery")
            if dl in seen:
                dups += 1
            seen.add(dl)
            for a in harness.alerts_of(rec):
                arrived[a["alert"]] = a["state"]
        for rec in sorted(delivered, key=lambda r: made(r["headers"]["x-pacewatch-delivery"])):
            for a in harness.alerts_of(rec):
                last_state[a["alert"]] = a["state"]
        firing = sorted(k for k, v in states.items() if v.get("firing"))
        for a in firing:
            self.assertEqual(last_state.get(a), "firing", f"{a} fires but was not delivered so")
        for a, st in last_state.items():
            if a not in firing:
                self.assertEqual(st, "resolved", f"{a} no longer fires but was last sent {st}")
        late = sorted(a for a in last_state if arrived[a] != last_state[a])
        print(f"crash: seed {SEED}: {KILLS} kills survived; {len(journal)} journal lines, "
              f"{len(acked)} samples acknowledged to commands, {len(set(must))} logged poll "
              f"samples checked; {len(seen)} notifications delivered "
              f"({len(delivered)} deliveries, {dups} duplicates, "
              f"{len(hook.got('/ops', ok=False))} failed attempts); "
              f"{len(firing)} alerts firing at the end; {len(late)} alerts whose last arrival is "
              f"not their last state {late}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    harness.main()
