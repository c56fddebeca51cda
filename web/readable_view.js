// comfyui-instantid: the pack's workflows open at a zoom where node text is drawn.
//
// Each shipped workflow carries the view it should open with (extra.ds, scripts/build_workflows.py): readable on a
// 1600 x 1000 window. ComfyUI restores that view when a saved workflow is opened, but fits the whole graph on the
// screen when it comes from the template browser, which for these graphs (up to ~6,000 px wide) is a zoom where
// LiteGraph draws every node as a blank box. So once such a load has set its view: if the graph has this pack's
// nodes, node text is not drawn at the view the frontend chose, and the workflow's saved view is readable, the
// saved view is shown instead. Any other load (a user's own workflow saved zoomed out, a graph without the pack's
// nodes, a view that is readable already) is left as the frontend set it.
import { app } from "../../scripts/app.js";
import { activeGraph, afterViewSettles, canvasView, nodeTextDrawnAt, setCanvasView } from "./frontend_adapter.js";

const PACK_PREFIX = "InstantIDPrecision_";
let loads = 0; // a newer load makes an older one's wait moot

function hasPackNodes(graph) {
  return (graph?.nodes ?? []).some((n) => String(n.comfyClass ?? n.type ?? "").startsWith(PACK_PREFIX));
}

async function showReadable() {
  const load = ++loads;
  const saved = activeGraph()?.extra?.ds;
  if (!saved || !hasPackNodes(activeGraph())) return;
  await afterViewSettles();
  const now = canvasView();
  if (load !== loads || !now || nodeTextDrawnAt(now.scale) || !nodeTextDrawnAt(saved.scale)) return;
  setCanvasView(saved);
}

app.registerExtension({
  name: "comfyui-instantid.readable-view",
  afterConfigureGraph() {
    showReadable().catch((err) => console.debug("[InstantID] could not set a readable view", err));
  },
});
