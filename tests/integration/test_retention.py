#!/usr/bin/python3
"""Integration tests of retention (docs/storage.md "Retention"): a running daemon removes the
spool/dead/ and briefings/ files pacewatch names that are older than daemon.retention, at start
and then every day of its clock (--clock-rate), leaving newer files, files of other names, a
symbolic link planted in dead/ and the file it points to; and audit.log rotated at a small
daemon.audit_max_bytes (audit.log.1 .. .3, the oldest dropped, no line split or lost)."""

import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import harness  # noqa: E402

CONF = """
daemon: { state_dir = "state"; http_listen = ""; retention = "30d"; audit_max_bytes = 2048; };
domains = ( { id = "health"; name = "病有良医"; } );
receivers = ( { id = "ops"; type = "webhook"; url = "http://127.0.0.1:{port}/ops"; } );
alerting: { receivers = [ "ops" ]; group_wait = "0s"; };
indicators = (
  { id = "checkups"; name = "体检人数"; domain = "health"; unit = "人"; kind = "cumulative";
     targets = ( { year = 2024; annual = 190000; quarters = [ 28500, 95000, 142500, 190000 ]; } ); },
  { id = "beds"; name = "床位数"; domain = "health"; unit = "张"; kind = "cumulative";
     targets = ( { year = 2024; annual = 1000; } ); }
);
"""

DAY = 86400


def new_env(test):
    env = test.new_env()
    env.sink = env.webhook_sink()
    env.write_conf(CONF, port=env.sink.port)
    return env


def aged(path, days):
    """Sets PATH's times DAYS days back (a link itself, not what it names)."""
    t = time.time() - days * DAY
    os.utime(path, (t, t), follow_symlinks=False)


class Retention(harness.TestCase):
    def test_prune(self):
        env = new_env(self)
        dead = os.path.join(env.state, "spool", "dead")
        brief = os.path.join(env.state, "briefings")
        os.makedirs(dead)
        os.makedirs(brief)
        old = {"dead": ["1714611600-1-1-aa.json", "1714611600-2-1-bb.json.bad",
                        "1714611600-3-1-cc.json.tmp.4711"],
               "briefings": ["2024-W18.html", "2024-W18.md", "2024-W18.docx", "2024-W18.json",
                             "2024-W18-checkups.png"]}
        kept = {"dead": ["1714611600-4-1-dd.json", "notes.txt"],
                "briefings": ["2024-W19.html", "keep.txt", "index.html"]}
        where = {"dead": dead, "briefings": brief}
        for k, names in old.items():
            for n in names:
                aged(env.write(os.path.join(where[k], n), "{}"), 31)
        for n in ("notes.txt",):
            aged(env.write(os.path.join(dead, n), "x"), 400)
        for n in ("keep.txt", "index.html"):
            aged(env.write(os.path.join(brief, n), "x"), 400)
        aged(env.write(os.path.join(dead, "1714611600-4-1-dd.json"), "{}"), 29)
        aged(env.write(os.path.join(brief, "2024-W19.html"), "x"), 29)
        # A link named like a dead letter, itself old, to an old file outside dead/.
        outside = env.write("outside.json", "precious")
        aged(outside, 400)
        link = os.path.join(dead, "1714611600-5-1-ee.json")
        os.symlink(outside, link)
        aged(link, 400)

        d = env.start(None, "--clock-rate", "86400")
        line = env.wait(lambda: [l for l in d.log().splitlines() if "retention: removed" in l],
                        20, "the first pruning")[0]
        self.assertIn("removed 3 files from", line)
        self.assertIn("and 5 from", line)
        self.assertIn("older than 30d", line)
        self.assertEqual(sorted(os.listdir(dead)),
                         sorted(kept["dead"] + ["1714611600-5-1-ee.json"]))
        self.assertEqual(sorted(os.listdir(brief)), sorted(kept["briefings"]))
        self.assertTrue(os.path.islink(link))
        with open(outside, encoding="utf-8") as f:
            self.assertEqual(f.read(), "precious")
        # Every day of the daemon's clock (a second here): a file grown old meanwhile goes.
        aged(os.path.join(brief, "2024-W19.html"), 31)
        env.wait(lambda: not os.path.exists(os.path.join(brief, "2024-W19.html")), 20,
                 "the next day's pruning")
        self.assertTrue(os.path.exists(os.path.join(dead, "1714611600-4-1-dd.json")))
        self.assertEqual(env.stop(), 0)

    def test_audit_rotation(self):
        """audit.log of 2000 bytes (earlier lines), .1 and .2 and .3 there: the run's first line
        would pass 2048, so audit.log becomes .1, .1 becomes .2, .2 becomes .3 and .3 is
        dropped; the new lines go to a new audit.log."""
        env = new_env(self)

        def line(n):
            return json.dumps({"at": n, "event": "delivered", "delivery": f"d{n}",
                               "receiver": "ops", "alerts": [], "error": None}) + "\n"

        text = ""
        n = 0
        while len(text) + len(line(n)) <= 2000:
            text += line(n)
            n += 1
        env.write("state/audit.log", text)
        env.write("state/audit.log.1", line(-1))
        env.write("state/audit.log.2", line(-2))
        env.write("state/audit.log.3", line(-3))
        env.cli("record", "checkups", "37774", "--as-of", "2024-05-01")
        rc, log = env.once("2024-05-02T09:00:00+08:00")
        self.assertEqual(rc, 0, log)
        self.assertIn("audit.log rotated at", log)

        def read(name):
            with open(os.path.join(env.state, name), encoding="utf-8") as f:
                return f.read()

        self.assertEqual(read("audit.log.1"), text)
        self.assertEqual(read("audit.log.2"), line(-1))
        self.assertEqual(read("audit.log.3"), line(-2))
        self.assertFalse(os.path.exists(os.path.join(env.state, "audit.log.4")))
        events = [e["event"] for e in env.audit()]
        self.assertEqual(sorted(set(events)), ["delivered", "spooled"], events)
        self.assertTrue(read("audit.log").endswith("\n"))


if __name__ == "__main__":
    harness.main()
