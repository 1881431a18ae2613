#!/usr/bin/python3
"""Integration tests of pacewatchd: the real daemon against real HTTP endpoints on loopback
(tests/support/sources_server.py), file sources, real RRD files read back with rrdtool, and a
real rrdcached over a unix socket and over TCP. Covers the four parser plugins, every date and
value form from a payload, not-published markers, broken sources (500, 404, timeout, a body
over max_bytes chunked and with Content-Length, a redirect to file://, a broken body) that never
stop the others, unchanged data storing nothing, a revision regenerating the RRD, SIGHUP with a
broken file, SIGTERM, and CLI writes handed to a running daemon through its inbox."""

import json
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import harness  # noqa: E402

NOW = "2024-04-30T09:00:00+08:00"

CONF = """
daemon: { state_dir = "state"; log_level = "debug"; http_listen = ""; rrdcached = "{rrdcached}"; };
domains = ( { id = "d"; name = "测试"; } );
sources = (
  { id = "hj"; url = "http://127.0.0.1:{port}/data/health.json"; format = "json"; as_of = "$.as_of"; interval = "{interval}"; },
  { id = "hc"; url = "http://127.0.0.1:{port}/data/edu.csv"; format = "csv"; charset = "GBK"; as_of = "日期[指标=托位数]"; },
  { id = "hp"; url = "http://127.0.0.1:{port}/data/metrics.txt"; format = "prometheus"; },
  { id = "hr"; url = "http://127.0.0.1:{port}/data/page.html"; format = "regex"; as_of = "截至([0-9]+年[0-9]+月[0-9]+日)"; },
  { id = "fj"; url = "data/file.json"; format = "json"; },
  { id = "b500"; url = "http://127.0.0.1:{port}/status/500"; format = "json"; },
  { id = "b404"; url = "http://127.0.0.1:{port}/status/404"; format = "json"; },
  { id = "bslow"; url = "http://127.0.0.1:{port}/slow?ms=3000"; format = "json"; timeout = "1s"; },
  { id = "bchunk"; url = "http://127.0.0.1:{port}/chunked?n=300000"; format = "regex"; max_bytes = 100000; },
  { id = "bbig"; url = "http://127.0.0.1:{port}/big?n=300000"; format = "regex"; max_bytes = 100000; },
  { id = "bredir"; url = "http://127.0.0.1:{port}/redirect-file"; format = "regex"; },
  { id = "bbody"; url = "http://127.0.0.1:{port}/data/broken.json"; format = "json"; }
);
indicators = (
  { id = "checkups"; name = "体检人数"; domain = "d"; source = "hj"; path = "$.items[?@.code=='TJ01'].value"; kind = "cumulative";
     targets = ( { year = 2024; annual = 190000; quarters = [ 28500, 95000, 142500, 190000 ]; } ); },
  { id = "meals"; name = "助餐人次"; domain = "d"; source = "hj"; path = "$.items[?@.code=='ZC'].value"; kind = "cumulative";
     targets = ( { year = 2024; annual = 1701000; } ); },
  { id = "unemp"; name = "失业率"; domain = "d"; source = "hj"; path = "$.items[?@.code=='SY'].value"; kind = "standard"; direction = "down";
     targets = ( { year = 2024; standard = 5.5; } ); },
  { id = "reimb"; name = "报销比例"; domain = "d"; source = "hj"; path = "$['报销']"; as_of = "$['报销日期']"; kind = "standard";
     targets = ( { year = 2024; standard = 85.0; } ); },
  { id = "places"; name = "托位数"; domain = "d"; source = "hc"; path = "数值[指标=托位数]"; kind = "level";
     targets = ( { year = 2024; baseline = 4.0; annual = 4.5; } ); },
  { id = "training"; name = "培训人次"; domain = "d"; source = "hc"; path = "数值[指标=培训人次]"; as_of = "日期[指标=培训人次]"; kind = "cumulative";
     targets = ( { year = 2024; annual = 15600; } ); },
  { id = "wage"; name = "安薪指数"; domain = "d"; source = "hp"; path = "pw_wage_index{county=\\"平阳\\"}"; kind = "standard";
     targets = ( { year = 2024; standard = 95.0; } ); },
  { id = "score"; name = "均衡得分"; domain = "d"; source = "hr"; path = "得分：([0-9.]+)"; kind = "standard";
     targets = ( { year = 2024; standard = 86.83; } ); },
  { id = "stage"; name = "验收"; domain = "d"; source = "fj"; path = "$.stage"; kind = "milestone"; stages = [ "建设中", "待验收", "已验收" ];
     targets = ( { year = 2024; due = [ "", "2024-03-31", "2024-12-31" ]; } ); },
  { id = "broken"; name = "坏数据"; domain = "d"; source = "bbody"; path = "$.v"; kind = "level";
     targets = ( { year = 2024; baseline = 0; annual = 1; } ); },
  { id = "slowv"; name = "慢"; domain = "d"; source = "bslow"; path = "$.v"; kind = "level";
     targets = ( { year = 2024; baseline = 0; annual = 1; } ); },
  { id = "manual"; name = "手工"; domain = "d"; kind = "cumulative"; targets = ( { year = 2024; annual = 100; } ); }
);
"""

