#!/usr/bin/python3
"""The department reporting page (docs/http.md "Reporting page") on a running pacewatchd with
the demo at 2024-04-30: headless Chromium at phone size (390x844) opens the link `pacewatch
token add` printed, fills "1.2万" and a note, submits and sees 已保存 with the new status (the
journal line and the audit line are there; screenshots report_page-390x844.png and
report_page-error.png in the test's output folder); a bad value shows admission's reason beside
the field and stores nothing; a token of another department is refused (403) for the page's part
and every indicator; no or a wrong token is 401, and the sixth failure within a minute from one
address 429 with Retry-After (another address unaffected); a body over 64 KiB is 413; token
add/list/revoke (a revoked token is 401 within seconds; tokens.json is 0600 and holds no token;
no token in the daemon's log); a planted link or garbage at tokens.json is refused with a clear
log line; and POSTs in flight while the daemon is killed with SIGKILL: every one answered
已保存 is in the journal after the restart."""

import http.client
import json
import os
import random
import re
import stat
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import harness  # noqa: E402
import chromium_cdp  # noqa: E402

NOW = "2024-04-30T09:00:00+08:00"
HOUSING = ["old_estate_renovation", "rental_housing_units", "property_mgmt_coverage",
           "elevator_retrofits"]


def request(port, method, path, token=None, body=None, ctype="application/json",
            source="127.0.0.1", headers=None):
    """One request from SOURCE; returns (status, headers dict (lower-case), body text)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
    h = dict(headers or {})
    if token is not None:
        h["X-Pacewatch-Token"] = token
    if body is not None:
        if isinstance(body, dict):
            body = json.dumps(body, ensure_ascii=False)
        body = body.encode() if isinstance(body, str) else body
        h["Content-Type"] = ctype
    try:
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode()
    finally:
        c.close()


def token_of(link):
    return link.strip().split("#t=", 1)[1]


def setup_env(env):
    env.copy_demo()
    env.port = harness.free_port()
    env.edit_conf('http_listen = "127.0.0.1:9464";', f'http_listen = "127.0.0.1:{env.port}";')
    env.edit_conf('public_url  = "http://127.0.0.1:9464";',
                  f'public_url  = "http://127.0.0.1:{env.port}";')
    env.cli("import", env.path("history.csv"))


class PageCase(harness.TestCase):
    """One daemon for the class on the county of setup_env, with a link of 县住建局 (token) and
    one of 县教育局 (edu); test_report_upload's tests use it too."""
    @classmethod
    def setUpClass(cls):
        env = cls.d = cls.new_class_env()
        setup_env(env)
        cls.link = env.cli("token", "add", "housing").strip()
        cls.token = token_of(cls.link)
        cls.edu = token_of(env.cli("token", "add", "education"))
        env.start(NOW, ready=lambda: harness.port_open(env.port))

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        assert rc == 0, rc


