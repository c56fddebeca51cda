"""Regenerate workflows/*.json (UI format) from the real node definitions of a ComfyUI + this pack.

    COMFYUI_PATH=/path/to/ComfyUI python scripts/build_workflows.py

Inputs, outputs and the order of widget values come from each node class, so the files cannot drift
from the nodes; the graph of each workflow is described below.
"""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.append(str(ROOT))  # last: ComfyUI goes first, so `nodes` stays ComfyUI's
import comfy_support as cs  # noqa: E402

from runner.workflow_format import extra_widget_values, is_widget  # noqa: E402

SDXL = "sd_xl_base_1.0.safetensors"
IDENTITYNET = "instantid_controlnet.safetensors"
ADAPTER = "ip-adapter.bin"
NEGATIVE = "lowres, blurry, deformed, watermark, text, extra fingers"
MODELS_NOTE = ("Model files this workflow needs:\n"
               "- models/instantid/ip-adapter.bin (InstantX/InstantID, 1.7 GB)\n"
               "- models/controlnet/instantid_controlnet.safetensors (InstantX/InstantID ControlNetModel, 2.5 GB)\n"
               "- models/insightface/models/antelopev2/*.onnx (5 files, see README)\n"
               "- models/checkpoints/: any SDXL-family checkpoint\n"
               "Check them with: python custom_nodes/comfyui-instantid doctor")


class Graph:
    def __init__(self, defs):
        self.defs, self.nodes, self.links = defs, [], []

    def add(self, type_, title=None, pos=(0, 0), **widgets):
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
                values += ["fixed" if s[0] == "INT" else "image"][: extra_widget_values(name, s)]
        names = getattr(cls, "RETURN_NAMES", None) or cls.RETURN_TYPES
        node = {"id": len(self.nodes) + 1, "type": type_, "pos": list(pos), "size": [320, 120], "flags": {},
                "order": len(self.nodes), "mode": 0, "inputs": [],
                "outputs": [{"name": n, "type": t, "links": [], "slot_index": i}
                            for i, (n, t) in enumerate(zip(names, cls.RETURN_TYPES))],
                "properties": {"Node name for S&R": type_}, "widgets_values": values}
        if title:
            node["title"] = title
        self.nodes.append(node)
        return node

    def note(self, text, pos=(0, -260)):
        node = {"id": len(self.nodes) + 1, "type": "Note", "pos": list(pos), "size": [420, 180], "flags": {},
                "order": len(self.nodes), "mode": 0, "inputs": [], "outputs": [], "properties": {},
                "widgets_values": [text]}
        self.nodes.append(node)

    def link(self, src, slot, dst, input_name):
        spec = self.defs[dst["type"]].INPUT_TYPES()
        kind = {**spec.get("required", {}), **spec.get("optional", {})}[input_name][0]
        link_id = len(self.links) + 1
        self.links.append([link_id, src["id"], slot, dst["id"], len(dst["inputs"]), kind])
        src["outputs"][slot]["links"].append(link_id)
        dst["inputs"].append({"name": input_name, "type": kind, "link": link_id})

    def json(self):
        return {"last_node_id": len(self.nodes), "last_link_id": len(self.links), "nodes": self.nodes,
                "links": self.links, "groups": [], "config": {}, "extra": {}, "version": 0.4}


def base(g, x=0):
    """Checkpoint, prompts, face analysis, adapter, IdentityNet, latent: the parts every workflow shares."""
    ckpt = g.add("CheckpointLoaderSimple", pos=(x, 0), ckpt_name=SDXL)
    pos = g.add("CLIPTextEncode", "Positive prompt", (x + 360, 0),
                text="analog film photo of a person, portrait, natural light, detailed skin, 85mm")
    neg = g.add("CLIPTextEncode", "Negative prompt", (x + 360, 200), text=NEGATIVE)
    g.link(ckpt, 1, pos, "clip")
    g.link(ckpt, 1, neg, "clip")
    fa = g.add("InstantIDPrecision_FaceAnalysisLoader", pos=(x, 420), provider="auto")
    iid = g.add("InstantIDPrecision_ModelLoader", pos=(x, 600), instantid_file=ADAPTER)
    cn = g.add("ControlNetLoader", "IdentityNet", (x, 740), control_net_name=IDENTITYNET)
    lat = g.add("EmptyLatentImage", pos=(x + 360, 420), width=1016, height=1016, batch_size=1)
    return ckpt, pos, neg, fa, iid, cn, lat


def face(g, fa, title="Face photo", pos=(0, 0), selection="largest", image="face.png"):
    img = g.add("LoadImage", title, pos, image=image)
    det = g.add("InstantIDPrecision_FaceDetect", pos=(pos[0] + 340, pos[1]), selection=selection)
    g.link(fa, 0, det, "face_analysis")
    g.link(img, 0, det, "image")
    return img, det


