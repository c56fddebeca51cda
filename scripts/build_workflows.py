"""Regenerate example_workflows/*.json (UI format) from the real node definitions of a ComfyUI + this pack.

    COMFYUI_PATH=/path/to/ComfyUI python scripts/build_workflows.py

Inputs, outputs and the order of widget values come from each node class, so the files cannot drift
from the nodes; the graph of each workflow is described below. Every node also carries what the ComfyUI
frontend and ComfyUI-Manager read from `properties`:

* `cnr_id` / `ver` (and `aux_id`, the GitHub repo, for git installs): which node pack provides the node, so
  "install missing nodes" finds this pack (Registry id and version from pyproject.toml) and core nodes say
  `comfy-core` with the ComfyUI version they were built against;
* `models` on the loader nodes: name, url, directory and sha256 of the file the widget names, which the
  frontend's "Missing Models" dialog lists when the file is not installed (records from
  instantid_core/files/model_catalog.py, plus SDXL base 1.0 for the checkpoint).

Layout: nodes stand in columns, every link goes from a column to one further right, and each node is given
the room it takes after a run (Face Detect draws its face boxes, the Precision and Projection nodes show
their report, Save Image shows the picture), at the frontend's real node sizes (tests/test_browser_workflows.py
checks both in a browser).
"""
import importlib.util
import json
import sys
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT))  # last: ComfyUI goes first, so `nodes` stays ComfyUI's
_kit = ROOT / "tests" / "instantid_testkit"  # the shared test fixtures, loaded by name (tests/ stays off sys.path)
_spec = importlib.util.spec_from_file_location("instantid_testkit", _kit / "__init__.py",
                                               submodule_search_locations=[str(_kit)])
sys.modules["instantid_testkit"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sys.modules["instantid_testkit"])
from instantid_testkit import comfy_support as cs  # noqa: E402

from instantid_core.files.antelope_files import ANTELOPE_DIRNAME, ANTELOPE_FILES  # noqa: E402
from instantid_core.files.model_catalog import ADAPTER, IDENTITYNET, files_for, frontend_model_entries  # noqa: E402
from instantid_core.workflow_formats.widget_specs import frontend_extras, is_widget  # noqa: E402

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

NEGATIVE = "lowres, blurry, deformed, watermark, text, extra fingers"
PORTRAIT = "analog film photo of a person, portrait, natural light, detailed skin, 85mm"

# The SDXL checkpoint the workflows name: the official SDXL base 1.0 file (any SDXL checkpoint works). Its
# sha256 is the LFS oid of the file on huggingface.co (size 6,938,078,334 bytes).
SDXL_MODEL = {"name": "sd_xl_base_1.0.safetensors",
              "url": "https://huggingface.co/stabilityai/stable-diffusion-xl-base-1.0/resolve/main/"
                     "sd_xl_base_1.0.safetensors",
              "hash": "31e35c80fc4829d14f90153f4c74cd59c90b779f6afe05a74cd6120b893f7e5b", "hash_type": "SHA256",
              "directory": "checkpoints"}
ADAPTER_MODEL, IDENTITYNET_MODEL = frontend_model_entries([ADAPTER])[0], frontend_model_entries([IDENTITYNET])[0]

# Node body sizes [width, height] as the frontend (comfyui-frontend-package 1.27.10) lays them out before a
# run: the heights are its computeSize() for these widgets; widths leave room for long file names.
SIZES = {
    "CheckpointLoaderSimple": [340, 98], "ControlNetLoader": [340, 58], "LoadImage": [340, 326],
    "InstantIDPrecision_FaceAnalysisLoader": [340, 82], "InstantIDPrecision_ModelLoader": [340, 58],
    "CLIPTextEncode": [400, 180], "EmptyLatentImage": [320, 106], "ImageBatch": [200, 46],
    "InstantIDPrecision_FaceDetect": [320, 126], "InstantIDPrecision_PrecisionOffload": [320, 102],
    "InstantIDPrecision_ImageProjection": [320, 150], "InstantIDPrecision_FaceKeypoints": [320, 106],
    "InstantIDPrecision_Apply": [300, 290], "InstantIDPrecision_ApplyAttention": [300, 146],
    "InstantIDPrecision_ApplyIdentityNet": [300, 266], "ControlNetApplyAdvanced": [300, 186],
    "SolidMask": [320, 106], "MaskComposite": [320, 126], "InvertMask": [200, 26],
    "KSampler": [320, 262], "VAEDecode": [200, 46], "SaveImage": [400, 58], "PreviewImage": [400, 26],
    "InstantIDPrecision_IdentityScore": [320, 230],
}
# The room a node takes after a run, where web/instantid.js or the frontend grows it: the face-box overlay
# (picture up to 260 px high + one line per face), the report boxes (at most 600 px wide), the saved picture.
# Measured after a run in the frontend (tests/test_browser_workflows.py prints them): Face Detect 320x451 with
# one photo of two faces, 379x404 with two; Precision 498x230; Projection 600x292; Save Image 400x270.
GROWN = {
    "InstantIDPrecision_FaceDetect": [400, 480], "InstantIDPrecision_PrecisionOffload": [600, 280],
    "InstantIDPrecision_ImageProjection": [600, 340], "SaveImage": [400, 300], "PreviewImage": [400, 300],
    "InstantIDPrecision_IdentityScore": [360, 360],  # its score table (web/identity_score.js), 4 rows
}
BYPASSED = 4  # LiteGraph's node mode "bypass": the node is skipped and its inputs pass through
TITLE_H = 30  # LiteGraph draws the title bar above pos[1]
GAP_X, GAP_Y = 60, 40


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
        node = {"id": len(self.nodes) + 1, "type": type_, "pos": None, "size": list(SIZES[type_]), "flags": {},
                "order": len(self.nodes), "mode": 0, "inputs": [],
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
                "links": self.links, "groups": [], "config": {}, "extra": {}, "version": 0.4}


