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

// ------------------------------------------------------------------------------------------------ several faces
// 'points' may list several faces (instantid_core.faces.manual_keypoints.parse_faces): a list (or {"faces": list})
// of faces, each five [x, y] pairs, {"points": five pairs}, or a preset placed on the picture {"preset", "center",
// "scale", "rotate"}. The editor keeps each face as such an entry: {points} or {preset, center, scale, rotate}.
// The node's rotate/scale act on each face about its own centre and the offsets move all faces, so folding them
// into the entries ("baking") draws the same picture with those widgets at rest.

export const FACE_SCALE_RANGE = [0.05, 5];
const NEW_FACE_SCALE = 0.5;
const FACE_KEYS = ["points", "preset", "center", "scale", "rotate"];
const FREE_DISTANCE = 0.25; // of the shorter side: about a new face's box

function fivePairs(data) {
  return Array.isArray(data) && data.length === POINT_COUNT &&
    data.every((p) => Array.isArray(p) && p.length === 2 && p.every((v) => Number.isFinite(v)));
}

function faceEntry(item, presets) {
  if (fivePairs(item)) return { points: item };
  if (!item || typeof item !== "object" || Array.isArray(item)) return null;
  if (Object.keys(item).some((key) => !FACE_KEYS.includes(key))) return null;
  if ("points" in item) return fivePairs(item.points) && Object.keys(item).length === 1 ? { points: item.points } : null;
  if (!presets?.shapes?.[item.preset]) return null;
  const center = item.center ?? presets.centre;
  const scale = item.scale ?? 1;
  const rotate = item.rotate ?? 0;
  if (!(Array.isArray(center) && center.length === 2 && center.every(Number.isFinite))) return null;
  if (!Number.isFinite(scale) || scale <= 0 || !Number.isFinite(rotate)) return null;
  return { preset: item.preset, center: [...center], scale, rotate };
}

// The 'points' text -> a list of face entries, or null (empty or not valid). One face in the one-face forms
// gives one {points} entry.
export function parseFaces(text, presets) {
  const one = parsePoints(text);
  if (one) return [{ points: one }];
  if (typeof text !== "string" || !text.trim()) return null;
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    return null;
  }
  if (data && !Array.isArray(data) && typeof data === "object") {
    if (Object.keys(data).some((key) => key !== "faces")) return null;
    data = data.faces;
  }
  if (!Array.isArray(data) || !data.length) return null;
  const faces = data.map((item) => faceEntry(item, presets));
  return faces.every(Boolean) ? faces : null;
}

// A face entry's five points as fractions of a w x h image (a preset one needs the presets).
export function facePoints(entry, presets, w, h) {
  if (entry.points) return entry.points.map((p) => [...p]);
  const base = presetPoints(presets, entry.preset, w, h);
  if (!base) return null;
  const [cx, cy] = presets.centre;
  return transform(base, w, h, entry.rotate, entry.scale, entry.center[0] - cx, entry.center[1] - cy)
    .map(([x, y]) => [x / w, y / h]);
}

// The faces before the node's rotate/scale/offset, or {faces: null, why} like basePoints.
export function baseFaces(values, presets) {
  const preset = values.preset ?? "frontal";
  if (preset !== CUSTOM) {
    if (!presets) return { faces: null, why: "presets" };
    return { faces: [{ preset, center: [...presets.centre], scale: 1, rotate: 0 }], why: "" };
  }
  const text = values.points ?? "";
  const faces = parseFaces(text, presets);
  if (faces) return { faces, why: "" };
  return { faces: null, why: String(text).trim() ? "invalid" : "none" };
}

function wrapDegrees(deg) {
  return ((((deg + 180) % 360) + 360) % 360) - 180;
}

// A face entry turned by `deg`, scaled by `factor` about its own centre and moved by (dx, dy) fractions.
export function movedFace(entry, w, h, { deg = 0, factor = 1, dx = 0, dy = 0 } = {}) {
  if (entry.preset) {
    return { preset: entry.preset, center: [entry.center[0] + dx, entry.center[1] + dy],
      scale: clamp(entry.scale * factor, ...FACE_SCALE_RANGE), rotate: wrapDegrees(entry.rotate + deg) };
  }
  return { points: transform(entry.points, w, h, deg, factor, dx, dy).map(([x, y]) => [x / w, y / h]) };
}

// The faces with the node's rotate/scale/offset folded in (the widgets can then be set to 0, 1, 0, 0).
export function bakedFaces(values, presets) {
  const { faces } = baseFaces(values, presets);
  if (!faces) return null;
  const [w, h] = outputSize(values);
  const change = { deg: Number(values.rotate ?? 0), factor: Number(values.scale ?? 1),
    dx: Number(values.offset_x ?? 0), dy: Number(values.offset_y ?? 0) };
  return faces.map((f) => movedFace(f, w, h, change));
}

// Every face the node draws, in output pixels (null when there are none yet).
export function drawnFaces(values, presets) {
  const { faces } = baseFaces(values, presets);
  if (!faces) return null;
  const [w, h] = outputSize(values);
  const drawn = faces.map((f) => facePoints(f, presets, w, h));
  if (drawn.some((p) => !p)) return null;
  return drawn.map((p) => transform(p, w, h, Number(values.rotate ?? 0), Number(values.scale ?? 1),
    Number(values.offset_x ?? 0), Number(values.offset_y ?? 0)));
}

