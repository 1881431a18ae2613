#!/usr/bin/python3
'''Reporting deadlines (docs/judgement.md "Reporting deadlines", docs/alerts.md): a monthly
figure due by the 5th, run under --now. Before the deadline the department's webhook gets one
reminder (报送提醒) with the office's words, however many runs fall in its window; after it the
overdue alert (逾期未报), the status document's `due`, the dashboard card and 需关注, and the
briefing's 存在问题 say so; the figure arriving resolves the alert.'''
import json
import os
import sys
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import harness

CONF = '''
daemon: { state_dir = "state"; http_listen = "127.0.0.1:{port}"; };
domains = ( { id = "health"; name = "病有良医"; } );
receivers = ( { id = "hook"; type = "webhook"; url = "http://127.0.0.1:{sink}/hook"; } );
departments = ( { id = "wj"; name = "县卫健局"; receivers = [ "hook" ]; report_day = 5;
                  report_remind = "3d"; } );
alerting: { for = "0s"; group_wait = "0s"; };
indicators = (
  { id = "checkups"; name = "健康体检人数"; domain = "health"; department = "wj"; unit = "人";
    kind = "cumulative"; targets = ( { year = 2024; annual = 4000; } ); },
  { id = "beds"; name = "每千人床位数"; domain = "health"; unit = "张"; kind = "level";
    targets = ( { year = 2024; baseline = 4; annual = 5; } ); }
);
'''


def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        return r.read().decode("utf-8")


def alerts(sink):
    """Every alert the webhook got, in order."""
    return [a for m in sink.messages("/hook") for a in json.loads(m["body"])["alerts"]]


class Deadlines(harness.TestCase):
    def test_reminder_overdue_resolved(self):
        env = self.new_env()
        sink = env.webhook_sink()
        port = harness.free_port()
        env.write_conf(CONF, port=port, sink=sink.port)
        env.cli("record", "checkups", "800", "--as-of", "2024-02-29")
        env.cli("record", "beds", "4.2", "--as-of", "2024-02-29")

        # Before the deadline (from April 3, three days before the end of the 5th): a reminder.
        rc, log = env.once("2024-04-03T09:00:00+08:00")
        self.assertEqual(rc, 0, log)
        got = alerts(sink)
        self.assertEqual(len(got), 1, got)
        self.assertEqual(got[0]["alert"], "checkups/remind")
        self.assertEqual(got[0]["condition"], "remind")
        self.assertEqual(got[0]["severity"], "remind")
        self.assertEqual(got[0]["summary"],
                         "县卫健局：请于4月5日前报送2024年3月的「健康体检人数」数据")
        # Once per period: the next run inside the window says nothing new.
        rc, log = env.once("2024-04-05T20:00:00+08:00")
        self.assertEqual(rc, 0, log)
        self.assertEqual(len(alerts(sink)), 1, alerts(sink))

        # After it: 逾期未报, in the alert, the status document, the dashboard, the briefing.
        rc, log = env.once("2024-04-07T09:00:00+08:00")
        self.assertEqual(rc, 0, log)
        got = alerts(sink)[1:]
        self.assertEqual([a["alert"] for a in got], ["checkups/overdue"], got)
        self.assertEqual(got[0]["state"], "firing")
        self.assertEqual(got[0]["severity"], "overdue")
        self.assertEqual(got[0]["summary"], "2024年3月数据逾期未报，应于4月5日前报送，已逾期1天")
        doc = {i["id"]: i for i in env.status("--at", "2024-04-07")["indicators"]}
        self.assertEqual(doc["checkups"]["due"],
                         {"by": "2024-04-05", "period": "2024年3月", "overdue": True})
        self.assertFalse(doc["checkups"]["stale"])
        self.assertIsNone(doc["beds"]["due"])  # no deadline: stale_after as before

        d = env.start("2024-04-07T10:00:00+08:00")
        env.wait(lambda: harness.port_open(port), 30, "the status server")
        api = {i["id"]: i for i in json.loads(get(port, "/api/v1/status"))["indicators"]}
        self.assertTrue(api["checkups"]["due"]["overdue"])
        page = get(port, "/")
        with open(os.path.join(env.out, "dashboard.html"), "w", encoding="utf-8") as f:
            f.write(page)
        self.assertIn('<p class="note stale overdue">2024年3月数据逾期未报（应于4月5日前报送）</p>',
                      page)
        self.assertIn("健康体检人数</a>（县卫健局）：2024年3月数据逾期未报（应于4月5日前报送）", page)
        self.assertEqual(d.stop(), 0)

        out = os.path.join(env.out, "briefing")  # kept for people to read
        env.cli("briefing", "--at", "2024-04-07", "-o", out)
        with open(os.path.join(out, "2024-W14.md"), encoding="utf-8") as f:
            md = f.read()
        self.assertIn("部分数据逾期未报。", md)
        self.assertIn("县卫健局健康体检人数3月份数据逾期未报（应于4月5日前报送）", md)

        # The figure arrives: the alert resolves, and the briefing no longer says it.
        env.cli("record", "checkups", "1000", "--as-of", "2024-03-31")
        rc, log = env.once("2024-04-08T09:00:00+08:00")
        self.assertEqual(rc, 0, log)
        got = [a for a in alerts(sink) if a["alert"] == "checkups/overdue"]
        self.assertEqual(got[0]["state"], "firing", got)
        self.assertEqual([a["state"] for a in got].count("resolved"), 1, got)
        self.assertEqual(got[-1]["state"], "resolved", got)
        self.assertEqual(got[-1]["summary"], "数据已报送，截至3月底为1000人")
        doc = {i["id"]: i for i in env.status("--at", "2024-04-08")["indicators"]}
        self.assertFalse(doc["checkups"]["due"]["overdue"])
        self.assertEqual(env.sanitizer_reports(), [])


if __name__ == "__main__":
    harness.main()
