// comfyui-instantid: the one place that reaches past the frontend's public extension API.
//
// The other files use app.registerExtension hooks, the api events and app.extensionManager (toast, command,
// setting, workflow) directly; what the public API does not offer (LiteGraph nodes and canvas widgets, the graph
// load, the tab's undo history, the missing-nodes report) goes through the functions below. Each one says which
// frontends it was checked on (browser tests: tests/test_browser*.py): 1.27.10 (ComfyUI 0.3.64's pin), 1.49.6
// (ComfyUI 0.33.0's pin, what the browser suite runs now) and 1.58.1,
// "classic" = LiteGraph canvas nodes, "Nodes 2.0" = the Modern Node Design setting Comfy.VueNodes.Enabled. Where
// they differ, the code tests for the feature, never for a version number.
import { app } from "../../scripts/app.js";

// ------------------------------------------------------------------------------------------- settings, toasts

// Checked: 1.27.10, 1.58.1.
// A node class's method (onExecuted, onSerialize, onConfigure…) runs what it did before, then fn: other
// extensions that hook the same method keep working. Checked on 1.27.10 and 1.58.1 (classic and Vue nodes).
export function chain(proto, name, fn) {
  const previous = proto[name];
  proto[name] = function (...args) {
    const r = previous?.apply(this, args);
    fn.apply(this, args);
    return r;
  };
}

// The frontend's vue-i18n ($t, $te of the mounted Vue app), or null before the app is mounted. Found once (the
// faces list asks on every canvas draw). Checked: 1.49.6, 1.58.1.
let i18n = null;
export function frontendI18n() {
  if (i18n) return i18n;
  const props = document.querySelector("[data-v-app]")?.__vue_app__?.config?.globalProperties;
  if (typeof props?.$t === "function" && typeof props?.$te === "function") i18n = props;
  return i18n;
}

export function setting(id) {
  return app.extensionManager?.setting?.get?.(id);
}

// extensionManager.toast.add({severity, summary, detail, life}) — 1.27.10 (PrimeVue toasts) and 1.58.1 (its own
// toasts, same call). Checked: 1.27.10, 1.58.1.
export function toast(message) {
  app.extensionManager?.toast?.add?.(message);
}

// ------------------------------------------------------------------------------------------- nodes of the graph

// Node ids are numbers in 1.27.10 and strings in 1.58.1; the server and saved workflows may use either.
// Checked: 1.27.10, 1.58.1.
export function nodeById(id, graph = app.graph) {
  if (!graph || id == null) return null;
  return graph.getNodeById(id) ?? graph.getNodeById(String(id)) ??
    (Number.isFinite(Number(id)) ? graph.getNodeById(Number(id)) : null) ?? null;
}

export function isNodeTypeRegistered(type) {
  return type in (globalThis.LiteGraph?.registered_node_types ?? {});
}

// Every node of a live graph, those inside its subgraph definitions too: fn(node, subgraph or null).
// Checked: 1.27.10, 1.58.1.
export function forEachNode(graph, fn) {
  for (const node of graph?.nodes ?? []) fn(node, null);
  for (const subgraph of graph?.subgraphs?.values?.() ?? []) {
    for (const node of subgraph.nodes ?? []) fn(node, subgraph);
  }
}

// The node an input named `name` is linked from, through Reroute nodes. Checked: 1.27.10, 1.58.1.
export function upstreamNode(node, name) {
  if (!node?.graph) return null; // a removed node: 1.58's getInputNode throws without its graph
  const slot = node.inputs?.findIndex((i) => i.name === name) ?? -1;
  let src = slot >= 0 ? node.getInputNode(slot) : null;
  for (let hops = 0; src && src.type === "Reroute" && hops < 32; hops++) src = src.getInputNode(0);
  return src ?? null;
}

// The picture a LoadImage-like node shows, once loaded. Checked: 1.27.10, 1.58.1 (classic and Nodes 2.0).
export function shownImage(node) {
  const img = node?.imgs?.[0];
  return img && img.complete && img.naturalWidth ? img : null;
}

// Grow a node to at least its computed size and `minWidth`. Checked: 1.27.10, 1.58.1 (classic; Nodes 2.0 sizes the
// node from its content, and takes the width).
export function fitNode(node, minWidth = 0) {
  const want = node.computeSize();
  node.setSize([Math.max(node.size[0], want[0], minWidth), Math.max(node.size[1], want[1])]);
  redraw(node);
}

// Redraw a node: the canvas in classic mode; in Nodes 2.0 a canvas-drawn widget (the frontend's own, e.g. a
// slider) has its own small canvas, redrawn by widget.triggerDraw. The pack's pictures are DOM widgets that paint
// themselves (canvas_widget.js).
// Checked: 1.27.10, 1.58.1 (classic and Nodes 2.0).
export function redraw(node) {
  for (const w of node.widgets ?? []) w.triggerDraw?.();
  node.setDirtyCanvas?.(true, true);
}

// ------------------------------------------------------------------------------------------- widgets

export function widgetOf(node, name) {
  return node.widgets?.find((w) => w.name === name);
}

