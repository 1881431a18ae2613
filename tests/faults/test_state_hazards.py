#!/usr/bin/python3
"""Fault cases: the state directory, continued (test_state.py has the plants the daemon
survives and the damaged files). FIFOs planted where the daemon reads a file, each in a daemon
of its own, all started at once (class Hanging); what the daemon must refuse to start on
(class RefusedAtStart); the state directory made read-only while the daemon runs
(class ReadOnlyWhileRunning); the state directory's disk full while it runs (class FullWhileRunning)."""

import os
import subprocess
import sys
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faults  # noqa: E402
import harness  # noqa: E402
import test_state as ts  # noqa: E402

NOW = ts.NOW


# ---- plants that hang the daemon: one daemon each, all at once ----

HANG_PLANTS = {
    # name: (where, before the start?)
    "inbox": ("inbox/x.req", False),
    "rrd": ("rrd/manual.rrd", True),
    "graphs": ("graphs/.empty-2024.rrd", True),
    "alerts": ("alerts.json", True),
    "silences": ("silences.json", True),
}


class Hanging(ts.StateCase):
    """A FIFO planted where the daemon reads a file: each in a daemon of its own, started
    together. Each case: within 10 s /healthz answers, then a hand-off is acknowledged, then a
    graph is drawn, then SIGTERM ends the daemon (results shows how far it got)."""

    @classmethod
    def setUpClass(cls):
        cls.h = faults.Hostile()
        cls.addClassCleanup(cls.h.close)
        cls.h.good("/good.json")
        cls.envs, cls.https = {}, {}
        for name, (where, before) in HANG_PLANTS.items():
            env = cls.new_class_env(name)
            http = harness.free_port()
            ts.prepare(env, cls.h, http)
            path = ts.S(env, where)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if before:
                if os.path.exists(path):
                    os.unlink(path)
                os.mkfifo(path)
            env.start(NOW, ready=None)
            cls.envs[name], cls.https[name] = env, http
        time.sleep(1)
        for name, (where, before) in HANG_PLANTS.items():
            if not before:
                os.mkfifo(ts.S(cls.envs[name], where))

        cls.results = {}
        threads = [threading.Thread(target=cls.try_daemon, args=(name,), daemon=True)
                   for name in HANG_PLANTS]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)

    @classmethod
    def try_daemon(cls, name):
        """What works of the daemon of NAME, in cls.results[NAME]: /healthz, a hand-off, a
        graph, a clean stop (each tried within 15 s, in that order, until one fails)."""
        env, http = cls.envs[name], cls.https[name]
        got = cls.results[name] = {}
        got["/healthz"] = bool(harness.wait_for(lambda: faults.healthz(http, 1), 10))
        if got["/healthz"]:
            faults.put_request(env, "200-1", [("handed", "2024-04-26T00:00:00+08:00", 51)])
            got["hand-off"] = bool(harness.wait_for(lambda: faults.reply_of(env, "200-1"), 10))
        if got.get("hand-off"):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http}/graphs/nodata.png",
                                            timeout=10) as r:
                    got["graph"] = r.status == 200
            except OSError:
                got["graph"] = False
        if got.get("graph"):
            try:
                got["stop"] = env.stop(10) == 0
            except AssertionError:
                got["stop"] = False

    def check(self, name):
        self.assertEqual(self.results.get(name), {"/healthz": True, "hand-off": True,
                                                  "graph": True, "stop": True},
                         self.envs[name].log_tail(2000))

    def test_fifo_in_inbox(self):
        # Issue 12 item 4 ("a FIFO in inbox/ ... hangs the daemon"): inbox requests are opened
        # without blocking and must be regular files (daemon/ingest/inbox.c).
        self.check("inbox")

    def test_fifo_at_an_rrd_file(self):
        # The start-up check of the RRD files opened rrd/manual.rrd and blocked with the store
        # lock held. Files are looked at with lstat first (daemon/data/store.c): a FIFO is not
        # an RRD file, and the rebuild renames a new file over it.
        self.check("rrd")
        self.assertEqual(ts.kind_of(self.envs["rrd"].rrd("manual")), "file")

    def test_fifo_at_the_graph_placeholder(self):
        # rrd_graph opened graphs/.empty-2024.rrd and blocked the render thread for ever
        # (graphs/graph.c): now a new placeholder replaces it, with one line naming it.
        self.check("graphs")
        self.one_line(self.envs["graphs"], r"graphs/\.empty-2024\.rrd is a FIFO", at_most=1,
                      log=lambda: self.envs["graphs"].logs())

    def test_fifo_at_alerts_json(self):
        # Loading alerts.json at start opened the FIFO and blocked before anything answered
        # (daemon/alert/engine.c): now it is kept aside like a damaged file, with one line.
        self.check("alerts")
        line = self.one_line(self.envs["alerts"], r"alerts\.json", at_most=1,
                             log=lambda: self.envs["alerts"].logs())
        self.assertRegex(line, r"^error: .*alerts\.json is damaged \(a FIFO, not a regular "
                         r"file\): kept aside as .*alerts\.json\.corrupt-\d+")

    def test_fifo_at_silences_json(self):
        # Reading silences.json at start opened the FIFO and blocked (daemon/alert/silence.c).
        self.check("silences")
        line = self.one_line(self.envs["silences"], r"silences\.json", at_most=1,
                             log=lambda: self.envs["silences"].logs())
        self.assertRegex(line, r"^error: .*silences\.json is damaged \(a FIFO, not a regular "
                         r"file\): kept aside as .*silences\.json\.corrupt-\d+")


