"""A UI-format workflow built from the real node classes of a booted ComfyUI, for scripts/build_workflows.py
(the recipes). Every node also carries what the ComfyUI frontend and ComfyUI-Manager read from `properties`:

* `cnr_id` / `ver` (and `aux_id`, the GitHub repo, for git installs): which node pack provides the node, so
  "install missing nodes" finds this pack (Registry id and version from pyproject.toml) and core nodes say
  `comfy-core` with the ComfyUI version they were built against;
* `models` on the loader nodes: name, url, directory and sha256 of the file the widget names, which the
  frontend's "Missing Models" dialog lists when the file is not installed (records from
  instantid_core/files/model_catalog.py, plus SDXL base 1.0 for the checkpoint); the same records, each file
  once, in the workflow's top-level `models` list (the workflow schema's field, read by the frontends too).

Layout: nodes stand in columns, every link goes from a column to one further right, and each node is given
the room it takes after a run (Face Detect draws its face boxes, the Precision and Projection nodes show
their report, Save Image shows the picture), at the frontend's real node sizes (tests/test_browser_workflows.py
checks both in a browser).
"""
from pathlib import Path
from urllib.parse import urlsplit

from instantid_core.workflow_formats.node_sizes import FRONTEND_SIZES, TITLE_H
from instantid_core.workflow_formats.widget_specs import frontend_extras, is_widget

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]

# The room a node takes after a run, where web/instantid.js or the frontend grows it: the face-box overlay
# (picture up to 260 px high + one line per face), the report boxes (at most 600 px wide), the saved picture.
# Measured after a run in the frontend (tests/test_browser_workflows.py prints them): Face Detect 320x451 with
# one photo of two faces, 379x404 with two; Precision 498x230; Projection 600x292; Save Image 400x270.
GROWN = {
    "InstantIDPrecision_FaceDetect": [400, 480], "InstantIDPrecision_PrecisionOffload": [600, 280],
    "InstantIDPrecision_ImageProjection": [600, 340], "SaveImage": [400, 300], "PreviewImage": [400, 300],
    "InstantIDPrecision_IdentityScore": [360, 360],  # its score table (web/identity_score.js), 4 rows
    "InstantIDPrecision_MultiPerson": [600, 560],  # its report: a line per face and the warnings
    "InstantIDPrecision_GroupFaceCrop": [600, 620],  # its report: a line per face, the cosine matrix, warnings
}
BYPASSED = 4  # LiteGraph's node mode "bypass": the node is skipped and its inputs pass through
GAP_X, GAP_Y = 60, 40

# The view a workflow opens with (`extra.ds`, which ComfyUI restores when it opens a saved workflow): at a zoom
# where the frontend draws node text, on a 1600 x 1000 window. LiteGraph draws a node's text from the zoom where
# its 14 px text is at least "LiteGraph.Canvas.MinFontSizeForLOD" px (8 by default: 0.57); 0.75 leaves room for
# a user who raised that setting to 10. The whole graph when it fits at that zoom, else its top-left part (the
# note and the inputs, where a user starts) with the rest a pan away.
VIEW_SCREEN = (1600, 1000)
VIEW_MARGIN = (40, 90)  # screen px left free at the left and top (side bar, menu bar)
READABLE_SCALE = 0.75


