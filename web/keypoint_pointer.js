// comfyui-instantid: the keypoint editor's mouse: drag a point, drag an empty spot (move), Shift-drag (turn),
// Alt-drag or the wheel (size). It only reads and writes widget values through `editor` (keypoint_editor.js):
//   editor.values()        the node's widget values {preset, points, width, height, rotate, scale, offset_x, ...}
//   editor.frame()         the output frame in the canvas (keypoint_geometry.frameIn)
//   editor.viewPoints()    the drawn points in canvas CSS px, or null
//   editor.set(values)     write widget values;   editor.bake() -> false when there is nothing to bake
//   editor.changed()       one undoable change is done;   editor.paint(grabbed)
// With several faces the pointer picks a face (a point of it, or inside its box) and the drag acts on that face
// only; a plain drag outside every face moves them all (offset_x / offset_y), and the wheel sizes the selected one:
//   editor.viewFaces()     every face's drawn points in canvas CSS px, or null
//   editor.selected(), editor.select(i)
//   editor.faces()         the face entries with the node's transform folded in, or null
//   editor.setFace(i, entry)   write one face (and the others, that transform then at rest);   editor.presets()
// (a click that only selects a face writes nothing)
import { centreOf, dragValues, faceAt, faceDragEntry, movedFace, nearestPoint, outputSize, parsePoints, scaled }
  from "./keypoint_geometry.js";

const HIT_RADIUS = 10; // CSS px around a point that grab it

// page px -> the canvas's CSS px (the canvas may be scaled by the graph's zoom, a CSS transform)
function localPos(canvas, e) {
  const b = canvas.getBoundingClientRect();
  return [(e.clientX - b.left) * (canvas.clientWidth / b.width),
    (e.clientY - b.top) * (canvas.clientHeight / b.height)];
}

function dragMode(e, grabbed) {
  if (grabbed >= 0 && !e.shiftKey && !e.altKey) return "point";
  if (e.shiftKey) return "rotate";
  return e.altKey ? "scale" : "move";
}

export function handlePointer(canvas, focusTarget, editor) {
  let drag = null;

  // several faces: the drag of the face under the pointer (selected), or of all of them (offsets) outside them
  function startFaceDrag(e, pos, faces) {
    const hit = faceAt(faces, pos, Math.max(HIT_RADIUS, 10 * editor.frame().k), editor.selected());
    if (hit.face >= 0) editor.select(hit.face);
    const mode = dragMode(e, hit.point);
    const v = editor.values();
    if (hit.face < 0 && mode === "move") {
      editor.paint();
      return { mode, start: pos, pointerId: e.pointerId, ox: Number(v.offset_x ?? 0), oy: Number(v.offset_y ?? 0) };
    }
    const face = editor.selected();
    const entries = editor.faces();
    if (!entries?.[face]) return null;
    const [w, h] = outputSize(v);
    editor.paint(mode === "point" ? hit.point : -1);
    return { mode, face, index: hit.point, start: pos, centre: centreOf(faces[face]), entry: entries[face], w, h,
      pointerId: e.pointerId };
  }

  canvas.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    e.preventDefault();
    e.stopPropagation();
    const pos = localPos(canvas, e);
    const faces = editor.viewFaces();
    if (faces?.length > 1) {
      drag = startFaceDrag(e, pos, faces);
      if (drag) canvas.setPointerCapture?.(e.pointerId);
      return;
    }
    const pts = editor.viewPoints();
    if (!pts) return;
    const grabbed = nearestPoint(pts, pos, Math.max(HIT_RADIUS, 10 * editor.frame().k));
    const mode = dragMode(e, grabbed);
    if (mode === "point" && !editor.bake()) return;
    const v = editor.values();
    drag = { mode, index: grabbed, start: pos, centre: centreOf(pts), pointerId: e.pointerId,
      rotate: Number(v.rotate ?? 0), scale: Number(v.scale ?? 1), ox: Number(v.offset_x ?? 0),
      oy: Number(v.offset_y ?? 0) };
    canvas.setPointerCapture?.(e.pointerId);
    editor.paint(mode === "point" ? grabbed : -1);
  });

  canvas.addEventListener("pointermove", (e) => {
    if (!drag) return;
    e.preventDefault();
    e.stopPropagation();
    if (drag.face !== undefined) {
      editor.setFace(drag.face, faceDragEntry(drag, localPos(canvas, e), editor.frame(), editor.presets()));
      editor.paint(drag.mode === "point" ? drag.index : -1);
      return;
    }
    if (drag.mode === "point") drag.points = parsePoints(editor.values().points);
    if (drag.mode === "point" && !drag.points) return;
    editor.set(dragValues(drag, localPos(canvas, e), editor.frame()));
    editor.paint(drag.mode === "point" ? drag.index : -1);
  });

  const end = (e) => {
    if (!drag) return;
    e.stopPropagation();
    canvas.releasePointerCapture?.(drag.pointerId);
    drag = null;
    editor.changed();
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);

  // Vue nodes hand the wheel to the graph unless a focused element inside a [data-capture-wheel] element has it:
  // the editor takes focus under the pointer (not away from a text field being typed in)
  canvas.addEventListener("pointerenter", () => {
    const active = document.activeElement;
    if (!active || active === document.body || !active.matches?.("input, textarea, [contenteditable]")) {
      focusTarget.focus({ preventScroll: true });
    }
  });

  canvas.addEventListener("wheel", (e) => {
    if (e.ctrlKey) return; // pinch / Ctrl+wheel still zooms the graph
    e.preventDefault();
    e.stopPropagation();
    if (editor.viewFaces()?.length > 1) {
      const entries = editor.faces();
      const face = editor.selected();
      if (!entries?.[face]) return;
      const [w, h] = outputSize(editor.values());
      editor.setFace(face, movedFace(entries[face], w, h, { factor: Math.exp(-e.deltaY * 0.001) }));
    } else {
      editor.set({ scale: scaled(Number(editor.values().scale ?? 1), e.deltaY * 0.001) });
    }
    editor.changed();
  }, { passive: false });
}
