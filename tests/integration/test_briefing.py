#!/usr/bin/python3
"""Integration tests of graphs and the weekly briefing: the demo (the seed report's Q1 2024
figures) judged at 2024-04-30, `pacewatch graph` in PNG and SVG, `pacewatch briefing` parsed
for its structure and read for the report's own phrasings of the demo's facts (docs/briefing.md),
the actions file's text in 下步举措, every embedded image decoded, and the HTML rendered by a real
headless Chromium to a screenshot (not blank, kept in the test's output folder) and to an A4
PDF, whose body before the appendix is at most four pages. Also a whole year of weekly data, to
check that any week of the year works."""

import base64
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
from html.parser import HTMLParser

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import harness  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def run(*args):
    return harness.pacewatch(*args, timeout=300)


def png_size(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:8]
    w, h = struct.unpack(">II", data[16:24])
    return w, h


class Structure(HTMLParser):
    """Collects the briefing's structural elements in document order."""

    def __init__(self):
        super().__init__()
        self.domains, self.indicators, self.counts, self.images = [], [], {}, []
        self.ids = set()
        self._count = None
        self.text = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "section" and "domain" in cls:
            self.domains.append(a.get("id", ""))
        if "indicator" in cls and "data-id" in a:
            self.indicators.append((a["data-id"], a.get("data-status")))
        if "count" in cls and "data-status" in a:
            self._count = a["data-status"]
        if tag == "img":
            self.images.append(a.get("src", ""))

    def handle_data(self, data):
        self.text.append(data)
        if self._count is not None and data.strip():
            self.counts[self._count] = int(data.strip())
            self._count = None


