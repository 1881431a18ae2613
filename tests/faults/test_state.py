#!/usr/bin/python3
"""Fault cases: the state directory. FIFOs, symlinks (to a file outside) and directories planted
in every subdirectory (inbox/, spool/, journal/, rrd/, briefings/, graphs/) and at the
temporary file names the daemon uses (`<file>.tmp.<pid>`, `rrd/<id>.rrd.tmp`); garbage and
truncated alerts.json, silences.json and spool files; a garbage line in the middle of the
journal. Every plant the daemon survives shares one daemon (class Planted), checked case by
case; the truncated files another (class Truncated). Each case: the daemon runs and polls, a
hand-off to it is acknowledged and kept, nothing is written through a symlink, and one clear
line names the planted file. FIFOs that hang the daemon, refusals at start and a read-only
state directory are in test_state_hazards.py."""

import json
import os
import stat
import sys
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faults  # noqa: E402
import harness  # noqa: E402

# Tuesday 2024-04-30, three seconds before the weekly briefing (briefing.schedule below).
NOW = "2024-04-30T08:59:57+08:00"
WEEK = "2024-W18"
RRD_IDS = ("manual", "other", "third", "r1", "r2", "r3")

CONF = """
daemon: { state_dir = "state"; log_level = "info"; http_listen = "127.0.0.1:{http}"; };
domains = ( { id = "d"; name = "测试"; } );
sources = ( { id = "good"; url = "{good}"; format = "json"; interval = "1s"; } );
indicators = (
  { id = "good_v"; name = "好"; domain = "d"; source = "good"; path = "$.v"; kind = "standard";
    targets = ( { year = 2024; standard = 0.0; } ); },
  { id = "nodata"; name = "无数据"; domain = "d"; kind = "standard";
    targets = ( { year = 2024; standard = 0.0; } ); },
  { id = "handed"; name = "手工"; domain = "d"; kind = "standard";
    targets = ( { year = 2024; standard = 0.0; } ); },
""" + ",\n".join(
    f'  {{ id = "{i}"; name = "{i}"; domain = "d"; kind = "standard"; '
    f'targets = ( {{ year = 2024; standard = 0.0; }} ); }}' for i in RRD_IDS) + """
);
briefing: { schedule = "Tue 09:00"; };
"""


def prepare(env, h, http):
    """ENV's configuration with the good source of H, and a state directory made by the CLI:
    a journal with a figure for each of RRD_IDS, and their RRD files."""
    env.write_conf(CONF, http=http, good=h.url("/good.json"))
    for n, i in enumerate(RRD_IDS):
        env.cli("record", i, str(10 + n), "--as-of", "2024-04-20")


def S(env, *parts):
    return os.path.join(env.state, *parts)


def kind_of(path):
    """"fifo", "symlink", "dir", "file" or "missing"."""
    try:
        m = os.lstat(path).st_mode
    except FileNotFoundError:
        return "missing"
    return ("fifo" if stat.S_ISFIFO(m) else "symlink" if stat.S_ISLNK(m)
            else "dir" if stat.S_ISDIR(m) else "file")


class StateCase(faults.FaultCase):
    """What the cases of this module check beside the planted file."""

    def hand_off(self, env, value, as_of="2024-04-28"):
        """`pacewatch record handed VALUE` handed to the running daemon is acknowledged, and
        the figure is in the journal."""
        r = env.cli_run("record", "handed", str(value), "--as-of", as_of, timeout=20)
        self.assertEqual(r.rc, 0, f"{r.err}\n{env.log_tail()}")
        self.assertIn(float(value), [float(x["value"]) for x in env.export("handed")])

    def running_for(self, seconds):
        """Waits until the daemon has run SECONDS (so that what it repeats has repeated)."""
        left = self.env.started + seconds - time.time()
        if left > 0:
            time.sleep(left)


# ---- every plant the daemon survives, in one daemon ----

