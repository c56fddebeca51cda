// comfyui-instantid: the keypoint editor (manual keypoints, node InstantIDPrecision_ManualKeypoints): the glue.
//
// A canvas on the node (a DOM widget, so it works on the classic canvas and on Vue nodes alike) shows the five
// points on a frame of the output's shape, drawn like the keypoint image the node outputs. The editor only
// writes the node's own widgets, so every edit is saved in the workflow and sent with the prompt:
//   * drag a point: the pose so far (preset + rotate/scale/offset) becomes 'custom' points in `points`, with
//     rotate/scale/offset reset, then the point follows the pointer (what you see stays what is drawn);
//   * drag an empty spot: offset_x / offset_y;   Shift-drag: rotate;   wheel or Alt-drag: scale;
//   * choosing a preset writes its points into `points` (so 'custom' starts from what you see).
// Several faces ('points' lists them; the node draws all and gives them to Multi-Person as a layout): "add face"
// puts a frontal face at a free spot, "remove face" drops the selected one, the face preset list gives the
// selected face a pose where it is; a click picks a face (by its points or inside its box) and the drags above
// then act on that face alone (a plain drag outside every face still moves them all). Each face is drawn with its
// number and box; edits fold the node's rotate/scale/offset into the faces, so what is shown stays what is drawn.
// One face is written in the one-face form, so a one-face workflow is saved as it always was.
// The preset shapes come from the server (/instantid_precision/keypoint_presets), the one definition the node
// draws with. The parts: keypoint_geometry.js (pure), keypoint_draw.js (painting), keypoint_pointer.js (mouse);
// the frontend is reached through frontend_adapter.js only.
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";
import { addElementWidget, nodeById, onWidgetsChanged, recordGraphChange, setWidgetValue, widgetOf }
  from "./frontend_adapter.js";
import { t } from "./instantid_i18n.js";
import { CUSTOM, baseFaces, bakedFaces, bakedValues, basePoints, drawnFaces, drawnPoints, facesValues, frameIn,
  outputSize, parsePoints, pointsJson, presetPoints, toView, transform, withNewFace, withPreset }
  from "./keypoint_geometry.js";
import { COLOURS, FACE_COLOURS, paintFaces } from "./keypoint_draw.js";
import { handlePointer } from "./keypoint_pointer.js";
import { el } from "./panel.js";

const NODE = "InstantIDPrecision_ManualKeypoints";
const EDITOR = "instantid_keypoint_editor";
const ROUTE = "/instantid_precision/keypoint_presets";
const UI_KEY = "instantid_keypoints";
const NAMES = ["left eye", "right eye", "nose", "left mouth corner", "right mouth corner"];
const VALUE_NAMES = ["preset", "points", "width", "height", "rotate", "scale", "offset_x", "offset_y"];
const EDITOR_MIN_HEIGHT = 220;

let presets = null; // {centre, shapes}
const presetsReady = api.fetchApi(ROUTE).then((r) => r.json()).then((d) => { presets = d; })
  .catch((err) => console.warn("[InstantID] keypoint presets unavailable:", err));

// ---------------------------------------------------------------------------------------------- widget values

function valuesOf(node) {
  return Object.fromEntries(VALUE_NAMES.map((name) => [name, widgetOf(node, name)?.value ?? undefined]));
}

function setValues(node, values) {
  for (const [name, v] of Object.entries(values)) setWidgetValue(node, name, v);
}

function changed(node) {
  recordGraphChange(node); // the workflow is marked modified and the change is undoable
  node[EDITOR]?.paint();
}

// Writes made by the editor itself: a 'preset' set to custom must not rewrite the points.
function quietly(node, fn) {
  node.instantidQuiet = true;
  try {
    fn();
  } finally {
    node.instantidQuiet = false;
  }
}

// The pose as it is drawn now becomes plain 'custom' points, with no rotate/scale/offset left on top (one face).
function bake(node) {
  const values = valuesOf(node);
  const drawn = drawnFaces(values, presets);
  if (drawn?.length !== 1) return false;
  const [w, h] = outputSize(values);
  quietly(node, () => setValues(node, bakedValues(drawn[0], w, h)));
  return true;
}

function writeFaces(node, faces) {
  const [w, h] = outputSize(valuesOf(node));
  quietly(node, () => setValues(node, facesValues(faces, presets, w, h)));
}

function selectedFace(node, count) {
  return Math.min(Math.max(0, node.instantidSelectedFace ?? 0), Math.max(0, count - 1));
}