def room(node):
    """[width, height] a node may take: its size, or what it grows to after a run."""
    grown = GROWN.get(node["type"], node["size"])
    return [max(a, b) for a, b in zip(node["size"], grown)]


# ---------------------------------------------------------------------------------------------- the notes

def _gb(size):
    return f"{size / 1e9:.1f} GB"


def models_note():
    adapter, identitynet = files_for([ADAPTER]), files_for([IDENTITYNET])
    antelope = ", ".join(ANTELOPE_FILES)
    pack = "custom_nodes/<this pack's folder>"
    return (
        "Model files (in ComfyUI/models/):\n"
        f"- instantid/{adapter[0].target}: InstantID adapter, InstantX/InstantID ({_gb(adapter[0].size)})\n"
        f"- controlnet/{identitynet[0].target}: IdentityNet, InstantX/InstantID ControlNetModel "
        f"({_gb(identitynet[0].size)}; the place ComfyUI-Manager uses)\n"
        f"- insightface/models/{ANTELOPE_DIRNAME}/: the five antelopev2 files {antelope} (insightface's pack, "
        "non-commercial research use only)\n"
        f"- checkpoints/: any SDXL checkpoint ({SDXL_MODEL['name']} is named here; pick yours in Load Checkpoint)\n"
        "\n"
        "Download the InstantID files (adapter, IdentityNet, antelopev2) from the ComfyUI folder with:\n"
        f"    python {pack} download\n"
        f"and check every file with:  python {pack} doctor\n"
        "(<this pack's folder> is the name this pack has in custom_nodes: instantid-precision when installed "
        "from the Registry or ComfyUI-Manager, else the folder you cloned it into.)\n"
        "\n"
        "ComfyUI's 'Missing Models' dialog offers downloads for the .safetensors files only (SDXL base, "
        f"IdentityNet). It lists {adapter[0].target} without a download (the frontend downloads .safetensors/.sft "
        "files only), and it cannot list the antelopev2 files (.onnx files in a nested folder are not model "
        "files to it): use the download command for those. On ComfyUI Desktop use it for IdentityNet too: the "
        "dialog's download there cannot save into the instantid/ subfolder."
    )


# ---------------------------------------------------------------------------------------------- the graphs

def base(g):
    """Checkpoint, prompts, face analysis, adapter, IdentityNet, latent: the parts every workflow shares."""
    ckpt = g.add("CheckpointLoaderSimple", col=0, ckpt_name=SDXL_MODEL["name"], models=[SDXL_MODEL])
    cn = g.add("ControlNetLoader", "IdentityNet", col=0, control_net_name=IDENTITYNET_MODEL["name"],
               models=[IDENTITYNET_MODEL])
    iid = g.add("InstantIDPrecision_ModelLoader", col=0, instantid_file=ADAPTER_MODEL["name"], models=[ADAPTER_MODEL])
    fa = g.add("InstantIDPrecision_FaceAnalysisLoader", col=0, provider="auto")
    pos = g.add("CLIPTextEncode", "Positive prompt", col=1, text=PORTRAIT)
    neg = g.add("CLIPTextEncode", "Negative prompt", col=1, text=NEGATIVE)
    g.link(ckpt, 1, pos, "clip")
    g.link(ckpt, 1, neg, "clip")
    lat = g.add("EmptyLatentImage", col=1, width=1016, height=1016, batch_size=1)
    return ckpt, pos, neg, fa, iid, cn, lat


