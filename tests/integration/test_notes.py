#!/usr/bin/python3
'''Notes (短说明, docs/values.md#notes) from every way in to every way out: a source's note path
(json and regex, read by the same parser as the path), `record --note`, `import` with a note
column, a running daemon taking a noted import through its inbox; a note changing alone is kept
without a revision; export (CSV and JSON), the status JSON of the CLI and of the API, and the
dashboard show it, a note with HTML and control characters escaped; the demo's notes and words.'''
import copy
import html
import json
import os
import re
import sys
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import harness

CONF = '''
daemon: { state_dir = "state"; http_listen = "127.0.0.1:{port}"; };
domains = ( { id = "childcare"; name = "幼有善育"; } );
sources = (
  { id = "health"; url = "data/health.json"; format = "json"; as_of = "$.as_of"; interval = "1h"; },
  { id = "prov"; url = "data/prov.html"; format = "regex"; interval = "1h"; }
);
indicators = (
  { id = "places"; name = "每千人托位数"; domain = "childcare"; unit = "个"; kind = "level";
    source = "health"; path = "$.items[0].value"; note = "$.items[0].note";
    published_by = "县卫健局"; target_from = "市卫健委";
    targets = ( { year = 2024; baseline = 4.0; annual = 4.5; provisional = true;
                  basis = "演示测算"; } ); },
  { id = "score"; name = "均衡得分"; domain = "childcare"; unit = "分"; kind = "standard";
    source = "prov"; path = "<td class=\\"score\\">([0-9.]+)</td>";
    note = "<td class=\\"rank\\">([^<]*)</td>"; standard_label = "全省平均分";
    targets = ( { year = 2024; standard = 86.83; } ); },
  { id = "trail"; name = "环浙步道进度率"; domain = "childcare"; unit = "%"; kind = "cumulative";
    targets = ( { year = 2024; annual = 100; } ); }
);
'''

HEALTH = {"as_of": "2024-03-31", "items": [
    {"value": 4.35, "note": "备案机构90家（纯托育机构39家，幼儿园延伸办托51家）"}]}
PROV = '<tr><td class="score">83.13</td><td class="rank">排名全市第8</td></tr>\n'


def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        return r.read().decode("utf-8")


def polls(port):
    """The polls of source 'health' so far, from /metrics."""
    m = re.search(r'^pacewatch_source_polls_total\{source="health"\} (\d+)', get(port, "/metrics"),
                  re.M)
    return int(m.group(1)) if m else 0


