"""Model files from the UI, in the real ComfyUI frontend through headless Chromium: a workflow whose InstantID files
are missing opens the pack's download panel; "Download" runs the pack's downloader on the server (against a local
hub-shaped server, small files in the real layout), the rows show the files arriving, and the panel ends with the
Model Doctor's report; the Model Doctor node's button opens the same panel. The route takes catalog group names and
nothing else. The "N model file(s) missing" notice counts the rows its panel marks missing (a file of another size is
"present", with its size on disk), and closes once the files are there, after a refresh or a run. The command the
panel quotes shows its '/' as typed (the frontend's i18n escapes interpolated values).

Skipped unless ComfyUI (COMFYUI_PATH) and Chromium are available."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from browser_support import COMFY, ComfyServer, needs_browser, open_app
from browser_support.frontends import CLASSIC, frontend_fixture
from browser_support.session import Session, chromium  # noqa: F401  (chromium: the module's browser fixture)
from instantid_testkit.hub_server import HubServer
from instantid_testkit.tiny_catalog import Tiny

REPO = Path(__file__).resolve().parents[1]
pytestmark = needs_browser
BASE = "/instantid_precision/models"
PANEL = "#instantid-models-panel"


@pytest.fixture(scope="module")
def hub():
    with HubServer(lifetime=1800) as server:
        yield Tiny(server)


frontend = frontend_fixture(CLASSIC)


@pytest.fixture(scope="module")
def ui(tmp_path_factory, chromium, hub, frontend):
    tmp = tmp_path_factory.mktemp(f"model_downloads_{frontend.id}")
    server = ComfyServer(COMFY, tmp, frontend=frontend)
    server.tiny_models = False  # an empty models folder, as after a fresh install
    server.extra_env = {"HF_HUB_OFFLINE": "0", "INSTANTID_TEST_HUB": json.dumps(
        {"endpoint": hub.hub.url, "catalog": [dataclasses.asdict(f) for f in hub.catalog]})}
    server.start()
    page = open_app(chromium, server)
    yield Session(server, page, tmp / "screens")
    page.close()
    server.stop()


def panel_rows(ui):
    return ui.page.js(f"""[...document.querySelectorAll('{PANEL} tr')].map((r) => ({{
        name: r.dataset.file, status: r.querySelector('.iid-status').innerText,
        size: r.querySelector('.iid-size').innerText }}))""")


def panel_text(ui):
    return ui.page.js(f"document.querySelector('{PANEL}')?.innerText ?? null")


def test_route_accepts_catalog_groups_only(ui):
    for body, words in (({"groups": ["adapter"], "url": "http://127.0.0.1:1/x"}, "unknown field"),
                        ({"groups": ["../../etc/passwd"]}, "unknown group"),
                        ({"groups": []}, "one or more"), ([1, 2], "one or more")):
        status, answer = ui.server.post_json(BASE + "/download", body)
        assert status == 400 and words in answer["error"], (body, answer)
    assert ui.server.get_json(BASE)["download"] is None  # nothing was started
    assert not any((ui.server.base / "models").rglob("*.incomplete"))


def test_missing_files_open_the_panel_and_download_from_it(ui, hub):
    since = ui.mark()
    workflow = json.loads((REPO / "example_workflows" / "instantid_basic_portrait.json").read_text())
    ui.call("load", workflow, timeout=60)
    ui.page.wait_for(f"!!document.querySelector('{PANEL}')", timeout=20, what="the model download notice")
    assert "model file(s) missing" in panel_text(ui) and not panel_rows(ui)  # a one-line notice: the canvas stays free
    ui.page.js(f"[...document.querySelectorAll('{PANEL} button')].find((b) => b.innerText === 'Show').click()")
    text = panel_text(ui)
    assert "InstantID needs these model files" in text
    names = [r["name"] for r in panel_rows(ui)]
    assert names == [f.name for f in hub.catalog]  # the adapter, IdentityNet and antelopev2's files
    assert all(r["status"] == "missing" for r in panel_rows(ui))
    assert "models/insightface/models/antelopev2/glintr100.onnx" in text  # where each file goes
    command = ui.server.get_json(BASE)["command"]
    assert "/" in command and f"Same as: {command}" in text and "&#" not in text  # never HTML-escaped
    ui.page.js(f"[...document.querySelectorAll('{PANEL} button')].find((b) => b.innerText === 'Download').click()")
    ui.page.wait_for(f"document.querySelector('{PANEL}')?.innerText.includes('Model files downloaded')",
                     timeout=60, what="the download to finish")
    rows = panel_rows(ui)
    assert [r["status"] for r in rows] == ["downloaded"] * len(hub.catalog), rows
    assert "Model Doctor:" in panel_text(ui)  # the doctor's check of what is installed now
    models = ui.server.base / "models"
    for f, key in zip(hub.catalog, hub.data):
        assert (models / f.folder_kind / f.target).read_bytes() == hub.data[key]
    ui.page.screenshot(ui.shots / "model_download_done.png")
    assert not ui.problems(since), ui.problems(since)


def test_doctor_node_button_opens_the_panel(ui, hub):
    ui.page.js("window.InstantIDModels.close()")
    ui.call("blank")
    node = ui.page.js("""(() => { const n = LiteGraph.createNode('InstantIDPrecision_ModelDoctor');
        window.comfyAPI.app.app.graph.add(n);
        const b = n.widgets.find((w) => w.name === 'download models'); b.callback?.(); return n.widgets.map((w) => w.name); })()""")
    assert "download models" in node
    ui.page.wait_for(f"!!document.querySelector('{PANEL}')", timeout=20, what="the panel from the Doctor's button")
    assert [r["name"] for r in panel_rows(ui)] == [f.name for f in hub.catalog]
    serialized = ui.page.js("window.comfyAPI.app.app.graph.serialize().nodes.map((n) => n.widgets_values)")
    assert serialized == [[False]]  # the button is not saved with the workflow


def load_portrait(ui):
    ui.page.js("window.InstantIDModels.close()")
    workflow = json.loads((REPO / "example_workflows" / "instantid_basic_portrait.json").read_text())
    ui.call("load", workflow, timeout=60)
    return ui.page.wait_for("__iid_notice()", timeout=20, what="the missing-files notice")


def test_notice_counts_what_its_panel_lists_and_follows_the_disk(ui, hub):
    """After the download above: one file removed, one of another size. The notice says 1 missing, its panel
    lists exactly that one as missing and the other as present with its real size; once the file is back, a
    run closes the notice, and so does a refresh of the node definitions."""
    ui.page.js(f"window.__iid_notice = () => document.querySelector('{PANEL}.iid-notice .iid-notice-text')?.innerText")
    models = ui.server.base / "models"
    adapter, glintr = (models / f.folder_kind / f.target for f in (hub.catalog[0], hub.catalog[3]))
    adapter.unlink()
    glintr.write_bytes(glintr.read_bytes()[:700])  # another build of the file, say
    since = ui.mark()
    assert load_portrait(ui) == "InstantID: 1 model file(s) missing"
    ui.page.js(f"[...document.querySelectorAll('{PANEL} button')].find((b) => b.innerText === 'Show').click()")
    rows = {r["name"]: r for r in panel_rows(ui)}
    assert [n for n, r in rows.items() if r["status"] == "missing"] == [hub.catalog[0].name], rows
    assert rows[hub.catalog[3].name]["status"] == "present (size differs)"
    assert rows[hub.catalog[3].name]["size"].startswith("0.0 MB (published") and "/" not in rows[hub.catalog[3].name]["size"]
    assert ui.page.js(f"document.querySelector('{PANEL} tr[data-file=\"{hub.catalog[3].name}\"] .iid-bar > div').style.width") == "100%"

    # the file comes back (the command line, say) and the user runs something: the notice is read again
    assert load_portrait(ui) == "InstantID: 1 model file(s) missing"
    adapter.write_bytes(hub.data["adapter"])
    client = ui.page.js("window.comfyAPI.api.api.clientId")  # the run's messages go to the page that queued it
    status, answer = ui.server.post_json("/prompt", {"client_id": client, "prompt": {"1": {
        "class_type": "InstantIDPrecision_ModelDoctor", "inputs": {"verify_sha256": False}}}})
    assert status == 200, answer
    ui.page.wait_for(f"!document.querySelector('{PANEL}')", timeout=60, what="the notice to close after a run")
    # ...or refreshes the node definitions (R), which also lists the file in the loader from then on
    adapter.unlink()
    assert load_portrait(ui) == "InstantID: 1 model file(s) missing"
    adapter.write_bytes(hub.data["adapter"])
    ui.page.js("window.comfyAPI.app.app.refreshComboInNodes()")
    ui.page.wait_for(f"!document.querySelector('{PANEL}')", timeout=20, what="the notice to close after a refresh")

    assert not ui.problems(since), ui.problems(since)