// Face entries -> the 'points' text: one face in the one-face form (five pairs), several as a list of entries.
export function facesJson(faces, presets, w, h) {
  if (faces.length === 1) return pointsJson(facePoints(faces[0], presets, w, h));
  return JSON.stringify(faces.map((f) => (f.points ? JSON.parse(pointsJson(f.points)) : {
    preset: f.preset, center: f.center.map((v) => round(v, 4)), scale: round(f.scale, 3), rotate: round(f.rotate, 1),
  })));
}

// The widget values that draw these faces with the node's own transform at rest.
export function facesValues(faces, presets, w, h) {
  return { preset: CUSTOM, points: facesJson(faces, presets, w, h), rotate: 0, scale: 1, offset_x: 0, offset_y: 0 };
}

// A face's box as the node derives it (manual_layout.keypoint_box): a square on the points' bounding box's centre,
// 2.2 times its longer side. Points and box in the same units (pixels).
export const KEYPOINT_BOX_FACTOR = 2.2;
export function faceBox(points) {
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const cx = (Math.min(...xs) + Math.max(...xs)) / 2;
  const cy = (Math.min(...ys) + Math.max(...ys)) / 2;
  const half = (KEYPOINT_BOX_FACTOR * Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys))) / 2;
  return [cx - half, cy - half, cx + half, cy + half];
}

// Where a new face goes (fractions): on the single preset's row the spot farthest from every face's centre
// (pixels), ties to the right (a new person joins on the right); when that row has no spot a face's width away
// from the others, the farthest spot on the rows above and below too.
export function freeSpot(drawn, w, h, centreY = 0.44) {
  const centres = drawn.map(centreOf);
  const farthest = (rows) => {
    let best = null;
    for (const y of rows) {
      for (let x = 0.85; x >= 0.149; x -= 0.05) {
        const d = Math.min(Infinity, ...centres.map(([cx, cy]) => Math.hypot(cx - x * w, cy - y * h)));
        if (!best || d > best.d + 1e-9) best = { spot: [round(x, 4), round(y, 4)], d };
      }
    }
    return best;
  };
  const row = farthest([centreY]);
  return row.d >= FREE_DISTANCE * Math.min(w, h) ? row.spot : farthest([centreY, centreY - 0.14, centreY + 0.16]).spot;
}

// The faces with a frontal face added at a free spot, drawn at half the single preset's size.
export function withNewFace(faces, presets, w, h) {
  const drawn = faces.map((f) => facePoints(f, presets, w, h).map(([x, y]) => [x * w, y * h]));
  return [...faces, { preset: "frontal", center: freeSpot(drawn, w, h, presets.centre[1]), scale: NEW_FACE_SCALE,
    rotate: 0 }];
}

// A face given a preset pose where it is: a preset face keeps its place, size and turn; a face of its own points
// gets the preset at its points' centre, sized like them (the root mean square distance from the centre).
export function withPreset(entry, name, presets, w, h) {
  if (entry.preset) return { ...entry, center: [...entry.center], preset: name };
  const px = entry.points.map(([x, y]) => [x * w, y * h]);
  const spread = (pts) => {
    const [cx, cy] = centreOf(pts);
    return Math.sqrt(pts.reduce((s, [x, y]) => s + (x - cx) ** 2 + (y - cy) ** 2, 0) / pts.length);
  };
  const frontal = presetPoints(presets, name, w, h).map(([x, y]) => [x * w, y * h]);
  const [cx, cy] = centreOf(px);
  return { preset: name, center: [cx / w, cy / h], scale: clamp(spread(px) / spread(frontal), ...FACE_SCALE_RANGE),
    rotate: 0 };
}

// The face (index) under `pos` (view px) and its point: a point within `radius` first (the selected face's first),
// else a face whose box holds pos (the selected one first). {face, point}, -1 for none.
export function faceAt(viewFaces, pos, radius, selected) {
  const order = viewFaces.map((_, i) => i).sort((a, b) => (b === selected) - (a === selected));
  for (const i of order) {
    const p = nearestPoint(viewFaces[i], pos, radius);
    if (p >= 0) return { face: i, point: p };
  }
  for (const i of order) {
    const [x1, y1, x2, y2] = faceBox(viewFaces[i]);
    if (pos[0] >= x1 && pos[0] <= x2 && pos[1] >= y1 && pos[1] <= y2) return { face: i, point: -1 };
  }
  return { face: -1, point: -1 };
}

// What a drag does to one face of several: `drag` = {mode, index, start, centre (view px), entry (the face when
// it began), w, h}; the new entry.
export function faceDragEntry(drag, pos, frame, presets) {
  const fw = frame.w * frame.k;
  const fh = frame.h * frame.k;
  const { entry, w, h } = drag;
  if (drag.mode === "point") {
    const points = facePoints(entry, presets, w, h);
    points[drag.index] = [clamp((pos[0] - frame.x) / fw, 0, 1), clamp((pos[1] - frame.y) / fh, 0, 1)];
    return { points };
  }
  if (drag.mode === "move") {
    const [cx, cy] = centreOf(facePoints(entry, presets, w, h));
    const dx = clamp(cx + (pos[0] - drag.start[0]) / fw, 0, 1) - cx;
    const dy = clamp(cy + (pos[1] - drag.start[1]) / fh, 0, 1) - cy;
    return movedFace(entry, w, h, { dx, dy });
  }
  if (drag.mode === "rotate") {
    const angle = (p) => Math.atan2(p[1] - drag.centre[1], p[0] - drag.centre[0]);
    return movedFace(entry, w, h, { deg: ((angle(pos) - angle(drag.start)) * 180) / Math.PI });
  }
  return movedFace(entry, w, h, { factor: Math.exp(-(pos[1] - drag.start[1]) / 150) });
}
