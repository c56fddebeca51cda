"""Model names saved with the other OS's path separator (web/model_name_separators.js), in a real ComfyUI server
and the real frontend, through headless Chromium.

Windows is simulated on Linux: ComfyUI lists a model in a sub-folder by its relative path, so a file literally
named ``instantid\\diffusion_pytorch_model.safetensors`` at the top of models/controlnet is listed exactly as
Windows lists ``instantid/diffusion_pytorch_model.safetensors`` there. The shipped workflows name that file with
'/', so on such a server the ControlNetLoader value is not in its list until the extension picks the listed
spelling; the other direction (a workflow saved on Windows, a real sub-folder here) and the cases it must leave
alone (value in the list, no match, two matches) are checked in one hand-made workflow. The files are empty: only
their names matter, nothing is run (the server's own /prompt validation is asked whether the values are valid).

Skipped unless ComfyUI (COMFYUI_PATH) and Chromium are available."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from browser_support import COMFY, ComfyServer, needs_browser, open_app
from browser_support.frontends import CLASSIC, frontend_fixture
from browser_support.session import Session, chromium  # noqa: F401  (chromium: the module's browser fixture)

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "example_workflows" / "instantid_basic_portrait.json"
pytestmark = needs_browser

SLASH_NAME = "instantid/diffusion_pytorch_model.safetensors"  # as the shipped workflows name IdentityNet
WINDOWS_NAME = "instantid\\diffusion_pytorch_model.safetensors"  # as ComfyUI lists it on Windows
# models/controlnet of the test server ('/' makes a sub-folder, '\\' is part of a file or folder name)
CONTROLNET_FILES = (
    WINDOWS_NAME,
    "rev/b.safetensors",                            # a real sub-folder: a workflow saved on Windows names rev\b
    "both/y.safetensors", "both\\y.safetensors",    # both spellings listed: each is in the list, never changed
    "amb/x\\c.safetensors", "amb\\x/c.safetensors",  # amb/x/c.safetensors matches both: ambiguous, left alone
)
WHY = "(same file, named with the server's path separator)"


frontend = frontend_fixture(CLASSIC)


@pytest.fixture(scope="module")
def ui(tmp_path_factory, chromium, frontend):  # noqa: F811
    tmp = tmp_path_factory.mktemp(f"model_names_{frontend.id}")
    server = ComfyServer(COMFY, tmp, frontend=frontend)
    server.tiny_models = False  # only the empty stand-ins below
    server.prepare()
    for name in CONTROLNET_FILES:
        path = server.base / "models" / "controlnet" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    server.start()
    page = open_app(chromium, server)
    s = Session(server, page, tmp / "screens")
    yield s
    page.close()
    server.stop()


def listed(ui) -> list[str]:
    """The ControlNetLoader's option list as the server validates it."""
    info = ui.server.get_json("/object_info/ControlNetLoader")["ControlNetLoader"]
    return info["input"]["required"]["control_net_name"][0]


def close_dialogs(ui):
    ui.close_missing_models()
    ui.page.wait_for("!__iid.visibleDialogs().length", timeout=10, what="open dialogs to close")


def drop(ui, workflow: dict, file_name: str):
    """Drop a workflow file on the canvas, as a user opens one; wait until its tab is the active one (set after
    every load hook has run)."""
    close_dialogs(ui)
    ui.call("dropWorkflowFile", workflow, file_name)
    ui.page.wait_for(f"__iid.workflowTabs().active === {json.dumps('workflows/' + file_name)}", timeout=30,
                     what=f"{file_name} to be loaded")


def missing_models(ui) -> set[str]:
    return {e["label"] for e in ui.missing_models()}


def fix_lines(ui, since) -> list[str]:
    return [m[1] for m in ui.page.console[since[0]:] if m[0] == "info" and m[1].startswith("[InstantID]")]


def node_value(ui, node_id, widget="control_net_name"):
    return ui.call("nodeState", node_id)["widgets"][widget]


def controlnet_node(workflow: dict) -> dict:
    return next(n for n in workflow["nodes"] if n["type"] == "ControlNetLoader")


def queue_errors(ui) -> dict:
    """node id -> the server's validation errors for the live graph's prompt (POST /prompt, as Queue does)."""
    status, body = ui.server.post_json("/prompt", {"prompt": ui.call("apiPrompt"), "client_id": "model-names-test"})
    assert status == 400, (status, body)  # the workflow's other models are absent: it must never run here
    return {nid: [e["type"] for e in err["errors"]] for nid, err in body["node_errors"].items()}


