"""cubiq's loaders in ComfyUI's own Node Replacement (nodes/node_replacements.py), in a real ComfyUI server and
frontend 1.58.1, through headless Chromium.

The workflow: cubiq's "InstantID Face Analysis" and "Load InstantID Model" feeding this pack's Face Detect, Image
Projection and Save Identity (a graph a user gets half way through moving off cubiq's pack), dropped on the canvas
of a ComfyUI without cubiq's pack. What happens depends on the core, checked by feature (GET /node_replacements):

* a core with Node Replacement (0.33.0): the server lists cubiq's two loaders with their mappings; the pack's
  conversion panel stays away (the frontend's offer covers every cubiq node of this graph); the frontend's Issues
  tab offers to replace both; "Replace All" puts this pack's loaders in their place, widget values and links
  mapped; and the replaced graph runs (the identity is saved, the projection's report shown);
* a core without it (0.3.64), or the frontend's setting "Enable node replacement suggestions" turned off: the
  pack's conversion panel offers the conversion, as before.

Skipped unless ComfyUI (COMFYUI_PATH) and Chromium are available."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from browser_support import ADAPTER, COMFY, FACE_FILE, ComfyServer, needs_browser, open_app
from browser_support.frontends import CURRENT, Frontend, frontend_fixture
from browser_support.session import BENIGN, Session, chromium  # noqa: F401  (chromium: the module's browser fixture)

# .ci/run runs this file on the oldest core too (marker both_cores): there the pack's panel must appear
pytestmark = [needs_browser, pytest.mark.both_cores]

PREFIX = "InstantIDPrecision_"
# cubiq's node -> (ours, cubiq's widgets_values, cubiq's output type)
CUBIQ = {"fa": ("InstantIDFaceAnalysis", PREFIX + "FaceAnalysisLoader", ["CPU"], "FACEANALYSIS"),
         "iid": ("InstantIDModelLoader", PREFIX + "ModelLoader", [ADAPTER], "INSTANTID")}
OURS = {"fa": {"type": PREFIX + "FaceAnalysisLoader", "pos": [40, 80], "widgets": {"provider": "CPU"}},
        "iid": {"type": PREFIX + "ModelLoader", "pos": [40, 300], "widgets": {"instantid_file": ADAPTER}},
        "img": {"type": "LoadImage", "pos": [40, 460], "widgets": {"image": FACE_FILE}},
        "det": {"type": PREFIX + "FaceDetect", "pos": [420, 80], "inputs": {"face_analysis": ["fa", 0],
                                                                            "image": ["img", 0]}},
        "proj": {"type": PREFIX + "ImageProjection", "pos": [800, 300], "inputs": {"instantid": ["iid", 0],
                                                                                    "faces": ["det", 0]}},
        "save": {"type": PREFIX + "SaveIdentity", "pos": [800, 40], "inputs": {"faces": ["det", 0]},
                 "widgets": {"name": "replaced"}},
        "show": {"type": "PreviewAny", "pos": [1180, 300], "inputs": {"source": ["proj", 1]}}}

frontend = frontend_fixture((Frontend(CURRENT),))


class ReplacementSession(Session):
    benign = BENIGN


@pytest.fixture(scope="module")
def ui(tmp_path_factory, chromium, frontend):  # noqa: F811
    tmp = tmp_path_factory.mktemp("node_replacement")
    server = ComfyServer(COMFY, tmp, frontend=frontend)
    server.start()
    page = open_app(chromium, server, also_ready="window.InstantIDMigration")
    s = ReplacementSession(server, page, tmp / "screens")
    yield s
    page.close()
    server.stop()


def cubiq_workflow(ui) -> tuple[dict, dict]:
    """The graph built with this pack's nodes, saved, then its two loaders turned into cubiq's (type, widgets,
    output type), as a workflow saved with cubiq's pack would have them."""
    ids = ui.call("build", OURS)
    data = ui.page.js("window.comfyAPI.app.app.graph.serialize()")
    by_id = {n["id"]: n for n in data["nodes"]}
    for key, (cubiq_type, _, values, out_type) in CUBIQ.items():
        node = by_id[ids[key]]
        node.update(type=cubiq_type, widgets_values=values,
                    properties={"Node name for S&R": cubiq_type, "cnr_id": "comfyui_instantid"})
        node["outputs"][0].update(name=out_type, type=out_type)
        for link in data["links"]:
            if link[1] == ids[key]:
                link[5] = out_type
    return data, ids


def drop(ui, data, name):
    ui.call("blank")
    ui.call("dropWorkflowFile", data, name)
    ui.page.wait_for(f"window.comfyAPI.app.app.graph.nodes.length === {len(data['nodes'])}", timeout=30,
                     what=f"{name} to be loaded")
    ui.page.pump(1.0)  # the load's hooks, the pack's panel (if any), the frontend's notice


def types_by_id(ui) -> dict:
    return {int(n["id"]): n["type"] for n in ui.call("audit")}


