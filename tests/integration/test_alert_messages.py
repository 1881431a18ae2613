#!/usr/bin/python3
"""What an alert says (docs/alerts.md "What an alert says"), read as the officials who receive
it would: the demo at 2024-04-30 and a scenario with a severe lagging cumulative indicator, a
stale standard and a never-published figure, each sent by pacewatchd --once to a webhook, a
DingTalk robot, a WeCom robot and an email receiver on loopback. Names not ids, the programme's
name, figures with their unit and 万/亿, the gap, since when, how it moved, what is needed,
contacts as @-mentions, one link per indicator (#ind-<id>), the order (severe, lagging, data
problems), published_by routing, and stale alerts repeated weekly, not daily. The demo's
DingTalk message and email are printed and kept in the test output (dingtalk.md, email.txt,
email.html)."""

import json
import os
import re
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import harness  # noqa: E402

PROGRAMME = "平阳县公共服务“七优享”工程推进情况"
URL = "https://pw.example.gov.cn"


def ding_texts(sink, path="/ding"):
    """The markdown bodies the DingTalk robot got, parsed."""
    return [json.loads(m["body"]) for m in sink.messages(path)]


class Demo(harness.TestCase):
    """The demo configuration with robots and mail pointed at local sinks."""

    def setUp(self):
        super().setUp()
        env = self.env = self.new_env(cli_timeout=90)
        env.copy_demo()
        self.sink = env.webhook_sink()
        self.smtp = env.smtp_sink()
        port = self.sink.port
        env.edit_conf('http_listen = "127.0.0.1:9464";', 'http_listen = "";')
        text = env.conf_text()
        if "public_url" in text:
            env.write_conf(re.sub(r'public_url\s*=\s*"[^"]*";', f'public_url = "{URL}";', text))
        else:
            env.edit_conf('http_listen = "";', f'http_listen = ""; public_url = "{URL}";')
        env.edit_conf('{ id = "ops_log"; type = "log"; }',
                      '{ id = "ops_log"; type = "log"; },\n'
                      f'  {{ id = "hook"; type = "webhook"; url = "http://127.0.0.1:{port}/hook"; }},\n'
                      f'  {{ id = "ding"; type = "dingtalk"; url = "http://127.0.0.1:{port}/ding?access_token=T"; }},\n'
                      f'  {{ id = "mail"; type = "email"; url = "smtp://127.0.0.1:{self.smtp.port}"; '
                      'from = "pw@example.gov.cn"; to = [ "office@example.gov.cn" ]; }')
        env.edit_conf('name = "县府办";       receivers = [ "ops_log" ];',
                      'name = "县府办"; receivers = [ "ops_log", "ding" ]; '
                      'contacts = [ "陈晓 13800000001" ];')
        env.edit_conf('name = "县卫健局";     receivers = [ "ops_log" ];',
                      'name = "县卫健局"; receivers = [ "ops_log", "ding" ]; '
                      'contacts = [ "王敏 13800000002" ];')
        env.edit_conf('name = "县人力社保局"; receivers = [ "ops_log" ];',
                      'name = "县人力社保局"; receivers = [ "ops_log", "ding" ]; '
                      'contacts = [ "李强 13800000003" ];')
        env.edit_conf('receivers = [ "ops_log" ];\n};', 'receivers = [ "ops_log", "hook", "mail" ];\n};')
        env.cli("import", env.path("history.csv"))
        rc, log = env.once("2024-04-30T09:00:00+08:00")
        self.assertEqual(rc, 0, log)
        self.log = log

    def test_demo_messages(self):
        env = self.env
        ding = ding_texts(self.sink)
        self.assertEqual(len(ding), 1, self.log)
        title = ding[0]["markdown"]["title"]
        text = ding[0]["markdown"]["text"]
        hook = json.loads(self.sink.messages("/hook")[0]["body"])
        mail = self.smtp.messages()
        self.assertEqual(len(mail), 1, self.log)
        mail = mail[0]
        plain = [p for p in mail.walk() if p.get_content_type() == "text/plain"][0].get_content()
        html = [p for p in mail.walk() if p.get_content_type() == "text/html"][0].get_content()
        with open(os.path.join(env.out, "dingtalk.md"), "w", encoding="utf-8") as f:
            f.write(f"title: {title}\natMobiles: {ding[0]['at']['atMobiles']}\n\n{text}")
        with open(os.path.join(env.out, "email.txt"), "w", encoding="utf-8") as f:
            f.write(f"Subject: {mail['Subject']}\n\n{plain}")
        with open(os.path.join(env.out, "email.html"), "w", encoding="utf-8") as f:
            f.write(html)
        print(f"\n== DingTalk message of the demo at 2024-04-30 ==\ntitle: {title}\n"
              f"atMobiles: {ding[0]['at']['atMobiles']}\n{text}\n"
              f"== Email of the demo at 2024-04-30 ==\nSubject: {mail['Subject']}\n{plain}",
              flush=True)

        # The programme's name (briefing.title), not the product's; names, not ids.
        self.assertTrue(title.startswith(PROGRAMME + "提醒："), title)
        self.assertEqual(hook["title"], PROGRAMME)
        self.assertTrue(str(mail["Subject"]).startswith(f"【{PROGRAMME}】"), mail["Subject"])
        self.assertIn("项指标需关注：“15分钟公共服务圈”均衡得分等", str(mail["Subject"]))
        for ids in ("（office", "（hrss", "（health", "office、", "【pacewatch】"):
            self.assertNotIn(ids, text)
            self.assertNotIn(ids, plain)
        self.assertIn("“15分钟公共服务圈”均衡得分（县府办）", text)
        # The figure with its unit, the gap in the unit, what is needed, since when.
        self.assertIn("截至3月底为83.13分，全省平均分86.83分，低于全省平均分3.7分", text)
        self.assertIn("需提高3.7分方可达到全省平均分", text)
        self.assertIn("自4月底起滞后", text)
        # Stale with the known figure; never published; contacts as mentions.
        self.assertIn("每千常住人口执业(助理)医师数（县卫健局）：最新数据截至2023年底（3.56人），"
                      "已超过120天未更新", text)
        self.assertIn("基本养老保险参保人数（县人力社保局）：本年度尚无数据", text)
        self.assertIn("联系人：陈晓 @13800000001", text)
        self.assertIn("联系人：王敏 @13800000002", text)
        self.assertEqual(sorted(ding[0]["at"]["atMobiles"]),
                         ["13800000001", "13800000002", "13800000003"])
        # One link per indicator, to its card.
        self.assertIn(f"[查看该指标]({URL}/#ind-service_circle_score)", text)
        self.assertIn(f"{URL}/#ind-doctors_per_1000", plain)
        self.assertIn(f'href="{URL}/#ind-service_circle_score"', html)
        # The order: the lagging line before the stale ones.
        self.assertLess(text.index("【滞后】"), text.index("【数据陈旧】"))
        self.assertEqual([a["alert"] for a in hook["alerts"]][0], "service_circle_score/lag")
        # published_by: 调查失业率 (省人社厅) goes to alerting.receivers, not the department.
        self.assertNotIn("调查失业率", text)
        self.assertIn("surveyed_unemployment/stale", {a["alert"] for a in hook["alerts"]})
        self.assertIn("调查失业率（县人力社保局）：本年度尚无数据（待省人社厅公布）", plain)
        self.assertIn("责任单位：县府办；联系人：陈晓（13800000001）", plain)
        # Phone width: a viewport, nothing wider than the screen.
        self.assertIn('name="viewport"', html)
        self.assertIn("max-width:640px", html)
        for img in re.findall(r"<img [^>]*>", html):
            self.assertIn("max-width:100%", img)

    def test_demo_links_on_dashboard(self):
        """Every link an alert carries opens a card the dashboard has (`id="ind-<id>"`)."""
        env = self.env
        hook = json.loads(self.sink.messages("/hook")[0]["body"])
        port = harness.free_port()
        env.edit_conf('http_listen = "";', f'http_listen = "127.0.0.1:{port}";')
        env.start("2024-04-30T09:00:00+08:00")
        env.wait(lambda: harness.port_open(port), 30, "the status server")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as r:
            page = r.read().decode("utf-8")
        env.stop()
        if 'id="ind-' not in page:
            self.skipTest("the dashboard has no ind-<id> card anchors yet (issue 14, Build 4)")
        for a in hook["alerts"]:
            anchor = a["url"].split("#", 1)[1]
            self.assertIn(f'id="{anchor}"', page)


