// comfyui-instantid: get InstantID's model files without a terminal.
//
// A panel lists the files InstantID needs (the adapter, IdentityNet, the five antelopev2 files, and an opt-in
// SDXL checkpoint), where each goes, and how much of it is there; "Download" starts the pack's own downloader on
// the server (GET/POST /instantid_precision/models…, nodes/download_route.py: catalog files only, into ComfyUI's
// folders, resumable, size + sha256 checked), the rows show per-file progress, "Cancel" stops it (the partial file
// is kept and resumes), and the end shows the Model Doctor's report. Offline, the panel shows the same manual URLs
// and folders as the `download` command.
//
// It opens (1) from the "Download models" button on the InstantID Model Doctor node, (2) from the Extensions menu
// command, and (3) by itself when a workflow with InstantID nodes is loaded while one of the needed files is missing
// (once per set of missing files in a session, so tab switches do not reopen it after "Close").
//
// "Missing" means one thing in the notice and in the panel: no file at the place the catalog puts it (a file of
// another size is "present (size differs)", for the Model Doctor to judge, never counted missing). The notice's
// count is the number of the panel's rows that are missing, and both follow the disk: they are read again after a
// download, after the user refreshes the node definitions, and after each run (the notice closes once the
// workflow lacks nothing).
import { app } from "../../scripts/app.js";
import { activeGraph, addButtonWidget, toast } from "./frontend_adapter.js";
import { api } from "../../scripts/api.js";
import { t } from "./instantid_i18n.js";
import { addPanelStyle, el } from "./panel.js";

const BASE = "/instantid_precision/models";
const PANEL_ID = "instantid-models-panel";
const DOCTOR_NODE = "InstantIDPrecision_ModelDoctor";
const DOWNLOAD_COMMAND = "InstantIDPrecision.DownloadModels";
const PACK_PREFIX = "InstantIDPrecision_";
const LOADERS = { adapter: ["InstantIDPrecision_ModelLoader", "instantid_file"], identitynet: ["ControlNetLoader", "control_net_name"] };
const FACE_NODES = new Set(["InstantIDPrecision_FaceAnalysisLoader"]);
// compact: the one-line notice a workflow load opens (the canvas stays free); "Show" opens the full panel
const state = { poll: null, dismissed: new Set(), wantSdxl: false, offered: null, compact: false };

// the server's per-file states (instantid_core/files/download_job.py, downloader.py), in the user's language
const STATUS_TEXT = {
  downloaded: () => t("models.status.downloaded", "downloaded"),
  skipped: () => t("models.status.skipped", "already there"),
  "from cache": () => t("models.status.fromCache", "from the Hugging Face cache"),
  failed: () => t("models.status.failed", "failed"),
  waiting: () => t("models.status.waiting", "waiting"),
  downloading: () => t("models.status.downloading", "downloading"),
  installed: () => t("models.status.installed", "installed"),
};

// the per-file ends of a download that leave the file in place
const GOOD_ENDS = new Set(["downloaded", "skipped", "from cache", "installed"]);

