// A tiny node driver for the browser test, evaluated in the ComfyUI page (window.__iid).
// Everything returns JSON-able values so the Python side can assert on them. It runs on frontend 1.27 and 1.58
// (classic canvas and "Nodes 2.0"): where they differ, it reads what the page shows in either form.
(() => {
  const api = () => window.comfyAPI.api.api;
  const app = () => window.comfyAPI.app.app;
  const state = { events: [], toasts: [] };

  // node ids are numbers in 1.27 and strings in 1.58; tests pass either
  function nodeById(id, graph = app().graph) {
    return graph.getNodeById(id) ?? graph.getNodeById(String(id)) ?? graph.getNodeById(Number(id)) ?? null;
  }

  // ...and are handed back to the tests as numbers, as the workflow files write them
  function normId(id) {
    return typeof id === "string" && /^\d+$/.test(id) ? Number(id) : id;
  }

  function vueNodes() {
    return app().extensionManager.setting.get("Comfy.VueNodes.Enabled") === true;
  }

  function shown(el) {
    return !!el && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
  }

  for (const ev of ["execution_start", "execution_success", "execution_error", "execution_interrupted",
    "executed", "execution_cached"]) {
    api().addEventListener(ev, ({ detail }) => state.events.push({ type: ev, detail }));
  }

  // modal dialogs (1.27 PrimeVue, 1.58 its own), outermost only
  function visibleDialogs() {
    const all = [...document.querySelectorAll(".p-dialog, [role=dialog]")].filter(shown);
    return all.filter((d) => !all.some((o) => o !== d && o.contains(d))).map((d) => (d.innerText || "").slice(0, 400));
  }

  // toasts (1.27 PrimeVue .p-toast-message, 1.58 [data-testid=toast])
  function toasts() {
    return [...document.querySelectorAll(".p-toast-message, [data-testid=toast]")].filter(shown)
      .map((t) => (t.innerText || "").slice(0, 400));
  }

  function closeDialogs() {
    const buttons = document.querySelectorAll(".p-dialog .p-dialog-close-button, .p-dialog-header-close, " +
      "[role=dialog] button[aria-label=Close], [role=dialog] button[aria-label=close]");
    for (const b of buttons) b.click();
    // 1.58's node search and some dialogs close on Escape only
    if (document.querySelector("[role=dialog]")) {
      document.activeElement?.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    }
  }

  // 1.58's non-modal "N issues found" notice (missing nodes / models); null when not shown
  function issuesNotice() {
    const el = document.querySelector("[data-testid=error-overlay]");
    return shown(el) ? el.innerText : null;
  }

  // 1.58's right side panel (its Issues tab after "View details"): text, with every missing-node pack expanded
  function issuesPanel() {
    const panel = document.querySelector("[data-testid=properties-panel]");
    if (!shown(panel)) return null;
    for (const b of panel.querySelectorAll("[data-testid=missing-node-pack-expand][aria-expanded=false]")) b.click();
    return panel.innerText;
  }

  // a visible element's page-centre, for a real click
  function centreOf(selector) {
    const el = [...document.querySelectorAll(selector)].find(shown);
    if (!el) return null;
    const r = el.getBoundingClientRect();
    return { x: r.left + r.width / 2, y: r.top + r.height / 2 };
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
    return Object.fromEntries(Object.entries(nodes).map(([k, n]) => [k, normId(n.id)]));
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
    const node = nodeById(id);
    if (!node) return null;
    return {
      id: normId(node.id), type: node.type, pos: [...node.pos], size: [...node.size],
      widgets: (node.widgets || []).map((w) => ({ name: w.name, type: w.type, y: w.y, h: w.computedHeight,
        value: typeof w.value === "object" ? JSON.parse(JSON.stringify(w.value)) : w.value,
        serialize: w.serialize, promptSerialize: w.options?.serialize })),
      state: node.instantid_ui ? JSON.parse(JSON.stringify(node.instantid_ui)) : null,
    };
  }

  function nodesOfType(type) {
    return app().graph.nodes.filter((n) => n.type === type).map((n) => normId(n.id));
  }

  // The element of a node in Nodes 2.0 (and of one of its widgets), else null.
  function nodeElement(id, widgetName) {
    if (!vueNodes()) return null;
    const el = document.querySelector(`[data-node-id="${CSS.escape(String(id))}"]`);
    return widgetName ? el?.querySelector(`[data-widget-name="${CSS.escape(widgetName)}"]`) ?? null : el;
  }

  function rectOf(el) {
    const r = el.getBoundingClientRect();
    return { x: r.left, y: r.top, width: r.width, height: r.height, scale: app().canvas.ds.scale };
  }

  // Screen rectangle (CSS px, page coordinates) of a node, or of one of its widgets.
  function screenRect(id, widgetName) {
    const el = nodeElement(id, widgetName);
    if (el) return rectOf(el);
    const canvas = app().canvas;
    const node = nodeById(id);
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

  // Centre the view on some nodes at a given zoom and redraw (Nodes 2.0: after the nodes have followed).
  async function focus(ids, scale) {
    const canvas = app().canvas;
    const nodes = ids.map((id) => nodeById(id));
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
    for (let i = 0; i < 3; i++) await new Promise((r) => requestAnimationFrame(() => r()));
    return s;
  }

  // The face boxes the faces widget drew last (its hit rectangles), in page coordinates. The widget draws in a
  // <canvas> of its own (a DOM widget), in that canvas's CSS pixels, scaled with the graph's zoom in classic mode.
  function faceBoxes(id, widgetName) {
    const node = nodeById(id);
    const w = node.widgets.find((x) => x.name === widgetName);
    const own = w.element?.querySelector?.("canvas");
    const r = own.getBoundingClientRect();
    const k = r.width / own.offsetWidth;
    return (w.hits || []).map((h) => ({ index: h.index, x: r.left + h.x * k, y: r.top + h.y * k, width: h.w * k,
      height: h.h * k }));
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
      id: normId(n.id), type: n.type, registered: n.type in LiteGraph.registered_node_types,
      widgets_values: JSON.parse(JSON.stringify(n.serialize().widgets_values ?? null)),
      badCombos: (n.widgets || []).filter((w) => w.type === "combo" && Array.isArray(w.options?.values) &&
        !w.options.values.includes(w.value) && !(typeof w.value === "string" && files.test(w.value)))
        .map((w) => ({ name: w.name, value: w.value, options: w.options.values.slice(0, 20) })),
    }));
  }

  window.__iid = { state, blank, build, queue, finished, executedIds, nodeInfo, nodesOfType, screenRect, focus,
    serialize, load, audit, visibleDialogs, toasts, closeDialogs, faceBoxes, reportElements, apiPrompt, nodeById,
    vueNodes, issuesNotice, issuesPanel, centreOf, nodeElement, normId };
  return true;
})();

