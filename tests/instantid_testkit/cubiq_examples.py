"""Workflows in the format of cubiq's ComfyUI_InstantID, generated here (nothing of theirs is committed).

The five ``EXAMPLES`` reproduce the graphs of the example files in cubiq's repo (examples/*.json): the same
node ids and types, slot layouts, links (ids, ends, types), widget values and id counters, in the old
LiteGraph style those files use. Only the prompt texts and the layout are our own.
test_cubiq_workflows.py compares them with the real files when INSTANTID_THIRD_PARTY points at a copy.
The other builders cover cubiq nodes those examples do not use (Advanced, the split pair, the keypoint
preprocessor) and awkward cases (unknown nodes, converted widgets, reroutes).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

C, M, I, L = "CONDITIONING", "MODEL", "IMAGE", "LATENT"
# type -> (inputs, outputs), each a list of (name, type), as the example files lay them out
SLOTS: Dict[str, Tuple[Sequence[Tuple[str, str]], Sequence[Tuple[str, str]]]] = {
    "InstantIDModelLoader": ((), (("INSTANTID", "INSTANTID"),)),
    "InstantIDFaceAnalysis": ((), (("FACEANALYSIS", "FACEANALYSIS"),)),
    "ApplyInstantID": ((("instantid", "INSTANTID"), ("insightface", "FACEANALYSIS"), ("control_net", "CONTROL_NET"),
                        ("image", I), ("model", M), ("positive", C), ("negative", C), ("image_kps", I),
                        ("mask", "MASK")),
                       (("MODEL", M), ("POSITIVE", C), ("NEGATIVE", C))),
    "FaceKeypointsPreprocessor": ((("faceanalysis", "FACEANALYSIS"), ("image", I)), (("IMAGE", I),)),
    "InstantIDAttentionPatch": ((("instantid", "INSTANTID"), ("insightface", "FACEANALYSIS"), ("image", I),
                                 ("model", M), ("mask", "MASK")), (("MODEL", M), ("FACE_EMBEDS", "FACE_EMBEDS"))),
    "ApplyInstantIDControlNet": ((("face_embeds", "FACE_EMBEDS"), ("control_net", "CONTROL_NET"), ("image_kps", I),
                                  ("positive", C), ("negative", C), ("mask", "MASK")),
                                 (("positive", C), ("negative", C))),
    "ControlNetLoader": ((), (("CONTROL_NET", "CONTROL_NET"),)),
    "PreviewImage": ((("images", I),), ()),
    "EmptyLatentImage": ((), (("LATENT", L),)),
    "VAEDecode": ((("samples", L), ("vae", "VAE")), (("IMAGE", I),)),
    "CLIPTextEncode": ((("clip", "CLIP"),), (("CONDITIONING", C),)),
    "CheckpointLoaderSimple": ((), (("MODEL", M), ("CLIP", "CLIP"), ("VAE", "VAE"))),
    "LoadImage": ((), (("IMAGE", I), ("MASK", "MASK"))),
    "KSampler": ((("model", M), ("positive", C), ("negative", C), ("latent_image", L)), (("LATENT", L),)),
    "IPAdapterModelLoader": ((), (("IPADAPTER", "IPADAPTER"),)),
    "CLIPVisionLoader": ((), (("CLIP_VISION", "CLIP_VISION"),)),
    "IPAdapterAdvanced": ((("model", M), ("ipadapter", "IPADAPTER"), ("image", I), ("image_negative", I),
                           ("attn_mask", "MASK"), ("clip_vision", "CLIP_VISION")), (("MODEL", M),)),
    "ControlNetApplyAdvanced": ((("positive", C), ("negative", C), ("control_net", "CONTROL_NET"), ("image", I)),
                                (("positive", C), ("negative", C))),
    "Zoe-DepthMapPreprocessor": ((("image", I),), (("IMAGE", I),)),
    "ConditioningCombine": ((("conditioning_1", C), ("conditioning_2", C)), (("CONDITIONING", C),)),
    "ImageFlip+": ((("image", I),), (("IMAGE", I),)),
    "MaskFlip+": ((("mask", "MASK"),), (("MASK", "MASK"),)),
    "SolidMask": ((), (("MASK", "MASK"),)),
    "MaskComposite": ((("destination", "MASK"), ("source", "MASK")), (("MASK", "MASK"),)),
    "PrimitiveNode": ((), (("FLOAT", "FLOAT"),)),
}
CELL_W, CELL_H = 360, 360  # our own grid layout; nodes are at most 315 x 314


class CubiqWorkflow:
    def __init__(self):
        self.nodes: List[dict] = []
        self.links: List[list] = []

    def node(self, node_id: int, node_type: str, widgets: Optional[list] = None, cell=(0, 0), height=100,
             slots=None, **extra) -> dict:
        ins, outs = slots or SLOTS[node_type]
        node = {"id": node_id, "type": node_type, "pos": [cell[0] * CELL_W, cell[1] * CELL_H],
                "size": {"0": 315, "1": height}, "flags": {}, "order": len(self.nodes), "mode": 0}
        if ins:
            node["inputs"] = [{"name": n, "type": t, "link": None} for n, t in ins]
        if outs:
            node["outputs"] = [{"name": n, "type": t, "links": None, "slot_index": i} for i, (n, t) in enumerate(outs)]
        node["properties"] = {"Node name for S&R": node_type}
        if widgets is not None:
            node["widgets_values"] = list(widgets)
        node.update(extra)
        self.nodes.append(node)
        return node

    def reroute(self, node_id: int, out_type: str, cell=(0, 0)) -> dict:
        node = self.node(node_id, "Reroute", None, cell, 26, slots=((("", "*"),), ((out_type, out_type),)))
        node["size"], node["properties"] = [75, 26], {"showOutputText": True, "horizontal": False}
        return node

    def link(self, link_id: int, src: int, src_slot: int, dst: int, dst_slot: int) -> list:
        by_id = {n["id"]: n for n in self.nodes}
        out = by_id[src]["outputs"][src_slot]
        inp = by_id[dst]["inputs"][dst_slot]
        link = [link_id, src, src_slot, dst, dst_slot, "*" if inp["type"] == "*" else out["type"]]
        out["links"] = (out["links"] or []) + [link_id]
        inp["link"] = link_id
        self.links.append(link)
        return link

    def links_from(self, *rows: Tuple[int, int, int, int, int]) -> None:
        for row in rows:
            self.link(*row)

    def build(self, last_node_id: int, last_link_id: int) -> dict:
        return {"last_node_id": last_node_id, "last_link_id": last_link_id, "nodes": self.nodes,
                "links": sorted(self.links), "groups": [], "config": {}, "extra": {}, "version": 0.4}


POSITIVE = "comic portrait of a person, bold ink lines, flat colours"
NEGATIVE = "blurry, photo, watermark"
FACE = "joseph-gonzalez-iFgRcqHznqg-unsplash.jpg"
CHECKPOINT = "sdxl/AlbedoBaseXL.safetensors"
IDENTITYNET = "instantid/diffusion_pytorch_model.safetensors"


def _single_apply(wf: CubiqWorkflow, seed: int, face: str = FACE, weight: float = 0.8) -> None:
    """The part the basic, posed, IPAdapter and depth examples share: one Apply InstantID before a KSampler."""
    wf.node(11, "InstantIDModelLoader", ["ip-adapter.bin"], (1, 0), 58)
    wf.node(38, "InstantIDFaceAnalysis", ["CPU"], (1, 1), 58)
    wf.node(16, "ControlNetLoader", [IDENTITYNET], (1, 2), 58)
    wf.node(13, "LoadImage", [face, "image"], (0, 0), 314)
    wf.node(4, "CheckpointLoaderSimple", [CHECKPOINT], (0, 2), 98)
    wf.node(39, "CLIPTextEncode", [POSITIVE], (1, 3), 128)
    wf.node(40, "CLIPTextEncode", [NEGATIVE], (1, 4), 112)
    wf.node(60, "ApplyInstantID", [weight, 0, 1], (2, 0), 266)
    wf.node(5, "EmptyLatentImage", [1016, 1016, 1], (2, 2), 106)
    wf.node(3, "KSampler", [seed, "fixed", 30, 4.5, "ddpm", "karras", 1], (4, 0), 262)
    wf.node(8, "VAEDecode", None, (5, 0), 46)
    wf.node(15, "PreviewImage", None, (5, 1), 314)
    wf.links_from((2, 5, 0, 3, 3), (7, 3, 0, 8, 0), (8, 4, 2, 8, 1), (19, 8, 0, 15, 0), (122, 4, 1, 39, 0),
                  (123, 4, 1, 40, 0), (197, 11, 0, 60, 0), (198, 38, 0, 60, 1), (199, 16, 0, 60, 2),
                  (203, 39, 0, 60, 5), (204, 40, 0, 60, 6), (206, 4, 0, 60, 4), (214, 13, 0, 60, 3))


def basic() -> dict:
    wf = CubiqWorkflow()
    _single_apply(wf, 1631591050)
    wf.links_from((200, 60, 1, 3, 1), (201, 60, 2, 3, 2), (220, 60, 0, 3, 0))
    return wf.build(66, 220)


def posed() -> dict:
    wf = CubiqWorkflow()
    _single_apply(wf, 1631591431)
    wf.node(67, "LoadImage", ["miranda.jpg", "image"], (0, 3), 314)
    wf.links_from((200, 60, 1, 3, 1), (201, 60, 2, 3, 2), (220, 60, 0, 3, 0), (221, 67, 0, 60, 7))
    return wf.build(67, 221)


def ipadapter() -> dict:
    wf = CubiqWorkflow()
    _single_apply(wf, 1631591432)
    wf.node(68, "IPAdapterModelLoader", ["ip-adapter-plus_sdxl_vit-h.safetensors"], (2, -2), 58)
    wf.node(70, "CLIPVisionLoader", ["CLIP-ViT-H-14-laion2B-s32B-b79K.safetensors"], (2, -3), 58)
    wf.node(71, "LoadImage", ["anime_colorful.png", "image"], (1, -2), 314)
    wf.node(72, "IPAdapterAdvanced", [0.5, "linear", "concat", 0, 1, "V only"], (3, -1), 278)
    wf.links_from((200, 60, 1, 3, 1), (201, 60, 2, 3, 2), (227, 68, 0, 72, 1), (228, 70, 0, 72, 5),
                  (229, 71, 0, 72, 2), (230, 60, 0, 72, 0), (231, 72, 0, 3, 0))
    return wf.build(72, 231)


def depth() -> dict:
    wf = CubiqWorkflow()
    _single_apply(wf, 1631592172, face="face4.jpg")
    wf.node(73, "ControlNetLoader", ["control-lora/control-lora-depth-rank256.safetensors"], (2, 3), 58)
    wf.node(74, "LoadImage", ["666561.jpg", "image"], (0, 4), 314)
    wf.node(77, "Zoe-DepthMapPreprocessor", [1024], (2, 4), 58)
    wf.node(72, "ControlNetApplyAdvanced", [0.65, 0, 0.35000000000000003], (3, 1), 166)
    wf.links_from((227, 60, 0, 3, 0), (228, 60, 2, 72, 1), (229, 60, 1, 72, 0), (230, 72, 0, 3, 1),
                  (231, 72, 1, 3, 2), (232, 73, 0, 72, 2), (236, 74, 0, 60, 7), (238, 74, 0, 77, 0),
                  (239, 77, 0, 72, 3))
    return wf.build(78, 239)


def multi_id() -> dict:
    """Two people: two Apply InstantID in a chain, each with its own face, pose, prompt and half mask."""
    wf = CubiqWorkflow()
    green, red = {"color": "#232", "bgcolor": "#353"}, {"color": "#322", "bgcolor": "#533"}
    wf.node(11, "InstantIDModelLoader", ["ip-adapter.bin"], (1, 0), 60)
    wf.node(38, "InstantIDFaceAnalysis", ["CPU"], (1, 1), 60)
    wf.node(16, "ControlNetLoader", [IDENTITYNET], (1, 2), 60)
    wf.node(4, "CheckpointLoaderSimple", [CHECKPOINT], (0, 3), 98)
    wf.node(13, "LoadImage", ["face4.jpg", "image"], (2, 0), 296)
    wf.node(78, "LoadImage", [FACE, "image"], (2, 1), 314)
    wf.node(82, "LoadImage", ["pose (1).jpg", "image"], (2, 2), 314)
    wf.node(84, "ImageFlip+", ["x"], (3, 2), 58)
    wf.node(85, "SolidMask", [0, 1280, 960], (3, 3), 106)
    wf.node(86, "SolidMask", [1, 640, 960], (3, 4), 106)
    wf.node(87, "MaskComposite", [0, 0, "add"], (4, 3), 126)
    wf.node(88, "MaskFlip+", ["x"], (4, 4), 58)
    wf.node(39, "CLIPTextEncode", [POSITIVE + ", woman"], (1, 3), 128, **green)
    wf.node(89, "CLIPTextEncode", [POSITIVE + ", man"], (1, 4), 128, **green)
    wf.node(40, "CLIPTextEncode", [NEGATIVE], (1, 5), 112, **red)
    wf.node(60, "ApplyInstantID", [0.9, 0, 1], (4, 0), 266)
    wf.node(77, "ApplyInstantID", [0.8, 0, 1], (4, 1), 266)
    wf.node(79, "ConditioningCombine", None, (5, 0), 46)
    wf.node(80, "ConditioningCombine", None, (5, 1), 46)
    wf.node(5, "EmptyLatentImage", [1280, 960, 1], (5, 2), 106)
    wf.node(3, "KSampler", [1631594039, "fixed", 30, 4.5, "ddpm", "normal", 1], (6, 0), 262)
    wf.node(8, "VAEDecode", None, (7, 0), 46)
    wf.reroute(81, "VAE", (7, 1))
    wf.node(15, "PreviewImage", None, (7, 2), 314)
    wf.links_from((2, 5, 0, 3, 3), (7, 3, 0, 8, 0), (19, 8, 0, 15, 0), (122, 4, 1, 39, 0), (123, 4, 1, 40, 0),
                  (197, 11, 0, 60, 0), (198, 38, 0, 60, 1), (199, 16, 0, 60, 2), (203, 39, 0, 60, 5),
                  (204, 40, 0, 60, 6), (206, 4, 0, 60, 4), (214, 13, 0, 60, 3), (238, 11, 0, 77, 0),
                  (239, 38, 0, 77, 1), (240, 16, 0, 77, 2), (246, 78, 0, 77, 3), (247, 77, 1, 79, 0),
                  (248, 60, 1, 79, 1), (249, 79, 0, 3, 1), (253, 4, 2, 81, 0), (254, 81, 0, 8, 1),
                  (255, 60, 0, 77, 4), (256, 77, 0, 3, 0), (257, 82, 0, 60, 7), (258, 82, 0, 84, 0),
                  (259, 84, 0, 77, 7), (260, 85, 0, 87, 0), (261, 86, 0, 87, 1), (262, 87, 0, 60, 8),
                  (263, 87, 0, 88, 0), (264, 88, 0, 77, 8), (266, 4, 1, 89, 0), (272, 89, 0, 77, 5),
                  (278, 40, 0, 77, 6), (287, 60, 2, 80, 1), (288, 80, 0, 3, 2), (290, 77, 2, 80, 0))
    return wf.build(92, 290)


EXAMPLES = {"InstantID_basic": basic, "InstantID_posed": posed, "InstantID_IPAdapter": ipadapter,
            "InstantID_depth": depth, "InstantID_multi_id": multi_id}


# --- cubiq nodes the examples do not use ------------------------------------------------------------------------

ADVANCED = "ApplyInstantIDAdvanced"


def _loaders_and_prompts(wf: CubiqWorkflow, provider: str = "CUDA") -> None:
    wf.node(1, "InstantIDModelLoader", ["ip-adapter.bin"], (1, 0), 58)
    wf.node(2, "InstantIDFaceAnalysis", [provider], (1, 1), 58)
    wf.node(3, "ControlNetLoader", [IDENTITYNET], (1, 2), 58)
    wf.node(4, "CheckpointLoaderSimple", [CHECKPOINT], (0, 2), 98)
    wf.node(5, "LoadImage", [FACE, "image"], (0, 0), 314)
    wf.node(6, "CLIPTextEncode", [POSITIVE], (1, 3), 128)
    wf.node(7, "CLIPTextEncode", [NEGATIVE], (1, 4), 112)
    wf.node(8, "KSampler", [7, "fixed", 30, 4.5, "ddpm", "karras", 1], (5, 0), 262)
    wf.links_from((1, 4, 1, 6, 0), (2, 4, 1, 7, 0))


def advanced(ip_weight=4.5, cn_strength=9.0, start_at=0.1, end_at=0.9, noise=0.4, combine="norm average",
             provider="CUDA") -> dict:
    """Apply InstantID Advanced with a pose photo, a mask, and the face analysis passing through a Reroute."""
    wf = CubiqWorkflow()
    _loaders_and_prompts(wf, provider)
    wf.node(9, "LoadImage", ["pose.jpg", "image"], (0, 3), 314)
    wf.node(10, "SolidMask", [1, 1016, 1016], (2, 3), 106)
    wf.reroute(11, "FACEANALYSIS", (2, 1))
    adv_slots = (SLOTS["ApplyInstantID"][0], (("MODEL", M), ("positive", C), ("negative", C)))
    wf.node(12, ADVANCED, [ip_weight, cn_strength, start_at, end_at, noise, combine], (3, 0), 314, slots=adv_slots)
    wf.links_from((3, 2, 0, 11, 0), (4, 1, 0, 12, 0), (5, 11, 0, 12, 1), (6, 3, 0, 12, 2), (7, 5, 0, 12, 3),
                  (8, 4, 0, 12, 4), (9, 6, 0, 12, 5), (10, 7, 0, 12, 6), (11, 9, 0, 12, 7), (12, 10, 0, 12, 8),
                  (13, 12, 0, 8, 0), (14, 12, 1, 8, 1), (15, 12, 2, 8, 2))
    return wf.build(12, 15)


def split_pair(weight=-0.5, noise=0.2, strength=9.0, start_at=0.05, end_at=0.95) -> dict:
    """cubiq's attention-only node and its ControlNet node, FACE_EMBEDS between them; the keypoints come from
    Face Keypoints Preprocessor on a pose photo; a mask on the ControlNet node."""
    wf = CubiqWorkflow()
    _loaders_and_prompts(wf)
    wf.node(9, "LoadImage", ["pose.jpg", "image"], (0, 3), 314)
    wf.node(10, "FaceKeypointsPreprocessor", None, (2, 3), 46)
    wf.node(11, "InstantIDAttentionPatch", [weight, 0.0, 1.0, noise], (3, 0), 200)
    wf.node(12, "ApplyInstantIDControlNet", [strength, start_at, end_at], (4, 1), 200)
    wf.node(13, "SolidMask", [1, 1016, 1016], (3, 3), 106)
    wf.links_from((3, 2, 0, 10, 0), (4, 9, 0, 10, 1), (5, 1, 0, 11, 0), (6, 2, 0, 11, 1), (7, 5, 0, 11, 2),
                  (8, 4, 0, 11, 3), (9, 11, 1, 12, 0), (10, 3, 0, 12, 1), (11, 10, 0, 12, 2), (12, 6, 0, 12, 3),
                  (13, 7, 0, 12, 4), (14, 13, 0, 12, 5), (15, 11, 0, 8, 0), (16, 12, 0, 8, 1), (17, 12, 1, 8, 2))
    return wf.build(13, 17)


def drawn_keypoints_into_apply() -> dict:
    """Face Keypoints Preprocessor feeding Apply InstantID's image_kps: cubiq finds no face in a drawing and
    uses it as it is."""
    wf = CubiqWorkflow()
    _loaders_and_prompts(wf)
    wf.node(9, "LoadImage", ["pose.jpg", "image"], (0, 3), 314)
    wf.node(10, "FaceKeypointsPreprocessor", None, (2, 3), 46)
    wf.node(12, "ApplyInstantID", [0.8, 0.0, 1.0], (3, 0), 266)
    wf.links_from((3, 2, 0, 10, 0), (4, 9, 0, 10, 1), (5, 1, 0, 12, 0), (6, 2, 0, 12, 1), (7, 3, 0, 12, 2),
                  (8, 5, 0, 12, 3), (9, 4, 0, 12, 4), (10, 6, 0, 12, 5), (11, 7, 0, 12, 6), (12, 10, 0, 12, 7),
                  (13, 12, 0, 8, 0), (14, 12, 1, 8, 1), (15, 12, 2, 8, 2))
    return wf.build(12, 15)


def weight_from_primitive(value: float = 1.25) -> dict:
    """Apply InstantID whose 'weight' widget was turned into an input fed by a Primitive node."""
    wf = basic()
    apply = next(n for n in wf["nodes"] if n["id"] == 60)
    apply["inputs"].append({"name": "weight", "type": "FLOAT", "link": 221, "widget": {"name": "weight"}})
    apply["widgets_values"][0] = value
    wf["nodes"].append({"id": 67, "type": "PrimitiveNode", "pos": [0, 1500], "size": {"0": 210, "1": 82},
                        "flags": {}, "order": 12, "mode": 0,
                        "outputs": [{"name": "FLOAT", "type": "FLOAT", "links": [221], "slot_index": 0,
                                     "widget": {"name": "weight"}}],
                        "properties": {"Run widget replace on values": False}, "widgets_values": [value, "fixed"]})
    wf["links"].append([221, 67, 0, 60, 9, "FLOAT"])
    wf["last_node_id"], wf["last_link_id"] = 67, 221
    return wf


def with_unknown_cubiq_node() -> dict:
    """A node of cubiq's pack the converter does not know, fed by cubiq's face analysis; odd option values."""
    wf = advanced(provider="TensorRT", combine="median")
    face_analysis = next(n for n in wf["nodes"] if n["id"] == 2)
    wf["nodes"].append({"id": 13, "type": "InstantIDFaceSwap", "pos": [0, 2000], "size": [315, 80], "flags": {},
                        "order": 13, "mode": 0,
                        "inputs": [{"name": "insightface", "type": "FACEANALYSIS", "link": 16},
                                   {"name": "image", "type": "IMAGE", "link": 17}],
                        "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": None}],
                        "properties": {"cnr_id": "comfyui_instantid", "ver": "1.0.0"}, "widgets_values": [0.5]})
    face_analysis["outputs"][0]["links"].append(16)
    next(n for n in wf["nodes"] if n["id"] == 5)["outputs"][0]["links"].append(17)
    wf["links"] += [[16, 2, 0, 13, 0, "FACEANALYSIS"], [17, 5, 0, 13, 1, "IMAGE"]]
    wf["last_node_id"], wf["last_link_id"] = 13, 17
    return wf


def stacked(copies: int) -> dict:
    """``copies`` of the five examples in turn, one below the other (node and link ids shifted), as one workflow:
    a large graph for the converter's placement."""
    nodes: List[dict] = []
    links: List[list] = []
    last_node = last_link = top = 0
    makers = list(EXAMPLES.values())
    for i in range(copies):
        wf = makers[i % len(makers)]()
        for n in wf["nodes"]:
            n["id"] += last_node
            n["pos"] = [n["pos"][0], n["pos"][1] + top]
            for inp in n.get("inputs") or []:
                if inp.get("link") is not None:
                    inp["link"] += last_link
            for out in n.get("outputs") or []:
                out["links"] = [l + last_link for l in out.get("links") or []] or None
        for l in wf["links"]:
            l[0], l[1], l[3] = l[0] + last_link, l[1] + last_node, l[3] + last_node
        nodes += wf["nodes"]
        links += wf["links"]
        last_node, last_link = last_node + wf["last_node_id"], last_link + wf["last_link_id"]
        top += max(n["pos"][1] for n in wf["nodes"]) - top + CELL_H
    return {"last_node_id": last_node, "last_link_id": last_link, "nodes": nodes, "links": links, "groups": [],
            "config": {}, "extra": {}, "version": 0.4}


def packed(wf: dict, gap: int = 10) -> dict:
    """The same workflow with each column's nodes stacked ``gap`` px apart (title bars included), as tightly as
    cubiq's own example files place them: a replacement node that is taller than cubiq's has no room to grow."""
    columns: Dict[float, List[dict]] = {}
    for n in wf["nodes"]:
        columns.setdefault(n["pos"][0], []).append(n)
    for column in columns.values():
        y = 0
        for n in sorted(column, key=lambda n: n["pos"][1]):
            n["pos"] = [n["pos"][0], y]
            size = n["size"] if isinstance(n["size"], list) else [n["size"]["0"], n["size"]["1"]]
            y += size[1] + 30 + gap  # the next node's title bar sits above its pos
    return wf
