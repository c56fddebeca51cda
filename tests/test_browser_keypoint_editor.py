"""The keypoint editor of the manual keypoints node (web/keypoint_editor.js) in a real ComfyUI server and the real
frontend, through headless Chromium, on both frontends with classic nodes and with Nodes 2.0: its pure geometry
module (web/keypoint_geometry.js) computes what the node computes; real mouse drags move a point, turn and scale
the face; a run draws the keypoint image where the editor showed the points (read back through /history and
/view); the edit survives serialising and loading the workflow. Screenshots are saved in the pytest temp dir (and
$INSTANTID_SCREENSHOT_DIR).

Skipped unless ComfyUI (COMFYUI_PATH) and Chromium are available."""
from __future__ import annotations

import io
import json
import os
import shutil
import time
import urllib.parse
from pathlib import Path

import numpy as np
import pytest

from browser_support import (COMFY, FACE_FILE, ComfyServer, colour_count, crop, load_png, needs_browser,
                             open_app)
from browser_support.frontends import WITH_VUE_NODES, frontend_fixture
from browser_support.session import Session, chromium  # noqa: F401  (chromium: the module's browser fixture)
from instantid_core.compute.keypoints import COLORS, keypoint_image
from instantid_core.faces.manual_keypoints import PRESET_POSES, parse_points, preset_points, transform_points

pytestmark = needs_browser
NODE = "InstantIDPrecision_ManualKeypoints"
W, H = 320, 240
GRAPH = {"kps": {"type": NODE, "pos": [100, 100], "widgets": {"width": W, "height": H}},
         "show": {"type": "PreviewImage", "pos": [560, 100], "inputs": {"images": ["kps", 0]}}}
# the same, with a detected face on the optional 'faces' input
WITH_FACES = {**GRAPH,
              "img": {"type": "LoadImage", "pos": [-800, 100], "widgets": {"image": FACE_FILE}},
              "fa": {"type": "InstantIDPrecision_FaceAnalysisLoader", "pos": [-800, 500],
                     "widgets": {"provider": "CPU", "det_size": "640"}},
              "det": {"type": "InstantIDPrecision_FaceDetect", "pos": [-400, 100],
                      "inputs": {"face_analysis": ["fa", 0], "image": ["img", 0]}},
              "kps": {**GRAPH["kps"], "inputs": {"faces": ["det", 0]}}}
SHIFT, ALT = 8, 1  # CDP modifier bits


frontend = frontend_fixture(WITH_VUE_NODES)  # classic nodes and Nodes 2.0, on both frontends


@pytest.fixture(scope="module")
def ui(tmp_path_factory, chromium, frontend):  # noqa: F811
    tmp = tmp_path_factory.mktemp("keypoint_editor")
    server = ComfyServer(COMFY, tmp, frontend=frontend)
    server.start()
    page = open_app(chromium, server, also_ready="window.InstantIDKeypointEditor")
    s = Session(server, page, tmp / "screens")
    ids = s.call("build", GRAPH)
    s.page.wait_for(f"!!window.InstantIDKeypointEditor.screenPoints({ids['kps']})", timeout=20,
                    what="the editor to draw the preset")
    s.ids = ids
    yield s
    page.close()
    server.stop()