// Helpers for tests/test_browser_workflows.py: node boxes from the live graph, widget edits, and loading a
// workflow the way a user does (missing-models dialog on), reading that dialog back.
(() => {
  const app = () => window.comfyAPI.app.app;
  const { nodeById, normId } = window.__iid;

  // Every node's bounding box as LiteGraph computes it (title bar included), after a full redraw.
  function nodeBoxes() {
    const canvas = app().canvas;
    canvas.setDirty(true, true);
    canvas.draw(true, true);
    return app().graph.nodes.map((n) => {
      const b = n.getBounding();
      return { id: normId(n.id), type: n.type, title: n.title, pos: [...n.pos], size: [...n.size],
        computed: [...n.computeSize()], box: [b[0], b[1], b[2], b[3]],
        properties: JSON.parse(JSON.stringify(n.properties ?? {})) };
    });
  }

  // Links as [origin id, target id] pairs of the live graph.
  function linkEnds() {
    return [...app().graph.links.values()].map((l) => [normId(l.origin_id), normId(l.target_id)]);
  }

  function setWidgets(id, values) {
    const node = nodeById(id);
    for (const [name, value] of Object.entries(values)) {
      const w = node.widgets?.find((x) => x.name === name);
      if (!w) throw new Error(`${node.type} has no widget ${name}`);
      w.value = value;
      w.callback?.(value, app().canvas, node);
    }
    return true;
  }

  // Every LoadImage / SaveImage preview of the graph has finished loading.
  function imagesReady(types) {
    return app().graph.nodes.filter((n) => types.includes(n.type))
      .every((n) => n.imgs?.length && n.imgs.every((im) => im.complete && im.naturalWidth > 0));
  }

  async function loadAsUser(workflow) {
    await app().loadGraphData(workflow, true, true, null, { showMissingNodesDialog: true,
      showMissingModelsDialog: true });
    await new Promise((r) => requestAnimationFrame(() => r()));
    return app().graph.nodes.length;
  }

  // 1.58: the rows of the Issues tab's "Missing Models" card (after "View details"): label ("directory / name"),
  // and the Download button (none for files it will not download); no URL is shown (a copy-link button).
  function missingModelRows() {
    const panel = document.querySelector("[data-testid=properties-panel]");
    if (!panel || !panel.getClientRects().length) return null;
    const rows = [...panel.querySelectorAll(".min-h-8")].filter((r) => r.querySelector("[title]") &&
      r.querySelector("i[class*='lucide--link']"));
    if (!rows.length) return null;
    return rows.map((r) => {
      const name = r.querySelector("[title]").getAttribute("title");
      const directory = (r.querySelector("span.block")?.innerText ?? "").split(" · ")[0].trim();
      const download = r.querySelector("[data-testid=missing-model-download]");
      return { label: `${directory} / ${name}`, hint: "", error: "",
        download: download ? { text: download.innerText.trim(), title: "", disabled: download.disabled } : null };
    });
  }

  // The entries of the frontend's "Missing Models" dialog (1.27): label ("directory / name"), the URL it shows on
  // hover, its error (why no download), and its Download button; on 1.58 the Issues tab's rows instead.
  function missingModels() {
    const list = document.querySelector(".comfy-missing-models");
    if (!list || !list.getClientRects().length) return missingModelRows();
    return [...list.querySelectorAll("[role=option]")].map((o) => {
      const label = o.querySelector("span[title]");
      const buttons = [...o.querySelectorAll("button")];
      const download = buttons.find((b) => b.title) ?? buttons[0];
      return { label: label?.innerText.trim() ?? "", hint: label?.title ?? "",
        error: o.querySelector(".p-message")?.innerText.trim() ?? "",
        download: download ? { text: download.innerText.trim(), title: download.title, disabled: download.disabled }
          : null };
    });
  }

  // The text box of a node's first DOM text widget (a Note's text): its height, and the height its text needs
  // (measured with the box briefly collapsed, so a box taller than its text does not hide the difference).
  function textBox(id) {
    const node = nodeById(id);
    const el = node.widgets?.find((w) => w.element instanceof HTMLTextAreaElement)?.element;
    if (!el) return null;
    const clientHeight = el.clientHeight;
    const height = el.style.height;
    el.style.height = "0px";
    const textHeight = el.scrollHeight;
    el.style.height = height;
    return { visible: el.getClientRects().length > 0, clientHeight, textHeight };
  }

  // 1.58: close the right side panel (its Issues tab would otherwise still show the last workflow's issues)
  function closeSidePanel() {
    const panel = document.querySelector("[data-testid=properties-panel]");
    if (!panel || !panel.getClientRects().length) return false;
    panel.querySelector("button[aria-label='Toggle properties panel']")?.click();
    return true;
  }

  Object.assign(window.__iid, { nodeBoxes, linkEnds, setWidgets, imagesReady, loadAsUser, missingModels,
    textBox, closeSidePanel });
  return true;
})();

