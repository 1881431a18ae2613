#!/usr/bin/python3
'''Retractions and explanations (docs/storage.md#retractions, #explanations): `pacewatch retract`
without a daemon and beside one (status, export, the RRD file unknown at the withdrawn as_of
read back with rrdtool, a restart keeping it, the figure coming back as a new sample);
`pacewatch explain` shown in the status JSON and /api; hostile inbox requests refused.'''
import json
import math
import os
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import harness

CONF = '''
daemon: { state_dir = "state"; http_listen = "127.0.0.1:{port}"; };
domains = ( { id = "d"; name = "幼有善育"; } );
indicators = (
  { id = "trail"; name = "环浙步道进度率"; domain = "d"; unit = "%"; kind = "cumulative";
    targets = ( { year = 2024; annual = 100; } ); },
  { id = "places"; name = "每千人托位数"; domain = "d"; unit = "个"; kind = "level";
    targets = ( { year = 2024; baseline = 4.0; annual = 4.5; } ); }
);
'''

MAR = 1711900800  # 2024-04-01T00:00:00+08:00, what "2024-03-31" means (the end of that day)
APR = 1714492800  # 2024-05-01T00:00:00+08:00, "2024-04-30"
NOW = "2024-07-10T12:00:00+08:00"


def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        return r.read().decode("utf-8")


