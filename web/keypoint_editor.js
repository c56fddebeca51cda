// comfyui-instantid: the keypoint editor of "InstantID Keypoints (manual)".
//
// A canvas on the node (a DOM widget, so it works on the classic canvas and on Vue nodes alike) shows the five
// points on a frame of the output's shape, drawn like the keypoint image the node outputs. The editor only
// writes the node's own widgets, so every edit is saved in the workflow and sent with the prompt:
//   * drag a point: the pose so far (preset + rotate/scale/offset) becomes 'custom' points in `points`, with
//     rotate/scale/offset reset, then the point follows the pointer (what you see stays what is drawn);
//   * drag an empty spot: offset_x / offset_y;   Shift-drag: rotate;   wheel or Alt-drag: scale;
//   * choosing a preset writes its points into `points` (so 'custom' starts from what you see).
// The preset shapes come from the server (/instantid_precision/keypoint_presets), the one definition the node
// draws with; transform() is the node's transform_points (instantid_core/faces/hand_posed.py) in JavaScript.
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";
import { addElementWidget, nodeById, recordGraphChange, setWidgetValue } from "./frontend_adapter.js";

const NODE = "InstantIDPrecision_ManualKeypoints";
const EDITOR = "instantid_keypoint_editor";
const ROUTE = "/instantid_precision/keypoint_presets";
const UI_KEY = "instantid_keypoints";
const CUSTOM = "custom";
// the keypoint image's colours (instantid_core/compute/keypoints.py), limbs to the nose dimmed to 0.6
const COLOURS = ["#ff0000", "#00ff00", "#0000ff", "#ffff00", "#ff00ff"];
const LIMB_COLOURS = ["#990000", "#009900", "#000099", "#999900", "#990099"];
const LIMBS = [[0, 2], [1, 2], [3, 2], [4, 2]];
const NAMES = ["left eye", "right eye", "nose", "left mouth corner", "right mouth corner"];
const EDITOR_MIN_HEIGHT = 220;
const HIT_RADIUS = 10; // CSS px around a point that grab it

let presetData = null; // {centre, shapes}
const presetsReady = api.fetchApi(ROUTE).then((r) => r.json()).then((d) => { presetData = d; })
  .catch((err) => console.warn("[InstantID] keypoint presets unavailable:", err));

// ---------------------------------------------------------------------------------------------- geometry

function widget(node, name) {
  return node.widgets?.find((w) => w.name === name);
}

function value(node, name, fallback) {
  const v = widget(node, name)?.value;
  return v === undefined || v === null ? fallback : v;
}

function size(node) {
  return [Math.max(1, Number(value(node, "width", 1024))), Math.max(1, Number(value(node, "height", 1024)))];
}

function presetPoints(name, w, h) {
  const shape = presetData?.shapes?.[name];
  if (!shape) return null;
  const m = Math.min(w, h);
  const [cx, cy] = presetData.centre;
  return shape.map(([dx, dy]) => [(cx * w + dx * m) / w, (cy * h + dy * m) / h]);
}

function parsePoints(text) {
  if (typeof text !== "string" || !text.trim()) return null;
  try {
    let data = JSON.parse(text);
    if (data && !Array.isArray(data)) data = data.points;
    if (Array.isArray(data) && data.length === 5 &&
        data.every((p) => Array.isArray(p) && p.length === 2 && p.every((v) => Number.isFinite(v)))) return data;
  } catch { /* shown as "invalid points" */ }
  return null;
}

function pointsJson(points) {
  return JSON.stringify(points.map(([x, y]) => [round(x, 4), round(y, 4)]));
}

