// comfyui-instantid: who went where, on "InstantID Multi-Person".
//
// After a run the node shows its layout: the faces' boxes left to right (on the layout photo when the Face Detect
// that found them shows its photo's Load Image), each with the number of the identity it got ("–": none). Drag a
// number onto another face to swap the two (onto a face without identity: move it there): the node's 'order'
// string is written, one identity per face left to right, and 'assignment' becomes "order", so the next run places
// the people as shown. The drawing is a DOM widget with a canvas of its own (canvas_widget.js), the same on the
// classic canvas and with Nodes 2.0; the last layout is kept on the saved node (`instantid_people_ui`).
import { app } from "../../scripts/app.js";
import { addPictureWidget } from "./canvas_widget.js";
import { chain, fitNode, recordGraphChange, setWidgetValue, shownImage, upstreamNode, widgetOf }
  from "./frontend_adapter.js";
import { t } from "./instantid_i18n.js";

const NODE = "InstantIDPrecision_MultiPerson";
const WIDGET = "instantid_people";
const STATE_KEY = "instantid_people_ui";
// one colour per identity (the Face Detect box colours, so identity 0 looks like face 0 of a detection)
const COLOURS = ["#ff2bd6", "#00e5ff", "#ffd400", "#7cff4f", "#ff7a1a", "#b388ff", "#ff5c5c", "#4fc3ff"];
const NONE_COLOUR = "#888";
const MARGIN = 10;
const MAX_HEIGHT = 320;
const TAG = 22; // the identity number's square, CSS px

// ---------------------------------------------------------------------------------------------- assignment

// The 'order' string for identities per face (left to right): "2,0,-".
export function orderString(identities) {
  return identities.map((i) => (i === null || i === undefined ? "-" : String(i))).join(",");
}

// Identity of face `from` dropped on face `to`: the two faces swap identities (a face without one gives none).
export function dropIdentity(identities, from, to) {
  const out = [...identities];
  [out[from], out[to]] = [identities[to] ?? null, identities[from] ?? null];
  return out;
}

// ---------------------------------------------------------------------------------------------- drawing

function layout(state, width) {
  const inner = Math.max(1, width - 2 * MARGIN);
  const scale = Math.min(inner / state.width, MAX_HEIGHT / state.height);
  return { x: (width - state.width * scale) / 2, y: 4, w: state.width * scale, h: state.height * scale, scale };
}

function pictureHeight(state, width) {
  return state?.boxes ? layout(state, width).h + 8 + 18 : 0;
}

// The photo of the layout: Face Detect's image input, when its picture is shown and has the layout's size.
function layoutPhoto(node, state) {
  const img = shownImage(upstreamNode(upstreamNode(node, "faces"), "image"));
  return img && img.naturalWidth === state.width && img.naturalHeight === state.height ? img : null;
}

function tag(ctx, text, cx, cy, colour, lifted = false) {
  ctx.fillStyle = colour;
  ctx.globalAlpha = lifted ? 0.85 : 1;
  ctx.fillRect(cx - TAG / 2, cy - TAG / 2, TAG, TAG);
  ctx.globalAlpha = 1;
  ctx.strokeStyle = "#000";
  ctx.lineWidth = 1;
  ctx.strokeRect(cx - TAG / 2 + 0.5, cy - TAG / 2 + 0.5, TAG - 1, TAG - 1);
  ctx.fillStyle = "#000";
  ctx.font = "bold 14px sans-serif";
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  ctx.fillText(text, cx, cy + 1);
}

function colourOf(identity) {
  return identity === null || identity === undefined ? NONE_COLOUR : COLOURS[identity % COLOURS.length];
}

function drawPeople(ctx, node, widget, width) {
  const state = widget.value;
  if (!state?.boxes) return;
  const p = layout(state, width);
  ctx.fillStyle = "#111";
  ctx.fillRect(p.x, p.y, p.w, p.h);
  const photo = layoutPhoto(node, state);
  if (photo) ctx.drawImage(photo, p.x, p.y, p.w, p.h);
  const hits = [];
  state.boxes.forEach(([x1, y1, x2, y2], face) => {
    const identity = state.identities[face];
    const r = { x: p.x + x1 * p.scale, y: p.y + y1 * p.scale, w: (x2 - x1) * p.scale, h: (y2 - y1) * p.scale };
    ctx.strokeStyle = colourOf(identity);
    ctx.lineWidth = 3;
    ctx.setLineDash(identity === null || identity === undefined ? [4, 3] : []);
    ctx.strokeRect(r.x, r.y, r.w, r.h);
    ctx.setLineDash([]);
    const centre = [r.x + r.w / 2, r.y + r.h / 2];
    const dragged = widget.drag?.face === face;
    if (!dragged) tag(ctx, identity === null || identity === undefined ? "–" : String(identity), ...centre,
      colourOf(identity));
    hits.push({ ...r, face, identity, centre });
  });
  widget.hits = hits;
  if (widget.drag) {
    const identity = state.identities[widget.drag.face];
    tag(ctx, String(identity), ...widget.drag.pos, colourOf(identity), true);
  }
  ctx.fillStyle = "#bbb";
  ctx.font = "12px sans-serif";
  ctx.textAlign = "left";
  ctx.textBaseline = "middle";
  ctx.fillText(t("people.help", "identity number on each face: drag one onto another face to swap"), MARGIN,
    p.y + p.h + 14, width - 2 * MARGIN);
}

