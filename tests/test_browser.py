"""The pack in a real ComfyUI server, seen through a real browser (headless Chromium over the DevTools protocol).

Starts `python main.py --cpu` with a throw-away --base-directory (this repo symlinked into its custom_nodes, tiny
models written there by a test-only custom node, see browser_support/), opens the UI and checks: the extension
loads with no page errors, the nodes are registered and found by the node search, every workflow in example_workflows/
loads cleanly, and after a real run of the full chain the Face Detect node shows the numbered face boxes and the
Precision / Projection nodes show their reports — through widget values, the DOM and screenshot pixels.

Every test runs on the frontend the ComfyUI under test pins (1.49.6 for 0.33.0) and on 1.58.1, each with classic
nodes and with "Nodes 2.0" (Vue nodes), one server and page per frontend (browser_support/frontends.py). The last
test reads every console warning and error of the module's page: none may come from the pack's own files. Skipped unless ComfyUI (COMFYUI_PATH) and Chromium
are available. Screenshots are saved in the pytest temp dir,
and copied to $INSTANTID_SCREENSHOT_DIR when it is set."""
from __future__ import annotations

import copy
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from browser_support import (ADAPTER, CHECKPOINT, CHROMIUM, COMFY, CONTROLNET, FACE_FILE, Chromium, ComfyServer,
                             colour_count, crop, load_png, near, needs_browser, open_app)
from browser_support.frontends import WITH_VUE_NODES, frontend_fixture
from browser_support.session import console_problems

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((REPO / "example_workflows").glob("*.json"))
pytestmark = needs_browser

