#!/usr/bin/python3
"""Integration tests of pacewatchd: the real daemon against real HTTP endpoints on loopback
(tests/support/sources_server.py), file sources, real RRD files read back with rrdtool, and a
real rrdcached over a unix socket and over TCP. Covers the four parser plugins, every date and
value form from a payload, not-published markers, broken sources (500, 404, timeout, a body
over max_bytes chunked and with Content-Length, a redirect to file://, a broken body) that never
stop the others, unchanged data storing nothing, a revision regenerating the RRD, SIGHUP with a
broken file, SIGTERM, and CLI writes handed to a running daemon through its inbox."""

import csv
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request

BUILD = os.environ.get("PW_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
SOURCE = os.environ.get("PW_SOURCE", os.path.join(os.path.dirname(__file__), "..", ".."))
PACEWATCH = os.path.join(BUILD, "bin", "pacewatch")
PACEWATCHD = os.path.join(BUILD, "bin", "pacewatchd")
SERVER = os.path.join(SOURCE, "tests", "support", "sources_server.py")
NOW = "2024-04-30T09:00:00+08:00"

CONF = """
daemon: {{ state_dir = "state"; log_level = "debug"; http_listen = ""; rrdcached = "{rrdcached}"; }};
domains = ( {{ id = "d"; name = "测试"; }} );
sources = (
  {{ id = "hj"; url = "http://127.0.0.1:{port}/data/health.json"; format = "json"; as_of = "$.as_of"; interval = "{interval}"; }},
  {{ id = "hc"; url = "http://127.0.0.1:{port}/data/edu.csv"; format = "csv"; charset = "GBK"; as_of = "日期[指标=托位数]"; }},
  {{ id = "hp"; url = "http://127.0.0.1:{port}/data/metrics.txt"; format = "prometheus"; }},
  {{ id = "hr"; url = "http://127.0.0.1:{port}/data/page.html"; format = "regex"; as_of = "截至([0-9]+年[0-9]+月[0-9]+日)"; }},
  {{ id = "fj"; url = "data/file.json"; format = "json"; }},
  {{ id = "b500"; url = "http://127.0.0.1:{port}/status/500"; format = "json"; }},
  {{ id = "b404"; url = "http://127.0.0.1:{port}/status/404"; format = "json"; }},
  {{ id = "bslow"; url = "http://127.0.0.1:{port}/slow?ms=3000"; format = "json"; timeout = "1s"; }},
  {{ id = "bchunk"; url = "http://127.0.0.1:{port}/chunked?n=300000"; format = "regex"; max_bytes = 100000; }},
  {{ id = "bbig"; url = "http://127.0.0.1:{port}/big?n=300000"; format = "regex"; max_bytes = 100000; }},
  {{ id = "bredir"; url = "http://127.0.0.1:{port}/redirect-file"; format = "regex"; }},
  {{ id = "bbody"; url = "http://127.0.0.1:{port}/data/broken.json"; format = "json"; }}
);
indicators = (
  {{ id = "checkups"; name = "体检人数"; domain = "d"; source = "hj"; path = "$.items[?@.code=='TJ01'].value"; kind = "cumulative";
     targets = ( {{ year = 2024; annual = 190000; quarters = [ 28500, 95000, 142500, 190000 ]; }} ); }},
  {{ id = "meals"; name = "助餐人次"; domain = "d"; source = "hj"; path = "$.items[?@.code=='ZC'].value"; kind = "cumulative";
     targets = ( {{ year = 2024; annual = 1701000; }} ); }},
  {{ id = "unemp"; name = "失业率"; domain = "d"; source = "hj"; path = "$.items[?@.code=='SY'].value"; kind = "standard"; direction = "down";
     targets = ( {{ year = 2024; standard = 5.5; }} ); }},
  {{ id = "reimb"; name = "报销比例"; domain = "d"; source = "hj"; path = "$['报销']"; as_of = "$['报销日期']"; kind = "standard";
     targets = ( {{ year = 2024; standard = 85.0; }} ); }},
  {{ id = "places"; name = "托位数"; domain = "d"; source = "hc"; path = "数值[指标=托位数]"; kind = "level";
     targets = ( {{ year = 2024; baseline = 4.0; annual = 4.5; }} ); }},
  {{ id = "training"; name = "培训人次"; domain = "d"; source = "hc"; path = "数值[指标=培训人次]"; as_of = "日期[指标=培训人次]"; kind = "cumulative";
     targets = ( {{ year = 2024; annual = 15600; }} ); }},
  {{ id = "wage"; name = "安薪指数"; domain = "d"; source = "hp"; path = "pw_wage_index{{county=\\"平阳\\"}}"; kind = "standard";
     targets = ( {{ year = 2024; standard = 95.0; }} ); }},
  {{ id = "score"; name = "均衡得分"; domain = "d"; source = "hr"; path = "得分：([0-9.]+)"; kind = "standard";
     targets = ( {{ year = 2024; standard = 86.83; }} ); }},
  {{ id = "stage"; name = "验收"; domain = "d"; source = "fj"; path = "$.stage"; kind = "milestone"; stages = [ "建设中", "待验收", "已验收" ];
     targets = ( {{ year = 2024; due = [ "", "2024-03-31", "2024-12-31" ]; }} ); }},
  {{ id = "broken"; name = "坏数据"; domain = "d"; source = "bbody"; path = "$.v"; kind = "level";
     targets = ( {{ year = 2024; baseline = 0; annual = 1; }} ); }},
  {{ id = "slowv"; name = "慢"; domain = "d"; source = "bslow"; path = "$.v"; kind = "level";
     targets = ( {{ year = 2024; baseline = 0; annual = 1; }} ); }},
  {{ id = "manual"; name = "手工"; domain = "d"; kind = "cumulative"; targets = ( {{ year = 2024; annual = 100; }} ); }}
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


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Env:
    def __init__(self, rrdcached="", interval="1h"):
        self.dir = tempfile.mkdtemp(prefix="pw-daemon-")
        self.data = os.path.join(self.dir, "data")
        os.makedirs(self.data)
        self.write_data()
        self.server = subprocess.Popen(["/usr/bin/python3", SERVER, self.data],
                                       stdout=subprocess.PIPE, text=True)
        self.port = int(self.server.stdout.readline())
        self.conf = os.path.join(self.dir, "pw.conf")
        self.write_conf(rrdcached=rrdcached, interval=interval)
        self.procs = []

    def write_conf(self, rrdcached="", interval="1h", extra=""):
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write(CONF.format(port=self.port, rrdcached=rrdcached, interval=interval) + extra)

    def write_data(self, health=HEALTH):
        with open(os.path.join(self.data, "health.json"), "w", encoding="utf-8") as f:
            json.dump(health, f, ensure_ascii=False)
        with open(os.path.join(self.data, "edu.csv"), "wb") as f:
            f.write(CSV_TEXT.replace("\ufeff", "").encode("gbk"))
        with open(os.path.join(self.data, "metrics.txt"), "w", encoding="utf-8") as f:
            f.write(METRICS)
        with open(os.path.join(self.data, "page.html"), "w", encoding="utf-8") as f:
            f.write(PAGE)
        with open(os.path.join(self.data, "file.json"), "w", encoding="utf-8") as f:
            json.dump(FILE_JSON, f, ensure_ascii=False)
        with open(os.path.join(self.data, "broken.json"), "w") as f:
            f.write('{"v": NaN}')

    def once(self, now=NOW):
        p = subprocess.run([PACEWATCHD, "-c", self.conf, "--once", "--now", now],
                           capture_output=True, text=True, timeout=120)
        return p.returncode, p.stderr

    def export(self, ind):
        p = subprocess.run([PACEWATCH, "export", "-c", self.conf, ind], capture_output=True,
                           text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        return list(csv.DictReader(io.StringIO(p.stdout)))

    def journal_lines(self):
        p = os.path.join(self.dir, "state", "journal", "journal.tsv")
        with open(p, encoding="utf-8") as f:
            return [l for l in f if not l.startswith("#")]

    def rrd(self, ind):
        return os.path.join(self.dir, "state", "rrd", ind + ".rrd")

    def lastupdate(self, ind):
        out = subprocess.run(["rrdtool", "lastupdate", self.rrd(ind)], capture_output=True,
                             text=True, check=True).stdout
        line = [l for l in out.splitlines() if ":" in l and l.split(":")[0].strip().isdigit()][-1]
        t, vals = line.split(":", 1)
        return int(t), [float(v) if v.strip() != "U" else None for v in vals.split()]

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.server.kill()
        self.server.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def ts(text):
    from datetime import datetime
    return int(datetime.fromisoformat(text).timestamp())


class Once(unittest.TestCase):
    def setUp(self):
        self.env = Env()

    def tearDown(self):
        self.env.close()

    def test_samples_as_the_contract_says(self):
        rc, log = self.env.once()
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
            t, vals = self.env.lastupdate(ind)
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
        # status agrees with the run.
        p = subprocess.run([PACEWATCH, "status", "-c", self.env.conf, "--json", "--at", NOW],
                           capture_output=True, text=True)
        st = {i["id"]: i for i in json.loads(p.stdout)["indicators"]}
        self.assertEqual(st["checkups"]["value"], 37774)
        self.assertEqual(st["stage"]["stage"], "待验收")
        self.assertEqual(st["unemp"]["status"], "no_data")
        self.assertEqual(st["score"]["status"], "lagging")

    def test_unchanged_stores_nothing_and_revision_rebuilds(self):
        rc, log = self.env.once()
        self.assertEqual(rc, 0, log)
        n = len(self.env.journal_lines())
        rc, log = self.env.once("2024-04-30T09:10:00+08:00")
        self.assertEqual(rc, 0, log)
        self.assertEqual(len(self.env.journal_lines()), n, log)
        # The department corrects its figure for the same date: a revision.
        h = dict(HEALTH)
        h["items"] = [{"code": "TJ01", "value": "37,900"}, {"code": "ZC", "value": "51.03万"}]
        self.env.write_data(h)
        rc, log = self.env.once("2024-04-30T09:20:00+08:00")
        self.assertEqual(rc, 0, log)
        rows = self.env.export("checkups")
        self.assertEqual([(r["value"], r["revision"]) for r in rows], [("37774", "0"), ("37900", "1")])
        t, vals = self.env.lastupdate("checkups")
        self.assertEqual(vals[0], 37900)
        self.assertIn("revision", log)
        # The stamp-less source confirms its unchanged value only once a day.
        self.assertEqual(len(self.env.export("stage")), 1)
        rc, log = self.env.once("2024-05-01T09:30:00+08:00")
        self.assertEqual(len(self.env.export("stage")), 2)


class Running(unittest.TestCase):
    def setUp(self):
        self.env = Env(interval="2s")

    def tearDown(self):
        self.env.close()

    def start(self):
        log = open(os.path.join(self.env.dir, "daemon.log"), "w")
        p = subprocess.Popen([PACEWATCHD, "-c", self.env.conf, "-f", "--now", NOW], stdout=log,
                             stderr=subprocess.STDOUT)
        self.env.procs.append(p)
        return p

    def log(self):
        with open(os.path.join(self.env.dir, "daemon.log"), encoding="utf-8") as f:
            return f.read()

    def wait_for(self, pred, timeout=15):
        end = time.time() + timeout
        while time.time() < end:
            if pred():
                return True
            time.sleep(0.1)
        return False

    def test_reload_inbox_and_stop(self):
        p = self.start()
        self.assertTrue(self.wait_for(lambda: len(self.env.export("checkups")) == 1), self.log())
        # A second daemon on the same state directory is refused.
        q = subprocess.run([PACEWATCHD, "-c", self.env.conf, "-f"], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(q.returncode, 1)
        self.assertIn("another pacewatchd", q.stderr)
        # A CLI write is handed to the running daemon.
        r = subprocess.run([PACEWATCH, "record", "-c", self.env.conf, "manual", "42", "--as-of",
                            "2024-04-20"], capture_output=True, text=True, timeout=90)
        self.assertEqual(r.returncode, 0, r.stderr + self.log())
        self.assertEqual([x["value"] for x in self.env.export("manual")], ["42"])
        self.assertTrue(self.wait_for(lambda: os.path.exists(self.env.rrd("manual"))))
        # A broken configuration is refused and the daemon keeps polling.
        with open(self.env.conf, "a") as f:
            f.write("\nbogus = 1;\n")
        p.send_signal(signal.SIGHUP)
        self.assertTrue(self.wait_for(lambda: "reload failed" in self.log()), self.log())
        self.assertIsNone(p.poll())
        def counts():
            url = f"http://127.0.0.1:{self.env.port}/count"
            with urllib.request.urlopen(url, timeout=5) as r:
                return json.loads(r.read()).get("/data/health.json", 0)
        before = counts()
        self.assertTrue(self.wait_for(lambda: counts() > before + 1), self.log())
        # A good one is taken.
        self.env.write_conf(interval="2s")
        p.send_signal(signal.SIGHUP)
        self.assertTrue(self.wait_for(lambda: "reloaded" in self.log()), self.log())
        t0 = time.time()
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(timeout=10), 0, self.log())
        self.assertLess(time.time() - t0, 5)
        self.assertIn("stopped", self.log())
        self.assertNotIn("handles still open", self.log())


def start_rrdcached(tmp, listen):
    base = os.path.join(tmp, "state")
    os.makedirs(os.path.join(base, "rrd"), exist_ok=True)
    jdir = os.path.join(tmp, "rrdc-journal")
    os.makedirs(jdir, exist_ok=True)
    p = subprocess.Popen(["rrdcached", "-g", "-l", listen, "-w", "3600", "-z", "1", "-f", "7200",
                          "-b", base, "-p", os.path.join(tmp, "rrdcached.pid"), "-j", jdir],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return p


class ThroughRrdcached(unittest.TestCase):
    def fetch_all(self, env, ind):
        out = subprocess.run(["rrdtool", "fetch", env.rrd(ind), "LAST", "-s", "1711900800",
                              "-e", "1714060800"], capture_output=True, text=True, check=True)
        return [l for l in out.stdout.splitlines() if ":" in l]

    def run_with(self, listen_kind):
        direct = Env()
        cached = Env()
        try:
            rc, log = direct.once()
            self.assertEqual(rc, 0, log)
            if listen_kind == "unix":
                sock = os.path.join(cached.dir, "rrdcached.sock")
                addr = listen = "unix:" + sock
                ready = lambda: os.path.exists(sock)
            else:
                port = free_port()
                listen = f"127.0.0.1:{port}"
                addr = listen

                def ready():
                    try:
                        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                        return True
                    except OSError:
                        return False
            rrdc = start_rrdcached(cached.dir, listen)
            cached.procs.append(rrdc)
            end = time.time() + 10
            while not ready() and time.time() < end:
                time.sleep(0.05)
            self.assertTrue(ready())
            cached.write_conf(rrdcached=addr)
            rc, log = cached.once()
            self.assertEqual(rc, 0, log)
            for ind in ("checkups", "places", "wage", "score"):
                self.assertEqual(self.fetch_all(direct, ind), self.fetch_all(cached, ind), ind)
            t, vals = cached.lastupdate("checkups")
            self.assertEqual(t, ts("2024-04-26T00:00:00+08:00"))
            rrdc.terminate()
            rrdc.wait(timeout=10)
        finally:
            direct.close()
            cached.close()

    def test_unix_socket(self):
        self.run_with("unix")

    def test_tcp(self):
        self.run_with("tcp")


if __name__ == "__main__":
    unittest.main(verbosity=2)
