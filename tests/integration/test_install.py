#!/usr/bin/python3
"""Install, package and systemd (docs/install.md):

- the Debian package builds with cpack from the build tree (skipped without cpack, dpkg-deb or
  dpkg-shlibdeps), `dpkg -x` puts it in a scratch root, and from there `pacewatchd -t` accepts
  the installed configuration (0640, a conffile) and `pacewatch --version` answers; the package
  depends on the libraries the programs link (libsystemd0, libuv1) and carries the LICENSE;
- `systemd-analyze verify` accepts the installed unit and `systemd-analyze security
  --offline=yes` scores it at most 2.0 (the score is printed);
- under a fake NOTIFY_SOCKET (a datagram socket here) the daemon sends READY=1 with STATUS=,
  WATCHDOG=1 at half of WATCHDOG_USEC, RELOADING=1 then READY=1 around a reload, and STOPPING=1;
  /metrics reports the last reload's outcome (0 for a broken file, 1 once fixed);
- when JOURNAL_STREAM names its stderr, every log line starts with its priority (<6> info,
  <3> error); without it, none does;
- started as root with daemon.user, the daemon runs as that user.
"""

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import harness  # noqa: E402

CONF = '''
daemon: { state_dir = "state"; http_listen = "127.0.0.1:{port}"; };
domains = ( { id = "health"; name = "病有良医"; } );
indicators = (
  { id = "checkups"; name = "体检人数"; domain = "health"; kind = "cumulative";
    targets = ( { year = 2024; annual = 190000; quarters = [ 28500, 95000, 142500, 190000 ]; } ); }
);
'''


def tools(*names):
    return all(shutil.which(n) for n in names)