OUR_NODES = {
    "InstantIDPrecision_FaceAnalysisLoader": "InstantID Face Analysis (insightface)",
    "InstantIDPrecision_FaceDetect": "InstantID Face Detect",
    "InstantIDPrecision_FaceKeypoints": "InstantID Face Keypoints",
    "InstantIDPrecision_ManualKeypoints": "InstantID Keypoints (manual)",
    "InstantIDPrecision_ModelLoader": "InstantID Model Loader",
    "InstantIDPrecision_PrecisionOffload": "InstantID Precision / Offload",
    "InstantIDPrecision_ImageProjection": "InstantID Image Projection",
    "InstantIDPrecision_ApplyAttention": "Apply InstantID Attention",
    "InstantIDPrecision_ApplyIdentityNet": "Apply IdentityNet",
    "InstantIDPrecision_Apply": "Apply InstantID + IdentityNet",
    "InstantIDPrecision_ApplyAllInOne": "Apply InstantID (all-in-one)",
    "InstantIDPrecision_ModelDoctor": "InstantID Model Doctor",
    "InstantIDPrecision_FaceCrop": "InstantID Face Crop",
    "InstantIDPrecision_FaceStitch": "InstantID Face Stitch",
    "InstantIDPrecision_IdentityScore": "InstantID Identity Score",
    "InstantIDPrecision_SaveIdentity": "InstantID Save Identity",
    "InstantIDPrecision_LoadIdentity": "InstantID Load Identity",
    "InstantIDPrecision_MultiPerson": "InstantID Multi-Person",
    "InstantIDPrecision_GroupFaceCrop": "InstantID Group Face Crop",
    "InstantIDPrecision_GroupFaceStitch": "InstantID Group Face Stitch",
}
EXTENSION_URL = "/extensions/comfyui-instantid/instantid.js"
# the face photo of tests/comfy_env.py: (x, y, side) -> boxes by size: [96,160,224,288], [400,192,464,256]
EXPECTED_BOXES = [[96, 160, 224, 288], [400, 192, 464, 256]]
# the full chain, laid out so that nothing overlaps once the reports have widened their nodes
CHAIN = {
    "img": {"type": "LoadImage", "pos": [0, 0], "widgets": {"image": FACE_FILE}},
    "fa": {"type": "InstantIDPrecision_FaceAnalysisLoader", "pos": [0, 440], "widgets": {"provider": "CPU", "det_size": "640"}},
    "iid": {"type": "InstantIDPrecision_ModelLoader", "pos": [0, 600], "widgets": {"instantid_file": ADAPTER}},
    "ckpt": {"type": "CheckpointLoaderSimple", "pos": [0, 740], "widgets": {"ckpt_name": CHECKPOINT}},
    "cn": {"type": "ControlNetLoader", "pos": [0, 900], "widgets": {"control_net_name": CONTROLNET}},
    "lat": {"type": "EmptyLatentImage", "pos": [0, 1010], "widgets": {"width": 64, "height": 64, "batch_size": 1}},
    "det": {"type": "InstantIDPrecision_FaceDetect", "pos": [360, 0], "widgets": {"selection": "largest", "face_index": 0},
            "inputs": {"face_analysis": ["fa", 0], "image": ["img", 0]}},
    "prec": {"type": "InstantIDPrecision_PrecisionOffload", "pos": [360, 520], "widgets": {"mode": "auto"},
             "inputs": {"instantid": ["iid", 0]}},
    "pos": {"type": "CLIPTextEncode", "pos": [360, 780], "widgets": {"text": "a photo of a person"},
            "inputs": {"clip": ["ckpt", 1]}},
    "neg": {"type": "CLIPTextEncode", "pos": [360, 1040], "widgets": {"text": "blurry"}, "inputs": {"clip": ["ckpt", 1]}},
    "proj": {"type": "InstantIDPrecision_ImageProjection", "pos": [940, 0], "widgets": {"combine": "average", "seed": 0,
                                                                                "control_after_generate": "fixed"},
             "inputs": {"instantid": ["prec", 0], "faces": ["det", 0]}},
    "apply": {"type": "InstantIDPrecision_Apply", "pos": [940, 380],
              "inputs": {"model": ["ckpt", 0], "positive": ["pos", 0], "negative": ["neg", 0],
                         "control_net": ["cn", 0], "identity": ["proj", 0], "latent": ["lat", 0]}},
    "ks": {"type": "KSampler", "pos": [1290, 380],
           "widgets": {"seed": 1, "control_after_generate": "fixed", "steps": 2, "cfg": 4.0},
           "inputs": {"model": ["apply", 0], "positive": ["apply", 1], "negative": ["apply", 2],
                      "latent_image": ["lat", 0]}},
    "dec": {"type": "VAEDecode", "pos": [1640, 380], "inputs": {"samples": ["ks", 0], "vae": ["ckpt", 2]}},
    "prev": {"type": "PreviewImage", "pos": [1640, 500], "inputs": {"images": ["dec", 0]}},
}


class UI:
    def __init__(self, server, browser, page, shots: Path):
        self.server, self.browser, self.page, self.shots = server, browser, page, shots
        self.object_info = server.get_json("/object_info")

    def js(self, expr, timeout=30):
        return self.page.js(expr, timeout=timeout)

    def call(self, fn, *args, timeout=30):
        return self.page.js(f"__iid.{fn}({', '.join(json.dumps(a) for a in args)})", timeout=timeout)

    def shot(self, name: str) -> Path:
        self.page.pump(0.3)  # let the canvas and the DOM widgets settle
        path = self.page.screenshot(self.shots / name)
        target = os.environ.get("INSTANTID_SCREENSHOT_DIR")
        if target:
            Path(target).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(target) / name)
        return path

    def click(self, x: float, y: float):
        """A real mouse click at page coordinates."""
        self.page.send("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
        for kind in ("mousePressed", "mouseReleased"):
            self.page.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)
        self.page.pump(0.3)

    def run(self, timeout=120):
        assert self.call("queue") is True
        result = self.page.wait_for("__iid.finished()", timeout=timeout, what="the prompt to finish")
        assert result["type"] == "execution_success", (result, self.server.log_tail())
        self.page.pump(0.5)  # the "executed" messages of the last nodes
        return self.call("executedIds")

    def problems(self, since: int = 0, since_exc: int = 0):
        """Console errors/warnings and uncaught exceptions since the given indices, except failed resource
        loads (the frontend probes optional files such as user.css, and remote services the test box cannot
        reach) and known frontend noise that is not about this pack."""
        return console_problems(self.page, ("Failed to load resource", "apple-mobile-web-app-capable"),
                                (since, since_exc))