def pack_identity():
    """Registry id, version and GitHub repo ('owner/name') from pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    repo = urlsplit(project["urls"]["Repository"]).path.strip("/")
    return project["name"], project["version"], repo


def comfy_version():
    import comfyui_version
    return comfyui_version.__version__


class Graph:
    """A UI-format workflow under construction. Nodes are placed in columns (`col`): their y is fixed when they
    are added (below the column's last node, or at `level` if that is lower), their x when the graph is written."""

    def __init__(self, defs, pack, core_version):
        self.defs, self.nodes, self.links = defs, [], []
        self.columns = {}  # col -> [nodes]
        cnr_id, ver, repo = pack
        self.ours = {"cnr_id": cnr_id, "ver": ver, "aux_id": repo}
        self.core = {"cnr_id": "comfy-core", "ver": core_version}

    def _origin(self, type_):
        module = getattr(self.defs[type_], "RELATIVE_PYTHON_MODULE", "nodes")
        return self.ours if module.startswith("custom_nodes.") else self.core

    def _place(self, node, col, level):
        column = self.columns.setdefault(col, [])
        free = max((n["pos"][1] + room(n)[1] + TITLE_H + GAP_Y for n in column), default=0)
        node["pos"] = [None, max(free, level or 0)]
        node["_col"] = col
        column.append(node)

    def add(self, type_, title=None, col=0, level=None, models=(), **widgets):
        cls = self.defs[type_]
        spec = cls.INPUT_TYPES()
        values = []
        for section in ("required", "optional"):
            for name, s in (spec.get(section) or {}).items():
                if not is_widget(s):
                    continue
                if name not in widgets:
                    opts = s[1] if len(s) > 1 else {}
                    widgets[name] = opts.get("default", s[0][0] if isinstance(s[0], (list, tuple)) else None)
                values.append(widgets[name])
                values += frontend_extras(name, s)
        names = getattr(cls, "RETURN_NAMES", None) or cls.RETURN_TYPES
        properties = {"Node name for S&R": type_, **self._origin(type_)}
        if models:
            properties["models"] = [dict(m) for m in models]
        node = {"id": len(self.nodes) + 1, "type": type_, "pos": None, "size": list(FRONTEND_SIZES[type_]),
                "flags": {}, "order": len(self.nodes), "mode": 0, "inputs": [],
                "outputs": [{"name": n, "type": t, "links": [], "slot_index": i}
                            for i, (n, t) in enumerate(zip(names, cls.RETURN_TYPES))],
                "properties": properties, "widgets_values": values}
        if title:
            node["title"] = title
        self._place(node, col, level)
        self.nodes.append(node)
        return node

    def note(self, text, width=900):
        """A Note above the graph, tall enough for its text (the frontend's textarea: 10 px monospace, about
        6 px a character and 12 px a line, inside 10 px padding)."""
        per_row = (width - 30) // 6
        rows = sum(max(1, -(-len(line) // per_row)) for line in text.split("\n"))
        height = rows * 12 + 40
        node = {"id": len(self.nodes) + 1, "type": "Note", "pos": [0, -(height + TITLE_H + 2 * GAP_Y)],
                "size": [width, height], "flags": {}, "order": len(self.nodes), "mode": 0, "inputs": [],
                "outputs": [], "properties": {}, "widgets_values": [text]}
        self.nodes.append(node)

    def link(self, src, slot, dst, input_name):
        assert src["_col"] < dst["_col"], f"{src['type']} -> {dst['type']}: links go left to right"
        spec = self.defs[dst["type"]].INPUT_TYPES()
        kind = {**spec.get("required", {}), **spec.get("optional", {})}[input_name][0]
        link_id = len(self.links) + 1
        self.links.append([link_id, src["id"], slot, dst["id"], len(dst["inputs"]), kind])
        src["outputs"][slot]["links"].append(link_id)
        dst["inputs"].append({"name": input_name, "type": kind, "link": link_id})

    def json(self):
        x = 0
        for col in sorted(self.columns):
            for n in self.columns[col]:
                n["pos"][0] = x
            x += max(room(n)[0] for n in self.columns[col]) + GAP_X
        nodes = [{k: v for k, v in n.items() if not k.startswith("_")} for n in self.nodes]
        return {"last_node_id": len(self.nodes), "last_link_id": len(self.links), "nodes": nodes,
                "links": self.links, "groups": [], "config": {}, "extra": {"ds": opening_view(nodes)},
                "version": 0.4,
                "models": workflow_models(nodes)}


def workflow_models(nodes):
    """The workflow's top-level `models` list (the workflow JSON schema's field, which frontends read next to the
    nodes' properties.models): every node's entries, each file once, in node order."""
    seen, out = set(), []
    for n in nodes:
        for m in n["properties"].get("models", []):
            key = (m["directory"], m["name"])
            if key not in seen:
                seen.add(key)
                out.append(dict(m))
    return out


def opening_view(nodes):
    """`extra.ds` (LiteGraph's view: screen = (graph + offset) * scale) that shows the graph readable on
    VIEW_SCREEN: all of it, centred, where it fits at READABLE_SCALE or more (up to 1), else its top-left part."""
    left, top = min(n["pos"][0] for n in nodes), min(n["pos"][1] for n in nodes) - TITLE_H
    right = max(n["pos"][0] + n["size"][0] for n in nodes)
    bottom = max(n["pos"][1] + n["size"][1] for n in nodes)
    free_w, free_h = VIEW_SCREEN[0] - 2 * VIEW_MARGIN[0], VIEW_SCREEN[1] - VIEW_MARGIN[1] - VIEW_MARGIN[0]
    scale = min(1.0, free_w / (right - left), free_h / (bottom - top))
    if scale >= READABLE_SCALE:
        pad_x = (free_w - (right - left) * scale) / 2 + VIEW_MARGIN[0]
        pad_y = (free_h - (bottom - top) * scale) / 2 + VIEW_MARGIN[1]
    else:
        scale, pad_x, pad_y = READABLE_SCALE, VIEW_MARGIN[0], VIEW_MARGIN[1]
    return {"scale": round(scale, 4), "offset": [round(pad_x / scale - left, 1), round(pad_y / scale - top, 1)]}


def room(node):
    """[width, height] a node may take: its size, or what it grows to after a run."""
    grown = GROWN.get(node["type"], node["size"])
    return [max(a, b) for a, b in zip(node["size"], grown)]