SCENARIO = """
daemon: { state_dir = "state"; http_listen = ""; public_url = "https://pw.example.gov.cn/"; };
domains = ( { id = "health"; name = "病有良医"; } );
departments = ( { id = "wj"; name = "县卫健局"; receivers = [ "ding", "wc" ];
                  contacts = [ "王敏 13800000001", "李强 13900000002" ]; } );
receivers = (
  { id = "ding"; type = "dingtalk"; url = "http://127.0.0.1:{port}/ding?access_token=T"; },
  { id = "wc"; type = "wecom"; url = "http://127.0.0.1:{port}/wecom?key=K"; },
  { id = "ops"; type = "webhook"; url = "http://127.0.0.1:{port}/ops"; }
);
alerting: { receivers = [ "ops" ]; repeat = "24h"; };
briefing: { title = "某县民生实事"; };
indicators = (
  { id = "checkups"; name = "城乡居民免费健康体检人数"; domain = "health"; department = "wj";
    unit = "人"; kind = "cumulative";
    targets = ( { year = 2024; annual = 190000; quarters = [ 28500, 95000, 142500, 190000 ]; } ); },
  { id = "coverage"; name = "家庭医生签约率"; domain = "health"; department = "wj";
    unit = "%"; kind = "standard"; stale_after = "90d";
    targets = ( { year = 2024; standard = 75; } ); },
  { id = "unemp"; name = "调查失业率"; domain = "health"; department = "wj"; unit = "%";
    kind = "standard"; direction = "down"; published_by = "省人社厅";
    targets = ( { year = 2024; standard = 5.5; } ); }
);
"""


