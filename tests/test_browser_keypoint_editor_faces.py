"""The keypoint editor with several faces (web/keypoint_editor.js), in a real ComfyUI server and the real frontend
through headless Chromium, on both frontends with classic nodes and with Nodes 2.0: "add face" puts a second face
at a free spot (the first stays where it was drawn, the node's rotate/offset folded into it), the face preset list
gives the selected face a pose, dragging one face's point or the face itself leaves the other alone, and a run draws
what the Python node computes from the 'points' the editor wrote (keypoint image, and the faces of its layout);
"remove face" goes back to the one-face form, and undoing it is one step. The geometry module's several-faces
functions are checked against instantid_core's parser.

Skipped unless ComfyUI (COMFYUI_PATH) and Chromium are available."""
from __future__ import annotations

import json

import numpy as np
import pytest

from browser_support import COMFY, ComfyServer, colour_count, crop, needs_browser, open_app
from browser_support.frontends import WITH_VUE_NODES, frontend_fixture
from browser_support.session import Session, chromium  # noqa: F401  (chromium: the module's browser fixture)
from instantid_core.compute.keypoints import keypoint_image
from instantid_core.faces.manual_keypoints import PRESET_CENTRE, PRESET_POSES, parse_faces, points_json, \
    preset_shape
from instantid_core.faces.manual_layout import keypoint_box, manual_image_faces, place_faces
from test_browser_keypoint_editor import GRAPH, NODE, SHIFT, W, H, click, drag, run_and_read, shot, widgets

pytestmark = needs_browser
FACE_COLOURS = [(0xff, 0x2b, 0xd6), (0x00, 0xe5, 0xff)]  # web/keypoint_draw.js FACE_COLOURS[0], [1]
API = "window.InstantIDKeypointEditor"

frontend = frontend_fixture(WITH_VUE_NODES)  # classic nodes and Nodes 2.0, on both frontends


@pytest.fixture(scope="module")
def ui(tmp_path_factory, chromium, frontend):  # noqa: F811
    tmp = tmp_path_factory.mktemp("keypoint_editor_faces")
    server = ComfyServer(COMFY, tmp, frontend=frontend)
    server.start()
    page = open_app(chromium, server, also_ready=API)
    s = Session(server, page, tmp / "screens")
    s.ids = s.call("build", GRAPH)
    s.page.wait_for(f"!!{API}.screenFaces({s.ids['kps']})", timeout=20, what="the editor to draw the preset")
    yield s
    page.close()
    server.stop()


def screen_faces(ui) -> list:
    return [np.array(f) for f in ui.page.js(f"{API}.screenFaces({ui.ids['kps']})")]


def drawn_faces(ui) -> list:
    return [np.array(f) for f in ui.page.js(f"{API}.drawnFaces(window.comfyAPI.app.app.graph.getNodeById("
                                            f"{ui.ids['kps']}))")]


def placed(values) -> list:
    """What the node draws for these widget values (pixels), each face on its own."""
    return place_faces(parse_faces(values["points"], W, H), W, H, values["rotate"], values["scale"],
                       values["offset_x"], values["offset_y"])


def control(ui, action) -> str:
    return f"document.querySelector('.instantid-keypoint-editor[data-node-id=\"{ui.ids['kps']}\"] [data-action={action}]')"


def press(ui, action):
    """A real click on one of the editor's buttons."""
    b = ui.page.js(f"(() => {{ const b = {control(ui, action)}.getBoundingClientRect(); "
                   "return [b.left + b.width / 2, b.top + b.height / 2]; })()")
    click(ui, *b)


def choose_face_preset(ui, name):
    ui.page.js(f"(() => {{ const s = {control(ui, 'face-preset')}; s.value = {json.dumps(name)}; "
               "s.dispatchEvent(new Event('change', { bubbles: true })); return s.value; })()")
    ui.page.pump(0.2)


def inside_box_away_from_points(face) -> np.ndarray:
    """A spot within a face's box (screen px) that is no point of it: near the box's left edge, half way down
    (the points span the middle 45 % of the box)."""
    x1, y1, x2, y2 = keypoint_box(face)
    return np.array([x1 + 0.05 * (x2 - x1), (y1 + y2) / 2])


