#!/usr/bin/python3
"""Integration tests of the status server (docs/http.md) on a running pacewatchd with the
demo configuration and history: every route through curl, every error (404, 405, 400, 431, 413,
401 with WWW-Authenticate, 503 past the connection cap, 408 for a client sending a byte a
second while others are served), pipelined and 1,000 concurrent keep-alive connections,
`promtool check metrics`, a real Prometheus server scraping the daemon and answering a query
for an indicator's lag, and headless Chromium rendering the dashboard with its lights."""

import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import harness  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
NOW = "2024-04-30T09:00:00+08:00"


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


def raw(port, data, timeout=20):
    """Sends DATA on one connection and returns everything the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
        return out


def demo(env, extra=""):
    """ENV with the demo configuration and its history imported, served by pacewatchd on a free
    port (env.port, env.base); returns ENV once the status server accepts connections."""
    env.copy_demo()
    env.port = harness.free_port()
    env.edit_conf('http_listen = "127.0.0.1:9464";', f'http_listen = "127.0.0.1:{env.port}"; {extra}')
    env.cli("import", env.path("history.csv"))
    env.base = f"http://127.0.0.1:{env.port}"
    env.start(NOW, ready=lambda: harness.port_open(env.port))
    return env


class Routes(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = demo(cls.new_class_env(), 'http_max_connections = 1100; http_timeout = "4s";')

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        assert rc == 0, rc

    def test_healthz(self):
        status, headers, body = curl(self.d.base + "/healthz")
        self.assertEqual((status, body), (200, b"ok\n"))
        self.assertEqual(headers["content-length"], "3")

    def test_status_api_matches_the_cli(self):
        status, headers, body = curl(self.d.base + "/api/v1/status")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("application/json"))
        doc = json.loads(body)
        cli = self.d.status("--at", NOW)
        self.assertEqual([i["id"] for i in doc["indicators"]], [i["id"] for i in cli["indicators"]])
        for a, b in zip(doc["indicators"], cli["indicators"]):
            self.assertEqual((a["id"], a["status"], a["value"], a["target"]),
                             (b["id"], b["status"], b["value"], b["target"]))
        self.assertTrue(doc["at"].startswith("2024-04-30T09:0"), doc["at"])
        self.assertTrue(doc["at"].endswith("+08:00"))
        lagging = [i["id"] for i in doc["indicators"] if i["status"] == "lagging"]
        self.assertEqual(lagging, ["service_circle_score"])

    def test_metrics(self):
        status, headers, body = curl(self.d.base + "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/plain; version=0.0.4"))
        text = body.decode()
        m = re.search(r'^pacewatch_indicator_lag\{indicator="service_circle_score",domain="programme",'
                      r'department="office",lag_unit="unit"\} (\S+)$', text, re.M)
        self.assertIsNotNone(m, text[:2000])
        self.assertAlmostEqual(float(m.group(1)), 3.7, places=6)
        self.assertRegex(text, r'(?m)^pacewatch_indicator_status\{indicator="service_circle_score",'
                               r'domain="programme",department="office",status="lagging"\} 1$')
        self.assertRegex(text, r'(?m)^pacewatch_indicator_status\{indicator="service_circle_score",'
                               r'domain="programme",department="office",status="ok"\} 0$')
        self.assertRegex(text, r'(?m)^pacewatch_indicator_value\{indicator="vocational_training",'
                               r'domain="education",department="hrss"\} 4782$')
        self.assertRegex(text, r'(?m)^pacewatch_indicator_expected\{indicator="vocational_training",')
        self.assertRegex(text, r'(?m)^pacewatch_build_info\{version="[0-9.]+"\} 1$')
        # Every source appears with its poll counters once it has been polled.
        deadline = time.time() + 30
        while not re.search(r'(?m)^pacewatch_source_polls_total\{source="health"\} [1-9]', text):
            self.assertLess(time.time(), deadline, text[-3000:])
            time.sleep(0.5)
            text = curl(self.d.base + "/metrics")[2].decode()
        for name in ("pacewatch_source_errors_total", "pacewatch_source_poll_duration_seconds",
                     "pacewatch_notifications_queued", "pacewatch_notifications_dead"):
            self.assertRegex(text, r"(?m)^" + name + r"[{ ]")
        # The event loop's stalls: every iteration counted, the longest one a few ms or more.
        count = re.search(r'(?m)^pacewatch_loop_stall_seconds_count (\d+)$', text)
        inf = re.search(r'(?m)^pacewatch_loop_stall_seconds_bucket\{le="\+Inf"\} (\d+)$', text)
        worst = re.search(r'(?m)^pacewatch_loop_stall_max_seconds (\S+)$', text)
        self.assertIsNotNone(count, text[-3000:])
        self.assertGreater(int(count.group(1)), 0)
        self.assertEqual(inf.group(1), count.group(1))
        self.assertGreater(float(worst.group(1)), 0)
        self.assertLess(float(worst.group(1)), 60)
        # The surveyed unemployment figure is not published: no value sample, status no_data.
        self.assertNotRegex(text, r'pacewatch_indicator_value\{indicator="surveyed_unemployment"')
        self.assertRegex(text, r'(?m)^pacewatch_indicator_status\{indicator="surveyed_unemployment",'
                               r'.*status="no_data"\} 1$')

    def test_promtool_accepts_metrics(self):
        body = curl(self.d.base + "/metrics")[2]
        p = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True)
        self.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode())
        self.assertEqual(p.stdout.strip() + p.stderr.strip(), b"")  # not even a lint warning

    def test_dashboard(self):
        status, headers, body = curl(self.d.base + "/")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/html"))
        html = body.decode()
        self.assertIn('<html lang="zh-CN">', html)
        self.assertIn('http-equiv="refresh"', html)
        for name in ("重大项目及民生实事", "幼有善育", "学有优教", "劳有所得", "病有良医", "老有康养",
                     "住有宜居", "弱有众扶"):
            self.assertIn(name, html)
        self.assertRegex(html, r'data-indicator="service_circle_score" data-status="lagging"')
        self.assertRegex(html, r'data-indicator="vocational_training" data-status="ok"')
        self.assertIn("完成率30.7%，序时进度16.7%", html)
        self.assertIn('src="graphs/vocational_training.png?size=small"', html)
        self.assertIn("数据缺口", html)
        self.assertRegex(html, r'data-indicator="surveyed_unemployment" data-status="no_data">'
                               r'<a href="#ind-surveyed_unemployment">.*?</a>[^<]*：数据未公布')
        self.assertIn("数据源状态", html)

    def test_graphs(self):
        from PIL import Image
        import io
        status, headers, body = curl(self.d.base + "/graphs/health_checkups.png")
        self.assertEqual(status, 200, body)
        self.assertEqual(headers["content-type"], "image/png")
        big = Image.open(io.BytesIO(body)).size
        self.assertGreaterEqual(big, (800, 300))  # the 800x300 canvas plus axes and legend
        status, _, body = curl(self.d.base + "/graphs/health_checkups.png?size=small")
        small = Image.open(io.BytesIO(body)).size
        self.assertGreaterEqual(small, (400, 150))
        self.assertLess(small[0], big[0])
        status, headers, body = curl(self.d.base + "/graphs/health_checkups.svg")
        self.assertEqual((status, headers["content-type"]), (200, "image/svg+xml"))
        self.assertIn(b"<svg", body[:500])
        # Ids are validated against the configuration: nothing else is a file.
        for path in ("/graphs/nope.png", "/graphs/health_checkups.gif", "/graphs/../journal.tsv",
                     "/graphs/%2e%2e%2fjournal.png", "/graphs/health_checkups.png/x",
                     "/graphs/"):
            status, _, _ = curl("--path-as-is", self.d.base + path)
            self.assertEqual(status, 404, path)

    def test_head(self):
        out = raw(self.d.port, b"HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        head, _, rest = out.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), out[:200])
        self.assertGreater(int(re.search(rb"Content-Length: (\d+)", head).group(1)), 1000)
        self.assertEqual(rest, b"")

    def test_errors(self):
        status, _, _ = curl(self.d.base + "/nope")
        self.assertEqual(status, 404)
        status, headers, _ = curl("-X", "POST", "--data", "x=1", self.d.base + "/metrics")
        self.assertEqual(status, 405)
        self.assertEqual(headers["allow"], "GET, HEAD")
        for method in ("PUT", "DELETE", "OPTIONS"):
            self.assertEqual(curl("-X", method, self.d.base + "/")[0], 405, method)
        status, _, _ = curl("-H", "X-Big: " + "a" * 10000, self.d.base + "/healthz")
        self.assertEqual(status, 431)
        status, _, _ = curl(self.d.base + "/healthz?" + "q" * 9000)
        self.assertEqual(status, 431)
        status, _, _ = curl("-X", "GET", "--data-binary", "x" * 10000, self.d.base + "/healthz")
        self.assertEqual(status, 413)
        out = raw(self.d.port, b"BLAH BLAH BLAH\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 400"), out)
        out = raw(self.d.port, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64)
        self.assertTrue(out.startswith(b"HTTP/1.1 400"), out)  # a TLS hello is not HTTP
        # The daemon is still there and answering.
        self.assertEqual(curl(self.d.base + "/healthz")[0], 200)

    def test_pipelining(self):
        req = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        last = b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        out = raw(self.d.port, req * 5 + last)
        self.assertEqual(out.count(b"HTTP/1.1 200 OK"), 5, out)
        self.assertTrue(out.rstrip().endswith(b"not found"), out[-200:])

    def test_slow_client_is_cut_off_and_others_are_served(self):
        # http_timeout is 4 s: a request trickling in a byte a second never completes.
        s = socket.create_connection(("127.0.0.1", self.d.port), timeout=30)
        started = time.time()
        answer = b""
        served_meanwhile = False
        try:
            for ch in b"GET /healthz HTTP/1.1\r\nHost: slow\r\n":
                try:
                    s.sendall(bytes([ch]))
                except OSError:
                    break
                if not served_meanwhile:
                    self.assertEqual(curl(self.d.base + "/healthz")[0], 200)
                    served_meanwhile = True
                s.settimeout(1.0)
                try:
                    chunk = s.recv(4096)
                    answer += chunk
                    if not chunk or b"\r\n\r\n" in answer:
                        break
                except socket.timeout:
                    pass
            s.settimeout(10)
            while not answer.endswith(b"request timeout\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                answer += chunk
        finally:
            s.close()
        self.assertTrue(served_meanwhile)
        self.assertTrue(answer.startswith(b"HTTP/1.1 408"), answer)
        self.assertLess(time.time() - started, 30)

    def test_idle_connection_is_closed(self):
        s = socket.create_connection(("127.0.0.1", self.d.port), timeout=30)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        data = s.recv(4096)
        self.assertTrue(data.startswith(b"HTTP/1.1 200"))
        self.assertEqual(s.recv(4096), b"")  # closed by the server after http_timeout idle
        s.close()

    def test_thousand_keepalive_connections(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
        socks = []
        try:
            for _ in range(1000):
                socks.append(socket.create_connection(("127.0.0.1", self.d.port), timeout=30))
            for rnd in range(2):  # two requests on every connection: keep-alive really holds
                for s in socks:
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                ok = 0
                for s in socks:
                    data = b""
                    while not data.endswith(b"ok\n"):
                        chunk = s.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    ok += data.startswith(b"HTTP/1.1 200") and b"Connection: keep-alive" in data
                self.assertEqual(ok, 1000, f"round {rnd}")
        finally:
            for s in socks:
                s.close()
        self.assertEqual(curl(self.d.base + "/healthz")[0], 200)

    @unittest.skipUnless(os.path.exists(CHROMIUM), "chromium is not installed")
    def test_chromium_shows_the_lights(self):
        from PIL import Image
        profile = tempfile.mkdtemp(prefix="pw-chromium-")
        shot = os.path.join(self.d.dir, "shot.png")
        try:
            p = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                                "--no-first-run", "--disable-background-networking",
                                "--disable-component-update", "--disable-sync",
                                "--enable-logging=stderr", "--v=0",
                                "--user-data-dir=" + profile, "--screenshot=" + shot,
                                "--window-size=1280,1600", "--virtual-time-budget=5000",
                                self.d.base + "/"], capture_output=True, text=True, timeout=120)
        finally:
            shutil.rmtree(profile, ignore_errors=True)
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        console = [l for l in p.stderr.splitlines() if ":CONSOLE" in l]
        self.assertEqual(console, [])
        img = Image.open(shot).convert("RGB")
        colors = img.getcolors(maxcolors=1 << 20)
        self.assertGreater(len(colors), 100)  # text, lights and graphs: not a blank page
        counts = {c: n for n, c in colors}
        # The lights: green for ok and amber for the lagging indicator.
        self.assertGreater(counts.get((0x2e, 0x7d, 0x32), 0), 200)
        self.assertGreater(counts.get((0xf0, 0xa5, 0x00), 0), 50)


class Token(harness.TestCase):
    def test_bearer_token_and_connection_cap(self):
        d = demo(self.new_env(), 'http_token = "s3cret-token"; http_max_connections = 3;')
        try:
            status, headers, body = curl(d.base + "/metrics")
            self.assertEqual(status, 401)
            self.assertTrue(headers["www-authenticate"].startswith("Bearer"))
            self.assertNotIn(b"pacewatch_indicator", body)
            for bad in ("Bearer wrong", "Bearer s3cret-toke", "Bearer s3cret-token-x",
                        "Basic czNjcmV0LXRva2Vu", "s3cret-token"):
                self.assertEqual(curl("-H", "Authorization: " + bad, d.base + "/")[0], 401, bad)
            good = ("-H", "Authorization: Bearer s3cret-token")
            for path in ("/", "/metrics", "/api/v1/status", "/graphs/health_checkups.png"):
                self.assertEqual(curl(*good, d.base + path)[0], 200, path)
            self.assertEqual(curl(*good, d.base + "/nope")[0], 404)
            self.assertEqual(curl(d.base + "/healthz")[0], 200)  # no token needed
            # The cap: three open connections, the fourth is refused with 503.
            held = [socket.create_connection(("127.0.0.1", d.port), timeout=10) for _ in range(3)]
            time.sleep(0.3)
            out = raw(d.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertTrue(out.startswith(b"HTTP/1.1 503"), out)
            for s in held:
                s.close()
            deadline = time.time() + 10
            while curl(d.base + "/healthz")[0] != 200:
                self.assertLess(time.time(), deadline)
                time.sleep(0.2)
        finally:
            self.assertEqual(d.stop(), 0)


def has_ipv6():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class Reload(harness.TestCase):
    def test_abandoned_graph_request_and_rebinding(self):
        d = demo(self.new_env())
        try:
            # A client that asks for graphs and leaves before they are rendered: the renders
            # finish later with nobody to answer, and the daemon goes on.
            for name in ("health_checkups.svg", "vocational_training.png", "meal_service_visits.svg"):
                s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
                s.sendall(f"GET /graphs/{name} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                s.close()
            time.sleep(1.5)
            self.assertEqual(curl(d.base + "/healthz")[0], 200)
            self.assertEqual(curl(d.base + "/graphs/health_checkups.svg")[0], 200)

            # SIGHUP with a new address: the server moves there.
            old_port = d.port
            family, host = (socket.AF_INET6, "::1") if has_ipv6() else (socket.AF_INET, "127.0.0.1")
            with socket.socket(family) as s:
                s.bind((host, 0))
                new_port = s.getsockname()[1]
            literal = f"[::1]:{new_port}" if family == socket.AF_INET6 else f"127.0.0.1:{new_port}"
            d.edit_conf(f'"127.0.0.1:{old_port}"', f'"{literal}"')
            d.daemon.hup()
            new_base = f"http://[::1]:{new_port}" if family == socket.AF_INET6 else \
                f"http://127.0.0.1:{new_port}"
            deadline = time.time() + 30
            while curl(new_base + "/healthz", timeout=2)[0] != 200:
                self.assertLess(time.time(), deadline, d.log_tail())
                time.sleep(0.3)
            self.assertEqual(curl(d.base + "/healthz", timeout=2)[0], 0)  # the old one is closed
            self.assertEqual(curl(new_base + "/metrics")[0], 200)

            # An address that is taken: the reload keeps the server where it is.
            with socket.socket() as taken:
                taken.bind(("127.0.0.1", 0))
                taken.listen(1)
                busy = taken.getsockname()[1]
                d.edit_conf(f'"{literal}"', f'"127.0.0.1:{busy}"')
                d.daemon.hup()
                deadline = time.time() + 30
                while "stays on" not in d.logs():
                    self.assertLess(time.time(), deadline, d.log_tail())
                    time.sleep(0.3)
                self.assertEqual(curl(new_base + "/healthz")[0], 200)
        finally:
            self.assertEqual(d.stop(), 0)


class PrometheusScrape(harness.TestCase):
    def test_prometheus_scrapes_the_lag(self):
        d = demo(self.new_env())
        tmp = d.path("prometheus")
        os.makedirs(tmp)
        prom_port = harness.free_port()
        with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: pacewatch\n    static_configs:\n"
                    f"      - targets: ['127.0.0.1:{d.port}']\n")
        prom = d.spawn(["prometheus", "--config.file=" + os.path.join(tmp, "prometheus.yml"),
                        "--storage.tsdb.path=" + os.path.join(tmp, "data"),
                        f"--web.listen-address=127.0.0.1:{prom_port}"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            q = urllib.parse.quote('pacewatch_indicator_lag{indicator="service_circle_score"}')
            url = f"http://127.0.0.1:{prom_port}/api/v1/query?query={q}"
            deadline = time.time() + 90
            result = []
            while time.time() < deadline and not result:
                time.sleep(1)
                try:
                    with urllib.request.urlopen(url, timeout=5) as r:
                        result = json.load(r)["data"]["result"]
                except OSError:
                    pass
            self.assertEqual(len(result), 1, "Prometheus never scraped the lag")
            self.assertEqual(result[0]["metric"]["department"], "office")
            self.assertEqual(result[0]["metric"]["domain"], "programme")
            self.assertAlmostEqual(float(result[0]["value"][1]), 3.7, places=6)
            q = urllib.parse.quote('up{job="pacewatch"}')
            with urllib.request.urlopen(f"http://127.0.0.1:{prom_port}/api/v1/query?query={q}",
                                        timeout=5) as r:
                self.assertEqual(json.load(r)["data"]["result"][0]["value"][1], "1")
        finally:
            prom.terminate()
            prom.wait(timeout=30)
            self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    harness.main()