class Planted(StateCase):
    @classmethod
    def setUpClass(cls):
        cls.env = env = cls.new_class_env()
        cls.h = faults.Hostile()
        cls.addClassCleanup(cls.h.close)
        cls.h.good("/good.json")
        cls.http = harness.free_port()
        prepare(env, cls.h, cls.http)
        cls.out = out = faults.Planted(env)
        s = lambda *p: S(env, *p)  # noqa: E731
        # inbox/: a request that is a symlink to a file outside, one that is a directory.
        os.makedirs(s("inbox"))
        os.symlink(out.path, s("inbox", "link.req"))
        os.mkdir(s("inbox", "dir.req"))
        # spool/: a FIFO, a symlink, a directory, garbage, an entry cut short.
        os.makedirs(s("spool"), exist_ok=True)
        os.mkfifo(s("spool", "fifo.json"))
        os.symlink(out.path, s("spool", "link.json"))
        os.mkdir(s("spool", "dir.json"))
        env.write("state/spool/garbage.json", "this is not a notification\n")
        env.write("state/spool/truncated.json",
                  '{"id":"truncated","receiver":"ops","created":1714438800,"next_attem')
        # journal/: strangers beside the journal, and a garbage line in its middle.
        os.mkfifo(s("journal", "fifo"))
        os.symlink(out.path, s("journal", "link"))
        os.mkdir(s("journal", "dir"))
        os.mkfifo(s("journal", "journal.tsv.tmp"))
        with open(s("journal", "journal.tsv"), encoding="utf-8") as f:
            lines = f.readlines()
        cls.garbage_line = len(lines) // 2 + 1  # 1-based: the line the garbage becomes
        lines.insert(cls.garbage_line - 1, "garbage\x01 in the \tmiddle\n")
        with open(s("journal", "journal.tsv"), "w", encoding="utf-8") as f:
            f.writelines(lines)
        cls.journal_before = [line for line in lines if not line.startswith("garbage")]
        # rrd/: a symlink and a directory where files are; at the temporary names of the
        # rebuilds the start-up check makes (their files removed): a symlink, a FIFO, a
        # directory.
        os.unlink(s("rrd", "other.rrd"))
        os.symlink(out.path, s("rrd", "other.rrd"))
        os.unlink(s("rrd", "third.rrd"))
        os.mkdir(s("rrd", "third.rrd"))
        for i, make in (("manual", lambda p: os.symlink(out.path, p)), ("r1", os.mkfifo),
                        ("r2", os.mkdir)):
            os.unlink(s("rrd", i + ".rrd"))
            make(s("rrd", i + ".rrd.tmp"))
        # briefings/: where this week's files go, a symlink, a FIFO and a directory.
        os.makedirs(s("briefings"))
        os.symlink(out.path, s("briefings", f"{WEEK}.html"))
        os.mkfifo(s("briefings", f"{WEEK}.md"))
        os.mkdir(s("briefings", f"{WEEK}-r3.png"))
        # graphs/: the placeholder graphs of indicators without an RRD file are drawn from.
        os.makedirs(s("graphs"))
        os.symlink(out.path, s("graphs", ".empty-2024.rrd"))
        # The lock a symlink; alerts.json and silences.json garbage.
        os.unlink(s("lock"))
        os.symlink(out.path, s("lock"))
        env.write("state/alerts.json", "{ this is not JSON")
        env.write("state/silences.json", "[ { garbage")

        d = env.start(NOW, ready=None)
        pid = d.pid
        # The temporary names of this process's atomic writes: alerts.json's, this week's
        # briefing files', and the replies to three requests written below.
        os.symlink(out.path, s(f"alerts.json.tmp.{pid}"))
        env.started = time.time()
        os.mkfifo(s("briefings", f"{WEEK}-manual.png.tmp.{pid}"))
        os.symlink(out.path, s("briefings", f"{WEEK}-other.png.tmp.{pid}"))
        os.mkdir(s("briefings", f"{WEEK}-r1.png.tmp.{pid}"))
        os.symlink(out.path, s("inbox", f"100-1.reply.tmp.{pid}"))
        os.mkfifo(s("inbox", f"100-2.reply.tmp.{pid}"))
        os.mkdir(s("inbox", "100-3.reply"))
        d.wait_ready(lambda: harness.STARTED in d.log())
        for n, name in enumerate(("100-1", "100-2", "100-3")):
            faults.put_request(env, name, [("r1", "2024-04-25T00:00:00+08:00", 31 + n)])
        env.wait(lambda: f"briefing {WEEK}" in d.log(), 30, "the weekly briefing")

    def alive(self):
        self.assert_alive(self.env, self.http, polled=[(self.h, "/good.json")])
        self.nothing_lost(self.env, "good_v", lambda: self.h.served("/good.json"))
        self.out.untouched(self)

    # -- inbox/ --

    def test_inbox_symlink_and_directory(self):
        self.hand_off(self.env, 41)
        self.assertEqual(kind_of(S(self.env, "inbox", "dir.req")) in ("dir", "missing"), True)
        self.alive()

    def test_inbox_reply_temporary_names(self):
        # A symlink and a FIFO at the reply's temporary name are replaced; a directory at the
        # reply's own name is named in the log. The samples of all three are in the journal.
        for name in ("100-1", "100-2"):
            reply = self.env.wait(lambda: faults.reply_of(self.env, name), 15, f"{name}.reply")
            self.assertTrue(reply.get("ok"), reply)
        self.one_line(self.env, r"100-3\.reply", at_most=1)
        values = [float(r["value"]) for r in self.env.export("r1")]
        for v in (31, 32, 33):
            self.assertIn(v, values)
        self.alive()

    def test_inbox_planted_requests_named_once(self):
        # daemon/ingest/inbox.c: a request that is a symlink is refused unread (the link
        # removed) and one that is a directory is skipped and left in place; each is named
        # once, by its path in inbox/, never read through nor logged every second.
        self.running_for(10)
        self.one_line(self.env, r"inbox/link\.req", at_most=1, timeout=2)
        self.one_line(self.env, r"inbox/dir\.req", at_most=1, timeout=2)

    def test_cli_reply_fifo(self):
        # daemon/pacewatch/samples.c: the command read its reply with json_load_file as soon as
        # anything had the reply's name, so a FIFO planted there hung `pacewatch record` for
        # ever. Now only a regular file is the reply; the daemon's is renamed over the FIFO.
        inbox = S(self.env, "inbox")
        planted = []

        def plant():
            end = time.time() + 15
            while time.time() < end and not planted:
                for n in os.listdir(inbox):
                    if n.endswith(".req") and n[:-4].split("-")[0].isdigit() and \
                            not n.startswith("100-"):
                        try:
                            os.mkfifo(os.path.join(inbox, n[:-4] + ".reply"))
                            planted.append(n[:-4])
                        except OSError:
                            pass
                time.sleep(0.002)
        t = threading.Thread(target=plant, daemon=True)
        t.start()
        self.hand_off(self.env, 43)
        t.join(20)
        if not planted:
            self.skipTest("the daemon answered before the FIFO could be planted")
        self.assertEqual(kind_of(os.path.join(inbox, planted[0] + ".reply")), "missing")
        self.alive()

    # -- spool/ --

    def test_spool_garbage_and_truncated_files(self):
        for name in ("garbage.json", "truncated.json"):
            line = self.one_line(self.env, rf"spool/{name}", at_most=1)
            self.assertRegex(line, rf"^error: .*spool/{name}: unreadable notification skipped"
                             rf" \(.*\); moved to .*spool/dead/{name}\.bad$")
            self.assertEqual(kind_of(S(self.env, "spool", "dead", name + ".bad")), "file")
        self.alive()

    def test_spool_fifo_symlink_directory(self):
        # Each named once (the spool is read at start and at a reload).
        self.running_for(10)
        for name in ("fifo.json", "link.json", "dir.json"):
            self.one_line(self.env, rf"spool/{name}", at_most=1)
        # The link is not followed and stays where it was (docs/storage.md); nothing goes to dead/.
        self.assertEqual(kind_of(S(self.env, "spool", "link.json")), "symlink")
        self.assertEqual(kind_of(S(self.env, "spool", "dead", "link.json.bad")), "missing")
        self.alive()

    def test_spool_symlink_content_not_logged(self):
        # Issue 12 item 16: "a spool file symlinked to /etc/shadow puts its first token in the
        # log" (here: "'[' or '{' expected near 'precious'").
        self.one_line(self.env, r"spool/link\.json", at_most=1)
        self.assertNotIn("precious", self.env.daemon.log())

    # -- journal/ --

    def test_journal_strangers_left_alone(self):
        kinds = {n: kind_of(S(self.env, "journal", n))
                 for n in ("fifo", "link", "dir", "journal.tsv.tmp")}
        self.assertEqual(kinds, {"fifo": "fifo", "link": "symlink", "dir": "dir",
                                 "journal.tsv.tmp": "fifo"})
        self.hand_off(self.env, 42)
        self.alive()

    def test_garbage_journal_line_in_the_middle(self):
        line = self.one_line(self.env, r"journal\.tsv:\d+: malformed", at_most=1)
        self.assertRegex(line, rf"^warn: .*journal/journal\.tsv:{self.garbage_line}: "
                         r"malformed journal line skipped$")
        # Every line around it counts, and the journal grows on from there.
        for i, v in zip(RRD_IDS, range(10, 10 + len(RRD_IDS))):
            self.assertIn(float(v), [float(r["value"]) for r in self.env.export(i)], i)
        text = self.env.journal_text()
        self.assertTrue(text.startswith("".join(self.journal_before[:self.garbage_line - 1])))
        self.assertIn("garbage\x01 in the \tmiddle\n", text)
        self.alive()

    # -- rrd/ --

    def test_rrd_symlink_replaced(self):
        self.env.wait(lambda: kind_of(self.env.rrd("other")) == "file", 15, "other.rrd rebuilt")
        self.assertEqual(self.env.rrd_lastupdate("other")[1][0], 11.0)
        self.alive()

    def test_rrd_directory(self):
        line = self.one_line(self.env, r"rrd/third\.rrd", at_most=None)
        self.assertRegex(line, r"^error: .*third.*rrd/third\.rrd: Is a directory$")
        self.alive()

    def test_rrd_directory_logged_once(self):
        # daemon/data/persist.c: an RRD file that cannot be written was logged (and rebuilt)
        # again at every batch, every second here; now once, retried less and less often.
        self.running_for(10)
        self.one_line(self.env, r"rrd/third\.rrd", at_most=1)

    def test_rrd_temporary_names(self):
        # A symlink and a FIFO at a rebuild's temporary name are replaced by the rebuilt file;
        # a directory there is named in the log.
        for i, v in (("manual", 10.0), ("r1", 13.0)):
            self.env.wait(lambda: kind_of(self.env.rrd(i)) == "file", 15, f"{i}.rrd rebuilt")
        self.assertEqual(self.env.rrd_lastupdate("manual")[1][0], 10.0)
        self.assertGreaterEqual(self.env.rrd_lastupdate("r1")[1][0], 13.0)
        self.one_line(self.env, r"rrd/r2\.rrd\.tmp", at_most=None)
        self.alive()

    # -- briefings/ and graphs/ --

    def test_briefing_files(self):
        log = self.env.daemon.wait_log(f"briefing {WEEK} written", 30)
        self.assertIn(f"briefings/{WEEK}.html", log)
        for name in (f"{WEEK}.html", f"{WEEK}.md", f"{WEEK}-manual.png", f"{WEEK}-other.png"):
            self.assertEqual(kind_of(S(self.env, "briefings", name)), "file", name)
        with open(S(self.env, "briefings", f"{WEEK}.md"), encoding="utf-8") as f:
            self.assertIn("manual", f.read())
        self.one_line(self.env, rf"briefings/{WEEK}-r3\.png: Is a directory", at_most=1)
        self.one_line(self.env, rf"briefings/{WEEK}-r1\.png: Is a directory", at_most=1)
        self.alive()

    def test_graph_placeholder_symlink(self):
        # graphs/graph.c: the graph of an indicator without an RRD file is drawn from
        # graphs/.empty-2024.rrd, which was used as it was when something was there: a symlink
        # to a file that is not an RRD file made every such graph fail (500, and "graph failed"
        # for each in the briefing). A placeholder that is not a regular file is replaced.
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http}/graphs/nodata.png",
                                    timeout=15) as r:
            self.assertEqual(r.status, 200)
            self.assertEqual(r.read(8), b"\x89PNG\r\n\x1a\n")
        self.assertEqual(kind_of(S(self.env, "graphs", ".empty-2024.rrd")), "file")
        self.one_line(self.env, r"graphs/\.empty-2024\.rrd is a symbolic link", at_most=1)
        self.alive()

    # -- alerts.json, silences.json, the lock --

    def test_alerts_json_temporary_name(self):
        self.env.wait(lambda: kind_of(S(self.env, "alerts.json")) == "file"
                      and "{ this" not in harness.read_text(S(self.env, "alerts.json")),
                      15, "alerts.json saved")
        with open(S(self.env, "alerts.json"), encoding="utf-8") as f:
            json.load(f)
        self.alive()

    def test_garbage_alerts_json(self):
        # Issue 12 item 9: a corrupted alerts.json is silently reset (every firing alert is
        # sent again); keep the damaged file aside and log it at error level.
        line = self.one_line(self.env, r"alerts\.json", at_most=1, timeout=2)
        self.assertTrue(line.startswith("error: "), line)
        kept = [n for n in os.listdir(self.env.state) if n.startswith("alerts.json")
                and "{ this is not JSON" in harness.read_text(S(self.env, n))]
        self.assertTrue(kept, "the damaged alerts.json was not kept")

    def test_garbage_silences_json(self):
        line = self.one_line(self.env, r"silences\.json", at_most=1)
        self.assertRegex(line, r"^error: .*silences\.json is damaged \(line \d+, column \d+: .*\): "
                         r"kept aside as .*silences\.json\.corrupt-\d+")
        self.alive()

    def test_lock_symlink(self):
        # The daemon holds its lock through the symlink; a second daemon is refused.
        r = harness.pacewatchd("-c", self.env.conf, "-f", "--now", NOW, timeout=20)
        self.assertNotEqual(r.rc, 0)
        self.assertIn("another pacewatchd holds this state directory", r.out + r.err)
        self.alive()

    def test_z_stops_cleanly(self):
        # Last (by name): after all of the above, SIGTERM ends the daemon cleanly.
        self.alive()
        self.assertEqual(self.env.stop(), 0)
        self.assertNotIn("handles still open", self.env.logs())


