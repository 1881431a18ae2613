#!/usr/bin/python3
"""Integration tests of the `pacewatch` CLI: the real binary, real files in a temporary state
directory. Covers the demo judgement of the seed report, configuration errors (FILE:LINE and
exit 2), all-or-nothing import, record, export, revisions, a torn journal line, and the status
JSON recomputed here from the contract's formulas."""

import csv
import io
import json
import os
import re
import sys
import unittest
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import harness  # noqa: E402

SH = ZoneInfo("Asia/Shanghai")
run = harness.pacewatch  # run(*args, env=None) -> (rc, out, err)


BASE = """
daemon: {{ state_dir = "state"; timezone = "{tz}"; }};
domains = ( {{ id = "d1"; name = "领域一"; }} );
indicators = (
{indicators}
);
"""

CUM = """  { id = "cum"; name = "累计"; domain = "d1"; unit = "人次"; kind = "cumulative";
    targets = ( { year = 2024; annual = 15600; quarters = [ 2600, 7800, 11700, 15600 ]; } ); }"""


def new_tmp(test, indicators=CUM, tz="Asia/Shanghai", text=None):
    """An Env of TEST with BASE's configuration (or TEXT)."""
    env = test.new_env(cli_timeout=60)
    env.write_conf(text if text is not None else BASE.format(tz=tz, indicators=indicators))
    return env


def write_csv(env, rows, name="in.csv", header="indicator,as_of,value", bom=False):
    """A CSV file in ENV's directory; returns its path."""
    return env.write(name, ("\ufeff" if bom else "") + header + "\n"
                     + "".join(r + "\n" for r in rows))


class DemoJudgement(harness.TestCase):
    """The seed report's own judgement, reproduced from conf/demo."""

    def test_demo_matches_report(self):
        env = self.new_env()
        env.copy_demo()  # check reads the file sources (data/)
        tmp, conf = env.dir, env.conf
        rc, out, err = run("check", "-c", conf)
        self.assertEqual(rc, 0, err)
        rc, out, err = run("import", "-c", conf, os.path.join(tmp, "history.csv"))
        self.assertEqual(rc, 0, err)
        self.assertIn("1 not published", out)
        rc, out, err = run("status", "-c", conf, "--at", "2024-04-30", "--json")
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        self.assertEqual(doc["at"], "2024-05-01T00:00:00+08:00")
        st = {i["id"]: i for i in doc["indicators"]}
        special = {
            "surveyed_unemployment": {"no_data"},
            "doctors_per_1000": {"no_target"},
            "pension_insured": {"no_target"},
            "culture_facilities": {"no_target"},
            "service_circle_score": {"lagging", "severe"},
        }
        for ind, s in st.items():
            want = special.get(ind, {"ok"})
            self.assertIn(s["status"], want, f"{ind}: {s}")
        self.assertAlmostEqual(st["service_circle_score"]["lag"], 86.83 - 83.13, places=9)
        self.assertEqual(st["meal_service_visits"]["value"], 510300)
        self.assertEqual(st["major_projects_invest"]["value"], 198000000)
        self.assertEqual(st["health_checkups"]["as_of"], "2024-04-26T00:00:00+08:00")
        self.assertEqual(st["emergency_centres"]["stage"], "初步完成标准化建设")
        # The table for people names the statuses in Chinese.
        rc, out, err = run("status", "-c", conf, "--at", "2024-04-30")
        self.assertEqual(rc, 0, err)
        for word in ("正常", "滞后", "无数据", "未下达", "幼有善育"):
            self.assertIn(word, out)


def pace_quarterly(t, pts):
    for (t0, v0), (t1, v1) in zip(pts, pts[1:]):
        if t0 <= t <= t1:
            return v0 + (v1 - v0) * (t - t0) / (t1 - t0)
    raise AssertionError("outside the year")