def shot(ui, name: str) -> np.ndarray:
    ui.page.pump(0.3)
    path = ui.page.screenshot(ui.shots / name)
    target = os.environ.get("INSTANTID_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / name)
    return load_png(path)


def widgets(ui) -> dict:
    return {w["name"]: w.get("value") for w in ui.call("nodeInfo", ui.ids["kps"])["widgets"]}


def screen_points(ui):
    return np.array(ui.page.js(f"window.InstantIDKeypointEditor.screenPoints({ui.ids['kps']})"))


def frame_scale(ui) -> float:
    """Page px per output pixel of the editor's frame."""
    pts = screen_points(ui)
    drawn = np.array(ui.page.js(f"window.InstantIDKeypointEditor.drawnPoints("
                                f"window.comfyAPI.app.app.graph.getNodeById({ui.ids['kps']}))"))
    return float(np.linalg.norm(pts[1] - pts[0]) / np.linalg.norm(drawn[1] - drawn[0]))


def drag(ui, start, end, modifiers=0, steps=6):
    send = ui.page.send
    send("Input.dispatchMouseEvent", type="mouseMoved", x=start[0], y=start[1], modifiers=modifiers)
    send("Input.dispatchMouseEvent", type="mousePressed", x=start[0], y=start[1], button="left", clickCount=1,
         modifiers=modifiers)
    for t in np.linspace(0, 1, steps + 1)[1:]:
        x, y = start[0] + t * (end[0] - start[0]), start[1] + t * (end[1] - start[1])
        send("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y, button="left", buttons=1, modifiers=modifiers)
    send("Input.dispatchMouseEvent", type="mouseReleased", x=end[0], y=end[1], button="left", clickCount=1,
         modifiers=modifiers)
    ui.page.pump(0.2)


def click(ui, x, y):
    for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
        ui.page.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)
    ui.page.pump(0.2)


def run_and_read(ui) -> np.ndarray:
    """Queue the graph from the page; the PreviewImage's picture, fetched through /history and /view."""
    assert ui.call("queue") is True
    done = ui.page.wait_for("__iid.finished()", timeout=60, what="the prompt to finish")
    assert done["type"] == "execution_success", (done, ui.server.log_tail())
    prompt_id = done["detail"]["prompt_id"]
    for _ in range(50):  # the prompt reaches the history just after "execution_success"
        entry = ui.server.get_json(f"/history/{prompt_id}").get(prompt_id)
        if entry:
            break
        time.sleep(0.1)
    assert entry, f"prompt {prompt_id} not in /history"
    [image] = entry["outputs"][str(ui.ids["show"])]["images"]
    status, body = ui.server.get_bytes("/view?" + urllib.parse.urlencode(
        {"filename": image["filename"], "subfolder": image["subfolder"], "type": image["type"]}))
    assert status == 200
    from PIL import Image
    ui.last_entry = entry
    return np.asarray(Image.open(io.BytesIO(body)).convert("RGB")), entry["prompt"][2][str(ui.ids["kps"])]["inputs"]


def expected_image(inputs) -> np.ndarray:
    base = (parse_points(inputs["points"]) if inputs["preset"] == "custom"
            else preset_points(inputs["preset"], inputs["width"], inputs["height"]))
    pts = transform_points(base, inputs["width"], inputs["height"], inputs["rotate"], inputs["scale"],
                           inputs["offset_x"], inputs["offset_y"])
    return (keypoint_image([(pts, (W, H))], W, H)[0].numpy() * 255).round().astype(np.uint8), pts


def disc_centre(img, colour) -> np.ndarray:
    ys, xs = np.nonzero(np.all(img == colour, axis=-1))
    return np.array([xs.mean(), ys.mean()])


def test_editor_shows_the_preset_like_the_output(ui):
    kps = ui.ids["kps"]
    values = widgets(ui)
    assert values["preset"] == "frontal" and np.allclose(json.loads(values["points"]),
                                                         preset_points("frontal", W, H), atol=1e-4)
    info = ui.call("nodeInfo", kps)
    editor = [w for w in info["widgets"] if w["name"] == "instantid_keypoint_editor"]
    assert editor and editor[0]["serialize"] is False and editor[0]["promptSerialize"] is False
    ui.call("focus", [kps], 1.5)
    img = shot(ui, "kp_01_frontal.png")
    pts = screen_points(ui)
    for (x, y), colour in zip(pts, COLORS):  # each point is a disc of its keypoint colour
        assert colour_count(crop(img, {"x": x - 3, "y": y - 3, "width": 6, "height": 6}), colour, 30) >= 25
    rect = ui.page.js(f"window.InstantIDKeypointEditor.canvasRect({kps})")
    frame = crop(img, rect)
    assert (frame.max(axis=-1) < 20).mean() > 0.5  # the black frame of the output
    assert not ui.problems(), ui.problems()


def test_drag_a_point_then_run_draws_it_there(ui):
    kps = ui.ids["kps"]
    since = ui.mark()
    ui.call("focus", [kps], 1.5)
    before = screen_points(ui)
    k = frame_scale(ui)
    target = before[0] + [-30, 24]
    drag(ui, before[0], target)
    values = widgets(ui)
    assert values["preset"] == "custom"
    after = screen_points(ui)
    assert np.allclose(after[0], target, atol=1.0) and np.allclose(after[1:], before[1:], atol=0.5)
    pts = np.array(json.loads(values["points"])) * [W, H]
    frontal = preset_points("frontal", W, H) * [W, H]
    assert np.allclose(pts[0] - frontal[0], np.array([-30, 24]) / k, atol=1.0)  # output pixels
    assert np.allclose(pts[1:], frontal[1:], atol=0.05)
    assert ui.call("workflowTabs")["modified"] is True
    shot(ui, "kp_02_after_drag.png")

    image, inputs = run_and_read(ui)
    assert inputs["preset"] == "custom" and inputs["points"] == values["points"]  # the edit went with the prompt
    want, drawn = expected_image(inputs)
    assert image.shape == (H, W, 3) and np.abs(image.astype(int) - want).max() <= 1
    red = disc_centre(image, COLORS[0])
    assert np.allclose(red, drawn[0], atol=1.0) and np.allclose(red - frontal[0], np.array([-30, 24]) / k, atol=1.5)
    assert not ui.problems(since), ui.problems(since)


def test_shift_drag_turns_and_wheel_scales_the_whole_face(ui):
    kps = ui.ids["kps"]
    since = ui.mark()
    ui.call("focus", [kps], 1.5)
    pts = screen_points(ui)
    centre = pts.mean(axis=0)
    start = centre + [60, 0]
    drag(ui, start, centre + [0, 60], modifiers=SHIFT, steps=10)  # a quarter turn, clockwise on screen
    values = widgets(ui)
    assert values["rotate"] == pytest.approx(90, abs=2) and values["preset"] == "custom"
    x, y = centre
    ui.page.send("Input.dispatchMouseEvent", type="mouseWheel", x=x, y=y, deltaX=0, deltaY=-300)
    ui.page.pump(0.3)
    values = widgets(ui)
    assert values["scale"] == pytest.approx(np.exp(0.3), abs=0.02)
    turned = screen_points(ui)
    assert np.allclose(turned.mean(axis=0), centre, atol=1.0)  # about the face's own centre
    rel, rel0 = turned - centre, pts - centre
    assert np.allclose(rel, np.stack([-rel0[:, 1], rel0[:, 0]], 1) * values["scale"], atol=3)
    # Alt-drag up makes it larger too: by e^(distance / 150 px) in the editor's own (unzoomed) pixels
    drag(ui, centre + [0, 45], centre + [0, 0], modifiers=ALT)
    assert widgets(ui)["scale"] == pytest.approx(values["scale"] * np.exp(45 / 1.5 / 150), abs=0.015)
    shot(ui, "kp_03_turned_and_scaled.png")
    image, inputs = run_and_read(ui)
    want, drawn = expected_image(inputs)
    assert inputs["rotate"] == values["rotate"] and np.abs(image.astype(int) - want).max() <= 1
    assert np.allclose(disc_centre(image, COLORS[2]), drawn[2], atol=1.0)
    assert not ui.problems(since), ui.problems(since)


def test_the_edit_survives_save_and_reload(ui):
    kps = ui.ids["kps"]
    since = ui.mark()
    before = widgets(ui)
    saved = ui.call("serialize")
    node = next(n for n in saved["nodes"] if str(n["id"]) == str(kps))  # the newer frontend: live ids are strings
    assert node["widgets_values"] == [before[n] for n in ("preset", "points", "width", "height", "rotate", "scale",
                                                          "offset_x", "offset_y")]
    ui.call("blank")
    ui.call("load", json.loads(json.dumps(saved)))
    ui.page.pump(0.5)
    assert widgets(ui) == before
    ui.call("focus", [kps], 1.5)
    prompt = ui.call("apiPrompt")[str(kps)]["inputs"]
    assert {k: prompt[k] for k in before if k != "instantid_keypoint_editor"} == \
        {k: v for k, v in before.items() if k != "instantid_keypoint_editor"}
    img = shot(ui, "kp_04_after_reload.png")
    for (x, y), colour in zip(screen_points(ui), COLORS):
        assert colour_count(crop(img, {"x": x - 3, "y": y - 3, "width": 6, "height": 6}), colour, 30) >= 25
    assert not ui.problems(since), ui.problems(since)


def test_choosing_a_preset_replaces_the_points(ui):
    kps = ui.ids["kps"]
    ui.call("setWidgets", kps, {"preset": "three-quarter left"})
    ui.page.pump(0.3)
    values = widgets(ui)
    assert np.allclose(json.loads(values["points"]), preset_points("three-quarter left", W, H), atol=1e-4)
    assert values["rotate"] != 0  # the turn/size/move of the whole face stay as they were
    image, inputs = run_and_read(ui)
    want, _ = expected_image(inputs)
    assert np.abs(image.astype(int) - want).max() <= 1
    ui.call("focus", [kps, ui.ids["show"]], 1.0)
    shot(ui, "kp_05_preset_three_quarter_left.png")


def test_use_faces_starts_from_the_detected_face_and_keeps_it_for_editing(ui):
    since = ui.mark()
    ui.ids = ui.call("build", WITH_FACES)
    kps = ui.ids["kps"]
    ui.page.wait_for(f"!!window.InstantIDKeypointEditor.screenPoints({kps})", timeout=20, what="the editor")
    ui.call("focus", [kps], 1.0)
    button = ui.page.js(f"(() => {{ const b = document.querySelector('.instantid-keypoint-editor[data-node-id=\"{kps}\"] "
                        f"button[data-action=faces]').getBoundingClientRect(); return [b.left + b.width / 2, "
                        f"b.top + b.height / 2]; }})()")
    click(ui, *button)
    values = widgets(ui)
    assert values["preset"] == "custom" and values["points"] == ""
    assert ui.page.js(f"window.InstantIDKeypointEditor.screenPoints({kps})") is None  # nothing to show yet
    image, inputs = run_and_read(ui)
    assert inputs["points"] == ""  # this run took the face from the faces input...
    [run] = ui.last_entry["outputs"][str(kps)]["instantid_keypoints"]
    assert run["source"] == "faces"
    ui.page.wait_for(f"__iid.nodeInfo({kps}).widgets.find((w) => w.name === 'points').value !== ''", timeout=10,
                     what="the detected points to reach the 'points' widget")
    values = widgets(ui)
    assert values["points"] == run["points"] and values["preset"] == "custom"  # ...and now they are the node's own
    detected = parse_points(run["points"]) * [W, H]
    want, _ = expected_image({**inputs, "points": run["points"]})  # drawn at the detected points
    assert np.abs(image.astype(int) - want).max() <= 1 and (want.max(axis=-1) > 0).sum() > 500
    shot(ui, "kp_06_started_from_faces.png")
    # editing starts from the detected points
    before = screen_points(ui)
    drag(ui, before[2], before[2] + [0, 25])
    after = np.array(json.loads(widgets(ui)["points"])) * [W, H]
    assert np.allclose(after[[0, 1, 3, 4]], detected[[0, 1, 3, 4]], atol=0.05)
    assert after[2, 1] > detected[2, 1] + 5
    assert not ui.problems(since), ui.problems(since)


GEOMETRY = """(async () => {
  const g = await import('/extensions/comfyui-instantid/keypoint_geometry.js');
  const presets = await (await fetch('/instantid_precision/keypoint_presets')).json();
  const args = %s;
  const frame = g.frameIn(300, 200, 320, 240);
  return {
    transformed: args.map((a) => g.transform(...a)),
    presets: Object.fromEntries(%s.map((name) => [name, g.presetPoints(presets, name, 320, 240)])),
    parsed: ['', 'not json', '[[0, 0]]', '[[0,0],[1,1],[0.5,0.5],[0.2,0.2],[0.3,"x"]]',
             '{"points": [[0,0],[1,1],[0.5,0.5],[0.2,0.2],[0.3,0.3]]}'].map(g.parsePoints),
    why: [g.basePoints({preset: 'custom', points: ''}, presets).why,
          g.basePoints({preset: 'custom', points: 'x'}, presets).why, g.basePoints({preset: 'frontal'}, null).why],
    quarterTurn: g.dragValues({mode: 'rotate', start: [160, 100], centre: [100, 100], rotate: 170}, [100, 160], frame),
    moved: g.dragValues({mode: 'move', start: [0, 0], ox: 0.9, oy: 0}, [frame.w * frame.k, 0], frame),
    scaled: [g.scaled(1, -100), g.scaled(1, 100), g.scaled(2, Math.log(2))],
  };
})()"""


def test_geometry_module_computes_what_the_node_computes(ui):
    """keypoint_geometry.js, imported on its own (no frontend): the node's transform and presets, the 'points'
    parsing, and what a drag writes."""
    rng = np.random.default_rng(0)
    args = [[rng.uniform(0.2, 0.8, (5, 2)).tolist(), int(rng.integers(64, 1024)), int(rng.integers(64, 1024)),
             float(rng.uniform(-180, 180)), float(rng.uniform(0.1, 5)), float(rng.uniform(-1, 1)),
             float(rng.uniform(-1, 1))] for _ in range(6)]
    got = ui.page.js(GEOMETRY % (json.dumps(args), json.dumps(sorted(PRESET_POSES))))
    for a, js_points in zip(args, got["transformed"]):
        assert np.allclose(js_points, transform_points(np.array(a[0]), *a[1:]), atol=1e-6), a
    for name, js_points in got["presets"].items():
        assert np.allclose(js_points, preset_points(name, 320, 240), atol=1e-6), name
    assert got["parsed"][:4] == [None, None, None, None] and len(got["parsed"][4]) == 5
    assert got["why"] == ["none", "invalid", "presets"]
    assert got["quarterTurn"] == {"rotate": -100}  # 170 + 90, wrapped into [-180, 180)
    assert got["moved"] == {"offset_x": 1, "offset_y": 0}  # clamped to the node's range
    assert got["scaled"] == [5, 0.1, 1]
