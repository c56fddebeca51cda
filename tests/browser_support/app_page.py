"""Open ComfyUI's frontend in a Chromium page and make it ready for a test: the app has registered the nodes and
every extension (this pack's included) and has a graph, and the in-page node driver (driver.js, as ``__iid``) is
installed. What the graph holds on a first start differs: 1.58 loads its default graph, 1.49 opens the template
browser over an empty graph; the wait is for the extensions, never for a default graph."""
from __future__ import annotations

from pathlib import Path

import pytest

from instantid_testkit import comfy_support as cs
from .cdp import find_chromium

DRIVER = Path(__file__).resolve().parent / "driver.js"
APP_READY = ("window.LiteGraph && window.comfyAPI?.app?.app?.canvas && window.comfyAPI.app.app.graph && "
             "window.comfyAPI.app.app.extensionManager && window.comfyAPI.app.app.vueAppReady !== false && "
             "(window.comfyAPI.app.app.extensions ?? []).some((e) => e.name === 'comfyui-instantid.ui') && "
             "'InstantIDPrecision_FaceDetect' in window.LiteGraph.registered_node_types")


def open_app(chromium, server, also_ready: str = ""):
    """A new page on ``server``'s UI, waited for until the app (and ``also_ready``, a JS condition) is ready."""
    page = chromium.new_page()
    page.send("Page.navigate", url=server.url)
    page.wait_for(f"!!({APP_READY}{' && ' + also_ready if also_ready else ''})", timeout=90, what="the ComfyUI app")
    page.pump(1.0)
    page.js(DRIVER.read_text())
    return page


COMFY = cs.comfy_path()
CHROMIUM = find_chromium()
# every browser test module: `pytestmark = needs_browser`
needs_browser = pytest.mark.skipif(
    COMFY is None or CHROMIUM is None,
    reason="browser test: needs ComfyUI and Chromium. Enable with `apt-get install chromium` (or CHROMIUM=/path/to/"
           "chrome) and `COMFYUI_PATH=/path/to/ComfyUI bash scripts/test.sh` (ComfyUI's requirements, including "
           f"comfyui-frontend-package, in the test venv). Now: ComfyUI {'found' if COMFY else 'not found'}, Chromium "
           f"{'found' if CHROMIUM else 'not found'}.")
