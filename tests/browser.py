"""A headless Chromium for tests, driven over the Chrome DevTools Protocol on a pipe.

`--remote-debugging-pipe` makes Chromium read commands from fd 3 and write replies and events to fd 4,
as JSON messages ending in a NUL byte (what Puppeteer's `pipe: true` and Playwright use). That needs no
WebDriver, no websocket client and no Python package: only the `chromium` binary (Debian's package;
`make install` installs it). Clicks are real mouse events at the element's centre (Input.dispatchMouseEvent),
not element.click().
"""
from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Optional

# headless, and nothing that reaches for the network (this machine has none; these stop it from hanging)
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio", "--remote-debugging-pipe")
NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class BrowserError(RuntimeError):
    pass


def find_chromium() -> Optional[str]:
    return os.environ.get("GENLAB_CHROMIUM") or next((p for p in map(shutil.which, NAMES) if p), None)


class Browser:
    """One headless Chromium with one page: open(url), click(selector), text(selector), js(expression)."""

    def __init__(self, binary: str, user_data_dir: Path, *, timeout: float = 30.0):
        self.timeout = timeout
        to_browser_r, self._w = os.pipe()
        self._r, from_browser_w = os.pipe()
        # move the child's ends to 10 and above, so that `3<&a 4>&b` cannot clobber one with the other (bash:
        # dash takes single-digit descriptors only)
        a, b = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_browser_r, from_browser_w))
        for fd in (to_browser_r, from_browser_w):
            os.close(fd)
        argv = [binary, *FLAGS, f"--user-data-dir={user_data_dir}", "about:blank"]
        shell = 'exec "$@" 3<&{a} 4>&{b} {a}<&- {b}>&-'.format(a=a, b=b)
        self.proc = subprocess.Popen([shutil.which("bash") or "/bin/bash", "-c", shell, "bash", *argv], pass_fds=(a, b),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True)
        os.close(a)
        os.close(b)
        self._buf = b""
        self._id = 0
        self.errors: list[str] = []  # uncaught exceptions and console errors of the page
        self.session: Optional[str] = None

    # --- protocol ---------------------------------------------------------------------------------
    def send(self, method: str, params: Optional[dict] = None, *, session: bool = True) -> dict:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        data = json.dumps(msg).encode() + b"\0"
        while data:
            data = data[os.write(self._w, data):]
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._next(deadline, method)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._event(reply)

    def _next(self, deadline: float, what: str) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise BrowserError(f"no reply from Chromium to {what} "
                                   f"({'it exited' if self.proc.poll() is not None else f'{self.timeout:g} s'})"
                                   f": {self._stderr()}")
            ready, _, _ = select.select([self._r], [], [], min(left, 0.5))
            if ready:
                chunk = os.read(self._r, 1 << 16)
                if not chunk:
                    raise BrowserError(f"Chromium closed the pipe during {what}: {self._stderr()}")
                self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def _event(self, msg: dict) -> None:
        method, params = msg.get("method"), msg.get("params", {})
        if method == "Runtime.exceptionThrown":
            d = params.get("exceptionDetails", {})
            self.errors.append(str(d.get("exception", {}).get("description") or d.get("text")))
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.errors.append(" ".join(str(a.get("value", a.get("description"))) for a in params.get("args", [])))

    def _stderr(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        return (self.proc.stderr.read() or b"").decode(errors="replace")[-500:]

    # --- the page ---------------------------------------------------------------------------------
    def open(self, url: str) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]
        self.send("Runtime.enable")
        self.send("Page.enable")
        self.send("Emulation.setDeviceMetricsOverride", {"width": 1200, "height": 900, "deviceScaleFactor": 1,
                                                         "mobile": False})
        self.send("Page.navigate", {"url": url})
        deadline = time.monotonic() + self.timeout
        while self.js("document.readyState") != "complete" or self.js("location.href") != url:
            if time.monotonic() > deadline:
                raise BrowserError(f"{url} did not load in {self.timeout:g} s")
            time.sleep(0.05)

    def js(self, expression: str) -> Any:
        r = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in r:
            raise BrowserError(f"{expression}: {r['exceptionDetails'].get('text')}")
        return r["result"].get("value")

    def click(self, selector: str) -> None:
        """A left click with the mouse at the centre of the element (scrolled into view first)."""
        where = self.js(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return null;"
                        " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
                        " return [r.left + r.width / 2, r.top + r.height / 2]; })()")
        if where is None:
            raise BrowserError(f"no element {selector!r} on the page")
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": where[0], "y": where[1], "button": "left",
                                                   "clickCount": 0 if kind == "mouseMoved" else 1})

    def text(self, selector: str) -> Optional[str]:
        return self.js(f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
                       " return e ? e.textContent : null; })()")

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.send("Browser.close", session=False)
        except (BrowserError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)  # our own process group (start_new_session)
            self.proc.wait(timeout=10)
        for fd in (self._r, self._w):
            try:
                os.close(fd)
            except OSError:
                pass
        self.proc.stderr.close()

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
