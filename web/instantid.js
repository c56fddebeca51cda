// comfyui-instantid frontend extension.
//
// * InstantID Face Detect: after a run, the node shows the analysed photo (or a frame of its size) with every
//   detected face boxed and numbered with the face_index that selects it under the current 'selection' mode,
//   plus a compact list "0: 128×128 at (96,160)" in the user's ComfyUI language (instantid_i18n.js). Clicking a
//   box sets face_index (and switches 'largest'/'all' to 'index_by_size').
// * InstantID Precision / Offload and InstantID Image Projection: the report text (where each module lives,
//   which dtype it computes in) in a read-only text box.
//
// A node whose result comes from ComfyUI's cache gets no "executed" message when it is not an output node (the
// executor only walks the graph from outputs that must run), so after a successful run the results of our nodes
// that were not updated are read back from /history/<prompt_id>, which lists the UI output of every node of the
// prompt, cached or not.
//
// The display widgets are never sent to the server and never stored in widgets_values (so saved workflows keep
// their widget order); the last result is stored as `instantid_ui` on the serialised node, so it comes back when
// the workflow is reloaded, re-opened or its tab is switched. A re-run replaces it.
//
// Frontends: the same widgets on the classic canvas and in "Modern Node Design (Nodes 2.0)" (1.49.6 and 1.58.1):
// both are DOM widgets, the faces picture drawn in a <canvas> of its own (canvas_widget.js); the node parts they
// use are in frontend_adapter.js.
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";
import { t } from "./instantid_i18n.js";
import { addElementWidget, chain, fitNode, markChanged, nodeById, onWidgetsChanged, setWidgetValue, shownImage,
  upstreamNode, widgetOf } from "./frontend_adapter.js";
import { addPictureWidget } from "./canvas_widget.js";

const FACE_NODE = "InstantIDPrecision_FaceDetect";
const REPORT_NODES = new Set(["InstantIDPrecision_PrecisionOffload", "InstantIDPrecision_ImageProjection", "InstantIDPrecision_ModelDoctor",
  "InstantIDPrecision_MultiPerson", "InstantIDPrecision_GroupFaceCrop"]);
const FACES_WIDGET = "instantid_faces";
const REPORT_WIDGET = "instantid_report";
const STATE_KEY = "instantid_ui";
// One colour per face index (cycled); exported on window.InstantIDUI for tests and other packs.
const BOX_COLOURS = ["#ff2bd6", "#00e5ff", "#ffd400", "#7cff4f", "#ff7a1a", "#b388ff", "#ff5c5c", "#4fc3ff"];
const MAX_PANELS = 4; // images of a batch drawn side by side; the rest are only listed
const LINE_H = 15;
const MARGIN = 10;

// ---------------------------------------------------------------------------------------------- faces data

function orderFaces(image, selection) {
  // The node sends its face order (by size, or left to right; the same order as its preview and face_index) as
  // indices into the boxes, so the numbering stays right after 'selection' changes without sorting here.
  const boxes = image.boxes || [];
  const key = selection === "index_left_to_right" ? "index_left_to_right" : "index_by_size";
  const order = image.orders?.[key] ?? boxes.map((_, i) => i);
  return order.map((i) => ({ box: boxes[i] }));
}

function widgetValue(node, name) {
  return widgetOf(node, name)?.value;
}

function isChosen(node, index) {
  const selection = widgetValue(node, "selection");
  if (selection === "all") return true;
  if (selection === "largest") return index === 0;
  return index === Number(widgetValue(node, "face_index") ?? 0);
}

function summary(img, count, selection) {
  const size = { width: img.width, height: img.height, count };
  let text = count === 1 ? t("faces.summaryOne", "{width}×{height}, 1 face", size)
    : t("faces.summary", "{width}×{height}, {count} faces", size);
  if (count > 1) {
    text += selection === "index_left_to_right" ? t("faces.numberedLeftToRight", ", numbered left to right")
      : t("faces.numberedBySize", ", numbered by size");
  }
  return text;
}

