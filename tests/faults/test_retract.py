#!/usr/bin/python3
"""Fault cases: retractions (docs/storage.md#retractions) under a crash and with the inbox under
attack, while a good source is polled every second.

- A retraction acknowledged by the daemon, which is then killed with SIGKILL: after the restart
  the figure is still withdrawn (the line was fsync'd before the reply), and the good source's
  figures are all there.
- A retraction line torn by a crash (cut inside its `retracted` field): skipped with one warning
  naming the journal and line, the figure stays in force, and the next retraction starts on a
  line of its own and holds after a restart.
- Retract requests for a figure being polled, a hundred in a row, half of them hostile: the
  daemon keeps polling and answering, each request gets its answer, nothing hostile is written.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faults  # noqa: E402
import harness  # noqa: E402

NOW = "2024-04-30T09:00:00+08:00"
APR = faults.epoch("2024-04-21T00:00:00+08:00")  # what "2024-04-20" means

CONF = """
daemon: { state_dir = "state"; log_level = "info"; http_listen = "127.0.0.1:{http}"; };
domains = ( { id = "d"; name = "测试"; } );
sources = ( { id = "good"; url = "{good}"; format = "json"; interval = "1s"; } );
indicators = (
  { id = "good_v"; name = "好"; domain = "d"; source = "good"; path = "$.v"; kind = "standard";
    targets = ( { year = 2024; standard = 0.0; } ); },
  { id = "handed"; name = "手工"; domain = "d"; kind = "standard";
    targets = ( { year = 2024; standard = 0.0; } ); }
);
"""


def put(env, name, doc):
    d = os.path.join(env.state, "inbox")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name + ".tmp"), "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)
    os.rename(os.path.join(d, name + ".tmp"), os.path.join(d, name + ".req"))


class Retract(faults.FaultCase):
    def setUp(self):
        super().setUp()
        self.h = faults.Hostile()
        self.addCleanup(self.h.close)
        self.h.good("/good.json")
        self.http = harness.free_port()
        self.env = self.new_env()
        self.env.write_conf(CONF, http=self.http, good=self.h.url("/good.json"))
        self.env.cli("record", "handed", "7", "--as-of", "2024-04-10")
        self.env.cli("record", "handed", "9", "--as-of", "2024-04-20")

    def handed(self):
        return [(r["value"], r["retracted"] is not None)
                for r in self.env.export("handed", "--format", "json")]

    def test_acknowledged_then_killed(self):
        env = self.env
        env.start(NOW)
        out = env.cli("retract", "handed", "2024-04-20", "--reason", "录入错误")
        self.assertIn("retracted", out)
        self.assertEqual(env.kill9(), -9)
        self.assertEqual(self.handed(), [(7, False), (9, True)])
        env.start(NOW)
        self.assert_alive(env, self.http, polled=[(self.h, "/good.json")])
        self.assertEqual(self.handed(), [(7, False), (9, True)])
        env.stop()
        self.nothing_lost(env, "good_v", lambda: self.h.served("/good.json"))

    def test_torn_retraction_line(self):
        env = self.env
        with open(os.path.join(env.state, "journal", "journal.tsv"), "a", encoding="utf-8") as f:
            f.write("2024-04-21T00:00:00+08:00\thanded\tretr")
        env.start(NOW)
        line = self.one_line(env, r"journal\.tsv:\d+: the last line is incomplete")
        self.assertIn("skipped", line)
        self.assertEqual(self.handed(), [(7, False), (9, False)])
        env.cli("retract", "handed", "2024-04-20", "--reason", "第二次")
        self.assert_alive(env, self.http, polled=[(self.h, "/good.json")])
        self.assertEqual(env.stop(), 0)
        env.start(NOW)
        self.one_line(env, r"journal\.tsv:\d+: malformed journal line skipped")
        self.assertEqual(self.handed(), [(7, False), (9, True)])
        self.assert_alive(env, self.http, polled=[(self.h, "/good.json")])

    def test_request_storm(self):
        env = self.env
        env.start(NOW)
        def handed_lines():
            return len([x for x in env.journal_lines() if "\thanded\t" in x])
        lines = handed_lines()
        for k in range(100):
            if k % 2:
                doc = {"op": "retract", "indicator": "handed", "as_of": APR,
                       "reason": "\t" * (k % 5) + "x" * (k * 7), "source": "s\n" * (k % 3)}
                if k % 3 == 0:
                    del doc["source"]  # the default, record
            else:
                doc = {"op": "explain", "indicator": "handed", "source": "record",
                       "reason": f"原因{k}", "catch_up": "2024-06-3" + str(k % 3)}
            put(env, f"storm-{k}", doc)
        replies = {}

        def answered():
            for k in range(100):
                if k not in replies:
                    r = faults.reply_of(env, f"storm-{k}")
                    if r is not None:
                        replies[k] = r
            return len(replies) == 100
        env.wait(answered, 60, "every answer")
        ok = sorted(k for k, r in replies.items() if r["ok"])
        # Explanations: a catch-up on the 30th exists, the 31st of June and "2024-06-32" do
        # not. Retractions: a source with a newline or a reason over 500 characters is refused;
        # the first clean one taken (requests are taken in directory order) withdraws the
        # figure, the others find nothing.
        self.assertEqual([k for k in ok if k % 2 == 0], list(range(0, 100, 6)))
        clean = [k for k in range(1, 100, 2) if k % 3 == 0 and k * 7 <= 500]
        withdrew = [k for k in ok if k % 2]
        self.assertEqual(len(withdrew), 1, withdrew)
        self.assertIn(withdrew[0], clean)
        for k in clean:
            if k != withdrew[0]:
                self.assertIn("no sample", replies[k]["error"])
        self.assertIn("at most 500", replies[99]["error"])
        self.assertIn("source must be", replies[1]["error"])
        self.assertEqual(handed_lines(), lines + len(ok))
        self.assertEqual(self.handed(), [(7, False), (9, True)])
        self.assert_alive(env, self.http, polled=[(self.h, "/good.json")])
        self.assertEqual(env.stop(), 0)


if __name__ == "__main__":
    faults.main()
