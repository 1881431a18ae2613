#!/usr/bin/python3
"""The demo's graphs as people see them (docs/graphs.md): every indicator of conf/demo judged
at 2024-04-30, drawn by `pacewatch graph` in PNG and SVG into a gallery in the test's output
folder (gallery/index.html, with a grey copy of each PNG as it would print), and checked by
pixel: each figure known is a dot of the figures' colour; the status colour appears only in
the title; a known figure from an earlier year (3.56 of 2023 for the doctors per 1000) is drawn
although the year has no target; the dots stay dark when printed in grey."""

import html
import json
import os
import sys
import unittest

from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import harness  # noqa: E402

VALUE = (0x1F, 0x4E, 0x99)  # the figures' colour (graphs/graph.c)
STATUS = {"ok": (0x2E, 0x7D, 0x32), "lagging": (0xE6, 0x7E, 0x00), "severe": (0xC0, 0x39, 0x2B)}


class DemoGallery(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        env = cls.new_class_env()
        env.copy_demo()
        env.cli("import", env.path("history.csv"))
        cls.env = env
        cls.status = env.status("--at", "2024-04-30")["indicators"]
        cls.gallery = os.path.join(env.out, "gallery")
        os.makedirs(cls.gallery, exist_ok=True)
        rows = []
        for s in cls.status:
            for fmt in ("png", "svg"):
                env.cli("graph", s["id"], "--at", "2024-04-30", "--format", fmt, "-o",
                        os.path.join(cls.gallery, f"{s['id']}.{fmt}"))
            Image.open(os.path.join(cls.gallery, s["id"] + ".png")).convert("L").save(
                os.path.join(cls.gallery, s["id"] + "-grey.png"))
            rows.append(f"<h2>{html.escape(s['name'])} ({s['kind']}, {s['status']})</h2>"
                        f"<img src=\"{s['id']}.png\"> <img src=\"{s['id']}-grey.png\" "
                        "width=445>")
        with open(os.path.join(cls.gallery, "index.html"), "w", encoding="utf-8") as f:
            f.write("<!doctype html><meta charset=utf-8><title>pacewatch demo graphs</title>"
                    "<h1>The demo judged at 2024-04-30: every graph, and as printed in grey"
                    "</h1>\n" + "\n".join(rows) + "\n")

    def image(self, ind):
        return Image.open(os.path.join(self.gallery, ind + ".png")).convert("RGB")

    def test_every_graph_rendered(self):
        self.assertEqual(len(self.status), 32)
        for s in self.status:
            im = self.image(s["id"])
            self.assertGreater(im.size[0], 800, s["id"])
            self.assertGreater(im.size[1], 300, s["id"])
            with open(os.path.join(self.gallery, s["id"] + ".svg"), "rb") as f:
                self.assertIn(b"<svg", f.read(400))

    def test_figures_are_dots(self):
        """Every indicator with a figure known at 2024-04-30 (in the verdict, or earlier than
        the year, as for the doctors per 1000 without a target) shows it as a dot: a run of the figures'
        colour at least four pixels wide."""
        for s in self.status:
            im = self.image(s["id"])
            w, h = im.size
            px = im.load()
            widest = 0
            for y in range(30, h - 60):
                run = 0
                for x in range(40, w):
                    run = run + 1 if px[x, y] == VALUE else 0
                    widest = max(widest, run)
            if s["value"] is not None or s["id"] == "doctors_per_1000":
                self.assertGreaterEqual(widest, 4, s["id"])

    def test_status_only_in_title(self):
        for s in self.status:
            colour = STATUS.get(s["status"])
            if colour is None:
                continue
            im = self.image(s["id"])
            px = im.load()
            w, h = im.size
            found_title = any(px[x, y] == colour for y in range(0, 30) for x in range(w))
            below = [(x, y) for y in range(40, h) for x in range(w) if px[x, y] == colour]
            self.assertEqual(below, [], s["id"])
            # The title's status word is antialiased text: its exact colour is not guaranteed,
            # but something of its hue is there.
            hue = any(self._near(px[x, y], colour) for y in range(0, 30) for x in range(w))
            self.assertTrue(found_title or hue, s["id"])

    @staticmethod
    def _near(p, c):
        return sum(abs(a - b) for a, b in zip(p, c)) < 90

    def test_legible_in_grey(self):
        """The dots print dark (below 100 of 255), apart from the light grid (above 200)."""
        for s in self.status:
            rgb = self.image(s["id"])
            grey = Image.open(os.path.join(self.gallery, s["id"] + "-grey.png")).load()
            px = rgb.load()
            w, h = rgb.size
            for y in range(h):
                for x in range(w):
                    if px[x, y] == VALUE:
                        self.assertLess(grey[x, y], 100, s["id"])


if __name__ == "__main__":
    harness.main()
