#!/usr/bin/python3
'''Excel workbooks as departments send them (docs/spreadsheets.md), written by openpyxl
(tests/support/make_xlsx.py): `pacewatch import` of a workbook (the header by name, Chinese
header words, dates as serial numbers and as text, a percentage, numbers written as text, merged
title cells, empty rows, shared and inline strings with rich text runs, two sheets and --sheet,
the 1904 date system, a mapping given with --columns/--first-row), its errors naming the cell,
and what it refuses (an old .xls, a file that is not a zip, a zip bomb, a document type
declaration); the xlsx parser plugin through a daemon's file source and http source, with cell
paths and keyed paths under a merged two-row header.'''
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import harness
import make_xlsx

CONF = '''
daemon: { state_dir = "state"; };
domains = ( { id = "d"; name = "经济发展"; } );
indicators = (
  { id = "trail"; name = "环浙步道进度率"; domain = "d"; unit = "%"; kind = "cumulative";
    targets = ( { year = 2024; annual = 100; } ); },
  { id = "places"; name = "每千人托位数"; domain = "d"; unit = "个"; kind = "level";
    targets = ( { year = 2024; baseline = 4.0; annual = 4.5; } ); },
  { id = "score"; name = "均衡得分"; domain = "d"; unit = "分"; kind = "standard";
    targets = ( { year = 2024; standard = 86.83; } ); },
  { id = "gdp"; name = "地区生产总值"; domain = "d"; unit = "元"; kind = "cumulative";
    targets = ( { year = 2024; annual = 2000000; } ); }
);
'''

SOURCES = '''
sources = (
  { id = "file"; url = "data/指标表.xlsx"; format = "xlsx"; interval = "1h";
    as_of = "指标表!截至[指标代码=TJ01]"; },
  { id = "web"; url = "{base}/data/source.xlsx"; format = "xlsx"; interval = "1h"; }
);
indicators = (
  { id = "gdp"; name = "地区生产总值"; domain = "d"; unit = "元"; kind = "cumulative";
    source = "file"; path = "指标表!数值[指标代码=TJ01]";
    targets = ( { year = 2024; annual = 2000000; } ); },
  { id = "places"; name = "每千人托位数"; domain = "d"; unit = "个"; kind = "level";
    source = "file"; path = "数值[ 指标代码 = 'TJ02' ]"; as_of = "截至[指标代码=TJ02]";
    targets = ( { year = 2024; baseline = 4.0; annual = 4.5; } ); },
  { id = "rate"; name = "完成率"; domain = "d"; unit = "%"; kind = "cumulative";
    source = "web"; path = "指标表!数值[指标代码=TJ03]"; as_of = "指标表!D7";
    targets = ( { year = 2024; annual = 100; } ); },
  { id = "score"; name = "均衡得分"; domain = "d"; unit = "分"; kind = "standard";
    source = "web"; path = "Sheet2!C5"; as_of = "'指标表'!截至[指标代码=TJ03]";
    targets = ( { year = 2024; standard = 86.83; } ); }
);
'''

MARCH = "2024-04-01T00:00:00+08:00"  # 2024-03-31, the end of the day


def rows(env, ind):
    return [(r["as_of"], r["value"], r["note"]) for r in env.export(ind)]