# classic nodes and Nodes 2.0 on both frontends: the Face Detect picture is a DOM widget with a canvas of its own
frontend = frontend_fixture(WITH_VUE_NODES)


@pytest.fixture(scope="module")
def ui(tmp_path_factory, frontend):
    tmp = tmp_path_factory.mktemp(f"browser_{frontend.id}")
    t0 = time.perf_counter()
    server = ComfyServer(COMFY, tmp, frontend=frontend)
    server.start()
    browser = Chromium(CHROMIUM)
    try:
        browser.start()
        page = open_app(browser, server)
        print(f"\n[browser test] server + browser + UI ready in {time.perf_counter() - t0:.1f} s; "
              f"screenshots in {tmp / 'screens'}")
        yield UI(server, browser, page, tmp / "screens")
    finally:
        browser.stop()
        server.stop()


def _check_inputs_against_defs(ui, prompt):
    """Every InstantID node of an API prompt: required inputs present, combo values among the choices (model
    files excepted), numbers inside min/max; no unknown inputs."""
    errors = []
    for nid, node in prompt.items():
        if node["class_type"] not in OUR_NODES:
            continue
        spec = ui.object_info[node["class_type"]]["input"]
        known = {**spec.get("required", {}), **spec.get("optional", {})}
        for name in spec.get("required", {}):
            if name not in node["inputs"]:
                errors.append(f"{nid} {node['class_type']}: required input {name} missing")
        for name, value in node["inputs"].items():
            if name not in known:
                errors.append(f"{nid} {node['class_type']}: unknown input {name}={value!r}")
                continue
            kind, opts = known[name][0], (known[name][1] if len(known[name]) > 1 else {})
            if isinstance(value, list) and len(value) == 2 and isinstance(value[1], int):
                continue  # a link
            if isinstance(kind, list) and value not in kind and not str(value).endswith((".bin", ".safetensors")):
                errors.append(f"{nid} {node['class_type']}: {name}={value!r} not in {kind}")
            if kind in ("INT", "FLOAT") and not (opts.get("min", -1e300) <= value <= opts.get("max", 1e300)):
                errors.append(f"{nid} {node['class_type']}: {name}={value!r} outside [{opts.get('min')}, {opts.get('max')}]")
    return errors


# ------------------------------------------------------------------------------------------------------------

def test_extension_loads_without_page_errors(ui):
    served = [(u, s) for u, s in ui.page.responses if EXTENSION_URL in u]
    assert served and all(s == 200 for _, s in served), (served, ui.page.failed)
    status, body = ui.server.get_bytes(EXTENSION_URL)
    assert status == 200 and b"registerExtension" in body
    names = ui.js("window.comfyAPI.app.app.extensions.map((e) => e.name)")
    assert "comfyui-instantid.ui" in names
    assert ui.js("window.InstantIDUI && window.InstantIDUI.BOX_COLOURS.length") >= 2
    ours = [m for m in ui.page.console if "comfyui-instantid" in m[2] and m[0] in ("error", "warning")]
    assert not ours, ours
    assert not ui.problems(), ui.problems()
    assert not [f for f in ui.page.failed if "127.0.0.1" in f[0] and "/extensions/" in f[0]], ui.page.failed


