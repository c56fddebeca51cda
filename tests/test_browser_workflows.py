"""The shipped workflows (example_workflows/*.json) in the real ComfyUI frontend, through headless Chromium.

Two servers (see browser_support/):

* with the tiny test models: each workflow is loaded, its node boxes are read from the live graph (LiteGraph's
  own bounding boxes, title bar included) and checked for overlaps and for links that run right to left, then
  it is run for real (tiny models swapped in through the widgets) and checked again once Face Detect shows its
  face boxes, the Precision / Projection nodes their reports and Save Image its picture;
* with an empty models folder: loading a workflow as a user does opens the frontend's "Missing Models"
  dialog, which must list the workflow's files with their folders (and nothing once they are installed); the
  nodes' pack properties (cnr_id, ver, aux_id) pass the frontend's workflow validation. The frontend reads the
  model records both from the nodes' properties.models and from the workflow's top-level `models`: each alone
  gives the same list. The template browser, opened with the frontend's own command, lists the workflows under
  the pack's folder name with their thumbnails (example_workflows/<name>.jpg), and opens one as a workflow.

Skipped unless ComfyUI (COMFYUI_PATH) and Chromium are available."""
from __future__ import annotations

import copy
import json
import shutil
import time
from pathlib import Path

import pytest

from browser_support import (ADAPTER, CHECKPOINT, COMFY, CONTROLNET, FACE_FILE, WORKFLOW_IMAGES, ComfyServer, needs_browser,
                             open_app)
from browser_support.frontends import CLASSIC, frontend_fixture
from browser_support.session import Session, chromium  # noqa: F401  (chromium: the module's browser fixture)
from test_workflows import backward_links, overlaps

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((REPO / "example_workflows").glob("*.json"))
pytestmark = needs_browser

# the input images the workflows name; the test server has only the face photo, copied under these names
INPUT_IMAGES = WORKFLOW_IMAGES
FACE_NODE = "InstantIDPrecision_FaceDetect"
REPORT_NODES = ("InstantIDPrecision_PrecisionOffload", "InstantIDPrecision_ImageProjection",
                "InstantIDPrecision_GroupFaceCrop")
# widget edits that make a workflow run on the tiny models in seconds
TINY_RUN = {"CheckpointLoaderSimple": {"ckpt_name": CHECKPOINT}, "ControlNetLoader": {"control_net_name": CONTROLNET},
            "InstantIDPrecision_ModelLoader": {"instantid_file": ADAPTER},
            "EmptyLatentImage": {"width": 64, "height": 64},
            "InstantIDPrecision_FaceKeypoints": {"width": 64, "height": 64},
            "InstantIDPrecision_FaceCrop": {"long_side": 64},
            "InstantIDPrecision_ManualKeypoints": {"width": 64, "height": 64},
            "KSampler": {"steps": 1},
            # the face photo has two faces: the three-people workflow's third identity stays out (a report warning)
            "InstantIDPrecision_MultiPerson": {"order": "0,1"}}
# nodes whose text box the workflow sizes on purpose (larger than the frontend's minimum)
TEXT_NODES = ("CLIPTextEncode", "Note")


frontend = frontend_fixture(CLASSIC)


def _session(tmp_path_factory, chromium, frontend, name, tiny_models):
    tmp = tmp_path_factory.mktemp(f"{name}_{frontend.id}")
    server = ComfyServer(COMFY, tmp, frontend=frontend)
    server.tiny_models = tiny_models
    t0 = time.perf_counter()
    server.start()
    if tiny_models:  # before the page loads, so LoadImage lists them
        for image in INPUT_IMAGES:
            shutil.copyfile(server.base / "input" / FACE_FILE, server.base / "input" / image)
    page = open_app(chromium, server)
    print(f"\n[browser workflows] {name}: server + UI ready in {time.perf_counter() - t0:.1f} s")
    return Session(server, page, tmp / "screens")


@pytest.fixture(scope="class")
def tiny(tmp_path_factory, chromium, frontend):
    s = _session(tmp_path_factory, chromium, frontend, "tiny_models", True)
    yield s
    s.page.close()
    s.server.stop()


@pytest.fixture(scope="class")
def empty(tmp_path_factory, chromium, frontend):
    s = _session(tmp_path_factory, chromium, frontend, "empty_models", False)
    yield s
    s.page.close()
    s.server.stop()