def test_server_lists_the_simulated_windows_name(ui):
    names = listed(ui)
    assert set(CONTROLNET_FILES) <= set(names), names
    assert SLASH_NAME not in names  # so the shipped workflow's value is not in the list on this server


def test_shipped_workflow_gets_the_listed_spelling_and_is_not_reported_missing(ui):
    data = json.loads(SHIPPED.read_text())
    node = controlnet_node(data)
    assert node["widgets_values"] == [SLASH_NAME] and node["properties"]["models"][0]["name"] == SLASH_NAME
    since = ui.mark()
    drop(ui, data, "portrait_on_windows.json")

    # the Missing Models dialog lists the two absent files, not the installed IdentityNet
    assert missing_models(ui) == {"checkpoints / sd_xl_base_1.0.safetensors", "instantid / ip-adapter.bin"}
    close_dialogs(ui)
    assert node_value(ui, node["id"]) == WINDOWS_NAME
    saved = {n["id"]: n for n in ui.call("serialize")["nodes"]}[node["id"]]
    assert saved["widgets_values"] == [WINDOWS_NAME]
    assert saved["properties"]["models"][0] == {**node["properties"]["models"][0], "name": WINDOWS_NAME}
    assert ui.call("workflowTabs")["modified"] is False  # the fix is part of the loaded state, not an edit
    # what Queue sends: the server accepts the IdentityNet value (and rejects the absent checkpoint)
    assert ui.call("apiPrompt")[str(node["id"])]["inputs"]["control_net_name"] == WINDOWS_NAME
    errors = queue_errors(ui)
    assert "value_not_in_list" in errors.get("1", []), errors
    assert str(node["id"]) not in errors, errors
    assert fix_lines(ui, since) == [
        f"[InstantID] ControlNetLoader #{node['id']} properties.models: '{SLASH_NAME}' -> '{WINDOWS_NAME}' {WHY}",
        f"[InstantID] workflow models: '{SLASH_NAME}' -> '{WINDOWS_NAME}' {WHY}",  # the top-level list too
        f"[InstantID] ControlNetLoader #{node['id']}: '{SLASH_NAME}' -> '{WINDOWS_NAME}' {WHY}"]
    assert not ui.problems(since), ui.problems(since)


def edge_case_workflow() -> tuple[dict, dict[int, str]]:
    """ControlNetLoader nodes with one value each (id -> value), the first three also with properties.models."""
    base = json.loads(SHIPPED.read_text())
    template = controlnet_node(base)
    values = {1: "rev\\b.safetensors",     # saved on Windows, real sub-folder here: fixed to rev/b
              2: "amb/x/c.safetensors",    # two listed names match: left alone
              3: "gone/z.safetensors",     # nothing matches: left alone
              4: "both/y.safetensors",     # in the list (the other spelling is too): left alone
              5: "both\\y.safetensors",    # in the list: left alone
              6: WINDOWS_NAME}             # in the list: left alone
    nodes = []
    for i, (nid, value) in enumerate(values.items()):
        node = copy.deepcopy(template)
        node.update(id=nid, order=i, pos=[0, 100 * i], title=f"case {nid}", widgets_values=[value])
        node["outputs"][0]["links"] = None
        if nid <= 3:
            url = f"https://huggingface.co/example/case{nid}/resolve/main/m.safetensors"
            node["properties"]["models"] = [{"name": value, "directory": "controlnet", "url": url}]
        else:
            del node["properties"]["models"]
        nodes.append(node)
    workflow = {**base, "nodes": nodes, "links": [], "groups": [], "last_node_id": max(values), "last_link_id": 0}
    workflow["extra"] = {}
    workflow.pop("models", None)  # the shipped workflow's own list: these cases are about the nodes' entries
    return workflow, values


