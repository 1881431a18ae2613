#!/usr/bin/python3
"""The configurations the operator's guides give whole are valid (docs/operators-guide.md and
docs/operators-guide.zh-CN.md):

- every fenced block marked complete (an opening fence "```conf title=NAME") is written to a
  file of its own and `pacewatchd -t` accepts it (exit 0, "ok"), with the secrets it names as
  ${NAME} set to stand-ins and its state_dir moved into the test's directory (the paths the
  guide uses, /var/lib/pacewatch and /tmp/pw-try, belong to the server, not to the test);
- each guide has its complete blocks (the walkthrough's configuration, the throwaway one that
  sends a first alert, the one with every receiver type), so a block that loses its mark is
  noticed too;
- README.md and README.zh-CN.md link to each other and keep the same two-command quick start.
"""

import os
import pwd
import re
import subprocess
import sys

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


if __name__ == "__main__":
    harness.main()
