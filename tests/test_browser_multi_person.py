"""Who went where on "InstantID Multi-Person" (web/multi_person.js) in a real ComfyUI server and frontend, through
headless Chromium, on both frontends with classic nodes and with Nodes 2.0: after a real run the node shows the
layout's face boxes, each tagged with the number of the identity it got, in that identity's colour (screenshot
pixels); a real mouse drag of one number onto the other face swaps them, writing 'order' and setting 'assignment'
to "order"; the next run places the identities that way (its report says so); the picture comes back on reload.

Skipped unless ComfyUI (COMFYUI_PATH) and Chromium are available."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from browser_support import (ADAPTER, CHECKPOINT, COMFY, CONTROLNET, FACE_FILE, ComfyServer, crop, load_png, near,
                             needs_browser, open_app)
from browser_support.frontends import WITH_VUE_NODES, frontend_fixture
from browser_support.session import Session, chromium  # noqa: F401  (chromium: the module's browser fixture)

pytestmark = needs_browser
MULTI = "InstantIDPrecision_MultiPerson"
WIDGET = "instantid_people"
# the face photo of the test kit has two faces, left to right: [96,160,224,288] and [400,192,464,256]
BOXES = [[96, 160, 224, 288], [400, 192, 464, 256]]
GRAPH = {
    "img": {"type": "LoadImage", "pos": [0, 0], "widgets": {"image": FACE_FILE}},
    "fa": {"type": "InstantIDPrecision_FaceAnalysisLoader", "pos": [0, 440],
           "widgets": {"provider": "CPU", "det_size": "640"}},
    "iid": {"type": "InstantIDPrecision_ModelLoader", "pos": [0, 600], "widgets": {"instantid_file": ADAPTER}},
    "ckpt": {"type": "CheckpointLoaderSimple", "pos": [0, 740], "widgets": {"ckpt_name": CHECKPOINT}},
    "cn": {"type": "ControlNetLoader", "pos": [0, 900], "widgets": {"control_net_name": CONTROLNET}},
    "lat": {"type": "EmptyLatentImage", "pos": [0, 1010], "widgets": {"width": 128, "height": 128, "batch_size": 1}},
    "layout": {"type": "InstantIDPrecision_FaceDetect", "pos": [360, 0], "widgets": {"selection": "all"},
               "inputs": {"face_analysis": ["fa", 0], "image": ["img", 0]}},
    "one": {"type": "InstantIDPrecision_FaceDetect", "pos": [360, 1300], "widgets": {"selection": "largest"},
            "inputs": {"face_analysis": ["fa", 0], "image": ["img", 0]}},
    "prec": {"type": "InstantIDPrecision_PrecisionOffload", "pos": [360, 520], "widgets": {"mode": "auto"},
             "inputs": {"instantid": ["iid", 0]}},
    "pos": {"type": "CLIPTextEncode", "pos": [360, 780], "widgets": {"text": "two people"},
            "inputs": {"clip": ["ckpt", 1]}},
    "neg": {"type": "CLIPTextEncode", "pos": [360, 1040], "widgets": {"text": "blurry"},
            "inputs": {"clip": ["ckpt", 1]}},
    "proj": {"type": "InstantIDPrecision_ImageProjection", "pos": [800, 1300],
             "widgets": {"combine": "average", "seed": 0, "control_after_generate": "fixed"},
             "inputs": {"instantid": ["prec", 0], "faces": ["one", 0]}},
    "multi": {"type": MULTI, "pos": [900, 0], "widgets": {"assignment": "left to right", "order": ""},
              "inputs": {"model": ["ckpt", 0], "positive": ["pos", 0], "negative": ["neg", 0],
                         "control_net": ["cn", 0], "faces": ["layout", 0], "latent": ["lat", 0],
                         "identity_0": ["proj", 0], "identity_1": ["proj", 0]}},
    "ks": {"type": "KSampler", "pos": [1400, 0], "widgets": {"seed": 1, "control_after_generate": "fixed",
                                                              "steps": 1, "cfg": 4.0},
           "inputs": {"model": ["multi", 0], "positive": ["multi", 1], "negative": ["multi", 2],
                      "latent_image": ["lat", 0]}},
    "dec": {"type": "VAEDecode", "pos": [1750, 0], "inputs": {"samples": ["ks", 0], "vae": ["ckpt", 2]}},
    "prev": {"type": "PreviewImage", "pos": [1750, 200], "inputs": {"images": ["dec", 0]}},
}
TAGS = "window.InstantIDPeople.tags(__iid.nodeById({id}))"


frontend = frontend_fixture(WITH_VUE_NODES)


@pytest.fixture(scope="module")
def ui(tmp_path_factory, chromium, frontend):  # noqa: F811
    tmp = tmp_path_factory.mktemp("multi_person")
    server = ComfyServer(COMFY, tmp, frontend=frontend)
    server.start()
    page = open_app(chromium, server, also_ready="window.InstantIDPeople")
    s = Session(server, page, tmp / "screens")
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


def run(ui):
    assert ui.call("queue") is True
    done = ui.page.wait_for("__iid.finished()", timeout=180, what="the prompt to finish")
    assert done["type"] == "execution_success", (done, ui.server.log_tail())
    ui.page.pump(0.5)


def widget_values(ui, node_id) -> dict:
    return {w["name"]: w["value"] for w in ui.call("nodeInfo", node_id)["widgets"]}


def drag(ui, start, end, steps=8):
    send = ui.page.send
    send("Input.dispatchMouseEvent", type="mouseMoved", x=start[0], y=start[1])
    send("Input.dispatchMouseEvent", type="mousePressed", x=start[0], y=start[1], button="left", clickCount=1)
    for t in np.linspace(0, 1, steps + 1)[1:]:
        send("Input.dispatchMouseEvent", type="mouseMoved", x=start[0] + t * (end[0] - start[0]),
             y=start[1] + t * (end[1] - start[1]), button="left", buttons=1)
    send("Input.dispatchMouseEvent", type="mouseReleased", x=end[0], y=end[1], button="left", clickCount=1)
    ui.page.pump(0.3)


def tag_colours(ui, img, tags) -> list:
    """Per tag: the share of its top-left corner (inside the square, away from the digit) in each identity's
    colour."""
    colours = ui.page.js("window.InstantIDPeople.COLOURS")
    out = []
    for tag in tags:
        corner = crop(img, {"x": tag["x"] - 9, "y": tag["y"] - 9, "width": 5, "height": 5})
        out.append([float(near(corner, c, 40).mean()) for c in colours[:2]])
    return out


def test_numbers_on_the_faces_then_drag_one_onto_the_other(ui):
    mark = ui.mark()
    ids = ui.call("build", GRAPH)
    ui.page.wait_for(f"__iid.nodeById({ids['img']}).imgs?.[0]?.naturalWidth === 640", timeout=20,
                     what="LoadImage's preview of the face photo")
    run(ui)
    multi = ids["multi"]
    info = ui.call("nodeInfo", multi)
    [people] = [w for w in info["widgets"] if w["name"] == WIDGET]
    assert people["serialize"] is False and people["promptSerialize"] is False
    assert people["value"]["identities"] == [0, 1]
    assert [[round(v) for v in b] for b in people["value"]["boxes"]] == BOXES
    ui.call("focus", [multi], 1.0)
    tags = ui.page.wait_for(TAGS.format(id=json.dumps(multi)), timeout=10, what="the identity tags")
    assert [(t["face"], t["identity"]) for t in tags] == [(0, 0), (1, 1)]
    assert tags[0]["x"] < tags[1]["x"]
    shares = tag_colours(ui, shot(ui, "mp_01_numbers.png"), tags)
    assert shares[0][0] > 0.8 and shares[1][1] > 0.8, shares  # each tag in its identity's colour

    drag(ui, (tags[0]["x"], tags[0]["y"]), (tags[1]["x"], tags[1]["y"]))
    values = widget_values(ui, multi)
    assert values["order"] == "1,0" and values["assignment"] == "order", values
    assert values[WIDGET]["identities"] == [1, 0]
    assert ui.call("workflowTabs")["modified"] is True
    tags = ui.page.js(TAGS.format(id=json.dumps(multi)))
    assert [(t["face"], t["identity"]) for t in tags] == [(0, 1), (1, 0)]
    shares = tag_colours(ui, shot(ui, "mp_02_swapped.png"), tags)
    assert shares[0][1] > 0.8 and shares[1][0] > 0.8, shares
    prompt = ui.call("apiPrompt")[str(multi)]["inputs"]
    assert prompt["order"] == "1,0" and prompt["assignment"] == "order" and WIDGET not in prompt

    run(ui)  # the server places them as dragged
    report = ui.page.js(f"document.querySelector('textarea.instantid-report[data-node-id=\"{multi}\"]')?.value")
    assert "face 0: identity 1" in report and "face 1: identity 0" in report, report
    assert widget_values(ui, multi)[WIDGET]["identities"] == [1, 0]

    saved = ui.call("serialize")
    node = next(n for n in saved["nodes"] if str(n["id"]) == str(multi))
    assert node["instantid_people_ui"]["identities"] == [1, 0]
    ui.call("blank")
    ui.call("load", json.loads(json.dumps(saved)))
    ui.page.pump(0.5)
    assert widget_values(ui, multi)[WIDGET]["identities"] == [1, 0]
    assert not ui.problems(mark), ui.problems(mark)