def test_add_a_face_choose_its_preset_drag_and_run(ui):
    kps = ui.ids["kps"]
    since = ui.mark()
    ui.call("setWidgets", kps, {"rotate": 10.0, "offset_x": 0.05})
    ui.call("focus", [kps], 1.5)
    ui.page.pump(0.3)
    [first] = drawn_faces(ui)
    # a click on the editor's help text: the frontend takes the widgets set above into its undo history on the
    # mouse's release, so that the count below sees only what "add face" does
    help_at = ui.page.js(f"(() => {{ const b = {control(ui, 'add-face')}.parentElement.firstChild"
                         ".getBoundingClientRect(); return [b.left + 5, b.top + b.height / 2]; })()")
    click(ui, *help_at)
    undo_before = ui.call("workflowTabs")["undo"] or 0

    press(ui, "add-face")
    values = widgets(ui)
    assert values["preset"] == "custom" and (values["rotate"], values["scale"], values["offset_x"],
                                             values["offset_y"]) == (0, 1, 0, 0)
    entries = json.loads(values["points"])
    assert len(entries) == 2 and entries[1]["preset"] == "frontal"
    faces = placed(values)
    assert np.allclose(faces[0], first, atol=0.05)  # the first face stays where it was drawn
    x1, _, x2, _ = keypoint_box(faces[1])
    assert x1 > keypoint_box(faces[0])[2] or x2 < keypoint_box(faces[0])[0]  # at a free spot: no overlap
    assert ui.page.js(f"{API}.selectedFace({kps})") == 1
    assert (ui.call("workflowTabs")["undo"] or 0) == undo_before + 1  # one undoable change
    assert np.allclose(np.concatenate(drawn_faces(ui)), np.concatenate(faces), atol=1e-3)

    choose_face_preset(ui, "three-quarter left")
    values = widgets(ui)
    entries = json.loads(values["points"])
    assert entries[1]["preset"] == "three-quarter left" and entries[0]["preset"] == "frontal"
    turned = placed(values)
    assert np.allclose(turned[0], faces[0], atol=1e-3)
    assert np.allclose(turned[1].mean(axis=0), faces[1].mean(axis=0), atol=0.05)  # where it was, turned
    assert turned[1][2, 0] < faces[1][2, 0] - 2  # the nose moved toward the picture's left

    # the second face's nose, dragged: only that point of that face moves
    screen = screen_faces(ui)
    k = np.linalg.norm(screen[0][1] - screen[0][0]) / np.linalg.norm(turned[0][1] - turned[0][0])
    drag(ui, screen[1][2], screen[1][2] + [8, 10])
    values = widgets(ui)
    dragged = placed(values)
    assert isinstance(json.loads(values["points"])[1], list)  # its own points now
    assert np.allclose(dragged[1][2] - turned[1][2], np.array([8, 10]) / k, atol=1.0)
    assert np.allclose(np.delete(dragged[1], 2, axis=0), np.delete(turned[1], 2, axis=0), atol=0.05)
    assert np.allclose(dragged[0], turned[0], atol=1e-3)

    # the first face, dragged by a spot inside its box: it moves, the second stays; then a Shift-drag turns it
    screen = screen_faces(ui)
    start = inside_box_away_from_points(screen[0])
    drag(ui, start, start + [-12, 6])
    assert ui.page.js(f"{API}.selectedFace({kps})") == 0
    moved = placed(widgets(ui))
    assert np.allclose(moved[0] - dragged[0], np.array([-12, 6]) / k, atol=1.0)
    assert np.allclose(moved[1], dragged[1], atol=1e-3)
    screen = screen_faces(ui)
    centre = screen[0].mean(axis=0)
    drag(ui, centre + [40, 0], centre + [0, 40], modifiers=SHIFT, steps=10)
    values = widgets(ui)
    turned_first = placed(values)
    rel, rel0 = turned_first[0] - moved[0].mean(axis=0), moved[0] - moved[0].mean(axis=0)
    assert np.allclose(rel, np.stack([-rel0[:, 1], rel0[:, 0]], 1), atol=2)  # a quarter turn about its centre
    assert np.allclose(turned_first[1], moved[1], atol=1e-3)

    img = shot(ui, "kpf_01_two_faces.png")
    for face, colour in zip(screen_faces(ui), FACE_COLOURS):  # each face's number tag, on its box, its colour
        x1, y1, _, _ = keypoint_box(face)
        assert colour_count(crop(img, {"x": x1 + 1, "y": y1 - 9, "width": 6, "height": 6}), colour, 30) >= 25

    image, inputs = run_and_read(ui)
    assert inputs["points"] == values["points"]
    want_faces = placed(inputs)
    want = (keypoint_image([(f, (W, H)) for f in want_faces], W, H)[0].numpy() * 255).round().astype(np.uint8)
    assert image.shape == (H, W, 3) and np.abs(image.astype(int) - want).max() <= 1
    assert np.allclose(np.concatenate(drawn_faces(ui)), np.concatenate(want_faces), atol=1e-3)  # as shown
    # the node's own account of the faces (its ui payload) and the layout it builds from them
    shown = ui.last_entry["outputs"][str(kps)]["instantid_keypoints"]
    assert [e["points"] for e in shown] == [points_json(f) for f in parse_faces(inputs["points"], W, H)]
    layout = manual_image_faces(want_faces, W, H)
    assert np.allclose([f.bbox for f in layout.faces], [keypoint_box(f) for f in drawn_faces(ui)], atol=1e-2)
    assert not ui.problems(since), ui.problems(since)