class Formulas(harness.TestCase):
    """status --json recomputed from docs/judgement.md for varied inputs."""

    def cumulative_case(self, tz, pace, rows, at, annual=15600.0, baseline=0.0,
                        quarters=(2600, 7800, 11700, 15600), kind="cumulative"):
        qs = ", ".join(str(float(q)) for q in quarters)
        pace_line = f'pace = "{pace}";' if pace else ""
        ind = (f'  {{ id = "x"; name = "x"; domain = "d1"; kind = "{kind}"; {pace_line}\n'
               f'    targets = ( {{ year = 2024; annual = {annual}; baseline = {baseline}; '
               f'quarters = [ {qs} ]; }} ); }}')
        self.tmp = new_tmp(self, indicators=ind, tz=tz)
        rc, out, err = run("import", "-c", self.tmp.conf,
                           write_csv(self.tmp, [f"x,{d},{v}" for d, v in rows]))
        self.assertEqual(rc, 0, err)
        got = self.tmp.status("--at", at)["indicators"][0]
        z = ZoneInfo(tz)
        T = [datetime(2024, m, 1, tzinfo=z).timestamp() for m in (1, 4, 7, 10)]
        T.append(datetime(2025, 1, 1, tzinfo=z).timestamp())
        pts = list(zip(T, [baseline, *quarters]))

        def end_of(d):
            y, m, dd = map(int, d.split("-"))
            return (datetime(y, m, dd, tzinfo=z) + timedelta(days=1)).replace(tzinfo=None) \
                .replace(tzinfo=z).timestamp()

        samples = sorted((end_of(d), float(v)) for d, v in rows)
        t, v = samples[-1]
        if pace == "linear":
            e = baseline + (annual - baseline) * (t - T[0]) / (T[4] - T[0])
        elif pace == "step":
            e = [val for (tk, val) in pts if tk <= t][-1]
        else:
            e = pace_quarterly(t, pts)
        comp = 100 * (v - baseline) / (annual - baseline)
        pace_pct = 100 * (e - baseline) / (annual - baseline)
        xs = [0.0] + [(s - T[0]) / 86400 for s, _ in samples]
        ys = [baseline] + [val for _, val in samples]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        slope = sum((a - mx) * (b - my) for a, b in zip(xs, ys)) / sum((a - mx) ** 2 for a in xs)
        proj = my + slope * ((T[4] - T[0]) / 86400 - mx)
        self.assertAlmostEqual(got["expected"], e, places=6)
        self.assertAlmostEqual(got["completion_pct"], comp, places=9)
        self.assertAlmostEqual(got["pace_pct"], pace_pct, places=9)
        self.assertAlmostEqual(got["lag"], pace_pct - comp, places=9)
        self.assertAlmostEqual(got["projection_pct"], 100 * (proj - baseline) / (annual - baseline),
                               places=6)
        self.assertEqual(got["lag_unit"], "pp")
        self.assertEqual(got["target"], annual)
        lag = round(pace_pct - comp, 9)
        self.assertEqual(got["status"], "ok" if lag <= 5 else "lagging" if lag <= 15 else "severe")
        return got

    def test_quarterly_shanghai(self):
        self.cumulative_case("Asia/Shanghai", "", [("2024-02-10", 1000), ("2024-05-20", 6000)],
                             "2024-06-01")

    def test_linear_new_york(self):
        self.cumulative_case("America/New_York", "linear",
                             [("2024-03-09", 1500), ("2024-03-10", 2500), ("2024-11-03", 9000)],
                             "2024-12-01")

    def test_step_before_q1_end(self):
        got = self.cumulative_case("Asia/Shanghai", "step", [("2024-03-30", 10)], "2024-03-31")
        self.assertEqual(got["expected"], 0)

    def test_level_falling(self):
        self.cumulative_case("Asia/Shanghai", "", [("2024-08-15", 7.1)], "2024-09-01",
                             annual=6.0, baseline=8.0, quarters=(7.8, 7.0, 6.5, 6.0), kind="level")

    def test_severe(self):
        got = self.cumulative_case("Asia/Shanghai", "", [("2024-09-30", 100)], "2024-10-01")
        self.assertEqual(got["status"], "severe")

    def test_contract_example(self):
        self.tmp = new_tmp(self)
        run("import", "-c", self.tmp.conf, write_csv(self.tmp, ["cum,2024-03-31,4782"]))
        got = self.tmp.status("--at", "2024-04-30")["indicators"][0]
        self.assertAlmostEqual(got["completion_pct"], 30.654, places=3)
        self.assertAlmostEqual(got["pace_pct"], 16.667, places=3)
        self.assertAlmostEqual(got["lag"], -13.987, places=3)
        self.assertAlmostEqual(got["projection_pct"], 123.289, places=3)
        self.assertEqual(got["status"], "ok")
        self.assertIs(got["stale"], False)
        self.assertIsNone(got["stage"])
        self.assertEqual(got["as_of"], "2024-04-01T00:00:00+08:00")
        keys = ["id", "name", "domain", "department", "kind", "unit", "status", "stale", "due",
                "value",
                "as_of", "target", "expected", "completion_pct", "pace_pct", "lag", "lag_unit",
                "projection_pct", "stage", "note", "explanation"]
        # docs/status-json.md; note and explanation are null here
        self.assertEqual(sorted(got.keys()), sorted(keys))
        self.assertIsNone(got["note"])
        self.assertIsNone(got["due"])  # no reporting deadline
        self.assertIsNone(got["explanation"])

    def test_no_data_and_stale(self):
        self.tmp = new_tmp(self)
        got = self.tmp.status("--at", "2024-03-01")["indicators"][0]
        self.assertEqual(got["status"], "no_data")
        for k in ("value", "as_of", "target", "expected", "completion_pct", "pace_pct", "lag",
                  "lag_unit", "projection_pct", "stage"):
            self.assertIsNone(got[k], k)
        self.assertIs(got["stale"], True)  # 60 days since T0 > 40d
        got = self.tmp.status("--at", "2024-01-20")["indicators"][0]
        self.assertIs(got["stale"], False)

    def test_no_target_keeps_value(self):
        self.tmp = new_tmp(self)
        run("import", "-c", self.tmp.conf, write_csv(self.tmp, ["cum,2025-02-01,100"]))
        got = self.tmp.status("--at", "2025-03-01")["indicators"][0]
        self.assertEqual(got["status"], "no_target")
        self.assertEqual(got["value"], 100)
        self.assertEqual(got["as_of"], "2025-02-02T00:00:00+08:00")
        self.assertIsNone(got["target"])
        self.assertIsNone(got["lag_unit"])

    def test_standard_quarters_and_direction(self):
        ind = """  { id = "s"; name = "s"; domain = "d1"; unit = "%"; kind = "standard"; direction = "down";
    targets = ( { year = 2024; quarters = [ 5.0, 4.5, 4.0, 3.5 ]; } ); }"""
        self.tmp = new_tmp(self, indicators=ind)
        run("import", "-c", self.tmp.conf, write_csv(self.tmp, ["s,2024-03-31,4.8%"]))
        got = self.tmp.status("--at", "2024-04-02")["indicators"][0]
        self.assertEqual(got["target"], 5.0)  # as of the instant Q1 ends: Q1's standard
        self.assertAlmostEqual(got["lag"], 4.8 - 5.0, places=9)
        self.assertEqual(got["lag_unit"], "%")
        self.assertIsNone(got["completion_pct"])
        self.assertIsNone(got["projection_pct"])
        self.assertEqual(got["status"], "ok")
        run("record", "-c", self.tmp.conf, "s", "4.6", "--as-of", "2024-04-01")
        got = self.tmp.status("--at", "2024-04-02")["indicators"][0]
        self.assertEqual(got["target"], 4.5)
        self.assertEqual(got["status"], "lagging")

    def test_milestone(self):
        ind = """  { id = "m"; name = "m"; domain = "d1"; kind = "milestone";
    stages = [ "未启动", "建设中", "已完成" ];
    targets = ( { year = 2024; due = [ "", "2024-03-31", "2024-06-30" ]; } ); }"""
        self.tmp = new_tmp(self, indicators=ind)
        rc, out, err = run("import", "-c", self.tmp.conf,
                           write_csv(self.tmp, ["m,2024-02-01,未启动"]))
        self.assertEqual(rc, 0, err)
        got = self.tmp.status("--at", "2024-04-10")["indicators"][0]
        self.assertEqual(got["stage"], "未启动")
        self.assertEqual(got["value"], 0)
        self.assertEqual(got["expected"], 1)
        self.assertEqual(got["target"], 2)
        self.assertEqual(got["lag_unit"], "days")
        self.assertAlmostEqual(got["lag"], 10.0, places=9)  # 2024-04-01 00:00 -> 2024-04-11 00:00
        self.assertEqual(got["status"], "lagging")
        run("record", "-c", self.tmp.conf, "m", "1", "--as-of", "2024-04-12")
        got = self.tmp.status("--at", "2024-04-20")["indicators"][0]
        self.assertEqual(got["stage"], "建设中")
        self.assertEqual(got["status"], "ok")


