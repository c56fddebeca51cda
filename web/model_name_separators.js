// comfyui-instantid: model file names saved with the other OS's path separator.
//
// ComfyUI names a model in a sub-folder with the server's separator: `instantid\diffusion_pytorch_model.safetensors`
// on Windows, `instantid/diffusion_pytorch_model.safetensors` elsewhere. A workflow saved on the other kind of
// system (our shipped ones use '/', as ComfyUI-Manager does) then holds a combo value that is not in the node's
// list, and queueing fails with "Value not in list" until the file is picked again by hand. When a graph is loaded
// (file opened or dropped, tab switched or restored, template, undo) each such combo value is set to the one option
// that names the same file with the other separator. A value that is in the list is never changed, and nothing is
// picked when no option, or more than one, matches.
//
// Hooks (app.loadGraphData in the frontend, 1.27 and 1.58): beforeConfigureGraph(graphData) runs on the graph data
// before the frontend compares each node's properties.models entries with the server's model lists (1.27: the
// "Missing Models" dialog, where `name` must equal a listed file name exactly; 1.58 starts from the combo values
// and adds these entries' URLs), so the same rule is applied to those names there and a file that is installed is
// not offered for download. afterConfigureGraph runs once every node, those inside subgraph definitions included
// (loadedGraphNode is called for the root graph's nodes only), has its widgets with their saved values and option
// lists, before the frontend looks for missing models (1.58) and before the load is recorded as the tab's state,
// so the fix does not mark the workflow modified.
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";
import { activeGraph, comboWidgets, forEachNode, pickComboValue, setting } from "./frontend_adapter.js";

const TAG = "[InstantID]";
const WHY = "(same file, named with the server's path separator)";

function sameFileKey(name) {
  return name.replaceAll("\\", "/");
}

function hasSeparator(name) {
  return typeof name === "string" && (name.includes("/") || name.includes("\\"));
}

// The only entry of `names` that differs from `value` in its separators alone, or null (none, or several).
function onlyOtherSpelling(value, names) {
  if (!hasSeparator(value) || names.includes(value)) return null;
  const key = sameFileKey(value);
  const matches = names.filter((n) => typeof n === "string" && sameFileKey(n) === key);
  return matches.length === 1 ? matches[0] : null;
}

// ------------------------------------------------------------------------------------------- widget values

function fixNodeWidgets(node, where) {
  for (const { widget, options } of comboWidgets(node)) {
    const option = onlyOtherSpelling(widget.value, options);
    if (!option) continue;
    const from = widget.value;
    pickComboValue(node, widget, option);
    console.info(`${TAG} ${node.type} #${node.id}${where}: '${from}' -> '${option}' ${WHY}`);
  }
}

function fixLoadedGraph(graph) {
  forEachNode(graph, (node, subgraph) => fixNodeWidgets(node, subgraph ? ` in subgraph '${subgraph.name}'` : ""));
}

// ------------------------------------------------------------------------ properties.models (missing models)

function modelEntries(graphData) {
  const entries = [];
  const fromNodes = (nodes, where) => {
    for (const node of nodes ?? []) {
      const label = `${node?.type} #${node?.id}${where}`;
      for (const model of node?.properties?.models ?? []) entries.push({ model, label });
    }
  };
  fromNodes(graphData?.nodes, "");
  for (const subgraph of graphData?.definitions?.subgraphs ?? []) {
    fromNodes(subgraph?.nodes, ` in subgraph '${subgraph?.name}'`);
  }
  for (const model of graphData?.models ?? []) entries.push({ model, label: "workflow", field: "models" });
  return entries.filter(({ model }) => hasSeparator(model?.name) && typeof model.directory === "string");
}

async function fixModelNames(graphData) {
  // the frontend compares these names only with this setting on; then it lists the same folders itself
  if (setting("Comfy.Workflow.ShowMissingModelsWarning") === false) return;
  const entries = modelEntries(graphData);
  if (!entries.length) return;
  const lists = new Map(); // directory -> the file names the server lists there (as the dialog reads them)
  for (const { model } of entries) {
    const dir = model.directory;
    if (lists.has(dir) || !/^[\w.-]+$/.test(dir)) continue;
    try {
      lists.set(dir, (await api.getModels(dir)).map((m) => m.name));
    } catch (error) {
      console.warn(`${TAG} could not list models/${dir} to check the workflow's model names:`, error);
      lists.set(dir, []);
    }
  }
  for (const { model, label, field = "properties.models" } of entries) {
    const name = onlyOtherSpelling(model.name, lists.get(model.directory) ?? []);
    if (!name) continue;
    console.info(`${TAG} ${label} ${field}: '${model.name}' -> '${name}' ${WHY}`);
    model.name = name;
  }
}

app.registerExtension({
  name: "comfyui-instantid.model-name-separators",
  async beforeConfigureGraph(graphData) {
    await fixModelNames(graphData);
  },
  afterConfigureGraph() {
    fixLoadedGraph(activeGraph());
  },
});