def test_other_direction_is_fixed_and_listed_or_ambiguous_values_are_left_alone(ui):
    workflow, values = edge_case_workflow()
    since = ui.mark()
    drop(ui, workflow, "edge_cases.json")

    expected = {**values, 1: "rev/b.safetensors"}
    assert {nid: node_value(ui, nid) for nid in values} == expected
    # the dialog lists the ambiguous and the absent name as they are; the fixed one is installed
    assert missing_models(ui) == {"controlnet / amb/x/c.safetensors", "controlnet / gone/z.safetensors"}
    close_dialogs(ui)
    models = {n["id"]: n["properties"].get("models") for n in ui.call("serialize")["nodes"]}
    assert [models[nid][0]["name"] for nid in (1, 2, 3)] == [expected[1], values[2], values[3]]
    names = listed(ui)  # what the server's validation checks: only the two with no single match stay invalid
    assert [nid for nid in values if node_value(ui, nid) not in names] == [2, 3]
    assert fix_lines(ui, since) == [
        f"[InstantID] ControlNetLoader #1 properties.models: 'rev\\b.safetensors' -> 'rev/b.safetensors' {WHY}",
        f"[InstantID] ControlNetLoader #1: 'rev\\b.safetensors' -> 'rev/b.safetensors' {WHY}"]
    assert not ui.problems(since), ui.problems(since)


def test_node_inside_a_subgraph_is_fixed(ui):
    workflow, _ = edge_case_workflow()
    workflow["nodes"] = workflow["nodes"][:1]
    workflow["nodes"][0]["widgets_values"] = ["rev/b.safetensors"]  # in the list: loads unchanged
    del workflow["nodes"][0]["properties"]["models"]
    drop(ui, workflow, "subgraph_source.json")
    # the frontend makes the subgraph (its own definition format); then the inner value is set to the '\' name
    ui.page.js("(() => { const g = window.comfyAPI.app.app.graph;"
               " g.convertToSubgraph(new Set([__iid.nodeById(1)])); return true; })()")
    data = ui.call("serialize")
    [definition] = data["definitions"]["subgraphs"]
    [inner] = definition["nodes"]
    assert inner["type"] == "ControlNetLoader" and inner["widgets_values"] == ["rev/b.safetensors"]
    inner["widgets_values"] = ["rev\\b.safetensors"]
    since = ui.mark()
    drop(ui, data, "subgraph_from_windows.json")

    value = ui.page.js("(() => { const [sg] = window.comfyAPI.app.app.graph.subgraphs.values();"
                       " return sg.nodes.find((n) => n.type === 'ControlNetLoader').widgets[0].value; })()")
    assert value == "rev/b.safetensors"
    [line] = fix_lines(ui, since)
    assert line.startswith(f"[InstantID] ControlNetLoader #{inner['id']} in subgraph '{definition['name']}': "
                           "'rev\\b.safetensors' -> 'rev/b.safetensors'"), line
    [queued] = ui.call("apiPrompt").values()  # the inner node, as Queue sends it
    assert queued["class_type"] == "ControlNetLoader" and queued["inputs"]["control_net_name"] == "rev/b.safetensors"
    assert not ui.problems(since), ui.problems(since)


def test_workflow_restored_at_start_up_is_fixed(ui, chromium):  # noqa: F811
    """The frontend restores the last workflow from browser storage when the page opens (a new tab has no
    session storage, so 1.27 reads localStorage 'workflow', 1.58 its newest draft)."""
    data = json.loads(SHIPPED.read_text())
    node = controlnet_node(data)
    if ui.server.frontend.newer:  # 1.58 keeps drafts of the open tabs (its own format): leave one with the '/' name
        drop(ui, data, "restored_at_start_up.json")
        ui.call("setWidgets", node["id"], {"control_net_name": SLASH_NAME})
        ui.page.pump(2.0)  # the draft is written after a short delay
        assert ui.page.js("Object.keys(localStorage).some((k) => k.startsWith('Comfy.Workflow.Draft') &&"
                          f" localStorage.getItem(k).includes({json.dumps(SLASH_NAME)}))"), "no draft with the '/' name"
    else:
        ui.page.js(f"(localStorage.setItem('workflow', {json.dumps(json.dumps(data))}), true)")
    page = open_app(chromium, ui.server)
    try:
        page.wait_for("window.comfyAPI.app.app.extensionManager.workflow.activeWorkflow?.changeTracker?.activeState",
                      timeout=30, what="the restored workflow's tab")
        restored = page.js(f"(() => {{ const n = __iid.nodeById({node['id']});"
                           " return n && [n.type, n.widgets[0].value]; })()")
        assert restored == ["ControlNetLoader", WINDOWS_NAME]
    finally:
        page.close()
