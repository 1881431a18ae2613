#!/usr/bin/python3
"""Fault cases: hostile sources. One daemon polls a good source (a new figure at every request)
beside sources that refuse the connection, reset it mid-body, trickle a byte a second past their
timeout, loop redirects, serve invalid UTF-8, NaN/1e400/5e-324/-0, GBK without `charset`,
ragged CSV, garbage Prometheus lines and bodies over max_bytes (with Content-Length, chunked, a
gzip bomb); each case checks one of them against that one daemon (they run side by side, so the
whole class takes about as long as its slowest case). A TLS source with a self-signed
certificate (a real TLS server, the certificate made by openssl) runs on a daemon of its own:
refused with a clear error, accepted once its `ca_file` names the certificate."""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faults  # noqa: E402
import harness  # noqa: E402

NOW = "2024-04-30T09:00:00+08:00"
# How "12" and the byte 0xFF read in the log: escaped, or as it comes (read back as U+FFFD).
BAD_BYTE = r"12(\\xff|\\xFF|\ufffd)"

HEAD = """
daemon: { state_dir = "state"; log_level = "info"; http_listen = "127.0.0.1:{http}"; };
domains = ( { id = "d"; name = "测试"; } );
"""

# id, url path (or a full URL), format, extra source keys, [(indicator id, path)]
SOURCES = [
    ("good", "/good.json", "json", 'interval = "1s";', [("good_v", "$.v")]),
    ("refused", "{closed}", "json", "", [("refused_v", "$.v")]),
    ("reset", "/reset.json", "json", "", [("reset_v", "$.v")]),
    ("trickle", "/trickle.json", "json", 'timeout = "2s";', [("trickle_v", "$.v")]),
    ("loop", "/loop-a", "json", "", [("loop_v", "$.v")]),
    ("utf8_json", "/bad-utf8.json", "json", "", [("utf8_json_v", "$.v")]),
    ("utf8_csv", "/bad-utf8.csv", "csv", "",
     [("utf8_csv_v", "v[k=good]"), ("utf8_csv_bad", "v[k=bad]")]),
    ("values_csv", "/values.csv", "csv", "",
     [("csv_good", "v[k=good]"), ("csv_nan", "v[k=nan]"), ("csv_huge", "v[k=huge]"),
      ("csv_subnormal", "v[k=subnormal]"), ("csv_negzero", "v[k=negzero]")]),
    ("values_prom", "/values.prom", "prometheus", "",
     [("prom_good", "pw_good"), ("prom_nan", "pw_nan"), ("prom_huge", "pw_huge"),
      ("prom_subnormal", "pw_subnormal"), ("prom_negzero", "pw_negzero")]),
    ("values_json", "/values.json", "json", "",
     [("json_good", "$.good"), ("json_subnormal", "$.subnormal"), ("json_negzero", "$.negzero")]),
    ("json_1e400", "/1e400.json", "json", "", [("json_1e400_v", "$.v")]),
    ("gbk_plain", "/gbk.csv", "csv", "", [("gbk_plain_v", "值[地区=城关镇]")]),
    ("gbk", "/gbk.csv", "csv", 'charset = "GBK";', [("gbk_v", "值[地区=城关镇]")]),
    ("ragged", "/ragged.csv", "csv", "", [("ragged_v", "v[k=good]")]),
    ("garbage_prom", "/garbage.prom", "prometheus", "", [("garbage_prom_v", "pw_good")]),
    ("huge", "/huge.json", "json", "max_bytes = 100000;", [("huge_v", "$.v")]),
    ("huge_chunked", "/huge-chunked.json", "json", "max_bytes = 100000;",
     [("huge_chunked_v", "$.v")]),
    ("gzip_bomb", "/bomb.json", "json", "max_bytes = 1000000;", [("gzip_bomb_v", "$.v")]),
]


def conf_text(hostile, closed_port):
    srcs, inds = [], []
    for sid, path, fmt, extra, paths in SOURCES:
        url = (f"http://127.0.0.1:{closed_port}/x.json" if path == "{closed}"
               else hostile.url(path))
        srcs.append(f'  {{ id = "{sid}"; url = "{url}"; format = "{fmt}"; interval = "2s"; '
                    f'{extra} }}'.replace('interval = "2s"; interval', "interval"))
        for iid, p in paths:
            p = p.replace('"', '\\"')
            inds.append(f'  {{ id = "{iid}"; name = "{iid}"; domain = "d"; source = "{sid}"; '
                        f'path = "{p}"; kind = "standard"; '
                        f'targets = ( {{ year = 2024; standard = 0.0; }} ); }}')
    return (HEAD + "sources = (\n" + ",\n".join(srcs) + "\n);\nindicators = (\n"
            + ",\n".join(inds) + "\n);\n")