def project(g, iid, det, pos, combine="average"):
    proj = g.add("InstantIDPrecision_ImageProjection", pos=pos, combine=combine)
    g.link(iid, 0, proj, "instantid")
    g.link(det, 0, proj, "faces")
    return proj


def finish(g, ckpt, model, positive, negative, lat, x=1900):
    ks = g.add("KSampler", pos=(x, 0), seed=42, steps=30, cfg=4.5, sampler_name="dpmpp_2m", scheduler="karras")
    g.link(model[0], model[1], ks, "model")
    g.link(positive[0], positive[1], ks, "positive")
    g.link(negative[0], negative[1], ks, "negative")
    g.link(lat, 0, ks, "latent_image")
    dec = g.add("VAEDecode", pos=(x + 340, 0))
    g.link(ks, 0, dec, "samples")
    g.link(ckpt, 2, dec, "vae")
    save = g.add("SaveImage", pos=(x + 580, 0), filename_prefix="InstantID")
    g.link(dec, 0, save, "images")


def apply(g, ckpt_or_model, pos, neg, cn, proj, lat, at, model_slot=0, **kw):
    node = g.add("InstantIDPrecision_Apply", pos=at, **kw)
    g.link(ckpt_or_model, model_slot, node, "model")
    g.link(pos[0], pos[1], node, "positive")
    g.link(neg[0], neg[1], node, "negative")
    g.link(cn, 0, node, "control_net")
    g.link(proj, 0, node, "identity")
    g.link(lat, 0, node, "latent")
    return node


def basic_portrait(g):
    ckpt, pos, neg, fa, iid, cn, lat = base(g)
    _, det = face(g, fa, pos=(720, 420))
    proj = project(g, iid, det, (1100, 420))
    a = apply(g, ckpt, (pos, 0), (neg, 0), cn, proj, lat, (1500, 0))
    finish(g, ckpt, (a, 0), (a, 1), (a, 2), lat)
    g.note("Basic InstantID portrait from one face photo.\n" + MODELS_NOTE)


def pose_from_photo(g):
    ckpt, pos, neg, fa, iid, cn, lat = base(g)
    _, det = face(g, fa, pos=(720, 420))
    proj = project(g, iid, det, (1100, 420))
    _, pose_det = face(g, fa, "Pose photo", (720, 700), image="pose.png")
    kps = g.add("InstantIDPrecision_FaceKeypoints", pos=(1100, 700), width=1016, height=1016)
    g.link(pose_det, 0, kps, "faces")
    a = apply(g, ckpt, (pos, 0), (neg, 0), cn, proj, lat, (1500, 0))
    g.link(kps, 0, a, "image_kps")
    finish(g, ckpt, (a, 0), (a, 1), (a, 2), lat)
    g.note("Identity from 'Face photo', head pose and position from 'Pose photo'.\n" + MODELS_NOTE)


def two_people(g):
    ckpt, pos, neg, fa, iid, cn, lat = base(g)
    _, det_a = face(g, fa, "Face photo A", (720, 420))
    _, det_b = face(g, fa, "Face photo B", (720, 640), image="face_b.png")
    proj_a = project(g, iid, det_a, (1100, 420))
    proj_b = project(g, iid, det_b, (1100, 640))
    _, pose = face(g, fa, "Pose photo (two people)", (720, 880), selection="all", image="pose_two.png")
    kps = g.add("InstantIDPrecision_FaceKeypoints", pos=(1100, 880), width=1016, height=1016)
    g.link(pose, 0, kps, "faces")
    empty = g.add("SolidMask", "Left half mask", (720, 1120), value=0.0, width=1016, height=1016)
    half = g.add("SolidMask", pos=(720, 1260), value=1.0, width=508, height=1016)
    left = g.add("MaskComposite", "Left half", (1100, 1120), x=0, y=0, operation="add")
    g.link(empty, 0, left, "destination")
    g.link(half, 0, left, "source")
    right = g.add("InvertMask", "Right half", (1100, 1260))
    g.link(left, 0, right, "mask")
    a = apply(g, ckpt, (pos, 0), (neg, 0), cn, proj_a, lat, (1500, 0))
    g.link(kps, 0, a, "image_kps")
    g.link(left, 0, a, "mask")
    b = apply(g, a, (a, 1), (a, 2), cn, proj_b, lat, (1500, 400))
    g.link(kps, 0, b, "image_kps")
    g.link(right, 0, b, "mask")
    finish(g, ckpt, (b, 0), (b, 1), (b, 2), lat)
    g.note("Two people: identity A on the left half, B on the right (masks), keypoints of both faces from a "
           "two-person pose photo. Each Apply node adds its identity; the ControlNets chain.\n" + MODELS_NOTE)


