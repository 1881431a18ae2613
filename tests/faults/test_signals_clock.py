#!/usr/bin/python3
"""Fault cases: signals and the clock.

- 50 SIGHUPs in a second while sources are polled and a hand-off waits, the configuration file
  alternating between a good one and a broken one (test_reload_schedule.py already checks that a
  storm of good reloads keeps every source's pace; this one checks what the storm must not
  break: /healthz all along, the hand-off, every figure, one line per broken file, a clean stop).
- The clock jumping a quarter forward (a restart with --now three months later) and a year back
  (a restart with --now a year earlier than the journal's latest figures).
"""

import json
import os
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faults  # noqa: E402
import harness  # noqa: E402

CONF = """
daemon: { state_dir = "state"; log_level = "info"; http_listen = "127.0.0.1:{http}"; };
domains = ( { id = "d"; name = "测试"; } );
sources = (
  { id = "good"; url = "{good}"; format = "json"; interval = "1s"; },
  { id = "seq"; url = "{seq}"; format = "json"; interval = "1s"; },
  { id = "dated"; url = "{dated}"; format = "json"; as_of = "$.as_of"; interval = "1s"; }
);
indicators = (
  { id = "good_v"; name = "好"; domain = "d"; source = "good"; path = "$.v"; kind = "standard";
    targets = ( { year = 2024; standard = 0.0; }, { year = 2025; standard = 0.0; } ); },
  { id = "seq_v"; name = "序"; domain = "d"; source = "seq"; path = "$.v"; kind = "standard";
    targets = ( { year = 2024; standard = 0.0; }, { year = 2025; standard = 0.0; } ); },
  { id = "dated_v"; name = "日"; domain = "d"; source = "dated"; path = "$.v";
    kind = "standard"; targets = ( { year = 2024; standard = 0.0; }, { year = 2025; standard = 0.0; } ); },
  { id = "handed"; name = "手工"; domain = "d"; kind = "standard";
    targets = ( { year = 2024; standard = 0.0; }, { year = 2025; standard = 0.0; } ); }
);
"""
# The same file with a syntax error, on line BROKEN_LINE.
BROKEN = CONF.replace('sources = (\n', 'sources = (\n  { id = "good" url = ; },\n', 1)
BROKEN_LINE = BROKEN.split("\n").index('  { id = "good" url = ; },') + 1


class Sources:
    """The good source (a new figure at every request), a source whose figure the test sets
    (seq) and a source dating its own figure (dated), on one Hostile server."""

    def __init__(self, case, dated_as_of):
        self.h = faults.Hostile()
        (case.addClassCleanup if isinstance(case, type) else case.addCleanup)(self.h.close)
        self.h.good("/good.json")
        self.seq = 5
        self.h.route("/seq.json", lambda r: faults.send(r, 200, json.dumps(
            {"v": self.seq}).encode()))
        self.h.static("/dated.json", json.dumps({"as_of": dated_as_of, "v": 77}).encode())

    def conf(self, env, http, text=CONF):
        env.write_conf(text, http=http, good=self.h.url("/good.json"),
                       seq=self.h.url("/seq.json"), dated=self.h.url("/dated.json"))


class SighupStorm(faults.FaultCase):
    @faults.RELOAD_UAF
    def test_fifty_sighups_in_a_second_good_and_broken(self):
        env = self.new_env()
        src = Sources(self, "2024-04-29")
        http = harness.free_port()
        src.conf(env, http)
        d = env.start("2024-04-30T09:00:00+08:00")
        env.wait(lambda: len(env.export("good_v")) >= 2, 15, "two good figures")
        d.hup()  # once it is caught: the storm below sends at once
        d.wait_log("reloaded", 15)
        healthz, stop = [], threading.Event()

        def watch():
            while not stop.is_set():
                healthz.append(faults.healthz(http, 2))
                time.sleep(0.05)
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        faults.put_request(env, "300-1", [("handed", "2024-04-29T00:00:00+08:00", 71)])
        mark = len(d.log())
        for n in range(50):
            src.conf(env, http, BROKEN if n % 2 == 0 else CONF)
            d.proc.send_signal(signal.SIGHUP)
            time.sleep(0.02)
        src.conf(env, http)
        d.proc.send_signal(signal.SIGHUP)
        src.seq = 6
        time.sleep(3)
        stop.set()
        watcher.join(5)
        storm = d.log()[mark:]
        # /healthz answered all along; the hand-off was acknowledged and kept.
        self.assertTrue(healthz)
        self.assertEqual([h for h in healthz if h != (200, "ok\n")], [])
        reply = env.wait(lambda: faults.reply_of(env, "300-1"), 15, "the hand-off's reply")
        self.assertTrue(reply["ok"], reply)
        self.assertEqual([r["value"] for r in env.export("handed")], ["71"])
        # Every broken file read is named by file and line; the last reload took the good one.
        errors = [line for line in storm.splitlines() if line.startswith("error: ")]
        self.assertTrue(errors, storm)
        for line in errors:
            self.assertRegex(line, rf"^error: .*reload failed, keeping the running "
                             rf"configuration: {env.conf}:{BROKEN_LINE}: syntax error$")
        self.assertGreater(storm.rfind("reloaded"), storm.rfind("\nerror: "), storm)
        # Polling goes on, nothing is lost, and the daemon stops cleanly.
        env.wait(lambda: "6" in [r["value"] for r in env.export("seq_v")], 15, "seq's 6")
        self.assert_alive(env, http, polled=[(src.h, "/good.json"), (src.h, "/seq.json")])
        self.nothing_lost(env, "good_v", lambda: src.h.served("/good.json"))
        self.assertEqual(env.stop(), 0)
        self.assertNotIn("handles still open", env.logs())