class ReportPage(PageCase):

    def journal(self):
        return self.d.journal_text()

    @unittest.skipUnless(os.path.exists(chromium_cdp.CHROMIUM), "chromium is not installed")
    def test_phone_fill_and_submit(self):
        env = self.d
        self.assertRegex(self.link, rf"^http://127\.0\.0\.1:{env.port}/report/housing#t=[\w-]{{43}}$")
        with chromium_cdp.Browser() as b:
            b.viewport(390, 844, True)
            b.open(self.link)
            env.wait(lambda: b.js("document.querySelectorAll('section.ind').length") == 4, 20,
                     "the department's indicators on the page")
            # The token left the address at once (not bookmarked, not forwarded).
            self.assertEqual(b.js("location.hash"), "")
            self.assertEqual(b.js("[...document.querySelectorAll('section.ind')]"
                                  ".map(s => s.dataset.indicator)"), HOUSING)
            lay = b.js("({sw: document.documentElement.scrollWidth, iw: innerWidth, "
                       "btn: Math.min(...[...document.querySelectorAll('button,input,select')]"
                       ".map(e => e.getBoundingClientRect().height))})")
            self.assertLessEqual(lay["sw"], lay["iw"])
            self.assertGreaterEqual(lay["btn"], 44)  # touch targets
            self.assertEqual(b.js("document.getElementById('d-rental_housing_units').value"),
                             "2024-03-31")  # the end of the last month
            sec = "#ind-rental_housing_units"
            before = len(env.journal_lines())
            b.js(f"""(() => {{ const f = document.querySelector('{sec} form');
                f.elements.value.value = '1.2万'; f.elements.note.value = '含新开工项目';
                f.querySelector('button').click(); }})()""")
            res = env.wait(lambda: b.js(f"document.querySelector('{sec} .result.ok')?.textContent"),
                           20, "已保存 on the page")
            self.assertTrue(res.startswith("已保存。现为“"), res)
            self.assertIn("12000套(间)", res)
            status = b.js(f"document.querySelector('{sec}').dataset.status")
            self.assertEqual(res[res.index("“") + 1:res.index("”")],
                             b.js(f"document.querySelector('{sec} .st').textContent"))
            self.assertIn(status, ("ok", "lagging", "severe"))
            self.assertIn("12000套(间)", b.js(f"document.querySelector('{sec} .due').textContent"))
            lines = env.journal_lines()
            self.assertEqual(len(lines), before + 1)
            self.assertEqual(lines[-1].rstrip("\n").split("\t"),
                             ["2024-04-01T00:00:00+08:00", "rental_housing_units", "12000",
                              lines[-1].split("\t")[3], "report:housing", "含新开工项目"])
            audit = [json.loads(x) for x in harness.read_text(env.path("state", "audit.log"))
                     .splitlines() if '"report"' in x]
            self.assertEqual({k: audit[-1][k] for k in ("event", "department", "address",
                                                        "indicator", "as_of", "old", "new",
                                                        "note")},
                             {"event": "report", "department": "housing", "address": "127.0.0.1",
                              "indicator": "rental_housing_units", "as_of": 1711900800,
                              "old": 1200.0, "new": 12000.0, "note": "含新开工项目"})
            b.js("window.scrollTo(0, 0)")
            b.screenshot(os.path.join(env.out, "report_page-390x844.png"))

            # A bad value: admission's reason beside the field, nothing stored.
            sec = "#ind-elevator_retrofits"
            before = env.journal_text()
            b.js(f"""(() => {{ const f = document.querySelector('{sec} form');
                f.elements.value.value = '七八台'; f.querySelector('button').click(); }})()""")
            msg = env.wait(lambda: b.js(f"document.querySelector('{sec} .err[data-for=value]')"
                                        ".textContent"), 20, "the message beside the field")
            self.assertIn("数值无法识别", msg)
            self.assertIn("未保存", b.js(f"document.querySelector('{sec} .result').textContent"))
            b.js(f"document.querySelector('{sec}').scrollIntoView()")
            b.screenshot(os.path.join(env.out, "report_page-error.png"), full=False)
            self.assertEqual(env.journal_text(), before)
            # The browser reports the 422 answer itself; nothing else may go wrong.
            self.assertEqual([e for e in b.console_errors() if "status of 422" not in e], [])

    def test_bad_input_is_422_naming_the_field(self):
        p, t = self.d.port, self.token
        before = self.journal()
        for body, field in (({"value": "", "as_of": "2024-03-31"}, "value"),
                            ({"value": "abc", "as_of": "2024-03-31"}, "value"),
                            ({"value": "5", "as_of": "昨天"}, "as_of"),
                            ({"value": "5", "as_of": "2030-01-01"}, "as_of"),
                            ({"value": "5", "as_of": "2024-03-31", "note": "长" * 201}, "note"),
                            ({"value": ["5"], "as_of": "2024-03-31"}, "value")):
            with self.subTest(body=body):
                st, _, text = request(p, "POST", "/report/housing/elevator_retrofits", t, body)
                self.assertEqual(st, 422, text)
                doc = json.loads(text)
                self.assertEqual(doc["field"], field)
                self.assertRegex(doc["message"], r"[\u4e00-\u9fff]")
        st, _, _ = request(p, "POST", "/report/housing/elevator_retrofits", t, "{not json")
        self.assertEqual(st, 400)
        self.assertEqual(self.journal(), before)
        # A form body is read as well; dates in the forms import reads.
        st, _, text = request(p, "POST", "/report/housing/elevator_retrofits", t,
                              "value=3&as_of=2024%E5%B9%B43%E6%9C%8831%E6%97%A5",
                              ctype="application/x-www-form-urlencoded")
        self.assertEqual(st, 200, text)
        self.assertTrue(json.loads(text)["message"].startswith("已保存"))
        self.assertRegex(self.journal(), r"2024-04-01T00:00:00\+08:00\televator_retrofits\t3\t")

    def test_another_departments_token_is_403(self):
        p = self.d.port
        st, _, _ = request(p, "GET", "/report/housing/view", self.edu)
        self.assertEqual(st, 403)
        before = self.journal()
        for ind in HOUSING:
            st, _, _ = request(p, "POST", f"/report/housing/{ind}", self.edu,
                               {"value": "1", "as_of": "2024-03-31"})
            self.assertEqual(st, 403, ind)
        # The housing token names education's own route, or an education indicator under
        # housing's: both refused.
        self.assertEqual(request(p, "GET", "/report/education/view", self.token)[0], 403)
        conf = self.d.conf_text()
        edu = re.findall(r'id = "(\w+)";[^}]*department = "education"', conf)
        self.assertTrue(edu)
        for ind in edu:
            for dept, tok in (("housing", self.token), ("education", self.token)):
                st, _, _ = request(p, "POST", f"/report/{dept}/{ind}", tok,
                                   {"value": "1", "as_of": "2024-03-31"})
                self.assertEqual(st, 403, (dept, ind))
        self.assertEqual(self.journal(), before)
        # The page's shell holds no data and needs no token; an unknown department is 404.
        st, h, page = request(p, "GET", "/report/housing")
        self.assertEqual(st, 200)
        self.assertIn("script-src 'sha256-", h["content-security-policy"])
        self.assertIn('<meta name="viewport"', page)
        self.assertNotIn("rental_housing_units", page)
        self.assertEqual(request(p, "GET", "/report/nobody")[0], 404)
        self.assertEqual(request(p, "GET", "/report/housing/view", self.token)[0], 200)
        self.assertEqual(request(p, "GET", "/report/housing/rental_housing_units",
                                 self.token)[0], 405)

    def test_no_or_wrong_token_is_401_then_429(self):
        p, src = self.d.port, "127.0.0.77"
        self.assertEqual(request(p, "GET", "/report/housing/view", source=src)[0], 401)
        for i in range(4):
            st, _, _ = request(p, "POST", "/report/housing/elevator_retrofits",
                               self.token[:-1] + ("A" if self.token[-1] != "A" else "B"),
                               {"value": "1", "as_of": "2024-03-31"}, source=src)
            self.assertEqual(st, 401, i)
        st, h, _ = request(p, "GET", "/report/housing/view", self.token, source=src)
        self.assertEqual(st, 429)
        self.assertGreater(int(h["retry-after"]), 0)
        self.assertLessEqual(int(h["retry-after"]), 60)
        # Another address is not held back.
        self.assertEqual(request(p, "GET", "/report/housing/view", self.token,
                                 source="127.0.0.78")[0], 200)
        self.assertNotIn(self.token, self.d.logs())
        self.assertIn("5 wrong tokens from 127.0.0.77", self.d.logs())

    def test_body_over_64k_is_413(self):
        st, _, _ = request(self.d.port, "POST", "/report/housing/elevator_retrofits", self.token,
                           '{"value":"1","as_of":"2024-03-31","note":"' + "x" * 70000 + '"}')
        self.assertEqual(st, 413)

    def test_token_add_list_revoke(self):
        env = self.d
        n = env.daemon.log().count("tokens.json changed: 3 reporting tokens")
        out = env.cli("token", "add", "housing")
        tok = token_of(out)
        # The daemon re-reads tokens.json every 5 s.
        env.daemon.wait_log("tokens.json changed: 3 reporting tokens", 15, count=n + 1)
        self.assertEqual(request(env.port, "GET", "/report/housing/view", tok)[0], 200)
        listed = env.cli("token", "list")
        ids = re.findall(r"^([0-9a-f]{8})\thousing\tcreated ", listed, re.M)
        self.assertGreaterEqual(len(ids), 2)
        path = env.path("state", "tokens.json")
        text = harness.read_text(path)
        for t in (tok, self.token, self.edu):
            self.assertNotIn(t, listed)
            self.assertNotIn(t, text)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        new_id = json.loads(text)["tokens"][-1]["id"]
        # A figure sent with the new link: its audit line names the token, and `token list`
        # says when each link was last used.
        self.assertIn(f"{new_id}\thousing\tcreated ", listed)
        self.assertRegex(listed, rf"{new_id}\thousing\tcreated [^\t]+\tnot used\n")
        st, _, _ = request(env.port, "POST", "/report/housing/elevator_retrofits", tok,
                           '{"value":"3","as_of":"2024-03-31"}', source="127.0.0.91")
        self.assertEqual(st, 200)
        audit = [json.loads(x) for x in harness.read_text(env.path("state", "audit.log"))
                 .splitlines() if '"report"' in x]
        self.assertEqual(audit[-1]["token"], new_id)
        listed = env.cli("token", "list")
        self.assertRegex(listed, rf"{new_id}\thousing\tcreated [^\t]+\tlast used "
                                 r"\d{4}-\d\d-\d\dT[^,]+, 1 submission\n")
        self.assertIn(f"token {new_id} revoked", env.cli("token", "revoke", new_id))
        self.assertNotIn(new_id, env.cli("token", "list"))
        env.daemon.wait_log("tokens.json changed: 2 reporting tokens", 15)
        self.assertEqual(request(env.port, "GET", "/report/housing/view", tok,
                                 source="127.0.0.90")[0], 401)
        self.assertEqual(env.cli_run("token", "revoke", new_id).rc, 1)
        self.assertEqual(env.cli_run("token", "add", "nobody").rc, 2)
        self.assertEqual(request(env.port, "GET", "/report/housing/view", self.token)[0], 200)


