#!/usr/bin/python3
"""Open an HTML file in headless Chromium and check it; save a full-page screenshot.

    check_html.py PAGE.html --screenshot OUT.png [--min-images N] [--chromium PATH]

Fails (exit 1, one line per problem) when the page logs a console error or warning-level error entry, throws an
uncaught exception, requests anything that is not file: or data: (a static page must not touch the network),
or when an <img> did not load (naturalWidth 0) or fewer than N images are present.
Talks the Chrome DevTools Protocol over --remote-debugging-pipe (file descriptors 3 and 4, messages ended by
NUL), so it needs no package beyond Debian's chromium. Exit 77 when chromium is not installed.
"""
import argparse
import base64
import json
import os
import select
import shutil
import tempfile
import time

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--remote-debugging-pipe", "--window-size=1280,1600", "about:blank"]


class Browser:
    def __init__(self, chromium, profile, log_path):
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()
        actions = [(os.POSIX_SPAWN_DUP2, to_chrome_r, 3), (os.POSIX_SPAWN_DUP2, from_chrome_w, 4),
                   (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                   (os.POSIX_SPAWN_OPEN, 1, log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
                   (os.POSIX_SPAWN_DUP2, 1, 2)]
        self.pid = os.posix_spawn(chromium, [chromium, f"--user-data-dir={profile}"] + FLAGS, os.environ,
                                  file_actions=actions)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buffer = b""
        self.next_id = 0
        self.events = []

    def send(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        return self.next_id

    def _read_message(self, deadline):
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("chromium did not answer in time")
            ready, _, _ = select.select([self.from_chrome], [], [], left)
            if ready:
                chunk = os.read(self.from_chrome, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe (see its log)")
                self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method, params=None, session=None, timeout=30):
        wanted = self.send(method, params, session)
        deadline = time.monotonic() + timeout
        while True:
            msg = self._read_message(deadline)
            if msg.get("id") == wanted:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_event(self, method, timeout=30):
        deadline = time.monotonic() + timeout
        for i, e in enumerate(self.events):
            if e.get("method") == method:
                return self.events.pop(i)
        while True:
            msg = self._read_message(deadline)
            if msg.get("method") == method:
                return msg
            self.events.append(msg)

    def drain(self, seconds):
        deadline = time.monotonic() + seconds
        try:
            while True:
                self.events.append(self._read_message(deadline))
        except TimeoutError:
            pass

    def close(self):
        try:
            self.send("Browser.close")
        except OSError:
            pass
        for _ in range(50):
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.1)
        else:
            os.kill(self.pid, 9)
            os.waitpid(self.pid, 0)
        os.close(self.to_chrome)
        os.close(self.from_chrome)


def check(page, screenshot, min_images, chromium):
    problems = []
    profile = tempfile.mkdtemp(prefix="spikesim-chromium-")
    log_path = os.path.join(profile, "chromium.log")
    browser = Browser(chromium, profile, log_path)
    try:
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.call(f"{domain}.enable", session=session)
        url = "file://" + os.path.abspath(page)
        browser.call("Page.navigate", {"url": url}, session=session)
        browser.wait_event("Page.loadEventFired", timeout=60)
        browser.drain(0.5)  # late console messages
        images = browser.call("Runtime.evaluate", {
            "expression": "JSON.stringify(Array.from(document.images).map(i => [i.complete, i.naturalWidth, "
                          "i.naturalHeight, i.alt]))", "returnByValue": True}, session=session)
        images = json.loads(images["result"]["value"])
        metrics = browser.call("Page.getLayoutMetrics", session=session)
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        shot = browser.call("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 20000), "scale": 1}},
            session=session, timeout=60)
        with open(screenshot, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
    finally:
        browser.close()
        log = open(log_path, encoding="utf-8", errors="replace").read() if os.path.exists(log_path) else ""
        shutil.rmtree(profile, ignore_errors=True)

    for e in browser.events:
        method, params = e.get("method"), e.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert", "warning"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            problems.append(f"console {params['type']}: {text}")
        elif method == "Runtime.exceptionThrown":
            d = params.get("exceptionDetails", {})
            problems.append(f"uncaught exception: {d.get('exception', {}).get('description', d.get('text'))}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            problems.append(f"log error ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}")
        elif method == "Network.requestWillBeSent":
            req_url = params.get("request", {}).get("url", "")
            if not (req_url.startswith("file:") or req_url.startswith("data:") or req_url == "about:blank"):
                problems.append(f"network request: {req_url}")
    broken = [i for i in images if not i[0] or i[1] == 0]
    for b in broken:
        problems.append(f"image did not load: {b[3]!r}")
    if len(images) < min_images:
        problems.append(f"{len(images)} images, expected at least {min_images}")
    return problems, images, log


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("page")
    ap.add_argument("--screenshot", required=True)
    ap.add_argument("--min-images", type=int, default=1)
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    a = ap.parse_args()
    if not os.path.exists(a.chromium):
        print("SKIPPED: chromium is not installed (scripts/setup.sh installs it)")
        return 77
    problems, images, log = check(a.page, a.screenshot, a.min_images, a.chromium)
    if problems:
        for p in problems:
            print("FAIL:", p)
        lines = [line for line in log.splitlines() if "dbus" not in line]  # no system bus in containers
        print("chromium log (tail):\n" + "\n".join(lines[-20:]))
        return 1
    print(f"ok: {len(images)} images loaded, no console errors, no network requests; screenshot {a.screenshot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
