// comfyui-instantid: how the keypoint editor paints the five points, like the keypoint image the node outputs
// (instantid_core's keypoint drawing: coloured dots, limbs to the nose in the same colours at 0.6).
import { frameIn, toView } from "./keypoint_geometry.js";

export const COLOURS = ["#ff0000", "#00ff00", "#0000ff", "#ffff00", "#ff00ff"];
const LIMB_COLOURS = ["#990000", "#009900", "#000099", "#999900", "#990099"];
const LIMBS = [[0, 2], [1, 2], [3, 2], [4, 2]];

// Paint a cw x ch view (CSS px) of the output frame (w x h pixels). `drawn`: the points in output pixels, or null
// (then `message` is written in the middle); `grabbed`: the index of the point being dragged, or -1.
export function paintKeypoints(ctx, cw, ch, w, h, drawn, { grabbed = -1, message = "" } = {}) {
  ctx.clearRect(0, 0, cw, ch);
  const f = frameIn(cw, ch, w, h);
  ctx.fillStyle = "#000";
  ctx.fillRect(f.x, f.y, f.w * f.k, f.h * f.k);
  ctx.strokeStyle = "#555";
  ctx.strokeRect(f.x + 0.5, f.y + 0.5, f.w * f.k - 1, f.h * f.k - 1);
  if (!drawn) {
    ctx.fillStyle = "#bbb";
    ctx.font = "12px sans-serif";
    ctx.textAlign = "center";
    ctx.fillText(message, cw / 2, ch / 2, cw - 10);
    return;
  }
  const pts = toView(f, drawn);
  ctx.lineWidth = Math.max(2, 8 * f.k);
  ctx.lineCap = "round";
  for (const [a, b] of LIMBS) {
    ctx.strokeStyle = LIMB_COLOURS[a];
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
    if (grabbed === i) {
      ctx.strokeStyle = "#fff";
      ctx.lineWidth = 2;
      ctx.stroke();
    }
  });
}
