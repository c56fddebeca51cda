// comfyui-instantid: workflows made with cubiq's ComfyUI_InstantID.
//
// When a workflow is opened (file open, drag and drop, template, restored at start-up) and it holds node types of
// cubiq's ComfyUI_InstantID while that pack is not installed, a panel offers to convert them in place to this
// pack's nodes. The conversion is the pack's one Python converter (instantid_core/workflow_formats/cubiq_workflows.py), run by the
// server with its live node definitions (POST /instantid_precision/migrate, nodes/migration_route.py); the result
// is loaded into the same workflow tab as one undoable edit, and the panel then shows the converter's report.
// "Edit > Convert cubiq InstantID nodes" in the menu does the same at any time (also with cubiq's pack installed,
// for moving away from it).
//
// Hook: app.loadGraphData is wrapped (frontend_adapter.js). Frontend 1.27 shows a modal "missing nodes" dialog
// inside loadGraphData, after the beforeConfigureGraph hook and before afterConfigureGraph, so a hook alone could
// only add the offer on top of that modal dialog. For a load that would show it and that holds cubiq's missing
// nodes, the wrapper turns the dialog off and the panel takes its place; "Keep as is" shows the frontend's dialog
// after all, with the list of missing types the frontend itself collected (handed to afterConfigureGraph). Loads
// that would not show the dialog (tab switches, undo) get no offer either. Frontend 1.58 has no such dialog: its
// non-modal "issues found" notice lists the missing nodes next to the panel, and "Keep as is" leaves it there.
//
// ComfyUI's own Node Replacement (cores that answer GET /node_replacements, frontends with the setting
// Comfy.NodeReplacement.Enabled): the pack registers cubiq's two loaders there (nodes/node_replacements.py), and
// the frontend's missing-nodes list offers "Replace Node" for them. A workflow whose cubiq nodes are all on that
// list gets no panel; one with any node that needs the converter gets the panel, which converts them all.
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";
import { t } from "./instantid_i18n.js";
import { addPanelStyle, el, panelButton } from "./panel.js";
import { afterNodeRemoved, currentGraphData, frontendReplacesNodes, refreshGraphDrawing, isNodeTypeRegistered, loadSkipsMissingNodes, replaceGraphAsOneEdit,
  showMissingNodes, toast, withoutMissingNodesDialog, wrapGraphLoad } from "./frontend_adapter.js";

// instantid_core/workflow_formats/cubiq_workflows.py CUBIQ_NODE_TYPES (the browser test checks that both lists agree)
const CUBIQ_NODE_TYPES = ["InstantIDModelLoader", "InstantIDFaceAnalysis", "FaceKeypointsPreprocessor",
  "ApplyInstantID", "ApplyInstantIDAdvanced", "InstantIDAttentionPatch", "ApplyInstantIDControlNet"];
const ROUTE = "/instantid_precision/migrate";
const COMMAND_ID = "InstantIDPrecision.ConvertCubiqNodes";
const PANEL_ID = "instantid-migrate-panel";
// the command's labels: the frontend translates them itself (locales/<lang>/commands.json, main.json menuLabels)
const COMMAND_LABEL = "Convert cubiq InstantID nodes to InstantID (precision-safe)";
const MENU_LABEL = "Convert cubiq InstantID nodes";

const REPLACEMENTS_ROUTE = "/node_replacements"; // ComfyUI's Node Replacement list (absent on older cores)

const state = { lastMissing: null, converting: false, lastReport: null, replaceable: null };

// cubiq's node types that ComfyUI itself offers to replace with this pack's nodes (an empty set where the core or
// the frontend has no Node Replacement, or the user turned it off). The core's list is asked once.
function coreReplaceable() {
  if (!frontendReplacesNodes()) return Promise.resolve(new Set());
  state.replaceable ??= (async () => {
    try {
      const response = await api.fetchApi(REPLACEMENTS_ROUTE);
      const list = response.ok ? await response.json() : {};
      return new Set(CUBIQ_NODE_TYPES.filter((type) =>
        (list?.[type] ?? []).some((r) => String(r?.new_node_id ?? "").startsWith("InstantIDPrecision_"))));
    } catch (err) {
      console.debug("[InstantID] no node replacement list:", err);
      return new Set();
    }
  })();
  return state.replaceable;
}

function cubiqTypesIn(graphData, onlyMissing) {
  const found = new Set();
  for (const node of graphData?.nodes ?? []) {
    if (CUBIQ_NODE_TYPES.includes(node?.type) && !(onlyMissing && isNodeTypeRegistered(node.type))) found.add(node.type);
  }
  return [...found];
}