# ---- truncated files ----

class Truncated(StateCase):
    @classmethod
    def setUpClass(cls):
        cls.env = env = cls.new_class_env()
        cls.h = faults.Hostile()
        cls.addClassCleanup(cls.h.close)
        cls.h.good("/good.json")
        cls.http = harness.free_port()
        prepare(env, cls.h, cls.http)
        env.write("state/alerts.json", '{\n "manual/stale": {\n  "firing": true, "holdi')
        env.write("state/silences.json",
                  '[ { "indicator": "manual", "until": 1719763200, "rea')
        env.start(NOW)

    def test_truncated_silences_json(self):
        line = self.one_line(self.env, r"silences\.json", at_most=1)
        self.assertRegex(line, r"^error: .*silences\.json is damaged \(line \d+, column \d+: .*\): "
                         r"kept aside as .*silences\.json\.corrupt-\d+")
        self.assert_alive(self.env, self.http, polled=[(self.h, "/good.json")])
        self.hand_off(self.env, 61)

    def test_truncated_alerts_json(self):
        # Issue 12 item 9: a damaged alerts.json is silently reset; keep it aside and log it
        # at error level.
        line = self.one_line(self.env, r"alerts\.json", at_most=1, timeout=2)
        self.assertTrue(line.startswith("error: "), line)


if __name__ == "__main__":
    faults.main()
