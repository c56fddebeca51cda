"""The identity nodes' display (web/identity_score.js) in a real ComfyUI server and frontend, through headless
Chromium, on both frontends with classic nodes and with Nodes 2.0: after a real run the Identity Score node shows
its table (a DOM widget, best row marked, on screen), the table is kept with the saved workflow and comes back on
reload, and the display never enters widgets_values or the prompt.

Skipped unless ComfyUI (COMFYUI_PATH) and Chromium are available."""
from __future__ import annotations

import pytest

from browser_support import COMFY, FACE_FILE, ComfyServer, needs_browser, open_app
from browser_support.frontends import WITH_VUE_NODES, frontend_fixture
from browser_support.session import Session, chromium  # noqa: F401  (chromium: the module's browser fixture)

pytestmark = needs_browser
SCORE = "InstantIDPrecision_IdentityScore"
WIDGET = "instantid_identity_display"
# the face photo scored against itself: one image, one reference, score 1
SPEC = {
    "img": {"type": "LoadImage", "pos": [0, 0], "widgets": {"image": FACE_FILE}},
    "fa": {"type": "InstantIDPrecision_FaceAnalysisLoader", "pos": [0, 440],
           "widgets": {"provider": "CPU", "det_size": "640"}},
    "det": {"type": "InstantIDPrecision_FaceDetect", "pos": [360, 0], "inputs": {"face_analysis": ["fa", 0],
                                                                             "image": ["img", 0]}},
    "score": {"type": SCORE, "pos": [760, 0], "widgets": {"face": "largest"},
              "inputs": {"face_analysis": ["fa", 0], "images": ["img", 0], "faces": ["det", 0]}},
}
TABLE = f"""(() => {{
  const node = window.comfyAPI.app.app.graph.nodes.find((n) => n.type === {SCORE!r});
  const w = node?.widgets?.find((x) => x.name === {WIDGET!r});
  if (!w) return null;
  const rows = [...w.element.querySelectorAll('tr')].map((tr) => [...tr.children].map((c) => c.textContent));
  const bold = [...w.element.querySelectorAll('tr')].map((tr) => tr.children[0]?.style.fontWeight === 'bold');
  const r = w.element.getBoundingClientRect();
  return {{rows, bold, visible: r.width > 0 && r.height > 0, connected: w.element.isConnected}};
}})()"""


frontend = frontend_fixture(WITH_VUE_NODES)


@pytest.fixture(scope="module")
def ui(tmp_path_factory, chromium, frontend):  # noqa: F811
    tmp = tmp_path_factory.mktemp("identity_score")
    server = ComfyServer(COMFY, tmp, frontend=frontend)
    server.prepare()
    server.start()
    page = open_app(chromium, server)
    s = Session(server, page, tmp / "screens")
    yield s
    page.close()
    server.stop()


def test_score_table_after_a_run_and_after_reload(ui):
    mark = ui.mark()
    ui.call("build", SPEC)
    ui.call("queue")
    done = ui.page.wait_for("__iid.finished()", timeout=180, what="the run to finish")
    assert done["type"] == "execution_success", done
    table = ui.page.wait_for(TABLE, timeout=20, what="the score table")
    assert table["rows"][0] == ["image", "A"] and table["rows"][1] == ["0", "1.0000"]
    assert table["bold"][1] and table["visible"] and table["connected"]
    [node_id] = ui.call("nodesOfType", SCORE)
    info = ui.call("nodeInfo", node_id)
    display = next(w for w in info["widgets"] if w["name"] == WIDGET)
    assert display["serialize"] is False and display["promptSerialize"] is False
    saved = ui.call("serialize")
    node = next(n for n in saved["nodes"] if n["type"] == SCORE)
    assert len(node["widgets_values"]) == 4  # face, face_index, on_no_face, preview_order: nothing of the display
    assert node["instantid_identity_ui"]["table"]["rows"] == [[0, 1.0]]
    prompt = ui.call("apiPrompt")
    assert set(prompt[str(node_id)]["inputs"]) == {"face_analysis", "images", "faces", "face", "face_index",
                                                    "on_no_face", "preview_order"}
    ui.call("blank")
    ui.call("load", saved)
    again = ui.page.wait_for(TABLE, timeout=20, what="the score table after reloading the workflow")
    assert again["rows"] == table["rows"]
    assert not ui.problems(mark)