def serve_hostile(h):
    """The routes of SOURCES on the Hostile server H."""
    h.good("/good.json")
    h.reset_mid_body("/reset.json")
    h.trickle("/trickle.json")
    h.redirect("/loop-a", "/loop-b")
    h.redirect("/loop-b", "/loop-a")
    h.static("/bad-utf8.json", b'{"v": 7, "name": "\xff\xfe\xc0\xaf"}')
    h.good("/bad-utf8.csv", 5000, "text/csv",
           lambda n: b"k,v\r\nname,\xff\xfe\xc0\xaf\r\nbad,12\xff\r\ngood,%d\r\n" % n)
    h.good("/values.csv", 2000, "text/csv",
           lambda n: (f"k,v\ngood,{n}\nnan,NaN\nhuge,1e400\nsubnormal,5e-324\nnegzero,-0\n")
           .encode())
    h.good("/values.prom", 3000, "text/plain; version=0.0.4",
           lambda n: (f"# TYPE pw_good gauge\npw_good {n}\npw_nan NaN\npw_huge 1e400\n"
                      f"pw_subnormal 5e-324\npw_negzero -0\n").encode())
    h.good("/values.json", 4000, "application/json",
           lambda n: f'{{"good": {n}, "subnormal": 5e-324, "negzero": -0}}'.encode())
    h.static("/1e400.json", b'{"v": 1e400}')
    h.static("/gbk.csv", "地区,值\r\n城关镇,123\r\n".encode("gbk"), "text/csv")
    h.static("/ragged.csv", b"k,v\ngood,1\nbad,2,3\n", "text/csv")
    h.static("/garbage.prom", b"pw_good 1\nthis is { not a sample\n\x00\x01garbage 1 2 3 4\n",
             "text/plain")
    h.static("/huge.json", b'{"v": 1, "pad": "' + b"x" * 300000 + b'"}')
    h.chunked("/huge-chunked.json", 300000)
    h.static("/bomb.json", faults.gzip_bomb(50 * 1024 * 1024), headers=[("Content-Encoding", "gzip")])