function addFace(node) {
  if (!presets) return;
  const [w, h] = outputSize(valuesOf(node));
  const faces = withNewFace(bakedFaces(valuesOf(node), presets) ?? [], presets, w, h);
  writeFaces(node, faces);
  node.instantidSelectedFace = faces.length - 1;
}

function removeFace(node) {
  const faces = bakedFaces(valuesOf(node), presets);
  if (!faces || faces.length < 2) return;
  const index = selectedFace(node, faces.length);
  writeFaces(node, faces.filter((_, i) => i !== index));
  node.instantidSelectedFace = Math.max(0, index - 1);
}

function setFacePreset(node, name) {
  const faces = bakedFaces(valuesOf(node), presets);
  if (!faces || !presets?.shapes?.[name]) return;
  const index = selectedFace(node, faces.length);
  const [w, h] = outputSize(valuesOf(node));
  faces[index] = withPreset(faces[index], name, presets, w, h);
  writeFaces(node, faces);
}

function onPresetChosen(node) {
  if (node.instantidQuiet) return;
  const values = valuesOf(node);
  const preset = values.preset ?? "frontal";
  const [w, h] = outputSize(values);
  if (preset === CUSTOM) {
    // keep what is shown: the last preset's points become editable custom points
    if (!parsePoints(values.points ?? "") && node.instantidLastPreset) {
      const pts = presetPoints(presets, node.instantidLastPreset, w, h);
      if (pts) setWidgetValue(node, "points", pointsJson(pts));
    }
  } else {
    presetsReady.then(() => {
      const pts = presetPoints(presets, preset, w, h);
      if (pts) setWidgetValue(node, "points", pointsJson(pts));
      changed(node);
    });
    node.instantidLastPreset = preset;
  }
  changed(node);
}

// A new width/height moves a preset's points with the new shape (custom points stay as typed).
function onSizeChosen(node) {
  const values = valuesOf(node);
  if ((values.preset ?? "frontal") === CUSTOM || node.instantidQuiet) return;
  const [w, h] = outputSize(values);
  const pts = presetPoints(presets, values.preset ?? "frontal", w, h);
  if (pts) setWidgetValue(node, "points", pointsJson(pts));
}

// the face presets' names as shown (the values written stay the node's preset names)
function presetLabel(name) {
  const labels = {
    "frontal": () => t("keypoints.presetFrontal", "frontal"),
    "three-quarter left": () => t("keypoints.presetThreeQuarterLeft", "three-quarter left"),
    "three-quarter right": () => t("keypoints.presetThreeQuarterRight", "three-quarter right"),
    "profile-ish left": () => t("keypoints.presetProfileLeft", "profile-ish left"),
    "profile-ish right": () => t("keypoints.presetProfileRight", "profile-ish right"),
    "tilted left": () => t("keypoints.presetTiltedLeft", "tilted left"),
    "tilted right": () => t("keypoints.presetTiltedRight", "tilted right"),
  };
  return labels[name]?.() ?? name;
}

function whyNoPoints(why) {
  if (!why) return "";
  if (why === "presets") return t("keypoints.presetsMissing", "presets not loaded");
  if (why === "invalid") return t("keypoints.invalidPoints", "invalid points: see the 'points' text");
  return t("keypoints.noPoints", "no points: run once to start from the faces input, or choose a preset");
}

// ---------------------------------------------------------------------------------------------- the editor