def _live_layout(s: Session):
    nodes = s.call("nodeBoxes")
    boxes = {n["id"]: (n["box"][0], n["box"][1], n["box"][0] + n["box"][2], n["box"][1] + n["box"][3]) for n in nodes}
    return {n["id"]: n for n in nodes}, boxes, [tuple(e) for e in s.call("linkEnds")]


def _describe(nodes, pairs):
    return [(f"{nodes[a]['type']}#{a}", f"{nodes[b]['type']}#{b}") for a, b in pairs]


# ------------------------------------------------------------------------------------------------ layout

class TestLayoutAtRealSizes:
    @pytest.mark.parametrize("workflow", WORKFLOWS, ids=[w.stem for w in WORKFLOWS])
    def test_no_overlap_and_links_left_to_right_before_and_after_a_run(self, tiny, workflow):
        data = json.loads(workflow.read_text())
        since = tiny.mark()
        assert tiny.call("load", data, timeout=60) == len(data["nodes"])
        tiny.page.wait_for("__iid.imagesReady(['LoadImage'])", timeout=20, what="the LoadImage previews")
        # the workflow opens on its top-left part (extra.ds); every node is drawn once the whole graph is in view
        # (LoadImage sizes itself to its picture when it is drawn)
        tiny.call("focus", [n["id"] for n in data["nodes"]])
        tiny.page.pump(1.0)

        nodes, boxes, ends = _live_layout(tiny)
        for n in data["nodes"]:  # the file's sizes are the real ones: the frontend did not have to grow a node
            live = nodes[n["id"]]
            assert live["size"] == pytest.approx(n["size"], abs=1), (n["type"], n["size"], live["size"])
            if n["type"] not in TEXT_NODES:  # ...and they are not much larger than the frontend's own minimum
                assert n["size"][1] <= live["computed"][1] + 16, (n["type"], n["size"], live["computed"])
        assert not overlaps(boxes), _describe(nodes, overlaps(boxes))
        assert not backward_links(boxes, ends), _describe(nodes, backward_links(boxes, ends))
        [note] = [n["id"] for n in data["nodes"] if n["type"] == "Note"]
        if "<this pack's folder>" in json.dumps(data):  # the Note names the folder the pack is installed in
            shown = tiny.call("nodeInfo", note)["widgets"][0]["value"]
            assert "<this pack's folder>" not in shown and f"custom_nodes/{tiny.server.pack_name} " in shown, shown
        tiny.call("focus", [note], 1.0)
        text = tiny.page.wait_for(f"__iid.textBox({note})?.visible && __iid.textBox({note})", timeout=10,
                                  what="the Note's text box")
        assert text["clientHeight"] - 60 < text["textHeight"] <= text["clientHeight"], text  # all of it, snugly
        tiny.call("focus", list(nodes))  # the whole graph in view, as after loading: previews are drawn

        # run it (tiny models, 64 px, one step): the overlays and the saved picture grow their nodes
        for n in data["nodes"]:
            if n["type"] in TINY_RUN:
                tiny.call("setWidgets", n["id"], TINY_RUN[n["type"]])
        tiny.page.js("__iid.queue()")
        result = tiny.page.wait_for("__iid.finished()", timeout=180, what="the workflow to finish")
        assert result["type"] == "execution_success", (result, tiny.server.log_tail())
        faces = [n["id"] for n in data["nodes"] if n["type"] == FACE_NODE]
        reports = [n["id"] for n in data["nodes"] if n["type"] in REPORT_NODES]
        tiny.page.wait_for(
            f"{json.dumps(faces)}.every((id) => __iid.nodeInfo(id).widgets.some((w) => w.name === 'instantid_faces'))"
            f" && {json.dumps(reports)}.every((id) => __iid.reportElements(id).length === 1)"
            " && __iid.imagesReady(['SaveImage'])", timeout=20, what="the overlays, reports and saved picture")
        tiny.page.pump(0.5)

        grown, boxes, ends = _live_layout(tiny)
        for nid in faces + reports:  # they did grow, so the check below is about the grown sizes
            assert grown[nid]["size"][1] > nodes[nid]["size"][1] + 50, grown[nid]
        assert not overlaps(boxes), _describe(grown, overlaps(boxes))
        assert not backward_links(boxes, ends), _describe(grown, backward_links(boxes, ends))
        print(f"\n[browser workflows] {workflow.stem} after a run: " + ", ".join(
            f"{grown[i]['type'].replace('InstantIDPrecision_', '')} {[round(v) for v in grown[i]['size']]}"
            for i in faces + reports + [n["id"] for n in data["nodes"] if n["type"] == "SaveImage"]))
        tiny.call("focus", list(grown))
        tiny.page.pump(0.3)
        tiny.page.screenshot(tiny.shots / f"{workflow.stem}_after_run.png")
        assert not tiny.problems(since), tiny.problems(since)