def wait_offer_panel(ui):
    return ui.page.wait_for("(() => { const p = __iid.migrationPanel(); return p && p.kind === 'offer' && "
                            "p.visible ? p : null; })()", timeout=20, what="the pack's conversion panel")


def test_with_node_replacement_turned_off_the_packs_panel_offers_the_conversion(ui):
    since = ui.mark()
    data, _ = cubiq_workflow(ui)
    setting = "window.comfyAPI.app.app.extensionManager.setting"
    ui.page.js(f"{setting}.set('Comfy.NodeReplacement.Enabled', false).then(() => true)")
    try:
        drop(ui, data, "half_cubiq_no_replacement.json")
        panel = wait_offer_panel(ui)
    finally:
        ui.page.js(f"{setting}.set('Comfy.NodeReplacement.Enabled', true).then(() => true)")
    assert all(c[0] in panel["text"] for c in CUBIQ.values()), panel["text"]
    keep = next(b for b in panel["buttons"] if b["action"] == "keep")
    ui.click(keep["x"], keep["y"])
    ui.page.wait_for("!__iid.migrationPanel()", timeout=10, what="the panel to close")
    ui.call("closeSidePanel")
    ui.call("closeDialogs")
    assert not ui.problems(since), ui.problems(since)


def test_cubiq_loaders_are_replaced_by_comfyuis_offer_or_converted_by_the_panel(ui):
    since = ui.mark()
    data, ids = cubiq_workflow(ui)
    status, listed = ui.server.get_bytes("/node_replacements")
    core_replaces = status == 200

    drop(ui, data, "half_cubiq.json")
    assert {types_by_id(ui)[ids[k]] for k in CUBIQ} == {c[0] for c in CUBIQ.values()}
    if not core_replaces:  # ComfyUI 0.3.64: the pack's panel offers its conversion
        panel = wait_offer_panel(ui)
        assert all(c[0] in panel["text"] for c in CUBIQ.values()), panel["text"]
        return

    # the server's list: both loaders, with the mapping the frontend applies
    replacements = json.loads(listed)
    for cubiq_type, ours, _, _ in CUBIQ.values():
        assert [r["new_node_id"] for r in replacements[cubiq_type]] == [ours]
        assert replacements[cubiq_type][0]["output_mapping"] == [{"new_idx": 0, "old_idx": 0}]
    assert ui.call("migrationPanel") is None  # ComfyUI's own offer covers these, no second one
    listed = ui.issues_listed()
    assert "InstantIDFaceAnalysis" in listed and "InstantIDModelLoader" in listed and "Replace All" in listed, listed
    ui.page.pump(0.5)
    ui.page.screenshot(ui.shots / "node_replacement_offer.png")
    ui.page.js("""(() => { const b = [...document.querySelectorAll('[data-testid=properties-panel] button')]
        .find((e) => e.innerText.trim() === 'Replace All'); b.click(); return true; })()""")
    ui.page.wait_for(f"(() => {{ const t = Object.fromEntries(window.comfyAPI.app.app.graph.nodes.map((n) => "
                     f"[__iid.normId(n.id), n.type])); return !Object.values(t).some((x) => "
                     f"{json.dumps([c[0] for c in CUBIQ.values()])}.includes(x)); }})()",
                     timeout=20, what="the cubiq nodes to be replaced")
    live = {i: ui.call("nodeState", i) for i in types_by_id(ui)}
    by_type = {n["type"]: n for n in live.values()}
    fa, iid = by_type[CUBIQ["fa"][1]], by_type[CUBIQ["iid"][1]]
    assert fa["widgets"]["provider"] == "CPU" and iid["widgets"]["instantid_file"] == ADAPTER
    det, proj = by_type[PREFIX + "FaceDetect"], by_type[PREFIX + "ImageProjection"]
    assert det["inputs"]["face_analysis"] == [fa["id"], 0] and proj["inputs"]["instantid"] == [iid["id"], 0]
    assert sorted(n["type"] for n in live.values()) == sorted(n["type"] for n in OURS.values())

    ui.call("closeSidePanel")
    # the canvas draws the new nodes (1.58.1's swap alone leaves its node order cached: web/migrate_cubiq.js)
    for x in (700, 720):
        ui.page.send("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=500)
    ui.page.pump(0.5)
    drawn = ui.page.js("(window.comfyAPI.app.app.canvas.visible_nodes ?? []).map((n) => n.type)")
    assert sorted(drawn) == sorted(n["type"] for n in OURS.values()), drawn
    ui.call("queue")
    done = ui.page.wait_for("__iid.finished()", timeout=180, what="the replaced graph to run")
    assert done["type"] == "execution_success", done
    identities = Path(ui.server.base) / "models" / "instantid_identities"
    assert [p.name for p in identities.glob("replaced*.safetensors")], list(identities.glob("*"))
    assert not ui.problems(since), ui.problems(since)
