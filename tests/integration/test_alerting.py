#!/usr/bin/python3
"""Integration tests of alerting with pacewatchd --once against a real webhook receiver on
loopback (tests/support/webhook_sink.py): the payload of docs/alerts.md field by field,
routing (department, alerting.receivers, escalation while severe, one message per receiver),
a restart that sends nothing new, resolution to whoever was told, a receiver failing its first
attempts (`--once` retries it after 1 s, 2 s, ... with the same delivery id and exits 0 once
it is delivered), silences from `pacewatch silence`, and the log receiver."""

import base64
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import harness  # noqa: E402

CONF = """
daemon: { state_dir = "state"; http_listen = ""; };
domains = ( { id = "health"; name = "病有良医"; } );
departments = ( { id = "wj"; name = "县卫健局"; receivers = [ "dept", "ops" ]; } );
receivers = (
  { id = "dept"; type = "webhook"; url = "http://127.0.0.1:{port}/dept{dept_q}"; },
  { id = "ops"; type = "webhook"; url = "http://127.0.0.1:{port}/ops"; },
  { id = "boss"; type = "webhook"; url = "http://127.0.0.1:{port}/boss"; },
  { id = "lg"; type = "log"; },
  { id = "ding"; type = "dingtalk"; url = "http://127.0.0.1:{port}/ding?access_token=T"; secret = "SECtest/+="; keyword = "监测"; },
  { id = "wc"; type = "wecom"; url = "http://127.0.0.1:{port}/wecom?key=K"; }
);
alerting: { receivers = [ "ops", "lg" ]; escalate = [ "boss", "ding", "wc" ]; group_wait = "30s"; };
indicators = (
  { id = "checkups"; name = "城乡居民同质同标免费健康体检人数"; domain = "health"; department = "wj";
     unit = "人"; kind = "cumulative";
     targets = ( { year = 2024; annual = 190000; quarters = [ 28500, 95000, 142500, 190000 ]; } ); },
  { id = "beds"; name = "床位数"; domain = "health"; unit = "张"; kind = "cumulative";
     targets = ( { year = 2024; annual = 1000; } ); }
);
"""


def new_env(test, dept_fail=0):
    """The configuration above with its webhook sink (env.sink); "dept" answers 500 to its
    first DEPT_FAIL requests."""
    env = test.new_env(cli_timeout=60)
    env.sink = env.webhook_sink()
    env.write_conf(CONF, port=env.sink.port, dept_q=f"?fail={dept_fail}" if dept_fail else "")
    return env