# ------------------------------------------------------------------------------------------------ models

def _models_of(data):
    """Every properties.models entry of a workflow, by its dialog label 'directory / name'."""
    return {f"{m['directory']} / {m['name']}": m for n in data["nodes"] for m in n["properties"].get("models", [])}


def _dialog(s: Session, data):
    s.close_missing_models()
    s.call("loadAsUser", data, timeout=60)
    return s.missing_models()


def _refresh_model_lists(s: Session):
    """1.58 checks a workflow's models against the lists it loaded with the node definitions (1.27 asks the
    server on each load): after installing files a user refreshes them (R, "Refresh Node Definitions")."""
    if s.server.frontend.newer:
        s.page.js("window.comfyAPI.app.app.extensionManager.command.execute('Comfy.RefreshNodeDefinitions')"
                  ".then(() => true)", timeout=60)
        s.clear_toasts()


class TestMissingModelsDialog:
    @pytest.mark.parametrize("workflow", WORKFLOWS, ids=[w.stem for w in WORKFLOWS])
    def test_dialog_lists_each_file_with_its_folder(self, empty, workflow):
        data = json.loads(workflow.read_text())
        since = empty.mark()
        entries = {e["label"]: e for e in _dialog(empty, data)}
        print(f"\n[browser workflows] {workflow.stem}: Missing Models dialog:\n" + "\n".join(
            f"  {e['label']}  [{e['download']['text'] if e['download'] else '-'}"
            f"{', disabled' if e['download'] and e['download']['disabled'] else ''}]  {e['error']}"
            for e in entries.values()))
        expected = _models_of(data)
        if empty.server.frontend.newer:
            # 1.58 also lists a model a node names without a properties.models entry (the depth ControlNet of
            # the split workflow): no URL, so no Download button
            extra = {label: e for label, e in entries.items() if label not in expected}
            assert all(e["download"] is None for e in extra.values()), extra
            entries = {label: e for label, e in entries.items() if label in expected}
        assert set(entries) == set(expected) == {"checkpoints / sd_xl_base_1.0.safetensors",
                                                 "controlnet / instantid/diffusion_pytorch_model.safetensors",
                                                 "instantid / ip-adapter.bin"}
        for label, e in entries.items():
            url = expected[label]["url"]
            if empty.server.frontend.newer:  # 1.58 shows no URL, and a Download button for .safetensors only
                assert (e["download"] is not None) == label.endswith(".safetensors"), e
                continue
            assert e["hint"] == url
            if label.endswith(".safetensors"):  # offered for download from its URL
                assert not e["error"] and e["download"]["title"] == url and not e["download"]["disabled"], e
            else:  # listed with its folder, but the frontend downloads .safetensors/.sft only
                assert "Only allowed suffixes" in e["error"] and e["download"]["disabled"], e
            assert "Invalid directory" not in e["error"]  # the pack registered models/instantid
        empty.call("closeDialogs")
        assert not empty.problems(since), empty.problems(since)

    def test_installed_files_are_not_listed(self, empty):
        data = json.loads((REPO / "example_workflows" / "instantid_basic_portrait.json").read_text())
        models = empty.server.base / "models"
        placed = [models / "checkpoints" / "sd_xl_base_1.0.safetensors",
                  models / "controlnet" / "instantid" / "diffusion_pytorch_model.safetensors"]
        try:
            for path in placed:  # the dialog goes by file name only: empty files stand in for the models
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch()
            _refresh_model_lists(empty)
            assert [e["label"] for e in _dialog(empty, data)] == ["instantid / ip-adapter.bin"]
            placed.append(models / "instantid" / "ip-adapter.bin")
            placed[-1].parent.mkdir(parents=True, exist_ok=True)
            placed[-1].touch()
            _refresh_model_lists(empty)
            empty.close_missing_models()
            empty.call("loadAsUser", data, timeout=60)
            empty.page.pump(1.5)
            if empty.call("issuesNotice"):  # 1.58: other issues (the photos) may be listed, but no model
                empty.click_centre("[data-testid=error-overlay-see-errors]")
                empty.page.wait_for("__iid.issuesPanel()", timeout=10, what="the Issues tab")
                empty.page.pump(1.0)
            assert empty.call("missingModels") is None and not empty.call("visibleDialogs")
        finally:
            for path in placed:
                path.unlink(missing_ok=True)
            _refresh_model_lists(empty)  # 1.58 would otherwise go on listing them as installed

    def test_pack_properties_pass_the_frontend_validation_and_are_kept(self, empty):
        data = json.loads((REPO / "example_workflows" / "instantid_basic_portrait.json").read_text())
        empty.call("closeDialogs")
        empty.call("load", data, timeout=60)
        empty.page.pump(0.5)
        assert not empty.call("toasts"), empty.call("toasts")  # validation failures are shown as toasts
        saved = {n["id"]: n["properties"] for n in empty.call("serialize")["nodes"]}
        for n in data["nodes"]:
            assert saved[n["id"]] == n["properties"], n["type"]
        # the same check catches a malformed value: validation is on and reads these fields
        bad = copy.deepcopy(data)
        next(n for n in bad["nodes"] if n["type"].startswith("InstantIDPrecision_"))["properties"]["aux_id"] = "a/b/c"
        empty.call("load", bad, timeout=60)
        toasts = empty.page.wait_for("__iid.toasts().length && __iid.toasts()", timeout=10, what="a validation toast")
        assert any("aux_id" in t for t in toasts), toasts

    @pytest.mark.parametrize("kept", ["top_level", "nodes"])
    def test_either_place_of_the_model_records_is_enough(self, empty, kept):
        """The frontend collects the records of the nodes' properties.models and of the workflow's top-level
        `models`; a workflow that has them in one place only gets the same list, links included."""
        data = json.loads((REPO / "example_workflows" / "instantid_basic_portrait.json").read_text())
        expected = _models_of(data)
        if kept == "top_level":
            for n in data["nodes"]:
                n["properties"].pop("models", None)
        else:
            del data["models"]
        since = empty.mark()
        entries = _dialog(empty, data)
        if empty.server.frontend.newer:  # 1.58's Issues rows show the file and its folder, not the link
            assert {e["label"] for e in entries} == set(expected)
        else:
            assert {e["label"]: e["hint"] for e in entries} == {label: m["url"] for label, m in expected.items()}
        # ...and with no records at all there is nothing to offer (1.27.10 lists only recorded files; 1.58.1 also
        # lists a loader's file from its widget value, then without folder or link)
        data.pop("models", None)
        for n in data["nodes"]:
            n["properties"].pop("models", None)
        empty.call("closeDialogs")
        empty.call("loadAsUser", data, timeout=60)
        empty.page.pump(1.5)
        assert empty.call("missingModels") is None
        assert not empty.problems(since), empty.problems(since)


