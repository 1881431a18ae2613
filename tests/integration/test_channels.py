#!/usr/bin/python3
"""Integration tests of the briefing in the form each channel shows (docs/briefing.md "Files"
and "Delivery", docs/http.md "/briefings/"), on the demo judged at 2024-04-30:

- the Word document read by python-docx (title, headings in order, every indicator in the
  appendix's table, the pictures, A4, the body's fonts and the page-number field) and converted
  by LibreOffice headless to a PDF whose body (before 附件1) is at most four pages and holds the
  report's phrasings (pdftotext); the PDF and its first page as PNG stay in the output folder;
- the daemon's scheduled briefing through every channel: the email parsed by Python's email
  package (multipart/related, every cid: resolves to an inline part, no data: URI, the .docx
  attached); DingTalk, WeCom and Feishu one message each within the robot's size limit, with no
  table syntax, no image and the link to the briefing at daemon.public_url; the webhook the
  structured document with the sentences, statuses and links;
- /briefings/ served by the status server (the list, each week's files with their types, a
  strict name check: traversal, other files and links are not served) and a headless Chromium
  screenshot of the list in the output folder."""

import email.policy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import harness  # noqa: E402

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
PDFTOTEXT = shutil.which("pdftotext")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
try:
    import docx  # python3-docx
except ImportError:  # pragma: no cover - quickstart.sh test installs it
    docx = None

PUBLIC = "http://pw.example.gov.cn:8080/pw"
WEEK = "2024-W18"
HEADINGS = ["一、总体情况", "二、分领域情况", "三、存在问题", "四、下步举措",
            "附件1　指标完成情况一览表", "附件2　与上周相比", "附件3　指标趋势图"]


def demo_env(test_or_cls, cls=False):
    env = test_or_cls.new_class_env() if cls else test_or_cls.new_env(cli_timeout=120)
    env.copy_demo()
    env.cli("import", os.path.join(env.dir, "history.csv"))
    return env