function toolbar(node) {
  const button = (text, title, action, onClick) => {
    const b = el("button", { type: "button", textContent: text, title });
    b.dataset.action = action;
    Object.assign(b.style, { font: "11px sans-serif", padding: "1px 6px", cursor: "pointer" });
    b.addEventListener("pointerdown", (e) => e.stopPropagation());
    b.addEventListener("click", (e) => {
      e.stopPropagation();
      onClick();
      changed(node);
    });
    return b;
  };
  const help = el("span", { textContent: t("keypoints.help",
    "drag a point · drag empty: move · Shift-drag: turn · wheel / Alt-drag: size") });
  help.style.flex = "1 1 auto";
  const reset = button(t("keypoints.reset", "reset"), t("keypoints.resetTitle", "rotate 0, scale 1, no offset"),
    "reset", () => setValues(node, { rotate: 0, scale: 1, offset_x: 0, offset_y: 0 }));
  const fromFaces = button(t("keypoints.useFaces", "use faces"),
    t("keypoints.useFacesTitle", "start from the first face of the 'faces' input (on the next run)"), "faces",
    () => quietly(node, () => setValues(node, { preset: CUSTOM, points: "" })));
  const add = button(t("keypoints.addFace", "add face"),
    t("keypoints.addFaceTitle", "add a frontal face at a free spot (several faces: a layout for Multi-Person)"),
    "add-face", () => addFace(node));
  const remove = button(t("keypoints.removeFace", "remove face"),
    t("keypoints.removeFaceTitle", "remove the selected face"), "remove-face", () => removeFace(node));
  const facePreset = el("select", { title: t("keypoints.facePresetTitle", "the selected face's pose") });
  facePreset.dataset.action = "face-preset";
  Object.assign(facePreset.style, { font: "11px sans-serif", maxWidth: "150px" });
  facePreset.addEventListener("pointerdown", (e) => e.stopPropagation());
  facePreset.addEventListener("change", (e) => {
    e.stopPropagation();
    setFacePreset(node, facePreset.value);
    changed(node);
  });
  const faceLabel = el("span");
  const bar = el("div", {}, [help, faceLabel, facePreset, add, remove, reset, fromFaces]);
  // shows the selected face and its pose (several faces only)
  bar.instantidUpdate = (faces) => {
    const several = (faces?.length ?? 0) > 1;
    const index = selectedFace(node, faces?.length ?? 0);
    help.textContent = several ? t("keypoints.helpFaces",
      "click a face to select it · drag a point · drag a face: move · Shift-drag: turn · wheel / Alt-drag: size")
      : t("keypoints.help", "drag a point · drag empty: move · Shift-drag: turn · wheel / Alt-drag: size");
    for (const part of [faceLabel, facePreset, remove]) part.style.display = several ? "" : "none";
    if (!several) return;
    faceLabel.textContent = t("keypoints.faceLabel", "face {n}:", { n: index });
    faceLabel.style.color = FACE_COLOURS[index % FACE_COLOURS.length];
    const names = Object.keys(presets?.shapes ?? {});
    if (facePreset.options.length !== names.length + 1) {
      facePreset.replaceChildren(el("option", { value: CUSTOM, textContent: t("keypoints.ownPoints", "own points"),
        disabled: true }), ...names.map((n) => el("option", { value: n, textContent: presetLabel(n) })));
    }
    facePreset.value = faces[index].preset ?? CUSTOM;
  };
  Object.assign(bar.style, { display: "flex", gap: "6px", alignItems: "center", font: "11px sans-serif",
    color: "#aaa", flexWrap: "wrap" });
  return bar;
}

function makeEditor(node) {
  const canvas = el("canvas");
  Object.assign(canvas.style, { flex: "1 1 auto", minHeight: "120px", width: "100%", cursor: "crosshair",
    touchAction: "none", borderRadius: "4px" });
  const bar = toolbar(node);
  const root = el("div", { className: "instantid-keypoint-editor", tabIndex: -1 }, [canvas, bar]);
  root.dataset.captureWheel = "true"; // Nodes 2.0: the wheel scales the face while the editor has focus
  Object.assign(root.style, { outline: "none", display: "flex", flexDirection: "column", gap: "4px", width: "100%",
    height: "100%", boxSizing: "border-box", padding: "2px 4px" });

  const editor = {
    root,
    canvas,
    values: () => valuesOf(node),
    frame: () => frameIn(canvas.clientWidth, canvas.clientHeight, ...outputSize(valuesOf(node))),
    viewPoints() {
      const drawn = drawnFaces(valuesOf(node), presets);
      return drawn?.length === 1 ? toView(editor.frame(), drawn[0]) : null;
    },
    viewFaces() {
      const drawn = drawnFaces(valuesOf(node), presets);
      return drawn ? drawn.map((pts) => toView(editor.frame(), pts)) : null;
    },
    selected: () => selectedFace(node, drawnFaces(valuesOf(node), presets)?.length ?? 0),
    select: (index) => { node.instantidSelectedFace = index; },
    presets: () => presets,
    set: (values) => setValues(node, values),
    setFace(index, entry) {
      const faces = bakedFaces(valuesOf(node), presets);
      if (!faces?.[index]) return;
      faces[index] = entry;
      writeFaces(node, faces);
    },
    bake: () => bake(node),
    faces: () => bakedFaces(valuesOf(node), presets),
    changed: () => changed(node),
    paint(grabbed = -1) {
      root.dataset.nodeId = String(node.id); // known once the node is in a graph (not yet in onNodeCreated)
      const ratio = window.devicePixelRatio || 1;
      const cw = canvas.clientWidth;
      const ch = canvas.clientHeight;
      if (!cw || !ch) return;
      if (canvas.width !== Math.round(cw * ratio) || canvas.height !== Math.round(ch * ratio)) {
        canvas.width = Math.round(cw * ratio);
        canvas.height = Math.round(ch * ratio);
      }
      const ctx = canvas.getContext("2d");
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      const values = valuesOf(node);
      const [w, h] = outputSize(values);
      const faces = drawnFaces(values, presets);
      paintFaces(ctx, cw, ch, w, h, faces, { grabbed, selected: selectedFace(node, faces?.length ?? 0),
        message: whyNoPoints(baseFaces(values, presets).why) });
      bar.instantidUpdate(baseFaces(values, presets).faces);
    },
  };
  handlePointer(canvas, root, editor);
  new ResizeObserver(() => editor.paint()).observe(canvas);
  return editor;
}

