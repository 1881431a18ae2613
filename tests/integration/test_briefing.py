#!/usr/bin/python3
"""Integration tests of graphs and the weekly briefing: the demo (the seed report's Q1 2024
figures) judged at 2024-04-30, `pacewatch graph` in PNG and SVG, `pacewatch briefing` parsed
for its structure, every embedded image decoded, and the HTML rendered by a real headless
Chromium to a screenshot (not blank) and to an A4 PDF. Also a whole year of weekly data, to
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
        self.assertEqual(p.domains, ["domain-" + d for d in domains])
        ids = [i for i, _ in p.indicators]
        self.assertEqual(sorted(ids), sorted(s["id"] for s in self.status))
        self.assertEqual(len(ids), len(set(ids)))
        want = {s["id"]: s["status"] for s in self.status}
        self.assertEqual(dict(p.indicators), want)
        for st in ("ok", "lagging", "severe", "no_data", "no_target"):
            self.assertEqual(p.counts.get(st), sum(1 for s in self.status if s["status"] == st),
                             st)
        self.assertEqual(p.counts.get("stale"), sum(1 for s in self.status if s["stale"]))
        for section in ("gaps", "lagging", "changes", "revisions"):
            self.assertIn(section, p.ids)
        text = "".join(p.text)
        # The report's own kind of sentences, written from the data.
        self.assertIn("幼有善育方面", text)
        self.assertIn("涉及3个重点指标", text)
        self.assertIn("以上指标均达季度目标要求", text)
        self.assertIn("数据未公布", text)
        self.assertIn("任务未下达", text)
        self.assertIn("“15分钟公共服务圈”均衡得分", text)
        self.assertIn("51.03万", text)

    def test_images_decode(self):
        p = Structure()
        p.feed(self.html)
        pngs = [src for src in p.images if src.startswith("data:image/png;base64,")]
        self.assertEqual(len(pngs), len(self.status))
        for src in pngs:
            w, h = png_size(base64.b64decode(src.split(",", 1)[1]))
            self.assertGreaterEqual(w, 800)
            self.assertGreaterEqual(h, 300)
        # Markdown: sections in order and PNG files beside it.
        heads = [l for l in self.md.splitlines() if l.startswith("### ")]
        names = ["重大项目及民生实事", "幼有善育", "学有优教", "劳有所得", "病有良医", "住有宜居",
                 "老有康养", "弱有众扶"]
        self.assertEqual(len(heads), len(names))
        for h, n in zip(heads, names):
            self.assertIn(n + "方面", h)
        refs = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", self.md)
        self.assertEqual(len(refs), len(self.status))
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
        try:
            subprocess.run(flags + ["--screenshot=" + shot, "--window-size=1200,2400", url],
                           capture_output=True, timeout=120, check=True)
            subprocess.run(flags + ["--print-to-pdf=" + pdf, "--no-pdf-header-footer", url],
                           capture_output=True, timeout=120, check=True)
        finally:
            shutil.rmtree(profile, ignore_errors=True)
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