def run_then_jump(case, env, first, second, dated_as_of):
    """A daemon of ENV at FIRST until seq's 5 and 6 are stored, stopped; restarted at SECOND,
    seq serving 7, then 5, then 6 again, for 2.5 s each and 3 s more. Returns (sources, http
    port, log of the second run); CASE owns the sources."""
    src = Sources(case, dated_as_of)
    http = harness.free_port()
    src.conf(env, http)
    env.start(first)
    env.wait(lambda: env.export("seq_v"), 15, "seq's first figure")
    src.seq = 6
    env.wait(lambda: "6" in [r["value"] for r in env.export("seq_v")], 15, "seq's 6")
    assert env.stop() == 0, env.log_tail()
    src.seq = 7
    d = env.start(second)
    for v in (5, 6):
        env.wait(lambda: src.h.counts("/seq.json") >= 1, 15, "a poll of seq")
        time.sleep(2.5)
        src.seq = v
    time.sleep(3)
    return src, http, d.log()


class QuarterForward(faults.FaultCase):
    def test_a_quarter_forward(self):
        env = self.new_env()
        src, http, log = run_then_jump(self, env, "2024-04-30T09:00:00+08:00",
                                       "2024-07-31T09:00:00+08:00", "2024-04-29")
        self.assert_alive(env, http, polled=[(src.h, "/good.json")])
        self.nothing_lost(env, "good_v", lambda: src.h.served("/good.json"))
        # The figure dated in April is three months old: its indicator is stale, said once.
        self.one_line(env, r"alert dated_v/stale: firing", at_most=1)
        self.assertNotIn("dated_v/stale: resolved", log)
        # Each figure of the second run is stored at the new time, once.
        rows = [r for r in env.export("seq_v") if r["as_of"].startswith("2024-07-31")]
        self.assertEqual([r["value"] for r in rows], ["7", "5", "6"])
        self.assertNotRegex(log, r"revision from|[1-9]\d* revisions")
        # The RRD files follow the clock.
        last = harness.wait_for(lambda: env.rrd_lastupdate("good_v")[0] >=
                                faults.epoch("2024-07-31T09:00:00+08:00"), 15)
        self.assertTrue(last, env.rrd_lastupdate("good_v"))
        self.assertEqual(env.stop(), 0)


class YearBack(faults.FaultCase):
    """A run at 2025-04-30, then one at 2024-04-30."""

    @classmethod
    def setUpClass(cls):
        cls.env = cls.new_class_env()
        cls.src, cls.http, cls.log = run_then_jump(cls, cls.env, "2025-04-30T09:00:00+08:00",
                                                   "2024-04-30T09:00:00+08:00", "2025-04-29")

    def test_a_year_back_keeps_running(self):
        self.assert_alive(self.env, self.http, polled=[(self.src.h, "/good.json")])
        self.nothing_lost(self.env, "good_v", lambda: self.src.h.served("/good.json"))

    def test_a_year_back_refuses_what_is_ahead(self):
        # The dated source's figure of 2025-04-29 is more than a day ahead of a clock at
        # 2024-04-30: a bad sample, named with its date, and not stored again.
        self.assertRegex(self.log, r"source 'dated', indicator 'dated_v': bad sample: as_of "
                         r"2025-04-30T00:00:00\+08:00 is more than a day ahead")
        self.assertEqual(len(self.env.export("dated_v")), 1)

    def test_a_year_back_stores_the_figures_of_now(self):
        # Issue 12 item 3: after a run a year ahead, a source without its own dates logs a
        # revision at every poll (with an RRD rebuild each time), and a figure going back to
        # the one the future run stored last (6) is never stored: classification compares with
        # the latest sample by as_of, the future one.
        rows = [r for r in self.env.export("seq_v") if r["as_of"].startswith("2024-")]
        self.assertEqual([r["value"] for r in rows][-1:], ["6"], rows)
        self.assertLessEqual(self.log.count("indicator 'seq_v': revision"), 1, self.log)

    def test_z_stops_cleanly(self):
        self.assertEqual(self.env.stop(), 0)


if __name__ == "__main__":
    faults.main()