function describe(images, selection) {
  const lines = [];
  images.forEach((img, n) => {
    const faces = orderFaces(img, selection);
    const head = images.length > 1 ? t("faces.imageHead", "image {index}: ", { index: n }) : "";
    lines.push({ text: head + summary(img, faces.length, selection), colour: null, index: -1 });
    faces.forEach((f, i) => {
      const [x1, y1, x2, y2] = f.box.map((v) => Math.round(v));
      lines.push({ text: t("faces.box", "{index}: {width}×{height} at ({x},{y})",
        { index: i, width: x2 - x1, height: y2 - y1, x: x1, y: y1 }),
      colour: BOX_COLOURS[i % BOX_COLOURS.length], index: i });
    });
  });
  return lines;
}

// The photo the faces were found in, when the node's image input comes (through reroutes) from a node that
// shows it (LoadImage) and the sizes match; otherwise the faces are drawn on an empty frame. A photo still
// loading repaints the picture when it arrives.
function sourceImage(node, width, height, repaint) {
  const src = upstreamNode(node, "image");
  const pending = src?.imgs?.[0];
  if (pending && !pending.complete && !pending.instantidWaiting) {
    pending.instantidWaiting = true;
    pending.addEventListener("load", () => { pending.instantidWaiting = false; repaint(); }, { once: true });
  }
  const img = shownImage(src);
  return img && img.naturalWidth === width && img.naturalHeight === height ? img : null;
}

// ---------------------------------------------------------------------------------------------- faces widget

function panelLayout(node, images, widgetWidth, y) {
  const shown = images.slice(0, MAX_PANELS);
  const inner = widgetWidth - 2 * MARGIN;
  const gap = 6;
  const each = (inner - gap * (shown.length - 1)) / Math.max(1, shown.length);
  const maxH = 260;
  const scale = Math.min(...shown.map((im) => Math.min(each / im.width, maxH / im.height)));
  const panels = [];
  let x = MARGIN;
  for (const im of shown) {
    const w = im.width * scale;
    const h = im.height * scale;
    panels.push({ x, y: y + 4, w, h, scale });
    x += w + gap;
  }
  const height = shown.length ? Math.max(...panels.map((p) => p.h)) + 8 : 0;
  return { panels, height };
}

function facesWidgetHeight(node, state, width) {
  if (!state?.images?.length) return 0;
  const { height } = panelLayout(node, state.images, width, 0);
  return height + describe(state.images, widgetValue(node, "selection")).length * LINE_H + 8;
}

function drawLabel(ctx, text, x, y, colour) {
  ctx.font = "bold 12px sans-serif";
  const w = ctx.measureText(text).width + 6;
  ctx.fillStyle = colour;
  ctx.fillRect(x, y, w, 15);
  ctx.fillStyle = "#000";
  ctx.textBaseline = "middle";
  ctx.fillText(text, x + 3, y + 8);
}

// The picture with the face boxes and the list under it, in the widget's own canvas (canvas_widget.js);
// `hits` are the face boxes in the coordinates the pointer handler gets.
function drawFaces(ctx, node, widget, widgetWidth) {
  const state = widget.value;
  if (!state?.images?.length) return;
  const selection = widgetValue(node, "selection");
  const { panels, height } = panelLayout(node, state.images, widgetWidth, 0);
  const hits = [];
  widget.hits = hits;
  panels.forEach((p, n) => {
    const im = state.images[n];
    const photo = sourceImage(node, im.width, im.height, () => widget.paint());
    waitForPhoto(node, widget, photo);
    ctx.fillStyle = "#111";
    ctx.fillRect(p.x, p.y, p.w, p.h);
    if (photo && state.images.length === 1) ctx.drawImage(photo, p.x, p.y, p.w, p.h);
    ctx.strokeStyle = "#555";
    ctx.lineWidth = 1;
    ctx.strokeRect(p.x + 0.5, p.y + 0.5, p.w - 1, p.h - 1);
    orderFaces(im, selection).forEach((f, i) => {
      const colour = BOX_COLOURS[i % BOX_COLOURS.length];
      const [x1, y1, x2, y2] = f.box;
      const r = { x: p.x + x1 * p.scale, y: p.y + y1 * p.scale, w: (x2 - x1) * p.scale, h: (y2 - y1) * p.scale };
      ctx.strokeStyle = colour;
      ctx.lineWidth = isChosen(node, i) ? 4 : 2;
      ctx.strokeRect(r.x, r.y, r.w, r.h);
      drawLabel(ctx, String(i), r.x, Math.max(p.y, r.y - 16), colour);
      hits.push({ ...r, index: i });
    });
  });
  let ty = height + LINE_H / 2 + 2;
  ctx.font = "12px monospace";
  ctx.textBaseline = "middle";
  for (const line of describe(state.images, selection)) {
    if (line.colour) {
      ctx.fillStyle = line.colour;
      ctx.fillRect(MARGIN, ty - 5, 10, 10);
    }
    ctx.fillStyle = line.index >= 0 && isChosen(node, line.index) ? "#fff" : "#bbb";
    ctx.fillText(line.text, line.colour ? MARGIN + 16 : MARGIN, ty);
    ty += LINE_H;
  }
}