class Hostile(harness.TestCase):
    def test_link_and_garbage_at_tokens_json(self):
        env = self.new_env()
        env.copy_demo(history=False)
        env.port = harness.free_port()
        env.edit_conf('http_listen = "127.0.0.1:9464";', f'http_listen = "127.0.0.1:{env.port}";')
        tok = token_of(env.cli("token", "add", "housing"))
        path = env.path("state", "tokens.json")
        env.start(NOW)
        self.assertEqual(request(env.port, "GET", "/report/housing/view", tok)[0], 200)
        real = env.path("elsewhere.json")
        os.rename(path, real)
        os.symlink(real, path)
        env.daemon.wait_log("tokens.json: refused: a symbolic link (not followed)", 20)
        self.assertEqual(request(env.port, "GET", "/report/housing/view", tok)[0], 401)
        r = env.cli_run("token", "list")
        self.assertEqual(r.rc, 1)
        self.assertIn("symbolic link", r.err)
        os.unlink(path)
        with open(path, "w") as f:
            f.write('{"tokens":[{"id":"zz"}]}')
        env.daemon.wait_log("tokens.json: refused: entry 1:", 20)
        os.rename(real, path)
        env.daemon.wait_log("tokens.json is readable again: 1 reporting tokens", 20)
        self.assertEqual(request(env.port, "GET", "/report/housing/view", tok)[0], 200)
        self.assertNotIn(tok, env.logs())
        self.assertEqual(env.stop(), 0)