class Alerting(harness.TestCase):
    def test_route_payload_restart_resolve(self):
        env = new_env(self)
        env.cli("record", "checkups", "37774", "--as-of", "2024-05-01")
        rc, log = env.once("2024-05-02T09:00:00+08:00")
        self.assertEqual(rc, 0, log)
        msgs = env.sink.messages()
        paths = sorted(m["path"] for m in msgs)
        # lagging: the department's receivers and alerting.receivers, once each; not boss.
        self.assertEqual(paths, ["/dept", "/ops"], log)
        m = [m for m in msgs if m["path"] == "/dept"][0]
        body = json.loads(m["body"])
        self.assertEqual(m["headers"]["content-type"], "application/json")
        self.assertEqual(m["headers"]["x-pacewatch-delivery"], body["delivery"])
        self.assertEqual(body["version"], 1)
        self.assertEqual(body["receiver"], "dept")
        self.assertTrue(body["sent_at"])
        alerts = {a["alert"]: a for a in body["alerts"]}
        a = alerts["checkups/lag"]
        self.assertEqual((a["condition"], a["state"], a["severity"]),
                         ("lag", "firing", "lagging"))
        self.assertEqual((a["indicator"], a["domain"], a["department"]),
                         ("checkups", "health", "wj"))
        self.assertEqual(a["value"], 37774)
        self.assertAlmostEqual(a["expected"], 51153.846, places=3)
        self.assertEqual(a["target"], 190000)
        self.assertAlmostEqual(a["completion_pct"], 19.881, places=3)
        self.assertAlmostEqual(a["pace_pct"], 26.923, places=3)
        self.assertAlmostEqual(a["lag"], 7.042, places=3)
        self.assertEqual(a["lag_unit"], "pp")
        self.assertEqual(a["as_of"], "2024-05-02T00:00:00+08:00")
        self.assertIsNone(a["source"])
        self.assertIsNone(a["url"])
        self.assertTrue(a["since"])
        # beds has no data: stale since T0 (more than 40 days), to alerting.receivers only.
        ops = json.loads([m for m in msgs if m["path"] == "/ops"][0]["body"])
        self.assertIn("beds/stale", {a["alert"] for a in ops["alerts"]})
        self.assertNotIn("beds/stale", alerts)
        self.assertIn("receiver 'lg': alert checkups/lag firing lagging", log)

        # A restart with nothing new sends nothing.
        n = len(env.sink.messages())
        rc, log = env.once("2024-05-02T09:30:00+08:00")
        self.assertEqual(rc, 0, log)
        self.assertEqual(len(env.sink.messages()), n, log)

        # Severe: escalated to boss as well.
        env.cli("record", "checkups", "20000", "--as-of", "2024-06-20")
        rc, log = env.once("2024-06-21T09:00:00+08:00")
        self.assertEqual(rc, 0, log)
        new = env.sink.messages()[n:]
        self.assertEqual(sorted(m["path"] for m in new),
                         ["/boss", "/dept", "/ding", "/ops", "/wecom", "/wecom"], log)
        # WeCom: a markdown message, then the trend graph as an image (base64 + md5).
        wc = [json.loads(m["body"]) for m in new if m["path"] == "/wecom"]
        self.assertEqual([w["msgtype"] for w in wc], ["markdown", "image"])
        raw = base64.b64decode(wc[1]["image"]["base64"])
        self.assertTrue(raw.startswith(b"\x89PNG"))
        self.assertEqual(wc[1]["image"]["md5"], hashlib.md5(raw).hexdigest())
        sev = [a for m in new if m["path"] not in ("/ding", "/wecom")
               for a in json.loads(m["body"])["alerts"]
               if a["alert"] == "checkups/lag"]
        self.assertTrue(all(a["severity"] == "severe" for a in sev))
        # The DingTalk robot: a signed markdown message, checked independently.
        ding = [m for m in new if m["path"] == "/ding"][0]
        q = urllib.parse.parse_qs(ding["query"])
        ts, sign = q["timestamp"][0], q["sign"][0]
        mac = hmac.new(b"SECtest/+=", (ts + "\nSECtest/+=").encode(), hashlib.sha256).digest()
        self.assertEqual(sign, base64.b64encode(mac).decode())
        self.assertLess(abs(int(ts) / 1000 - time.time()), 120)
        md = json.loads(ding["body"])
        self.assertEqual(md["msgtype"], "markdown")
        self.assertTrue(md["markdown"]["title"].startswith("监测"))
        # Department names, not ids (issue 14).
        self.assertIn("【严重滞后】城乡居民同质同标免费健康体检人数（县卫健局）", md["markdown"]["text"])
        self.assertNotIn("（wj）", md["markdown"]["text"])

        # Back on pace: resolved, to everyone who was told (boss included).
        n = len(env.sink.messages())
        env.cli("record", "checkups", "95000", "--as-of", "2024-06-25")
        rc, log = env.once("2024-06-26T09:00:00+08:00")
        self.assertEqual(rc, 0, log)
        new = env.sink.messages()[n:]
        resolved = {m["path"] for m in new if m["path"] not in ("/ding", "/wecom")
                    for a in json.loads(m["body"])["alerts"]
                    if a["alert"] == "checkups/lag" and a["state"] == "resolved"}
        self.assertEqual(resolved, {"/boss", "/dept", "/ops"}, log)
        self.assertIn("/ding", {m["path"] for m in new})  # told it fired, told it ended

    def test_failing_receiver_retried_under_once(self):
        """--once retries a failing receiver promptly (1 s, 2 s, ...) instead of leaving the
        notification in the spool until the next run."""
        env = new_env(self, dept_fail=2)
        env.cli("record", "checkups", "37774", "--as-of", "2024-05-01")
        t0 = time.time()
        rc, log = env.once("2024-05-02T09:00:00+08:00")
        self.assertEqual(rc, 0, log)  # delivered at the third attempt, in the same run
        self.assertLess(time.time() - t0, 20, log)
        dept = env.sink.messages("/dept")
        self.assertEqual([m["ok"] for m in dept], [False, False, True])
        gaps = [b["time"] - a["time"] for a, b in zip(dept, dept[1:])]
        self.assertTrue(0.8 < gaps[0] < 3 and 1.8 < gaps[1] < 4, gaps)
        ids = {m["headers"]["x-pacewatch-delivery"] for m in dept}
        self.assertEqual(len(ids), 1)  # the same delivery id on every retry
        self.assertEqual(env.spool_files(), [])
        events = [e["event"] for e in env.audit()]
        self.assertEqual(events.count("retry"), 2)
        self.assertIn("delivered", events)

    def test_silence(self):
        env = new_env(self)
        out = env.cli("silence", "add", "checkups", "--until", "2099-05-10", "--reason", "口径调整")
        sid = out.split(":")[0]
        self.assertIn("checkups", env.cli("silence", "list"))
        env.cli("record", "checkups", "37774", "--as-of", "2024-05-01")
        rc, log = env.once("2024-05-02T09:00:00+08:00")
        self.assertEqual(rc, 0, log)
        lag = [a for m in env.sink.messages() for a in json.loads(m["body"])["alerts"]
               if a["alert"] == "checkups/lag"]
        self.assertEqual(lag, [])
        env.cli("silence", "remove", sid)
        rc, log = env.once("2024-05-02T10:00:00+08:00")
        lag = [a for m in env.sink.messages() for a in json.loads(m["body"])["alerts"]
               if a["alert"] == "checkups/lag"]
        self.assertEqual(len(lag), 2, log)  # dept and ops