class HostileSources(faults.FaultCase):
    """One daemon, every hostile source of SOURCES beside the good ones."""

    @classmethod
    def setUpClass(cls):
        cls.env = env = cls.new_class_env()
        cls.h = faults.Hostile()
        cls.addClassCleanup(cls.h.close)
        serve_hostile(cls.h)
        cls.http = harness.free_port()
        env.write_conf(conf_text(cls.h, harness.free_port()), http=cls.http)
        env.start(NOW)

    # -- what every case checks --

    def still_fine(self):
        """The daemon runs, answers /healthz, still polls the good source, and every figure the
        good sources served is in the journal."""
        self.assert_alive(self.env, self.http, polled=[(self.h, "/good.json")])
        self.nothing_lost(self.env, "good_v", lambda: self.h.served("/good.json"))
        self.nothing_lost(self.env, "csv_good", lambda: self.h.served("/values.csv"))

    def failing(self, sid, path, error, polls=3):
        """Source SID (served at PATH) fails its polls with ERROR (a regular expression): one
        line says so, however many polls fail the same way; nothing of it is stored."""
        if path is not None:
            self.env.wait(lambda: self.h.counts(path) >= polls, 30, f"{polls} polls of {sid}")
        line = self.one_line(self.env, rf"source '{sid}'", at_most=1)
        self.assertRegex(line, rf"^error: sched: source '{sid}': poll failed: {error}$")
        for _, _, _, _, paths in [s for s in SOURCES if s[0] == sid]:
            for iid, _ in paths:
                self.assertEqual(self.env.export(iid), [], iid)
        self.still_fine()

    def bad_sample(self, sid, iid, text, extra=""):
        """Indicator IID of source SID gets the bad sample TEXT (a regular expression):
        refused with a line naming the source, the indicator and the text; nothing stored for
        it."""
        self.one_line(self.env, rf"source '{sid}', indicator '{iid}': bad sample "
                      rf"'{text}'{re.escape(extra)}$", at_most=None)
        self.assertEqual(self.env.export(iid), [], iid)

    # -- transport --

    def test_connection_refused(self):
        self.failing("refused", None, r"Couldn't connect to server: Failed to connect to "
                     r"127\.0\.0\.1 port \d+: Couldn't connect to server", polls=0)

    def test_reset_mid_body(self):
        self.failing("reset", "/reset.json", r"Failure when receiving data from the peer: "
                     r"Recv failure: Connection reset by peer")

    def test_trickle_past_the_timeout(self):
        # A byte a second against a 2 s timeout: every poll times out the same way, so the
        # source is logged once (curl's own text counts milliseconds and bytes received).
        self.failing("trickle", "/trickle.json",
                     r"timeout after 2000 ms \(receiving the body\)")

    def test_redirect_loop(self):
        self.failing("loop", "/loop-a", r"Number of redirects hit maximum amount: "
                     r"Maximum \(5\) redirects followed")

    def test_body_over_max_bytes_with_content_length(self):
        self.failing("huge", "/huge.json", r"body larger than max_bytes \(100000\)")

    def test_body_over_max_bytes_chunked(self):
        self.failing("huge_chunked", "/huge-chunked.json",
                     r"body larger than max_bytes \(100000\)")

    def test_gzip_bomb_over_max_bytes(self):
        # 50 MiB of zeros in about 50 KB of gzip: max_bytes counts the decompressed body.
        self.failing("gzip_bomb", "/bomb.json", r"body larger than max_bytes \(1000000\)")

    # -- bodies --

    def test_invalid_utf8_in_json(self):
        self.failing("utf8_json", "/bad-utf8.json",
                     r"cannot parse the json body: JSON: line 1 column 18: "
                     r"unable to decode byte 0xff near '\"'")

    def test_invalid_utf8_in_csv(self):
        # Bytes that are not UTF-8 in a cell nobody reads change nothing; as the value they
        # are a bad sample (logged with the text, not stored), the good figure of the same
        # answer is stored.
        self.bad_sample("utf8_csv", "utf8_csv_bad", BAD_BYTE)
        self.nothing_lost(self.env, "utf8_csv_v", lambda: self.h.served("/bad-utf8.csv"))
        self.still_fine()

    def test_ragged_csv(self):
        self.failing("ragged", "/ragged.csv",
                     r"cannot parse the csv body: CSV: line 3: 3 fields, but the header has 2")

    def test_garbage_prometheus_lines(self):
        self.failing("garbage_prom", "/garbage.prom", r"cannot parse the prometheus body: "
                     r"prometheus: line 2 column 8: bad value 'is'")

    def test_gbk_without_charset(self):
        # The same GBK file: read with charset = "GBK" it gives its figure; without, the line
        # about it must say the header is not UTF-8 and point at the charset, rather than
        # print GBK bytes as if they were text.
        self.env.wait(lambda: self.env.export("gbk_v"), 15, "the GBK figure")
        self.assertEqual([r["value"] for r in self.env.export("gbk_v")], ["123"])
        line = self.one_line(self.env, r"source 'gbk_plain'", at_most=None)
        self.assertRegex(line, r"^error: ingest: source 'gbk_plain', indicator 'gbk_plain_v': "
                         r"path 值\[地区=城关镇\]: unknown column '值'; .*not UTF-8.*charset")
        self.assertEqual(self.env.export("gbk_plain_v"), [])
        self.still_fine()

    # -- figures --

    def test_nan(self):
        self.bad_sample("values_csv", "csv_nan", "NaN")
        self.bad_sample("values_prom", "prom_nan", "NaN", " (not a finite number)")
        self.still_fine()
        self.nothing_lost(self.env, "prom_good", lambda: self.h.served("/values.prom"))

    def test_1e400(self):
        self.bad_sample("values_csv", "csv_huge", "1e400")
        self.bad_sample("values_prom", "prom_huge", "1e400", " (not a finite number)")
        # In JSON the number itself is refused by the parser: the whole answer fails.
        self.failing("json_1e400", "/1e400.json", r"cannot parse the json body: JSON: line 1 "
                     r"column 11: real number overflow near '1e400'")

    def test_negative_zero(self):
        # -0 is zero: stored once (a later -0 is the same figure) and read back.
        for iid in ("csv_negzero", "prom_negzero", "json_negzero"):
            rows = self.env.wait(lambda: self.env.export(iid), 15, f"{iid} stored")
            self.assertEqual(len(rows), 1, rows)
            self.assertEqual(float(rows[0]["value"]), 0.0)
        self.still_fine()

    def test_subnormal_from_text(self):
        # 5e-324 as text: refused by the figure grammar... (it is finite, but the journal
        # could not read it back).
        self.bad_sample("values_csv", "csv_subnormal", "5e-324")
        self.still_fine()

    def test_subnormal_number(self):
        # Issue 12 item 8: a subnormal read as a number (Prometheus, JSON) is admitted and
        # journaled, but the journal cannot read the line back ("malformed journal line
        # skipped" at every load). Admission must refuse it as a bad sample.
        r = self.env.cli_run("export", "good_v")
        self.assertNotIn("malformed journal line", r.err)
        self.bad_sample("values_prom", "prom_subnormal", "5e-324",
                        " (too close to zero to be stored)")
        self.bad_sample("values_json", "json_subnormal", "5e-324",
                        " (too close to zero to be stored)")

    # -- the log --

    def test_same_bad_sample_logged_once(self):
        # Not an issue-12 item (daemon/ingest/ingest.c): a figure that stays bad is logged
        # again at every poll (warning, or error for a path error such as GBK's unknown
        # column), where a failing source is logged once and a path selecting nothing once
        # until it selects something again (docs/configuration.md, docs/values.md).
        self.env.wait(lambda: self.h.counts("/values.prom") >= 3, 30, "3 polls")
        for pat in (r"indicator 'prom_nan': bad sample", r"indicator 'csv_nan': bad sample",
                    r"source 'gbk_plain'"):
            self.one_line(self.env, pat, at_most=1)

    def test_log_is_utf8(self):
        # Not an issue-12 item (daemon/core/log.c): control characters from outside are
        # escaped, but bytes that are not UTF-8 are written as they come ("bad sample
        # '12\xff'"); under systemd journald then keeps the line as a blob, not text.
        self.bad_sample("utf8_csv", "utf8_csv_bad", BAD_BYTE)
        with open(self.env.daemon.log_path, "rb") as f:
            f.read().decode("utf-8")


