// A tiny node driver for the browser test, evaluated in the ComfyUI page (window.__iid).
// Everything returns JSON-able values so the Python side can assert on them.
(() => {
  const api = () => window.comfyAPI.api.api;
  const app = () => window.comfyAPI.app.app;
  const state = { events: [], toasts: [] };

  for (const ev of ["execution_start", "execution_success", "execution_error", "execution_interrupted",
    "executed", "execution_cached"]) {
    api().addEventListener(ev, ({ detail }) => state.events.push({ type: ev, detail }));
  }

  function visibleDialogs() {
    return [...document.querySelectorAll(".p-dialog, [role=dialog]")]
      .filter((d) => d.offsetParent !== null || d.getClientRects().length)
      .map((d) => (d.innerText || "").slice(0, 400));
  }

  function toasts() {
    return [...document.querySelectorAll(".p-toast-message")].map((t) => (t.innerText || "").slice(0, 400));
  }

  function closeDialogs() {
    for (const b of document.querySelectorAll(".p-dialog .p-dialog-close-button, .p-dialog-header-close")) b.click();
  }

  // spec: {key: {type, pos: [x, y], widgets: {name: value}, inputs: {name: [key, outputSlot]}}}
  const BLANK = { last_node_id: 0, last_link_id: 0, nodes: [], links: [], groups: [], config: {}, extra: {},
    version: 0.4 };

  // A new, empty workflow, the way the app opens one (resets the per-node output store too).
  async function blank() {
    await app().loadGraphData(BLANK, true, true, null);
    return app().graph.nodes.length;
  }

  async function build(spec) {
    await blank();
    const graph = app().graph;
    const nodes = {};
    for (const [key, s] of Object.entries(spec)) {
      const node = LiteGraph.createNode(s.type);
      if (!node) throw new Error(`cannot create node ${s.type}`);
      if (s.pos) node.pos = s.pos;
      graph.add(node);
      for (const [name, value] of Object.entries(s.widgets || {})) {
        const w = node.widgets?.find((x) => x.name === name);
        if (!w) throw new Error(`${s.type} has no widget ${name}`);
        w.value = value;
        w.callback?.(value, app().canvas, node);
      }
      nodes[key] = node;
    }
    for (const [key, s] of Object.entries(spec)) {
      for (const [name, [src, slot]] of Object.entries(s.inputs || {})) {
        const target = nodes[key];
        const idx = target.inputs.findIndex((i) => i.name === name);
        if (idx < 0) throw new Error(`${s.type} has no input ${name}`);
        if (!nodes[src].connect(slot, target, idx)) throw new Error(`cannot connect ${src}:${slot} -> ${key}.${name}`);
      }
    }
    app().canvas.setDirty(true, true);
    return Object.fromEntries(Object.entries(nodes).map(([k, n]) => [k, n.id]));
  }

  async function queue() {
    state.events = [];
    await app().queuePrompt(0, 1);
    return true;
  }

  function finished() {
    const e = state.events.find((x) => ["execution_success", "execution_error", "execution_interrupted"].includes(x.type));
    return e ? { type: e.type, detail: e.detail } : null;
  }

  function executedIds() {
    return state.events.filter((e) => e.type === "executed").map((e) => String(e.detail.display_node || e.detail.node));
  }

  function nodeInfo(id) {
    const node = app().graph.getNodeById(Number(id)) || app().graph.getNodeById(id);
    if (!node) return null;
    return {
      id: node.id, type: node.type, pos: [...node.pos], size: [...node.size],
      widgets: (node.widgets || []).map((w) => ({ name: w.name, type: w.type, y: w.y, h: w.computedHeight,
        value: typeof w.value === "object" ? JSON.parse(JSON.stringify(w.value)) : w.value,
        serialize: w.serialize, promptSerialize: w.options?.serialize })),
      state: node.instantid_ui ? JSON.parse(JSON.stringify(node.instantid_ui)) : null,
    };
  }

  function nodesOfType(type) {
    return app().graph.nodes.filter((n) => n.type === type).map((n) => n.id);
  }

  // Screen rectangle (CSS px, page coordinates) of a node, or of one of its widgets.
  function screenRect(id, widgetName) {
    const canvas = app().canvas;
    const node = app().graph.getNodeById(id);
    const ds = canvas.ds;
    const r = canvas.canvas.getBoundingClientRect();
    let x = node.pos[0], y = node.pos[1] - LiteGraph.NODE_TITLE_HEIGHT, w = node.size[0],
      h = node.size[1] + LiteGraph.NODE_TITLE_HEIGHT;
    if (widgetName) {
      const wd = node.widgets.find((x) => x.name === widgetName);
      y = node.pos[1] + wd.y;
      h = wd.computedHeight ?? wd.computeSize?.()[1] ?? 20;
    }
    return { x: r.left + (x + ds.offset[0]) * ds.scale, y: r.top + (y + ds.offset[1]) * ds.scale,
      width: w * ds.scale, height: h * ds.scale, scale: ds.scale };
  }

  // Centre the view on some nodes at a given zoom and redraw synchronously.
  function focus(ids, scale) {
    const canvas = app().canvas;
    const nodes = ids.map((id) => app().graph.getNodeById(id));
    const x0 = Math.min(...nodes.map((n) => n.pos[0])) - 20;
    const y0 = Math.min(...nodes.map((n) => n.pos[1] - LiteGraph.NODE_TITLE_HEIGHT)) - 20;
    const x1 = Math.max(...nodes.map((n) => n.pos[0] + n.size[0])) + 20;
    const y1 = Math.max(...nodes.map((n) => n.pos[1] + n.size[1])) + 20;
    const el = canvas.canvas;
    const s = scale ?? Math.min(el.clientWidth / (x1 - x0), el.clientHeight / (y1 - y0), 1.5);
    canvas.ds.scale = s;
    canvas.ds.offset[0] = (el.clientWidth / s - (x1 - x0)) / 2 - x0;
    canvas.ds.offset[1] = (el.clientHeight / s - (y1 - y0)) / 2 - y0;
    canvas.setDirty(true, true);
    canvas.draw(true, true);
    return s;
  }

  function toScreen(node, x, y) {
    const canvas = app().canvas;
    const ds = canvas.ds;
    const r = canvas.canvas.getBoundingClientRect();
    return [r.left + (node.pos[0] + x + ds.offset[0]) * ds.scale, r.top + (node.pos[1] + y + ds.offset[1]) * ds.scale];
  }

  // The face boxes the faces widget drew last (node-local hit rectangles), in page coordinates.
  function faceBoxes(id, widgetName) {
    const node = app().graph.getNodeById(id);
    const w = node.widgets.find((x) => x.name === widgetName);
    const s = app().canvas.ds.scale;
    return (w.hits || []).map((h) => {
      const [x, y] = toScreen(node, h.x, h.y);
      return { index: h.index, x, y, width: h.w * s, height: h.h * s };
    });
  }

  // The report text boxes of a node (DOM): value, visibility and page rectangle.
  function reportElements(id) {
    return [...document.querySelectorAll(`textarea.instantid-report[data-node-id="${id}"]`)].map((el) => {
      const r = el.getBoundingClientRect();
      const style = getComputedStyle(el);
      return { value: el.value, readOnly: el.readOnly, x: r.left, y: r.top, width: r.width, height: r.height,
        visible: r.width > 0 && r.height > 0 && style.display !== "none" && style.visibility !== "hidden" };
    });
  }

  async function apiPrompt() {
    const p = await app().graphToPrompt();
    return p.output;
  }

  function serialize() {
    return JSON.parse(JSON.stringify(app().graph.serialize()));
  }

  async function load(workflow) {
    await app().loadGraphData(workflow, true, true, null, { showMissingNodesDialog: true,
      showMissingModelsDialog: false });
    await new Promise((r) => requestAnimationFrame(() => r()));
    return app().graph.nodes.length;
  }

  // Per node: type known?, serialised widgets_values, and combo widgets whose value is not one of its options.
  function audit() {
    const files = /\.(safetensors|bin|ckpt|pt|pth|onnx|gguf|sft|png|jpe?g|webp)$/i;
    return app().graph.nodes.map((n) => ({
      id: n.id, type: n.type, registered: n.type in LiteGraph.registered_node_types,
      widgets_values: JSON.parse(JSON.stringify(n.serialize().widgets_values ?? null)),
      badCombos: (n.widgets || []).filter((w) => w.type === "combo" && Array.isArray(w.options?.values) &&
        !w.options.values.includes(w.value) && !(typeof w.value === "string" && files.test(w.value)))
        .map((w) => ({ name: w.name, value: w.value, options: w.options.values.slice(0, 20) })),
    }));
  }

  window.__iid = { state, blank, build, queue, finished, executedIds, nodeInfo, nodesOfType, screenRect, focus,
    serialize, load, audit, visibleDialogs, toasts, closeDialogs, faceBoxes, reportElements, apiPrompt };
  return true;
})();
