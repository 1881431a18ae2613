#!/usr/bin/python3
"""Explanations carried everywhere (docs/http.md "Reporting page", docs/alerts.md, docs/briefing.md
"存在问题"): a county with 城镇新增就业 (县人力社保局) lagging at 2024-04-30. Headless Chromium at
phone size (390x844) opens the department's link, fills the explanation's form (原因, 措施,
预计追平日期) and sees 已保存 with the explanation in words (screenshot explanations-390x844.png in
the test's output folder); then the journal's explanation line, the audit line (event explain),
the status API's `explanation`, the dashboard card, the briefing's 存在问题 and the next lag alert
at a loopback webhook, DingTalk and email receiver (explanation, catch_up_passed, report_url, the
words and the 报送/说明 link) all carry it, and past the catch-up date, with the indicator still
lagging, the card, the briefing and the alert say "原定5月31日前追平，目前仍滞后". Bad input (no
reason, a bad or past date, over-long text, bytes that are not UTF-8) is refused beside its field
with nothing stored; another department's token is 403; text is escaped on the dashboard."""

import http.client
import json
import os
import sys
import unittest
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import harness  # noqa: E402
import chromium_cdp  # noqa: E402
from test_report_page import request as report_request  # noqa: E402

CONF = '''
daemon: { state_dir = "state"; timezone = "Asia/Shanghai"; http_listen = "127.0.0.1:{port}";
          public_url = "http://127.0.0.1:{port}/"; };
domains = ( { id = "employment"; name = "劳有所得"; } );
departments = (
  { id = "hrss"; name = "县人力社保局"; receivers = [ "ding" ]; },
  { id = "housing"; name = "县住建局"; receivers = [ "ding" ]; }
);
receivers = (
  { id = "hook"; type = "webhook"; url = "http://127.0.0.1:{hook}/hook"; },
  { id = "ding"; type = "dingtalk"; url = "http://127.0.0.1:{hook}/ding?access_token=T"; },
  { id = "mail"; type = "email"; url = "smtp://127.0.0.1:{smtp}"; from = "pw@example.gov.cn";
    to = [ "office@example.gov.cn" ]; }
);
alerting: { receivers = [ "hook", "mail" ]; group_wait = "0s"; };
briefing: { title = "平阳县公共服务“七优享”工程推进情况"; issuer = "县府办"; };
indicators = (
  { id = "employment_new"; name = "城镇新增就业"; domain = "employment"; department = "hrss";
    unit = "人"; kind = "cumulative"; targets = ( { year = 2024; annual = 12000; } ); },
  { id = "rental_units"; name = "保障性租赁住房"; domain = "employment"; department = "housing";
    unit = "套"; kind = "cumulative"; targets = ( { year = 2024; annual = 1000; } ); }
);
'''

NOW = "2024-04-30T09:00:00+08:00"
LATER = "2024-05-03T09:00:00+08:00"  # the next day's reminder, before the catch-up date
PASSED = "2024-06-03T09:00:00+08:00"  # after 2024-05-31, still lagging
REASON = "一季度企业招工延后。"
MEASURES = "开展春风行动专场招聘"
WORDS = "县人力社保局说明：一季度企业招工延后；措施：开展春风行动专场招聘；预计5月底前追平"
PASSED_WORDS = ("县人力社保局说明：一季度企业招工延后；措施：开展春风行动专场招聘；"
                "原定5月31日前追平，目前仍滞后")
PATH = "/report/hrss/employment_new/explanation"


def request(port, method, path, token=None, body=None, ctype="application/json"):
    """One request (test_report_page's); returns (status, body text)."""
    status, _, text = report_request(port, method, path, token, body, ctype)
    return status, text


def token_of(link):
    return link.strip().split("#t=", 1)[1]


