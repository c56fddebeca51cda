// comfyui-instantid: a picture the pack draws itself, in its own <canvas> inside a DOM widget.
//
// Why not a canvas-drawn widget (LiteGraph's draw(ctx) hook): with "Modern Node Design (Nodes 2.0)" frontend 1.49.6
// does not draw such widgets at all, and 1.58.1 draws them on a small canvas of its own. A DOM widget is an element
// the frontend places over the graph canvas (classic nodes) or inside the Vue node (Nodes 2.0), so one <canvas>
// of ours shows the same picture everywhere; the frontend parts are in frontend_adapter.js (addElementWidget).
//
// `draw(ctx, width)` paints in CSS pixels of the element (x from 0 to width, y from 0 down) and returns nothing;
// `height(width)` says how tall the picture is at that width; pointer handlers get positions in the same CSS
// pixels whatever the graph's zoom. The widget is never saved in widgets_values nor sent with the prompt.
import { addElementWidget } from "./frontend_adapter.js";

const MIN_SHARPNESS = 2; // bitmap pixels per CSS pixel at least: the classic canvas zooms DOM widgets with CSS
const MAX_SHARPNESS = 4;

export function addPictureWidget(node, name, type, { className, height, draw, pointer = {}, label }) {
  const root = document.createElement("div");
  root.className = className;
  Object.assign(root.style, { width: "100%", boxSizing: "border-box", overflow: "hidden" });
  const canvas = document.createElement("canvas");
  Object.assign(canvas.style, { display: "block", width: "100%", height: "0px", touchAction: "none" });
  root.append(canvas);

  let state = null;
  const width = () => canvas.clientWidth || root.clientWidth || node.size?.[0] || 0;
  const widget = addElementWidget(node, name, type, root, {
    getValue: () => state,
    setValue: (v) => { state = v ?? null; },
    getMinHeight: () => Math.ceil(height(node.size?.[0] ?? width())),
  });
  if (label) widget.label = label;
  widget.canvas = canvas;

  // Paint now, at the element's current width; the canvas's CSS height follows the picture.
  widget.paint = () => {
    if (!node.graph || !root.isConnected) return; // removed (or not yet added): nothing to paint, no graph to ask
    root.dataset.nodeId = String(node.id);
    const w = width();
    if (!w) return; // not placed yet: the resize observer paints once it is
    const h = Math.max(0, Math.ceil(height(w)));
    if (canvas.style.height !== `${h}px`) canvas.style.height = `${h}px`;
    if (!h) return;
    const shown = canvas.getBoundingClientRect();
    const zoom = canvas.offsetWidth ? shown.width / canvas.offsetWidth : 1;
    const ratio = (window.devicePixelRatio || 1) * Math.min(MAX_SHARPNESS, Math.max(MIN_SHARPNESS, zoom));
    const bw = Math.round(w * ratio);
    const bh = Math.round(h * ratio);
    if (canvas.width !== bw || canvas.height !== bh) {
      canvas.width = bw;
      canvas.height = bh;
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, w, h);
    draw(ctx, w);
  };

  // page pixels -> the canvas's CSS pixels (the element may be scaled by the graph's zoom)
  const local = (e) => {
    const b = canvas.getBoundingClientRect();
    return [(e.clientX - b.left) * (canvas.offsetWidth / (b.width || 1)),
      (e.clientY - b.top) * (canvas.offsetHeight / (b.height || 1))];
  };
  let dragging = null; // pointerId while a press that a handler took goes on
  canvas.addEventListener("pointerdown", (e) => {
    if (e.button !== 0 || !pointer.down?.(local(e), e)) return;
    e.preventDefault();
    e.stopPropagation();
    dragging = e.pointerId;
    canvas.setPointerCapture?.(e.pointerId);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (dragging === e.pointerId) {
      e.stopPropagation();
      pointer.move?.(local(e), e);
    } else {
      canvas.style.cursor = pointer.cursor?.(local(e)) ?? "default";
    }
  });
  const end = (e) => {
    if (dragging !== e.pointerId) return;
    e.stopPropagation();
    dragging = null;
    canvas.releasePointerCapture?.(e.pointerId);
    pointer.up?.(local(e), e);
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);

  new ResizeObserver(() => widget.paint()).observe(root);
  return widget;
}