// A photo input whose picture is not shown yet (a workflow just loaded, LoadImage still fetching): look again a
// few times, since the picture is painted once, not on every frame of the graph canvas.
function waitForPhoto(node, widget, photo) {
  if (photo || !upstreamNode(node, "image")) {
    widget.photoTries = 0;
    return;
  }
  widget.photoTries = (widget.photoTries ?? 0) + 1;
  if (widget.photoTries <= 20) setTimeout(() => widget.paint(), 250);
}

// the smallest box under the pointer (a small face inside a big box stays clickable)
function faceAt(widget, pos) {
  return (widget.hits ?? []).filter((h) => pos[0] >= h.x && pos[0] <= h.x + h.w && pos[1] >= h.y && pos[1] <= h.y + h.h)
    .sort((a, b) => a.w * a.h - b.w * b.h)[0] ?? null;
}

function makeFacesWidget(node) {
  const widget = addPictureWidget(node, FACES_WIDGET, "instantid_faces", {
    className: "instantid-faces",
    label: t("faces.label", "detected faces"),
    height: (width) => facesWidgetHeight(node, widget?.value, width),
    draw: (ctx, width) => drawFaces(ctx, node, widget, width),
    pointer: {
      down(pos) {
        const hit = faceAt(widget, pos);
        if (hit) pickFace(node, hit.index);
        return Boolean(hit);
      },
      cursor: (pos) => (faceAt(widget, pos) ? "pointer" : "default"),
    },
  });
  return widget;
}

function pickFace(node, index) {
  const selection = widgetValue(node, "selection");
  if (selection !== "index_by_size" && selection !== "index_left_to_right") {
    setWidgetValue(node, "selection", "index_by_size");
  }
  setWidgetValue(node, "face_index", index);
  markChanged(node);
}

let measureCtx = null;
function textWidth(text, font) {
  measureCtx ??= document.createElement("canvas").getContext("2d");
  measureCtx.font = font;
  return measureCtx.measureText(text).width;
}

function showFaces(node, images) {
  if (!Array.isArray(images)) return;
  let widget = widgetOf(node, FACES_WIDGET);
  if (!widget) {
    widget = makeFacesWidget(node);
    // the numbering and the chosen face follow these inputs
    onWidgetsChanged(node, ["selection", "face_index"], () => widget.paint());
  }
  widget.value = { images: images.map((im) => ({ width: im.width, height: im.height, boxes: im.boxes || [] })) };
  widget.paint();
  node[STATE_KEY] = { faces: widget.value.images };
  // wide enough for the list under the picture, whichever numbering 'selection' asks for
  const lines = ["index_by_size", "index_left_to_right"].flatMap((mode) => describe(widget.value.images, mode));
  const listWidth = Math.max(...lines.map((l) => textWidth(l.text, "12px monospace") + (l.colour ? 16 : 0)));
  fitNode(node, Math.min(640, Math.ceil(listWidth + 2 * MARGIN + 4)));
}

// ---------------------------------------------------------------------------------------------- report widget

const REPORT_FONT = "11px monospace";
const REPORT_LINE_H = 14;

function reportRows(text, width) {
  // rows of the wrapped text at this widget width (the textarea wraps long lines instead of scrolling)
  const usable = Math.max(80, width - 24);
  return text.split("\n").reduce((n, line) => n + Math.max(1, Math.ceil(textWidth(line, REPORT_FONT) / usable)), 0);
}

