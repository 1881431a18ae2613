#!/usr/bin/python3
"""Runs the fault-injection suite (tests/faults/test_*.py, issue 12 Build item 2) and prints how
many cases it ran, how many passed, failed as expected (known defects, each marked
unittest.expectedFailure with the issue item it waits for) or not.

    /usr/bin/python3 tests/faults/run.py [NAME...]     (PW_BUILD, PW_SOURCE as for the harness)

Each module runs in its own process (its daemons, servers and output directory
$PW_TEST_OUT/test_<name>/), PW_FAULTS_JOBS at a time (default 2); their output is printed whole,
one module after the other. NAME limits the run to test_NAME.py. Exit status 0 when every case
passed or failed as expected; an unexpected success fails the run too: a defect was fixed, and
its case should lose its expectedFailure mark.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))


def run_module(path, report_dir):
    report = os.path.join(report_dir, os.path.basename(path) + ".json")
    env = dict(os.environ, PW_FAULTS_REPORT=report)
    t0 = time.time()
    p = subprocess.run(["/usr/bin/python3", path], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, errors="replace")
    try:
        with open(report, encoding="utf-8") as f:
            tally = json.load(f)
    except (OSError, ValueError):
        tally = None  # the module died before its end
    return path, p.returncode, p.stdout, tally, time.time() - t0


def main():
    names = sys.argv[1:]
    modules = sorted(os.path.join(HERE, n) for n in os.listdir(HERE)
                     if n.startswith("test_") and n.endswith(".py")
                     and (not names or n[5:-3] in names))
    jobs = max(1, int(os.environ.get("PW_FAULTS_JOBS", "2")))
    keys = ("run", "passed", "expected_failures", "unexpected_successes", "failures", "errors",
            "skipped")
    total = dict.fromkeys(keys, 0)
    broken, lines = [], []
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="pw-faults-") as tmp, \
            ThreadPoolExecutor(max_workers=jobs) as pool:
        for path, rc, out, tally, secs in pool.map(lambda m: run_module(m, tmp), modules):
            name = os.path.basename(path)
            print(f"===== {name} ({secs:.0f} s, exit {rc})")
            print(out, end="" if out.endswith("\n") else "\n", flush=True)
            if tally is None:
                broken.append(name)
                continue
            for k in keys:
                total[k] += tally[k]
            lines += [f"  {outcome:18} {name[:-3]}.{case.replace('__main__.', '')}"
                      for case, outcome in tally["cases"] if outcome != "ok"]
            if rc != 0 and tally["failures"] + tally["errors"] + \
                    tally["unexpected_successes"] == 0:
                broken.append(name)
    print("===== fault-injection suite")
    for line in lines:
        print(line)
    for name in broken:
        print(f"  {'DID NOT FINISH':18} {name}")
    print(f"fault cases: {total['run']} ({total['passed']} passed, "
          f"{total['expected_failures']} expected failures, "
          f"{total['unexpected_successes']} unexpected successes, "
          f"{total['failures'] + total['errors']} failed, {total['skipped']} skipped) "
          f"in {len(modules)} modules, {time.time() - t0:.0f} s")
    ok = (not broken and total["failures"] + total["errors"] + total["unexpected_successes"]
          == 0 and total["run"] > 0)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
