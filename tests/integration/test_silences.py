#!/usr/bin/python3
"""Integration tests of silences (docs/alerts.md "Silences"): `pacewatch silence add` with
`--for` or `--until` (both or neither a usage error, an end in the past refused), the ids it
gives and `remove` taking one (an unknown id an error), `list`, a silences.json of an older
version (no ids) read and given ids on the next write, a configuration silence of an unknown
source refused with FILE:LINE, and a running daemon whose failing source is silenced with
`source:ID`: no source_down notification while the silence lasts, one once it has ended."""

import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import harness  # noqa: E402

CONF = """
daemon: { state_dir = "state"; http_listen = ""; };
domains = ( { id = "health"; name = "病有良医"; } );
receivers = ( { id = "ops"; type = "webhook"; url = "http://127.0.0.1:{port}/ops"; } );
alerting: { receivers = [ "ops" ]; for = "0s"; group_wait = "0s"; source_down_after = "10m"; };
sources = ( { id = "down"; url = "http://127.0.0.1:{closed}/x.json"; format = "json"; interval = "5m"; } );
indicators = (
  { id = "checkups"; name = "体检人数"; domain = "health"; unit = "人"; kind = "cumulative";
     source = "down"; path = "$.v";
     targets = ( { year = 2026; annual = 1000; }, { year = 2027; annual = 1000; } ); }
);
"""


def closed_port():
    """A loopback port nothing listens on (bound, then closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def new_env(test):
    env = test.new_env()
    env.sink = env.webhook_sink()
    env.write_conf(CONF, port=env.sink.port, closed=closed_port())
    return env


def silences_file(env):
    with open(os.path.join(env.state, "silences.json"), encoding="utf-8") as f:
        return json.load(f)


class Cli(harness.TestCase):
    def test_add_list_remove(self):
        env = new_env(self)
        out = env.cli("silence", "add", "checkups", "--for", "3d", "--reason", "口径调整")
        self.assertRegex(out, r"^s1: silence of checkups until \d{4}-\d\d-\d\dT[\d:]+[+-]\d\d:\d\d "
                              r"added\n$")
        until = silences_file(env)[0]["until"]
        self.assertAlmostEqual(until, time.time() + 3 * 86400, delta=60)
        out = env.cli("silence", "add", "source:down", "--until", "2099-01-01")
        self.assertTrue(out.startswith("s2: silence of source:down until 2099-01-02T00:00:00"), out)
        rows = [line.split("\t") for line in env.cli("silence", "list").splitlines()]
        self.assertEqual(rows[0], ["ID", "TARGET", "UNTIL", "STATE", "REASON", "ADDED"])
        self.assertEqual([r[:2] + r[3:5] for r in rows[1:]],
                         [["s1", "checkups", "active", "口径调整"], ["s2", "source:down", "active", ""]])
        self.assertTrue(rows[1][5].startswith(os.environ.get("USER", "") or rows[1][5].split()[0]))
        # remove takes an id, and removes that silence alone.
        r = env.cli_run("silence", "remove", "checkups")
        self.assertEqual(r.rc, 1)
        self.assertIn("no silence with id 'checkups'", r.err)
        self.assertIn("checkups is silenced by s1", r.err)
        r = env.cli_run("silence", "remove", "s9")
        self.assertEqual(r.rc, 1)
        self.assertIn("no silence with id 's9'", r.err)
        self.assertEqual(env.cli("silence", "remove", "s1"), "s1: silence removed\n")
        self.assertEqual([s["id"] for s in silences_file(env)], ["s2"])
        # The next id is one more than the highest there.
        self.assertTrue(env.cli("silence", "add", "checkups", "--for", "1h").startswith("s3: "))

    def test_refusals(self):
        env = new_env(self)
        for args, what in ((["--for", "3d", "--until", "2099-01-01"], "not both"),
                           ([], "not neither"),
                           (["--for", "3 days"], "--for '3 days' is not a duration"),
                           (["--until", "2020-01-01"], "is not in the future"),
                           (["--until", "someday"], "--until 'someday' is not a time")):
            r = env.cli_run("silence", "add", "checkups", *args)
            self.assertEqual(r.rc, 2, (args, r.err))
            self.assertIn(what, r.err, args)
        r = env.cli_run("silence", "add", "source:nope", "--for", "1d")
        self.assertEqual(r.rc, 2)
        self.assertIn("unknown source 'nope'", r.err)
        r = env.cli_run("silence", "add", "nope", "--for", "1d")
        self.assertEqual(r.rc, 2)
        self.assertIn("unknown indicator 'nope'", r.err)
        self.assertFalse(os.path.exists(os.path.join(env.state, "silences.json")))

    def test_old_file(self):
        """A silences.json written before ids: read, shown with ids, written with them."""
        env = new_env(self)
        env.write("state/silences.json", json.dumps([
            {"indicator": "checkups", "until": 4070908800, "reason": "甲", "created": 0},
            {"indicator": "checkups", "until": 4102444800, "reason": "乙", "created": 0}]))
        ids = [line.split("\t")[0] for line in env.cli("silence", "list").splitlines()[1:]]
        self.assertEqual(ids, ["s1", "s2"])
        env.cli("silence", "remove", "s1")
        self.assertEqual([(s["id"], s["reason"]) for s in silences_file(env)], [("s2", "乙")])

    def test_configuration_source(self):
        env = new_env(self)
        env.append_conf('silences = ( { indicator = "source:down"; until = "2099-01-01"; },\n'
                        '  { indicator = "source:zz"; until = "2099-01-01"; } );\n')
        r = env.cli_run("check")
        self.assertEqual(r.rc, 2)
        self.assertRegex(r.err, r"pw\.conf:13: silence #2 names unknown source 'zz'")
        env.edit_conf('  { indicator = "source:zz"; until = "2099-01-01"; } );',
                      '  { indicator = "checkups"; until = "2099-01-01"; } );')
        self.assertEqual(env.cli_run("check").rc, 0)
        out = env.cli("silence", "list")
        self.assertIn("-\tsource:down\t", out)


class Daemon(harness.TestCase):
    def test_source_silence(self):
        """A failing source silenced for 2 h: its source_down (due after 10 min) and its
        indicator's stale are not sent while the silence lasts, and are sent once, as soon as it
        has ended."""
        env = new_env(self)
        rate = 600
        added = time.time()
        env.cli("silence", "add", "source:down", "--for", "2h", "--reason", "接口改造")
        env.start(None, "--clock-rate", str(rate))
        ends = added + 2 * 3600 / rate
        time.sleep(max(0, ends - 2 - time.time()))
        self.assertEqual(env.sink.messages(), [], env.log_tail())
        self.assertIn("down", env.logs())  # (polls fail meanwhile)
        env.wait(lambda: env.sink.messages("/ops"), 30, "the source_down notification")
        time.sleep(2)
        msgs = env.sink.messages("/ops")
        alerts = [a for m in msgs for a in json.loads(m["body"])["alerts"]]
        # The source's failure and its indicator's stale data, held back until then.
        self.assertEqual(sorted((a["alert"], a["state"]) for a in alerts),
                         [("checkups/stale", "firing"), ("down/source_down", "firing")],
                         env.log_tail())
        self.assertGreaterEqual(msgs[0]["time"], ends - 0.5)
        self.assertEqual(env.stop(), 0)


if __name__ == "__main__":
    harness.main()