// Helpers for tests/test_browser_migration.py: dropping a workflow file on the canvas (the app's own drop handler
// and file loader), reading the cubiq-conversion panel, a node's widgets by name with its inputs' origins, and the
// workflow tabs.
(() => {
  const app = () => window.comfyAPI.app.app;
  const { nodeById, normId } = window.__iid;

  function dropWorkflowFile(workflow, fileName) {
    const data = new DataTransfer();
    data.items.add(new File([JSON.stringify(workflow)], fileName, { type: "application/json" }));
    app().canvasEl.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
    return true;
  }

  // The panel of web/migrate_cubiq.js: its state class, text, buttons (with page-centre coordinates) and notes.
  function migrationPanel() {
    const panel = document.getElementById(window.InstantIDMigration.PANEL_ID);
    if (!panel) return null;
    const r = panel.getBoundingClientRect();
    return { kind: panel.className, text: panel.innerText, visible: r.width > 0 && r.height > 0,
      rect: { x: r.left, y: r.top, width: r.width, height: r.height },
      buttons: [...panel.querySelectorAll("button")].map((b) => {
        const br = b.getBoundingClientRect();
        return { action: b.dataset.action, text: b.innerText.trim(), disabled: b.disabled,
          x: br.left + br.width / 2, y: br.top + br.height / 2 };
      }),
      notes: [...panel.querySelectorAll("li")].map((li) => ({ level: li.className, text: li.innerText })) };
  }

  // {id, type, widgets: {name: value}, inputs: {name: [origin id, origin slot] | null}} of a live node.
  function nodeState(id) {
    const graph = app().graph;
    const node = nodeById(id, graph);
    if (!node) return null;
    const inputs = {};
    (node.inputs ?? []).forEach((input, slot) => {
      const link = node.getInputLink(slot);  // (1.58 deprecates reading input.link)
      inputs[input.name] = link ? [normId(link.origin_id), link.origin_slot] : null;
    });
    const widgets = Object.fromEntries((node.widgets ?? []).map((w) => [w.name, w.value]));
    return JSON.parse(JSON.stringify({ id: normId(node.id), type: node.type, widgets, inputs }));
  }

  function workflowTabs() {
    const store = app().extensionManager.workflow;
    const active = store.activeWorkflow;
    return { open: store.openWorkflows.map((w) => w.path), active: active?.path ?? null,
      modified: active?.isModified ?? null, undo: active?.changeTracker?.undoQueue?.length ?? null };
  }

  async function undo() {
    await app().extensionManager.workflow.activeWorkflow.changeTracker.undo();
    return app().graph.nodes.map((n) => n.type);
  }

  Object.assign(window.__iid, { dropWorkflowFile, migrationPanel, nodeState, workflowTabs, undo });
  return true;
})();