def lag_alerts(sink, ind="employment_new"):
    """The alerts of IND in the webhook's notifications, in order."""
    out = []
    for rec in sink.got("/hook"):
        for a in json.loads(rec["body"]).get("alerts", []):
            if a.get("indicator") == ind and a.get("condition") == "lag":
                out.append(a)
    return out


class Explanations(harness.TestCase):
    def setUp(self):
        super().setUp()
        env = self.env = self.new_env()
        self.sink = env.receiver()
        self.smtp = env.smtp_sink()
        self.port = harness.free_port()
        env.write_conf(CONF, port=self.port, hook=self.sink.port, smtp=self.smtp.port)
        env.cli("record", "employment_new", "1000", "--as-of", "2024-03-31")
        env.cli("record", "rental_units", "400", "--as-of", "2024-03-31")
        self.link = env.cli("token", "add", "hrss").strip()
        self.token = token_of(self.link)
        self.housing = token_of(env.cli("token", "add", "housing"))

    def audit(self, event="explain"):
        path = self.env.path("state", "audit.log")
        if not os.path.exists(path):
            return []
        return [json.loads(x) for x in harness.read_text(path).splitlines()
                if f'"event":"{event}"' in x]

    def briefing(self, at, name):
        out = os.path.join(self.env.out, name)
        self.env.cli("briefing", "--at", at, "-o", out)
        md = [f for f in os.listdir(out) if f.endswith(".md") and "actions" not in f]
        self.assertEqual(len(md), 1, os.listdir(out))
        text = harness.read_text(os.path.join(out, md[0]))
        self.doc = json.loads(harness.read_text(os.path.join(out, md[0][:-3] + ".json")))
        return text[text.index("存在问题"):text.index("下步举措")]

    def briefing_item(self, ind):
        return [i for i in self.doc["indicators"] if i["id"] == ind][0]

    def dashboard(self):
        return request(self.port, "GET", "/")[1]

    @unittest.skipUnless(os.path.exists(chromium_cdp.CHROMIUM), "chromium is not installed")
    def test_carried_everywhere(self):
        env, p = self.env, self.port
        env.start(NOW, ready=lambda: harness.port_open(p))
        # The first lag alert, before any explanation: none carried, the reporting page linked.
        env.wait(lambda: lag_alerts(self.sink), 30, "the first lag alert")
        first = lag_alerts(self.sink)[0]
        self.assertIsNone(first["explanation"])
        self.assertFalse(first["catch_up_passed"])
        self.assertEqual(first["report_url"], f"http://127.0.0.1:{p}/report/hrss")
        self.assertNotIn("说明：", self.dashboard())

        with chromium_cdp.Browser() as b:
            b.viewport(390, 844, True)
            b.open(self.link)
            env.wait(lambda: b.js("document.querySelectorAll('section.ind').length") == 1, 20,
                     "the department's indicator on the page")
            sec = "#ind-employment_new"
            self.assertEqual(b.js(f"document.querySelector('{sec}').dataset.status"), "severe")
            self.assertEqual(b.js(f"document.querySelectorAll('{sec} form').length"), 2)
            lay = b.js("({sw: document.documentElement.scrollWidth, iw: innerWidth, "
                       "h: Math.min(...[...document.querySelectorAll('form.explain button,"
                       "form.explain input')].map(e => e.getBoundingClientRect().height))})")
            self.assertLessEqual(lay["sw"], lay["iw"])
            self.assertGreaterEqual(lay["h"], 44)
            # No reason: the reason beside its field, nothing stored.
            before = env.journal_text()
            b.js(f"""(() => {{ const f = document.querySelector('{sec} form.explain');
                f.elements.measures.value = '{MEASURES}'; f.querySelector('button').click(); }})()""")
            msg = env.wait(lambda: b.js(f"document.querySelector('{sec} form.explain "
                                        ".err[data-for=reason]').textContent"), 20,
                           "the message beside 原因")
            self.assertEqual(msg, "请填写原因。")
            self.assertEqual(env.journal_text(), before)
            # The explanation, saved and said back in words.
            b.js(f"""(() => {{ const f = document.querySelector('{sec} form.explain');
                f.elements.reason.value = '{REASON}'; f.elements.measures.value = '{MEASURES}';
                f.elements.catch_up.value = '2024-05-31'; f.querySelector('button').click(); }})()""")
            res = env.wait(lambda: b.js(f"document.querySelector('{sec} form.explain "
                                        ".result.ok')?.textContent"), 20, "已保存 on the page")
            self.assertEqual(res, f"已保存。{WORDS}。")
            self.assertEqual(b.js(f"document.querySelector('{sec} .expl').textContent"), WORDS)
            # The form is prefilled with the current explanation.
            self.assertEqual(b.js(f"document.querySelector('{sec} form.explain').elements"
                                  ".catch_up.value"), "2024-05-31")
            self.assertEqual(b.js(f"document.querySelector('{sec} form.explain').elements"
                                  ".reason.value"), REASON)
            b.js("window.scrollTo(0, document.querySelector('form.explain').offsetTop - 60)")
            b.screenshot(os.path.join(env.out, "explanations-390x844.png"), full=False)
            self.assertEqual([e for e in b.console_errors() if "status of 422" not in e], [])
            # The dashboard at phone size: 需关注 with the department's explanation under the line.
            b.open(f"http://127.0.0.1:{p}/")
            env.wait(lambda: b.js("document.querySelector('#attention .why')?.textContent"), 20,
                     "the explanation in 需关注")
            self.assertEqual(b.js("document.querySelector('#attention .why').textContent"), WORDS)
            b.screenshot(os.path.join(env.out, "dashboard-attention-390x844.png"), full=False)

        # The journal line (fsync'd before 已保存) and the audit line.
        last = env.journal_lines()[-1].rstrip("\n").split("\t")
        self.assertEqual(last[:3], ["2024-04-01T00:00:00+08:00", "employment_new", "explanation"])
        self.assertEqual(last[4:], ["report:hrss", REASON, MEASURES, "2024-05-31"])
        audit = self.audit()
        self.assertEqual(len(audit), 1)
        self.assertEqual({k: audit[0][k] for k in ("event", "department", "address", "indicator",
                                                   "as_of", "reason", "measures", "catch_up")},
                         {"event": "explain", "department": "hrss", "address": "127.0.0.1",
                          "indicator": "employment_new", "as_of": 1711900800, "reason": REASON,
                          "measures": MEASURES, "catch_up": "2024-05-31"})
        # The status API.
        doc = json.loads(request(p, "GET", "/api/v1/status")[1])
        ex = {i["id"]: i for i in doc["indicators"]}["employment_new"]["explanation"]
        self.assertEqual({k: ex[k] for k in ("reason", "measures", "catch_up", "source",
                                              "overdue")},
                         {"reason": REASON, "measures": MEASURES, "catch_up": "2024-05-31",
                          "source": "report:hrss", "overdue": False})
        # The dashboard card.
        page = self.dashboard()
        card = page[page.index('id="ind-employment_new"'):]
        card = card[:card.index("</article>")]
        self.assertIn(f'<p class="note explanation">{WORDS}</p>', card)
        top = page[page.index('<section id="attention">'):]
        top = top[:top.index("</section>")]
        item = top[top.index('<li data-indicator="employment_new"'):]
        self.assertIn(f'<span class="why">{WORDS}</span></li>', item)
        env.stop()

        # pacewatch status: the table, then the explanation under 【情况说明】.
        table = env.cli("status", "--at", "2024-05-03")
        self.assertIn(f"\n【情况说明】\n城镇新增就业：{WORDS}。\n", table)
        self.assertNotIn("保障性租赁住房：", table.split("【情况说明】")[1])  # none of its own
        self.assertIn(f"城镇新增就业：{PASSED_WORDS}。", env.cli("status", "--at", "2024-06-03"))

        # The briefing's 存在问题.
        problems = self.briefing("2024-05-03", "briefing-before")
        self.assertIn(f"（责任单位：县人力社保局）。{WORDS}。", problems)
        # The webhook's document and the robots' summary of the same briefing.
        self.assertEqual(self.briefing_item("employment_new")["explanation"], WORDS)
        self.assertFalse(self.briefing_item("employment_new")["catch_up_passed"])
        self.assertIsNone(self.briefing_item("rental_units")["explanation"])
        self.assertIn("城镇新增就业（严重滞后，1000人，已说明原因）", self.doc["summary_markdown"])

        # The next lag alert (the daily reminder): the explanation, its words, the page's link.
        n = len(lag_alerts(self.sink))
        mails = set(self.smtp.files())
        rc, log = env.once(LATER)
        self.assertEqual(rc, 0, log)
        alerts = lag_alerts(self.sink)
        self.assertGreater(len(alerts), n, log)
        a = alerts[-1]
        self.assertEqual(a["explanation"]["reason"], REASON)
        self.assertEqual(a["explanation"]["text"], WORDS)
        self.assertFalse(a["explanation"]["overdue"])
        self.assertFalse(a["catch_up_passed"])
        self.assertEqual(a["report_url"], f"http://127.0.0.1:{p}/report/hrss")
        ding = [json.loads(r["body"])["markdown"]["text"] for r in self.sink.got("/ding")]
        self.assertIn(WORDS, ding[-1])
        self.assertIn(f"[报送/说明](http://127.0.0.1:{p}/report/hrss)", ding[-1])
        with open(os.path.join(env.out, "dingtalk.md"), "w", encoding="utf-8") as f:
            f.write(ding[-1])
        new = [m for m, name in zip(self.smtp.messages(), self.smtp.files()) if name not in mails]
        self.assertEqual(len(new), 1, log)
        plain = [x for x in new[0].walk() if x.get_content_type() == "text/plain"][0]
        plain = plain.get_content().replace("\r\n", "\n")
        html = [x for x in new[0].walk() if x.get_content_type() == "text/html"][0].get_content()
        self.assertIn(f"\n  {WORDS}\n", plain)
        self.assertIn(f"报送/说明：http://127.0.0.1:{p}/report/hrss", plain)
        self.assertIn(WORDS, html)
        self.assertIn(f'<a href="http://127.0.0.1:{p}/report/hrss">报送/说明</a>', html)
        with open(os.path.join(env.out, "email.html"), "w", encoding="utf-8") as f:
            f.write(html)

        # Past the catch-up date, still lagging: said so by the alert, the briefing and the card.
        rc, log = env.once(PASSED)
        self.assertEqual(rc, 0, log)
        a = lag_alerts(self.sink)[-1]
        self.assertTrue(a["catch_up_passed"])
        self.assertTrue(a["explanation"]["overdue"])
        self.assertEqual(a["explanation"]["text"], PASSED_WORDS)
        ding = [json.loads(r["body"])["markdown"]["text"] for r in self.sink.got("/ding")]
        self.assertIn(PASSED_WORDS, ding[-1])
        self.assertIn(f"{PASSED_WORDS}。", self.briefing("2024-06-03", "briefing-passed"))
        self.assertTrue(self.briefing_item("employment_new")["catch_up_passed"])
        self.assertIn("城镇新增就业（严重滞后，1000人，已过预计追平日期）", self.doc["summary_text"])
        env.start(PASSED, ready=lambda: harness.port_open(p))
        page = self.dashboard()
        self.assertIn(f'<p class="note explanation overdue">{PASSED_WORDS}</p>', page)
        self.assertIn(f'<span class="why overdue">{PASSED_WORDS}</span></li>', page)

    def test_refused_input_and_other_departments(self):
        env, p, t = self.env, self.port, self.token
        env.start(NOW, ready=lambda: harness.port_open(p))
        before = env.journal_text()
        cases = (({"reason": "", "measures": MEASURES}, "reason", "请填写原因"),
                 ({"reason": "   "}, "reason", "请填写原因"),
                 ({"reason": REASON, "catch_up": "下个月"}, "catch_up", "日期无法识别"),
                 ({"reason": REASON, "catch_up": "2024-04-01"}, "catch_up", "不能早于今天"),
                 ({"reason": REASON, "catch_up": "2150-01-01"}, "catch_up", "1971年至2100年"),
                 ({"reason": "慢" * 501}, "reason", "不能超过500字"),
                 ({"reason": REASON, "measures": "措" * 501}, "measures", "不能超过500字"),
                 ({"reason": ["x"]}, "reason", "格式不对"))
        for body, field, words in cases:
            with self.subTest(body=str(body)[:40]):
                st, text = request(p, "POST", PATH, t, body)
                self.assertEqual(st, 422, text)
                doc = json.loads(text)
                self.assertEqual(doc["field"], field)
                self.assertIn(words, doc["message"])
        # Bytes that are not UTF-8, in a form body.
        st, text = request(p, "POST", PATH, t, "reason=%FF%FE&catch_up=2024-05-31",
                           ctype="application/x-www-form-urlencoded")
        self.assertEqual(st, 422, text)
        self.assertEqual(json.loads(text)["field"], "reason")
        self.assertEqual(request(p, "POST", PATH, t, "{not json")[0], 400)
        # Another department's token, or an indicator of another department: 403; no token 401;
        # another suffix 404; only POST.
        self.assertEqual(request(p, "POST", PATH, self.housing, {"reason": REASON})[0], 403)
        self.assertEqual(request(p, "POST", "/report/housing/employment_new/explanation",
                                 self.housing, {"reason": REASON})[0], 403)
        self.assertEqual(request(p, "POST", PATH, None, {"reason": REASON})[0], 401)
        self.assertEqual(request(p, "POST", "/report/hrss/employment_new/other", t,
                                 {"reason": REASON})[0], 404)
        self.assertEqual(request(p, "POST", "/report/hrss/employment_new/explanation/x", t,
                                 {"reason": REASON})[0], 404)
        self.assertEqual(request(p, "GET", PATH, t)[0], 405)
        self.assertEqual(env.journal_text(), before)
        self.assertEqual(self.audit(), [])

        # A form body in a date form of docs/values.md, and outside text escaped on the card.
        st, text = request(p, "POST", "/report/housing/rental_units/explanation", self.housing,
                           urllib.parse.urlencode({"reason": "<b>征迁</b>&延后",
                                                   "catch_up": "2024年6月20日"}),
                           ctype="application/x-www-form-urlencoded")
        self.assertEqual(st, 200, text)
        self.assertEqual(json.loads(text)["message"],
                         "已保存。县住建局说明：<b>征迁</b>&延后；预计6月20日前追平。")
        self.assertRegex(env.journal_lines()[-1], r"\trental_units\texplanation\t.*\t"
                         r"report:housing\t<b>征迁</b>&延后\t\t2024-06-20\n$")
        page = self.dashboard()
        self.assertIn("县住建局说明：&lt;b&gt;征迁&lt;/b&gt;&amp;延后；预计6月20日前追平", page)
        self.assertNotIn("<b>征迁", page)
        # The page part of an indicator that does not lag shows its explanation's form all the
        # same (it has a current one), escaped.
        st, part = request(p, "GET", "/report/housing/view", self.housing)
        self.assertEqual(st, 200)
        self.assertIn('<form class="part explain" data-indicator="rental_units"', part)
        self.assertIn("&lt;b&gt;征迁&lt;/b&gt;&amp;延后</textarea>", part)


if __name__ == "__main__":
    harness.main()