class TrustedProxy(harness.TestCase):
    def test_forwarded_for_believed_from_the_proxy_only(self):
        env = self.new_env()
        env.copy_demo(history=False)
        env.port = harness.free_port()
        listen = f'http_listen = "127.0.0.1:{env.port}";'
        env.edit_conf('http_listen = "127.0.0.1:9464";', listen + ' http_trusted_proxy = "nginx";')
        r = env.cli_run("check")
        self.assertEqual(r.rc, 2)
        self.assertRegex(r.err, r"pacewatch\.conf:\d+: .*http_trusted_proxy 'nginx' must be")
        env.edit_conf('http_trusted_proxy = "nginx";', 'http_trusted_proxy = "127.0.0.1";')
        tok = token_of(env.cli("token", "add", "housing"))
        env.start(NOW)
        bad = tok[:-1] + ("A" if tok[-1] != "A" else "B")
        xff = {"X-Forwarded-For": "203.0.113.7, 10.0.0.9"}
        for _ in range(5):
            self.assertEqual(request(env.port, "GET", "/report/housing/view", bad,
                                     headers=xff)[0], 401)
        self.assertEqual(request(env.port, "GET", "/report/housing/view", tok, headers=xff)[0],
                         429)
        self.assertIn("5 wrong tokens from 10.0.0.9", env.daemon.log())
        # Another client behind the proxy is not held back.
        st, _, text = request(env.port, "POST", "/report/housing/elevator_retrofits", tok,
                              {"value": "4", "as_of": "2024-03-31"},
                              headers={"X-Forwarded-For": "10.0.0.10"})
        self.assertEqual(st, 200, text)
        audit = harness.read_text(env.path("state", "audit.log"))
        self.assertIn('"address":"10.0.0.10"', audit)
        # From anywhere but the proxy, X-Forwarded-For is the client's own word: ignored.
        for _ in range(5):
            request(env.port, "GET", "/report/housing/view", bad, source="127.0.0.2",
                    headers={"X-Forwarded-For": "10.0.0.11"})
        self.assertIn("5 wrong tokens from 127.0.0.2", env.daemon.log())
        self.assertEqual(env.stop(), 0)