// Helpers for the template-browser test (tests/test_browser_workflows.py): the browser opened through the
// frontend's own command, a category picked by its label, the cards' thumbnails read back, one template opened.
(() => {
  const app = () => window.comfyAPI.app.app;

  function templateDialog() {
    return [...document.querySelectorAll(".p-dialog, [role=dialog]")]
      .find((d) => d.getClientRects().length && /template/i.test(d.innerText)) ?? null;
  }

  async function openTemplates() {
    await app().extensionManager.command.execute("Comfy.BrowseTemplates");
    return true;
  }

  // The innermost element of the dialog whose whole text is `label` (a category entry), clicked.
  function pickTemplateCategory(label) {
    const dialog = templateDialog();
    const leaf = dialog && [...dialog.querySelectorAll("*")].find((e) => e.textContent.trim() === label &&
      ![...e.children].some((c) => c.textContent.trim() === label));
    if (!leaf) return false;
    leaf.scrollIntoView();
    leaf.click();
    return true;
  }

  // The thumbnails of the shown cards among `names` (the frontends use the template name as the picture's alt).
  function templateCards(names) {
    const dialog = templateDialog();
    if (!dialog) return null;
    // 1.49 keeps only the cards near the view (scrolling down drops the top ones' pictures), so what each call sees
    // is remembered for this dialog: the answer is every card seen so far, each with its best state
    if (templateCards.dialog !== dialog) Object.assign(templateCards, { dialog, seen: new Map() });
    const imgs = [...dialog.querySelectorAll("img")].filter((i) => names.includes(i.alt));
    for (const i of imgs) {
      const card = { name: i.alt, loaded: i.complete && i.naturalWidth > 0, width: i.naturalWidth,
                     height: i.naturalHeight };
      if (!templateCards.seen.get(i.alt)?.loaded) templateCards.seen.set(i.alt, card);
    }
    // thumbnails load lazily, as a user scrolls to them: bring the next one that has not loaded into view; a card
    // out of view may not have its picture element yet (1.49), so then bring the first such card's title into view
    const waiting = imgs.find((i) => !(i.complete && i.naturalWidth > 0));
    const missing = names.find((n) => !templateCards.seen.has(n));
    if (waiting) waiting.scrollIntoView({ block: "center" });
    else if (missing) {
      [...dialog.querySelectorAll("*")].find((e) => !e.childElementCount && e.textContent.trim() === missing)
        ?.scrollIntoView({ block: "center" });
    }
    return [...templateCards.seen.values()];
  }

  function openTemplateCard(name) {
    const img = [...(templateDialog()?.querySelectorAll("img") ?? [])].find((i) => i.alt === name);
    if (!img) return false;
    img.click();
    return true;
  }

  Object.assign(window.__iid, { templateDialog: () => !!templateDialog(), openTemplates, pickTemplateCategory,
    templateCards, openTemplateCard });
  return true;
})();
