// comfyui-instantid: the shipped workflows' Notes name this pack's folder as "<this pack's folder>" (it is
// comfyui-instantid for a git clone, instantid-precision for a Registry/Manager install, or whatever the user named
// it). When such a workflow is loaded, the Notes get the folder this ComfyUI actually serves the pack from, so the
// commands in them can be copied as they are. The text is changed in beforeConfigureGraph, on the graph data, before
// the frontend records the loaded state: the workflow is not marked modified, and saving it keeps the real name.
import { app } from "../../scripts/app.js";

const PLACEHOLDER = "<this pack's folder>";
// the sentence that explains the placeholder: once it is replaced, it says where the name comes from instead
const EXPLANATION = /\(<this pack's folder> is the name[^)]*\)/g;
const NOTE_TYPES = new Set(["Note", "MarkdownNote"]);

export function packFolder() {
  // served at /extensions/<pack folder>/workflow_notes.js
  const parts = new URL(import.meta.url).pathname.split("/");
  return decodeURIComponent(parts[parts.indexOf("extensions") + 1] ?? "");
}

export function withPackFolder(text, folder) {
  if (typeof text !== "string" || !text.includes(PLACEHOLDER) || !folder) return text;
  return text.replace(EXPLANATION, `(${folder} is the folder this ComfyUI loads the pack from.)`)
    .split(PLACEHOLDER).join(folder);
}

function notesOf(graphData) {
  const graphs = [graphData, ...(graphData?.definitions?.subgraphs ?? [])];
  return graphs.flatMap((g) => g?.nodes ?? []).filter((n) => NOTE_TYPES.has(n?.type) && Array.isArray(n.widgets_values));
}

app.registerExtension({
  name: "comfyui-instantid.workflow-notes",
  beforeConfigureGraph(graphData) {
    const folder = packFolder();
    for (const note of notesOf(graphData)) note.widgets_values = note.widgets_values.map((v) => withPackFolder(v, folder));
  },
});
