#!/usr/bin/python3
"""An Excel workbook uploaded on the department reporting page (docs/http.md "Uploading a
workbook") of a running pacewatchd with the demo at 2024-04-30. A workbook written by openpyxl
(a merged title, the header in the department's words, a date cell, an indicator by its name,
a bad value, another department's indicator, an unknown one, two rows of one indicator and
date, a formula's error) is chosen in the page's file input by headless Chromium at phone size: the preview lists
every row with 可保存 or its reason (screenshot report_upload-preview.png in the test's output
folder) and nothing is in the journal; 确认保存 saves the two good rows through the figure route
(journal, audit, the indicators' new figures on the page; report_upload-saved.png), and the
other department's row is never stored. Over HTTP: an old .xls is refused with 另存为 .xlsx, a
body over 2 MiB is 413 in Chinese, a wrong token 401, another department's token 403, a zip
bomb and a sheet without a header are refused in Chinese, a GET is 405; nothing is stored by
any of them."""

import datetime
import io
import json
import os
import sys
import unittest

import openpyxl

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import harness  # noqa: E402
import chromium_cdp  # noqa: E402
import make_xlsx  # noqa: E402
from test_report_page import PageCase, request  # noqa: E402

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
UPLOAD = "/report/housing/upload"


def workbook():
    """The housing department's April report as a clerk fills it in."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "4月报表"
    ws.append(["县住建局2024年4月指标报送表"])
    ws.merge_cells("A1:E1")
    ws.append(["序号", "指标", "日期", "数值", "备注"])
    rows = [
        (1, "rental_housing_units", datetime.date(2024, 4, 30), "1,350", "含新开工项目"),
        (2, "完工既有住宅加装电梯", "2024-04-30", 4, None),
        (3, "property_mgmt_coverage", "2024-04-30", "九成", None),
        (4, "childcare_places_per_1000", "2024-04-30", 3.5, "卫健局的指标"),
        (5, "old_estate_renovation", "2024-04-30", "50%", None),
        (6, "old_estate_renovation", "2024-04-30", "60%", None),
        (7, "no_such_indicator", "2024-04-30", 1, None),
        (8, "rental_housing_units", "2024-03-31", "#DIV/0!", None),  # a formula's error
    ]
    for r in rows:
        ws.append(list(r))
    ws["C3"].number_format = "yyyy-mm-dd"
    ws.append([])
    ws.append([None, None, None, None, None, "填表人：张三"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


class ReportUpload(PageCase):

    def upload(self, body, token=None, source="127.0.0.1"):
        st, h, text = request(self.d.port, "POST", UPLOAD, self.token if token is None else token,
                              body, ctype=XLSX, source=source)
        return st, h, text

    def test_preview_over_http(self):
        before = self.d.journal_text()
        st, h, text = self.upload(workbook())
        self.assertEqual(st, 200, text)
        self.assertTrue(h["content-type"].startswith("application/json"))
        doc = json.loads(text)
        self.assertEqual(doc["sheet"], "4月报表")
        self.assertEqual((doc["total"], doc["acceptable"]), (8, 2))
        rows = {r["row"]: r for r in doc["rows"]}
        self.assertEqual(sorted(rows), [3, 4, 5, 6, 7, 8, 9, 10])
        good = rows[3]
        self.assertEqual((good["ok"], good["indicator"], good["value"], good["as_of"],
                          good["note"], good["figure"], good["date"]),
                         (True, "rental_housing_units", "1,350", "2024-04-30", "含新开工项目",
                          "1350套(间)", "2024年4月30日"))
        self.assertEqual(rows[4]["indicator"], "elevator_retrofits")  # by its name
        self.assertTrue(rows[4]["ok"])
        self.assertEqual((rows[5]["ok"], rows[5]["kind"]), (False, "bad"))
        self.assertIn("数值无法识别", rows[5]["reason"])
        self.assertEqual((rows[6]["ok"], rows[6]["kind"]), (False, "refused"))
        self.assertIn("不是本部门的指标", rows[6]["reason"])
        self.assertNotIn("indicator", rows[6])  # another department's: neither id nor name
        self.assertNotIn("name", rows[6])
        for r in (7, 8):
            self.assertEqual((rows[r]["ok"], rows[r]["kind"]), (False, "duplicate"))
        self.assertIn("与第8行重复", rows[7]["reason"])
        self.assertIn("与第7行重复", rows[8]["reason"])
        self.assertEqual(rows[9]["kind"], "unknown")
        self.assertIn("没有这项指标", rows[9]["reason"])
        self.assertEqual(rows[10]["kind"], "bad")
        self.assertIn("单元格 D10 是错误值 #DIV/0!", rows[10]["reason"])
        self.assertEqual(self.d.journal_text(), before)

    def test_refusals(self):
        env = self.d
        before = env.journal_text()
        st, _, text = self.upload(make_xlsx.xls())
        self.assertEqual(st, 422, text)
        self.assertIn("另存为", json.loads(text)["message"])
        self.assertIn(".xlsx", json.loads(text)["message"])
        st, _, text = self.upload(b"PK\x03\x04" + bytes(2 * 1024 * 1024))
        self.assertEqual(st, 413, text)
        self.assertIn("文件过大", json.loads(text)["message"])
        for body, words in ((make_xlsx.not_zip(), "文件无法读取"),
                            (make_xlsx.zip_bomb(), "无法读取"),
                            (make_xlsx.empty(), "没有找到表头"),
                            (make_xlsx.mapped(), "没有找到表头"),
                            (b"", "请选择")):
            with self.subTest(words=words, size=len(body)):
                st, _, text = self.upload(body)
                self.assertIn(st, (400, 422), text)
                self.assertIn(words, json.loads(text)["message"])
        self.assertIn("compressed", env.daemon.log())  # the zip bomb, said in English in the log
        # Tokens: none or a wrong one is 401 (the rate limit's address apart), another
        # department's 403; a GET is 405.
        st, _, _ = self.upload(workbook(), token="", source="127.0.0.91")
        self.assertEqual(st, 401)
        st, _, _ = self.upload(workbook(), token=self.token[:-1] + ("A" if self.token[-1] != "A"
                                                                    else "B"),
                               source="127.0.0.91")
        self.assertEqual(st, 401)
        st, _, _ = self.upload(workbook(), token=self.edu)
        self.assertEqual(st, 403)
        st, _, _ = request(env.port, "GET", UPLOAD, self.token)
        self.assertEqual(st, 405)
        self.assertEqual(env.journal_text(), before)
        self.assertTrue(env.daemon.alive())

    @unittest.skipUnless(os.path.exists(chromium_cdp.CHROMIUM), "chromium is not installed")
    def test_phone_upload_preview_confirm(self):
        env = self.d
        path = env.write("住建局4月报表.xlsx", workbook())
        with chromium_cdp.Browser() as b:
            b.viewport(390, 844, True)
            b.open(self.link)
            env.wait(lambda: b.js("document.querySelectorAll('section.ind').length") == 4, 20,
                     "the department's indicators on the page")
            before = env.journal_text()
            doc = b.call("DOM.getDocument")
            node = b.call("DOM.querySelector", {"nodeId": doc["root"]["nodeId"],
                                                "selector": "#up-file"})
            b.call("DOM.setFileInputFiles", {"nodeId": node["nodeId"], "files": [path]})
            env.wait(lambda: b.js("document.querySelectorAll('#up-preview li').length") == 8, 20,
                     "the preview's rows")
            rows = b.js("[...document.querySelectorAll('#up-preview li')].map(li => "
                        "({row: li.dataset.row, kind: li.dataset.kind, what: "
                        "li.querySelector('.what').textContent, why: "
                        "li.querySelector('.why').textContent, fig: "
                        "li.querySelector('.fig').textContent}))")
            by = {r["row"]: r for r in rows}
            self.assertEqual(by["3"]["what"], "建设筹集保障性租赁住房")
            self.assertIn("1350套(间)", by["3"]["fig"])
            self.assertIn("2024年4月30日", by["3"]["fig"])
            self.assertTrue(by["3"]["why"].startswith("可保存"))
            self.assertEqual(by["4"]["what"], "完工既有住宅加装电梯")
            self.assertIn("数值无法识别", by["5"]["why"])
            self.assertIn("九成", by["5"]["fig"])
            self.assertEqual(by["6"]["what"], "childcare_places_per_1000")
            self.assertIn("不是本部门的指标", by["6"]["why"])
            self.assertIn("重复", by["7"]["why"])
            self.assertIn("没有这项指标", by["9"]["why"])
            self.assertIn("2行可保存", b.js("document.getElementById('up-msg').textContent"))
            self.assertEqual(b.js("document.querySelector('#up-preview button').textContent"),
                             "确认保存（2行）")
            lay = b.js("({sw: document.documentElement.scrollWidth, iw: innerWidth, "
                       "btn: document.querySelector('#up-preview button')"
                       ".getBoundingClientRect().height})")
            self.assertLessEqual(lay["sw"], lay["iw"])
            self.assertGreaterEqual(lay["btn"], 44)
            self.assertEqual(env.journal_text(), before)  # nothing stored by the preview
            b.js("document.getElementById('upload').scrollIntoView()")
            b.screenshot(os.path.join(env.out, "report_upload-preview.png"), full=False)

            b.js("document.querySelector('#up-preview button').click()")
            env.wait(lambda: "已保存2行" in b.js("document.getElementById('up-msg').textContent"),
                     30, "the rows saved")
            saved = b.js("[...document.querySelectorAll('#up-preview li.saved .why')]"
                         ".map(e => e.textContent)")
            self.assertEqual(len(saved), 2)
            for s in saved:
                self.assertTrue(s.startswith("已保存。现为“"), s)
            self.assertEqual(b.js("document.querySelectorAll('#up-preview li.failed').length"), 0)
            # The page's part was fetched again: each indicator shows its new figure.
            env.wait(lambda: "1350套(间)" in (b.js(
                "document.querySelector('#ind-rental_housing_units .fig')?.textContent") or ""),
                20, "the new figure on the page")
            self.assertIn("4台", b.js("document.querySelector('#ind-elevator_retrofits .fig')"
                                     ".textContent"))
            b.js("document.getElementById('upload').scrollIntoView()")
            b.screenshot(os.path.join(env.out, "report_upload-saved.png"), full=False)
            self.assertEqual([e for e in b.console_errors() if "status of 4" not in e], [])

        new = [ln.rstrip("\n").split("\t") for ln in env.journal_lines()
               if ln not in before.splitlines(True)]
        got = sorted((f[1], f[0], f[2], f[4], f[5] if len(f) > 5 else "") for f in new)
        self.assertEqual(got, [
            ("elevator_retrofits", "2024-05-01T00:00:00+08:00", "4", "report:housing", ""),
            ("rental_housing_units", "2024-05-01T00:00:00+08:00", "1350", "report:housing",
             "含新开工项目")])
        self.assertNotIn("childcare_places_per_1000\t", "".join(
            ln for ln in env.journal_lines() if ln.startswith("2024-05-01")))
        audit = [json.loads(x) for x in harness.read_text(env.path("state", "audit.log"))
                 .splitlines() if '"report"' in x]
        self.assertEqual(sorted(a["indicator"] for a in audit[-2:]),
                         ["elevator_retrofits", "rental_housing_units"])
        # The status document follows: the two indicators are judged with their new figures.
        st, _, text = request(env.port, "GET", "/api/v1/status")
        self.assertEqual(st, 200)
        values = {i["id"]: i["value"] for i in json.loads(text)["indicators"]}
        self.assertEqual((values["rental_housing_units"], values["elevator_retrofits"]),
                         (1350, 4))


if __name__ == "__main__":
    harness.main()