class Import(harness.TestCase):
    def setUp(self):
        self.env = env = self.new_env()
        env.write_conf(CONF)

    def check_report(self, env, name, places_note="备案机构90家", trail_note="等待上级验收"):
        self.assertEqual(rows(env, "trail"), [(MARCH, "85", trail_note)])
        self.assertEqual(rows(env, "places"), [(MARCH, "4.35", places_note)])
        self.assertEqual(rows(env, "score"), [(MARCH, "84", "")])
        self.assertEqual(rows(env, "gdp"), [(MARCH, "510300", "")])

    def test_report(self):
        # Shared strings, a merged title above the Chinese header, a date as a serial number
        # (two formats) and as text, a percentage, numbers as text, an empty row.
        env = self.env
        path = env.write("报表.xlsx", make_xlsx.report())
        out = env.cli("import", path)
        self.assertIn("报表.xlsx: 4 new samples, 0 duplicates, 0 revisions, 0 not published", out)
        self.check_report(env, path)
        lines = env.journal_lines()
        self.assertEqual(len(lines), 4, lines)
        self.assertTrue(all("\timport" in line for line in lines), lines)
        # Again: duplicates, nothing written.
        out = env.cli("import", path)
        self.assertIn("0 new samples, 4 duplicates", out)
        self.assertEqual(len(env.journal_lines()), 4)
        # The second sheet, by name: the English header, a slash date, separators, a note.
        out = env.cli("import", path, "--sheet", "二月")
        self.assertIn("0 new samples, 0 duplicates, 1 revisions", out)  # an earlier date
        self.assertIn(("2024-03-01T00:00:00+08:00", "1234", "全市第3"), rows(env, "gdp"))
        r = env.cli_run("import", path, "--sheet", "三月")
        self.assertEqual(r.rc, 1)
        self.assertIn("no sheet '三月'; the workbook has: '报表', '二月'", r.err)

    def test_through_the_daemon(self):
        # With a daemon running, the rows of a workbook go through its inbox like a CSV's.
        env = self.env
        env.write_conf(CONF.replace('state_dir = "state";',
                                    'state_dir = "state"; http_listen = "127.0.0.1:{port}";'),
                       port=harness.free_port())
        d = env.start("2024-04-30T12:00:00+08:00")
        out = env.cli("import", env.write("报表.xlsx", make_xlsx.report()))
        self.assertIn("4 new samples", out)
        self.assertEqual(d.stop(), 0)
        self.check_report(env, "报表.xlsx")
        self.assertEqual(env.sanitizer_reports(), [])

    def test_indicator_by_name(self):
        # The indicator column as a department fills it: the configured name, in a workbook and
        # in a CSV alike; a name two indicators share must be given as the id.
        import openpyxl
        env = self.env
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.append(["指标", "日期", "数值"])
        ws.append(["环浙步道进度率", "2024-03-31", "85%"])
        ws.append(["places", "2024-03-31", 4.35])
        out = env.cli("import", env.write("按名称.xlsx", make_xlsx.save(wb)))
        self.assertIn("2 new samples", out)
        self.assertEqual(rows(env, "trail"), [(MARCH, "85", "")])
        csv = env.write("按名称.csv", "indicator,as_of,value\n均衡得分,2024-03-31,84\n".encode())
        self.assertIn("1 new samples", env.cli("import", csv))
        self.assertEqual(rows(env, "score"), [(MARCH, "84", "")])
        env.write_conf(CONF.replace('name = "均衡得分"', 'name = "地区生产总值"'))
        r = env.cli_run("import", env.write("同名.csv",
                                            "indicator,as_of,value\n地区生产总值,2024-03-31,1\n".encode()))
        self.assertEqual(r.rc, 1)
        self.assertIn("unknown indicator '地区生产总值'", r.err)

    def test_1904_inline_and_rich(self):
        env = self.env
        env.cli("import", env.write("mac.xlsx", make_xlsx.report_1904()))
        self.check_report(env, "mac.xlsx")
        env2 = self.new_env("rich")
        env2.write_conf(CONF)
        env2.cli("import", env2.write("rich.xlsx", make_xlsx.inline_and_rich()))
        # Rich text runs joined, the phonetic guide left out; an inline string of two runs.
        self.check_report(env2, "rich.xlsx", places_note="备案机构91家")

    def test_1900_serials(self):
        # Serial numbers under a date format: the 1900 system with Lotus's 1900-02-29 (day 60,
        # a day that never was: refused by the date grammar), the days around it, a time of day.
        env = self.env
        for number, said in ((59, "as_of 1900-02-28 is outside the years"),
                             (60, "bad date '1900-02-29'"),
                             (61, "as_of 1900-03-01 is outside the years"),
                             (45382.5, None)):
            r = env.cli_run("import", env.write("s.xlsx", make_xlsx.serial(number)))
            if said is None:
                self.assertEqual(r.rc, 0, r.err)
            else:
                self.assertEqual(r.rc, 1, r.err)
                self.assertIn("s.xlsx: Sheet!B2: indicator 'gdp': " + said, r.err)
        self.assertEqual(rows(env, "gdp"), [("2024-03-31T12:00:00+08:00", "1", "")])
        # A time format is no date: the number stays a number, not a date.
        r = env.cli_run("import", env.write("t.xlsx", make_xlsx.serial(0.5, "hh:mm")))
        self.assertIn("bad date '0.5'", r.err)

    def test_columns(self):
        env = self.env
        path = env.write("月报.xlsx", make_xlsx.mapped())
        r = env.cli_run("import", path)
        self.assertEqual(r.rc, 1)
        self.assertIn("no header row naming the columns indicator, as_of and value", r.err)
        out = env.cli("import", path, "--columns", "indicator=B,as_of=D,value=E", "--first-row",
                      "3")
        self.assertIn("2 new samples", out)
        self.assertEqual(rows(env, "gdp"), [("2024-05-01T00:00:00+08:00", "520000", "")])
        self.assertEqual(rows(env, "places"), [("2024-05-01T00:00:00+08:00", "4.4", "")])
        for bad in (["--columns", "indicator=B,value=E"], ["--columns", "indicator=B,as_of=4"],
                    ["--first-row", "3"]):
            r = env.cli_run("import", path, *bad)
            self.assertEqual(r.rc, 1, (bad, r.err))
        # The options are for workbooks only.
        csv = env.write("h.csv", "indicator,as_of,value\ngdp,2024-05-31,1\n")
        self.assertEqual(env.cli_run("import", csv, "--sheet", "x").rc, 2)

    def test_errors_name_the_cell(self):
        env = self.env
        path = env.write("报表.xlsx", make_xlsx.bad_cell())
        r = env.cli_run("import", path)
        self.assertEqual(r.rc, 1)
        self.assertIn("报表.xlsx: 报表!D4: indicator 'places': bad value '待定'", r.err)
        self.assertEqual(env.journal_lines() if os.path.exists(env.path("state", "journal",
                                                                          "journal.tsv")) else [],
                         [])

    def test_refused(self):
        env = self.env
        r = env.cli_run("import", env.write("旧.xls", make_xlsx.xls()))
        self.assertEqual(r.rc, 1)
        self.assertIn("这是旧版 .xls 文件：请在 Excel 中另存为 .xlsx", r.err)
        self.assertIn("an old binary Excel file", r.err)
        r = env.cli_run("import", env.write("坏.xlsx", make_xlsx.not_zip()))
        self.assertEqual(r.rc, 1)
        self.assertIn("not a readable zip archive", r.err)
        r = env.cli_run("import", env.write("文本.xlsx", "indicator,as_of,value\n"))
        self.assertEqual(r.rc, 1)
        self.assertIn("not an .xlsx file (not a zip archive)", r.err)
        r = env.cli_run("import", env.write("bomb.xlsx", make_xlsx.zip_bomb()))
        self.assertEqual(r.rc, 1)
        self.assertIn("(a zip bomb?)", r.err)
        r = env.cli_run("import", env.write("dtd.xlsx", make_xlsx.doctype()))
        self.assertEqual(r.rc, 1)
        self.assertIn("a document type declaration (DTD) is not allowed", r.err)
        self.assertFalse(os.path.exists(env.path("state", "journal", "journal.tsv")) and
                         env.journal_lines())