# ---- what the daemon must refuse to start on ----

class RefusedAtStart(ts.StateCase):
    """Each: pacewatchd exits non-zero within 15 s with one line naming the file."""

    def refused(self, env, pattern=None, wrap=()):
        """Starts the daemon, which must exit non-zero within 15 s with one error line
        (matching PATTERN, when given); returns that line."""
        r = harness.spawn([*wrap, harness.PACEWATCHD, "-c", env.conf, "-f", "--now", NOW],
                          stdout=harness.subprocess.PIPE, stderr=harness.subprocess.STDOUT,
                          text=True)
        try:
            out, _ = r.communicate(timeout=15)
        finally:
            harness.reap(r)
        self.assertNotEqual(r.returncode, 0, out)
        errors = [line for line in out.splitlines() if line.startswith("error: ")]
        self.assertEqual(len(errors), 1, out)
        if pattern is not None:
            self.assertRegex(errors[0], pattern)
        return errors[0]

    def setUp(self):
        super().setUp()
        self.env = self.new_env()
        self.h = faults.Hostile()
        self.addCleanup(self.h.close)
        self.h.good("/good.json")
        ts.prepare(self.env, self.h, harness.free_port())

    def read_only(self, pattern=None):
        wrap = faults.root_without_dac()
        os.chmod(self.env.state, 0o555)
        try:
            return self.refused(self.env, pattern, wrap)
        finally:
            os.chmod(self.env.state, 0o755)

    def test_read_only_state_directory(self):
        self.read_only()

    def test_read_only_state_directory_named(self):
        # A state directory without spool/ yet, made read-only: the start is refused with the
        # spool's own message (pw_alerting_init keeps it), not "out of memory".
        self.read_only(rf"{self.env.state}/spool.*Permission denied")

    def test_directory_at_the_journal(self):
        p = ts.S(self.env, "journal", "journal.tsv")
        os.unlink(p)
        os.mkdir(p)
        self.refused(self.env, r"journal/journal\.tsv: cannot read the journal: Is a directory")

    def test_fifo_at_the_journal(self):
        # Loading the journal opened journal/journal.tsv without O_NONBLOCK and blocked at
        # start, before anything answered (daemon/data/journal.c). The journal is the record of
        # truth: the daemon refuses to start, as for a directory there.
        p = ts.S(self.env, "journal", "journal.tsv")
        os.unlink(p)
        os.mkfifo(p)
        self.refused(self.env, r"journal/journal\.tsv: cannot read the journal: a FIFO, not a "
                     r"regular file$")

    def test_symlink_at_the_journal(self):
        # Not followed: the daemon would read and append to whatever it points to.
        p = ts.S(self.env, "journal", "journal.tsv")
        os.rename(p, p + ".real")
        os.symlink(p + ".real", p)
        self.refused(self.env, r"journal/journal\.tsv: cannot read the journal: a symbolic link "
                     r"\(not followed\), not a regular file$")

    def test_directory_at_the_lock(self):
        os.unlink(ts.S(self.env, "lock"))
        os.mkdir(ts.S(self.env, "lock"))
        self.refused(self.env, rf"{self.env.state}.*Is a directory")


# ---- read-only while running ----