# ------------------------------------------------------------------------------------------------ templates

class TestTemplateBrowser:
    def test_templates_are_listed_under_the_pack_with_their_thumbnails_and_open(self, empty):
        names = sorted(w.stem for w in WORKFLOWS)
        pack = empty.server.pack_name
        assert sorted(empty.server.get_json("/workflow_templates")[pack]) == names
        since, seen = empty.mark(), len(empty.page.responses)
        empty.call("closeDialogs")
        empty.call("openTemplates")
        empty.page.wait_for(f"__iid.pickTemplateCategory({json.dumps(pack)})", timeout=20,
                            what=f"the category {pack!r} in the template browser")
        # every template has its card; the thumbnails load lazily as cards come into view (1.27 draws the first
        # screenful), so the ones the browser has loaded are checked here and the rest at their URL below
        cards = empty.page.wait_for(
            f"(() => {{ const c = __iid.templateCards({json.dumps(names)}); "
            f"return c && c.length === {len(names)} && c.filter((x) => x.loaded).length >= {min(len(names), 6)}"
            f" && c; }})()", timeout=90, what="the templates' cards with their thumbnails loaded")
        assert sorted(c["name"] for c in cards) == names
        cards = [c for c in cards if c["loaded"]]
        assert all(c["width"] > 0 for c in cards)
        empty.page.pump(0.3)
        empty.page.screenshot(empty.shots / "template_browser.png")
        prefix = f"{empty.server.url}/api/workflow_templates/{pack}/"
        fetched = {u[len(prefix):]: status for u, status in empty.page.responses[seen:] if u.startswith(prefix)}
        assert {f"{c['name']}.jpg" for c in cards} <= {k for k, v in fetched.items() if v == 200}
        for name in names:  # every template's picture is there at the URL the frontends ask for
            assert empty.server.get_bytes(f"/api/workflow_templates/{pack}/{name}.jpg")[0] == 200, name

        data = json.loads((REPO / "example_workflows" / "instantid_basic_portrait.json").read_text())
        assert empty.call("openTemplateCard", "instantid_basic_portrait")
        types = empty.page.wait_for(
            f"!__iid.templateDialog() && window.comfyAPI.app.app.graph.nodes.length === {len(data['nodes'])} && "
            "window.comfyAPI.app.app.graph.nodes.map((n) => n.type)", timeout=30, what="the template to open")
        assert sorted(types) == sorted(n["type"] for n in data["nodes"])
        assert (prefix + "instantid_basic_portrait.json", 200) in empty.page.responses[seen:]
        view = readable_view(empty)  # opened from the template browser, at a zoom where node text is drawn
        assert view["textDrawn"] and view["scale"] >= view["threshold"], view
        empty.call("closeDialogs")  # its missing-models dialog: this server has no models
        assert not empty.problems(since), empty.problems(since)

    @pytest.mark.parametrize("workflow", WORKFLOWS, ids=[w.stem for w in WORKFLOWS])
    def test_every_workflow_opens_with_node_text_drawn(self, empty, workflow):
        """On a 1600 x 1000 window, opened as the template browser opens it (the frontend fits the whole graph)
        and as a saved file (the frontend restores extra.ds): LiteGraph draws the node text (its zoom is at or
        above the one where it switches to plain boxes, 8 px text by default), the view shows the workflow's
        note and its first nodes, and every Load Image shows its picture (none is missing on a fresh ComfyUI)."""
        data = json.loads(workflow.read_text())
        since = empty.mark()
        for source in ("template", None):
            options = {"openSource": source} if source else {}
            empty.page.js(f"window.comfyAPI.app.app.loadGraphData({json.dumps(data)}, true, true, "
                          f"{json.dumps(workflow.stem)}, {json.dumps(options)})", timeout=30)
            view = readable_view(empty)
            assert view["textDrawn"] and view["scale"] >= view["threshold"] > 0.5, (source, view)
            assert view["shown"] >= min(5, len(data["nodes"])) and view["noteShown"], (source, view)
            # no missing input image: the pack put its example photos into this fresh ComfyUI's input folder
            empty.page.wait_for("__iid.imagesReady(['LoadImage'])", timeout=20,
                                what="every Load Image picture of the workflow (the pack's example photos)")
            empty.call("closeDialogs")
        assert not empty.problems(since), empty.problems(since)


def readable_view(s: Session) -> dict:
    """The canvas zoom once the view of the graph just opened has settled, LiteGraph's zoom below which it draws
    nodes without text, whether it draws text now (after a full redraw), and how many nodes (the Note among them)
    lie wholly on the window."""
    s.page.pump(1.5)  # the frontend (1.58: a later frame) and the pack (web/readable_view.js) set the view
    return s.page.js("""(() => {
        const c = window.comfyAPI.app.app.canvas;
        c.draw(true, true);
        const [ox, oy] = c.ds.offset, k = c.ds.scale, W = window.innerWidth, H = window.innerHeight;
        const onScreen = (n) => { const [x, y, w, h] = n.boundingRect;
            return (x + ox) * k >= 0 && (y + oy) * k >= 0 && (x + w + ox) * k <= W && (y + h + oy) * k <= H; };
        const nodes = window.comfyAPI.app.app.graph.nodes;
        return { scale: k, threshold: c._lowQualityZoomThreshold, textDrawn: !c.low_quality,
                 shown: nodes.filter(onScreen).length, noteShown: nodes.some((n) => n.type === "Note" && onScreen(n)),
                 window: [W, H] };
    })()""")