def test_nodes_registered_and_found_by_search(ui):
    registered = ui.js("Object.fromEntries(Object.entries(LiteGraph.registered_node_types)"
                       ".filter(([k]) => k.startsWith('InstantID'))"
                       ".map(([k, v]) => [k, [v.nodeData?.display_name, v.nodeData?.category, v.title]]))")
    assert set(registered) == set(OUR_NODES)
    for name, display in OUR_NODES.items():
        assert registered[name][0] == display and registered[name][1] == "InstantID", registered[name]
        assert ui.object_info[name]["python_module"] == "custom_nodes.comfyui-instantid"
    # the node search box: double-click the empty canvas, type, read the results, add one with Enter
    assert ui.call("blank") == 0
    ui.page.pump(0.3)
    for n in (1, 2):
        for kind in ("mousePressed", "mouseReleased"):
            ui.page.send("Input.dispatchMouseEvent", type=kind, x=900, y=520, button="left", clickCount=n)
    # 1.27: "Search Nodes..." in a PrimeVue dialog; 1.58: "Add a node..." in its search dialog; typing goes to it
    ui.page.wait_for("/^(Search Nodes|Add a node)/.test(document.activeElement?.placeholder ?? '')", timeout=10,
                     what="the node search box, focused")
    ui.page.send("Input.insertText", text="InstantID")
    options = ui.page.wait_for(
        "(() => { const o = [...document.querySelectorAll('[role=option]')].map((e) => e.innerText.replace(/\\s+/g, ' '));"
        " return o.filter((t) => t.includes('InstantID')).length >= 10 ? o : null; })()",
        timeout=10, what="10 InstantID search results")
    for display in OUR_NODES.values():
        assert any(display in o for o in options), (display, options)
    ui.page.send("Input.insertText", text=" Face Detect")
    ui.page.pump(0.8)
    ui.page.send("Input.dispatchKeyEvent", type="keyDown", key="Enter", code="Enter", windowsVirtualKeyCode=13)
    ui.page.send("Input.dispatchKeyEvent", type="keyUp", key="Enter", code="Enter", windowsVirtualKeyCode=13)
    ui.page.wait_for("__iid.nodesOfType('InstantIDPrecision_FaceDetect').length === 1", timeout=10,
                     what="the searched node to be added")
    assert not ui.problems(), ui.problems()


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=[w.name for w in WORKFLOWS])
def test_workflow_loads_cleanly(ui, workflow):
    data = json.loads(workflow.read_text())
    n_console, n_exc = len(ui.page.console), len(ui.page.exceptions)
    ui.call("closeDialogs")
    count = ui.call("load", data, timeout=60)
    ui.page.pump(0.5)
    assert count == len(data["nodes"])
    audit = {str(n["id"]): n for n in ui.call("audit")}
    unknown = [n["type"] for n in audit.values() if not n["registered"]]
    assert not unknown, f"{workflow.name}: node types not registered: {unknown}"
    assert not ui.call("visibleDialogs"), f"{workflow.name}: dialog shown: {ui.call('visibleDialogs')}"
    assert not ui.call("toasts"), f"{workflow.name}: toasts: {ui.call('toasts')}"
    bad = {k: n["badCombos"] for k, n in audit.items() if n["badCombos"]}
    assert not bad, f"{workflow.name}: widget values not among the options: {bad}"
    for node in data["nodes"]:  # the widgets are the ones the file was written for: values round-trip exactly
        if "widgets_values" in node and node["type"] in OUR_NODES:
            assert audit[str(node["id"])]["widgets_values"] == node["widgets_values"], (workflow.name, node["type"])
    assert not ui.problems(n_console, n_exc), ui.problems(n_console, n_exc)
    prompt = ui.call("apiPrompt", timeout=60)
    assert not _check_inputs_against_defs(ui, prompt), _check_inputs_against_defs(ui, prompt)