// the face under the pointer: the box it is in (the smallest), else the nearest tag within reach
function faceAt(widget, pos) {
  const inside = (widget.hits ?? []).filter((h) => pos[0] >= h.x && pos[0] <= h.x + h.w && pos[1] >= h.y &&
    pos[1] <= h.y + h.h).sort((a, b) => a.w * a.h - b.w * b.h)[0];
  if (inside) return inside;
  return (widget.hits ?? []).find((h) => Math.abs(pos[0] - h.centre[0]) <= TAG / 2 &&
    Math.abs(pos[1] - h.centre[1]) <= TAG / 2) ?? null;
}

// ---------------------------------------------------------------------------------------------- the widget

function reassign(node, widget, from, to) {
  const state = widget.value;
  const identities = dropIdentity(state.identities, from, to);
  widget.value = { ...state, identities };
  node[STATE_KEY] = widget.value;
  setWidgetValue(node, "order", orderString(identities));
  setWidgetValue(node, "assignment", "order");
  recordGraphChange(node); // one undoable change; the workflow is marked modified
}

function makeWidget(node) {
  const widget = addPictureWidget(node, WIDGET, "instantid_people", {
    className: "instantid-people",
    label: t("people.label", "who goes where"),
    height: (width) => pictureHeight(widget?.value, width),
    draw: (ctx, width) => drawPeople(ctx, node, widget, width),
    pointer: {
      down(pos) {
        const hit = faceAt(widget, pos);
        if (!hit || hit.identity === null || hit.identity === undefined) return false;
        widget.drag = { face: hit.face, pos };
        widget.paint();
        return true;
      },
      move(pos) {
        widget.drag.pos = pos;
        widget.paint();
      },
      up(pos) {
        const from = widget.drag.face;
        widget.drag = null;
        const target = faceAt(widget, pos);
        if (target && target.face !== from) reassign(node, widget, from, target.face);
        widget.paint();
      },
      cursor: (pos) => (faceAt(widget, pos)?.identity ?? null) !== null ? "grab" : "default",
    },
  });
  return widget;
}

function show(node, state) {
  if (!state?.boxes || !Array.isArray(state.identities)) return;
  const widget = widgetOf(node, WIDGET) ?? makeWidget(node);
  widget.value = { width: state.width, height: state.height, boxes: state.boxes, identities: state.identities,
    identity_count: state.identity_count };
  node[STATE_KEY] = widget.value;
  widget.paint();
  fitNode(node, 360);
}

app.registerExtension({
  name: "comfyui-instantid.multi-person",
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (nodeData.name !== NODE) return;
    chain(nodeType.prototype, "onExecuted", function (output) {
      show(this, output?.instantid_people?.[0]);
    });
    chain(nodeType.prototype, "onSerialize", function (o) {
      if (this[STATE_KEY]) o[STATE_KEY] = JSON.parse(JSON.stringify(this[STATE_KEY]));
    });
    chain(nodeType.prototype, "onConfigure", function (info) {
      show(this, info?.[STATE_KEY] ?? info?.extensions?.[STATE_KEY]);
    });
  },
});

// for tests and other packs
window.InstantIDPeople = Object.freeze({ WIDGET, COLOURS, orderString, dropIdentity,
  // the faces' tags on the page (page px): [{face, identity, x, y}]
  tags(node) {
    const widget = widgetOf(node, WIDGET);
    const canvas = widget?.canvas;
    if (!canvas || !widget.hits) return null;
    const b = canvas.getBoundingClientRect();
    const k = b.width / (canvas.offsetWidth || 1);
    return widget.hits.map((h) => ({ face: h.face, identity: h.identity, x: b.left + h.centre[0] * k,
      y: b.top + h.centre[1] * k }));
  },
});