@unittest.skipIf(docx is None, "python3-docx is not installed")
class WordDocument(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = env = demo_env(cls, cls=True)
        cls.outdir = env.out
        out = env.cli("briefing", "--at", "2024-04-30", "-o", cls.outdir)
        cls.docx_path = os.path.join(cls.outdir, WEEK + ".docx")
        assert cls.docx_path in out, out
        cls.status = env.status("--at", "2024-04-30")["indicators"]
        cls.doc = docx.Document(cls.docx_path)

    def test_headings_table_pictures(self):
        d = self.doc
        paras = d.paragraphs
        self.assertEqual(paras[0].style.name, "Title")
        self.assertEqual(paras[0].text, "平阳县公共服务“七优享”工程推进情况")
        self.assertNotIn("W18", paras[0].text)
        self.assertIn("2024年4月22日—28日", paras[2].text)
        h1 = [p.text for p in paras if p.style.name == "Heading 1"]
        self.assertEqual(h1, HEADINGS)
        # Each area's paragraph opens with its heading, in the report's order.
        areas = [p.text.split("。")[0] for p in paras if re.match(r"（[一二三四五六七八]）", p.text)]
        self.assertEqual(areas, ["（一）重大项目及民生实事方面", "（二）幼有善育方面",
                                 "（三）学有优教方面", "（四）劳有所得方面", "（五）病有良医方面",
                                 "（六）住有宜居方面", "（七）老有康养方面", "（八）弱有众扶方面"])
        # The appendix's table: a header row, then every indicator.
        self.assertEqual(len(d.tables), 1)
        t = d.tables[0]
        header = [c.text for c in t.rows[0].cells]
        self.assertIn("指标", header)
        names = [r.cells[header.index("指标")].text for r in t.rows[1:]]
        want = [s["name"] for s in self.status]
        self.assertEqual(sorted(names), sorted(want))
        # Pictures: every indicator's graph in the appendix, plus the body's.
        self.assertGreaterEqual(len(d.inline_shapes), len(self.status))
        for s in d.inline_shapes:
            self.assertGreater(s.width, 0)
            self.assertLessEqual(s.width, d.sections[0].page_width)
        with tempfile.TemporaryDirectory() as tmp:
            shutil.unpack_archive(self.docx_path, tmp, "zip")
            media = os.listdir(os.path.join(tmp, "word", "media"))
            self.assertEqual(len(media), len(self.status))
            with open(os.path.join(tmp, "word", "footer1.xml"), encoding="utf-8") as f:
                self.assertIn("PAGE", f.read())
            with open(os.path.join(tmp, "word", "styles.xml"), encoding="utf-8") as f:
                styles = f.read()
            for font in ("仿宋_GB2312", "黑体", "方正小标宋简体"):
                self.assertIn(font, styles)

    def test_page_and_fonts(self):
        s = self.doc.sections[0]
        self.assertEqual((round(s.page_width.mm), round(s.page_height.mm)), (210, 297))
        normal = self.doc.styles["Normal"]
        self.assertEqual(self.doc.styles.default(docx.enum.style.WD_STYLE_TYPE.PARAGRAPH).name,
                         "Normal")
        # 三号 = 16 pt (docDefaults), a first-line indent of two characters.
        self.assertIn('w:firstLineChars="200"', normal.element.xml)
        title = self.doc.styles["Title"]
        self.assertTrue(title.font.bold)
        self.assertEqual(title.font.size.pt, 22)  # 二号

    @unittest.skipUnless(SOFFICE and PDFTOTEXT, "LibreOffice or poppler-utils is not installed")
    def test_libreoffice_pdf(self):
        profile = tempfile.mkdtemp(prefix="pw-soffice-")
        try:
            subprocess.run([SOFFICE, "-env:UserInstallation=file://" + profile, "--headless",
                            "--convert-to", "pdf", "--outdir", self.outdir, self.docx_path],
                           capture_output=True, timeout=240, check=True)
        finally:
            shutil.rmtree(profile, ignore_errors=True)
        pdf = os.path.join(self.outdir, WEEK + ".pdf")
        info = subprocess.run(["pdfinfo", pdf], capture_output=True, text=True,
                              check=True).stdout
        pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
        texts = [subprocess.run([PDFTOTEXT, "-f", str(i), "-l", str(i), pdf, "-"],
                                capture_output=True, text=True, check=True).stdout
                 for i in range(1, pages + 1)]
        flat = [re.sub(r"\s+", "", t) for t in texts]
        appendix = next(i for i, t in enumerate(flat) if "附件1" in t)
        sys.stderr.write(f"Word document: {pages} pages, body {appendix}\n")
        # The body (before the appendix's page) runs to at most four A4 pages.
        self.assertLessEqual(appendix, 4)
        body = "".join(flat[:appendix])
        for phrase in ("完成第一季度目标（2600人次）的183.9%", "4.35个", "省人社厅",
                       "低于全省平均", "以上指标均达季度目标要求", "三、存在问题", "四、下步举措",
                       "（由专班办公室补充）"):
            self.assertIn(phrase, body)
        self.assertNotIn("W18", flat[0])
        # Page numbers in the footer.
        self.assertIn("—1—", flat[0])
        subprocess.run(["pdftoppm", "-r", "60", "-png", "-f", "1", "-l", str(appendix + 1), pdf,
                        os.path.join(self.outdir, "docx-page")], check=True, timeout=120)


RECEIVERS = """receivers = (
  { id = "ops_log"; type = "log"; },
  { id = "mail"; type = "email"; url = "smtp://127.0.0.1:{smtp}"; from = "pw@example.gov.cn";
    to = [ "office@example.gov.cn" ]; },
  { id = "ding"; type = "dingtalk"; url = "http://127.0.0.1:{port}/ding?access_token=T"; },
  { id = "wc"; type = "wecom"; url = "http://127.0.0.1:{port}/wecom?key=K"; },
  { id = "fs"; type = "feishu"; url = "http://127.0.0.1:{port}/feishu"; },
  { id = "hook"; type = "webhook"; url = "http://127.0.0.1:{port}/hook"; }
);"""


class Channels(harness.TestCase):
    def test_every_channel_and_briefings_served(self):
        env = demo_env(self)
        sink, smtp = env.webhook_sink(), env.smtp_sink()
        port = harness.free_port()
        env.edit_conf('receivers = (\n  { id = "ops_log"; type = "log"; }\n);',
                      RECEIVERS.replace("{smtp}", str(smtp.port)).replace("{port}",
                                                                          str(sink.port)))
        # The demo names its own public_url: replaced, not set twice.
        env.write_conf(re.sub(r'public_url\s*=\s*"[^"]*";', f'public_url = "{PUBLIC}";',
                              env.conf_text()))
        env.edit_conf('http_listen = "127.0.0.1:9464";', f'http_listen = "127.0.0.1:{port}";')
        env.edit_conf('issuer   = "县府办";',
                      'issuer   = "县府办";\n  receivers = [ "mail", "ding", "wc", "fs", "hook" ];')
        env.start("2024-04-29T07:59:57+08:00")
        try:
            env.wait(lambda: len(sink.messages()) >= 4 and len(smtp.files()) >= 1, 120,
                     "the briefing on every channel")
            self.check_email(smtp.messages())
            self.check_robots(sink)
            self.check_webhook(sink)
            self.check_served(env, port)
        finally:
            env.stop(timeout=20)
        self.assertEqual(env.sanitizer_reports(), [])

    def check_email(self, msgs):
        self.assertEqual(len(msgs), 1)
        msg = msgs[0]
        self.assertEqual(str(msg["Subject"]), "平阳县公共服务“七优享”工程推进情况（2024年4月22日—28日）")
        types = [p.get_content_type() for p in msg.walk()]
        self.assertEqual(msg.get_content_type(), "multipart/mixed")
        self.assertIn("multipart/related", types)
        html = [p for p in msg.walk() if p.get_content_type() == "text/html"][0].get_content()
        self.assertNotIn("data:", html)
        cids = {p["Content-ID"].strip("<>"): p for p in msg.walk() if p["Content-ID"]}
        refs = re.findall(r'src="cid:([^"]+)"', html)
        self.assertGreater(len(refs), 0)
        for ref in refs:
            self.assertIn(ref, cids)
            self.assertTrue(cids[ref].get_content().startswith(b"\x89PNG\r\n\x1a\n"))
        for tag in re.findall(r"<img [^>]*>", html):
            self.assertIn("max-width:100%", tag)
        att = [p for p in msg.walk() if p.get_content_disposition() == "attachment"]
        self.assertEqual(len(att), 1)
        self.assertEqual(att[0].get_filename(), WEEK + ".docx")
        self.assertEqual(att[0].get_content_type(),
                         "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
        self.assertTrue(att[0].get_content().startswith(b"PK"))

    def check_robots(self, sink):
        link = f"{PUBLIC}/briefings/{WEEK}.html"
        limits = {"/ding": ("markdown", "text", 20000), "/wecom": ("markdown", "content", 4096),
                  "/feishu": ("content", "text", 20000)}
        for path, (outer, inner, limit) in limits.items():
            msgs = sink.messages(path)
            self.assertEqual(len(msgs), 1, path)  # one message, not the briefing in pieces
            body = msgs[0]["body"]
            text = json.loads(body)[outer][inner]
            size = len(text.encode("utf-8")) if path == "/wecom" else len(body.encode("utf-8"))
            sys.stderr.write(f"{path}: {size} bytes (limit {limit})\n")
            self.assertLessEqual(size, limit, path)
            self.assertIn(link, text, path)
            self.assertIn("总体情况", text)
            self.assertIn("本周共监测32个重点指标", text)
            self.assertIn("“15分钟公共服务圈”均衡得分", text)  # lagging, by department
            self.assertIn("县府办：", text)
            self.assertIn("调查失业率", text)  # the data gap
            self.assertNotRegex(text, r"\|\s*-{3}|^\s*\|", path)  # no table
            self.assertNotIn("![", text)
            self.assertNotIn(".png", text)
        self.assertIn("[查看完整简报](", json.loads(sink.messages("/ding")[0]["body"])
                      ["markdown"]["text"])

    def check_webhook(self, sink):
        b = json.loads(sink.messages("/hook")[0]["body"])["briefing"]
        self.assertEqual(b["week"], WEEK)
        self.assertEqual(b["links"]["html"], f"{PUBLIC}/briefings/{WEEK}.html")
        self.assertEqual(b["links"]["docx"], f"{PUBLIC}/briefings/{WEEK}.docx")
        doc = b["document"]
        self.assertEqual([s["id"] for s in doc["sections"] if s["level"] == 1][:4],
                         ["summary", "areas", "problems", "actions"])
        inds = {i["id"]: i for i in doc["indicators"]}
        self.assertEqual(len(inds), 32)
        self.assertEqual(inds["vocational_training"]["status"], "ok")
        self.assertIn("183.9%", inds["vocational_training"]["sentence"])
        self.assertEqual(inds["surveyed_unemployment"]["status"], "no_data")
        self.assertEqual(doc["counts"]["ok"] + doc["counts"]["lagging"] + doc["counts"]["severe"]
                         + doc["counts"]["no_data"] + doc["counts"]["no_target"], 32)

    def check_served(self, env, port):
        base = f"http://127.0.0.1:{port}/briefings/"
        st, h, body = curl(base)
        self.assertEqual(st, 200)
        self.assertTrue(h["content-type"].startswith("text/html"))
        page = body.decode("utf-8")
        self.assertIn("周报列表", page)
        self.assertIn(f'href="{WEEK}.html"', page)
        self.assertIn(f'href="{WEEK}.docx"', page)
        st, h, body = curl(base + WEEK + ".docx")
        self.assertEqual(st, 200)
        self.assertEqual(h["content-type"],
                         "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
        self.assertEqual(h["content-disposition"], f'attachment; filename="{WEEK}.docx"')
        with open(os.path.join(env.state, "briefings", WEEK + ".docx"), "rb") as f:
            self.assertEqual(body, f.read())
        st, h, body = curl(base + WEEK + ".html")
        self.assertEqual(st, 200)
        self.assertIn("总体情况", body.decode("utf-8"))
        st, h, body = curl(base + WEEK + ".md")
        self.assertEqual((st, h["content-type"]), (200, "text/markdown; charset=utf-8"))
        # Nothing else is served: other files of the directory, traversal, links.
        os.symlink(env.conf, os.path.join(env.state, "briefings", "2023-W01.html"))
        for bad in (WEEK + ".json", "../pacewatch.conf", "..%2fpacewatch.conf", "2023-W01.html",
                    WEEK + ".actions.md", "x/../" + WEEK + ".md", WEEK + ".html%00"):
            st, _, _ = curl("--path-as-is", base + bad)
            self.assertEqual(st, 404, bad)
        st, _, body = curl(base)
        self.assertNotIn("2023-W01", body.decode("utf-8"))
        if os.path.exists(CHROMIUM):
            profile = tempfile.mkdtemp(prefix="pw-chromium-")
            shot = os.path.join(env.out, "briefings-list.png")
            try:
                subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                                "--no-first-run", "--disable-background-networking",
                                "--user-data-dir=" + profile, "--screenshot=" + shot,
                                "--window-size=900,500", base],
                               capture_output=True, timeout=120, check=True)
            finally:
                shutil.rmtree(profile, ignore_errors=True)
            self.assertGreater(os.path.getsize(shot), 1000)


def curl(*args, timeout=60):
    """Runs curl; returns (status, headers dict (lower-case names), body bytes)."""
    with tempfile.NamedTemporaryFile() as hdr, tempfile.NamedTemporaryFile() as body:
        p = subprocess.run(["curl", "-sS", "--max-time", str(timeout), "-D", hdr.name, "-o",
                            body.name, "-w", "%{http_code}", *args], capture_output=True,
                           text=True, timeout=timeout + 10)
        headers = {}
        with open(hdr.name, encoding="latin-1") as f:
            for line in f.read().splitlines()[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
        with open(body.name, "rb") as f:
            return int(p.stdout or 0), headers, f.read()


if __name__ == "__main__":
    harness.main()