// ------------------------------------------------------------------------------------------------ the panel

// Top left, below the menu bar and right of the side bar: the frontend's toasts and its "issues found" notice
// (1.58) appear at the top right of the graph, which the right side panel (1.58) moves towards the middle.
const PANEL_CSS = `
#${PANEL_ID} { top: 96px; left: 80px; width: 480px; max-width: calc(100vw - 100px); max-height: calc(100vh - 140px);
  gap: 10px; font: 14px/1.45 sans-serif; }
#${PANEL_ID} p { margin: 0; }
#${PANEL_ID} .iid-types { font-family: monospace; font-size: 13px; }
#${PANEL_ID} .iid-notes { margin: 0; padding-left: 18px; overflow-y: auto; min-height: 0; font-size: 13px; }
#${PANEL_ID} .iid-notes li { margin: 3px 0; }
#${PANEL_ID} .iid-notes li.warning::marker { color: #f0a020; }
#${PANEL_ID} .iid-notes h4 { margin: 8px 0 2px -18px; font-size: 13px; }
#${PANEL_ID} .iid-buttons { flex-wrap: wrap; }`;

function closePanel() {
  document.getElementById(PANEL_ID)?.remove();
}

function showPanel(kind, children) {
  addPanelStyle(PANEL_ID, "#f0a020", PANEL_CSS);
  closePanel();
  const panel = el("div", { id: PANEL_ID, className: kind }, children);
  panel.setAttribute("role", "region");
  panel.setAttribute("aria-label", t("migrate.panelLabel", "InstantID: cubiq workflow conversion"));
  document.body.append(panel);
  return panel;
}

function showOffer(cubiqTypes, missingNodeTypes) {
  const convert = panelButton(t("migrate.convert", "Convert to InstantID (precision-safe)"), "convert", true);
  const keep = panelButton(t("migrate.keep", "Keep as is"), "keep");
  showPanel("offer", [
    el("div", { className: "iid-title", textContent: t("migrate.offerTitle",
        "InstantID: cubiq nodes in this workflow") }),
    el("p", { textContent: t("migrate.offerText",
      "This workflow uses ComfyUI_InstantID (cubiq) nodes, and that pack is not installed:") }),
    el("p", { className: "iid-types", textContent: cubiqTypes.join(", ") }),
    el("p", { textContent: t("migrate.offerExplain", "Convert them in place to InstantID (precision-safe) nodes: " +
      "weights, start/end and links are kept, and a report lists what behaves differently. " +
      "(Or install ComfyUI_InstantID to use them as they are.)") }),
    el("div", { className: "iid-buttons" }, [keep, convert]),
  ]);
  convert.addEventListener("click", () => convertCurrentWorkflow());
  keep.addEventListener("click", () => {
    closePanel();
    showMissingNodes(missingNodeTypes);
  });
}

function showReport(answer) {
  const list = el("ul", { className: "iid-notes" });
  const headings = [["warning", t("migrate.warnings", "Needs your attention")],
    ["info", t("migrate.differences", "Behaviour differences")]];
  for (const [level, heading] of headings) {
    const notes = answer.notes.filter((n) => n.level === level);
    if (!notes.length) continue;
    list.append(el("h4", { textContent: heading }));
    for (const n of notes) {
      const where = n.node_id != null ? t("migrate.noteNode",
          "node {id} ({type}): ", { id: n.node_id, type: n.node_type }) : "";
      list.append(el("li", { className: level, textContent: where + n.message }));
    }
  }
  const close = panelButton(t("migrate.close", "Close"), "close", true);
  showPanel("done", [
    el("div", { className: "iid-title", textContent: t("migrate.doneTitle",
        "Converted to InstantID (precision-safe)") }),
    el("p", { textContent: answer.report.split("\n")[0] + " " +
      t("migrate.undoHint", "Undo (Ctrl+Z) restores the cubiq version.") }),
    list,
    el("div", { className: "iid-buttons" }, [close]),
  ]);
  close.addEventListener("click", closePanel);
}

function showFailure(message) {
  const close = panelButton(t("migrate.close", "Close"), "close");
  showPanel("failed", [
    el("div", { className: "iid-title", textContent: t("migrate.failedTitle", "The conversion did not happen") }),
    el("p", { textContent: message }),
    el("p", { textContent: t("migrate.unchanged", "The workflow is unchanged.") }),
    el("div", { className: "iid-buttons" }, [close]),
  ]);
  close.addEventListener("click", closePanel);
}

