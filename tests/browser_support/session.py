"""One test module's browser: a Chromium for the module (the ``chromium`` fixture: import it into the test
module) and a Session around one page of a ComfyUI server, with the driver's calls and console checks."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from .app_page import CHROMIUM
from .cdp import Chromium
from .comfy_server import ComfyServer

# console noise that is not about the pack: resources the frontend probes (input images a workflow names), and the
# missing-models dialog's file-size requests to huggingface.co, which the test box cannot reach
BENIGN = ("Failed to load resource", "apple-mobile-web-app-capable", "Error fetching file size")
# frontend 1.58 on ComfyUI 0.3.64: it polls a jobs API this server does not have, and warns about its own
# deprecated parts (core extensions and the legacy menu). Ignored only when the message does not come from this
# pack's files.
FRONTEND_NOISE = ("[Jobs API]", "Failed to fetch queue", "legacy queue/history menu is deprecated",
                  "open_maskeditor is deprecated", "Invalid layout total size", "input.link is deprecated",
                  "Failed to verify missing models", "[Missing Model Pipeline]",
                  "ComfyApp graph accessed before initialization")  # 1.49.6 while the page starts
OUR_FILES = "/extensions/comfyui-instantid/"


def console_problems(page, benign, since=(0, 0)):
    """Console errors/warnings and uncaught exceptions since a mark, except ``benign`` texts and the newer
    frontend's own noise."""
    def noise(m):
        where = " ".join((m[1], m[2], *(m[3] if len(m) > 3 else ())))
        return any(b in m[1] for b in benign) or (
            OUR_FILES not in where and any(n in m[1] for n in FRONTEND_NOISE))
    return [m for m in page.console[since[0]:] if m[0] in ("error", "warning", "assert") and not noise(m)] + [
        ("exception", *e) for e in page.exceptions[since[1]:]]


class Session:
    benign = BENIGN  # a test module that must see more of the console narrows this

    def __init__(self, server: ComfyServer, page, shots: Path):
        self.server, self.page, self.shots = server, page, shots

    def call(self, fn, *args, timeout=30):
        return self.page.js(f"__iid.{fn}({', '.join(json.dumps(a) for a in args)})", timeout=timeout)

    def mark(self):
        return len(self.page.console), len(self.page.exceptions)

    def problems(self, since=(0, 0)):
        """Console errors/warnings and uncaught exceptions since a mark(), except BENIGN noise."""
        return console_problems(self.page, self.benign, since)

    def click(self, x: float, y: float):
        """A real mouse click at page coordinates."""
        self.page.send("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
        for kind in ("mousePressed", "mouseReleased"):
            self.page.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def click_centre(self, selector: str):
        """A real click on the middle of the first visible element matching ``selector``."""
        at = self.call("centreOf", selector)
        assert at, f"nothing visible matches {selector}"
        self.click(at["x"], at["y"])

    def missing_models(self, timeout=20):
        """The missing models the frontend lists after a load, as a user gets to them: 1.27 opens its dialog by
        itself; 1.58 shows an "issues found" notice whose "View details" opens the Issues tab."""
        if self.server.frontend.newer:
            self.page.wait_for("__iid.issuesNotice()", timeout=timeout, what="the frontend's issues notice")
            self.clear_toasts()  # 1.49 shows toasts over the notice's "View details"
            self.click_centre("[data-testid=error-overlay-see-errors]")
        return self.page.wait_for("__iid.missingModels()", timeout=timeout, what="the missing models list")

    def issues_listed(self) -> str:
        """1.58: the text of its Issues tab as a user opens it ("View details" on the notice), "" when it
        reports no issue."""
        self.page.pump(1.0)
        if not self.call("issuesPanel"):
            if not self.call("issuesNotice"):
                return ""
            self.clear_toasts()  # 1.49 shows toasts over the notice's "View details"
            self.click_centre("[data-testid=error-overlay-see-errors]")
            self.page.wait_for("__iid.issuesPanel()", timeout=10, what="the Issues tab")
        self.page.pump(0.5)
        return self.call("issuesPanel")

    def close_missing_models(self):
        """Close the 1.27 dialog / the 1.58 side panel, so the next load's list is not the last one's."""
        self.call("closeDialogs")
        self.call("closeSidePanel")
        self.page.wait_for("!__iid.missingModels()", timeout=10, what="the missing models list to close")

    def clear_toasts(self):
        """Dismiss every toast (1.27: toast.removeAll, 1.58: toast.dismissAll)."""
        self.page.js("(() => { const t = window.comfyAPI.app.app.extensionManager.toast;"
                     " (t.dismissAll ?? t.removeAll).call(t); return true; })()")
        self.page.pump(0.3)


@pytest.fixture(scope="module")
def chromium():
    browser = Chromium(CHROMIUM)
    browser.start()
    yield browser
    browser.stop()
