"""Headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe: JSON
messages, each ended by a NUL byte, written to the browser's fd 3 and read from its fd 4), so
tests can size the viewport like a phone, run script in the page, click, collect console errors
and take full-page screenshots with the standard library only (no websocket module)."""

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


class CdpError(Exception):
    pass


class Browser:
    """One headless browser with one page. Use as a context manager."""

    def __init__(self, chromium=CHROMIUM, timeout=60):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="pw-cdp-")
        to_child_r, self._w = os.pipe()
        self._r, from_child_w = os.pipe()

        def fds():
            # The protocol's pipes at the numbers Chromium reads them from (copied first: one
            # may already be 3 or 4, and dup2 onto itself would keep its close-on-exec flag).
            a, b = os.dup(to_child_r), os.dup(from_child_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-extensions", "--hide-scrollbars", "--mute-audio",
             "--remote-debugging-pipe", "--user-data-dir=" + self.profile, "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=fds, close_fds=False)
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf = b""
        self._id = 0
        self.events = []
        self.session = None
        target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)
        attached = self.call("Target.attachToTarget",
                             {"targetId": target["targetId"], "flatten": True}, session=False)
        self.session = attached["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(domain + ".enable")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self._send({"id": 0, "method": "Browser.close"})
        except OSError:
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._r, self._w):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)

    # -- the protocol --

    def _send(self, msg):
        os.write(self._w, json.dumps(msg).encode() + b"\0")

    def _read(self, deadline):
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CdpError("no answer from chromium in time")
            ready, _, _ = select.select([self._r], [], [], left)
            if ready:
                chunk = os.read(self._r, 1 << 20)
                if not chunk:
                    raise CdpError("chromium closed its pipe")
                self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=True, timeout=None):
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        self._send(msg)
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            m = self._read(deadline)
            if m.get("id") == self._id:
                if "error" in m:
                    raise CdpError(f"{method}: {m['error']}")
                return m.get("result", {})
            if "method" in m:
                self.events.append(m)

    def wait_event(self, method, timeout=None):
        """Waits for (and returns) the first event METHOD not seen yet."""
        for i, e in enumerate(self.events):
            if e["method"] == method:
                return self.events.pop(i)
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            m = self._read(deadline)
            if m.get("method") == method:
                return m
            if "method" in m:
                self.events.append(m)

    # -- what tests use --

    def viewport(self, width, height, mobile):
        self.width, self.height, self.mobile = width, height, mobile
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})

    def open(self, url):
        self.events = [e for e in self.events if e["method"] != "Page.loadEventFired"]
        self.call("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired")

    def js(self, expression, timeout=None):
        """The value of EXPRESSION (a promise is awaited)."""
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                           "awaitPromise": True}, timeout=timeout)
        if "exceptionDetails" in r:
            raise CdpError(f"{expression[:80]}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def console_errors(self):
        """Console errors, uncaught exceptions and failed loads the page reported so far."""
        self.call("Runtime.evaluate", {"expression": "0"})  # collects events queued before
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.exceptionThrown":
                out.append(str(p.get("exceptionDetails", {}).get("text")))
            elif e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(json.dumps(p.get("args"), ensure_ascii=False))
            elif e["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append(p["entry"].get("text", "") + " " + p["entry"].get("url", ""))
        return out

    def screenshot(self, path, full=True):
        """A PNG of the viewport, or of the whole page (the viewport made as tall as it)."""
        if full:
            # The viewport made as tall as the page; lazy images in it then load (waited for, at
            # most 20 s each round), which may make the page taller: again until it stays.
            h = 0
            for _ in range(4):
                nh = int(self.js("Math.ceil(document.documentElement.scrollHeight)"))
                if nh == h:
                    break
                h = nh
                self.call("Emulation.setDeviceMetricsOverride",
                          {"width": self.width, "height": h, "deviceScaleFactor": 1,
                           "mobile": self.mobile})
                self.js("""new Promise(done => {
                    const t0 = Date.now();
                    (function check() {
                      const imgs = [...document.images];
                      if (imgs.every(i => i.complete) || Date.now() - t0 > 20000)
                        document.fonts.ready.then(() => setTimeout(() => done(true), 100));
                      else setTimeout(check, 100);
                    })();
                  })""", timeout=30)
        data = self.call("Page.captureScreenshot", {"format": "png"}, timeout=60)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        if full:
            self.viewport(self.width, self.height, self.mobile)
        return path
