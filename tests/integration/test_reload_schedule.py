#!/usr/bin/python3
"""Integration test of reloads against polling: a SIGHUP keeps every source's schedule. With
four sources polled every 20 s (first polls spread at 0, 5, 10 and 15 s) and a SIGHUP every 2 s,
each source is still polled when its turn comes, and only then; a reload that removes a source
stops it and one that adds a source polls the new one at once. (Before, every reload stopped and
restarted every source: the first was polled at every SIGHUP and the others never.) Also a storm
of 50 SIGHUPs in a second during polling."""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.request

BUILD = os.environ.get("PW_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
SOURCE = os.environ.get("PW_SOURCE", os.path.join(os.path.dirname(__file__), "..", ".."))
PACEWATCHD = os.path.join(BUILD, "bin", "pacewatchd")
SERVER = os.path.join(SOURCE, "tests", "support", "sources_server.py")
NOW = "2024-04-30T09:00:00+08:00"

HEAD = """
daemon: { state_dir = "state"; log_level = "debug"; http_listen = ""; };
domains = ( { id = "d"; name = "测试"; } );
"""


def conf_text(port, ids):
    sources = ",\n".join(
        f'  {{ id = "{i}"; url = "http://127.0.0.1:{port}/data/{i}.json"; format = "json"; '
        f'as_of = "$.as_of"; interval = "20s"; }}' for i in ids)
    inds = ",\n".join(
        f'  {{ id = "v_{i}"; name = "{i}"; domain = "d"; source = "{i}"; path = "$.v"; '
        f'kind = "level"; targets = ( {{ year = 2024; baseline = 0; annual = 10; }} ); }}'
        for i in ids)
    return HEAD + f"sources = (\n{sources}\n);\nindicators = (\n{inds}\n);\n"


class ReloadKeepsSchedule(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="pw-reload-")
        self.data = os.path.join(self.dir, "data")
        os.makedirs(self.data)
        for i in ("s0", "s1", "s2", "s3", "s4"):
            with open(os.path.join(self.data, i + ".json"), "w") as f:
                json.dump({"as_of": "2024-04-29", "v": 1}, f)
        self.server = subprocess.Popen(["/usr/bin/python3", SERVER, self.data],
                                       stdout=subprocess.PIPE, text=True)
        self.port = int(self.server.stdout.readline())
        self.conf = os.path.join(self.dir, "pw.conf")
        self.write_conf(["s0", "s1", "s2", "s3"])
        self.daemon = None

    def tearDown(self):
        if self.daemon is not None and self.daemon.poll() is None:
            self.daemon.kill()
            self.daemon.wait()
        self.server.kill()
        self.server.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def write_conf(self, ids):
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write(conf_text(self.port, ids))

    def log(self):
        with open(os.path.join(self.dir, "daemon.log"), encoding="utf-8") as f:
            return f.read()

    def counts(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/count", timeout=5) as r:
            c = json.loads(r.read())
        return [c.get(f"/data/s{i}.json", 0) for i in range(5)]

    def wait_for(self, pred, timeout=15):
        end = time.time() + timeout
        while time.time() < end:
            if pred():
                return True
            time.sleep(0.05)
        return False

    def test_sighup_storm_keeps_every_source_turn(self):
        log = open(os.path.join(self.dir, "daemon.log"), "w")
        self.daemon = subprocess.Popen([PACEWATCHD, "-c", self.conf, "-f", "--now", NOW],
                                       stdout=log, stderr=subprocess.STDOUT)
        self.assertTrue(self.wait_for(lambda: self.counts()[0] == 1), self.log())
        # A SIGHUP every 2 s for 12 s: s1 (due at 5 s) and s2 (at 10 s) get their turn, s0 is
        # not asked again before 20 s, s3 (at 15 s) not yet.
        for n in range(1, 7):
            time.sleep(2)
            self.daemon.send_signal(signal.SIGHUP)
            self.assertTrue(self.wait_for(lambda: self.log().count("reloaded") >= n), self.log())
        self.assertEqual(self.counts()[:4], [1, 1, 1, 0], self.log())
        self.assertIsNone(self.daemon.poll())
        # A reload that removes s3 and adds s4: s4 is asked at once, s3 never, s0 not again.
        self.write_conf(["s0", "s1", "s2", "s4"])
        self.daemon.send_signal(signal.SIGHUP)
        self.assertTrue(self.wait_for(lambda: self.counts()[4] == 1, timeout=5), self.log())
        time.sleep(3)
        self.assertEqual(self.counts(), [1, 1, 1, 0, 1], self.log())
        self.assertIn("source 's3' removed by the reload", self.log())
        self.daemon.send_signal(signal.SIGTERM)
        self.assertEqual(self.daemon.wait(timeout=10), 0, self.log())
        self.assertNotIn("handles still open", self.log())

    def test_fifty_sighups_in_a_second(self):
        # Sources every 2 s, one of them slow (in flight during the storm); 50 SIGHUPs in a second
        # alternate between two configurations, one without s3. Polling goes on at its pace.
        def storm_conf(ids):
            text = conf_text(self.port, ids).replace('interval = "20s"', 'interval = "2s"')
            with open(self.conf, "w", encoding="utf-8") as f:
                f.write(text)
        storm_conf(["s0", "s1", "s2", "s3"])
        log = open(os.path.join(self.dir, "daemon.log"), "w")
        self.daemon = subprocess.Popen([PACEWATCHD, "-c", self.conf, "-f", "--now", NOW],
                                       stdout=log, stderr=subprocess.STDOUT)
        self.assertTrue(self.wait_for(lambda: min(self.counts()[:4]) >= 1), self.log())
        for n in range(50):
            storm_conf(["s0", "s1", "s2"] if n % 2 == 0 else ["s0", "s1", "s2", "s3"])
            self.daemon.send_signal(signal.SIGHUP)
            time.sleep(0.02)
        storm_conf(["s0", "s1", "s2", "s3"])
        self.daemon.send_signal(signal.SIGHUP)
        before = self.counts()
        time.sleep(4.5)
        after = self.counts()
        self.assertIsNone(self.daemon.poll(), self.log())
        for i in range(4):
            # Every 2 s: two or three polls in 4.5 s, never one per reload.
            self.assertIn(after[i] - before[i], (1, 2, 3), (before, after, self.log()))
        self.daemon.send_signal(signal.SIGTERM)
        self.assertEqual(self.daemon.wait(timeout=10), 0, self.log())
        self.assertNotIn("handles still open", self.log())


if __name__ == "__main__":
    unittest.main()
