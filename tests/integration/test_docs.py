#!/usr/bin/python3
"""What the operator's guides show works (docs/operators-guide.md and
docs/operators-guide.zh-CN.md):

- every fenced block marked complete (an opening fence "```conf title=NAME") is written to a
  file of its own and `pacewatchd -t` accepts it (exit 0, "ok"), with the secrets it names as
  ${NAME} set to stand-ins and its state_dir moved into the test's directory (the paths the
  guide uses, /var/lib/pacewatch and /tmp/pw-try, belong to the server, not to the test);
- each guide has its complete blocks (the walkthrough's configuration, the throwaway one that
  sends a first alert, the one with every receiver type), so a block that loses its mark is
  noticed too;
- README.md and README.zh-CN.md link to each other and keep the same two-command quick start;
- the guide's backup and restore (section 6) works as written: its nightly cron line and every
  line of its restore, run literally on a scratch root (the guide's /etc/pacewatch,
  /var/lib/pacewatch and /backup moved under the test's directory, `systemctl stop|start
  pacewatchd` standing for stopping and starting the daemon as the service's user with the
  environment file, `sudo -u pacewatch` for that user: the package's `pacewatch` when it exists,
  else `nobody` as root, else the test's own user), bring back the journal, a retraction and an
  explanation, the silences and a department's reporting link after the state directory and the
  configuration were lost: `pacewatch status`, `export`, `silence list` and `token list` read
  the same, and the link opens the reporting page again. The Chinese guide shows the same
  command lines.
"""

import grp
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import harness  # noqa: E402

GUIDES = ("operators-guide.md", "operators-guide.zh-CN.md")
FENCE = re.compile(r"^```conf title=\"?([^\"\n]+)\"?\n(.*?)^```$", re.M | re.S)


def blocks(path):
    with open(path, encoding="utf-8") as f:
        return FENCE.findall(f.read())


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


class GuideConfigurations(harness.TestCase):
    def test_complete_blocks_pass_pacewatchd_t(self):
        env = self.new_env()
        run_env = dict(os.environ)
        for guide in GUIDES:
            found = blocks(os.path.join(harness.SOURCE, "docs", guide))
            names = [name for name, _ in found]
            self.assertGreaterEqual(len(found), 3, f"{guide}: complete conf blocks {names}")
            for n, (name, text) in enumerate(found):
                with self.subTest(guide=guide, block=name):
                    for var in set(re.findall(r"\$\{(\w+)\}", text)):
                        run_env[var] = "stand-in-" + var.lower()
                    state = os.path.join(env.dir, f"state-{guide}-{n}")
                    text = re.sub(r'state_dir\s*=\s*"[^"]*"', f'state_dir = "{state}"', text)
                    # Run as root, -t checks the state directory for daemon.user: a test
                    # machine may not have the package's user.
                    if os.geteuid() == 0 and not user_exists("pacewatch"):
                        text = re.sub(r'^\s*user\s*=\s*"pacewatch";.*$', "", text, flags=re.M)
                    conf = os.path.join(env.dir, f"{guide}-{n}.conf")
                    with open(conf, "w", encoding="utf-8") as f:
                        f.write(text)
                    p = subprocess.run([harness.PACEWATCHD, "-t", "-c", conf], env=run_env,
                                       capture_output=True, text=True, timeout=60)
                    self.assertEqual(p.returncode, 0, f"{guide} {name}: {p.stdout}{p.stderr}")
                    self.assertIn("ok", p.stdout)

    def test_readmes_link_each_other_with_the_same_quick_start(self):
        texts = {}
        for name in ("README.md", "README.zh-CN.md"):
            with open(os.path.join(harness.SOURCE, name), encoding="utf-8") as f:
                texts[name] = f.read()
        self.assertIn("(README.zh-CN.md)", texts["README.md"])
        self.assertIn("(README.md)", texts["README.zh-CN.md"])
        quick = "```\n./quickstart.sh demo\n./quickstart.sh test\n```"
        for name, text in texts.items():
            self.assertIn(quick, text, name)
        for guide in GUIDES:
            self.assertIn(guide, texts["README.md"] + texts["README.zh-CN.md"])


# ---- the guide's backup and restore, run as written ----

SECTIONS = {"operators-guide.md": ("## 6. Backups", "## 7."),
            "operators-guide.zh-CN.md": ("## 六、备份", "## 七、")}
CODE = re.compile(r"^```\n(.*?)^```$", re.M | re.S)
CRON = re.compile(r"^(?:\S+\s+){5}(\S+)\s+(.+)$")  # five time fields, the user, the command