class Package(harness.TestCase):
    @unittest.skipUnless(tools("cpack", "dpkg-deb", "dpkg-shlibdeps", "file"),
                         "cpack, dpkg-deb, dpkg-shlibdeps or file missing")
    def test_package_installs_and_runs(self):
        work = tempfile.mkdtemp(prefix="pw-package-")
        self.addCleanup(shutil.rmtree, work, True)
        p = subprocess.run(["cpack", "-G", "DEB", "-B", work], cwd=harness.BUILD,
                           capture_output=True, text=True, timeout=600)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        debs = [f for f in os.listdir(work) if f.endswith(".deb")]
        self.assertEqual(len(debs), 1, os.listdir(work))
        deb = os.path.join(work, debs[0])
        info = subprocess.run(["dpkg-deb", "-f", deb], capture_output=True, text=True).stdout
        depends = re.search(r"^Depends: (.*)$", info, re.M)[1]
        for lib in ("libsystemd0", "libuv1", "libjansson4", "librrd8", "libcurl4", "libconfig9",
                    "libexpat1", "libzip4"):
            self.assertIn(lib, depends)
        self.assertNotIn("libcmocka", depends)
        conffiles = subprocess.run(["dpkg-deb", "--ctrl-tarfile", deb], capture_output=True)
        self.assertEqual(conffiles.returncode, 0)
        root = os.path.join(work, "root")
        subprocess.run(["dpkg-deb", "--control", deb, os.path.join(work, "control")], check=True)
        with open(os.path.join(work, "control", "conffiles")) as f:
            self.assertIn("/etc/pacewatch/pacewatch.conf", f.read().split())
        subprocess.run(["dpkg", "-x", deb, root], check=True)
        conf = os.path.join(root, "etc", "pacewatch", "pacewatch.conf")
        self.assertEqual(os.stat(conf).st_mode & 0o777, 0o640)
        for f in ("usr/lib/pacewatch/plugins/json.so", "usr/lib/systemd/system/pacewatchd.service",
                  "usr/lib/sysusers.d/pacewatch.conf", "usr/lib/tmpfiles.d/pacewatch.conf",
                  "usr/share/doc/pacewatch/copyright",
                  "usr/share/doc/pacewatch/install.md", "usr/share/man/man1/pacewatch.1.gz",
                  "usr/share/man/man5/pacewatch.conf.5.gz", "usr/share/man/man8/pacewatchd.8.gz",
                  "usr/share/doc/pacewatch/operators-guide.md",
                  "usr/share/doc/pacewatch/operators-guide.zh-CN.md"):
            self.assertTrue(os.path.isfile(os.path.join(root, f)), f)
        # The daemon rotates audit.log itself: no logrotate file to fight it (docs/install.md).
        self.assertFalse(os.path.exists(os.path.join(root, "etc/logrotate.d")))
        # The plugins are found beside the installed executable, not in the build tree.
        env = {k: v for k, v in os.environ.items() if k != "PACEWATCH_PLUGIN_DIR"}
        p = subprocess.run([os.path.join(root, "usr/bin/pacewatchd"), "-t", "-c", conf],
                           capture_output=True, text=True, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("ok", p.stdout)
        p = subprocess.run([os.path.join(root, "usr/bin/pacewatch"), "--version"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0)
        self.assertRegex(p.stdout, r"^pacewatch \d+\.\d+\.\d+\n$")
        unit = os.path.join(root, "usr/lib/systemd/system/pacewatchd.service")
        with open(unit) as f:
            text = f.read()
        self.assertIn("ExecStart=/usr/bin/pacewatchd -f -c /etc/pacewatch/pacewatch.conf", text)
        if tools("systemd-analyze"):
            self.check_unit(root, text, work)

    def check_unit(self, root, text, work):
        # verify checks that the commands exist: the copy points at the scratch root's.
        copy = os.path.join(work, "pacewatchd.service")
        with open(copy, "w") as f:
            f.write(text.replace("=/usr/bin/", "=" + root + "/usr/bin/"))
        p = subprocess.run(["systemd-analyze", "verify", copy], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        p = subprocess.run(["systemd-analyze", "security", "--offline=yes", copy],
                           capture_output=True, text=True)
        m = re.search(r"Overall exposure level for pacewatchd.service: ([0-9.]+)", p.stdout)
        self.assertIsNotNone(m, p.stdout + p.stderr)
        print(f"systemd-analyze security: pacewatchd.service scores {m[1]}", flush=True)
        self.assertLessEqual(float(m[1]), 2.0, p.stdout)


class Systemd(harness.TestCase):
    def start_with(self, env, extra, journal=False):
        """Starts the daemon with the environment variables EXTRA (and JOURNAL_STREAM naming its
        log file when JOURNAL)."""
        saved = dict(os.environ)
        os.environ.update(extra)
        if journal:
            log = os.path.join(env.out, f"pacewatchd-{env._n_daemon}.log")
            open(log, "w").close()
            st = os.stat(log)
            os.environ["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        else:
            os.environ.pop("JOURNAL_STREAM", None)
        try:
            return env.start()
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def metrics(self, port):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            return r.read().decode()

    def test_notify_watchdog_reload(self):
        env = self.new_env()
        port = harness.free_port()
        env.write_conf(CONF, port=port)
        sock_path = env.path("notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind(sock_path)
        sock.settimeout(1)
        got = []

        def receive_until(pred, timeout=20):
            end = time.time() + timeout * harness.TIMEOUT_FACTOR
            while time.time() < end:
                try:
                    got.append(sock.recv(4096).decode())
                except socket.timeout:
                    continue
                if pred():
                    return
            self.fail(f"not received; got {got}")

        d = self.start_with(env, {"NOTIFY_SOCKET": sock_path, "WATCHDOG_USEC": "1000000"})
        receive_until(lambda: any("READY=1" in m for m in got))
        ready = next(m for m in got if "READY=1" in m)
        self.assertIn("STATUS=1 indicators, 0 lagging, 0 sources", ready)
        receive_until(lambda: sum(m == "WATCHDOG=1" for m in got) >= 3)
        self.assertRegex(self.metrics(port), r"(?m)^pacewatch_config_last_reload_successful 1$")
        # A broken file: the reload is refused, the service manager still hears READY=1.
        got.clear()
        env.edit_conf('kind = "cumulative";', 'kind = "cumulative"; bogus = 1;')
        d.hup()
        receive_until(lambda: any("READY=1" in m for m in got))
        first = next(i for i, m in enumerate(got) if m.startswith("RELOADING=1"))
        self.assertRegex(got[first], r"^RELOADING=1\nMONOTONIC_USEC=\d+$")
        self.assertTrue(any("READY=1" in m for m in got[first + 1:]), got)
        self.assertRegex(self.metrics(port), r"(?m)^pacewatch_config_last_reload_successful 0$")
        got.clear()
        env.edit_conf(' bogus = 1;', '')
        d.hup()
        receive_until(lambda: any("READY=1" in m for m in got))
        self.assertTrue(got[0].startswith("RELOADING=1"), got)
        env.wait(lambda: re.search(r"(?m)^pacewatch_config_last_reload_successful 1$",
                                   self.metrics(port)), 10,
                 "the reload's metric")
        self.assertRegex(self.metrics(port),
                         r"pacewatch_config_last_reload_success_timestamp_seconds \d+")
        got.clear()
        self.assertEqual(env.stop(), 0)
        receive_until(lambda: "STOPPING=1" in got, 5)

    def test_without_notify_socket_nothing_is_sent(self):
        env = self.new_env()
        env.write_conf(CONF, port=harness.free_port())
        self.start_with(env, {})
        self.assertEqual(env.stop(), 0)
        self.assertNotIn("cannot notify", env.log_tail())

    def test_priority_prefixes_under_journal(self):
        env = self.new_env()
        env.write_conf(CONF, port=harness.free_port())
        d = self.start_with(env, {}, journal=True)
        env.edit_conf('kind = "cumulative";', 'kind = "cumulative"; bogus = 1;')
        d.hup()
        log = d.wait_log("reload failed")
        self.assertEqual(env.stop(), 0)
        log = d.log()
        lines = [l for l in log.splitlines() if l]
        self.assertTrue(lines)
        for line in lines:
            self.assertRegex(line, r"^<[3467]>(error|warn|info|debug): ", line)
        self.assertRegex(log, r"(?m)^<6>info: main: pacewatchd .*indicators, ")
        self.assertRegex(log, r"(?m)^<3>error: main: reload failed")
        # Without JOURNAL_STREAM (or with one naming another file): no prefix.
        env2 = self.new_env()
        env2.write_conf(CONF, port=harness.free_port())
        d2 = self.start_with(env2, {"JOURNAL_STREAM": "1:1"})
        self.assertEqual(env2.stop(), 0)
        self.assertRegex(d2.log(), r"(?m)^info: main: pacewatchd ")
        self.assertNotIn("<6>", d2.log())

    @unittest.skipUnless(os.geteuid() == 0, "needs root")
    def test_root_becomes_daemon_user(self):
        env = self.new_env()
        env.write_conf(CONF.replace('state_dir = "state";',
                                    'state_dir = "state"; user = "nobody";'),
                       port=harness.free_port())
        nobody = pwd.getpwnam("nobody")
        os.makedirs(env.state)
        os.chown(env.state, nobody.pw_uid, nobody.pw_gid)
        os.chmod(env.dir, 0o755)
        d = env.start()
        with open(f"/proc/{d.pid}/status") as f:
            uids = re.search(r"^Uid:\s+(.*)$", f.read(), re.M)[1].split()
        self.assertEqual(set(uids), {str(nobody.pw_uid)})
        self.assertIn("running as nobody", d.log())
        self.assertEqual(env.stop(), 0)
        self.assertEqual(os.stat(os.path.join(env.state, "journal")).st_uid, nobody.pw_uid)
        # A user that does not exist: the daemon refuses to start, naming it.
        env.edit_conf('user = "nobody";', 'user = "pw_no_such_user";')
        d = env.start(ready=None)
        self.assertEqual(d.wait(), 1)
        self.assertIn("daemon.user 'pw_no_such_user': no such user", d.log())


if __name__ == "__main__":
    harness.main()