class Email(harness.TestCase):
    """The email receiver against a real SMTP server (aiosmtpd), parsed by Python's email."""

    def test_email(self):
        env = new_env(self)
        smtp = env.smtp_sink()
        env.edit_conf('{ id = "lg"; type = "log"; }', '{ id = "lg"; type = "email"; '
                      f'url = "smtp://127.0.0.1:{smtp.port}"; from = "pw@example.gov.cn"; '
                      'to = [ "office@example.gov.cn" ]; }')
        env.cli("record", "checkups", "37774", "--as-of", "2024-05-01")
        rc, log = env.once("2024-05-02T09:00:00+08:00")
        self.assertEqual(rc, 0, log)
        self.assertEqual(len(smtp.files()), 1, log)
        msg = smtp.messages()[0]
        # The programme's name, not the product's (no briefing.title: the default).
        self.assertTrue(str(msg["Subject"]).startswith("【公共服务指标】"), msg["Subject"])
        self.assertIn("城乡居民同质同标免费健康体检人数", str(msg["Subject"]))
        for h in ("From", "To", "Date", "Message-ID"):
            self.assertTrue(msg[h], h)
        types = [p.get_content_type() for p in msg.walk()]
        for t in ("multipart/related", "multipart/alternative", "text/plain", "text/html",
                  "image/png"):
            self.assertIn(t, types)
        html = [p for p in msg.walk() if p.get_content_type() == "text/html"][0].get_content()
        self.assertIn("完成年度目标（19万人）的19.9%，序时进度26.9%，落后序时进度7个百分点", html)
        png = [p for p in msg.walk() if p.get_content_type() == "image/png"][0]
        cid = png["Content-ID"].strip("<>")
        self.assertIn("cid:" + cid, html)
        self.assertTrue(png.get_content().startswith(b"\x89PNG\r\n\x1a\n"))


class RunningDaemon(harness.TestCase):
    """group_wait batching, a receiver down then back, kill -9 with restarts, and the weekly
    briefing sent at its schedule."""

    def test_scheduled_briefing_is_sent(self):
        env = new_env(self)
        env.append_conf('briefing: { schedule = "Mon 08:00"; title = "测试县周报"; '
                        'receivers = [ "ops", "ding" ]; };\n')
        env.cli("record", "checkups", "95000", "--as-of", "2024-04-20")
        d = env.start("2024-04-29T07:59:57+08:00", ready=None)

        def briefs():
            return [m for m in env.sink.messages()
                    if '"briefing"' in m["body"] or "测试县周报" in m["body"]]
        try:
            harness.wait_for(lambda: len(briefs()) >= 2, 60, 0.2)
        finally:
            env.stop(timeout=10)
        text = d.log()
        got = {m["path"]: m for m in briefs()}
        self.assertEqual(set(got), {"/ops", "/ding"}, text)
        body = json.loads(got["/ops"]["body"])
        self.assertEqual(body["briefing"]["week"], "2024-W18")
        self.assertEqual(body["alerts"], [])
        self.assertIn("总体情况", body["briefing"]["markdown"])
        ding = json.loads(got["/ding"]["body"])
        self.assertIn("测试县周报", ding["markdown"]["title"])
        self.assertIn("总体情况", ding["markdown"]["text"])
        # The briefing is kept in the state directory.
        self.assertTrue(os.path.exists(os.path.join(env.state, "briefings", "2024-W18.html")))

    def test_batch_retry_and_kill(self):
        env = new_env(self, dept_fail=1)
        env.edit_conf('group_wait = "30s"', 'group_wait = "2s"')
        env.cli("record", "checkups", "37774", "--as-of", "2024-05-01")
        env.cli("record", "beds", "10", "--as-of", "2024-05-01")
        d = env.start("2024-05-02T09:00:00+08:00", ready=None)
        try:
            harness.wait_for(lambda: any(m["ok"] for m in env.sink.messages("/dept")), 60, 0.2)
        finally:
            env.kill9()  # kill -9: the spool and alert states are on disk
        text = d.log()
        dept = env.sink.messages("/dept")
        # The first attempt failed, the retry (10 s later) delivered the same message.
        self.assertEqual([m["ok"] for m in dept], [False, True], text)
        self.assertEqual(len({m["headers"]["x-pacewatch-delivery"] for m in dept}), 1)
        # group_wait: both lagging indicators arrived in one message.
        ops = [json.loads(m["body"]) for m in env.sink.messages("/ops")]
        lag = {a["alert"] for a in ops[0]["alerts"]}
        self.assertTrue({"checkups/lag", "beds/lag"} <= lag, ops)
        # Restarted after kill -9: nothing new is sent, nothing is lost. (A kill between a
        # receiver's answer and the spool's removal may repeat that very delivery, with
        # its id: at-least-once.)
        n = len(env.sink.messages())
        seen = {m["headers"].get("x-pacewatch-delivery") for m in env.sink.messages()}
        rc, out = env.once("2024-05-02T09:05:00+08:00")
        self.assertEqual(rc, 0, out)
        again = env.sink.messages()[n:]
        self.assertTrue(all(m["headers"].get("x-pacewatch-delivery") in seen for m in again), out)


if __name__ == "__main__":
    harness.main()