class Scenario(harness.TestCase):
    def new(self):
        env = self.new_env(cli_timeout=60)
        env.sink = env.webhook_sink()
        env.write_conf(SCENARIO, port=env.sink.port)
        return env

    def test_severe_stale_never_published(self):
        env = self.new()
        env.cli("record", "coverage", "72.5", "--as-of", "2023-12-31")
        env.cli("record", "checkups", "20000", "--as-of", "2024-06-20")
        rc, log = env.once("2024-06-21T09:00:00+08:00")
        self.assertEqual(rc, 0, log)
        ding = ding_texts(env.sink)
        self.assertEqual(len(ding), 1, log)
        text = ding[0]["markdown"]["text"]
        self.assertTrue(ding[0]["markdown"]["title"].startswith("某县民生实事提醒：2项告警（县卫健局）"),
                        ding[0]["markdown"]["title"])
        lines = [ln for ln in text.splitlines() if ln.startswith("- ")]
        # Severe first, then the stale standard; the never-published figure is not here.
        self.assertTrue(lines[0].startswith("- 【严重滞后】城乡居民免费健康体检人数（县卫健局）："),
                        text)
        self.assertTrue(lines[1].startswith("- 【数据陈旧】家庭医生签约率（县卫健局）："), text)
        self.assertNotIn("调查失业率", text)
        self.assertIn("截至6月20日累计20000人，完成年度目标（19万人）的10.5%，序时进度", text)
        self.assertRegex(text, r"落后序时进度[0-9.]+个百分点，约差[0-9.]+万?人")
        self.assertIn("自6月21日起滞后", text)
        self.assertIn("需在6月底前再完成约75000人方可达到二季度目标", text)
        self.assertIn("最新数据截至2023年底（72.5%），已超过172天未更新", text)
        # Contacts: @-mentioned in the text and in atMobiles.
        self.assertIn("联系人：王敏 @13800000001、李强 @13900000002", text)
        self.assertEqual(sorted(ding[0]["at"]["atMobiles"]), ["13800000001", "13900000002"])
        self.assertIn("[查看该指标](https://pw.example.gov.cn/#ind-checkups)", text)
        # WeCom: mentions in the text message that follows the markdown one.
        wc = [json.loads(m["body"]) for m in env.sink.messages("/wecom")]
        mention = [w for w in wc if w["msgtype"] == "text"]
        self.assertEqual(sorted(mention[0]["text"]["mentioned_mobile_list"]),
                         ["13800000001", "13900000002"])
        # The never-published figure goes to alerting.receivers only, with who owes it.
        ops = json.loads(env.sink.messages("/ops")[0]["body"])
        by_id = {a["alert"]: a for a in ops["alerts"]}
        self.assertEqual(by_id["unemp/stale"]["summary"], "本年度尚无数据（待省人社厅公布）")
        self.assertEqual(by_id["checkups/lag"]["department_name"], "县卫健局")
        self.assertEqual(by_id["checkups/lag"]["contacts"],
                         [{"name": "王敏", "mobile": "13800000001"},
                          {"name": "李强", "mobile": "13900000002"}])
        self.assertEqual([a["alert"] for a in ops["alerts"]],
                         ["checkups/lag", "coverage/stale", "unemp/stale"])

        # A day later, with a new figure, the reminder says how the gap moved since the last
        # message (a verdict compares a figure with the pace on its own day: without a new
        # figure the gap holds).
        n = len(env.sink.messages("/ding"))
        env.cli("record", "checkups", "21000", "--as-of", "2024-06-21")
        rc, log = env.once("2024-06-22T09:00:00+08:00")
        self.assertEqual(rc, 0, log)
        text = ding_texts(env.sink)[n]["markdown"]["text"]
        self.assertRegex(text, "自6月21日起滞后，已持续1天，差距较上次提醒(扩大|缩小)[0-9.]+个百分点")

        # Back on pace: the resolution says how long it lagged.
        n = len(env.sink.messages("/ding"))
        env.cli("record", "checkups", "95000", "--as-of", "2024-06-25")
        rc, log = env.once("2024-06-26T09:00:00+08:00")
        self.assertEqual(rc, 0, log)
        text = ding_texts(env.sink)[n]["markdown"]["text"]
        self.assertIn("【已恢复】城乡居民免费健康体检人数（县卫健局）", text)
        self.assertIn("此前滞后5天", text)

    def test_stale_repeats_weekly(self):
        """Across 8 days (a run each day), the stale alert is sent twice (day 0 and day 7),
        not every day as `repeat` (24h) would."""
        env = self.new()
        env.cli("record", "coverage", "72.5", "--as-of", "2023-12-31")
        for day in range(9):
            rc, log = env.once(f"2024-06-{10 + day:02d}T09:00:00+08:00")
            self.assertEqual(rc, 0, log)
        stale = [a for m in env.sink.messages("/ops") for a in json.loads(m["body"])["alerts"]
                 if a["alert"] == "coverage/stale" and a["state"] == "firing"]
        self.assertEqual(len(stale), 2, [a["since"] for a in stale])

    def test_stale_repeats_weekly_running(self):
        """The same with one running daemon whose clock crosses eight and a half days
        (--clock-rate, docs/cli.md): the stale alert twice, not eight times."""
        env = self.new()
        env.cli("record", "coverage", "72.5", "--as-of", "2023-12-31")
        rate = 50000
        d = env.start("2024-06-10T09:00:00+08:00", "--clock-rate", str(rate))
        time.sleep(8.5 * 86400 / rate)
        self.assertEqual(d.stop(), 0)
        stale = [a for m in env.sink.messages("/ops") for a in json.loads(m["body"])["alerts"]
                 if a["alert"] == "coverage/stale" and a["state"] == "firing"]
        self.assertEqual(len(stale), 2, [a["since"] for a in stale])


if __name__ == "__main__":
    harness.main()
