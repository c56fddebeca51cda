"""Regenerate the template-browser thumbnails example_workflows/<name>.jpg: each shipped workflow loaded in the
real ComfyUI frontend (headless Chromium, a throw-away ComfyUI server with the test suite's tiny models and its
synthetic face photo in every LoadImage) and photographed as the canvas shows it.

    COMFYUI_PATH=/path/to/ComfyUI python scripts/make_thumbnails.py [--front-end-root DIR] [workflow name ...]

The frontends (1.27.10 and 1.58.1) ask for a custom node pack's template thumbnail at
/api/workflow_templates/<pack folder>/<workflow name>.jpg, and ComfyUI serves example_workflows/ there, so the
picture sits next to its workflow under the same name. Each file is kept under MAX_BYTES.
"""
from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
import _bootstrap  # noqa: E402,F401  (the pack, and the browser-test helpers: tests/browser_support)

from browser_support import CHROMIUM, COMFY, FACE_FILE, WORKFLOW_IMAGES, Chromium, ComfyServer, open_app  # noqa: E402

WORKFLOWS = ROOT / "example_workflows"
VIEWPORT = (2400, 1500)  # large enough that the whole graph is drawn at a zoom where titles and widgets show
WIDTH = 768               # thumbnail width in pixels
MAX_BYTES = 100_000
PAD = 16                  # CSS px around the nodes


def photograph(page, workflow: dict, out: Path) -> None:
    """Load ``workflow`` into the page, fit its nodes (the Note excepted: it is text) and save a screenshot."""
    page.js(f"__iid.load({json.dumps(workflow)})", timeout=60)
    page.wait_for("__iid.imagesReady(['LoadImage'])", timeout=30, what="the LoadImage previews")
    ids = [n["id"] for n in workflow["nodes"] if n["type"] != "Note"]
    page.js(f"__iid.focus({json.dumps(ids)})")
    page.pump(0.5)
    page.js("window.InstantIDModels?.close()")  # the model panel (the test models have other names): not the graph
    rects = [page.js(f"__iid.screenRect({i})") for i in ids]
    x0, y0 = min(r["x"] for r in rects) - PAD, min(r["y"] for r in rects) - PAD
    x1 = max(r["x"] + r["width"] for r in rects) + PAD
    y1 = max(r["y"] + r["height"] for r in rects) + PAD
    x0, y0 = max(0, x0), max(0, y0)
    clip = {"x": x0, "y": y0, "width": min(VIEWPORT[0], x1) - x0, "height": min(VIEWPORT[1], y1) - y0}
    shot = page.screenshot(out.with_suffix(".png"), clip=clip)
    save_small_jpeg(shot, out)
    shot.unlink()


def save_small_jpeg(png: Path, out: Path) -> None:
    from PIL import Image

    with Image.open(png) as im:
        im = im.convert("RGB")
        im = im.resize((WIDTH, round(im.height * WIDTH / im.width)), Image.LANCZOS)
    for quality in (85, 75, 65, 55, 45):
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=quality, optimize=True, progressive=True)
        if buf.tell() < MAX_BYTES:
            break
    else:
        raise SystemExit(f"{out.name}: {buf.tell()} bytes even at quality {quality}")
    out.write_bytes(buf.getvalue())
    print(f"wrote {out.relative_to(ROOT)} ({im.width}x{im.height}, {buf.tell() // 1000} kB, quality {quality})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--front-end-root", help="serve this ComfyUI frontend build instead of the installed one")
    parser.add_argument("names", nargs="*", help="workflow names to photograph (default: all)")
    args = parser.parse_args()
    if COMFY is None or CHROMIUM is None:
        sys.exit("needs COMFYUI_PATH (a ComfyUI checkout) and Chromium (or CHROMIUM=/path/to/chrome)")
    tmp = Path(tempfile.mkdtemp(prefix="iid-thumbnails-"))
    server = ComfyServer(COMFY, tmp)
    if args.front_end_root:
        server.extra_args = ["--front-end-root", args.front_end_root]
    chromium = Chromium(CHROMIUM, *VIEWPORT)
    try:
        server.start()
        for name in WORKFLOW_IMAGES:
            shutil.copyfile(server.base / "input" / FACE_FILE, server.base / "input" / name)
        chromium.start()
        page = open_app(chromium, server)
        # draw titles and widgets at any zoom (the frontend's low-detail rendering starts below ~60 %)
        page.js("window.comfyAPI.app.app.extensionManager.setting.set('LiteGraph.Canvas.MinFontSizeForLOD', 0)")
        page.js("(window.comfyAPI.app.app.extensionManager.focusMode = true)")  # no menus over the canvas
        for path in sorted(WORKFLOWS.glob("*.json")):
            if args.names and path.stem not in args.names:
                continue
            photograph(page, json.loads(path.read_text()), path.with_suffix(".jpg"))
        page.close()
    finally:
        chromium.stop()
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