HEALTH = {"as_of": "2024年4月25日",
          "items": [{"code": "TJ01", "value": "37,774"}, {"code": "ZC", "value": "51.03万"},
                    {"code": "SY", "value": "未公布"}],
          "报销": "87.45%", "报销日期": "2024-03"}
CSV_TEXT = ("\ufeff指标,日期,数值\r\n托位数,2024/03/31,4.35\r\n"
            "\"培训人次\",\"2024年一季度\",\"4,782\"\r\n")
METRICS = ("# HELP pw_wage_index wage\n# TYPE pw_wage_index gauge\n"
           'pw_wage_index{county="平阳"} 96.126 1711900800000\n'
           'pw_wage_index{county="苍南"} 91 1711900800000\n')
PAGE = "<html><body><p>截至2024年3月31日，得分：83.13分</p></body></html>"
FILE_JSON = {"stage": "待验收"}


def write_data(env, health=HEALTH):
    """The department's files in the directory's data/, served by env.server."""
    env.write("data/health.json", json.dumps(health, ensure_ascii=False))
    env.write("data/edu.csv", CSV_TEXT.replace("\ufeff", "").encode("gbk"))
    env.write("data/metrics.txt", METRICS)
    env.write("data/page.html", PAGE)
    env.write("data/file.json", json.dumps(FILE_JSON, ensure_ascii=False))
    env.write("data/broken.json", '{"v": NaN}')


def write_conf(env, rrdcached="", interval="1h"):
    env.write_conf(CONF, port=env.server.port, rrdcached=rrdcached, interval=interval)


def setup(env, rrdcached="", interval="1h"):
    """ENV with the data, its sources server (env.server) and the configuration."""
    write_data(env)
    env.server = env.sources_server()
    write_conf(env, rrdcached=rrdcached, interval=interval)
    return env


def ts(text):
    from datetime import datetime
    return int(datetime.fromisoformat(text).timestamp())


class Once(harness.TestCase):
    def setUp(self):
        self.env = setup(self.new_env())

    def test_samples_as_the_contract_says(self):
        rc, log = self.env.once(NOW)
        self.assertEqual(rc, 0, log)
        want = {
            "checkups": ("2024-04-26T00:00:00+08:00", "37774"),
            "meals": ("2024-04-26T00:00:00+08:00", "510300"),
            "reimb": ("2024-04-01T00:00:00+08:00", "87.45"),
            "places": ("2024-04-01T00:00:00+08:00", "4.35"),
            "training": ("2024-04-01T00:00:00+08:00", "4782"),
            "wage": ("2024-04-01T00:00:00+08:00", "96.126"),
            "score": ("2024-04-01T00:00:00+08:00", "83.13"),
        }
        for ind, (as_of, value) in want.items():
            rows = self.env.export(ind)
            self.assertEqual(len(rows), 1, f"{ind}: {rows}\n{log}")
            self.assertEqual((rows[0]["as_of"], rows[0]["value"]), (as_of, value), ind)
            t, vals = self.env.rrd_lastupdate(ind)
            self.assertEqual(t, ts(as_of), ind)
            self.assertAlmostEqual(vals[0], float(value), places=6)
        # A source without as_of: stamped with the fetch time (the simulated clock).
        rows = self.env.export("stage")
        self.assertEqual(len(rows), 1, log)
        self.assertEqual(rows[0]["value"], "1")
        self.assertLess(abs(ts(rows[0]["as_of"]) - ts(NOW)), 120)
        # Not published: nothing stored, and no error.
        self.assertEqual(self.env.export("unemp"), [])
        # Broken sources were logged and the others polled anyway.
        self.assertEqual(self.env.export("broken"), [])
        self.assertEqual(self.env.export("slowv"), [])
        for frag in ("'b500'", "HTTP 500", "'b404'", "HTTP 404", "'bslow'", "'bchunk'", "'bbig'",
                     "max_bytes", "'bredir'", "'bbody'"):
            self.assertIn(frag, log)
        # status agrees with the run (at the end of its day: stage's sample is stamped with
        # the fetch, a few seconds after NOW when the daemon runs under valgrind).
        st = {i["id"]: i for i in self.env.status("--at", "2024-04-30")["indicators"]}
        self.assertEqual(st["checkups"]["value"], 37774)
        self.assertEqual(st["stage"]["stage"], "待验收")
        self.assertEqual(st["unemp"]["status"], "no_data")
        self.assertEqual(st["score"]["status"], "lagging")

    def test_unchanged_stores_nothing_and_revision_rebuilds(self):
        rc, log = self.env.once(NOW)
        self.assertEqual(rc, 0, log)
        n = len(self.env.journal_lines())
        rc, log = self.env.once("2024-04-30T09:10:00+08:00")
        self.assertEqual(rc, 0, log)
        self.assertEqual(len(self.env.journal_lines()), n, log)
        # The department corrects its figure for the same date: a revision.
        h = dict(HEALTH)
        h["items"] = [{"code": "TJ01", "value": "37,900"}, {"code": "ZC", "value": "51.03万"}]
        write_data(self.env, h)
        rc, log = self.env.once("2024-04-30T09:20:00+08:00")
        self.assertEqual(rc, 0, log)
        rows = self.env.export("checkups")
        self.assertEqual([(r["value"], r["revision"]) for r in rows], [("37774", "0"), ("37900", "1")])
        t, vals = self.env.rrd_lastupdate("checkups")
        self.assertEqual(vals[0], 37900)
        self.assertIn("revision", log)
        # The stamp-less source confirms its unchanged value only once a day.
        self.assertEqual(len(self.env.export("stage")), 1)
        rc, log = self.env.once("2024-05-01T09:30:00+08:00")
        self.assertEqual(len(self.env.export("stage")), 2)


