#!/usr/bin/python3
"""Prometheus and Grafana users (docs/install.md "Prometheus and Grafana", docs/http.md
"Metrics"): `promtool check rules` and `promtool test rules` on conf/prometheus/pacewatch.rules.yml
(tests/prometheus/pacewatch.rules.test.yml fires each alert rule and checks the recording rules),
then a real Prometheus (Debian's /usr/bin/prometheus, on 127.0.0.1, scrape interval 1 s, the
rules loaded) scraping a real pacewatchd on the demo configuration with a `county` label, as a
province does: `promtool check metrics` accepts the daemon's /metrics, and EVERY query of the
Grafana dashboard conf/grafana/pacewatch.json (every `expr`, its template variables substituted
as Grafana would with "All" selected) returns data through Prometheus' HTTP API, as do the
dashboard's county variable and every recording rule. Skipped only when prometheus is not
installed (quickstart.sh's test set installs it)."""
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import harness  # noqa: E402

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
RULES = os.path.join(harness.SOURCE, "conf", "prometheus", "pacewatch.rules.yml")
RULES_TEST = os.path.join(harness.SOURCE, "tests", "prometheus", "pacewatch.rules.test.yml")
DASHBOARD = os.path.join(harness.SOURCE, "conf", "grafana", "pacewatch.json")
COUNTY = "平阳县"
NOW = "2024-04-30T09:00:00+08:00"

# What Grafana puts in place of the dashboard's variables: "All" counties (allValue), and the
# rate interval it derives from the scrape interval.
VARIABLES = {"$county": ".*", "$__rate_interval": "1m", "$__interval": "1m", "$__range": "1m"}