// Set a widget as if the user had picked the value: its callback, the node's onWidgetChanged, the graph's change
// (for undo and the tab's modified mark). Checked: 1.27.10, 1.58.1 (classic and Nodes 2.0: the Vue widget shows
// the new value).
export function setWidgetValue(node, name, value) {
  const w = widgetOf(node, name);
  if (!w || w.value === value) return false;
  const old = w.value;
  w.value = value;
  w.callback?.(value, app.canvas, node);
  node.onWidgetChanged?.(name, value, old, w);
  return true;
}

// A node's combo widgets with their option lists ({widget, options}); lists computed by a function (custom
// widgets) are left out. Checked: 1.27.10, 1.58.1.
export function comboWidgets(node) {
  const out = [];
  for (const widget of node.widgets ?? []) {
    if (widget.type !== "combo") continue;
    const values = widget.options?.values;
    if (Array.isArray(values)) out.push({ widget, options: values });
    else if (values && typeof values === "object") out.push({ widget, options: Object.keys(values) });
  }
  return out;
}

// Set a combo as when the user picks that entry again: value and callback only (no graph change is recorded, so
// a fix made while a graph loads does not mark it modified). Checked: 1.27.10, 1.58.1.
export function pickComboValue(node, widget, value) {
  widget.value = value;
  widget.callback?.(value, app.canvas, node);
}

export function markChanged(node) {
  node.graph?.change?.();
  redraw(node);
}

// A change made by code (not by a widget edit the frontend saw) becomes one step of the tab's undo history and
// marks the workflow modified. 1.58 renamed the tracker's checkState (kept, deprecated) to captureCanvasState.
// Checked: 1.49.6, 1.58.1.
export function recordGraphChange(node) {
  node.graph?.change?.();
  const tracker = app.extensionManager?.workflow?.activeWorkflow?.changeTracker;
  const capture = tracker?.captureCanvasState ?? tracker?.checkState;
  if (typeof capture === "function") capture.call(tracker);
  node.setDirtyCanvas?.(true, true);
}

// The graph open in the active tab (its nodes, not those of subgraph definitions: forEachNode for those).
// Checked: 1.49.6, 1.58.1.
export function activeGraph() {
  return app.graph ?? null;
}

// A widget that is an HTML element (a read-only text box, a table, a <canvas> the pack paints). Not saved, not
// sent with the prompt. Checked: 1.27.10, 1.49.6, 1.58.1 (classic: positioned over the canvas; Nodes 2.0: inside
// the node).
export function addElementWidget(node, name, type, element, { getValue, setValue, getMinHeight }) {
  const widget = node.addDOMWidget(name, type, element, { getValue, setValue, getMinHeight, serialize: false });
  widget.serialize = false; // not in widgets_values
  widget.options.serialize = false; // not in the API prompt
  widget.element ??= element;
  return widget;
}

// A button in the node. Not saved in widgets_values (saved workflows keep their widget order).
// Checked: 1.27.10, 1.58.1 (classic and Nodes 2.0).
export function addButtonWidget(node, label, onClick) {
  const button = node.addWidget("button", label, null, onClick, { serialize: false });
  button.serialize = false;
  return button;
}

// Run fn(node) after `names` widgets of a node change (user edits and setWidgetValue); several fns may watch one
// widget, and run in the order they were added. Checked: 1.27.10, 1.49.6, 1.58.1.
export function onWidgetsChanged(node, names, fn) {
  for (const name of names) {
    const w = widgetOf(node, name);
    if (!w) continue;
    if (!w.instantidWatchers) {
      const watchers = [];
      const previous = w.callback;
      w.callback = function (...args) {
        const r = previous?.apply(this, args);
        for (const watcher of watchers) watcher(node);
        return r;
      };
      w.instantidWatchers = watchers;
    }
    if (!w.instantidWatchers.includes(fn)) w.instantidWatchers.push(fn);
  }
}

// ------------------------------------------------------------------------------------------- graph loads

// Wrap app.loadGraphData (file open, drop, template, restore, tab switch, undo all go through it):
// wrapper(load, args) gets the original and the arguments. Checked: 1.27.10, 1.58.1.
export function wrapGraphLoad(wrapper) {
  const load = app.loadGraphData;
  if (load.instantidWrapped) return;
  const wrapped = async function (...args) {
    return wrapper((...a) => load.apply(this, a), args);
  };
  wrapped.instantidWrapped = true;
  app.loadGraphData = wrapped;
}

// Arguments for a load whose missing-nodes report the caller shows itself. 1.27.10: the modal "missing nodes"
// dialog is an option of the load (turned off here). 1.58.1 has no such dialog: missing nodes are listed in the
// non-modal "issues" notice and the Issues tab, which stay as they are.
// Checked: 1.27.10, 1.58.1.
export function withoutMissingNodesDialog(args) {
  const quiet = [...args];
  while (quiet.length < 4) quiet.push(undefined);
  quiet[4] = { ...(args[4] ?? {}), showMissingNodesDialog: false };
  return quiet;
}