BACKUP_CONF = """\
daemon: {{
  state_dir   = "{root}/var/lib/pacewatch";{user}
  timezone    = "Asia/Shanghai";
  http_listen = "127.0.0.1:{http}";
}};
domains = ( {{ id = "health"; name = "病有良医"; }} );
departments = ( {{ id = "health"; name = "县卫健局"; contacts = [ "王敏 13800000001" ]; }} );
sources = (
  {{ id = "health"; name = "县卫健局报送数据"; url = "{root}/srv/indicators.json"; format = "json";
    interval = "1h"; as_of = "$.as_of"; }}
);
indicators = (
  {{ id = "health_checkups"; name = "城乡居民免费健康体检人数"; domain = "health";
    department = "health"; unit = "人"; source = "health";
    path = "$.items[?@.code=='TJ01'].value"; kind = "cumulative";
    targets = ( {{ year = 2025; annual = 190000;
                   quarters = [ 28500, 95000, 142500, 190000 ]; }} ); }},
  {{ id = "family_doctor"; name = "家庭医生签约人数"; domain = "health";
    department = "health"; unit = "人"; source = "health";
    path = "$.items[?@.code=='QY02'].value"; kind = "cumulative";
    targets = ( {{ year = 2025; annual = 120000; }} ); }}
);
receivers = (
  {{ id = "county_ding"; type = "webhook";
    url = "http://127.0.0.1:{hook}/robot/send?access_token=${{DING_TOKEN}}"; }}
);
alerting: {{ receivers = [ "county_ding" ]; group_wait = "0s"; }};
"""

FIGURES = """{"as_of": "2025-03-31",
 "items": [ {"code": "TJ01", "name": "城乡居民免费健康体检人数", "value": 12000},
            {"code": "QY02", "name": "家庭医生签约人数", "value": "8.6万"} ]}
"""

NOW = "2025-04-01T09:00:00+08:00"


def guide_blocks(guide):
    """The plain code blocks of GUIDE's backup section: [the cron file's, the restore's]."""
    with open(os.path.join(harness.SOURCE, "docs", guide), encoding="utf-8") as f:
        text = f.read()
    start, end = SECTIONS[guide]
    assert start in text, f"{guide}: no section {start!r}"
    section = text.split(start, 1)[1].split(end, 1)[0]
    return CODE.findall(section)


def command_lines(block):
    """The block's command lines, each with its trailing comment ('' when none)."""
    out = []
    for line in block.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = re.match(r"^(.*?)\s+#\s+(.*)$", line)  # a shell comment after the command
        out.append((m[1], m[2]) if m else (line, ""))
    return out


def service_user():
    """(user, group, prefix) standing for the package's `pacewatch`: the prefix runs a command
    as that user the way `sudo -u pacewatch` does."""
    if os.geteuid() != 0:
        pw = pwd.getpwuid(os.geteuid())
        return pw.pw_name, grp.getgrgid(pw.pw_gid).gr_name, []
    try:
        pw = pwd.getpwnam("pacewatch")
    except KeyError:
        pw = pwd.getpwnam("nobody")
    prefix = [harness.SETPRIV or "setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}",
              "--init-groups"]
    # A build inside a directory only root may enter (a checkout under mktemp -d) cannot be run
    # by that user: the test then stands as root for the service's user, as it would without
    # root.
    if subprocess.run([*prefix, "test", "-x", harness.PACEWATCHD]).returncode != 0:
        return "root", grp.getgrgid(0).gr_name, []
    return pw.pw_name, grp.getgrgid(pw.pw_gid).gr_name, prefix