class Kill9(harness.TestCase):
    def test_acknowledged_submissions_survive_sigkill(self):
        env = self.new_env()
        setup_env(env)
        tok = token_of(env.cli("token", "add", "housing"))
        env.start(NOW, ready=lambda: harness.port_open(env.port))
        acked, lock = [], threading.Lock()
        stop = threading.Event()

        def sender(k):
            i = 0
            while not stop.is_set():
                day = 1 + (k * 997 + i) % 365
                as_of = time.strftime("%Y-%m-%d", time.gmtime(1672531200 + day * 86400))
                value = k * 100000 + i
                try:
                    st, _, text = request(env.port, "POST", "/report/housing/rental_housing_units",
                                          tok, {"value": str(value), "as_of": as_of})
                except OSError:
                    return
                if st == 200 and json.loads(text)["message"].startswith("已保存"):
                    with lock:
                        acked.append((as_of, value))
                i += 1

        threads = [threading.Thread(target=sender, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        time.sleep(1.0 + random.random())
        env.kill9()
        stop.set()
        for t in threads:
            t.join(30)
        self.assertGreater(len(acked), 0)
        env.start(NOW, ready=lambda: harness.port_open(env.port))
        text = env.journal_text()
        lost = [a for a in acked
                if not re.search(rf"\trental_housing_units\t{a[1]}\t[^\t]*\treport:housing", text)]
        self.assertEqual(lost, [], f"{len(acked)} acknowledged")
        with open(os.path.join(env.out, "kill9.txt"), "w") as f:
            f.write(f"{len(acked)} submissions acknowledged before SIGKILL, all in the journal\n")
        self.assertEqual(env.stop(), 0)


if __name__ == "__main__":
    harness.main()
