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
        return [m for m in self.page.console[since[0]:] if m[0] in ("error", "warning", "assert")
                and not any(b in m[1] for b in self.benign)] + [("exception", *e) for e in self.page.exceptions[since[1]:]]


@pytest.fixture(scope="module")
def chromium():
    browser = Chromium(CHROMIUM)
    browser.start()
    yield browser
    browser.stop()