def split_with_second_controlnet(g):
    ckpt, pos, neg, fa, iid, cn, lat = base(g)
    _, det = face(g, fa, pos=(720, 420))
    proj = project(g, iid, det, (1100, 420))
    attn = g.add("InstantIDPrecision_ApplyAttention", pos=(1500, 0))
    g.link(ckpt, 0, attn, "model")
    g.link(proj, 0, attn, "identity")
    inet = g.add("InstantIDPrecision_ApplyIdentityNet", pos=(1500, 200))
    for name, src in (("positive", pos), ("negative", neg)):
        g.link(src, 0, inet, name)
    g.link(cn, 0, inet, "control_net")
    g.link(proj, 0, inet, "identity")
    g.link(lat, 0, inet, "latent")
    cn2 = g.add("ControlNetLoader", "Second ControlNet (depth, canny, …)", (1100, 700),
                control_net_name="controlnet-depth-sdxl-1.0.safetensors")
    hint = g.add("LoadImage", "Control image (already preprocessed)", (720, 700), image="depth.png")
    extra = g.add("ControlNetApplyAdvanced", pos=(1500, 500), strength=0.5, start_percent=0.0, end_percent=0.8)
    g.link(inet, 0, extra, "positive")
    g.link(inet, 1, extra, "negative")
    g.link(cn2, 0, extra, "control_net")
    g.link(hint, 0, extra, "image")
    finish(g, ckpt, (attn, 0), (extra, 0), (extra, 1), lat)
    g.note("The two halves of InstantID as separate nodes: identity attention on the model, IdentityNet on the "
           "conditioning, followed by a second ControlNet that chains after IdentityNet. The second ControlNet "
           "needs its own SDXL ControlNet file and a preprocessed control image.\n" + MODELS_NOTE)


def multi_reference(g):
    ckpt, pos, neg, fa, iid, cn, lat = base(g)
    one = g.add("LoadImage", "Face photo 1", (720, 420), image="face.png")
    two = g.add("LoadImage", "Face photo 2", (720, 640), image="face_2.png")
    batch = g.add("ImageBatch", pos=(1000, 420))
    g.link(one, 0, batch, "image1")
    g.link(two, 0, batch, "image2")
    det = g.add("InstantIDPrecision_FaceDetect", pos=(1200, 420))
    g.link(fa, 0, det, "face_analysis")
    g.link(batch, 0, det, "image")
    proj = project(g, iid, det, (1200, 640), combine="norm_average")
    a = apply(g, ckpt, (pos, 0), (neg, 0), cn, proj, lat, (1550, 0))
    finish(g, ckpt, (a, 0), (a, 1), (a, 2), lat)
    g.note("Several photos of the same person: their face embeddings are averaged (norm_average keeps the "
           "embedding's scale), which usually gives a steadier likeness. Add more with more ImageBatch nodes.\n"
           + MODELS_NOTE)


def cpu_low_vram(g):
    ckpt, pos, neg, fa, iid, cn, lat = base(g)
    fa["widgets_values"][0] = "CPU"
    _, det = face(g, fa, pos=(720, 420))
    prec = g.add("InstantIDPrecision_PrecisionOffload", pos=(720, 640), mode="keep_on_cpu", half_type="fp16")
    g.link(iid, 0, prec, "instantid")
    proj = project(g, prec, det, (1100, 420))
    a = apply(g, ckpt, (pos, 0), (neg, 0), cn, proj, lat, (1500, 0))
    finish(g, ckpt, (a, 0), (a, 1), (a, 2), lat)
    ks = next(n for n in g.nodes if n["type"] == "KSampler")
    ks["widgets_values"][2] = 20
    lat["widgets_values"][:2] = [896, 896]
    g.note("CPU-only or low-VRAM (8 GB) setup. Start ComfyUI with --cpu (no GPU) or --lowvram. The "
           "Precision/Offload node keeps InstantID's 1.7 GB adapter off the GPU and computes its embedding math "
           "in float32 on the CPU once; only ~20 MB of identity K/V reach the GPU. Its report shows where each "
           "part runs.\n" + MODELS_NOTE)


WORKFLOWS = {"instantid_basic_portrait": basic_portrait, "instantid_pose_from_photo": pose_from_photo,
             "instantid_two_people_masks": two_people, "instantid_split_second_controlnet": split_with_second_controlnet,
             "instantid_multi_reference": multi_reference, "instantid_cpu_low_vram": cpu_low_vram}


def main():
    if cs.comfy_path() is None:
        sys.exit("set COMFYUI_PATH to a ComfyUI checkout")
    cs.bootstrap_comfy(argv=("--cpu",))
    assert cs.load_custom_node(str(ROOT))
    import nodes
    for name, build in WORKFLOWS.items():
        g = Graph(nodes.NODE_CLASS_MAPPINGS)
        build(g)
        (ROOT / "workflows" / f"{name}.json").write_text(json.dumps(g.json(), indent=1) + "\n")
        print("wrote", name)


if __name__ == "__main__":
    main()
