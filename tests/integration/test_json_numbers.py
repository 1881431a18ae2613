#!/usr/bin/python3
"""JSON numbers in their shortest exact form everywhere (docs/status-json.md "Numbers and
times"): a figure stored as 91.9 reads 91.9, never 91.900000000000006, in /api/v1/status, in
`pacewatch status --json`, in `pacewatch export --format json`, in a webhook body, in the spool
(a receiver that refuses keeps its notification there) and in alerts.json; and every number
there reads back as the double the judgement computed (what the text says is what was meant)."""
import json
import os
import re
import sys
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import harness  # noqa: E402

CONF = """
daemon: { state_dir = "state"; http_listen = "127.0.0.1:{port}"; timezone = "Asia/Shanghai"; };
domains = ( { id = "health"; name = "病有良医"; } );
receivers = ( { id = "hook"; type = "webhook"; url = "http://127.0.0.1:{hook}/hook"; },
              { id = "down"; type = "webhook"; url = "http://127.0.0.1:{hook}/down"; } );
alerting: { receivers = [ "hook", "down" ]; group_wait = "0s"; };
indicators = (
  { id = "checkups"; name = "体检人数"; domain = "health"; unit = "人"; kind = "cumulative";
    targets = ( { year = 2024; annual = 1000; } ); } );
"""

# A real printed with more digits than it needs: 91.900000000000006, 0.10000000000000001.
NOISY = re.compile(r"\d\.\d*(0000000|9999999)\d")


class JsonNumbers(harness.TestCase):
    def test_shortest_everywhere(self):
        env = self.new_env()
        hook = env.receiver()
        hook.behave("/down", fail=1000)
        port = harness.free_port()
        env.write_conf(CONF, port=port, hook=hook.port)
        env.cli("record", "checkups", "91.9", "--as-of", "2024-06-01")
        env.start("2024-06-02T09:00:00+08:00")
        env.wait(lambda: hook.got("/hook", ok=True), 60, "the lag alert reaching hook")
        env.wait(lambda: hook.got("/down") and env.spool_files(), 30,
                 "the refused notification in the spool")

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/status", timeout=10) as r:
            api = r.read().decode("utf-8")
        texts = {
            "/api/v1/status": api,
            "status --json": env.cli("status", "--json", "--at", "2024-06-02"),
            "export --format json": env.cli("export", "checkups", "--format", "json"),
            "webhook body": hook.got("/hook", ok=True)[0]["body"],
            "spool": harness.read_text(env.spool_files()[0]),
        }
        self.assertIn('"value":91.9,', api)
        for where, text in texts.items():
            self.assertIn("91.9", text, where)
            self.assertNotIn("91.90000", text, where)
            self.assertIsNone(NOISY.search(text), f"{where}: {NOISY.search(text)}")
        env.stop()
        alerts = harness.read_text(os.path.join(env.state, "alerts.json"))
        self.assertIsNone(NOISY.search(alerts), alerts)

        # What the text says is the double: the figure as recorded, and the same completion in
        # the API and in the alert (both judged from it).
        doc = json.loads(api)
        ind = doc["indicators"][0]
        self.assertEqual(ind["value"], 91.9)
        self.assertAlmostEqual(ind["completion_pct"], 9.19, places=12)
        body = json.loads(texts["webhook body"])
        self.assertEqual(body["alerts"][0]["value"], 91.9)
        self.assertEqual(body["alerts"][0]["completion_pct"], ind["completion_pct"])


if __name__ == "__main__":
    harness.main()