@pytest.fixture(scope="module")
def ran(ui):
    """The full chain, built in the page and queued from the page (the frontend converts it), run once."""
    ids = ui.call("build", CHAIN)
    ui.page.wait_for(f"__iid.nodeById({ids['img']}).imgs?.[0]?.naturalWidth === 640",
                     timeout=20, what="LoadImage's preview of the face photo")
    t = time.perf_counter()
    executed = ui.run()
    print(f"\n[browser test] full chain ran in {time.perf_counter() - t:.1f} s")
    return ids, executed


def _faces_widget(info):
    return [w for w in info["widgets"] if w["name"] == "instantid_faces"]


def _report_widget(info):
    return [w for w in info["widgets"] if w["name"] == "instantid_report"]


def test_face_detect_shows_numbered_boxes(ui, ran):
    ids, executed = ran
    assert str(ids["det"]) in executed and str(ids["prec"]) in executed and str(ids["proj"]) in executed
    det = ui.call("nodeInfo", ids["det"])
    faces = _faces_widget(det)
    assert len(faces) == 1
    images = faces[0]["value"]["images"]
    assert [(im["width"], im["height"]) for im in images] == [(640, 640)]
    assert [[round(v) for v in b] for b in images[0]["boxes"]] == EXPECTED_BOXES
    # display only: not saved in widgets_values, not sent with the prompt
    assert faces[0]["serialize"] is False and faces[0]["promptSerialize"] is False
    # pixels: zoom onto Load Image + Face Detect, screenshot, look at every box the widget drew
    ui.call("focus", [ids["img"], ids["det"]], 1.25)
    boxes = ui.call("faceBoxes", ids["det"], "instantid_faces")
    assert [b["index"] for b in boxes] == [0, 1]
    img = load_png(ui.shot("01_face_detect_overlay.png"))
    colours = ui.js("window.InstantIDUI.BOX_COLOURS")
    big, small = boxes
    assert big["width"] == pytest.approx(2 * small["width"], rel=0.05)  # 128 px vs 64 px faces
    for box in boxes:
        colour = colours[box["index"]]
        x, y, w, h = box["x"], box["y"], box["width"], box["height"]
        # along the bottom and the right edge there is a line (a row / a column) in the box colour
        bottom = near(crop(img, {"x": x + 0.3 * w, "y": y + h - 5, "width": 0.4 * w, "height": 10}), colour, 48)
        right = near(crop(img, {"x": x + w - 5, "y": y + 0.3 * h, "width": 10, "height": 0.4 * h}), colour, 48)
        assert bottom.mean(axis=1).max() > 0.9 and right.mean(axis=0).max() > 0.9, (box, colour)
        label = crop(img, {"x": x + 1, "y": y - 15, "width": 8, "height": 12})  # the index tag above the box
        assert near(label, colour).mean() > 0.3, (box, "index label")
        inside = crop(img, {"x": x + 0.25 * w, "y": y + 0.25 * h, "width": 0.5 * w, "height": 0.5 * h})
        assert colour_count(inside, colour) == 0
        assert inside.mean() > 120  # the photo's bright face texture is drawn under the box
    # the chosen face (selection 'largest' = index 0) is drawn thicker than the other one
    thick = lambda b: int(near(crop(img, {"x": b["x"] - 4, "y": b["y"] + 0.5 * b["height"], "width": 10,  # noqa: E731
                                          "height": 1}), colours[b["index"]]).sum())
    assert thick(big) > thick(small)
    assert not ui.problems(), ui.problems()