def face(g, fa, title="Face photo", selection="largest", image="face.png", col=0):
    img = g.add("LoadImage", title, col=col, image=image)
    det = g.add("InstantIDPrecision_FaceDetect", col=col + 1, level=img["pos"][1], selection=selection)
    g.link(fa, 0, det, "face_analysis")
    g.link(img, 0, det, "image")
    return img, det


def project(g, iid, det, col=2, combine="average"):
    proj = g.add("InstantIDPrecision_ImageProjection", col=col, level=det["pos"][1], combine=combine)
    g.link(iid, 0, proj, "instantid")
    g.link(det, 0, proj, "faces")
    return proj


SCORE_NOTE = ("Identity Score (bypassed: select it and press Ctrl+B to turn it on) scores each image against the "
              "reference face: the cosine similarity of their face embeddings, 1 = the same face direction. It "
              "runs face analysis once more per image.")


def score(g, fa, images, col, level=None, bypassed=True, face="largest", preview_order="batch order", **refs):
    """An InstantID Identity Score on ``images`` (a (node, slot) pair) against ``refs`` (input name -> node)."""
    node = g.add("InstantIDPrecision_IdentityScore", col=col, level=level, face=face, preview_order=preview_order)
    g.link(fa, 0, node, "face_analysis")
    g.link(images[0], images[1], node, "images")
    for name, src in refs.items():
        g.link(src, 0, node, name)
    if bypassed:
        node["mode"] = BYPASSED
    return node


def finish(g, ckpt, model, positive, negative, lat, col):
    ks = g.add("KSampler", col=col, seed=42, steps=30, cfg=4.5, sampler_name="dpmpp_2m", scheduler="karras")
    g.link(model[0], model[1], ks, "model")
    g.link(positive[0], positive[1], ks, "positive")
    g.link(negative[0], negative[1], ks, "negative")
    g.link(lat, 0, ks, "latent_image")
    dec = g.add("VAEDecode", col=col + 1)
    g.link(ks, 0, dec, "samples")
    g.link(ckpt, 2, dec, "vae")
    save = g.add("SaveImage", col=col + 2, filename_prefix="InstantID")
    g.link(dec, 0, save, "images")
    ks["_decoded"] = dec  # for the optional Identity Score (dropped when written)
    return ks


def apply(g, ckpt_or_model, pos, neg, cn, proj, lat, col, model_slot=0, **kw):
    node = g.add("InstantIDPrecision_Apply", col=col, **kw)
    g.link(ckpt_or_model, model_slot, node, "model")
    g.link(pos[0], pos[1], node, "positive")
    g.link(neg[0], neg[1], node, "negative")
    g.link(cn, 0, node, "control_net")
    g.link(proj, 0, node, "identity")
    g.link(lat, 0, node, "latent")
    return node


def basic_portrait(g):
    ckpt, pos, neg, fa, iid, cn, lat = base(g)
    _, det = face(g, fa)
    proj = project(g, iid, det)
    a = apply(g, ckpt, (pos, 0), (neg, 0), cn, proj, lat, col=3)
    ks = finish(g, ckpt, (a, 0), (a, 1), (a, 2), lat, col=4)
    score(g, fa, (ks["_decoded"], 0), col=6, identity=proj)
    g.note("Basic InstantID portrait from one face photo.\n\n" + SCORE_NOTE + "\n\n" + models_note())


def pose_from_photo(g):
    ckpt, pos, neg, fa, iid, cn, lat = base(g)
    _, det = face(g, fa)
    _, pose_det = face(g, fa, "Pose photo", image="pose.png")
    proj = project(g, iid, det)
    kps = g.add("InstantIDPrecision_FaceKeypoints", col=2, level=pose_det["pos"][1], width=1016, height=1016)
    g.link(pose_det, 0, kps, "faces")
    a = apply(g, ckpt, (pos, 0), (neg, 0), cn, proj, lat, col=3)
    g.link(kps, 0, a, "image_kps")
    ks = finish(g, ckpt, (a, 0), (a, 1), (a, 2), lat, col=4)
    score(g, fa, (ks["_decoded"], 0), col=6, identity=proj)
    g.note("Identity from 'Face photo', head pose and position from 'Pose photo'.\n\n" + SCORE_NOTE + "\n\n" +
           models_note())