class Running(harness.TestCase):
    def test_reload_inbox_and_stop(self):
        env = setup(self.new_env(), interval="2s")
        d = env.start(NOW, ready=None)
        env.wait(lambda: len(env.export("checkups")) == 1, 15, "the first poll's sample")
        # A second daemon on the same state directory is refused.
        q = harness.pacewatchd("-c", env.conf, "-f", timeout=30)
        self.assertEqual(q.rc, 1)
        self.assertIn("another pacewatchd", q.err)
        # A CLI write is handed to the running daemon.
        r = env.cli_run("record", "manual", "42", "--as-of", "2024-04-20", timeout=90)
        self.assertEqual(r.rc, 0, r.err + d.log())
        self.assertEqual([x["value"] for x in env.export("manual")], ["42"])
        env.wait(lambda: os.path.exists(env.rrd("manual")), 15, "manual's RRD file")
        # A broken configuration is refused and the daemon keeps polling.
        env.append_conf("\nbogus = 1;\n")
        d.hup()
        d.wait_log("reload failed", 15)
        self.assertIsNone(d.poll())

        def counts():
            return env.server.counts().get("/data/health.json", 0)
        before = counts()
        env.wait(lambda: counts() > before + 1, 15, "two more polls of health.json")
        # A good one is taken.
        write_conf(env, interval="2s")
        d.hup()
        d.wait_log("reloaded", 15)
        t0 = time.time()
        self.assertEqual(d.stop(timeout=10), 0, d.log())
        self.assertLess(time.time() - t0, 5 * harness.TIMEOUT_FACTOR)
        self.assertIn("stopped", d.log())
        self.assertNotIn("handles still open", d.log())


def start_rrdcached(env, listen):
    base = env.state
    os.makedirs(os.path.join(base, "rrd"), exist_ok=True)
    jdir = env.path("rrdc-journal")
    os.makedirs(jdir, exist_ok=True)
    p = env.spawn(["rrdcached", "-g", "-l", listen, "-w", "3600", "-z", "1", "-f", "7200",
                   "-b", base, "-p", env.path("rrdcached.pid"), "-j", jdir],
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return p


class ThroughRrdcached(harness.TestCase):
    def fetch_all(self, env, ind):
        out = subprocess.run(["rrdtool", "fetch", env.rrd(ind), "LAST", "-s", "1711900800",
                              "-e", "1714060800"], capture_output=True, text=True, check=True)
        return [l for l in out.stdout.splitlines() if ":" in l]

    def run_with(self, listen_kind):
        direct = setup(self.new_env("direct"))
        cached = setup(self.new_env("cached"))
        rc, log = direct.once(NOW)
        self.assertEqual(rc, 0, log)
        if listen_kind == "unix":
            sock = cached.path("rrdcached.sock")
            addr = listen = "unix:" + sock
            ready = lambda: os.path.exists(sock)
        else:
            port = harness.free_port()
            listen = f"127.0.0.1:{port}"
            addr = listen

            def ready():
                return harness.port_open(port, timeout=0.2)
        rrdc = start_rrdcached(cached, listen)
        harness.wait_for(ready, 10, 0.05)
        self.assertTrue(ready())
        write_conf(cached, rrdcached=addr)
        rc, log = cached.once(NOW)
        self.assertEqual(rc, 0, log)
        for ind in ("checkups", "places", "wage", "score"):
            self.assertEqual(self.fetch_all(direct, ind), self.fetch_all(cached, ind), ind)
        t, vals = cached.rrd_lastupdate("checkups")
        self.assertEqual(t, ts("2024-04-26T00:00:00+08:00"))
        rrdc.terminate()
        rrdc.wait(timeout=10)

    def test_unix_socket(self):
        self.run_with("unix")

    def test_tcp(self):
        self.run_with("tcp")


if __name__ == "__main__":
    harness.main()