function mb(bytes) {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

// Bottom right, out of the way of the graph; as a one-line notice ("iid-notice") until the user opens it.
const PANEL_CSS = `
#${PANEL_ID} { right: 16px; bottom: 16px; width: min(680px, calc(100vw - 32px)); max-height: calc(100vh - 120px);
  gap: 8px; font: 13px/1.4 sans-serif; }
#${PANEL_ID}.iid-notice { width: auto; flex-direction: row; align-items: center; padding: 8px 10px; }
#${PANEL_ID} table { border-collapse: collapse; width: 100%; }
#${PANEL_ID} td { padding: 2px 4px; vertical-align: middle; }
#${PANEL_ID} td.iid-size { text-align: right; white-space: nowrap; font-family: monospace; }
#${PANEL_ID} .iid-bar { height: 6px; background: #222; border-radius: 3px; overflow: hidden; min-width: 90px; }
#${PANEL_ID} .iid-bar > div { height: 100%; background: #2f6fde; }
#${PANEL_ID} tr.installed .iid-bar > div { background: #3fb950; }
#${PANEL_ID} tr.present .iid-bar > div { background: #f0a020; }
#${PANEL_ID} .iid-folder { opacity: 0.7; font-family: monospace; font-size: 11px; overflow-wrap: anywhere; }
#${PANEL_ID} td.iid-status { white-space: nowrap; }
#${PANEL_ID} pre { margin: 0; max-height: 220px; overflow: auto; white-space: pre-wrap; font-size: 11px;
  background: var(--comfy-input-bg, #222); padding: 6px; border-radius: 4px; }
#${PANEL_ID} .iid-buttons { align-items: center; }
#${PANEL_ID} .iid-buttons label { margin-right: auto; }`;

async function call(path, body) {
  const response = await api.fetchApi(BASE + path, body === undefined ? {} :
    { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const answer = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  return { ok: response.ok, status: response.status, answer };
}

// The rows as they are on disk now. While a download runs, its own rows (progress); once it has ended, its word on
// a file ("downloaded", "failed"…) is kept only while the disk still agrees (a file removed or replaced since then
// shows as it is).
function shownFiles(status) {
  const job = status.download;
  let rows = status.files;
  if (job?.state === "running" && job.files) rows = job.files;
  else if (job?.files) {
    const said = new Map(job.files.map((f) => [f.name, f]));
    rows = rows.map((f) => {
      const row = said.get(f.name);
      const holds = row?.status && (GOOD_ENDS.has(row.status) ? f.installed : !f.installed);
      return holds ? { ...f, status: row.status, detail: row.detail } : f;
    });
  }
  return rows.filter((f) => status.groups.includes(f.group) || state.wantSdxl || job?.groups?.includes(f.group));
}

// The panel's rows with no file at their place (nothing, or a partial download).
function absentFiles(status) {
  return shownFiles(status).filter((f) => !f.present);
}

// The groups "Download" fetches: the required ones with a file missing (a file of another size is left alone).
function missingGroups(status) {
  return [...new Set(status.files.filter((f) => status.groups.includes(f.group) && !f.present).map((f) => f.group))];
}

// What a loaded workflow lacks, judged as the user's ComfyUI sees it: a loader whose chosen file is not among the
// files ComfyUI lists (any file name works: only the widget's choice counts), and antelopev2 files absent from
// their one place (no widget lists them; their sizes are the Model Doctor's business).
function neededGroups(nodes, status) {
  const needed = new Set();
  for (const node of nodes) {
    for (const [group, [type, widgetName]] of Object.entries(LOADERS)) {
      if (node.comfyClass !== type) continue;
      const widget = node.widgets?.find((w) => w.name === widgetName);
      const value = String(widget?.value ?? "");
      if (group === "identitynet" && !/instantid/i.test(value)) continue; // another ControlNet of the workflow
      const listed = widget?.options?.values;
      if (!value || (Array.isArray(listed) && !listed.includes(value))) needed.add(group);
    }
    if (FACE_NODES.has(node.comfyClass) &&
        status.files.some((f) => f.group === "antelopev2" && !f.present)) needed.add("antelopev2");
  }
  return [...needed];
}

function closePanel() {
  clearInterval(state.poll);
  state.poll = null;
  document.getElementById(PANEL_ID)?.remove();
}

function render(status) {
  addPanelStyle(PANEL_ID, "#2f6fde", PANEL_CSS);
  let panel = document.getElementById(PANEL_ID);
  if (!panel) {
    panel = el("div", { id: PANEL_ID, role: "region" }); // not modal: the canvas stays usable
    panel.setAttribute("aria-label", t("models.panelLabel", "InstantID model files"));
    document.body.append(panel);
  }
  const job = status.download;
  const running = job?.state === "running";
  if (state.compact && !running) return renderNotice(panel, status);
  panel.className = job?.state === "failed" || job?.state === "cancelled" ? "failed" : job?.state === "done" ? "done" : "";
  const rows = shownFiles(status).map((f) => {
    const differs = f.present && !f.installed;
    const pct = differs ? 100 : f.size ? Math.round((100 * f.bytes) / f.size) : 0;
    const sizes = differs ? t("models.sizeDiffers", "{have} (published: {size})",
      { have: mb(f.on_disk ?? 0), size: mb(f.size) }) : `${mb(f.bytes)} / ${mb(f.size)}`;
    const label = f.status ? (STATUS_TEXT[f.status]?.() ?? f.status) :
      f.installed ? t("models.status.installed", "installed") :
      f.present ? t("models.status.present", "present (size differs)") :
      f.bytes ? t("models.status.partial", "{pct} % (partial)", { pct }) : t("models.status.missing", "missing");
    return el("tr", { className: f.installed ? "installed" : differs ? "present" : "", dataset: { file: f.name } }, [
      el("td", {}, [el("div", { textContent: f.name }), el("div", { className: "iid-folder", textContent: `models/${f.folder}` })]),
      el("td", {}, [el("div", { className: "iid-bar" }, [el("div", { style: `width:${pct}%` })])]),
      el("td", { className: "iid-size", textContent: sizes }),
      el("td", { className: "iid-status", textContent: label }),
    ]);
  });
  const missing = missingGroups(status);
  const title = running ? t("models.downloading", "Downloading InstantID's model files…") :
    job?.state === "done" ? t("models.done", "Model files downloaded") :
    job?.state === "cancelled" ? t("models.stopped", "Download stopped") :
    job?.state === "failed" ? t("models.failed", "Download failed") :
    missing.length ? t("models.needed", "InstantID needs these model files") :
    t("models.allInstalled", "InstantID's model files are installed");
  const sdxl = el("input", { type: "checkbox", checked: state.wantSdxl, disabled: running,
    onchange: () => { state.wantSdxl = sdxl.checked; render(status); } });
  const sdxlFile = status.files.find((f) => status.optional_groups.includes(f.group));
  const sdxlLabel = sdxlFile && !sdxlFile.installed ? el("label", { title: sdxlFile.licence },
    [sdxl, " " + t("models.sdxl", "also the SDXL 1.0 base checkpoint ({size}; licence: {licence})",
      { size: mb(sdxlFile.size), licence: sdxlFile.licence.split(" (")[0] })]) : null;
  const groups = [...missing, ...(state.wantSdxl && sdxlFile && !sdxlFile.installed ? [sdxlFile.group] : [])];
  const download = el("button", { className: "iid-primary", textContent: job?.state === "cancelled" ? t("models.resume", "Resume") : t("models.download", "Download"),
    disabled: running || !groups.length, onclick: () => start(groups) });
  const cancel = el("button", { textContent: t("models.cancel", "Cancel download"), disabled: !running, onclick: () => call("/cancel", {}).then(({ answer }) => render(answer)) });
  const close = el("button", { textContent: t("models.close", "Close"), onclick: () => {
    if (state.offered) state.dismissed.add(state.offered.join());
    closePanel();
  } });
  const details = [];
  if (job?.message) details.push(el("pre", { className: "iid-message", textContent: job.message }));
  if (job?.report) details.push(el("div", { textContent: t("models.doctor", "Model Doctor:") }), el("pre", { className: "iid-report", textContent: job.report }));
  panel.replaceChildren(
    el("div", { className: "iid-title", textContent: title }),
    el("div", { textContent: t("models.source", "From Hugging Face (pinned revisions) into ComfyUI's model folders. " +
      "Same as: {command}", { command: status.command }) }),
    el("table", {}, [el("tbody", {}, rows)]),
    ...details,
    el("div", { className: "iid-buttons" }, [sdxlLabel, download, cancel, close]),
  );
  if (running && !state.poll) state.poll = setInterval(refresh, 500);
  if (!running && state.poll) { clearInterval(state.poll); state.poll = null; }
}

function renderNotice(panel, status) {
  const count = absentFiles(status).length;
  panel.className = "iid-notice";
  panel.replaceChildren(
    el("span", { className: "iid-notice-text",
      textContent: t("models.notice", "InstantID: {count} model file(s) missing", { count }) }),
    el("button", { className: "iid-primary", textContent: t("models.show", "Show"),
      onclick: () => { state.compact = false; render(status); } }),
    el("button", { textContent: "×", title: t("models.close", "Close"), onclick: () => {
      if (state.offered) state.dismissed.add(state.offered.join());
      closePanel();
    } }),
  );
}

async function refresh() {
  const { ok, answer } = await call("");
  if (ok) render(answer);
}

async function start(groups) {
  const { ok, answer } = await call("/download", { groups });
  if (!ok && answer.error && !answer.files) {
    toast({ severity: "error", summary: t("models.toastSummary", "InstantID download"), detail: answer.error,
      life: 8000 });
    return;
  }
  render(answer.files ? answer : (await call("")).answer);
}

export async function openModelPanel() {
  state.offered = null; // opened by hand: every file that is not there as published
  state.compact = false;
  const { ok, answer } = await call("");
  if (ok) render(answer);
}

function graphNodes() {
  return activeGraph()?.nodes ?? [];
}

// The groups the open workflow needs that have a file missing on disk.
function lackingGroups(nodes, status) {
  const missing = missingGroups(status);
  return neededGroups(nodes, status).filter((g) => missing.includes(g));
}

async function offerForGraph() {
  const nodes = graphNodes();
  if (!nodes.some((n) => String(n.comfyClass ?? n.type ?? "").startsWith(PACK_PREFIX))) return;
  const { ok, answer } = await call("");
  if (!ok) return;
  const needed = lackingGroups(nodes, answer);
  if (answer.download?.state === "running" || (needed.length && !state.dismissed.has(needed.join()))) {
    state.offered = needed.length ? needed : null;
    state.compact = answer.download?.state !== "running";
    render(answer);
  }
}

// After a run or a refresh of the node definitions: what is shown is read again from the disk. The notice closes
// when the open workflow lacks nothing any more; the full panel stays open with its rows brought up to date.
async function recheck() {
  const panel = document.getElementById(PANEL_ID);
  if (!panel || state.poll) return; // nothing shown, or a download updates it already
  const { ok, answer } = await call("");
  if (!ok || !document.getElementById(PANEL_ID)) return;
  if (state.compact && answer.download?.state !== "running" && !lackingGroups(graphNodes(), answer).length) {
    closePanel();
    return;
  }
  render(answer);
}

function recheckSoon() {
  recheck().catch((err) => console.debug("[InstantID] could not re-read the model files", err));
}

app.registerExtension({
  name: "comfyui-instantid.model-downloads",
  setup() {
    api.addEventListener("execution_success", recheckSoon);
  },
  refreshComboInNodes() {
    recheckSoon();
  },
  commands: [{ id: DOWNLOAD_COMMAND, label: "InstantID: download model files", icon: "pi pi-download",
    function: () => openModelPanel() }],
  menuCommands: [{ path: ["Extensions", "InstantID"], commands: [DOWNLOAD_COMMAND] }],
  async nodeCreated(node) {
    if (node.comfyClass !== DOCTOR_NODE) return;
    addButtonWidget(node, "download models", () => openModelPanel());
  },
  async afterConfigureGraph() {
    offerForGraph().catch((err) => console.warn("[InstantID] could not check the workflow's model files", err));
  },
});

window.InstantIDModels = Object.freeze({ open: openModelPanel, close: closePanel, PANEL_ID });