def two_people(g):
    ckpt, pos, neg, fa, iid, cn, lat = base(g)
    _, det_a = face(g, fa, "Face photo A")
    _, det_b = face(g, fa, "Face photo B", image="face_b.png")
    _, pose = face(g, fa, "Pose photo (two people)", selection="all", image="pose_two.png")
    proj_a = project(g, iid, det_a)
    proj_b = project(g, iid, det_b)
    kps = g.add("InstantIDPrecision_FaceKeypoints", col=2, level=pose["pos"][1], width=1016, height=1016)
    g.link(pose, 0, kps, "faces")
    empty = g.add("SolidMask", "Left half mask", col=0, value=0.0, width=1016, height=1016)
    half = g.add("SolidMask", col=0, value=1.0, width=508, height=1016)
    left = g.add("MaskComposite", "Left half", col=1, level=empty["pos"][1], x=0, y=0, operation="add")
    g.link(empty, 0, left, "destination")
    g.link(half, 0, left, "source")
    right = g.add("InvertMask", "Right half", col=2, level=left["pos"][1])
    g.link(left, 0, right, "mask")
    a = apply(g, ckpt, (pos, 0), (neg, 0), cn, proj_a, lat, col=3)
    g.link(kps, 0, a, "image_kps")
    g.link(left, 0, a, "mask")
    b = apply(g, a, (a, 1), (a, 2), cn, proj_b, lat, col=4)
    g.link(kps, 0, b, "image_kps")
    g.link(right, 0, b, "mask")
    ks = finish(g, ckpt, (b, 0), (b, 1), (b, 2), lat, col=5)
    score(g, fa, (ks["_decoded"], 0), col=7, face="best match", identity=proj_a, identity_2=proj_b)
    g.note("Two people: identity A on the left half, B on the right (masks), keypoints of both faces from a "
           "two-person pose photo. Each Apply node adds its identity; the ControlNets chain.\n\n" + SCORE_NOTE +
           " Here it scores each person (A, B) on the face most like them.\n\n" + models_note())


def split_with_second_controlnet(g):
    ckpt, pos, neg, fa, iid, cn, lat = base(g)
    _, det = face(g, fa)
    cn2 = g.add("ControlNetLoader", "Second ControlNet (depth, canny, …)", col=0,
                control_net_name="controlnet-depth-sdxl-1.0.safetensors")
    hint = g.add("LoadImage", "Control image (already preprocessed)", col=0, image="depth.png")
    proj = project(g, iid, det)
    attn = g.add("InstantIDPrecision_ApplyAttention", col=3)
    g.link(ckpt, 0, attn, "model")
    g.link(proj, 0, attn, "identity")
    inet = g.add("InstantIDPrecision_ApplyIdentityNet", col=3)
    for name, src in (("positive", pos), ("negative", neg)):
        g.link(src, 0, inet, name)
    g.link(cn, 0, inet, "control_net")
    g.link(proj, 0, inet, "identity")
    g.link(lat, 0, inet, "latent")
    extra = g.add("ControlNetApplyAdvanced", col=4, level=inet["pos"][1], strength=0.5, start_percent=0.0,
                  end_percent=0.8)
    g.link(inet, 0, extra, "positive")
    g.link(inet, 1, extra, "negative")
    g.link(cn2, 0, extra, "control_net")
    g.link(hint, 0, extra, "image")
    ks = finish(g, ckpt, (attn, 0), (extra, 0), (extra, 1), lat, col=5)
    score(g, fa, (ks["_decoded"], 0), col=7, identity=proj)
    g.note(SCORE_NOTE + "\n\n" + "The two halves of InstantID as separate nodes: identity attention on the model, IdentityNet on the "
           "conditioning, followed by a second ControlNet that chains after IdentityNet. The second ControlNet "
           "needs its own SDXL ControlNet file (your choice, so no download is offered for it) and a preprocessed "
           "control image.\n\n" + models_note())