class BackupAndRestore(harness.TestCase):
    def setUp(self):
        self.env = env = self.new_env()
        os.chmod(env.dir, 0o755)  # the service's user walks through it
        self.root = env.dir
        self.user, self.group, self.as_user = service_user()
        self.http, self.hook = harness.free_port(), env.receiver()
        env.conf = self.path("/etc/pacewatch/pacewatch.conf")
        env.state = self.path("/var/lib/pacewatch")
        self.environment = self.path("/etc/pacewatch/environment")
        os.makedirs(self.path("/backup"))
        env.write("srv/indicators.json", FIGURES)
        self.install_package()
        with open(env.conf, "w", encoding="utf-8") as f:
            f.write(BACKUP_CONF.format(
                root=self.root, http=self.http, hook=self.hook.port,
                user=f'\n  user        = "{self.user}";' if os.geteuid() == 0 else ""))
        with open(self.environment, "w", encoding="utf-8") as f:
            f.write("# /etc/pacewatch/environment\nDING_TOKEN=6a1f-stand-in\n")
        for path in (env.conf, self.environment):
            shutil.chown(path, self.owner_root(), self.group)
            os.chmod(path, 0o640)

    def path(self, guide_path):
        """The scratch root's file for one of the guide's absolute paths."""
        return os.path.join(self.root, guide_path.lstrip("/"))

    def owner_root(self):
        return "root" if os.geteuid() == 0 else self.user

    def install_package(self):
        """What the package leaves on a new server: an empty state directory of the service's
        user, /etc/pacewatch with the example configuration, no environment file."""
        os.makedirs(self.path("/etc/pacewatch"), exist_ok=True)
        os.makedirs(self.env.state, mode=0o750)
        shutil.chown(self.env.state, self.user, self.group)
        with open(os.path.join(harness.SOURCE, "conf", "dist", "pacewatch.conf"),
                  encoding="utf-8") as f:
            example = f.read().replace("/var/lib/pacewatch", self.env.state)
        with open(self.env.conf, "w", encoding="utf-8") as f:
            f.write(example)

    # -- the guide's words, translated to the scratch root --

    def translate(self, cmd):
        """CMD with the guide's paths under the scratch root, `sudo -u pacewatch` as the
        service's user, the service's user and group for pacewatch's, and the programs of
        this build."""
        cmd = re.sub(r"-C /(?=\s)", f"-C {self.root}", cmd)
        for path in ("/backup", "/etc/pacewatch", "/var/lib/pacewatch"):
            cmd = re.sub(r"(?<![\w/.-])" + re.escape(path) + r"(?=[/\s]|$)",
                         lambda m, p=path: self.path(p), cmd)
        cmd = cmd.replace("sudo -u pacewatch ", " ".join(self.as_user + [""]))
        cmd = cmd.replace("pacewatch:pacewatch", f"{self.user}:{self.group}")
        cmd = cmd.replace("root:pacewatch", f"{self.owner_root()}:{self.group}")
        cmd = re.sub(r"(^|\s)pacewatch(?=\s)", lambda m: m[1] + harness.PACEWATCH, cmd)
        return cmd

    def sh(self, cmd, what):
        p = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, timeout=120,
                           cwd=self.root)
        with open(os.path.join(self.env.out, "commands.log"), "a", encoding="utf-8") as f:
            f.write(f"$ {cmd}\n{p.stdout}{p.stderr}[exit {p.returncode}]\n")
        self.assertEqual(p.returncode, 0, f"{what}: {cmd}\n{p.stdout}{p.stderr}")
        return p

    def start(self):
        """`systemctl start pacewatchd`: the unit's daemon, as the service's user, with the
        environment file's variables (EnvironmentFile=)."""
        variables = []
        with open(self.environment, encoding="utf-8") as f:
            for line in f:
                if re.match(r"^[A-Za-z_]\w*=", line):
                    variables.append(line.rstrip("\n"))
        return self.env.start(NOW, wrap=(*self.as_user, "env", *variables))

    def run_line(self, cmd, comment, archive):
        if cmd == "systemctl stop pacewatchd":
            self.env.stop()
        elif cmd == "systemctl start pacewatchd":
            self.start()
        else:
            self.assertNotIn("systemctl", cmd)
            # The archive the guide restores is the one the nightly copy made.
            cmd = re.sub(r"/backup/pacewatch-\d{4}-\d\d-\d\d\.tar\.gz",
                         "/backup/" + os.path.basename(archive), cmd)
            p = self.sh(self.translate(cmd), "a line of the guide's restore")
            quoted = re.fullmatch(r'"(.+)"', comment)
            if quoted:  # what the guide says it prints, N and M standing for numbers
                pattern = re.escape(quoted[1]).replace("N", r"\d+").replace("M", r"\d+")
                self.assertRegex(p.stdout, pattern, cmd)

    def cli(self, *args):
        return self.env.cli(*args)

    def as_service(self, *args):
        p = subprocess.run([*self.as_user, harness.PACEWATCH, args[0], "-c", self.env.conf,
                            *args[1:]], capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, (args, p.stdout, p.stderr))
        return p.stdout

    def report_view(self, token):
        """The reporting page's part for the department (status, body)."""
        req = urllib.request.Request(f"http://127.0.0.1:{self.http}/report/health/view",
                                     headers={"X-Pacewatch-Token": token})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read().decode("utf-8")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8", "replace")

    def snapshot(self):
        return {"status": json.loads(self.cli("status", "--at", "2025-04-01", "--json")),
                "export": self.cli("export", "health_checkups"),
                "silences": self.cli("silence", "list"),
                "tokens": self.cli("token", "list")}

    def test_the_guides_backup_and_restore(self):
        env = self.env
        blocks = guide_blocks("operators-guide.md")
        self.assertEqual(len(blocks), 2, "the cron file and the restore")
        cron = [CRON.match(line) for line, _ in command_lines(blocks[0])]
        self.assertEqual(len(cron), 1, blocks[0])
        self.assertIsNotNone(cron[0], blocks[0])
        self.assertEqual(cron[0][1], "root")
        backup = self.translate(cron[0][2].replace("\\%", "%"))  # cron's escaped %
        restore = command_lines(blocks[1])
        zh = guide_blocks("operators-guide.zh-CN.md")
        self.assertEqual([[c for c, _ in command_lines(b)] for b in zh],
                         [[c for c, _ in command_lines(b)] for b in blocks],
                         "the Chinese guide's backup and restore commands")

        # A running service with figures polled, recorded, withdrawn and explained.
        self.start()
        env.wait(lambda: len(env.journal_lines()) >= 2, 30, "the first poll's figures")
        # Before any silence or link: the missing files are skipped with a warning.
        p = self.sh(backup, "the nightly backup, nothing silenced yet")
        self.assertIn("silences.json", p.stderr)
        self.as_service("record", "health_checkups", "20000", "--as-of", "2025-02-28")
        self.as_service("record", "family_doctor", "60000", "--as-of", "2025-02-28")
        self.as_service("retract", "family_doctor", "2025-02-28", "--reason", "重复报送")
        self.as_service("explain", "health_checkups", "--reason", "体检车辆检修",
                        "--measures", "增派体检队", "--catch-up", "2025-06-30")
        self.as_service("silence", "add", "health_checkups", "--for", "3d",
                        "--reason", "等待县卫健局核实")
        self.as_service("silence", "add", "source:health", "--for", "1d")
        link = self.as_service("token", "add", "health").strip()
        token = link.split("#t=", 1)[1]
        # Asked only once the daemon read the new token: five wrong ones would lock us out.
        env.daemon.wait_log("tokens.json changed: 1 reporting tokens", 30)
        self.assertEqual(self.report_view(token)[0], 200)
        before = self.snapshot()
        self.assertEqual(len(before["status"]["indicators"]), 2)
        self.assertIn("重复报送", before["export"] + self.cli("export", "family_doctor"))
        self.assertEqual(before["silences"].count("\n"), 3, before["silences"])
        self.assertIn("\thealth\t", before["tokens"])

        # The nightly copy, taken while the daemon runs, as the guide says it may be.
        self.sh(backup, "the nightly backup")
        archives = os.listdir(self.path("/backup"))
        self.assertEqual(len(archives), 1, archives)
        archive = os.path.join(self.path("/backup"), archives[0])

        # The server loses its state and its configuration; the package is installed again.
        env.kill9()
        shutil.rmtree(self.path("/etc/pacewatch"))
        shutil.rmtree(env.state)
        self.install_package()
        self.assertFalse(os.path.exists(self.environment))

        # The guide's restore, line by line.
        for cmd, comment in restore:
            self.run_line(cmd, comment, archive)
        self.assertIsNotNone(env.daemon, "the restore starts the daemon")
        self.assertTrue(env.daemon.alive())
        for ind in ("health_checkups", "family_doctor"):
            self.assertTrue(os.path.exists(env.rrd(ind)), ind)

        after = self.snapshot()
        with open(os.path.join(env.out, "status-before.json"), "w", encoding="utf-8") as f:
            json.dump(before["status"], f, ensure_ascii=False, indent=1)
        with open(os.path.join(env.out, "status-after.json"), "w", encoding="utf-8") as f:
            json.dump(after["status"], f, ensure_ascii=False, indent=1)
        self.assertEqual(after["status"], before["status"])
        self.assertEqual(after["export"], before["export"])
        self.assertEqual(after["silences"], before["silences"])
        self.assertEqual(after["tokens"], before["tokens"])
        # The daemon reads tokens.json before its start line: the link works at once.
        code, body = self.report_view(token)
        self.assertEqual(code, 200, body)
        self.assertIn("城乡居民免费健康体检人数", body)
        self.assertEqual(env.stop(), 0)


if __name__ == "__main__":
    harness.main()
