"""Helpers for tests/test_browser.py: a real ComfyUI server in a temp base directory (comfy_server), headless
Chromium over the DevTools protocol with a stdlib websocket (cdp), a small in-page node driver (driver.js) and
screenshot pixel checks (pixels); the frontends each test runs on, the newer one fetched at test time (frontends).
Nothing here imports ComfyUI or torch in the test process."""
from .app_page import CHROMIUM, COMFY, needs_browser, open_app
from .cdp import Chromium, JSError, Page, find_chromium
from .comfy_server import ComfyServer
from .fixture_node import ADAPTER, CHECKPOINT, CONTROLNET, FACE_FILE, WORKFLOW_IMAGES
from .pixels import colour_count, crop, hex_rgb, load_png, near

__all__ = ["CHROMIUM", "COMFY", "needs_browser", "open_app", "Chromium", "Page", "JSError", "find_chromium", "ComfyServer", "ADAPTER", "CHECKPOINT", "CONTROLNET",
           "FACE_FILE", "WORKFLOW_IMAGES", "colour_count", "crop", "hex_rgb", "load_png", "near"]