def multi_reference(g):
    ckpt, pos, neg, fa, iid, cn, lat = base(g)
    one = g.add("LoadImage", "Face photo 1", col=0, image="face.png")
    two = g.add("LoadImage", "Face photo 2", col=0, image="face_2.png")
    batch = g.add("ImageBatch", col=1, level=one["pos"][1])
    g.link(one, 0, batch, "image1")
    g.link(two, 0, batch, "image2")
    det = g.add("InstantIDPrecision_FaceDetect", col=2, level=batch["pos"][1])
    g.link(fa, 0, det, "face_analysis")
    g.link(batch, 0, det, "image")
    proj = project(g, iid, det, col=3, combine="instantx_multi_photo")
    a = apply(g, ckpt, (pos, 0), (neg, 0), cn, proj, lat, col=4)
    ks = finish(g, ckpt, (a, 0), (a, 1), (a, 2), lat, col=5)
    score(g, fa, (ks["_decoded"], 0), col=7, identity=proj)
    g.note("Several photos of the same person. Face Detect takes the largest face of each photo, and the Image "
           "Projection's combine mode 'instantx_multi_photo' feeds all their face embeddings to InstantID's "
           "resampler together, as one sequence, which is what InstantX's own pipeline does with several "
           "reference photos: one identity built from all of them, usually a steadier likeness than any single "
           "photo. (average / norm_average instead average the embeddings first.) Add more photos with more "
           "Batch Images nodes (photos of different sizes are resized to the first). " + SCORE_NOTE + " With several "
           "photos it scores against their mean embedding.\n\n" + models_note())


def cpu_low_vram(g):
    ckpt, pos, neg, fa, iid, cn, lat = base(g)
    fa["widgets_values"][0] = "CPU"
    prec = g.add("InstantIDPrecision_PrecisionOffload", col=1, mode="keep_on_cpu", half_type="fp16")
    g.link(iid, 0, prec, "instantid")
    _, det = face(g, fa)
    proj = project(g, prec, det)
    a = apply(g, ckpt, (pos, 0), (neg, 0), cn, proj, lat, col=3)
    ks = finish(g, ckpt, (a, 0), (a, 1), (a, 2), lat, col=4)
    score(g, fa, (ks["_decoded"], 0), col=6, identity=proj)
    ks["widgets_values"][2] = 20
    lat["widgets_values"][:2] = [896, 896]
    g.note("CPU-only or low-VRAM (8 GB) setup. Start ComfyUI with --cpu (no GPU) or --lowvram. The "
           "Precision/Offload node keeps InstantID's 1.7 GB adapter off the GPU and computes its embedding math "
           "in float32 on the CPU once; only ~20 MB of identity K/V reach the GPU. Its report shows where each "
           "part runs.\n\n" + SCORE_NOTE + "\n\n" + models_note())


def best_of_four(g):
    ckpt, pos, neg, fa, iid, cn, lat = base(g)
    lat["widgets_values"][2] = 4
    _, det = face(g, fa)
    proj = project(g, iid, det)
    a = apply(g, ckpt, (pos, 0), (neg, 0), cn, proj, lat, col=3)
    ks = g.add("KSampler", col=4, seed=42, steps=30, cfg=4.5, sampler_name="dpmpp_2m", scheduler="karras")
    for slot, name in ((0, "model"), (1, "positive"), (2, "negative")):
        g.link(a, slot, ks, name)
    g.link(lat, 0, ks, "latent_image")
    dec = g.add("VAEDecode", col=5)
    g.link(ks, 0, dec, "samples")
    g.link(ckpt, 2, dec, "vae")
    sc = score(g, fa, (dec, 0), col=6, bypassed=False, preview_order="best first", identity=proj)
    save = g.add("SaveImage", "Best of four", col=7, filename_prefix="InstantID_best")
    g.link(sc, 3, save, "images")
    show = g.add("PreviewImage", "All four, best first", col=7)
    g.link(sc, 4, show, "images")
    g.note("Best of four: one queue makes 4 images of the same person (batch_size 4, different noise each), the "
           "Identity Score measures how much each looks like the face photo (cosine similarity of the face "
           "embeddings, 1 = the same face direction), saves the best one and previews all four best first with "
           "their scores written on them. The table on the score node lists every image's score.\n\n" +
           models_note())


WORKFLOWS = {"instantid_basic_portrait": basic_portrait, "instantid_pose_from_photo": pose_from_photo,
             "instantid_two_people_masks": two_people,
             "instantid_split_second_controlnet": split_with_second_controlnet,
             "instantid_multi_reference": multi_reference, "instantid_cpu_low_vram": cpu_low_vram,
             "instantid_best_of_four": best_of_four}


def main():
    if cs.comfy_path() is None:
        sys.exit("set COMFYUI_PATH to a ComfyUI checkout")
    cs.bootstrap_comfy(argv=("--cpu",))
    assert cs.load_custom_node(str(ROOT))
    import nodes
    pack, core = pack_identity(), comfy_version()
    for name, build in WORKFLOWS.items():
        g = Graph(nodes.NODE_CLASS_MAPPINGS, pack, core)
        build(g)
        (ROOT / "example_workflows" / f"{name}.json").write_text(json.dumps(g.json(), indent=1) + "\n")
        print("wrote", name)


if __name__ == "__main__":
    main()