class ReadOnlyWhileRunning(ts.StateCase):
    """The state directory made read-only (every file and directory, chmod a-w; root without
    CAP_DAC_OVERRIDE) for 11 s (an RRD file is written at most every 10 s) while the daemon polls every second, then writable again."""

    @classmethod
    def setUpClass(cls):
        cls.env = env = cls.new_class_env()
        cls.h = faults.Hostile()
        cls.addClassCleanup(cls.h.close)
        cls.h.good("/good.json")
        cls.http = harness.free_port()
        ts.prepare(env, cls.h, cls.http)
        env.start("2024-05-02T09:00:00+08:00", wrap=faults.root_without_dac())
        env.cli("record", "handed", "21", "--as-of", "2024-04-29", timeout=20)
        env.wait(lambda: len(env.export("good_v")) >= 2, 15, "two good figures")
        cls.addClassCleanup(harness.subprocess.run, ["chmod", "-R", "u+w", env.state])
        harness.subprocess.run(["chmod", "-R", "a-w", env.state], check=True)
        cls.mark = len(env.daemon.log())
        time.sleep(11)
        cls.during = env.daemon.log()[cls.mark:]
        cls.healthz_during = faults.healthz(cls.http)
        harness.subprocess.run(["chmod", "-R", "u+w", env.state], check=True)

    def test_logged_and_running(self):
        self.assertEqual(self.healthz_during, (200, "ok\n"))
        errors = [line for line in self.during.splitlines() if line.startswith("error: ")]
        self.assertTrue(errors, self.during)
        self.assertTrue(all(f"{self.env.state}/" in line for line in errors), errors)
        self.assertTrue([line for line in errors if "Permission denied" in line], errors)
        self.assert_alive(self.env, self.http, polled=[(self.h, "/good.json")])

    def test_nothing_acknowledged_lost_and_recovers(self):
        self.nothing_lost(self.env, "good_v", lambda: self.h.served("/good.json"))
        self.hand_off(self.env, 22, "2024-04-30")
        self.assertIn(21.0, [float(r["value"]) for r in self.env.export("handed")])
        # The RRD files catch up with the journal once they can be written.
        last = float(self.env.export("good_v")[-1]["value"])
        self.env.wait(lambda: self.env.rrd_lastupdate("good_v")[1][0] >= last, 20,
                      "good_v.rrd catching up")
        self.assertEqual(self.env.stop(), 0)

    def test_logged_once(self):
        # daemon/data/persist.c: while rrd/ could not be written, every batch (every second
        # here) logged its failure again, with a rebuild attempt each time. Now one line naming
        # the file, tries after 10 s, 20 s, ... and one line when it is written again.
        errors = [line for line in self.during.splitlines() if line.startswith("error: ")]
        self.assertLessEqual(len(errors), 2, "\n".join(errors))
        rrd = [line for line in errors if "rrd/good_v.rrd" in line]
        self.assertEqual(len(rrd), 1, "\n".join(errors))
        self.env.daemon.wait_log("indicator 'good_v': its RRD file is writable again", 30)

    def test_alerts_json_save_error_once(self):
        # daemon/alert/engine.c: a failing save of alerts.json was logged at every save (every
        # second) and without its reason. Now once with strerror, and once when it is saved
        # again.
        saves = [line for line in self.during.splitlines() if "alerts.json" in line]
        self.assertEqual(len(saves), 1, self.during)
        self.assertRegex(saves[0], r"^error: alert: cannot save alert states to .*/alerts\.json: "
                         r"Permission denied; ")
        self.env.daemon.wait_log("alert states are saved to", 20)


# ---- a full disk while running ----

class FullWhileRunning(ts.StateCase):
    """The state directory on a 2 MB tmpfs (root only), filled while the daemon runs but for
    64 KB: room for journal lines, not for a new RRD file (188 KB). A figure handed over for an
    indicator without an RRD file yet ('handed') is journaled and acknowledged, its file cannot
    be created; 12 s later the space is freed."""

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("mounting a tmpfs needs root")
        cls.env = env = cls.new_class_env()
        os.makedirs(env.state, exist_ok=True)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", env.state],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise unittest.SkipTest(f"cannot mount a tmpfs: {r.stderr.strip()}")
        cls.addClassCleanup(subprocess.run, ["umount", "-l", env.state], capture_output=True)
        cls.addClassCleanup(env.kill9)
        cls.h = faults.Hostile()
        cls.addClassCleanup(cls.h.close)
        cls.h.good("/good.json")
        cls.http = harness.free_port()
        ts.prepare(env, cls.h, cls.http)
        env.start("2024-05-02T09:00:00+08:00")
        env.wait(lambda: len(env.export("good_v")) >= 2, 15, "two good figures")
        fill = ts.S(env, "fill")
        subprocess.run(["dd", "if=/dev/zero", f"of={fill}", "bs=4k"], capture_output=True)
        os.truncate(fill, max(0, os.path.getsize(fill) - 64 * 1024))
        cls.mark = len(env.daemon.log())
        cls.handed = env.cli_run("record", "handed", "23", "--as-of", "2024-04-29", timeout=20)
        time.sleep(12)
        cls.during = env.daemon.log()[cls.mark:]
        os.unlink(fill)

    def test_rrd_create_says_why_once(self):
        # daemon/data/store.c: librrd's rrd_create gave no message at all on a full disk (the
        # log said "failed without a message"); the reason is now named, once.
        self.assertEqual(self.handed.rc, 0, self.handed.err)
        lines = [line for line in self.during.splitlines() if "rrd/handed.rrd" in line]
        self.assertEqual(len(lines), 1, self.during)
        self.assertRegex(lines[0], r"^error: persist: indicator 'handed': handed: rrd_create: "
                         r"No space left on device \(.*rrd/handed\.rrd")
        self.assertIn(23.0, [float(r["value"]) for r in self.env.export("handed")])

    def test_z_recovers(self):
        self.env.daemon.wait_log("indicator 'handed': its RRD file is writable again", 30)
        self.assertEqual(self.env.rrd_lastupdate("handed")[1][0], 23.0)
        self.assert_alive(self.env, self.http, polled=[(self.h, "/good.json")])
        self.assertEqual(self.env.stop(), 0)


if __name__ == "__main__":
    faults.main()