class Import(harness.TestCase):
    def setUp(self):
        self.tmp = new_tmp(self)

    def test_bad_rows_change_nothing(self):
        cases = [
            (["cum,2024-01-31,10", "nope,2024-02-01,5"], 3, "unknown indicator 'nope'"),
            (["cum,2024-13-01,10"], 2, "bad date"),
            (["cum,2024-01-31,abc"], 2, "bad value"),
            (["cum,2024-01-31,1", "cum,2024-01-31,2"], 3, "same as_of as line 2"),
            (["cum,2024-01-31"], 2, "expected 3 fields"),
            (["cum,2099-01-01,1"], 2, "later than tomorrow"),
        ]
        for rows, line, msg in cases:
            path = write_csv(self.tmp, rows)
            rc, out, err = run("import", "-c", self.tmp.conf, path)
            self.assertEqual(rc, 1, (rows, err))
            self.assertIn(f"{path}:{line}:", err, rows)
            self.assertIn(msg, err)
            self.assertEqual(self.tmp.journal_text(), "", rows)
        rc, out, err = run("import", "-c", self.tmp.conf, write_csv(self.tmp, [], header="a,b,c"))
        self.assertEqual(rc, 1)
        self.assertIn(":1:", err)

    def test_summary_duplicates_revisions(self):
        path = write_csv(self.tmp, ['"cum","2024-01-31","1,000"', "cum,2024年2月29日,2000",
                                    "cum,2024-03-31,—"], bom=True)
        rc, out, err = run("import", "-c", self.tmp.conf, path)
        self.assertEqual(rc, 0, err)
        self.assertIn("2 new samples, 0 duplicates, 0 revisions, 1 not published", out)
        rc, out, err = run("import", "-c", self.tmp.conf, write_csv(self.tmp,
            ["cum,2024-01-31,1000", "cum,2024-02-29,2100", "cum,2024-01-15,500",
             "cum,2024-03-31,3000"]))
        self.assertEqual(rc, 0, err)
        self.assertIn("1 new samples, 1 duplicates, 2 revisions", out)
        rc, out, err = run("export", "-c", self.tmp.conf, "cum")
        self.assertEqual(rc, 0, err)
        rows = list(csv.DictReader(io.StringIO(out)))
        self.assertEqual(len(rows), 5)
        revs = {(r["as_of"], r["value"]): r["revision"] for r in rows}
        self.assertEqual(revs[("2024-03-01T00:00:00+08:00", "2000")], "0")
        self.assertEqual(revs[("2024-03-01T00:00:00+08:00", "2100")], "1")
        self.assertEqual(revs[("2024-01-16T00:00:00+08:00", "500")], "0")
        # A revision is known from its own fetched_at (now): judged as of March 2024, the value
        # it replaced still stands.
        got = self.tmp.status("--at", "2024-03-15")["indicators"][0]
        self.assertEqual(got["value"], 2000)
        rc, out, err = run("export", "-c", self.tmp.conf, "cum", "--format", "json",
                           "--from", "2024-01-31", "--to", "2024-02-29")
        self.assertEqual(rc, 0, err)
        js = json.loads(out)
        self.assertEqual([r["value"] for r in js], [1000, 2000, 2100])
        self.assertEqual(set(js[0].keys()), {"indicator", "as_of", "value", "fetched_at",
                                             "revision", "note", "retracted"})
        self.assertIsNone(js[0]["note"])
        self.assertIsNone(js[0]["retracted"])

    def test_rfc4180_reader(self):
        # The import reads CSV with the csv plugin's reader: a byte-order mark, CRLF, quoted
        # fields holding commas, padding around fields, blank lines, no final line end.
        path = self.tmp.write("crlf.csv", '\ufeffindicator,as_of,value\r\n"cum","2024-01-31","1,000"'
                              '\r\n\r\n" cum ",2024-02-29, "2,000" \r\ncum,2024-03-31,3000')
        rc, out, err = run("import", "-c", self.tmp.conf, path)
        self.assertEqual(rc, 0, err)
        self.assertIn("3 new samples", out)
        # Broken quoting names the line it is on, and nothing is written.
        tmp = new_tmp(self)
        for rows, line in ((["cum,2024-01-31,10", 'cum,2024-02-29,"20'], 3),
                           (['"cum\ncum",2024-01-31,"1"0'], 3)):
            path = write_csv(tmp, rows)
            rc, out, err = run("import", "-c", tmp.conf, path)
            self.assertEqual(rc, 1, err)
            self.assertIn(f"{path}:{line}: malformed quoting", err)
            self.assertEqual(tmp.journal_text(), "")

    def test_torn_last_line_is_skipped(self):
        run("import", "-c", self.tmp.conf, write_csv(self.tmp, ["cum,2024-01-31,1000"]))
        jp = os.path.join(self.tmp.dir, "state", "journal", "journal.tsv")
        with open(jp, "a", encoding="utf-8") as f:
            f.write("2024-03-01T00:00:00+08:00\tcum\t20")  # no newline: a crash mid-write
        rc, out, err = run("status", "-c", self.tmp.conf, "--at", "2024-03-15", "--json")
        self.assertEqual(rc, 0, err)
        self.assertIn("incomplete", err)
        self.assertEqual(json.loads(out)["indicators"][0]["value"], 1000)
        rc, out, err = run("record", "-c", self.tmp.conf, "cum", "3000", "--as-of", "2024-03-10")
        self.assertEqual(rc, 0, err)
        got = self.tmp.status("--at", "2024-03-15")["indicators"][0]
        self.assertEqual(got["value"], 3000)

    def test_record_and_unknown(self):
        rc, out, err = run("record", "-c", self.tmp.conf, "nope", "1")
        self.assertEqual(rc, 2)
        self.assertIn("nope", err)
        rc, out, err = run("record", "-c", self.tmp.conf, "cum", "x1")
        self.assertEqual(rc, 1)
        rc, out, err = run("export", "-c", self.tmp.conf, "nope")
        self.assertEqual(rc, 2)
        rc, out, err = run("record", "-c", self.tmp.conf, "cum", "1.5万", "--as-of", "2024-02-01")
        self.assertEqual(rc, 0, err)
        rc, out, err = run("record", "-c", self.tmp.conf, "cum", "15000", "--as-of", "2024-02-01")
        self.assertEqual(rc, 0, err)
        self.assertIn("nothing recorded", out)
        self.assertEqual(self.tmp.journal_text().count("\tcum\t"), 1)


