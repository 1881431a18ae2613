#!/usr/bin/python3
"""Integration tests of the operator's day-2 tools (issue 15): `pacewatch CMD --help`, what
`pacewatchd -t` and `pacewatch check` check on the machine (state directory, ca_file, file
sources, plugins), the lazy ${NAME} of the commands that never send, serve or poll, and secrets
read from files (*_file)."""

import os
import pwd
import shutil
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import harness  # noqa: E402

run = harness.pacewatch

CONF = """
daemon: { state_dir = "state"; };
domains = ( { id = "d1"; name = "领域一"; } );
sources = ( { id = "files"; url = "data/a.json"; format = "json"; } );
indicators = (
  { id = "cum"; name = "累计"; domain = "d1"; unit = "人次"; kind = "cumulative";
    source = "files"; path = "$.cum";
    targets = ( { year = 2024; annual = 15600; } ); } );
"""

COMMANDS = ["check", "status", "import", "record", "export", "rebuild", "graph", "briefing",
            "silence", "fetch"]


def clean_env(**extra):
    """The test's environment without the variables of the lazy tests, plus EXTRA."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PW_T_")}
    env.update(extra)
    return env


class CommandHelp(harness.TestCase):
    """`pacewatch CMD --help` and `-h` print that command's usage only, exit 0, read no
    configuration; `--version` stays."""

    def test_each_command(self):
        for cmd in COMMANDS:
            for flag in ("--help", "-h"):
                r = run(cmd, flag)
                self.assertEqual(r.rc, 0, (cmd, flag, r.err))
                self.assertTrue(r.out.startswith(f"usage: pacewatch {cmd} -c FILE"), r.out)
                # Only this command: no other command's synopsis.
                for other in COMMANDS:
                    if other != cmd:
                        self.assertNotIn(f"pacewatch {other} ", r.out, (cmd, r.out))
                self.assertNotIn("commands:", r.out)
        r = run("status", "--bogus")
        self.assertEqual(r.rc, 2)
        self.assertIn("usage: pacewatch status -c FILE [--at TIME] [--json]", r.err)
        r = run("--help")
        self.assertEqual(r.rc, 0)
        self.assertIn("commands:", r.out)
        self.assertRegex(run("--version").out, r"^pacewatch \S+\n$")
        self.assertRegex(harness.pacewatchd("--version").out, r"^pacewatchd \S+\n$")


class Preflight(harness.TestCase):
    """pacewatchd -t and pacewatch check check what they say, FILE:LINE of the key."""

    def new(self):
        env = self.new_env()
        env.write_conf(CONF)
        env.write("data/a.json", '{"cum": 1}')
        return env

    def both(self, env, frag):
        """Both programs refuse with exit 2 and FRAG in the message."""
        r = harness.pacewatchd("-t", "-c", env.conf)
        self.assertEqual(r.rc, 2, r)
        self.assertIn(frag, r.err)
        r = env.cli_run("check")
        self.assertEqual(r.rc, 2, r)
        self.assertIn(frag, r.err)

    def test_ok(self):
        env = self.new()
        r = harness.pacewatchd("-t", "-c", env.conf)
        self.assertEqual((r.rc, r.out), (0, f"{env.conf}: ok\n"), r.err)
        self.assertEqual(env.cli_run("check").rc, 0)
        # -t creates nothing.
        self.assertFalse(os.path.exists(env.state))

    def test_missing_file_source(self):
        env = self.new()
        os.unlink(env.path("data/a.json"))
        self.both(env, f"{env.conf}:4: source 'files': file '{env.path('data/a.json')}': "
                       "No such file or directory")

    def test_missing_ca_file(self):
        env = self.new()
        env.edit_conf('format = "json"; }', 'format = "json";\n  ca_file = "/nonexistent/ca.pem"; }')
        self.both(env, f"{env.conf}:5: source 'files': ca_file '/nonexistent/ca.pem': "
                       "No such file or directory")
        env.write_conf(CONF + 'receivers = ( { id = "w"; type = "webhook"; url = "http://127.0.0.1:1/";'
                       '\n  ca_file = "/nonexistent/r.pem"; } );\n')
        self.both(env, f"{env.conf}:10: receiver 'w': ca_file '/nonexistent/r.pem'")

    def test_state_dir_cannot_exist(self):
        env = self.new()
        env.write("blocker", "a file")
        env.edit_conf('state_dir = "state"', 'state_dir = "blocker/state"')
        self.both(env, f"{env.conf}:2: daemon.state_dir '{env.path('blocker/state')}': "
                       f"{env.path('blocker')} is not a directory")

    @unittest.skipUnless(os.geteuid() == 0, "needs root")
    def test_state_dir_for_daemon_user(self):
        """Run as root with daemon.user: the checks are for that user."""
        env = self.new()
        env.edit_conf('state_dir = "state";', 'state_dir = "state"; user = "nobody";')
        os.chmod(env.dir, 0o755)
        os.chmod(env.path("data"), 0o755)
        os.chmod(env.path("data/a.json"), 0o644)
        # The parent is root's, 0755: nobody cannot create state/ in it.
        self.both(env, f"daemon.state_dir '{env.state}' cannot be created: {env.dir} is not "
                       "writable by user nobody")
        nobody = pwd.getpwnam("nobody")
        os.makedirs(os.path.join(env.state, "journal"))
        os.chown(env.state, nobody.pw_uid, nobody.pw_gid)
        # A journal/ left behind by root: named, with the fix.
        self.both(env, f"{env.state}/journal is not writable by user nobody (it belongs to user "
                       f"root, uid 0); run chown -R nobody: {env.state}")
        os.chown(os.path.join(env.state, "journal"), nobody.pw_uid, nobody.pw_gid)
        self.assertEqual(harness.pacewatchd("-t", "-c", env.conf).rc, 0)
        # A file source nobody cannot read.
        os.chmod(env.path("data/a.json"), 0o600)
        self.both(env, "source 'files': file '" + env.path("data/a.json")
                  + "': cannot be read by user nobody")

    def test_plugin_that_does_not_load(self):
        env = self.new()
        plugins = env.path("plugins")
        shutil.copytree(os.path.join(os.path.dirname(harness.PACEWATCHD), "..", "lib",
                                     "pacewatch", "plugins"), plugins)
        env.write("plugins/zz_broken.so", "not an ELF file")
        penv = dict(os.environ, PACEWATCH_PLUGIN_DIR=plugins)
        r = harness.pacewatch("check", "-c", env.conf, env=penv)
        self.assertEqual(r.rc, 2, r)
        self.assertIn(f"plugin {plugins}/zz_broken.so: cannot load", r.err)


class LazySecrets(harness.TestCase):
    """Commands that never send, serve or poll run without the receivers' and sources' secrets;
    the daemon and check need them all."""

    LAZY = CONF.replace('url = "data/a.json"; format = "json";',
                        'url = "data/a.json"; format = "json";\n'
                        '  headers = [ "Authorization: Bearer ${PW_T_SRC_TOKEN}" ];') + """
