#!/usr/bin/python3
"""The dashboard (docs/http.md "Dashboard") on a phone and on a desktop: pacewatchd serving the
demo at 2024-04-30, read by headless Chromium over the DevTools protocol at 390x844 (a phone,
mobile viewport) and 1400x900. At each size: no horizontal scroll
(document.documentElement.scrollWidth <= innerWidth), no card wider than the page or cut inside,
graphs as wide as their card, one column on the phone; every 需关注 link resolves to a card
(#ind-<id>) and scrolls it into view; every status chip filters the cards to its status and
"显示全部" shows them all again; no console error. Full-page screenshots
(dashboard-390x844.png, dashboard-1400x900.png) are kept in the test's output folder. Before
the first polls have answered, a source says "尚未采集（首次采集在N秒内）", never 失败."""

import os
import re
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import harness  # noqa: E402
import chromium_cdp  # noqa: E402

NOW = "2024-04-30T09:00:00+08:00"
SIZES = ((390, 844, True), (1400, 900, False))

# Everything the page must satisfy at one size, computed in the page.
LAYOUT = """(() => {
  const de = document.documentElement, cards = [...document.querySelectorAll('.card')];
  const cut = cards.filter(c => c.scrollWidth > c.clientWidth + 1).map(c => c.id);
  const wide = [...document.querySelectorAll('body *')].filter(e => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && (r.right > innerWidth + 1 || r.left < -1);
  }).map(e => e.tagName + '.' + e.className + '#' + e.id).slice(0, 10);
  const imgs = cards.map(c => {
    const i = c.querySelector('img'), cr = c.getBoundingClientRect();
    const ir = i.getBoundingClientRect();
    return [c.id, Math.round(ir.width), Math.round(cr.width), ir.right <= cr.right + 1];
  });
  return {scrollWidth: de.scrollWidth, innerWidth: innerWidth, cut: cut, wide: wide, imgs: imgs,
          lefts: [...new Set(cards.map(c => Math.round(c.getBoundingClientRect().left)))]};
})()"""

VISIBLE = """[...document.querySelectorAll('.card')].filter(c => c.offsetParent !== null)
  .map(c => c.dataset.status)"""


def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
        return r.read().decode()


