#!/usr/bin/python3
"""Integration tests of admission at its edges, with the real daemon (--once) and CLI on file
sources: what the journal cannot read back is refused with one log line naming the source, the
indicator and the field, and is not re-accepted at the next start (a subnormal figure, Prometheus
timestamps of 1000 ms and -2^63 ms, `record --as-of 0000000001`); a journal of an older version
holding a line dated 1970 no longer breaks the indicator's RRD file (rebuild and later updates
work, one warning); and a clock that went back (a run at --now 2030, then runs at --now 2024)
stores an unchanged figure once, not as a revision at every poll, and stores a figure equal to
the future one."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import harness  # noqa: E402

NOW = "2024-04-30T09:00:00+08:00"

TARGET = "targets = ( { year = 2024; baseline = 0; annual = 10; } );"

CONF = """
daemon: { state_dir = "state"; timezone = "Asia/Shanghai"; http_listen = ""; };
domains = ( { id = "d"; name = "测试"; } );
sources = (
  { id = "prom"; url = "data/metrics.txt"; format = "prometheus"; },
  { id = "plain"; url = "data/plain.json"; format = "json"; }
);
indicators = (
  { id = "sub"; name = "S"; domain = "d"; source = "prom"; path = "m_sub"; kind = "level"; {t} },
  { id = "early"; name = "E"; domain = "d"; source = "prom"; path = "m_early"; kind = "level"; {t} },
  { id = "minus"; name = "M"; domain = "d"; source = "prom"; path = "m_min"; kind = "level"; {t} },
  { id = "ok"; name = "O"; domain = "d"; source = "prom"; path = "m_ok"; kind = "level"; {t} },
  { id = "v"; name = "V"; domain = "d"; source = "plain"; path = "$.v"; kind = "level"; {t} }
);
"""

METRICS = ("m_sub 5e-324\n"
           "m_early 7 1000\n"
           "m_min 7 -9223372036854775808\n"
           "m_ok 3 1711900800000\n")


class Admission(harness.TestCase):
    def setUp(self):
        self.env = self.new_env()
        self.env.write_conf(CONF, t=TARGET)
        self.env.write("data/metrics.txt", METRICS)
        self.env.write("data/plain.json", '{"v": 5}')

    def journal(self):
        """The journal's data lines, split into fields ([] before the file exists)."""
        return [l.rstrip("\n").split("\t") for l in harness.read_text(
            os.path.join(self.env.state, "journal", "journal.tsv")).splitlines(True)
            if not l.startswith("#")]

    def rrd_last(self, ind):
        out = subprocess.run(["rrdtool", "last", self.env.rrd(ind)], capture_output=True,
                             text=True, timeout=30)
        return int(out.stdout.strip()) if out.returncode == 0 else None

    def test_refused_what_the_journal_cannot_hold(self):
        for run in range(2):
            rc, log = self.env.once(NOW)
            self.assertEqual(rc, 0, log)
            self.assertIn("source 'prom', indicator 'sub': bad sample '5e-324' "
                          "(too close to zero to be stored)", log)
            self.assertIn("source 'prom', indicator 'early': bad sample: as_of "
                          "1970-01-01T08:00:01+08:00 is outside the years 1971 to 2100 (UTC)", log)
            self.assertIn("source 'prom', indicator 'minus': bad sample: as_of ", log)
            self.assertEqual(log.count("bad sample"), 3, log)
            self.assertNotIn("malformed journal line", log)
            # Only what reads back was journaled, once: nothing is accepted again at a restart.
            inds = sorted(l[1] for l in self.journal())
            self.assertEqual(inds, ["ok", "v"], (run, log))
        self.assertFalse(os.path.exists(self.env.rrd("early")))

    def test_record_refuses_a_date_of_1970(self):
        rc, out, err = self.env.cli_run("record", "ok", "5", "--as-of", "0000000001")
        self.assertEqual(rc, 1, err)
        self.assertIn("is outside the years 1971 to 2100", err)
        self.assertEqual(self.journal(), [])

    def test_a_line_of_1970_from_an_older_version(self):
        self.env.write("state/journal/journal.tsv",
                       "# pacewatch journal v1: as_of\tindicator\tvalue\tfetched_at\tsource\n"
                       "1970-01-01T08:00:01+08:00\tv\t9\t2024-04-29T09:00:00+08:00\tplain\n"
                       "2024-04-01T00:00:00+08:00\tv\t4\t2024-04-29T09:00:00+08:00\timport\n")
        rc, out, err = self.env.cli_run("rebuild")
        self.assertEqual(rc, 0, err)
        self.assertEqual(err.count("left out of its RRD file"), 1, err)
        self.assertEqual(self.rrd_last("v"), 1711900800)
        # A poll brings a new figure: the file takes it.
        rc, log = self.env.once(NOW)
        self.assertEqual(rc, 0, log)
        self.assertNotIn("error", log.lower().replace("errors", ""), log)
        self.assertEqual(self.rrd_last("v"), 1714438800)
        # A revision (the file is rebuilt by the daemon) works too.
        rc, out, err = self.env.cli_run("record", "v", "6", "--as-of", "2024-03-31")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.rrd_last("v"), 1714438800)

    def test_clock_went_back(self):
        rc, log = self.env.once("2030-01-01T09:00:00+08:00")
        self.assertEqual(rc, 0, log)
        self.env.write("data/plain.json", '{"v": 7}')
        rc, log = self.env.once("2024-04-30T09:00:00+08:00")
        self.assertEqual(rc, 0, log)
        n = len(self.journal())
        # The same figure an hour later: unchanged, not a revision.
        rc, log = self.env.once("2024-04-30T10:00:00+08:00")
        self.assertEqual(rc, 0, log)
        self.assertNotIn("indicator 'v': revision", log)
        self.assertEqual(len(self.journal()), n, log)
        # Back to the 2030 figure: stored.
        self.env.write("data/plain.json", '{"v": 5}')
        rc, log = self.env.once("2024-04-30T11:00:00+08:00")
        self.assertEqual(rc, 0, log)
        last = self.journal()[-1]
        self.assertEqual(last[:3], ["2024-04-30T11:00:00+08:00", "v", "5"], log)


if __name__ == "__main__":
    harness.main()
