// comfyui-instantid: what the identity nodes show after a run.
//
// * InstantID Identity Score: a small table, one row per generated image, one column per reference person (and
//   their mean when there are several); the best image's row is highlighted, images without a face are listed.
// * InstantID Save Identity / Load Identity: the identity file's header (name, created, photos, embedding model).
//
// The display is a DOM widget that is never serialised into widgets_values or the API prompt; the last result is
// kept on the serialised node (`instantid_identity_ui`) so it comes back when the workflow is reloaded.
import { app } from "../../scripts/app.js";
import { addElementWidget, chain } from "./frontend_adapter.js";

const SCORE_NODE = "InstantIDPrecision_IdentityScore";
const INFO_NODES = new Set(["InstantIDPrecision_SaveIdentity", "InstantIDPrecision_LoadIdentity"]);
const WIDGET = "instantid_identity_display";
const STATE_KEY = "instantid_identity_ui";
const FONT = "12px monospace";

function displayWidget(node) {
  let widget = node.widgets?.find((w) => w.name === WIDGET);
  if (widget) return widget;
  const el = document.createElement("div");
  el.className = "instantid-identity-display";
  Object.assign(el.style, { font: FONT, overflow: "auto", opacity: "0.9", padding: "4px" });
  el.dataset.nodeId = String(node.id);
  return addElementWidget(node, WIDGET, "instantid_identity_display", el, {
    getValue: () => undefined,
    setValue: () => {},
    getMinHeight: () => Math.min(320, el.scrollHeight + 8),
  });
}

function cell(tag, text, style = {}) {
  const el = document.createElement(tag);
  el.textContent = String(text);
  Object.assign(el.style, { padding: "1px 6px", textAlign: "right", ...style });
  return el;
}

function renderTable(el, table) {
  el.replaceChildren();
  const t = document.createElement("table");
  Object.assign(t.style, { borderCollapse: "collapse", font: FONT });
  const head = document.createElement("tr");
  for (const c of table.columns ?? []) head.appendChild(cell("th", c, { borderBottom: "1px solid #888" }));
  t.appendChild(head);
  for (const row of table.rows ?? []) {
    const tr = document.createElement("tr");
    const best = row[0] === table.best;
    row.forEach((v, i) => tr.appendChild(cell("td", i === 0 ? v : Number(v).toFixed(4),
      best ? { color: "#7cff4f", fontWeight: "bold" } : {})));
    t.appendChild(tr);
  }
  el.appendChild(t);
  for (const note of table.notes ?? []) el.appendChild(cell("div", note, { textAlign: "left", color: "#ffb74d" }));
}

function renderText(el, text) {
  el.replaceChildren(cell("pre", text, { textAlign: "left", margin: "0", whiteSpace: "pre-wrap" }));
}

function show(node, state) {
  if (!state) return;
  const widget = displayWidget(node);
  if (state.table) renderTable(widget.element, state.table);
  else if (typeof state.text === "string") renderText(widget.element, state.text);
  else return;
  node[STATE_KEY] = state;
  requestAnimationFrame(() => {
    const want = node.computeSize();
    node.setSize([Math.max(node.size[0], want[0], 300), Math.max(node.size[1], want[1])]);
    node.setDirtyCanvas(true, true);
  });
}

function stateFrom(node, output) {
  if (node.comfyClass === SCORE_NODE) {
    const table = output?.instantid_identity_score?.[0];
    return table ? { table } : null;
  }
  const text = output?.instantid_identity_info;
  return Array.isArray(text) ? { text: text.join("\n") } : null;
}

app.registerExtension({
  name: "comfyui-instantid.identity",
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (nodeData.name !== SCORE_NODE && !INFO_NODES.has(nodeData.name)) return;
    chain(nodeType.prototype, "onExecuted", function (output) {
      show(this, stateFrom(this, output));
    });
    chain(nodeType.prototype, "onSerialize", function (o) {
      if (this[STATE_KEY]) o[STATE_KEY] = this[STATE_KEY];
    });
    chain(nodeType.prototype, "onConfigure", function (info) {
      show(this, info?.[STATE_KEY]);
    });
  },
});