class Notes(harness.TestCase):
    def setUp(self):
        self.env = env = self.new_env()
        self.port = harness.free_port()
        env.write_conf(CONF, port=self.port)
        self.health = copy.deepcopy(HEALTH)
        env.write("data/health.json", json.dumps(self.health, ensure_ascii=False))
        env.write("data/prov.html", PROV)

    def test_sources_cli_and_outputs(self):
        env = self.env
        # A source's note path: json and regex.
        rc, err = env.once("2024-04-30T09:00:00+08:00")
        self.assertEqual(rc, 0, err)
        places = env.export("places")
        self.assertEqual(len(places), 1)
        self.assertEqual(places[0]["note"], HEALTH["items"][0]["note"])
        self.assertEqual(env.export("score")[0]["note"], "排名全市第8")

        # The note changes alone: a note line, no revision; the latest note wins.
        self.health["items"][0]["note"] = "纯托育机构40家"
        env.write("data/health.json", json.dumps(self.health, ensure_ascii=False))
        rc, err = env.once("2024-04-30T10:00:00+08:00")
        self.assertEqual(rc, 0, err)
        self.assertIn("1 notes changed", err)
        places = env.export("places", "--format", "json")
        self.assertEqual(len(places), 1)
        self.assertEqual(places[0]["revision"], 0)
        self.assertEqual(places[0]["note"], "纯托育机构40家")
        self.assertEqual(len(env.journal_lines()), 3)
        # A source whose note path selects nothing keeps the stored note.
        env.write("data/prov.html", '<tr><td class="score">83.13</td></tr>\n')
        rc, err = env.once("2024-04-30T11:00:00+08:00")
        self.assertEqual(rc, 0, err)
        self.assertEqual(env.export("score")[0]["note"], "排名全市第8")

        # record --note: a new sample with its note, then the same value with another note.
        out = env.cli("record", "trail", "80%", "--as-of", "2024-03-31", "--note",
                      "任务数30公里，已完成施工，\t等待上级验收")
        self.assertIn("recorded new sample", out)
        out = env.cli("record", "trail", "80%", "--as-of", "2024-03-31", "--note",
                      "<script>alert(1)</script> & \x07等待上级验收")
        self.assertIn("its note is updated", out)
        rows = env.export("trail")
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0]["revision"], "0")
        self.assertEqual(rows[0]["note"], "<script>alert(1)</script> & 等待上级验收")
        # A note too long or not UTF-8 is refused, nothing recorded.
        r = env.cli_run("record", "trail", "81%", "--as-of", "2024-03-31", "--note", "字" * 201)
        self.assertEqual(r.rc, 2, r.err)
        self.assertIn("at most 200 characters", r.err)
        self.assertEqual(len(env.export("trail")), 1)

        # import with a note column: a revision with its note, a note-only change, quoting.
        env.write("notes.csv", "indicator,as_of,value,note\n"
                               "trail,2024-03-31,85%,\"完成率85%，含\"\"验收\"\"\"\n"
                               "places,2024-03-31,4.35,纯托育机构41家\n"
                               "score,2024-06-30,84,\n")
        out = env.cli("import", env.path("notes.csv"))
        self.assertIn("1 new samples, 1 duplicates, 1 revisions", out)
        self.assertIn("1 notes updated", out)
        trail = env.export("trail", "--format", "json")
        self.assertEqual([r["revision"] for r in trail], [0, 1])
        self.assertEqual(trail[1]["note"], '完成率85%，含"验收"')
        self.assertEqual(env.export("places")[0]["note"], "纯托育机构41家")
        score = env.export("score", "--format", "json")
        self.assertIsNone(score[1]["note"])
        # A header with a fourth column other than note is refused.
        env.write("bad.csv", "indicator,as_of,value,remark\ntrail,2024-03-31,85%,x\n")
        r = env.cli_run("import", env.path("bad.csv"))
        self.assertEqual(r.rc, 1)
        self.assertIn("indicator,as_of,value,note", r.err)

        # The status JSON: note of the sample shown, who publishes, who owes the target.
        doc = {i["id"]: i for i in env.status("--at", "2024-04-30")["indicators"]}
        self.assertEqual(doc["places"]["note"], "纯托育机构41家")
        self.assertEqual(doc["places"]["published_by"], "县卫健局")
        self.assertEqual(doc["places"]["target_from"], "市卫健委")
        # The revision was journaled now, after 2024-04-30: the sample shown is revision 0.
        self.assertEqual(doc["trail"]["note"], "<script>alert(1)</script> & 等待上级验收")
        self.assertEqual(doc["score"]["note"], "排名全市第8")  # the 2024-06-30 one is not yet known
        self.assertNotIn("published_by", doc["score"])

        # The daemon: the API and the dashboard, the note escaped; a noted import through the
        # inbox while it runs.
        d = env.start("2024-04-30T12:00:00+08:00")
        env.wait(lambda: harness.port_open(self.port), 30, "the status server")
        api = {i["id"]: i for i in json.loads(get(self.port, "/api/v1/status"))["indicators"]}
        self.assertEqual(api["trail"]["note"], "<script>alert(1)</script> & 等待上级验收")
        self.assertEqual(api["places"]["target_from"], "市卫健委")
        page = get(self.port, "/")
        self.assertNotIn("<script>", page)
        self.assertIn(html.escape("<script>alert(1)</script> & 等待上级验收"), page)
        # The daemon polled the source at start: its note is the latest for that as_of.
        self.assertIn('<p class="note sample-note">纯托育机构40家</p>', page)
        self.assertIn("数据发布：县卫健局；目标下达：市卫健委", page)
        env.write("inbox.csv", "indicator,as_of,value,note\nplaces,2024-03-31,4.35,经由守护进程\n")
        out = env.cli("import", env.path("inbox.csv"))
        self.assertIn("1 notes updated", out)
        api = {i["id"]: i for i in json.loads(get(self.port, "/api/v1/status"))["indicators"]}
        self.assertEqual(api["places"]["note"], "经由守护进程")
        self.assertEqual(d.stop(), 0)
        self.assertEqual(env.export("places")[0]["note"], "经由守护进程")
        self.assertEqual(env.sanitizer_reports(), [])

    def test_bad_note_logged_once(self):
        # A note that cannot be kept (over 200 characters): the figure is stored without it and
        # the note is logged once, not at every poll of the same answer.
        env = self.env
        env.write_conf(CONF.replace('interval = "1h"; },\n  { id = "prov"',
                                    'interval = "1s"; },\n  { id = "prov"'), port=self.port)
        self.health["items"][0]["note"] = "长" * 201
        env.write("data/health.json", json.dumps(self.health, ensure_ascii=False))
        d = env.start("2024-04-30T12:00:00+08:00")
        env.wait(lambda: len(env.journal_lines()) >= 2, 30, "the first figures")
        d.wait_log("note $.items[0].note is not kept")
        env.wait(lambda: polls(self.port) >= 4, 30, "four polls of the source")
        self.assertEqual(d.log().count("is not kept"), 1, d.log())
        self.assertIsNone(env.export("places", "--format", "json")[0]["note"])
        self.assertEqual(d.stop(), 0)

    def test_demo(self):
        env = self.new_env()
        env.copy_demo()
        r = env.cli_run("check")
        self.assertEqual(r.rc, 0, r.err)
        env.cli("import", env.path("history.csv"))
        doc = {i["id"]: i for i in env.status("--at", "2024-04-30")["indicators"]}
        self.assertEqual(doc["service_circle_score"]["note"], "排名全市第8")
        self.assertIn("纯托育机构39家", doc["childcare_places_per_1000"]["note"])
        self.assertIn("等待上级验收", doc["zhejiang_trail_km"]["note"])
        self.assertEqual(doc["surveyed_unemployment"]["published_by"], "省人社厅")
        self.assertEqual(doc["pension_insured"]["target_from"], "市")
        # The sources' notes agree with history.csv: a poll writes no line.
        lines = len(env.journal_lines())
        rc, err = env.once("2024-04-30T09:00:00+08:00")
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(env.journal_lines()), lines)


if __name__ == "__main__":
    harness.main()