def exprs_of(node, path="dashboard"):
    """Every (where, expr) of the dashboard JSON, nested panels and rows included."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "expr" and isinstance(v, str):
                yield path, v
            else:
                yield from exprs_of(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            title = v.get("title", "") if isinstance(v, dict) else ""
            yield from exprs_of(v, f"{path}[{i}]{' ' + title if title else ''}")


def substitute(expr):
    for name in sorted(VARIABLES, key=len, reverse=True):
        expr = expr.replace(name, VARIABLES[name])
    return expr


@harness.unittest.skipUnless(os.path.exists(PROMTOOL), "promtool is not installed")
class Rules(harness.TestCase):
    def test_check_rules(self):
        r = subprocess.run([PROMTOOL, "check", "rules", RULES], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("SUCCESS", r.stdout)

    def test_rules_unit_tests(self):
        r = subprocess.run([PROMTOOL, "test", "rules", os.path.basename(RULES_TEST)],
                           cwd=os.path.dirname(RULES_TEST), capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("SUCCESS", r.stdout)

    def test_dashboard_is_json(self):
        with open(DASHBOARD, encoding="utf-8") as f:
            dash = json.load(f)
        exprs = list(exprs_of(dash))
        self.assertGreaterEqual(len(exprs), 20)
        # The lag table shows the Chinese names through the info family.
        self.assertTrue(any("pacewatch_indicator_info" in e and "lag" in e for _, e in exprs))
        names = [v["name"] for v in dash["templating"]["list"]]
        self.assertIn("county", names)


class Installed(harness.TestCase):
    def test_installed_under_share(self):
        """`cmake --install` puts the rules and the dashboard under share/pacewatch/ (the
        package picks them up from there)."""
        env = self.new_env()
        prefix = env.path("prefix")
        r = subprocess.run(["cmake", "--install", harness.BUILD, "--prefix", prefix],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for src, dst in ((RULES, "share/pacewatch/prometheus/pacewatch.rules.yml"),
                         (DASHBOARD, "share/pacewatch/grafana/pacewatch.json")):
            with open(src, "rb") as a, open(os.path.join(prefix, dst), "rb") as b:
                self.assertEqual(a.read(), b.read(), dst)


@harness.unittest.skipUnless(os.path.exists(PROMETHEUS), "prometheus is not installed")
class Scraped(harness.TestCase):
    """The demo's daemon scraped by a real Prometheus."""

    @classmethod
    def setUpClass(cls):
        env = cls.env = cls.new_class_env(cli_timeout=90)
        env.copy_demo()
        cls.port = harness.free_port()
        env.edit_conf('http_listen = "127.0.0.1:9464";', f'http_listen = "127.0.0.1:{cls.port}";')
        env.cli("import", env.path("history.csv"))
        env.start(NOW)
        # The first polls are done: every source has a health (and a last success).
        env.wait(lambda: cls.metrics().count("pacewatch_source_up{") == 4, 60,
                 "the first poll of every source")
        cls.prom_port = harness.free_port()
        conf = env.write("prometheus.yml", f"""
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [ "{RULES}" ]
scrape_configs:
  - job_name: pacewatch
    static_configs:
      - targets: [ "127.0.0.1:{cls.port}" ]
        labels: {{ county: "{COUNTY}" }}
""")
        log = open(os.path.join(env.out, "prometheus.log"), "w", encoding="utf-8")
        cls.addClassCleanup(log.close)
        env.spawn([PROMETHEUS, f"--config.file={conf}",
                   f"--storage.tsdb.path={env.path('tsdb')}",
                   f"--web.listen-address=127.0.0.1:{cls.prom_port}"],
                  stdout=log, stderr=subprocess.STDOUT)
        # Scraped a few times (rate() needs two samples in its window), and the rules evaluated.
        env.wait(lambda: cls.value('count_over_time(up{job="pacewatch"}[1m])') >= 5, 90,
                 "five scrapes of pacewatchd")
        env.wait(lambda: cls.value("count(county:pacewatch_indicators:count)") >= 1, 60,
                 "the recording rules evaluated")

    @classmethod
    def metrics(cls):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{cls.port}/metrics", timeout=10) as r:
                return r.read().decode("utf-8")
        except OSError:
            return ""

    @classmethod
    def query(cls, expr):
        url = (f"http://127.0.0.1:{cls.prom_port}/api/v1/query?" +
               urllib.parse.urlencode({"query": expr}))
        try:
            with urllib.request.urlopen(url, timeout=20) as r:
                return json.loads(r.read().decode("utf-8"))
        except urllib.error.HTTPError as e:
            # A bad query answers 400 with a JSON error; a Prometheus still starting, 503 with
            # text ("Service Unavailable").
            text = e.read().decode("utf-8", "replace")
            try:
                return json.loads(text)
            except ValueError:
                return {"status": "error", "error": f"HTTP {e.code}: {text}"}
        except OSError as e:
            return {"status": "error", "error": str(e)}

    @classmethod
    def value(cls, expr):
        doc = cls.query(expr)
        result = doc.get("data", {}).get("result", []) if doc.get("status") == "success" else []
        return float(result[0]["value"][1]) if result else -1

    def test_promtool_check_metrics(self):
        text = self.metrics()
        r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for family in ("pacewatch_indicator_info", "pacewatch_domain_info",
                       "pacewatch_source_info", "process_cpu_seconds_total",
                       "process_resident_memory_bytes", "process_virtual_memory_bytes",
                       "process_open_fds", "process_max_fds", "process_start_time_seconds",
                       "pacewatch_config_last_reload_successful",
                       "pacewatch_config_last_reload_success_timestamp_seconds",
                       "pacewatch_notifications_sent_total",
                       "pacewatch_notifications_failed_total", "pacewatch_alerts_firing",
                       "pacewatch_loop_stall_seconds"):
            self.assertIn(f"# TYPE {family} ", text)
        self.assertIn('name="城乡居民同质同标免费健康体检人数",unit="人"', text)

    def test_every_dashboard_query_returns_data(self):
        with open(DASHBOARD, encoding="utf-8") as f:
            dash = json.load(f)
        exprs = list(exprs_of(dash))
        empty = []
        for where, expr in exprs:
            q = substitute(expr)
            self.assertNotIn("$", q, f"{where}: a variable left in {q}")
            doc = self.query(q)
            self.assertEqual(doc.get("status"), "success", f"{where}: {q}: {doc}")
            if not doc["data"]["result"]:
                empty.append(f"{where}: {q}")
        self.assertEqual(empty, [], "dashboard queries without data:\n" + "\n".join(empty))
        # The county variable's values (label_values(pacewatch_indicators, county)).
        doc = self.query("count by (county) (pacewatch_indicators)")
        self.assertEqual([r["metric"].get("county") for r in doc["data"]["result"]], [COUNTY])

    def test_lag_table_has_chinese_names(self):
        doc = self.query('pacewatch_indicator_lag * on (job, instance, indicator) '
                         'group_left (name, unit) pacewatch_indicator_info')
        names = {r["metric"]["name"] for r in doc["data"]["result"]}
        self.assertIn("城乡居民同质同标免费健康体检人数", names)

    def test_recording_rules_have_data(self):
        with open(RULES, encoding="utf-8") as f:
            records = re.findall(r"^\s*- record: (\S+)", f.read(), re.M)
        self.assertGreaterEqual(len(records), 5)
        for rec in records:
            doc = self.query(rec)
            self.assertTrue(doc["data"]["result"], f"{rec}: no data")
            self.assertEqual(doc["data"]["result"][0]["metric"].get("county"), COUNTY, rec)


if __name__ == "__main__":
    harness.main()