receivers = ( { id = "ding"; type = "dingtalk";
    url = "https://oapi.dingtalk.com/robot/send?access_token=${PW_T_DING_TOKEN}";
    secret = "${PW_T_DING_SECRET}"; },
  { id = "mail"; type = "email"; url = "smtp://127.0.0.1:25"; from = "a@b"; to = [ "c@d" ];
    password_file = "/nonexistent/mail.pw"; } );
"""

    def test_status_without_secrets(self):
        env = self.new_env()
        env.write_conf(self.LAZY)
        env.write("data/a.json", '{"cum": 1}')
        env.write("in.csv", "indicator,as_of,value\ncum,2024-03-31,5\n")
        e = clean_env()
        for args in (["status"], ["export", "cum"], ["silence", "list"],
                     ["import", env.path("in.csv")], ["record", "cum", "7", "--as-of", "2024-04-01"]):
            r = env.cli_run(*args, env=e)
            self.assertEqual(r.rc, 0, (args, r))
        # check and the daemon resolve everything, naming the first unset variable.
        r = env.cli_run("check", env=e)
        self.assertEqual(r.rc, 2)
        self.assertIn("environment variable PW_T_DING_TOKEN is not set", r.err)
        r = harness.pacewatchd("-t", "-c", env.conf)
        self.assertEqual(r.rc, 2)
        # Any other key still needs its variable.
        env.edit_conf('name = "领域一"', 'name = "${PW_T_NAME}"')
        r = env.cli_run("status", env=e)
        self.assertEqual(r.rc, 2)
        self.assertIn("environment variable PW_T_NAME is not set", r.err)


class SecretFiles(harness.TestCase):
    """secret_file, password_file and http_token_file read the secret from a file."""

    def test_http_token_file(self):
        env = self.new_env()
        port = harness.free_port()
        env.write("token", "s3cret-token\n")
        env.write_conf(CONF.replace('state_dir = "state";',
                                    f'state_dir = "state"; http_listen = "127.0.0.1:{port}";'
                                    ' http_token_file = "token";'))
        env.write("data/a.json", '{"cum": 1}')
        env.start()
        import urllib.error
        import urllib.request
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/status", timeout=10)
        self.assertEqual(cm.exception.code, 401)
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/status",
                                     headers={"Authorization": "Bearer s3cret-token"})
        with urllib.request.urlopen(req, timeout=10) as r:
            self.assertEqual(r.status, 200)
        self.assertEqual(env.stop(), 0)
        self.assertNotIn("s3cret-token", env.logs())

    def test_errors(self):
        env = self.new_env()
        env.write_conf(CONF.replace('state_dir = "state";',
                                    'state_dir = "state";\n  http_token_file = "missing";'))
        env.write("data/a.json", '{"cum": 1}')
        r = harness.pacewatchd("-t", "-c", env.conf)
        self.assertEqual(r.rc, 2)
        self.assertIn(f"{env.conf}:3: the daemon group: http_token_file '{env.path('missing')}': "
                      "No such file or directory", r.err)
        env.write("missing", "tok\n")
        self.assertEqual(harness.pacewatchd("-t", "-c", env.conf).rc, 0)
        env.edit_conf('http_token_file', 'http_token = "x"; http_token_file')
        r = harness.pacewatchd("-t", "-c", env.conf)
        self.assertEqual(r.rc, 2)
        self.assertIn("write either http_token or http_token_file, not both", r.err)


@unittest.skipUnless(os.geteuid() == 0, "needs root")
class Ownership(harness.TestCase):
    """The CLI never writes a state directory another user owns, root included; the daemon's
    permission errors name the file and the chown."""

    def test_write_commands_refuse(self):
        env = self.new_env()
        env.write_conf(CONF.replace('state_dir = "state";',
                                    'state_dir = "state"; http_listen = "";'))
        env.write("data/a.json", '{"cum": 1}')
        env.write("in.csv", "indicator,as_of,value\ncum,2024-03-31,5\n")
        env.cli("record", "cum", "3", "--as-of", "2024-03-30")
        nobody = pwd.getpwnam("nobody")
        for root, dirs, files in os.walk(env.state):
            for n in [root] + [os.path.join(root, f) for f in dirs + files]:
                os.chown(n, nobody.pw_uid, nobody.pw_gid)
        before = sorted(os.listdir(env.state))
        journal = env.journal_text()
        want = (f"pacewatch: {env.state} belongs to user nobody (uid {nobody.pw_uid}); run it as "
                f"that user: sudo -u nobody pacewatch ")
        for args in (["record", "cum", "7", "--as-of", "2024-03-31", "--note", "it's"],
                     ["import", env.path("in.csv")], ["rebuild"],
                     ["silence", "add", "cum", "--until", "2099-01-01"],
                     ["silence", "remove", "cum"]):
            r = env.cli_run(*args)
            self.assertEqual(r.rc, 1, (args, r))
            self.assertIn(want, r.err)
        self.assertIn("--note 'it'\\''s'", env.cli_run("record", "cum", "7", "--note", "it's").err)
        # Readers still work, and write nothing there.
        self.assertEqual(env.cli_run("status").rc, 0)
        self.assertEqual(env.cli_run("silence", "list").rc, 0)
        self.assertEqual(env.cli_run("export", "cum").rc, 0)
        # graph keeps its temporary files out of the directory it does not own.
        r = env.cli_run("graph", "cum", "--at", "2024-04-30", "-o", env.path("cum.png"))
        self.assertEqual(r.rc, 0, r)
        self.assertTrue(os.path.getsize(env.path("cum.png")) > 0)
        self.assertEqual(sorted(os.listdir(env.state)), before)
        self.assertEqual(env.journal_text(), journal)
        # One file left by root inside is enough to refuse, naming it.
        os.chown(os.path.join(env.state, "journal"), 0, 0)
        os.chown(env.state, 0, 0)
        r = env.cli_run("record", "cum", "7")
        self.assertEqual(r.rc, 1)
        self.assertIn(f"{env.state}/journal/journal.tsv belongs to user nobody", r.err)
        # The reporting links' file too: root's token add would leave one nobody cannot read.
        for root, dirs, files in os.walk(env.state):
            for n in [root] + [os.path.join(root, f) for f in dirs + files]:
                os.chown(n, 0, 0)
        env.write("state/tokens.json", b'{"tokens":[]}\n')
        os.chown(os.path.join(env.state, "tokens.json"), nobody.pw_uid, nobody.pw_gid)
        r = env.cli_run("token", "list")
        self.assertEqual(r.rc, 0, r)  # reading is allowed
        r = env.cli_run("record", "cum", "7")
        self.assertEqual(r.rc, 1)
        self.assertIn(f"{env.state}/tokens.json belongs to user nobody", r.err)

    def test_root_would_create_it(self):
        env = self.new_env()
        env.write_conf(CONF.replace('state_dir = "state";', 'state_dir = "state"; user = "nobody";'))
        r = env.cli_run("record", "cum", "7")
        self.assertEqual(r.rc, 1)
        self.assertIn(f"{env.state} does not exist and root would create it; run it as the "
                      "daemon's user (daemon.user): sudo -u nobody pacewatch record", r.err)
        self.assertFalse(os.path.exists(env.state))

    def test_daemon_names_the_file(self):
        env = self.new_env()
        env.write_conf(CONF.replace('state_dir = "state";',
                                    'state_dir = "state"; user = "nobody"; http_listen = "";'))
        env.write("data/a.json", '{"cum": 1}')
        os.chmod(env.dir, 0o755)
        # What root's record (before daemon.user was set) leaves: a root-owned state directory.
        env.edit_conf('user = "nobody";', '')
        env.cli("record", "cum", "3", "--as-of", "2024-03-30")
        env.edit_conf('state_dir = "state";', 'state_dir = "state"; user = "nobody";')
        d = env.start(ready=None)
        self.assertEqual(d.wait(), 1)
        self.assertIn(f"{env.state}/lock: Permission denied; run chown -R nobody: {env.state}",
                      d.log())
        nobody = pwd.getpwnam("nobody")
        os.chown(env.state, nobody.pw_uid, nobody.pw_gid)
        os.chown(os.path.join(env.state, "lock"), nobody.pw_uid, nobody.pw_gid)
        d = env.start(ready=None)
        self.assertEqual(d.wait(), 1)
        self.assertIn(f"{env.state}/journal/journal.tsv: cannot open the journal for writing: "
                      f"Permission denied; run chown -R nobody: {env.state}", d.log())


FETCH_CONF = """
daemon: { state_dir = "state"; http_listen = "127.0.0.1:{port}"; };
domains = ( { id = "d1"; name = "领域一"; } );
sources = (
  { id = "hjson"; url = "{base}/data/a.json"; format = "json"; as_of = "$.as_of";
    headers = [ "Authorization: Bearer ${PW_T_SRC}" ]; },
  { id = "hcsv"; url = "{base}/data/b.csv"; format = "csv"; as_of = "截至[指标=在训人数]"; },
  { id = "fprom"; url = "data/c.prom"; format = "prometheus"; },
  { id = "fregex"; url = "data/d.html"; format = "regex"; as_of = "截至([0-9]+年[0-9]+月[0-9]+日)"; },
  { id = "gone"; url = "{base}/status/500"; format = "json"; }
);
indicators = (
  { id = "cum"; name = "累计"; domain = "d1"; kind = "cumulative"; source = "hjson"; path = "$.cum";
    targets = ( { year = 2024; annual = 15600; } ); },
  { id = "lvl"; name = "水平"; domain = "d1"; kind = "cumulative"; source = "hjson"; path = "$.lvl";
    targets = ( { year = 2024; annual = 100; } ); },
  { id = "typo"; name = "路径错"; domain = "d1"; kind = "cumulative"; source = "hjson"; path = "$.nope";
    targets = ( { year = 2024; annual = 100; } ); },
  { id = "trainees"; name = "在训"; domain = "d1"; kind = "cumulative"; source = "hcsv";
    path = "数值[指标=在训人数]"; targets = ( { year = 2024; annual = 100; } ); },
  { id = "prom"; name = "普罗"; domain = "d1"; kind = "cumulative"; source = "fprom";
    path = "demo_total{county=\\"平阳\\"}"; targets = ( { year = 2024; annual = 100; } ); },
  { id = "score"; name = "得分"; domain = "d1"; kind = "cumulative"; source = "fregex";
    path = "平阳县</td><td>([0-9.]+)<"; targets = ( { year = 2024; annual = 100; } ); },
  { id = "down"; name = "无"; domain = "d1"; kind = "cumulative"; source = "gone"; path = "$.v";
    targets = ( { year = 2024; annual = 100; } ); }
);
"""


class Fetch(harness.TestCase):
    """pacewatch fetch polls one source now, as the daemon does, and stores nothing."""

    def setUp(self):
        super().setUp()
        self.env = env = self.new_env()
        self.src = env.sources_server(env.path("www"))
        env.write("www/a.json", '{"as_of": "2024-03-31", "cum": "4,782", "lvl": "暂无"}')
        env.write("www/b.csv", "指标,数值,截至\n在训人数,1.2万,2024年3月31日\n")
        env.write("data/c.prom", 'demo_total{county="平阳"} 37 1711900800000\n')
        env.write("data/d.html", "<p>截至2024年3月31日</p><tr><td>平阳县</td><td>83.13</td></tr>")
        env.write_conf(FETCH_CONF, port=harness.free_port(), base=self.src.base)
        self.e = clean_env(PW_T_SRC="tok")

    def fetch(self, *args):
        return self.env.cli_run("fetch", *args, env=self.e)

    def test_each_source_type(self):
        env = self.env
        r = self.fetch("hjson")
        # A path that selects nothing is a problem: exit 1, and the other rows are shown.
        self.assertEqual(r.rc, 1, r)
        self.assertRegex(r.out, r"source hjson \(json\) http://127\.0\.0\.1:\d+/data/a\.json: "
                                r"HTTP 200, \d+ bytes")
        self.assertRegex(r.out, r"(?m)^cum +4782 +2024-04-01T00:00:00\+08:00 +new 新数据$")
        self.assertIn("path $.cum -> 4,782; as_of $.as_of -> 2024-03-31", r.out)
        self.assertRegex(r.out, r"(?m)^lvl +- .*nothing 未发布: '暂无' means not published$")
        self.assertRegex(r.out, r"(?m)^typo +- .*bad 路径无数据: path \$\.nope selects nothing$")
        r = self.fetch("hjson", "--indicator", "cum")
        self.assertEqual(r.rc, 0, r)
        self.assertNotIn("typo", r.out)
        r = self.fetch("hcsv")
        self.assertEqual(r.rc, 0, r)
        self.assertRegex(r.out, r"(?m)^trainees +12000 +2024-04-01T00:00:00\+08:00 +new 新数据$")
        self.assertIn("as_of 截至[指标=在训人数] -> 2024年3月31日", r.out)
        r = self.fetch("fprom")
        self.assertEqual(r.rc, 0, r)
        self.assertIn(f"source fprom (prometheus) {env.path('data/c.prom')}: ", r.out)
        self.assertRegex(r.out, r"(?m)^prom +37 +2024-04-01T00:00:00\+08:00 +new 新数据$")
        self.assertIn("as_of: the sample's timestamp", r.out)
        r = self.fetch("fregex")
        self.assertEqual(r.rc, 0, r)
        self.assertRegex(r.out, r"(?m)^score +83\.13 +2024-04-01T00:00:00\+08:00 +new 新数据$")
        # A source that fails: exit 1, the error said.
        r = self.fetch("gone")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("failed 采集失败: HTTP 500", r.out)
        # Nothing was written: no state directory at all.
        self.assertFalse(os.path.exists(env.state))

    def test_classification_and_usage(self):
        env = self.env
        env.cli("record", "trainees", "12000", "--as-of", "2024-03-31", env=self.e)
        env.cli("record", "prom", "30", "--as-of", "2024-03-31", env=self.e)
        r = self.fetch("hcsv")
        self.assertRegex(r.out, r"(?m)^trainees +12000 .* duplicate 已有同值$")
        r = self.fetch("fprom")
        self.assertRegex(r.out, r"(?m)^prom +37 .* revision 修订$")
        # A bad figure: exit 1 with admission's reason.
        env.write("www/b.csv", "指标,数值,截至\n在训人数,很多,2024年3月31日\n")
        r = self.fetch("hcsv")
        self.assertEqual(r.rc, 1)
        self.assertIn("bad 数据有误: '很多' is not a value of this indicator", r.out)
        env.write("www/b.csv", "指标,数值,截至\n在训人数,5,2099年3月31日\n")
        r = self.fetch("hcsv")
        self.assertEqual(r.rc, 1)
        self.assertIn("bad 数据有误: as_of 2099-04-01T00:00:00+08:00 is more than a day", r.out)
        # Usage errors.
        self.assertEqual(self.fetch("nosuch").rc, 2)
        self.assertEqual(self.fetch().rc, 2)
        self.assertEqual(self.fetch("hcsv", "--indicator", "cum").rc, 2)
        # The source's own secret is needed; the receivers' are not.
        r = env.cli_run("fetch", "hjson", env=clean_env())
        self.assertEqual(r.rc, 1)
        self.assertIn("environment variable PW_T_SRC is not set (headers)", r.err)
        env.write("www/b.csv", "指标,数值,截至\n在训人数,5,2024年3月31日\n")
        self.assertEqual(env.cli_run("fetch", "hcsv", env=clean_env()).rc, 0)

    def test_beside_a_running_daemon(self):
        env = self.env
        os.environ["PW_T_SRC"] = "tok"  # the daemon's environment
        try:
            env.start()
            env.wait(lambda: "\tcum\t" in env.journal_text() and "\tprom\t" in env.journal_text(),
                     30, "the first polls")
            before = env.journal_text()
            env.write("data/c.prom", 'demo_total{county="平阳"} 41 1711900800000\n')
            r = self.fetch("fprom")
            self.assertEqual(r.rc, 0, r)
            self.assertRegex(r.out, r"(?m)^prom +41 .* revision 修订$")
            r = env.cli_run("check", "--fetch", env=self.e)
            self.assertEqual(r.rc, 1, r)  # typo and gone
            self.assertIn("ok (1 domains", r.out)
            for s in ("hjson", "hcsv", "fprom", "fregex", "gone"):
                self.assertIn(f"source {s} (", r.out)
            self.assertEqual(env.journal_text(), before)
            self.assertEqual(env.stop(), 0)
        finally:
            del os.environ["PW_T_SRC"]


if __name__ == "__main__":
    harness.main()