BAD_CONFIGS = [
    # (description, config text, expected line, message fragment)
    ("unknown key", BASE.format(tz="Asia/Shanghai", indicators=CUM.replace("unit =", "unti =")),
     None, "unknown key 'unti'"),
    ("bad time zone", BASE.format(tz="Asia/Shanghia", indicators=CUM), 2, "time zone"),
    ("unknown domain", BASE.format(tz="Asia/Shanghai", indicators=CUM.replace('"d1"', '"d2"')),
     None, "unknown domain 'd2'"),
    ("fourth quarter", BASE.format(tz="Asia/Shanghai", indicators=CUM.replace("15600 ]", "15000 ]")),
     None, "fourth quarter"),
    ("decreasing quarters", BASE.format(tz="Asia/Shanghai",
                                        indicators=CUM.replace("7800, 11700", "11700, 7800")),
     None, "quarters must move"),
    ("bad id", BASE.format(tz="Asia/Shanghai", indicators=CUM.replace('"cum"', '"Cum-1"')),
     None, "a-z"),
    ("big int", BASE.format(tz="Asia/Shanghai", indicators=CUM.replace("15600;", "5000000000;")),
     None, "too large"),
    ("missing name", BASE.format(tz="Asia/Shanghai", indicators=CUM.replace('name = "累计";', "")),
     None, "'name'"),
    ("mixed array", BASE.format(tz="Asia/Shanghai",
                                indicators=CUM.replace("[ 2600, 7800,", "[ 2600, 7800.5,")),
     None, "7800.0"),
    ("key of another kind", BASE.format(tz="Asia/Shanghai",
                                        indicators=CUM.replace('kind = "cumulative";',
                                                               'kind = "cumulative"; direction = "up";')),
     None, "does not apply"),
    ("unset env", BASE.format(tz="Asia/Shanghai", indicators=CUM.replace('"人次"', '"${PW_NOPE_X}"')),
     None, "PW_NOPE_X"),
    ("annual equals baseline", BASE.format(tz="Asia/Shanghai",
                                           indicators=CUM.replace("annual = 15600;",
                                                                  "annual = 0; baseline = 0;").replace(
                                               "quarters = [ 2600, 7800, 11700, 15600 ];", "")),
     None, "must differ"),
    ("syntax", "daemon: { state_dir = \"s\" \n", None, "syntax error"),
    ("duplicate id", BASE.format(tz="Asia/Shanghai", indicators=CUM + ",\n" + CUM), None,
     "duplicate indicator id"),
    ("bad duration", BASE.format(tz="Asia/Shanghai",
                                 indicators=CUM.replace('kind =', 'stale_after = "40 days"; kind =')),
     None, "duration"),
    ("unknown charset", BASE.format(tz="Asia/Shanghai", indicators=CUM) +
     'sources = ( { id = "s"; url = "data.csv"; format = "csv";\n charset = "GBK2"; } );\n',
     9, "charset 'GBK2' is unknown"),
]


