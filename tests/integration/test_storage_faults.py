#!/usr/bin/python3
"""Integration tests of the state directory under faults (docs/storage.md): the state directory
on a 2 MB tmpfs that fills up while a file source polled every second changes its value, then
frees. Every sample the daemon accepted is in the journal exactly once afterwards, no line is
malformed, the failure is logged once (naming the journal and the error) and the daemon
recovers alone. Needs root (mount); skipped otherwise."""

import os
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import harness  # noqa: E402

CONF = """
daemon: { state_dir = "state"; log_level = "debug"; http_listen = ""; };
domains = ( { id = "d"; name = "测试"; } );
sources = ( { id = "f"; url = "data/v.json"; format = "json"; interval = "1s"; } );
indicators = ( {indicators} );
"""
# Eight indicators of the one source (their RRD files fit beside): every poll writes some
# 600 bytes, so a batch soon meets
# the end of the journal's last page and is cut short.
N_IND = 8
INDICATORS = ",\n".join(
    f'{{ id = "v{i}"; name = "变化{i}"; domain = "d"; source = "f"; path = "$.v"; kind = "level";'
    f' targets = ( {{ year = 2024; annual = 1000000; baseline = 0; }} ); }}'
    for i in range(N_IND))


def mount_tmpfs(path, size):
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path],
                       capture_output=True, text=True)
    return r.returncode == 0


class FullDisk(harness.TestCase):
    def test_full_disk_loses_nothing(self):
        if os.geteuid() != 0:
            self.skipTest("mounting a tmpfs needs root")
        env = self.new_env()
        if not mount_tmpfs(env.state, "2m"):
            self.skipTest("cannot mount a tmpfs")
        stop = threading.Event()
        writer = None

        def cleanup():
            stop.set()
            if writer is not None:
                writer.join()
            env.kill9()
            subprocess.run(["umount", env.state], capture_output=True)
        self.addCleanup(cleanup)

        env.write_conf(CONF, indicators=INDICATORS)
        env.write("data/v.json", '{"v": 0}')

        def change():
            k = 0
            while not stop.wait(0.3):
                k += 1
                env.write("data/v.json.tmp", '{"v": %d}' % k)
                os.rename(env.path("data/v.json.tmp"), env.path("data/v.json"))
        writer = threading.Thread(target=change)
        writer.start()

        d = env.start()
        d.wait_log("new sample from f", 20, count=3)
        # Fill the disk: the journal's next batches fail, the first of them cut short.
        fill = os.path.join(env.state, "fill")
        subprocess.run(["dd", "if=/dev/zero", f"of={fill}", "bs=4k"], capture_output=True)
        d.wait_log("cannot write the journal", 20)
        time.sleep(4)  # several polls and retries on the full disk
        self.assertTrue(d.alive())
        os.unlink(fill)
        before = d.log().count("new sample from f")
        d.wait_log("new sample from f", 20, count=before + 3)
        stop.set()
        writer.join()
        writer = None
        self.assertEqual(d.stop(), 0)

        log = env.logs()
        # Every accepted sample, exactly once, and nothing malformed.
        accepted = sorted(
            (line.split("indicator '", 1)[1].split("'", 1)[0],
             int(line.split("new sample from f: ", 1)[1].split(" as of ")[0]))
            for line in log.splitlines() if "new sample from f: " in line)
        self.assertGreater(len(accepted), 5 * N_IND)
        r = env.cli_run("export", "v0")
        self.assertEqual(r.rc, 0, r.err)
        self.assertNotIn("malformed", r.err)
        self.assertNotIn("skipped", r.err)
        stored = sorted((f[1], int(f[2])) for f in
                        (line.split("\t") for line in env.journal_lines()))
        self.assertEqual(stored, accepted)
        # The failure logged once, naming the journal and the error; the recovery once.
        self.assertEqual(log.count("cannot write the journal"), 1, env.log_tail())
        failure = [line for line in log.splitlines() if "cannot write the journal" in line][0]
        self.assertIn("journal.tsv", failure)
        self.assertIn("No space left on device", failure)
        self.assertEqual(log.count("is written again"), 1, env.log_tail())


if __name__ == "__main__":
    harness.main()