class Plugin(harness.TestCase):
    def test_file_and_http_sources(self):
        env = self.new_env()
        data = env.path("data")
        env.write("data/指标表.xlsx", make_xlsx.source())
        env.write("data/source.xlsx", make_xlsx.source())
        srv = harness.SourcesServer(data)
        self.addCleanup(srv.close)
        env.write_conf(CONF.split("indicators =")[0] + SOURCES, base=srv.base)
        out = env.cli("check")
        self.assertIn("ok", out.lower())
        rc, err = env.once("2024-04-30T09:00:00+08:00")
        self.assertEqual(rc, 0, env.log_tail())
        self.assertEqual(rows(env, "gdp"), [(MARCH, "510300", "")])
        self.assertEqual(rows(env, "places"), [(MARCH, "4.35", "")])
        self.assertEqual(rows(env, "rate"), [(MARCH, "85.3", "")])
        self.assertEqual(rows(env, "score"), [(MARCH, "84", "")])
        self.assertEqual(srv.counts().get("/data/source.xlsx"), 1)

        # A path to a sheet that is not there, and an old .xls body: said in the log.
        env.edit_conf('path = "指标表!数值[指标代码=TJ01]"', 'path = "Sheet9!C5"')
        env.write("data/source.xlsx", make_xlsx.xls())
        rc, err = env.once("2024-04-30T10:00:00+08:00")
        self.assertIn("an old binary Excel file", err)
        self.assertIn("no sheet 'Sheet9'", err)

    def test_check_rejects_bad_paths(self):
        env = self.new_env()
        env.write("data/指标表.xlsx", make_xlsx.source())
        env.write_conf(CONF.split("indicators =")[0] + SOURCES.replace(
            '"指标表!数值[指标代码=TJ01]"', '"指标表![指标代码=TJ01]"'), base="http://127.0.0.1:9")
        r = env.cli_run("check")
        self.assertEqual(r.rc, 2, r.err)
        self.assertIn("expected [SHEET!]CELL", r.err)
        # A workbook is not text: no charset.
        env.write_conf(CONF.split("indicators =")[0] + SOURCES.replace(
            'format = "xlsx"; interval', 'format = "xlsx"; charset = "GBK"; interval', 1),
            base="http://127.0.0.1:9")
        r = env.cli_run("check")
        self.assertEqual(r.rc, 2, r.err)
        self.assertIn("key 'charset' does not apply to source", r.err)


if __name__ == "__main__":
    harness.main()