function setUp(node) {
  if (node[EDITOR]) return;
  const editor = makeEditor(node);
  node[EDITOR] = editor;
  addElementWidget(node, EDITOR, "instantid_keypoint_editor", editor.root, {
    getValue: () => undefined,
    setValue: () => {},
    getMinHeight: () => EDITOR_MIN_HEIGHT,
  });
  node.instantidLastPreset = widgetOf(node, "preset")?.value ?? "frontal";
  // every widget the drawing depends on repaints it; the preset and the size also rewrite a preset's points
  onWidgetsChanged(node, ["preset"], onPresetChosen);
  onWidgetsChanged(node, ["width", "height"], onSizeChosen);
  onWidgetsChanged(node, VALUE_NAMES, () => editor.paint());
  const [nw, nh] = node.size;
  node.setSize([Math.max(nw, 320), Math.max(nh, node.computeSize()[1])]);
  // nothing is written here: a loaded workflow keeps its values as saved (switching to 'custom' or dragging a
  // point fills 'points' from what is shown)
  presetsReady.then(() => editor.paint());
}

app.registerExtension({
  name: "comfyui-instantid.keypoint-editor",
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (nodeData.name !== NODE) return;
    const created = nodeType.prototype.onNodeCreated;
    nodeType.prototype.onNodeCreated = function (...args) {
      const r = created?.apply(this, args);
      setUp(this);
      return r;
    };
    const configured = nodeType.prototype.onConfigure;
    nodeType.prototype.onConfigure = function (...args) {
      const r = configured?.apply(this, args);
      this.instantidLastPreset = widgetOf(this, "preset")?.value ?? "frontal";
      this[EDITOR]?.paint();
      return r;
    };
    const executed = nodeType.prototype.onExecuted;
    nodeType.prototype.onExecuted = function (output) {
      const r = executed?.apply(this, [output]);
      const run = output?.[UI_KEY]?.[0];
      const values = valuesOf(this);
      // points that came from the faces input become the custom points, ready to edit
      if (run?.source === "faces" && (values.preset ?? "frontal") === CUSTOM && !values.points) {
        setWidgetValue(this, "points", run.points);
        changed(this);
      }
      this[EDITOR]?.paint();
      return r;
    };
  },
});

// for tests and other packs: the geometry, and a node's points on screen (page px)
window.InstantIDKeypointEditor = Object.freeze({
  NAMES, COLOURS, transform,
  presetPoints: (name, w, h) => presetPoints(presets, name, w, h),
  basePoints: (node) => basePoints(valuesOf(node), presets),
  drawnPoints: (node) => drawnPoints(valuesOf(node), presets),
  drawnFaces: (node) => drawnFaces(valuesOf(node), presets),
  selectedFace: (id) => selectedFace(nodeById(id), drawnFaces(valuesOf(nodeById(id)), presets)?.length ?? 0),
  screenFaces(id) {
    const editor = nodeById(id)?.[EDITOR];
    const faces = editor?.viewFaces();
    if (!faces) return null;
    const b = editor.canvas.getBoundingClientRect();
    const sx = b.width / editor.canvas.clientWidth;
    const sy = b.height / editor.canvas.clientHeight;
    return faces.map((pts) => pts.map(([x, y]) => [b.left + x * sx, b.top + y * sy]));
  },
  screenPoints(id) {
    const editor = nodeById(id)?.[EDITOR];
    const pts = editor?.viewPoints();
    if (!pts) return null;
    const b = editor.canvas.getBoundingClientRect();
    const sx = b.width / editor.canvas.clientWidth;
    const sy = b.height / editor.canvas.clientHeight;
    return pts.map(([x, y]) => [b.left + x * sx, b.top + y * sy]);
  },
  canvasRect(id) {
    const c = nodeById(id)?.[EDITOR]?.canvas;
    if (!c) return null;
    const b = c.getBoundingClientRect();
    return { x: b.left, y: b.top, width: b.width, height: b.height };
  },
});