// Whether a load reports no missing nodes to the user (tab switches, undo). 1.27.10: showMissingNodesDialog false.
// 1.58.1: undo loads with silentAssetErrors, a switch to an open tab with skipAssetScans.
// Checked: 1.27.10, 1.58.1.
export function loadSkipsMissingNodes(args) {
  const options = args[4] ?? {};
  return options.showMissingNodesDialog === false || options.silentAssetErrors === true ||
    options.skipAssetScans === true;
}

// Show the frontend's own missing-nodes report for `types` (after withoutMissingNodesDialog).
// 1.27.10: its dialog. 1.58.1: its "issues" notice already lists them (nothing to do).
// Checked: 1.27.10, 1.58.1.
export function showMissingNodes(types) {
  const dialog = app.extensionManager?.dialog;
  if (types?.length && typeof dialog?.showLoadWorkflowWarning === "function" &&
      setting("Comfy.Workflow.ShowMissingNodesWarning")) {
    dialog.showLoadWorkflowWarning({ missingNodeTypes: types });
  }
}

// ------------------------------------------------------------------------------------------- the canvas view

// Resolves once the view of the graph just loaded is set: 1.49.6 sets it during the load; 1.58.1 schedules it
// (app.pendingCamera) for a later frame. Checked: 1.49.6, 1.58.1.
export async function afterViewSettles(timeoutMs = 3000) {
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  const start = performance.now();
  await frame();
  while (app.pendingCamera && performance.now() - start < timeoutMs) await frame();
  await frame();
}

// The canvas view ({scale, offset}, LiteGraph's: screen = (graph + offset) * scale), or null.
// Checked: 1.49.6, 1.58.1.
export function canvasView() {
  const ds = app.canvas?.ds;
  return ds ? { scale: ds.scale, offset: [ds.offset[0], ds.offset[1]] } : null;
}

// Whether LiteGraph draws node text at `scale`: below a zoom set by LiteGraph.Canvas.MinFontSizeForLOD it draws
// nodes as plain boxes. Checked: 1.49.6, 1.58.1.
export function nodeTextDrawnAt(scale) {
  const threshold = app.canvas?._lowQualityZoomThreshold;
  return typeof threshold === "number" ? scale >= threshold : true;
}

// Show the graph at `view` ({scale, offset}, as saved in a workflow's extra.ds). Checked: 1.49.6, 1.58.1.
export function setCanvasView(view) {
  const canvas = app.canvas;
  if (!canvas?.ds || !(view?.scale > 0) || view.offset?.length !== 2) return;
  canvas.ds.scale = view.scale;
  canvas.ds.offset[0] = view.offset[0];
  canvas.ds.offset[1] = view.offset[1];
  canvas.setDirty?.(true, true);
}

// fn(node) after `node` is taken out of its graph (ComfyUI's Node Replacement calls onRemoved on the node it swaps
// out). Checked: 1.58.1.
export function afterNodeRemoved(node, fn) {
  const before = node.onRemoved;
  node.onRemoved = function (...args) {
    const r = before?.apply(this, args);
    fn(this);
    return r;
  };
}

// The graph's node list changed behind LiteGraph's back: count it as a change, so the canvas stops drawing from
// its cached node order (1.58.1's Node Replacement swaps nodes without that; the canvas then draws the removed
// nodes, and every frame and the next run fail with a NullGraphError). Checked: 1.49.6, 1.58.1.
export function refreshGraphDrawing() {
  const graph = app.graph;
  if (typeof graph?.incrementVersion === "function") graph.incrementVersion();
  app.canvas?.setDirty?.(true, true);
}

// Whether the frontend offers ComfyUI's Node Replacement in its missing-nodes list (the setting exists, and is on,
// on frontends that have the feature; it also needs a core with GET /node_replacements). Checked: 1.49.6, 1.58.1.
export function frontendReplacesNodes() {
  return setting("Comfy.NodeReplacement.Enabled") === true;
}

// The open workflow as saved-workflow JSON. Checked: 1.27.10, 1.58.1.
export function currentGraphData() {
  return app.graph.serialize();
}

// Replace the open tab's graph with `graphData` as ONE edit of that tab: same tab, its saved state kept (so it
// shows as modified), and undo (Ctrl+Z) brings back what was there. `during(true/false)` brackets the load.
// Checked: 1.27.10, 1.58.1.
export async function replaceGraphAsOneEdit(graphData, during = () => {}) {
  const workflow = app.extensionManager?.workflow?.activeWorkflow ?? null;
  const tracker = workflow?.changeTracker;
  const saved = tracker?.initialState;
  const before = tracker?.activeState;
  during(true);
  try {
    await app.loadGraphData(graphData, true, true, workflow);
  } finally {
    during(false);
  }
  // 1.58 renamed checkState (kept, deprecated) to captureCanvasState
  const capture = tracker?.captureCanvasState ?? tracker?.checkState;
  if (tracker && saved && before && typeof capture === "function") {
    tracker.initialState = saved;
    tracker.activeState = before;
    capture.call(tracker);
  }
}
