// comfyui-instantid: the keypoint editor's geometry, pure functions (no browser, no frontend, no imports), so that
// they can be checked on their own. Positions are [x, y]; "fractions" are of the output image's width and height.
//
// `values` is what the node's widgets hold: {preset, points, width, height, rotate, scale, offset_x, offset_y}.
// `presets` is the server's /instantid_precision/keypoint_presets answer ({centre, shapes}), or null before it came.

export const CUSTOM = "custom";
export const POINT_COUNT = 5;

export function round(v, digits) {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

export function clamp(v, lo, hi) {
  return Math.min(hi, Math.max(lo, v));
}

// The output's size in pixels, at least 1 x 1.
export function outputSize(values) {
  return [Math.max(1, Number(values.width ?? 1024)), Math.max(1, Number(values.height ?? 1024))];
}

// A preset's five points as fractions of a w x h image (the shape is in units of the image's shorter side).
export function presetPoints(presets, name, w, h) {
  const shape = presets?.shapes?.[name];
  if (!shape) return null;
  const m = Math.min(w, h);
  const [cx, cy] = presets.centre;
  return shape.map(([dx, dy]) => [(cx * w + dx * m) / w, (cy * h + dy * m) / h]);
}

// The 'points' text -> five [x, y] fractions, or null (empty or not five finite pairs). A JSON list, or an object
// with a "points" list.
export function parsePoints(text) {
  if (typeof text !== "string" || !text.trim()) return null;
  try {
    let data = JSON.parse(text);
    if (data && !Array.isArray(data)) data = data.points;
    if (Array.isArray(data) && data.length === POINT_COUNT &&
        data.every((p) => Array.isArray(p) && p.length === 2 && p.every((v) => Number.isFinite(v)))) return data;
  } catch { /* not JSON: the caller says "invalid points" */ }
  return null;
}

export function pointsJson(points) {
  return JSON.stringify(points.map(([x, y]) => [round(x, 4), round(y, 4)]));
}

// The five points before rotate/scale/offset (fractions), or {points: null, why} with why one of "presets",
// "invalid", "none" (the caller words it).
export function basePoints(values, presets) {
  const [w, h] = outputSize(values);
  const preset = values.preset ?? "frontal";
  if (preset !== CUSTOM) return { points: presetPoints(presets, preset, w, h), why: presets ? "" : "presets" };
  const text = values.points ?? "";
  const parsed = parsePoints(text);
  if (parsed) return { points: parsed, why: "" };
  return { points: null, why: String(text).trim() ? "invalid" : "none" };
}

// The node's transform_points (instantid_core, manual keypoints): fractions -> pixels, turned by `rotate` degrees
// and scaled about the points' mean, then moved by the offsets (fractions of the size).
export function transform(points, w, h, rotate, scale, ox, oy) {
  const px = points.map(([x, y]) => [x * w, y * h]);
  const cx = px.reduce((s, p) => s + p[0], 0) / px.length;
  const cy = px.reduce((s, p) => s + p[1], 0) / px.length;
  const a = (rotate * Math.PI) / 180;
  const c = Math.cos(a) * scale;
  const s = Math.sin(a) * scale;
  return px.map(([x, y]) => [cx + c * (x - cx) - s * (y - cy) + ox * w, cy + s * (x - cx) + c * (y - cy) + oy * h]);
}

// The points the node draws, in output pixels (null when there are none yet).
export function drawnPoints(values, presets) {
  const { points } = basePoints(values, presets);
  if (!points) return null;
  const [w, h] = outputSize(values);
  return transform(points, w, h, Number(values.rotate ?? 0), Number(values.scale ?? 1),
    Number(values.offset_x ?? 0), Number(values.offset_y ?? 0));
}

// The output frame inside a cw x ch view (CSS px), centred, keeping the output's aspect ratio, 2 px margin:
// {x, y, k (view px per output px), w, h (output px)}.
export function frameIn(cw, ch, w, h) {
  const k = Math.min((cw - 4) / w, (ch - 4) / h);
  return { x: (cw - w * k) / 2, y: (ch - h * k) / 2, k, w, h };
}

export function toView(frame, points) {
  return points.map(([x, y]) => [frame.x + x * frame.k, frame.y + y * frame.k]);
}

export function centreOf(points) {
  return [points.reduce((s, p) => s + p[0], 0) / points.length, points.reduce((s, p) => s + p[1], 0) / points.length];
}

// Index of the point nearest to `pos` within `radius`, or -1.
export function nearestPoint(points, pos, radius) {
  let best = -1;
  let bestD = radius;
  points.forEach(([x, y], i) => {
    const d = Math.hypot(x - pos[0], y - pos[1]);
    if (d <= bestD) { best = i; bestD = d; }
  });
  return best;
}

// What a drag does to the widgets, as {name: value}. `drag` = {mode: "point"|"move"|"rotate"|"scale", index,
// start, centre (view px), rotate, scale, ox, oy (the values when it began), points (the custom fractions)}.
export function dragValues(drag, pos, frame) {
  const fw = frame.w * frame.k;
  const fh = frame.h * frame.k;
  if (drag.mode === "point") {
    const points = drag.points.map((p) => [...p]);
    points[drag.index] = [clamp((pos[0] - frame.x) / fw, 0, 1), clamp((pos[1] - frame.y) / fh, 0, 1)];
    return { points: pointsJson(points) };
  }
  if (drag.mode === "move") {
    return { offset_x: round(clamp(drag.ox + (pos[0] - drag.start[0]) / fw, -1, 1), 3),
      offset_y: round(clamp(drag.oy + (pos[1] - drag.start[1]) / fh, -1, 1), 3) };
  }
  if (drag.mode === "rotate") {
    const angle = (p) => Math.atan2(p[1] - drag.centre[1], p[0] - drag.centre[0]);
    const deg = drag.rotate + ((angle(pos) - angle(drag.start)) * 180) / Math.PI;
    return { rotate: round(((((deg + 180) % 360) + 360) % 360) - 180, 1) };
  }
  return { scale: scaled(drag.scale, (pos[1] - drag.start[1]) / 150) };
}

// A scale grown by exp(-steps), kept in the node's range [0.1, 5].
export function scaled(scale, steps) {
  return round(clamp(scale * Math.exp(-steps), 0.1, 5), 2);
}

// The pose as drawn (pixels) -> the widget values that draw it with no rotate/scale/offset on top.
export function bakedValues(drawn, w, h) {
  return { preset: CUSTOM, points: pointsJson(drawn.map(([x, y]) => [x / w, y / h])), rotate: 0, scale: 1,
    offset_x: 0, offset_y: 0 };
}