function round(v, digits) {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

// The five points before rotate/scale/offset (fractions of the canvas), or null with the reason.
function basePoints(node) {
  const [w, h] = size(node);
  const preset = value(node, "preset", "frontal");
  if (preset !== CUSTOM) return { points: presetPoints(preset, w, h), why: presetData ? "" : "presets not loaded" };
  const text = value(node, "points", "");
  const parsed = parsePoints(text);
  if (parsed) return { points: parsed, why: "" };
  if (text.trim()) return { points: null, why: "invalid points: see the 'points' text" };
  return { points: null, why: "no points: run once to start from the faces input, or choose a preset" };
}

// instantid_core.faces.hand_posed.transform_points: pixels, turned/scaled about the points' mean, then moved
function transform(points, w, h, rotate, scale, ox, oy) {
  const px = points.map(([x, y]) => [x * w, y * h]);
  const cx = px.reduce((s, p) => s + p[0], 0) / px.length;
  const cy = px.reduce((s, p) => s + p[1], 0) / px.length;
  const a = (rotate * Math.PI) / 180;
  const c = Math.cos(a) * scale;
  const s = Math.sin(a) * scale;
  return px.map(([x, y]) => [cx + c * (x - cx) - s * (y - cy) + ox * w, cy + s * (x - cx) + c * (y - cy) + oy * h]);
}

// The points the node draws, in output pixels (null when there are none yet).
function drawnPoints(node) {
  const { points } = basePoints(node);
  if (!points) return null;
  const [w, h] = size(node);
  return transform(points, w, h, Number(value(node, "rotate", 0)), Number(value(node, "scale", 1)),
    Number(value(node, "offset_x", 0)), Number(value(node, "offset_y", 0)));
}

// ---------------------------------------------------------------------------------------------- widget edits

function setValue(node, name, v) {
  setWidgetValue(node, name, v);
}

function changed(node) {
  recordGraphChange(node); // the workflow is marked modified and the change is undoable
  node[EDITOR]?.redraw();
}

// The pose as it is drawn now becomes plain 'custom' points, with no rotate/scale/offset left on top.
function bake(node) {
  const pts = drawnPoints(node);
  if (!pts) return false;
  const [w, h] = size(node);
  node.instantidQuiet = true; // our own preset change must not rewrite the points
  try {
    setValue(node, "preset", CUSTOM);
    setValue(node, "points", pointsJson(pts.map(([x, y]) => [x / w, y / h])));
    setValue(node, "rotate", 0);
    setValue(node, "scale", 1);
    setValue(node, "offset_x", 0);
    setValue(node, "offset_y", 0);
  } finally {
    node.instantidQuiet = false;
  }
  return true;
}

function onPresetChosen(node) {
  if (node.instantidQuiet) return;
  const preset = value(node, "preset", "frontal");
  const [w, h] = size(node);
  if (preset === CUSTOM) {
    // keep what is shown: the last preset's points become editable custom points
    if (!parsePoints(value(node, "points", "")) && node.instantidLastPreset) {
      const pts = presetPoints(node.instantidLastPreset, w, h);
      if (pts) setValue(node, "points", pointsJson(pts));
    }
  } else {
    presetsReady.then(() => {
      const pts = presetPoints(preset, w, h);
      if (pts) setValue(node, "points", pointsJson(pts));
      changed(node);
    });
    node.instantidLastPreset = preset;
  }
  changed(node);
}

// ---------------------------------------------------------------------------------------------- the editor

function makeEditor(node) {
  const root = document.createElement("div");
  root.className = "instantid-keypoint-editor";
  // Vue nodes (frontend 1.3x+) hand the wheel to the graph unless a focused element inside a
  // [data-capture-wheel] element has it: the editor takes focus under the pointer so the wheel scales the face
  root.dataset.captureWheel = "true";
  root.tabIndex = -1;
  root.style.outline = "none";
  Object.assign(root.style, { display: "flex", flexDirection: "column", gap: "4px", width: "100%",
    height: "100%", boxSizing: "border-box", padding: "2px 4px" });
  const canvas = document.createElement("canvas");
  Object.assign(canvas.style, { flex: "1 1 auto", minHeight: "120px", width: "100%", cursor: "crosshair",
    touchAction: "none", borderRadius: "4px" });
  const bar = document.createElement("div");
  Object.assign(bar.style, { display: "flex", gap: "6px", alignItems: "center", font: "11px sans-serif",
    color: "#aaa", flexWrap: "wrap" });
  const help = document.createElement("span");
  help.textContent = "drag a point · drag empty: move · Shift-drag: turn · wheel / Alt-drag: size";
  help.style.flex = "1 1 auto";
  const button = (text, title, action) => {
    const b = document.createElement("button");
    b.textContent = text;
    b.title = title;
    b.dataset.action = action;
    Object.assign(b.style, { font: "11px sans-serif", padding: "1px 6px", cursor: "pointer" });
    return b;
  };
  const reset = button("reset", "rotate 0, scale 1, no offset", "reset");
  const fromFaces = button("use faces", "start from the first face of the 'faces' input (on the next run)", "faces");
  bar.append(help, reset, fromFaces);
  root.append(canvas, bar);

  const editor = { root, canvas, frame: null, drag: null };

  // The output frame inside the canvas (CSS px), keeping the output's aspect ratio.
  editor.layout = () => {
    const [w, h] = size(node);
    const cw = canvas.clientWidth;
    const ch = canvas.clientHeight;
    const k = Math.min((cw - 4) / w, (ch - 4) / h);
    editor.frame = { x: (cw - w * k) / 2, y: (ch - h * k) / 2, k, w, h };
    return editor.frame;
  };

  editor.screenPoints = () => {
    const pts = drawnPoints(node);
    if (!pts) return null;
    const f = editor.layout();
    return pts.map(([x, y]) => [f.x + x * f.k, f.y + y * f.k]);
  };

  editor.redraw = () => {
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
    ctx.clearRect(0, 0, cw, ch);
    const f = editor.layout();
    ctx.fillStyle = "#000";
    ctx.fillRect(f.x, f.y, f.w * f.k, f.h * f.k);
    ctx.strokeStyle = "#555";
    ctx.strokeRect(f.x + 0.5, f.y + 0.5, f.w * f.k - 1, f.h * f.k - 1);
    const pts = editor.screenPoints();
    if (!pts) {
      ctx.fillStyle = "#bbb";
      ctx.font = "12px sans-serif";
      ctx.textAlign = "center";
      ctx.fillText(basePoints(node).why, cw / 2, ch / 2, cw - 10);
      return;
    }
    const limbWidth = Math.max(2, 8 * f.k);
    for (const [a, b] of LIMBS) {
      ctx.strokeStyle = LIMB_COLOURS[a];
      ctx.lineWidth = limbWidth;
      ctx.lineCap = "round";
      ctx.beginPath();
      ctx.moveTo(...pts[a]);
      ctx.lineTo(...pts[b]);
      ctx.stroke();
    }
    const r = Math.max(4, 10 * f.k);
    pts.forEach(([x, y], i) => {
      ctx.fillStyle = COLOURS[i];
      ctx.beginPath();
      ctx.arc(x, y, r, 0, 2 * Math.PI);
      ctx.fill();
      if (editor.drag?.index === i) {
        ctx.strokeStyle = "#fff";
        ctx.lineWidth = 2;
        ctx.stroke();
      }
    });
  };

  const local = (e) => {
    const b = canvas.getBoundingClientRect();
    // the canvas may be scaled by the graph's zoom (CSS transform): map page px to canvas CSS px
    return [(e.clientX - b.left) * (canvas.clientWidth / b.width), (e.clientY - b.top) * (canvas.clientHeight / b.height)];
  };

  const hit = (pos) => {
    const pts = editor.screenPoints();
    if (!pts) return -1;
    let best = -1;
    let bestD = Math.max(HIT_RADIUS, 10 * editor.frame.k);
    pts.forEach(([x, y], i) => {
      const d = Math.hypot(x - pos[0], y - pos[1]);
      if (d <= bestD) { best = i; bestD = d; }
    });
    return best;
  };

  canvas.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    e.preventDefault();
    e.stopPropagation();
    const pos = local(e);
    const pts = editor.screenPoints();
    if (!pts) return;
    const index = hit(pos);
    const centre = [pts.reduce((s, p) => s + p[0], 0) / 5, pts.reduce((s, p) => s + p[1], 0) / 5];
    let mode = "move";
    if (index >= 0 && !e.shiftKey && !e.altKey) mode = "point";
    else if (e.shiftKey) mode = "rotate";
    else if (e.altKey) mode = "scale";
    if (mode === "point" && !bake(node)) return;
    editor.drag = { mode, index, start: pos, centre, pointerId: e.pointerId,
      rotate: Number(value(node, "rotate", 0)), scale: Number(value(node, "scale", 1)),
      ox: Number(value(node, "offset_x", 0)), oy: Number(value(node, "offset_y", 0)) };
    canvas.setPointerCapture?.(e.pointerId);
    editor.redraw();
  });

  canvas.addEventListener("pointermove", (e) => {
    const d = editor.drag;
    if (!d) return;
    e.preventDefault();
    e.stopPropagation();
    const pos = local(e);
    const f = editor.frame;
    if (d.mode === "point") {
      const pts = parsePoints(value(node, "points", ""));
      const x = Math.min(1, Math.max(0, (pos[0] - f.x) / (f.w * f.k)));
      const y = Math.min(1, Math.max(0, (pos[1] - f.y) / (f.h * f.k)));
      pts[d.index] = [x, y];
      setValue(node, "points", pointsJson(pts));
    } else if (d.mode === "move") {
      const clamp = (v) => Math.min(1, Math.max(-1, v));
      setValue(node, "offset_x", round(clamp(d.ox + (pos[0] - d.start[0]) / (f.w * f.k)), 3));
      setValue(node, "offset_y", round(clamp(d.oy + (pos[1] - d.start[1]) / (f.h * f.k)), 3));
    } else if (d.mode === "rotate") {
      const angle = (p) => Math.atan2(p[1] - d.centre[1], p[0] - d.centre[0]);
      let deg = d.rotate + ((angle(pos) - angle(d.start)) * 180) / Math.PI;
      deg = ((((deg + 180) % 360) + 360) % 360) - 180;
      setValue(node, "rotate", round(deg, 1));
    } else if (d.mode === "scale") {
      const s = d.scale * Math.exp(-(pos[1] - d.start[1]) / 150);
      setValue(node, "scale", round(Math.min(5, Math.max(0.1, s)), 2));
    }
    editor.redraw();
  });

  const end = (e) => {
    if (!editor.drag) return;
    e.stopPropagation();
    canvas.releasePointerCapture?.(editor.drag.pointerId);
    editor.drag = null;
    changed(node);
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);

  canvas.addEventListener("pointerenter", () => {
    const active = document.activeElement;
    if (!active || active === document.body || !active.matches?.("input, textarea, [contenteditable]")) {
      root.focus({ preventScroll: true });
    }
  });

  canvas.addEventListener("wheel", (e) => {
    if (e.ctrlKey) return; // pinch / Ctrl+wheel still zooms the graph
    e.preventDefault();
    e.stopPropagation();
    const s = Number(value(node, "scale", 1)) * Math.exp(-e.deltaY * 0.001);
    setValue(node, "scale", round(Math.min(5, Math.max(0.1, s)), 2));
    changed(node);
  }, { passive: false });

  reset.addEventListener("click", (e) => {
    e.stopPropagation();
    for (const [name, v] of [["rotate", 0], ["scale", 1], ["offset_x", 0], ["offset_y", 0]]) setValue(node, name, v);
    changed(node);
  });
  fromFaces.addEventListener("click", (e) => {
    e.stopPropagation();
    node.instantidQuiet = true;
    try {
      setValue(node, "preset", CUSTOM);
      setValue(node, "points", "");
    } finally {
      node.instantidQuiet = false;
    }
    changed(node);
  });
  for (const el of [reset, fromFaces]) el.addEventListener("pointerdown", (e) => e.stopPropagation());

  new ResizeObserver(() => editor.redraw()).observe(canvas);
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
  node.instantidLastPreset = value(node, "preset", "frontal");
  // every widget the drawing depends on redraws it; the preset also rewrites the points
  for (const name of ["preset", "points", "width", "height", "rotate", "scale", "offset_x", "offset_y"]) {
    const target = widget(node, name);
    if (!target) continue;
    const previous = target.callback;
    target.callback = function (...args) {
      const r = previous?.apply(this, args);
      if (name === "preset") onPresetChosen(node);
      else if ((name === "width" || name === "height") && value(node, "preset", "frontal") !== CUSTOM &&
               !node.instantidQuiet) {
        const [pw, ph] = size(node);
        const pts = presetPoints(value(node, "preset", "frontal"), pw, ph);
        if (pts) setValue(node, "points", pointsJson(pts));
      }
      editor.redraw();
      return r;
    };
  }
  const [nw, nh] = node.size;
  node.setSize([Math.max(nw, 320), Math.max(nh, node.computeSize()[1])]);
  // nothing is written here: a loaded workflow keeps its values as saved (switching to 'custom' or dragging a
  // point fills 'points' from what is shown)
  presetsReady.then(() => editor.redraw());
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
      this.instantidLastPreset = value(this, "preset", "frontal");
      this[EDITOR]?.redraw();
      return r;
    };
    const executed = nodeType.prototype.onExecuted;
    nodeType.prototype.onExecuted = function (output) {
      const r = executed?.apply(this, [output]);
      const run = output?.[UI_KEY]?.[0];
      // points that came from the faces input become the custom points, ready to edit
      if (run?.source === "faces" && value(this, "preset", "frontal") === CUSTOM && !value(this, "points", "")) {
        setValue(this, "points", run.points);
        changed(this);
      }
      this[EDITOR]?.redraw();
      return r;
    };
  },
});

// for tests and other packs: the geometry, and a node's points on screen (page px)
window.InstantIDKeypointEditor = Object.freeze({
  NAMES, COLOURS, presetPoints, transform, basePoints, drawnPoints,
  screenPoints(id) {
    const node = nodeById(id);
    const editor = node?.[EDITOR];
    const pts = editor?.screenPoints();
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
