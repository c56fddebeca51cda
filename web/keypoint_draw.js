// comfyui-instantid: how the keypoint editor paints each face's five points, like the keypoint image the node outputs
// (instantid_core's keypoint drawing: coloured dots, limbs to the nose in the same colours at 0.6).
// Several faces: each also gets its box (the one the node derives for Multi-Person) and its number (its index in
// 'points', as in the node's messages and Multi-Person's 'order'), in one colour per face: the Face Detect box
// colours Multi-Person uses too. The selected face's box is solid, the others dashed.
import { faceBox, frameIn, toView } from "./keypoint_geometry.js";

export const COLOURS = ["#ff0000", "#00ff00", "#0000ff", "#ffff00", "#ff00ff"];
const LIMB_COLOURS = ["#990000", "#009900", "#000099", "#999900", "#990099"];
const LIMBS = [[0, 2], [1, 2], [3, 2], [4, 2]];
export const FACE_COLOURS = ["#ff2bd6", "#00e5ff", "#ffd400", "#7cff4f", "#ff7a1a", "#b388ff", "#ff5c5c", "#4fc3ff"];
const TAG = 18; // the face number's square, CSS px

// Paint a cw x ch view (CSS px) of the output frame (w x h pixels). `faces`: each face's points in output pixels,
// or null (then `message` is written in the middle); `selected`: the selected face (several faces only);
// `grabbed`: the index of the point being dragged in the selected face, or -1.
export function paintFaces(ctx, cw, ch, w, h, faces, { selected = 0, grabbed = -1, message = "" } = {}) {
  ctx.clearRect(0, 0, cw, ch);
  const f = frameIn(cw, ch, w, h);
  ctx.fillStyle = "#000";
  ctx.fillRect(f.x, f.y, f.w * f.k, f.h * f.k);
  ctx.strokeStyle = "#555";
  ctx.strokeRect(f.x + 0.5, f.y + 0.5, f.w * f.k - 1, f.h * f.k - 1);
  if (!faces) {
    ctx.fillStyle = "#bbb";
    ctx.font = "12px sans-serif";
    ctx.textAlign = "center";
    ctx.fillText(message, cw / 2, ch / 2, cw - 10);
    return;
  }
  const views = faces.map((pts) => toView(f, pts));
  if (views.length > 1) views.forEach((pts, i) => paintBox(ctx, pts, i, i === selected));
  views.forEach((pts, i) => paintFace(ctx, pts, f.k, faces.length === 1 || i === selected ? grabbed : -1));
}

function paintBox(ctx, pts, index, selected) {
  const [x1, y1, x2, y2] = faceBox(pts);
  const colour = FACE_COLOURS[index % FACE_COLOURS.length];
  ctx.save();
  ctx.strokeStyle = colour;
  ctx.lineWidth = selected ? 2.5 : 1.5;
  ctx.setLineDash(selected ? [] : [5, 4]);
  ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
  ctx.setLineDash([]);
  // the number sits on the box's top-left corner, outside it, so that a small face's points stay visible
  const top = Math.max(0, y1 - TAG);
  ctx.fillStyle = colour;
  ctx.fillRect(x1, top, TAG, TAG);
  ctx.fillStyle = "#000";
  ctx.font = "bold 12px sans-serif";
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  ctx.fillText(String(index), x1 + TAG / 2, top + TAG / 2 + 1);
  ctx.restore();
}

// One face's points (view px), like the keypoint image: limbs to the nose, then the coloured dots.
function paintFace(ctx, pts, k, grabbed) {
  ctx.lineWidth = Math.max(2, 8 * k);
  ctx.lineCap = "round";
  for (const [a, b] of LIMBS) {
    ctx.strokeStyle = LIMB_COLOURS[a];
    ctx.beginPath();
    ctx.moveTo(...pts[a]);
    ctx.lineTo(...pts[b]);
    ctx.stroke();
  }
  const r = Math.max(4, 10 * k);
  pts.forEach(([x, y], i) => {
    ctx.fillStyle = COLOURS[i];
    ctx.beginPath();
    ctx.arc(x, y, r, 0, 2 * Math.PI);
    ctx.fill();
    if (grabbed === i) {
      ctx.strokeStyle = "#fff";
      ctx.lineWidth = 2;
      ctx.stroke();
    }
  });
}