class ConfigErrors(harness.TestCase):
    def test_errors_name_file_and_line(self):
        for desc, text, line, frag in BAD_CONFIGS:
            tmp = new_tmp(self, text=text)
            rc, out, err = run("check", "-c", tmp.conf)
            self.assertEqual(rc, 2, desc)
            m = re.match(re.escape(tmp.conf) + r":(\d+): ", err)
            self.assertIsNotNone(m, f"{desc}: {err}")
            if line is not None:
                self.assertEqual(int(m.group(1)), line, f"{desc}: {err}")
            self.assertGreater(int(m.group(1)), 0, f"{desc}: {err}")
            self.assertIn(frag, err, desc)
            # pacewatchd -t is the same check.
            p = harness.pacewatchd("-t", "-c", tmp.conf)
            self.assertEqual(p.rc, 2, desc)
            # Status refuses to run on it too.
            rc, out, err = run("status", "-c", tmp.conf)
            self.assertEqual(rc, 2, desc)

    def test_bom_is_named(self):
        tmp = new_tmp(self, text="\ufeff" + BASE.format(tz="Asia/Shanghai", indicators=CUM))
        rc, out, err = run("check", "-c", tmp.conf)
        self.assertEqual(rc, 2)
        self.assertIn(":1:", err)
        self.assertIn("byte-order mark", err)

    def test_secrets_not_printed(self):
        """A configuration error reaches the system journal: URLs are shown redacted, secret
        values never (docs/configuration.md, "Secrets in messages")."""
        cases = [
            ('receivers = ( { id = "ding"; type = "dingtalk";\n'
             ' url = "htps://oapi.dingtalk.com/robot/send?access_token=DINGTOKEN123"; } );\n',
             "url 'htps://oapi.dingtalk.com/robot/send?access_token=***'", "DINGTOKEN123"),
            ('receivers = ( { id = "ding"; type = "dingtalk"; url = "https://h/x";\n'
             ' secret = "SECRETabc${DING"; } );\n', 'unterminated ${ in "***"', "SECRETabc"),
            ('sources = ( { id = "s"; format = "json";\n'
             ' url = "ftp://alice:PASSWORDabc@h:21/x"; } );\n', "ftp://alice:***@h:21/x",
             "PASSWORDabc"),
        ]
        for text, frag, secret in cases:
            tmp = new_tmp(self, text=BASE.format(tz="Asia/Shanghai", indicators=CUM) + text)
            rc, out, err = run("check", "-c", tmp.conf)
            self.assertEqual(rc, 2, err)
            self.assertRegex(err, re.escape(tmp.conf) + r":\d+: ")
            self.assertIn(frag, err)
            self.assertNotIn(secret, out + err)
            p = harness.pacewatchd("-t", "-c", tmp.conf, timeout=60)
            self.assertEqual(p.rc, 2)
            self.assertIn(frag, p.err)
            self.assertNotIn(secret, p.out + p.err)

    def test_examples_are_valid(self):
        env = dict(os.environ, HEALTH_TOKEN="t", DING_TOKEN="d", DING_SECRET="s")
        for rel in ("conf/pacewatch.conf.example", "conf/demo/pacewatch.conf"):
            rc, out, err = run("check", "-c", os.path.join(harness.SOURCE, rel), env=env)
            self.assertEqual(rc, 0, f"{rel}: {err}")

    def test_include_relative_to_file(self):
        tmp = new_tmp(self, text=BASE.format(tz="Asia/Shanghai", indicators='@include "inds.conf"'))
        os.makedirs(os.path.join(tmp.dir, "sub"))
        with open(os.path.join(tmp.dir, "inds.conf"), "w") as f:
            f.write(CUM + "\n")
        rc, out, err = run("check", "-c", tmp.conf, cwd="/").rc, None, None
        self.assertEqual(rc, 0)


    def test_include_of_fifo_or_directory_is_refused(self):
        """`@include` of a FIFO used to block check for ever, of a directory to end it with exit
        status 2 and no message (libconfig's scanner): both are refused at the include's line,
        at once."""
        tmp = new_tmp(self, text=BASE.format(tz="Asia/Shanghai", indicators='@include "inds.conf"'))
        os.mkfifo(os.path.join(tmp.dir, "inds.conf"))
        os.makedirs(os.path.join(tmp.dir, "conf.d"))
        for target, kind in (("inds.conf", "a FIFO"), ("conf.d", "a directory")):
            with open(tmp.conf, "w", encoding="utf-8") as f:
                f.write(BASE.format(tz="Asia/Shanghai", indicators=f'@include "{target}"'))
            for p in (run("check", "-c", tmp.conf, cwd="/", timeout=20),
                      harness.pacewatchd("-t", "-c", tmp.conf, timeout=20)):
                self.assertEqual(p.rc, 2, p.err)
                self.assertTrue(p.err.startswith(f"{tmp.conf}:5: cannot @include "), p.err)
                self.assertIn(f"{target}: it is {kind}, not a regular file", p.err)

if __name__ == "__main__":
    harness.main()