def test_precision_and_projection_show_reports(ui, ran):
    ids, _ = ran
    for key, must in (("prec", "InstantID precision policy: auto"), ("proj", "identity K/V")):
        info = ui.call("nodeInfo", ids[key])
        rep = _report_widget(info)
        assert len(rep) == 1 and must in rep[0]["value"], rep
        assert "projection" in rep[0]["value"] and "identity attn" in rep[0]["value"]
        assert rep[0]["serialize"] is False and rep[0]["promptSerialize"] is False
        els = ui.call("reportElements", ids[key])
        assert len(els) == 1 and els[0]["readOnly"] and els[0]["value"] == rep[0]["value"], els
    ui.call("focus", [ids["prec"], ids["proj"], ids["det"]], 1.0)
    ui.page.pump(0.3)
    img = load_png(ui.shot("02_precision_and_projection_reports.png"))
    for key in ("prec", "proj"):
        el = ui.call("reportElements", ids[key])[0]
        assert el["visible"] and el["width"] > 300 and el["height"] > 50, el
        box = crop(img, {"x": el["x"] + 4, "y": el["y"] + 4, "width": el["width"] - 8, "height": el["height"] - 8})
        luma = box.astype(float).mean(axis=-1)
        assert (luma > 150).sum() > 300, "no text drawn in the report box"  # light glyphs...
        assert 0.005 < (luma > 150).mean() < 0.5 and float(sorted(luma.ravel())[luma.size // 2]) < 90  # ...on dark
    assert not ui.problems(), ui.problems()


def test_cached_run_still_shows_overlays(ui, ran):
    """The same chain in a new workflow: the server serves Face Detect and the projection from its cache. ComfyUI
    0.33 sends their cached results at the end of the run (the nodes declare HAS_INTERMEDIATE_OUTPUT); 0.3.64 sends
    them no "executed" message (they are not output nodes) and the extension reads their results back from the
    prompt's history. Either way the overlays come back."""
    ids, _ = ran
    assert ui.call("build", CHAIN) == ids
    assert not _faces_widget(ui.call("nodeInfo", ids["det"]))
    ui.run()
    ui.page.wait_for(f"__iid.nodeInfo({ids['det']}).widgets.length === 4 && "
                     f"__iid.reportElements({ids['proj']}).length === 1", timeout=10,
                     what="the overlays of the cached nodes")
    faces = _faces_widget(ui.call("nodeInfo", ids["det"]))
    assert [[round(v) for v in b] for b in faces[0]["value"]["images"][0]["boxes"]] == EXPECTED_BOXES
    assert "identity K/V" in ui.call("reportElements", ids["proj"])[0]["value"]
    ui.page.wait_for(f"__iid.nodeById({ids['img']}).imgs?.[0]?.naturalWidth === 640",
                     timeout=20, what="LoadImage's preview of the face photo")
    assert not ui.problems(), ui.problems()


def test_click_picks_face_and_rerun_replaces_overlay(ui, ran):
    ids, _ = ran
    ui.call("focus", [ids["img"], ids["det"]], 1.25)
    small = ui.call("faceBoxes", ids["det"], "instantid_faces")[1]
    cx, cy = small["x"] + small["width"] / 2, small["y"] + small["height"] / 2
    # first a click on the empty canvas left of the nodes (1.58 drops the first click after its node search
    # dialog has been used, whatever it lands on), then one on face 1's box
    empty = ui.call("screenRect", ids["img"])
    ui.click(empty["x"] - 40, empty["y"] + 40)
    ui.click(cx, cy)
    values = {w["name"]: w["value"] for w in ui.call("nodeInfo", ids["det"])["widgets"]}
    assert values["face_index"] == 1 and values["selection"] == "index_by_size", values
    executed = ui.run()
    assert str(ids["det"]) in executed
    det = ui.call("nodeInfo", ids["det"])
    assert len(_faces_widget(det)) == 1 and len(det["widgets"]) == 4  # 3 inputs + the overlay, not accumulated
    for key in ("prec", "proj"):
        info = ui.call("nodeInfo", ids[key])
        assert len(_report_widget(info)) == 1
        assert len(ui.call("reportElements", ids[key])) == 1
    boxes = ui.call("faceBoxes", ids["det"], "instantid_faces")
    img = load_png(ui.shot("03_after_click_pick_and_rerun.png"))
    colours = ui.js("window.InstantIDUI.BOX_COLOURS")
    thick = {b["index"]: int(near(crop(img, {"x": b["x"] - 4, "y": b["y"] + 0.5 * b["height"], "width": 10,
                                              "height": 1}), colours[b["index"]]).sum()) for b in boxes}
    assert thick[1] > thick[0], thick  # now face 1 is the chosen one
    prompt = ui.call("apiPrompt")
    assert prompt[str(ids["det"])]["inputs"]["face_index"] == 1
    assert not ui.problems(), ui.problems()


def test_overlays_come_back_after_reload(ui, ran):
    ids, _ = ran
    before = {k: ui.call("nodeInfo", ids[k]) for k in ("det", "prec", "proj")}
    wf = ui.call("serialize")
    nodes = {str(n["id"]): n for n in wf["nodes"]}
    det, prec = nodes[str(ids["det"])], nodes[str(ids["prec"])]
    assert det["widgets_values"] == ["index_by_size", 1, "error"]  # no display widget in widgets_values
    assert prec["widgets_values"] == ["auto", "fp16"]
    assert det["instantid_ui"]["faces"][0]["boxes"] == before["det"]["widgets"][3]["value"]["images"][0]["boxes"]
    # reload without the stored results: plain nodes, and no report box left over in the DOM
    plain = copy.deepcopy(wf)
    for n in plain["nodes"]:
        n.pop("instantid_ui", None)
        n.get("extensions", {}).pop("instantid_ui", None)  # 1.58 also keeps extra node keys under "extensions"
    n_console, n_exc = len(ui.page.console), len(ui.page.exceptions)
    ui.call("load", plain)
    ui.page.pump(0.3)
    assert not _faces_widget(ui.call("nodeInfo", ids["det"]))
    assert not ui.js("document.querySelectorAll('textarea.instantid-report').length")
    # reload the saved workflow: the overlays are restored from it
    ui.call("load", wf)
    ui.page.pump(0.5)
    for key in ("det", "prec", "proj"):
        after = ui.call("nodeInfo", ids[key])
        assert [w["name"] for w in after["widgets"]] == [w["name"] for w in before[key]["widgets"]]
        assert [w["value"] for w in after["widgets"]] == [w["value"] for w in before[key]["widgets"]]
    for key in ("prec", "proj"):
        els = ui.call("reportElements", ids[key])
        assert len(els) == 1 and "InstantID precision policy" in els[0]["value"]
    assert not ui.call("visibleDialogs") and not ui.call("toasts")
    prompt = ui.call("apiPrompt")
    assert set(prompt[str(ids["det"])]["inputs"]) == {"face_analysis", "image", "selection", "face_index", "on_no_face"}
    assert set(prompt[str(ids["prec"])]["inputs"]) == {"instantid", "mode", "half_type"}
    ui.call("focus", list(ids.values()))
    img = load_png(ui.shot("04_full_graph_after_reload.png"))
    colours = ui.js("window.InstantIDUI.BOX_COLOURS")
    det_rect = ui.call("screenRect", ids["det"])
    assert colour_count(crop(img, det_rect), colours[0]) > 20 and colour_count(crop(img, det_rect), colours[1]) > 20
    assert not ui.problems(n_console, n_exc), ui.problems(n_console, n_exc)


def test_no_console_warning_or_error_from_the_packs_files(ui):
    """Whatever the module did on this page (load, every workflow, runs, clicks, reloads): no warning or error
    whose call stack passes through the pack's files (a deprecated frontend API used by the pack warns from the
    frontend's code, with the pack's frame further down), and no uncaught exception thrown from them."""
    ours = "/extensions/comfyui-instantid/"
    warned = [m[:3] for m in ui.page.console if m[0] in ("error", "warning", "assert") and
              any(ours in url for url in (m[2], *(m[3] if len(m) > 3 else ())))]
    thrown = [e for e in ui.page.exceptions if ours in e[1] or ours in e[0]]
    assert len(ui.page.console) > 0  # the page's console was recorded at all
    assert not warned and not thrown, (warned, thrown)
