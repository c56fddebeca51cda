// comfyui-instantid: the keypoint editor (manual keypoints, node InstantIDPrecision_ManualKeypoints): the glue.
//
// A canvas on the node (a DOM widget, so it works on the classic canvas and on Vue nodes alike) shows the five
// points on a frame of the output's shape, drawn like the keypoint image the node outputs. The editor only
// writes the node's own widgets, so every edit is saved in the workflow and sent with the prompt:
//   * drag a point: the pose so far (preset + rotate/scale/offset) becomes 'custom' points in `points`, with
//     rotate/scale/offset reset, then the point follows the pointer (what you see stays what is drawn);
//   * drag an empty spot: offset_x / offset_y;   Shift-drag: rotate;   wheel or Alt-drag: scale;
//   * choosing a preset writes its points into `points` (so 'custom' starts from what you see).
// The preset shapes come from the server (/instantid_precision/keypoint_presets), the one definition the node
// draws with. The parts: keypoint_geometry.js (pure), keypoint_draw.js (painting), keypoint_pointer.js (mouse);
// the frontend is reached through frontend_adapter.js only.
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";
import { addElementWidget, nodeById, onWidgetsChanged, recordGraphChange, setWidgetValue, widgetOf }
  from "./frontend_adapter.js";
import { t } from "./instantid_i18n.js";
import { CUSTOM, bakedValues, basePoints, drawnPoints, frameIn, outputSize, parsePoints, pointsJson, presetPoints,
  toView, transform } from "./keypoint_geometry.js";
import { COLOURS, paintKeypoints } from "./keypoint_draw.js";
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

// The pose as it is drawn now becomes plain 'custom' points, with no rotate/scale/offset left on top.
function bake(node) {
  const values = valuesOf(node);
  const drawn = drawnPoints(values, presets);
  if (!drawn) return false;
  const [w, h] = outputSize(values);
  quietly(node, () => setValues(node, bakedValues(drawn, w, h)));
  return true;
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
  const bar = el("div", {}, [help, reset, fromFaces]);
  Object.assign(bar.style, { display: "flex", gap: "6px", alignItems: "center", font: "11px sans-serif",
    color: "#aaa", flexWrap: "wrap" });
  return bar;
}

function makeEditor(node) {
  const canvas = el("canvas");
  Object.assign(canvas.style, { flex: "1 1 auto", minHeight: "120px", width: "100%", cursor: "crosshair",
    touchAction: "none", borderRadius: "4px" });
  const root = el("div", { className: "instantid-keypoint-editor", tabIndex: -1 }, [canvas, toolbar(node)]);
  root.dataset.captureWheel = "true"; // Nodes 2.0: the wheel scales the face while the editor has focus
  Object.assign(root.style, { outline: "none", display: "flex", flexDirection: "column", gap: "4px", width: "100%",
    height: "100%", boxSizing: "border-box", padding: "2px 4px" });

  const editor = {
    root,
    canvas,
    values: () => valuesOf(node),
    frame: () => frameIn(canvas.clientWidth, canvas.clientHeight, ...outputSize(valuesOf(node))),
    viewPoints() {
      const drawn = drawnPoints(valuesOf(node), presets);
      return drawn ? toView(editor.frame(), drawn) : null;
    },
    set: (values) => setValues(node, values),
    bake: () => bake(node),
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
      paintKeypoints(ctx, cw, ch, w, h, drawnPoints(values, presets),
        { grabbed, message: whyNoPoints(basePoints(values, presets).why) });
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
