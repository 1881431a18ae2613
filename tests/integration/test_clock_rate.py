#!/usr/bin/python3
"""Integration test of `pacewatchd --clock-rate N` (docs/cli.md#pacewatchd): values that are not
a whole number from 1 to 1000000 are refused with exit 2 and a line naming the option; with
`--now` the clock starts there and runs N times faster (`pacewatch_clock_seconds` on /metrics),
without it the clock starts from the wall clock's time; and the sources' timers follow the
daemon's clock: a source polled every hour is polled every second at N = 3600. A storm of
SIGHUPs at N = 1000000 leaves every weekly briefing written."""
import os
import re
import signal
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import harness  # noqa: E402

CONF = '''
daemon: { state_dir = "state"; http_listen = "127.0.0.1:{hport}"; };
domains = ( { id = "d"; name = "测试"; } );
sources = ( { id = "s"; url = "http://127.0.0.1:{sport}/data/s.json"; format = "json";
              interval = "1h"; } );
indicators = ( { id = "v"; name = "测试值"; domain = "d"; source = "s"; path = "$.v";
                 kind = "level"; targets = ( { year = 2024; baseline = 0; annual = 10; } ); } );
'''

BRIEFING_CONF = '''
daemon: { state_dir = "state"; http_listen = "127.0.0.1:{hport}"; };
domains = ( { id = "d"; name = "测试"; } );
indicators = ( { id = "v"; name = "测试值"; domain = "d"; kind = "level";
                 targets = ( { year = 2025; baseline = 0; annual = 10; } ); } );
'''


def clock(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            return float(re.search(r"^pacewatch_clock_seconds (\S+)$", r.read().decode(),
                                   re.M)[1])
    except OSError:
        return None


class ClockRate(harness.TestCase):
    def test_refused(self):
        env = self.new_env()
        env.write_conf(CONF, hport=harness.free_port(), sport=1)
        for bad in ("0", "-3", "1000001", "12abc", "", "1e3", " 5"):
            r = harness.pacewatchd("-c", env.conf, "--clock-rate", bad, "-t")
            self.assertEqual(r.rc, 2, (bad, r))
            self.assertIn(f"--clock-rate '{bad}' is not a whole number from 1 to 1000000",
                          r.err, bad)
        r = harness.pacewatchd("-c", env.conf, "--clock-rate", "1000000", "-t")
        self.assertEqual(r.rc, 0, r)

    def test_fast_clock_and_polls(self):
        env = self.new_env()
        src = env.sources_server(env.path("data"))
        env.write("data/s.json", '{"v": 1}')
        hport = harness.free_port()
        env.write_conf(CONF, hport=hport, sport=src.port)
        start = 1714438800  # 2024-04-30T09:00:00+08:00
        d = env.start("2024-04-30T09:00:00+08:00", "--clock-rate", "3600",
                      ready=lambda: clock(hport) is not None)
        t0, c0 = time.monotonic(), clock(hport)
        self.assertLess(c0 - start, 3600 * 10, "the clock starts at --now")
        time.sleep(4)
        t1, c1 = time.monotonic(), clock(hport)
        rate = (c1 - c0) / (t1 - t0)
        self.assertTrue(3000 < rate < 4200, rate)
        # An hourly source at 3600 times: about one poll a second of real time.
        n = src.counts().get("/data/s.json", 0)
        self.assertGreaterEqual(n, 4, env.log_tail())
        self.assertLessEqual(n, (c1 - start) / 3600 + 3, env.log_tail())
        self.assertEqual(d.stop(), 0)

    def test_without_now(self):
        env = self.new_env()
        hport = harness.free_port()
        env.write_conf(CONF, hport=hport, sport=1)
        wall = time.time()
        env.start(None, "--clock-rate", "1000", ready=lambda: clock(hport) is not None)
        c = clock(hport)
        elapsed = time.time() - wall
        # Started from the wall clock's time, then 1000 times faster.
        self.assertGreaterEqual(c, wall - 1)
        self.assertLessEqual(c, wall + (elapsed + 1) * 1000)
        time.sleep(1)
        self.assertGreater(clock(hport), c + 500)
        self.assertEqual(env.stop(), 0)

    def test_reload_storm_keeps_due_briefings(self):
        # At 10^6 times a tick comes every 10 ms of real time, i.e. 2.8 hours of the daemon's
        # clock: a reload ending between a Monday 08:00 and the tick that writes its briefing
        # used to move the schedule to the next Monday, and with SIGHUPs every millisecond most
        # weeks had no briefing (docs/briefing.md#when).
        env = self.new_env()
        hport = harness.free_port()
        env.write_conf(BRIEFING_CONF, hport=hport)
        start = 1736049600  # 2025-01-05T12:00:00+08:00, a Sunday
        d = env.start("2025-01-05T12:00:00+08:00", "--clock-rate", "1000000",
                      ready=lambda: clock(hport) is not None)
        d.hup()
        end = time.monotonic() + 3
        while time.monotonic() < end:
            os.kill(d.pid, signal.SIGHUP)
            time.sleep(0.001)
        last = clock(hport)
        self.assertEqual(d.stop(), 0)
        self.assertGreater(last - start, 4 * 7 * 86400, "the storm lasted four weeks or more")
        monday, weeks = start + 20 * 3600, []  # 2025-01-06T08:00:00+08:00
        while monday < last - 3 * 3600:  # the tick after the last one may not have come
            weeks.append("2025-W%02d" % (2 + len(weeks)))
            monday += 7 * 86400
        names = os.listdir(os.path.join(env.state, "briefings"))
        for w in weeks:
            self.assertIn(w + ".html", names, env.log_tail(3000))


if __name__ == "__main__":
    harness.main()