function makeReportWidget(node) {
  const el = document.createElement("textarea");
  el.className = "comfy-multiline-input instantid-report";
  el.readOnly = true;
  el.spellcheck = false;
  Object.assign(el.style, { font: REPORT_FONT, lineHeight: `${REPORT_LINE_H}px`, whiteSpace: "pre-wrap",
    overflowWrap: "anywhere", overflow: "auto", opacity: "0.9", resize: "none" });
  el.dataset.nodeId = String(node.id);
  const widget = addElementWidget(node, REPORT_WIDGET, "instantid_report", el, {
    getValue: () => el.value,
    setValue: (v) => { el.value = v ?? ""; },
    getMinHeight: () => reportRows(el.value, node.size[0]) * REPORT_LINE_H + 12,
  });
  widget.label = t("report.label", "report");
  return widget;
}

function showReport(node, text) {
  if (typeof text !== "string") return;
  let widget = widgetOf(node, REPORT_WIDGET);
  if (!widget) widget = makeReportWidget(node);
  widget.element.dataset.nodeId = String(node.id);
  widget.value = text;
  widget.element.value = text;
  node[STATE_KEY] = { report: text };
  const longest = Math.max(...text.split("\n").map((l) => textWidth(l, REPORT_FONT)));
  fitNode(node, Math.min(600, Math.ceil(longest + 34)));
}

// ---------------------------------------------------------------------------------------------- node hooks

function restore(node, state) {
  if (!state) return;
  if (node.comfyClass === FACE_NODE && state.faces) showFaces(node, state.faces);
  else if (REPORT_NODES.has(node.comfyClass) && typeof state.report === "string") showReport(node, state.report);
}

// ---------------------------------------------------------------------------------------------- cached results

function ourNode(id, classType) {
  const node = nodeById(id);
  if (!node || (classType && node.comfyClass !== classType)) return null;
  return node.comfyClass === FACE_NODE || REPORT_NODES.has(node.comfyClass) ? node : null;
}

function applyOutput(node, output) {
  if (node.comfyClass === FACE_NODE) showFaces(node, output?.instantid_faces);
  else showReport(node, Array.isArray(output?.text) ? output.text.join("\n") : output?.text);
}

async function backfill(promptId, updated) {
  // the prompt reaches the history just after "execution_success": retry briefly
  for (let attempt = 0; attempt < 10; attempt++) {
    try {
      const res = await api.fetchApi(`/history/${encodeURIComponent(promptId)}`);
      const entry = res.ok ? (await res.json())?.[promptId] : null;
      if (entry) {
        const classes = entry.prompt?.[2] ?? {};
        for (const [id, output] of Object.entries(entry.outputs ?? {})) {
          if (updated.has(String(id))) continue;
          const node = ourNode(id, classes[id]?.class_type);
          node?.onExecuted?.(output); // as if the "executed" message had come (every extension's handler)
        }
        return;
      }
    } catch (err) {
      console.debug("[InstantID] could not read the history of prompt", promptId, err);
      return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

function trackRuns() {
  let run = null; // {id, updated: Set of node ids that got an "executed" message}
  api.addEventListener("execution_start", ({ detail }) => { run = { id: detail?.prompt_id, updated: new Set() }; });
  api.addEventListener("executed", ({ detail }) => {
    if (run && detail?.prompt_id === run.id) run.updated.add(String(detail.display_node ?? detail.node));
  });
  api.addEventListener("execution_success", ({ detail }) => {
    if (run && detail?.prompt_id === run.id) backfill(run.id, run.updated);
    run = null;
  });
}

app.registerExtension({
  name: "comfyui-instantid.ui",
  setup() {
    trackRuns();
  },
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (nodeData.name !== FACE_NODE && !REPORT_NODES.has(nodeData.name)) return;
    chain(nodeType.prototype, "onExecuted", function (output) {
      applyOutput(this, output);
    });
    chain(nodeType.prototype, "onSerialize", function (o) {
      // a plain copy: with Nodes 2.0 the node is a reactive proxy, and the frontend structuredClone()s the result
      if (this[STATE_KEY]) o[STATE_KEY] = JSON.parse(JSON.stringify(this[STATE_KEY]));
    });
    chain(nodeType.prototype, "onConfigure", function (info) {
      restore(this, info?.[STATE_KEY] ?? info?.extensions?.[STATE_KEY]); // 1.58 also saves it under "extensions"
    });
  },
});

window.InstantIDUI = Object.freeze({ BOX_COLOURS, FACES_WIDGET, REPORT_WIDGET, STATE_KEY, orderFaces });