def test_remove_a_face_back_to_one_face_and_undo(ui):
    kps = ui.ids["kps"]
    since = ui.mark()
    ui.call("setWidgets", kps, {"rotate": 5.0})  # on top of the faces, until an edit folds it into them
    ui.call("focus", [kps], 1.5)
    ui.page.pump(0.3)
    before = widgets(ui)
    assert len(json.loads(before["points"])) == 2, "runs after the test that adds a face"
    two = placed(before)
    click(ui, *inside_box_away_from_points(screen_faces(ui)[1]))  # select the second face
    assert ui.page.js(f"{API}.selectedFace({kps})") == 1
    assert widgets(ui) == before  # selecting writes nothing (rotate stays on top of the faces)
    undo_before = ui.call("workflowTabs")["undo"] or 0

    press(ui, "remove-face")
    values = widgets(ui)
    one = json.loads(values["points"])
    assert len(one) == 5 and all(len(p) == 2 and not isinstance(p[0], list) for p in one)  # the one-face form
    assert np.allclose(placed(values)[0], two[0], atol=0.05)
    assert len(screen_faces(ui)) == 1
    assert ui.page.js(f"{control(ui, 'face-preset')}.style.display") == "none"
    assert (ui.call("workflowTabs")["undo"] or 0) == undo_before + 1
    shot(ui, "kpf_02_removed.png")

    ui.call("undo")
    ui.page.pump(0.5)
    ui.page.wait_for(f"!!{API}.screenFaces({kps})", timeout=10, what="the editor after undo")
    assert widgets(ui) == before and len(screen_faces(ui)) == 2
    assert not ui.problems(since), ui.problems(since)


FACES_GEOMETRY = """(async () => {
  const g = await import('/extensions/comfyui-instantid/keypoint_geometry.js');
  const presets = await (await fetch('/instantid_precision/keypoint_presets')).json();
  const texts = %s;
  const parsed = texts.map((t) => g.parseFaces(t, presets));
  return {
    points: parsed.map((faces) => faces && faces.map((f) => g.facePoints(f, presets, 320, 240))),
    written: parsed.map((faces) => faces && g.facesJson(faces, presets, 320, 240)),
    bad: ['[]', '[{"preset": "custom"}]', '[{"preset": "frontal", "centre": [0.5, 0.5]}]',
          '[{"points": [[0,0],[1,1],[0.5,0.5],[0.2,0.2],[0.3,0.3]], "scale": 2}]', '{"faces": 3}']
      .map((t) => g.parseFaces(t, presets)),
    free: g.freeSpot([], 320, 240),
  };
})()"""


def test_geometry_module_reads_and_writes_faces_like_the_node(ui):
    rng = np.random.default_rng(1)
    names = sorted(PRESET_POSES)
    faces = [{"preset": names[i % len(names)], "center": rng.uniform(0.2, 0.8, 2).round(4).tolist(),
              "scale": round(float(rng.uniform(0.3, 1.5)), 3), "rotate": round(float(rng.uniform(-90, 90)), 1)}
             for i in range(5)]
    pairs = rng.uniform(0.2, 0.8, (5, 2)).round(4).tolist()
    texts = [json.dumps(faces[:2]), json.dumps({"faces": [pairs, faces[2], {"points": pairs}]}), json.dumps(pairs),
             json.dumps({"points": pairs}), json.dumps([{"preset": "frontal"}, faces[3], faces[4]])]
    got = ui.page.js(FACES_GEOMETRY % json.dumps(texts))
    for text, js_faces, written in zip(texts, got["points"], got["written"]):
        want = parse_faces(text, W, H)
        assert len(js_faces) == len(want) and np.allclose(js_faces, want, atol=1e-6), text
        # what the editor writes back draws the same faces (rounded to 1/10000)
        assert np.allclose(parse_faces(written, W, H), want, atol=2e-4), text
    assert json.loads(got["written"][2]) == pairs  # one face keeps the one-face form
    assert got["bad"] == [None] * 5
    assert np.allclose(got["free"], [0.85, PRESET_CENTRE[1]])
    assert np.allclose(preset_shape("frontal").mean(axis=0), 0)  # a preset face's centre is its points' mean