def rrd_at(env, ind, t):
    """The value of IND's RRD file at instant T (LAST, hourly), None when unknown."""
    out = subprocess.run(["rrdtool", "fetch", env.rrd(ind), "LAST", "-s", str(t - 7200), "-e",
                          str(t)], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if line.startswith(f"{t}:"):
            v = float(line.split()[1])
            return None if math.isnan(v) else v
    raise AssertionError(f"no row at {t} in\n{out}")


class Retract(harness.TestCase):
    def setUp(self):
        self.env = env = self.new_env()
        self.port = harness.free_port()
        env.write_conf(CONF, port=self.port)

    def test_without_daemon(self):
        env = self.env
        env.cli("record", "trail", "30%", "--as-of", "2024-03-31")
        env.cli("record", "trail", "35%", "--as-of", "2024-03-31")  # revision 1
        env.cli("record", "trail", "60%", "--as-of", "2024-04-30")
        env.cli("record", "trail", "70%", "--as-of", "2024-05-31")
        lines = len(env.journal_lines())
        # Refused: no reason, no such sample, an unknown indicator; nothing written.
        r = env.cli_run("retract", "trail", "2024-04-30")
        self.assertEqual(r.rc, 2, r.err)
        self.assertIn("--reason", r.err)
        r = env.cli_run("retract", "trail", "2024-04-29", "--reason", "录错")
        self.assertEqual(r.rc, 1, r.err)
        self.assertIn("no sample as of 2024-04-30T00:00:00+08:00", r.err)
        r = env.cli_run("retract", "nope", "2024-04-30", "--reason", "录错")
        self.assertEqual(r.rc, 2, r.err)
        self.assertEqual(len(env.journal_lines()), lines)
        self.assertEqual(rrd_at(env, "trail", APR), 60)

        out = env.cli("retract", "trail", "2024-04-30", "--reason", "录入错误，\t多写了一位")
        self.assertEqual(out.strip(), "trail: retracted the sample as of 2024-05-01T00:00:00+08:00")
        last = env.journal_lines()[-1].rstrip("\n").split("\t")
        self.assertEqual(last[1:3], ["trail", "retracted"])
        self.assertEqual(last[4:], ["record", "录入错误， 多写了一位"])
        # Export: the withdrawn revision flagged, with its reason.
        rows = env.export("trail", "--format", "json")
        self.assertEqual([(r["value"], r["retracted"] is None) for r in rows],
                         [(30, True), (35, True), (70, True), (60, False)])
        self.assertEqual(rows[3]["retracted"]["reason"], "录入错误， 多写了一位")
        self.assertEqual(rows[3]["retracted"]["source"], "record")
        csv_rows = env.export("trail")
        self.assertEqual(csv_rows[3]["retraction_reason"], "录入错误， 多写了一位")
        self.assertNotEqual(csv_rows[3]["retracted"], "")
        self.assertEqual(csv_rows[0]["retracted"], "")
        # The RRD file: unknown at the withdrawn as_of, the figures around it kept.
        self.assertIsNone(rrd_at(env, "trail", APR))
        self.assertEqual(rrd_at(env, "trail", MAR), 35)
        # `rebuild` derives the same.
        env.cli("rebuild")
        self.assertIsNone(rrd_at(env, "trail", APR))

        # The latest withdrawn: status shows the figure before it (judged in 2024 the revision
        # 35, journaled now, was not known yet: 30); the earlier revision of a withdrawn as_of
        # does not come back.
        env.cli("retract", "trail", "2024-05-31", "--reason", "口径错误")
        doc = {i["id"]: i for i in env.status("--at", "2024-06-30")["indicators"]}
        self.assertEqual(doc["trail"]["value"], 30)
        self.assertEqual(doc["trail"]["as_of"], "2024-04-01T00:00:00+08:00")
        env.cli("retract", "trail", "2024-03-31", "--reason", "整批作废")
        doc = {i["id"]: i for i in env.status("--at", "2024-06-30")["indicators"]}
        self.assertIsNone(doc["trail"]["value"])
        self.assertEqual(doc["trail"]["status"], "no_data")
        r = env.cli_run("retract", "trail", "2024-03-31", "--reason", "again")
        self.assertEqual(r.rc, 1, r.err)

        # The same figure again is a new sample, not a duplicate of the withdrawn one.
        out = env.cli("record", "trail", "60%", "--as-of", "2024-04-30")
        self.assertIn("recorded new sample", out)
        doc = {i["id"]: i for i in env.status("--at", "2024-06-30")["indicators"]}
        self.assertEqual(doc["trail"]["value"], 60)
        self.assertEqual(rrd_at(env, "trail", APR), 60)
        self.assertIsNone(rrd_at(env, "trail", MAR))

    def test_beside_daemon_and_explain(self):
        env = self.env
        env.cli("record", "places", "4.1", "--as-of", "2024-03-31")
        env.cli("record", "places", "4.9", "--as-of", "2024-04-30")
        env.cli("record", "trail", "10%", "--as-of", "2024-03-31")
        env.start(NOW)
        env.wait(lambda: harness.port_open(self.port), 30, "the status server")

        def api():
            return {i["id"]: i for i in
                    json.loads(get(self.port, "/api/v1/status"))["indicators"]}
        self.assertEqual(api()["places"]["value"], 4.9)
        self.assertIsNone(api()["places"]["explanation"])
        out = env.cli("retract", "places", "2024-04-30", "--reason", "统计口径有误")
        self.assertIn("retracted", out)
        # Durable before the reply: the journal holds the line, the API the figure before.
        self.assertIn("\tplaces\tretracted\t", env.journal_lines()[-1])
        self.assertEqual(api()["places"]["value"], 4.1)
        env.wait(lambda: rrd_at(env, "places", APR) is None, 30, "the RRD file rebuilt")
        self.assertEqual(rrd_at(env, "places", MAR), 4.1)
        r = env.cli_run("retract", "places", "2024-04-30", "--reason", "again")
        self.assertEqual(r.rc, 1, r.err)
        # The figure back (the latest as_of again): the unknown point is replaced.
        env.cli("record", "places", "4.7", "--as-of", "2024-04-30")
        self.assertEqual(api()["places"]["value"], 4.7)
        env.wait(lambda: rrd_at(env, "places", APR) == 4.7, 30, "the RRD file rewritten")
        env.cli("retract", "places", "2024-04-30", "--reason", "仍有误")
        env.wait(lambda: rrd_at(env, "places", APR) is None, 30, "the RRD file rebuilt")

        # explain: validated by the CLI, then shown by the API.
        r = env.cli_run("explain", "trail")
        self.assertEqual(r.rc, 2, r.err)
        r = env.cli_run("explain", "trail", "--reason", "x", "--catch-up", "2024-02-30")
        self.assertEqual(r.rc, 2, r.err)
        r = env.cli_run("explain", "trail", "--reason", "因" * 501)
        self.assertEqual(r.rc, 2, r.err)
        out = env.cli("explain", "trail", "--reason", "新建托育机构验收延后",
                      "--measures", "加快验收\n备案", "--catch-up", "2024-06-30")
        self.assertIn("explanation recorded as of 2024-04-01T00:00:00+08:00", out)
        e = api()["trail"]["explanation"]
        self.assertEqual(e["reason"], "新建托育机构验收延后")
        self.assertEqual(e["measures"], "加快验收 备案")
        self.assertEqual(e["catch_up"], "2024-06-30")
        self.assertEqual(e["source"], "record")
        self.assertEqual(e["as_of"], "2024-04-01T00:00:00+08:00")
        # Overdue: the catch-up date passed (NOW is after it) while the figure still lags.
        self.assertIn(api()["trail"]["status"], ("lagging", "severe"))
        self.assertIs(e["overdue"], True)
        # Not yet on the catch-up date itself ("2024-06-29" is the end of the 29th).
        doc = {i["id"]: i for i in env.status("--at", "2024-06-29")["indicators"]}
        self.assertIs(doc["trail"]["explanation"]["overdue"], False)

        # A restart keeps both.
        self.assertEqual(env.stop(), 0)
        self.assertEqual(rrd_at(env, "places", MAR), 4.1)
        self.assertIsNone(rrd_at(env, "places", APR))
        env.start(NOW)
        env.wait(lambda: harness.port_open(self.port), 30, "the status server")
        self.assertEqual(api()["places"]["value"], 4.1)
        self.assertEqual(api()["trail"]["explanation"]["catch_up"], "2024-06-30")
        # The CLI's status reads the same.
        self.assertEqual({i["id"]: i for i in env.status()["indicators"]}["trail"]
                         ["explanation"]["reason"], "新建托育机构验收延后")

        # Hostile requests written straight into the inbox: each refused with its reason,
        # nothing journaled.
        lines = len(env.journal_lines())
        bad = [
            ({"op": "retract", "indicator": "places", "as_of": MAR}, "reason is required"),
            ({"op": "retract", "indicator": "places", "as_of": MAR, "reason": "因" * 501},
             "at most 500"),
            ({"op": "retract", "indicator": "places", "as_of": APR, "reason": "x"}, "no sample"),
            ({"op": "retract", "indicator": "nope", "as_of": MAR, "reason": "x"},
             "no indicator 'nope'"),
            ({"op": "retract", "indicator": "../x", "as_of": MAR, "reason": "x"},
             "indicator must be"),
            ({"op": "retract", "indicator": "places", "as_of": "2024", "reason": "x"},
             "as_of must be"),
            ({"op": "retract", "indicator": "places", "as_of": MAR, "reason": "x", "rows": []},
             "rows is not a field"),
            ({"op": "retract", "indicator": "places", "as_of": MAR, "reason": "x",
              "source": "a\tb"}, "source must be"),
            ({"op": "explain", "indicator": "places", "source": "record"}, "a reason or measures"),
            ({"op": "explain", "indicator": "places", "source": "record", "reason": "x",
              "catch_up": "2024-13-01"}, "catch_up must be"),
            ({"op": "explain", "indicator": "places", "reason": "x"}, "source must be"),
            ({"op": "explain", "indicator": "places", "source": "record", "reason": 5},
             "reason must be"),
            ({"op": "explain", "indicator": "places", "source": "record", "reason": "x",
              "extra": 1}, "extra is not a field"),
            ({"op": "explain", "indicator": "places", "source": "record", "reason": "x",
              "字" * 30: 1}, "an unnamed field is not a field"),
            ({"op": "explain", "indicator": "places", "source": "record", "reason": "x",
              "at": 1}, "at must be"),
        ]
        inbox = os.path.join(env.state, "inbox")
        for k, (req, want) in enumerate(bad):
            name = os.path.join(inbox, f"hostile-{k}")
            with open(name + ".tmp", "w", encoding="utf-8") as f:
                json.dump(req, f, ensure_ascii=False)
            os.rename(name + ".tmp", name + ".req")
            env.wait(lambda: os.path.exists(name + ".reply"), 30, f"the reply to {req}")
            with open(name + ".reply", encoding="utf-8") as f:
                reply = json.load(f)
            self.assertIs(reply["ok"], False, req)
            self.assertIn(want, reply["error"], req)
        self.assertEqual(len(env.journal_lines()), lines)
        # An explain request of the inbox's own form is applied (the as_of given).
        name = os.path.join(inbox, "good")
        with open(name + ".tmp", "w", encoding="utf-8") as f:
            json.dump({"op": "explain", "indicator": "places", "source": "report:hrss",
                       "as_of": MAR, "measures": "倒排工期", "catch_up": None}, f)
        os.rename(name + ".tmp", name + ".req")
        env.wait(lambda: os.path.exists(name + ".reply"), 30, "the reply")
        with open(name + ".reply", encoding="utf-8") as f:
            self.assertEqual(json.load(f), {"ok": True, "as_of": MAR})
        e = api()["places"]["explanation"]
        self.assertEqual((e["reason"], e["measures"], e["catch_up"], e["source"]),
                         ("", "倒排工期", None, "report:hrss"))
        self.assertEqual(env.stop(), 0)
        self.assertEqual(env.sanitizer_reports(), [])


if __name__ == "__main__":
    harness.main()