class Demo(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        env = cls.new_class_env()
        env.copy_demo()
        cls.dir, cls.conf = env.dir, env.conf
        rc, out, err = run("import", "-c", cls.conf, os.path.join(cls.dir, "history.csv"))
        assert rc == 0, err
        cls.out = os.path.join(cls.dir, "out")
        rc, out, err = run("briefing", "-c", cls.conf, "--at", "2024-04-30", "-o", cls.out)
        assert rc == 0, err
        cls.html_path = os.path.join(cls.out, "2024-W18.html")
        cls.md_path = os.path.join(cls.out, "2024-W18.md")
        with open(cls.html_path, encoding="utf-8") as f:
            cls.html = f.read()
        with open(cls.md_path, encoding="utf-8") as f:
            cls.md = f.read()
        rc, out, err = run("status", "-c", cls.conf, "--at", "2024-04-30", "--json")
        cls.status = json.loads(out)["indicators"]

    def test_structure(self):
        p = Structure()
        p.feed(self.html)
        domains = ["programme", "childcare", "education", "employment", "health", "housing",
                   "elderly", "vulnerable"]
        self.assertEqual([d for d in p.domains], ["domain-" + d for d in domains])
        ids = [i for i, _ in p.indicators]
        self.assertEqual(set(ids), set(s["id"] for s in self.status))
        want = {s["id"]: s["status"] for s in self.status}
        for i, st in p.indicators:
            self.assertEqual(st, want[i], i)
        body = re.search(r"<body ([^>]*)>", self.html).group(1)
        for st, attr in (("ok", "ok"), ("lagging", "lagging"), ("severe", "severe"),
                         ("no_data", "no-data"), ("no_target", "no-target")):
            n = sum(1 for s in self.status if s["status"] == st)
            self.assertIn(f'data-{attr}="{n}"', body)
        for section in ("summary", "areas", "problems", "actions", "table", "changes", "graphs"):
            self.assertIn(section, p.ids)

    def test_report_phrasings(self):
        """The demo's facts in the report's own words (issue 13's Tests)."""
        text = re.sub(r"<[^>]+>", "", self.html)
        h1 = re.search(r"<h1>(.*?)</h1>", self.html).group(1)
        self.assertEqual(h1, "平阳县公共服务“七优享”工程推进情况")
        self.assertNotRegex(h1, r"W\d\d")
        title = re.search(r"<title>(.*?)</title>", self.html).group(1)
        self.assertNotRegex(title, r"W\d\d")
        self.assertIn("县府办　2024年4月30日", text)
        self.assertIn("2024年4月22日—28日", text)
        self.assertRegex(text, r"职业教育培训人次。截至3月底，累计4782人次，完成第一季度目标(（[^）]*）)?的183\.9%")
        self.assertRegex(text, r"每千人口拥有3岁以下婴幼儿托位数。截至3月底，达4\.35个，高于季度目标值")
        self.assertIn("低于全省平均分（86.83分）3.7分", text)
        self.assertIn("达到省定标准（85%）", text)
        self.assertIn("调查失业率。一季度省人社厅尚未对外公布", text)
        self.assertIn("基本养老保险参保人数。市对县的任务分解指标尚未下达", text)
        self.assertIn("每千常住人口执业(助理)医师数。截至2023年底为3.56人，省卫健委对县的任务分解指标尚未下达",
                      text)
        self.assertIn("每万名3岁以上常住人口文化设施数。截至3月底为1.88个，未设目标", text)
        self.assertIn("以上指标均达季度目标要求。", text)
        self.assertIn("除调查失业率外，其余指标均达季度目标要求。", text)
        # An indicator without a target (none set, or not issued) is no exception, as the
        # report writes (二)(五)(七).
        self.assertIn("除“15分钟公共服务圈”均衡得分外，其余指标均达季度目标要求。", text)
        self.assertNotIn("除基本养老保险参保人数外", text)
        self.assertNotIn("除每千常住人口执业(助理)医师数外", text)
        self.assertIn("已成立创建领导小组；计划6月底前通过市级评估", text)
        self.assertIn("2023年10月起达13320元/年", text)
        self.assertIn("（4.1个，暂定）", text)
        self.assertIn("51.03万人次", text)
        # Never-had-data is not "N天未更新"; no status codes or emoji in the text.
        self.assertNotRegex(text, r"调查失业率[^。]*天未更新")
        self.assertNotIn("121天", text)
        self.assertNotIn("，正常。", text)
        self.assertNotRegex(self.html + self.md, "[\U0001F300-\U0001FAFF]")
        # 总体情况: counts, headline figures, a conclusion.
        summary = text[text.index("一、总体情况"):text.index("二、分领域情况")]
        self.assertIn("本周共监测32个重点指标", summary)
        self.assertIn("“七优享”重大项目完成投资1.98亿元，完成年度目标的33.3%", summary)
        self.assertIn("总体来看", summary)
        # 存在问题 and 下步举措, the latter a marked empty slot without an actions file.
        problems = text[text.index("三、存在问题"):text.index("四、下步举措")]
        self.assertIn("一是部分指标低于比较标准。", problems)
        self.assertIn("调查失业率数据待省人社厅公布", problems)
        self.assertIn("基本养老保险参保人数任务尚未下达（待市分解）", problems)
        actions = text[text.index("四、下步举措"):text.index("附件1")]
        self.assertIn("（由专班办公室补充）", actions)
        # 与上周相比 lists only what changed (nothing, in the demo's week).
        changes = text[text.index("附件2"):]
        self.assertNotIn("无变化", changes)
        self.assertLess(changes.count("。"), 5)

    def test_actions_file(self):
        path = os.path.join(self.dir, "state", "briefings", "2024-W18.actions.md")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write("一是统筹协调，全面推进“七优享”创先争优。\n\n二是强化督导，全面提升民生实事质效。\n")
        out = os.path.join(self.dir, "out-actions")
        try:
            rc, _, err = run("briefing", "-c", self.conf, "--at", "2024-04-30", "-o", out)
        finally:
            os.unlink(path)
        self.assertEqual(rc, 0, err)
        with open(os.path.join(out, "2024-W18.html"), encoding="utf-8") as f:
            html = f.read()
        part = html[html.index('id="actions"'):html.index('id="table"')]
        self.assertIn("<p>一是统筹协调，全面推进“七优享”创先争优。</p>", part)
        self.assertIn("<p>二是强化督导，全面提升民生实事质效。</p>", part)
        self.assertNotIn("由专班办公室补充", part)

    def test_images_decode(self):
        p = Structure()
        p.feed(self.html)
        pngs = [src for src in p.images if src.startswith("data:image/png;base64,")]
        # Every graph in the appendix, plus in the body those needing attention (the two
        # headline indicators and the lagging service-circle score).
        attention = sum(1 for s in self.status if s["status"] in ("lagging", "severe")) + 2
        self.assertEqual(len(pngs), len(self.status) + attention)
        for src in pngs:
            w, h = png_size(base64.b64decode(src.split(",", 1)[1]))
            self.assertGreaterEqual(w, 800)
            self.assertGreaterEqual(h, 300)
        # Markdown: sections in order and PNG files beside it.
        heads = [l for l in self.md.splitlines() if l.startswith("### ")]
        self.assertNotIn("W18", self.md.split("\n", 1)[0])
        names = ["重大项目及民生实事", "幼有善育", "学有优教", "劳有所得", "病有良医", "住有宜居",
                 "老有康养", "弱有众扶"]
        self.assertEqual(len(heads), len(names))
        for h, n in zip(heads, names):
            self.assertIn(n + "方面", h)
        refs = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", self.md)
        self.assertEqual(len(set(refs)), len(self.status))
        for r in refs:
            with open(os.path.join(self.out, r), "rb") as f:
                png_size(f.read())

    def test_graph_command(self):
        for fmt in ("png", "svg"):
            out = os.path.join(self.dir, "g." + fmt)
            rc, _, err = run("graph", "-c", self.conf, "health_checkups", "--at", "2024-04-30",
                             "--format", fmt, "-o", out)
            self.assertEqual(rc, 0, err)
            with open(out, "rb") as f:
                data = f.read()
            if fmt == "png":
                w, h = png_size(data)
                self.assertGreaterEqual((w, h), (800, 300))
            else:
                self.assertIn(b"<svg", data[:400])
        rc, _, err = run("graph", "-c", self.conf, "nope", "-o", os.path.join(self.dir, "x.png"))
        self.assertEqual(rc, 2)

    @unittest.skipUnless(os.path.exists(CHROMIUM), "chromium is not installed")
    def test_chromium_renders(self):
        from PIL import Image
        profile = tempfile.mkdtemp(prefix="pw-chromium-")
        shot = os.path.join(self.dir, "shot.png")
        pdf = os.path.join(self.dir, "brief.pdf")
        flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--user-data-dir=" + profile]
        url = "file://" + self.html_path
        # The body alone (everything before the appendix), to count its printed pages.
        cut = self.html.index('<section class="part appendix first"')
        body_html = os.path.join(self.out, "body.html")
        with open(body_html, "w", encoding="utf-8") as f:
            f.write(self.html[:cut] + "</body>\n</html>\n")
        body_pdf = os.path.join(self.dir, "body.pdf")
        try:
            subprocess.run(flags + ["--screenshot=" + shot, "--window-size=1200,2400", url],
                           capture_output=True, timeout=120, check=True)
            subprocess.run(flags + ["--print-to-pdf=" + pdf, "--no-pdf-header-footer", url],
                           capture_output=True, timeout=120, check=True)
            subprocess.run(flags + ["--print-to-pdf=" + body_pdf, "--no-pdf-header-footer",
                                    "file://" + body_html],
                           capture_output=True, timeout=120, check=True)
        finally:
            shutil.rmtree(profile, ignore_errors=True)
        with open(body_pdf, "rb") as f:
            pages = len(re.findall(rb"/Type\s*/Page(?!s)", f.read()))
        sys.stderr.write(f"briefing body: {pages} A4 pages\n")
        # The report is about three pages; the body must not run past four.
        self.assertGreaterEqual(pages, 2)
        self.assertLessEqual(pages, 4)
        img = Image.open(shot).convert("RGB")
        self.assertEqual(img.size, (1200, 2400))
        colors = img.getcolors(maxcolors=1 << 20)
        self.assertIsNotNone(colors)
        self.assertGreater(len(colors), 50)  # text, lights and graphs: not a blank page
        dominant = max(colors)[0] / (img.size[0] * img.size[1])
        self.assertLess(dominant, 0.97)
        with open(pdf, "rb") as f:
            data = f.read()
        self.assertTrue(data.startswith(b"%PDF"))
        # A4 is 595 x 842 points.
        self.assertTrue(re.search(rb"/MediaBox\s*\[\s*0 0 59[45]\.?\d*\s+84[12]\.?\d*\s*\]", data),
                        "not an A4 page")


class YearOfData(harness.TestCase):
    def test_any_week_of_a_year(self):
        env = self.new_env()
        env.copy_demo(history=False, data=False)
        d, conf = env.dir, env.conf
        rows = ["indicator,as_of,value"]
        import datetime
        day = datetime.date(2024, 1, 7)
        n = 0
        while day.year == 2024:
            n += 1
            rows.append(f"vocational_training,{day},{n * 300}")
            rows.append(f"health_checkups,{day},{n * 3600}")
            rows.append(f"service_circle_score,{day},{80 + n * 0.1:.1f}")
            day += datetime.timedelta(days=7)
        with open(os.path.join(d, "year.csv"), "w") as f:
            f.write("\n".join(rows) + "\n")
        rc, out, err = run("import", "-c", conf, os.path.join(d, "year.csv"))
        self.assertEqual(rc, 0, err)
        for at, week in (("2024-01-07", "2024-W01"), ("2024-06-30", "2024-W26"),
                         ("2024-12-29", "2024-W52"), ("2024-12-31", "2025-W01")):
            rc, out, err = run("briefing", "-c", conf, "--at", at, "-o", os.path.join(d, "b"))
            self.assertEqual(rc, 0, err)
            self.assertTrue(os.path.exists(os.path.join(d, "b", week + ".html")), (at, out))


if __name__ == "__main__":
    harness.main()