// ------------------------------------------------------------------------------------------------ converting

async function requestConversion(workflow) {
  let response;
  try {
    response = await api.fetchApi(ROUTE, { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ workflow }) });
  } catch (err) {
    return { error: t("migrate.noAnswer",
        "the ComfyUI server did not answer ({detail})", { detail: err?.message ?? err }) };
  }
  const answer = await response.json().catch(() => null);
  if (response.status === 404) {
    return { error: t("migrate.noRoute",
        "the server has no converter: restart ComfyUI after installing or updating comfyui-instantid") };
  }
  if (!response.ok || !answer?.workflow) {
    return { error: answer?.error ?? t("migrate.badStatus",
        "the server answered {status}", { status: response.status }) };
  }
  return answer;
}

// Loads the converted graph into the tab it came from, and records the conversion as one edit of that tab: its
// saved state stays the cubiq one (so the tab shows as modified) and Ctrl+Z brings the cubiq version back.
async function loadInPlace(converted) {
  await replaceGraphAsOneEdit(converted, (busy) => { state.converting = busy; });
}

async function convertCurrentWorkflow() {
  const graphData = currentGraphData();
  if (!cubiqTypesIn(graphData, false).length) {
    toast({ severity: "info", summary: "InstantID",
      detail: t("migrate.nothingToConvert", "This workflow has no ComfyUI_InstantID (cubiq) nodes to convert."),
      life: 4000 });
    return false;
  }
  const panel = document.getElementById(PANEL_ID);
  panel?.querySelectorAll("button").forEach((b) => { b.disabled = true; });
  const convert = panel?.querySelector("button[data-action=convert]");
  if (convert) convert.textContent = t("migrate.converting", "Converting…");
  const answer = await requestConversion(graphData);
  if (answer.error) {
    showFailure(t("migrate.failed",
        "The InstantID converter could not convert this workflow: {error}", { error: answer.error }));
    return false;
  }
  await loadInPlace(answer.workflow);
  state.lastReport = answer;
  showReport(answer);
  toast({ severity: "success", summary: t("migrate.doneTitle", "Converted to InstantID (precision-safe)"),
    detail: answer.report.split("\n")[0], life: 5000 });
  return true;
}

// ------------------------------------------------------------------------------------------------ the hook

async function offerOnLoad(load, args) {
  if (state.converting) return load(...args);
  closePanel(); // an offer or report is about the graph that is being replaced
  const cubiq = loadSkipsMissingNodes(args) ? [] : cubiqTypesIn(args[0], true);
  if (!cubiq.length) return load(...args);
  const replaceable = await coreReplaceable();
  if (cubiq.every((type) => replaceable.has(type))) return load(...args); // ComfyUI's own offer covers them
  state.lastMissing = null;
  const result = await load(...withoutMissingNodesDialog(args));
  showOffer(cubiq, state.lastMissing ?? cubiq);
  return result;
}

app.registerExtension({
  name: "comfyui-instantid.migrate-cubiq",
  commands: [{ id: COMMAND_ID, label: COMMAND_LABEL, menubarLabel: MENU_LABEL, icon: "pi pi-sync",
    function: () => convertCurrentWorkflow() }],
  menuCommands: [{ path: ["Edit"], commands: [COMMAND_ID] }],
  init() {
    wrapGraphLoad(offerOnLoad);
  },
  // a cubiq node that ComfyUI's Node Replacement may swap out: once it has, the canvas is told the graph changed
  // (the swap itself does not say so, frontend_adapter.js refreshGraphDrawing)
  loadedGraphNode(node) {
    if (!CUBIQ_NODE_TYPES.includes(node?.type) || !frontendReplacesNodes()) return;
    afterNodeRemoved(node, () => queueMicrotask(refreshGraphDrawing));
  },
  afterConfigureGraph(missingNodeTypes) {
    // 1.27 hands type names; 1.58 hands {type, nodeId, ...} entries
    state.lastMissing = (missingNodeTypes ?? []).map((t) => (typeof t === "string" ? t : t?.type)).filter(Boolean);
  },
});

// for the browser test and for other packs
window.InstantIDMigration = { CUBIQ_NODE_TYPES, ROUTE, COMMAND_ID, PANEL_ID, state, convertCurrentWorkflow,
  coreReplaceable };
