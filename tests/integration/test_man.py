#!/usr/bin/python3
"""The man pages of man/ (pacewatch(1), pacewatch.conf(5), pacewatchd(8)), installed by
`cmake --install` and the package (docs/install.md):

- `man --warnings -l PAGE` renders each page without a single warning (groff's own checks of
  the macros, escapes and characters used), in a UTF-8 locale, as a server's man would;
- every key the configuration loader knows (each `struct key_spec` table of
  daemon/core/config_*.c) is named in pacewatch.conf(5) as a `.B key` entry under the
  subsection of its section, so a key added to the loader without its entry fails here;
- every command and option `pacewatch --help` lists has its place in pacewatch(1), and every
  option of `pacewatchd --help` in pacewatchd(8) (under OPTIONS);
- each command's own usage (`pacewatch CMD --help`) has every option its lines of the general
  usage name, and every one of them is in that command's subsection of pacewatch(1), so an
  option documented under another command, or missing from the command's help, fails.
"""

import glob
import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import harness  # noqa: E402

MAN = os.path.join(harness.SOURCE, "man")
PAGES = ("pacewatch.1", "pacewatch.conf.5", "pacewatchd.8")
# The loader's tables and the subsection of pacewatch.conf(5) that documents their keys.
SECTION_OF = {"daemon_keys": "daemon", "domain_keys": "domains",
              "department_keys": "departments", "source_keys": "sources",
              "indicator_keys": "indicators", "target_keys": "targets",
              "receiver_keys": "receivers", "alerting_keys": "alerting",
              "silence_keys": "silences", "briefing_keys": "briefing"}


def read(name):
    with open(os.path.join(MAN, name), encoding="utf-8") as f:
        return f.read()


def loader_keys():
    """{table name: [key, ...]} from every key_spec table of the configuration loader."""
    tables = {}
    for path in sorted(glob.glob(os.path.join(harness.SOURCE, "daemon", "core", "config*.c"))):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for m in re.finditer(r"static const struct key_spec (\w+)\[\] = \{(.*?)\{NULL", text,
                             re.S):
            tables[m[1]] = re.findall(r'\{"(\w+)"', m[2])
    return tables


def subsections(text):
    """{name: body} of the .SS subsections of a page (up to the next .SS or .SH)."""
    parts = re.split(r"^\.S[SH] (.+)$", text, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def roff(option):
    return option.replace("-", "\\-")


def options(text):
    """The long options (--name) a usage text names, as a set."""
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", text))


def general_usage_lines(usage):
    """{command: its lines of `pacewatch --help` (its line and those continuing it)}."""
    lines, cmd = {}, None
    for line in usage.splitlines():
        m = re.match(r"^  ([a-z]+) ", line)
        if m:
            cmd = m[1]
            lines[cmd] = line
        elif cmd is not None and line.startswith("   "):
            lines[cmd] += "\n" + line
        else:
            cmd = None
    return lines


class ManPages(harness.TestCase):
    @unittest.skipUnless(shutil.which("man") and shutil.which("groff"),
                         "man-db or groff-base missing")
    def test_pages_render_without_warnings(self):
        env = dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="80", MAN_KEEP_FORMATTING="")
        for page in PAGES:
            with self.subTest(page=page):
                p = subprocess.run(["man", "--warnings", "-l", os.path.join(MAN, page)],
                                   capture_output=True, text=True, env=env, timeout=60)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stderr, "", f"{page}: groff warnings")
                self.assertIn("SEE ALSO", p.stdout)

    def test_every_loader_key_is_in_pacewatch_conf_5(self):
        tables = loader_keys()
        self.assertIn("daemon_keys", tables)
        self.assertIn("indicator_keys", tables)
        text = read("pacewatch.conf.5")
        subs = subsections(text)
        missing = []
        for table, keys in tables.items():
            # A table not mapped yet is looked for in the whole page.
            body = subs.get(SECTION_OF.get(table, ""), text)
            for key in keys:
                if not re.search(r"^\.BR? " + re.escape(key) + r"(\s|$)", body, re.M):
                    missing.append(f"{table}: {key}")
        self.assertEqual(missing, [], "keys of the loader missing from man/pacewatch.conf.5")
        for section in ("daemon", "domains", "departments", "sources", "indicators", "receivers",
                        "alerting", "silences", "briefing"):
            self.assertIn(section, subs)

    def test_every_command_and_option_is_in_the_pages(self):
        p = subprocess.run([harness.PACEWATCH, "--help"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        usage = p.stdout.split("commands:", 1)[1]
        commands = re.findall(r"^  ([a-z]+) ", usage, re.M)
        self.assertIn("status", commands)
        page = read("pacewatch.1")
        subs = subsections(page)
        for cmd in commands:
            self.assertIn(cmd, subs, f"pacewatch {cmd} has no subsection in pacewatch.1")
        for option in set(re.findall(r"(--[a-z][a-z-]*)", p.stdout)):
            self.assertIn(roff(option), page, f"{option} missing from pacewatch.1")
        p = subprocess.run([harness.PACEWATCHD, "--help"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        page = read("pacewatchd.8")
        opts = subsections(page).get("OPTIONS", "")
        for option in set(re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", p.stdout)):
            self.assertIn(roff(option), opts, f"{option} missing from OPTIONS of pacewatchd.8")

    def test_each_commands_options_are_in_its_subsection(self):
        p = subprocess.run([harness.PACEWATCH, "--help"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        general = general_usage_lines(p.stdout.split("commands:", 1)[1])
        self.assertIn("import", general)
        self.assertIn("--first-row", general["import"])
        subs = subsections(read("pacewatch.1"))
        for cmd, lines in general.items():
            with self.subTest(command=cmd):
                h = subprocess.run([harness.PACEWATCH, cmd, "--help"], capture_output=True,
                                   text=True)
                self.assertEqual(h.returncode, 0, h.stderr)
                own = options(h.stdout)
                self.assertEqual(options(lines) - own, set(),
                                 f"options of the general usage missing from `{cmd} --help`:\n"
                                 f"{h.stdout}")
                body = subs.get(cmd, "")
                self.assertIn(f".B pacewatch {cmd}", body, f"pacewatch.1 has no synopsis of {cmd}")
                missing = sorted(o for o in own if roff(o) not in body)
                self.assertEqual(missing, [], f"options of `pacewatch {cmd} --help` missing from "
                                 f"its subsection of pacewatch.1")


if __name__ == "__main__":
    harness.main()