@unittest.skipUnless(os.path.exists(chromium_cdp.CHROMIUM), "chromium is not installed")
class Dashboard(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        env = cls.d = cls.new_class_env()
        env.copy_demo()
        env.port = harness.free_port()
        env.edit_conf('http_listen = "127.0.0.1:9464";', f'http_listen = "127.0.0.1:{env.port}";')
        env.cli("import", env.path("history.csv"))
        env.start(NOW, ready=lambda: harness.port_open(env.port))
        # At once: the demo's four sources are first polled at 0, 2.5, 5 and 7.5 s.
        cls.first_page = get(env.port, "/")
        cls.base = f"http://127.0.0.1:{env.port}/"

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        assert rc == 0, rc

    def test_sources_before_and_after_the_first_polls(self):
        rows = re.findall(r'<tr data-source="(\w+)">(.*?)</tr>', self.first_page)
        self.assertEqual([r[0] for r in rows], ["health", "civil", "hrss", "province"])
        for sid, row in rows:
            self.assertNotIn('data-state="down"', row, sid)
            state = re.search(r'data-state="(\w+)">([^<]*)<', row)
            self.assertIn(state.group(1), ("up", "pending"), row)
            if state.group(1) == "pending":
                self.assertRegex(state.group(2), r"^(尚未采集（首次采集在\d+秒内）|首次采集进行中)$")
        # Sources by their names, with the areas they feed.
        self.assertIn("<b>省发改委公示页面</b><small>重大项目及民生实事</small>", self.first_page)
        deadline = time.monotonic() + 30
        while True:
            page = get(self.d.port, "/")
            states = re.findall(r'<tr data-source="\w+">.*?data-state="(\w+)"', page)
            if states == ["up"] * 4 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        self.assertEqual(states, ["up"] * 4)

    def test_phone_and_desktop(self):
        out = self.d.out
        html = get(self.d.port, "/")
        # The programme's title and the time in words; figures with their unit together.
        self.assertIn("<h1>平阳县公共服务“七优享”工程推进情况</h1>", html)
        self.assertIn("截至2024年4月30日9时", html)
        self.assertNotIn("Asia/Shanghai", html)
        self.assertNotRegex(html, r"亿 元|万 元")
        self.assertIn('href="briefings/"', html)
        # 需关注 says how far: the standard by its label, on the side the figure is.
        self.assertRegex(html, r'<li data-indicator="service_circle_score" data-status="lagging">'
                               r'<a href="#ind-service_circle_score">.*?</a>（县府办）：滞后，'
                               r'低于全省平均分3.7分</li>')
        with chromium_cdp.Browser() as b:
            for w, h, mobile in SIZES:
                with self.subTest(size=f"{w}x{h}"):
                    self.check_size(b, w, h, mobile, out)

    def check_size(self, b, w, h, mobile, out):
        b.viewport(w, h, mobile)
        b.open(self.base)
        lay = b.js(LAYOUT)
        self.assertEqual(lay["innerWidth"], w)
        self.assertLessEqual(lay["scrollWidth"], lay["innerWidth"], lay["wide"])
        self.assertEqual(lay["wide"], [])
        self.assertEqual(lay["cut"], [])
        for cid, img_w, card_w, inside in lay["imgs"]:
            self.assertTrue(inside, cid)
            self.assertGreaterEqual(img_w, card_w - 30, cid)  # the graph takes the card's width
        if w < 600:
            self.assertEqual(len(lay["lefts"]), 1, lay["lefts"])  # one column
        else:
            self.assertGreater(len(lay["lefts"]), 1, lay["lefts"])
        b.screenshot(os.path.join(out, f"dashboard-{w}x{h}.png"))

        # 需关注: every link resolves to a card, and following one brings the card into view.
        links = b.js("[...document.querySelectorAll('#attention a')].map(a => a.getAttribute('href'))")
        self.assertGreater(len(links), 0)
        statuses = b.js("[...document.querySelectorAll('#attention li')].map(l => l.dataset.status)")
        order = {"severe": 0, "lagging": 1}
        ranks = [order.get(s, 2) for s in statuses]
        self.assertEqual(ranks, sorted(ranks))  # severe, lagging, then data gaps
        for href in links:
            self.assertRegex(href, r"^#ind-\w+$")
            self.assertTrue(b.js(f"document.getElementById({href[1:]!r})?.classList.contains('card')"),
                            href)
        b.js(f"document.querySelector('#attention a[href=\"{links[-1]}\"]').click()")
        top = b.js(f"new Promise(r => setTimeout(() => r(document.getElementById("
                   f"{links[-1][1:]!r}).getBoundingClientRect().top), 300))")
        self.assertGreaterEqual(top, -1)
        self.assertLess(top, h / 2)

        # Chips filter: only the cards of the chip's status are shown, as many as it counts.
        chips = b.js("[...document.querySelectorAll('a.chip')].map(c => "
                     "[c.dataset.status, +c.dataset.count])")
        self.assertGreaterEqual(len(chips), 2)
        total = b.js("document.querySelectorAll('.card').length")
        for status, n in chips:
            b.js(f"document.querySelector('a.chip[data-status={status}]').click()")
            shown = b.js(VISIBLE)
            self.assertEqual(shown, [status] * n, status)
            self.assertTrue(b.js(f"document.querySelector('.fnote[data-for={status}]')"
                                 ".offsetParent !== null"), status)
            if status == "lagging":
                b.screenshot(os.path.join(out, f"dashboard-{w}x{h}-lagging.png"), full=False)
            b.js(f"document.querySelector('.fnote[data-for={status}] a').click()")
            self.assertEqual(len(b.js(VISIBLE)), total, status)
        self.assertEqual(b.console_errors(), [])


if __name__ == "__main__":
    harness.main()
