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
                  "Failed to verify missing models", "[Missing Model Pipeline]")
OUR_FILES = "/extensions/comfyui-instantid/"


def console_problems(page, benign, since=(0, 0)):
    """Console errors/warnings and uncaught exceptions since a mark, except ``benign`` texts and the newer
    frontend's own noise."""
    def noise(m):
        return any(b in m[1] for b in benign) or (
            OUR_FILES not in m[1] + m[2] and any(n in m[1] for n in FRONTEND_NOISE))
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