class Tls(faults.FaultCase):
    """A source on a real TLS server whose certificate is self-signed (made by openssl)."""

    CONF = HEAD + """
sources = (
  { id = "good"; url = "{good}"; format = "json"; interval = "1s"; },
  { id = "tls"; url = "{tls}"; format = "json"; interval = "1s"; }
);
indicators = (
  { id = "good_v"; name = "好"; domain = "d"; source = "good"; path = "$.v"; kind = "standard";
    targets = ( { year = 2024; standard = 0.0; } ); },
  { id = "tls_v"; name = "加密"; domain = "d"; source = "tls"; path = "$.v"; kind = "standard";
    targets = ( { year = 2024; standard = 0.0; } ); }
);
"""

    @classmethod
    def setUpClass(cls):
        cls.env = env = cls.new_class_env()
        cls.h = faults.Hostile()
        cls.addClassCleanup(cls.h.close)
        cls.h.good("/good.json")
        cls.tls = faults.TlsServer(env.dir)
        cls.addClassCleanup(cls.tls.close)
        cls.http = harness.free_port()
        env.write_conf(cls.CONF, http=cls.http, good=cls.h.url("/good.json"), tls=cls.tls.url)
        env.start(NOW)

    def test_1_self_signed_refused(self):
        self.env.wait(lambda: self.tls.hostile.counts("/v") == 0 and
                      "source 'tls'" in self.env.daemon.log(), 15, "the TLS source's poll")
        line = self.one_line(self.env, r"source 'tls'", at_most=1)
        self.assertRegex(line, r"^error: sched: source 'tls': poll failed: .*"
                         r"SSL certificate problem: self-signed certificate")
        self.assertEqual(self.tls.served(), [])
        self.assertEqual(self.env.export("tls_v"), [])
        self.assert_alive(self.env, self.http, polled=[(self.h, "/good.json")])
        self.nothing_lost(self.env, "good_v", lambda: self.h.served("/good.json"))

    @faults.RELOAD_UAF
    def test_2_accepted_with_its_ca_file(self):
        self.env.edit_conf('format = "json"; interval = "1s"; }\n);',
                           f'format = "json"; interval = "1s"; ca_file = "{self.tls.cert}"; }}\n);')
        self.env.daemon.hup()
        self.env.daemon.wait_log("reloaded", 15)
        self.env.daemon.wait_log("source 'tls': answering again", 15)
        self.env.wait(lambda: len(self.tls.served()) >= 2, 15, "two TLS answers")
        self.nothing_lost(self.env, "tls_v", self.tls.served)
        self.assert_alive(self.env, self.http, polled=[(self.h, "/good.json")])
        self.nothing_lost(self.env, "good_v", lambda: self.h.served("/good.json"))
        self.assertEqual(self.env.stop(), 0)


if __name__ == "__main__":
    faults.main()
