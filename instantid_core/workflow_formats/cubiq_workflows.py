"""Convert workflows built with cubiq's ComfyUI_InstantID nodes to this pack's nodes.

Pure JSON -> JSON on ComfyUI's UI format (what users drag into the browser). This pack's node definitions
are passed in, shaped like ComfyUI's /object_info entries, so nothing here imports ComfyUI. Every node and
link that is not cubiq's keeps its id, position, widgets and extra data; each cubiq node becomes the nodes
that do the same work here, wired to the same neighbours. The main replacement keeps the cubiq node's id.

cubiq node (inputs / widgets)              -> this pack
InstantIDModelLoader (instantid_file)      -> ModelLoader (instantid_file)
InstantIDFaceAnalysis (provider)           -> FaceAnalysisLoader (provider, det_size default)
FaceKeypointsPreprocessor (faceanalysis,   -> FaceDetect (largest, 'skip image') -> FaceKeypoints (0 x 0 = photo
  image)                                      size, image 0)
ApplyInstantID / ApplyInstantIDAdvanced    -> FaceDetect(image) -> ImageProjection(combine, negative_noise) -> Apply
  (weight | ip_weight + cn_strength,          (ip_weight, cn_strength, start_at, end_at); image_kps photo -> a second
  start_at, end_at, noise, combine_embeds,    FaceDetect feeding Apply.faces (without image_kps: the reference
  image_kps, mask)                            FaceDetect feeds Apply.faces); mask -> Apply.mask and a core
                                              ConditioningSetMask on the positive output (cubiq masked the prompt)
InstantIDAttentionPatch (weight, start_at,  -> FaceDetect -> ImageProjection(average, negative_noise) ->
  end_at, noise, mask; outputs MODEL,         ApplyAttention(weight, start_at, end_at, mask); FACE_EMBEDS = identity
  FACE_EMBEDS)
ApplyInstantIDControlNet (face_embeds,     -> ApplyIdentityNet(identity, image_kps, strength, start_at, end_at);
  image_kps, strength, start_at, end_at,      mask -> ConditioningSetMask on the positive output (cubiq did not
  mask)                                       mask the hint, so Apply IdentityNet's own mask stays unconnected)
Where the behaviour differs, the result's notes say so (see the _NOTE texts below).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from ..errors import CubiqMigrationError
from .node_sizes import FRONTEND_SIZES
from .ui_graph import UIGraph, xy
from .widget_specs import frontend_extras, is_widget, spec_parts
from .workflow_input_checks import check_workflow_input, clean_numbers

FACE_ANALYSIS_LOADER = "InstantIDPrecision_FaceAnalysisLoader"
FACE_DETECT = "InstantIDPrecision_FaceDetect"
FACE_KEYPOINTS = "InstantIDPrecision_FaceKeypoints"
MODEL_LOADER = "InstantIDPrecision_ModelLoader"
PROJECTION = "InstantIDPrecision_ImageProjection"
APPLY_ATTENTION = "InstantIDPrecision_ApplyAttention"
APPLY_IDENTITYNET = "InstantIDPrecision_ApplyIdentityNet"
APPLY = "InstantIDPrecision_Apply"
SET_MASK = "ConditioningSetMask"  # ComfyUI core: masks a conditioning's area, as cubiq did inside its nodes

# cubiq's widgets in its widgets_values order, with its defaults (InstantID.py, INPUT_TYPES).
CUBIQ_WIDGETS: Dict[str, Tuple[Tuple[str, Any], ...]] = {
    "InstantIDModelLoader": (("instantid_file", None),),
    "InstantIDFaceAnalysis": (("provider", "CPU"),),
    "FaceKeypointsPreprocessor": (),
    "ApplyInstantID": (("weight", 0.8), ("start_at", 0.0), ("end_at", 1.0)),
    "ApplyInstantIDAdvanced": (("ip_weight", 0.8), ("cn_strength", 0.8), ("start_at", 0.0), ("end_at", 1.0),
                               ("noise", 0.0), ("combine_embeds", "average")),
    "InstantIDAttentionPatch": (("weight", 1.0), ("start_at", 0.0), ("end_at", 1.0), ("noise", 0.0)),
    "ApplyInstantIDControlNet": (("strength", 1.0), ("start_at", 0.0), ("end_at", 1.0)),
}
CUBIQ_NODE_TYPES = frozenset(CUBIQ_WIDGETS)
CUBIQ_IO_TYPES = frozenset({"INSTANTID", "FACEANALYSIS", "FACE_EMBEDS"})
CUBIQ_PACK_ID = "comfyui_instantid"  # its registry id, which newer frontends store in properties.cnr_id
BASIC_APPLY_NOISE = 0.35  # cubiq's basic Apply InstantID always injects this much negative noise
PROVIDERS = {"CPU": "CPU", "CUDA": "CUDA", "ROCM": "ROCM", "CoreML": "CoreML"}
COMBINE = {"average": "average", "norm average": "norm_average", "concat": "concat"}
# cubiq left photos without a face out of the embedding and stopped only when none had one
REFERENCE_DETECT = {"selection": "largest", "face_index": 0, "on_no_face": "skip image"}
KEYPOINT_SOURCES = {"FaceKeypointsPreprocessor", FACE_KEYPOINTS}  # outputs that are keypoint drawings, not photos
VIRTUAL = {"Reroute", "PrimitiveNode", "Note", "MarkdownNote"}

_SET_MASK_DEFINITION = {  # used when the caller's definitions do not include ComfyUI's core node
    "input": {"required": {"conditioning": ("CONDITIONING",), "mask": ("MASK",),
                           "strength": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 10.0, "step": 0.01}),
                           "set_cond_area": (["default", "mask bounds"],)}},
    "output": ["CONDITIONING"], "output_name": ["CONDITIONING"]}

NOISE_NOTE = ("negative noise {noise} carried over to the Image Projection node; cubiq drew uniform noise seeded by "
              "the face embedding, this pack draws Gaussian noise from the node's 'seed', so images will differ")
BASIC_NOISE_NOTE = ("cubiq's basic Apply InstantID always adds 0.35 noise to the negative embedding: kept as "
                    "'negative_noise' 0.35 on the Image Projection node (0 = the published InstantID behaviour); "
                    "cubiq's noise was uniform and seeded by the embedding, this pack's is Gaussian from 'seed'")
MIDDLE_NOTE = ("identity attention now also acts in the 10 middle-block layers: cubiq's Apply InstantID nodes "
               "register them under a key ComfyUI never looks up, so they had none there")
SHARED_WEIGHT_NOTE = "cubiq's single 'weight' {weight} became both 'ip_weight' and 'cn_strength'"
MASK_NOTE = ("mask: as in cubiq, the positive prompt is limited to the mask by an added 'Conditioning (Set Mask)' "
             "node after the positive output")
APPLY_MASK_NOTE = MASK_NOTE + "; the identity attention is masked too, and this pack also blanks keypoints outside it"
POSE_NOTE = ("image_kps: cubiq found the face in this photo and drew its keypoints; an added 'InstantID Face Detect "
             "(pose)' node does that now and feeds the Apply node's 'faces' input")
DETECT_NOTE = ("face detection: cubiq retried at sizes 640, 576 ... 192 until it found a face; this pack tries the "
               "sizes in the Face Analysis node's 'det_size'")
KEYPOINTS_NOTE = ("keypoints are drawn for the first photo of the batch that has a face (cubiq drew one image per "
                  "photo); with no face at all the run stops with an error instead of giving a black image")
COMBINE_NOTES = {
    "norm average": "combine 'norm average' -> 'norm_average': cubiq divided each embedding value by its norm "
                    "across the photos; here the unit directions are averaged and the mean length kept",
    "concat": "combine 'concat': cubiq kept one token set per photo as separate batch entries; here all photos' "
              "tokens are joined into one identity",
}


@dataclass(frozen=True)
class MigrationNote:
    level: str  # "warning": something was not carried over or needs a hand; "info": behaviour differs
    message: str
    node_id: Optional[int] = None
    node_type: Optional[str] = None


@dataclass
class MigrationResult:
    workflow: dict
    notes: List[MigrationNote] = field(default_factory=list)
    converted: int = 0  # cubiq nodes replaced
    added_node_ids: List[int] = field(default_factory=list)

    @property
    def warnings(self) -> List[MigrationNote]:
        return [n for n in self.notes if n.level == "warning"]


def needs_migration(workflow: Mapping) -> bool:
    nodes = workflow.get("nodes")
    return isinstance(nodes, list) and any(isinstance(n, dict) and n.get("type") in CUBIQ_NODE_TYPES for n in nodes)


# --- this pack's node definitions (/object_info shape) ---------------------------------------------------------

def _inputs(defn: Mapping) -> Iterator[Tuple[str, Any]]:
    """(name, spec) of every required then optional input, in declaration order."""
    sections = defn.get("input") or {}
    order = defn.get("input_order") or {}
    for section in ("required", "optional"):
        specs = sections.get(section) or {}
        for name in order.get(section) or list(specs):
            if name in specs:
                yield name, specs[name]


def _choices(spec: Any) -> List[Any]:
    kind, opts = spec_parts(spec)
    if isinstance(kind, (list, tuple)):
        return list(kind)
    return list(opts.get("options") or []) if kind == "COMBO" else []


def _default(spec: Any) -> Any:
    kind, opts = spec_parts(spec)
    if "default" in opts:
        return opts["default"]
    if _choices(spec):
        return _choices(spec)[0]
    if not isinstance(kind, str):  # a file list with no file installed yet
        return None
    return {"INT": opts.get("min", 0), "FLOAT": opts.get("min", 0.0), "STRING": "", "BOOLEAN": False}.get(kind)


def _link_type(spec: Any) -> str:
    kind, _ = spec_parts(spec)
    return "COMBO" if isinstance(kind, (list, tuple)) else str(kind)


def _outputs(defn: Mapping) -> List[Tuple[str, str]]:
    types = list(defn.get("output") or [])
    names = list(defn.get("output_name") or types)
    return [(str(names[i]) if i < len(names) else str(t), str(t)) for i, t in enumerate(types)]


def _output_slot(defn: Mapping, name: str, fallback: int) -> int:
    outs = _outputs(defn)
    for i, (n, _) in enumerate(outs):
        if n == name:
            return i
    for i, (n, _) in enumerate(outs):
        if n.lower() == name.lower():
            return i
    return fallback


# --- what each cubiq node becomes ------------------------------------------------------------------------------

@dataclass
class _Part:
    key: str
    type: str
    widgets: Dict[str, Any]
    title: Optional[str] = None
    side: str = "left"  # where it goes beside the main part: it feeds it (left) or reads from it (right)


@dataclass
class _Plan:
    parts: List[_Part]  # parts[0] is the main part: it keeps the cubiq node's id and position
    inputs: Dict[str, List[Tuple[str, str]]]  # cubiq input or widget name -> [(part, our input)]
    outputs: Dict[int, Tuple[str, str, int]]  # cubiq output slot -> (part, our output name, fallback slot)
    wires: List[Tuple[str, str, int, str, str]] = field(default_factory=list)  # part, output, slot, part, input
    notes: List[Tuple[str, str]] = field(default_factory=list)  # (level, message)
    unchecked: Tuple[str, ...] = ()  # widgets whose value is carried without checking it (file names)


def _plan_model_loader(v, ctx) -> _Plan:
    return _Plan([_Part("main", MODEL_LOADER, {"instantid_file": v["instantid_file"]})],
                 {"instantid_file": [("main", "instantid_file")]}, {0: ("main", "instantid", 0)},
                 unchecked=("instantid_file",))


def _plan_face_analysis(v, ctx) -> _Plan:
    provider = PROVIDERS.get(v["provider"])
    notes = [("info", DETECT_NOTE)]
    if provider is None:
        provider = "auto"
        notes.append(("warning", f"provider {v['provider']!r} has no equivalent here; set to 'auto'"))
    return _Plan([_Part("main", FACE_ANALYSIS_LOADER, {"provider": provider})], {"provider": [("main", "provider")]},
                 {0: ("main", "face_analysis", 0)}, notes=notes)


def _plan_keypoints(v, ctx) -> _Plan:
    return _Plan([_Part("main", FACE_KEYPOINTS, {"width": 0, "height": 0, "image_index": 0}),
                  _Part("detect", FACE_DETECT, dict(REFERENCE_DETECT))],
                 {"faceanalysis": [("detect", "face_analysis")], "image": [("detect", "image")]},
                 {0: ("main", "keypoints", 0)}, [("detect", "faces", 0, "main", "faces")],
                 [("info", KEYPOINTS_NOTE)])


def _identity_parts(combine: str, noise: float) -> List[_Part]:
    return [_Part("detect", FACE_DETECT, dict(REFERENCE_DETECT)),
            _Part("project", PROJECTION, {"combine": combine, "negative_noise": noise, "seed": 0})]


def _combine(v, notes) -> str:
    raw = v.get("combine_embeds", "average")
    if raw in COMBINE_NOTES:
        notes.append(("info", COMBINE_NOTES[raw]))
    if raw not in COMBINE:
        notes.append(("warning", f"combine_embeds {raw!r} has no equivalent here; set to 'average'"))
    return COMBINE.get(raw, "average")


def _add_condition_mask(plan: _Plan, positive_slot: int, note: str) -> None:
    """cubiq put the mask on the positive conditioning itself; a core ConditioningSetMask does the same."""
    plan.parts.append(_Part("cond_mask", SET_MASK, {"strength": 1.0, "set_cond_area": "default"}, side="right"))
    plan.inputs.setdefault("mask", []).append(("cond_mask", "mask"))
    plan.wires.append(("main", "positive", positive_slot, "cond_mask", "conditioning"))
    plan.outputs[positive_slot] = ("cond_mask", "CONDITIONING", 0)
    plan.notes.append(("info", note))


def _plan_apply(v, ctx) -> _Plan:
    basic = ctx["type"] == "ApplyInstantID"
    notes: List[Tuple[str, str]] = []
    ip_weight, cn_strength = (v["weight"], v["weight"]) if basic else (v["ip_weight"], v["cn_strength"])
    noise = BASIC_APPLY_NOISE if basic else v["noise"]
    combine = "average" if basic else _combine(v, notes)
    if basic:
        notes += [("info", SHARED_WEIGHT_NOTE.format(weight=v["weight"])), ("info", BASIC_NOISE_NOTE)]
    elif noise:
        notes.append(("info", NOISE_NOTE.format(noise=noise)))
    notes.append(("info", MIDDLE_NOTE))
    main = _Part("main", APPLY, {"ip_weight": ip_weight, "cn_strength": cn_strength, "start_at": v["start_at"],
                                 "end_at": v["end_at"]})
    widgets = ({"weight": [("main", "ip_weight"), ("main", "cn_strength")]} if basic else
               {"ip_weight": [("main", "ip_weight")], "cn_strength": [("main", "cn_strength")],
                "noise": [("project", "negative_noise")], "combine_embeds": [("project", "combine")]})
    plan = _Plan([main] + _identity_parts(combine, noise),
                 {"instantid": [("project", "instantid")], "insightface": [("detect", "face_analysis")],
                  "image": [("detect", "image")], "control_net": [("main", "control_net")],
                  "model": [("main", "model")], "positive": [("main", "positive")],
                  "negative": [("main", "negative")], "mask": [("main", "mask")],
                  "start_at": [("main", "start_at")], "end_at": [("main", "end_at")], **widgets},
                 {0: ("main", "model", 0), 1: ("main", "positive", 1), 2: ("main", "negative", 2)},
                 [("detect", "faces", 0, "project", "faces"), ("project", "identity", 0, "main", "identity")], notes)
    if "image_kps" not in ctx["linked"]:  # cubiq drew the keypoints of the reference photo's face
        plan.wires.append(("detect", "faces", 0, "main", "faces"))
    elif ctx["kps_is_drawing"]:  # already a keypoint image: cubiq found no face in it and used it as it was
        plan.inputs["image_kps"] = [("main", "image_kps")]
    else:  # a photo: cubiq detected its face and drew the keypoints
        plan.parts.append(_Part("pose", FACE_DETECT, dict(REFERENCE_DETECT), title="InstantID Face Detect (pose)"))
        plan.inputs["image_kps"] = [("pose", "image")]
        plan.inputs["insightface"].append(("pose", "face_analysis"))
        plan.wires.append(("pose", "faces", 0, "main", "faces"))
        plan.notes.append(("info", POSE_NOTE))
    if "mask" in ctx["linked"]:
        _add_condition_mask(plan, 1, APPLY_MASK_NOTE)
    return plan


def _plan_attention(v, ctx) -> _Plan:
    notes = [("info", NOISE_NOTE.format(noise=v["noise"]))] if v["noise"] else []
    return _Plan([_Part("main", APPLY_ATTENTION, {"weight": v["weight"], "start_at": v["start_at"],
                                                  "end_at": v["end_at"]})] + _identity_parts("average", v["noise"]),
                 {"instantid": [("project", "instantid")], "insightface": [("detect", "face_analysis")],
                  "image": [("detect", "image")], "model": [("main", "model")], "mask": [("main", "mask")],
                  "weight": [("main", "weight")], "start_at": [("main", "start_at")], "end_at": [("main", "end_at")],
                  "noise": [("project", "negative_noise")]},
                 {0: ("main", "model", 0), 1: ("project", "identity", 0)},
                 [("detect", "faces", 0, "project", "faces"), ("project", "identity", 0, "main", "identity")], notes)


def _plan_controlnet(v, ctx) -> _Plan:
    plan = _Plan([_Part("main", APPLY_IDENTITYNET, {"strength": v["strength"], "start_at": v["start_at"],
                                                    "end_at": v["end_at"]})],
                 {"face_embeds": [("main", "identity")], "control_net": [("main", "control_net")],
                  "image_kps": [("main", "image_kps")], "positive": [("main", "positive")],
                  "negative": [("main", "negative")], "strength": [("main", "strength")],
                  "start_at": [("main", "start_at")], "end_at": [("main", "end_at")]},
                 {0: ("main", "positive", 0), 1: ("main", "negative", 1)})
    if "mask" in ctx["linked"]:
        _add_condition_mask(plan, 0, MASK_NOTE)
    return plan


_PLANS = {"InstantIDModelLoader": _plan_model_loader, "InstantIDFaceAnalysis": _plan_face_analysis,
          "FaceKeypointsPreprocessor": _plan_keypoints, "ApplyInstantID": _plan_apply,
          "ApplyInstantIDAdvanced": _plan_apply, "InstantIDAttentionPatch": _plan_attention,
          "ApplyInstantIDControlNet": _plan_controlnet}
_NEEDS = {"InstantIDModelLoader": {MODEL_LOADER}, "InstantIDFaceAnalysis": {FACE_ANALYSIS_LOADER},
          "FaceKeypointsPreprocessor": {FACE_DETECT, FACE_KEYPOINTS},
          "ApplyInstantID": {FACE_DETECT, PROJECTION, APPLY},
          "ApplyInstantIDAdvanced": {FACE_DETECT, PROJECTION, APPLY},
          "InstantIDAttentionPatch": {FACE_DETECT, PROJECTION, APPLY_ATTENTION},
          "ApplyInstantIDControlNet": {APPLY_IDENTITYNET}}


# --- building this pack's nodes -----------------------------------------------------------------------------------

def _new_node(node_id, part: _Part, defn: Mapping, cubiq: Mapping) -> dict:
    link_inputs = [(n, s) for n, s in _inputs(defn) if not is_widget(s)]
    widgets = [(n, s) for n, s in _inputs(defn) if is_widget(s)]
    outs = _outputs(defn)
    values: List[Any] = []
    for name, spec in widgets:
        values.append(part.widgets.get(name, _default(spec)))
        values += frontend_extras(name, spec)
    rows = max(len(link_inputs), len(outs))
    size = FRONTEND_SIZES.get(part.type) or [315, rows * 20 + len(widgets) * 24 + 14]  # known, else estimated
    node = {"id": node_id, "type": part.type, "pos": [0, 0], "size": list(size),
            "flags": {}, "order": cubiq.get("order", 0), "mode": cubiq.get("mode", 0),
            "inputs": [{"name": n, "type": _link_type(s), "link": None} for n, s in link_inputs],
            "outputs": [{"name": n, "type": t, "links": [], "slot_index": i} for i, (n, t) in enumerate(outs)],
            "properties": {"Node name for S&R": part.type}, "widgets_values": values}
    title = cubiq.get("title") if part.key == "main" else part.title
    if title:
        node["title"] = title
    for key in ("color", "bgcolor"):
        if key in cubiq:
            node[key] = cubiq[key]
    return node


def _input_slot(node: dict, defn: Mapping, name: str) -> Optional[int]:
    """Slot of a link input, or of a widget turned into an input (added on demand, as the frontend does)."""
    for i, inp in enumerate(node["inputs"]):
        if inp["name"] == name:
            return i
    spec = dict(_inputs(defn)).get(name)
    if spec is None or not is_widget(spec):
        return None
    node["inputs"].append({"name": name, "type": _link_type(spec), "link": None, "widget": {"name": name}})
    return len(node["inputs"]) - 1


def _check_widgets(node: dict, defn: Mapping, part: _Part, unchecked: Sequence[str], say) -> None:
    """Values are carried exactly; one that the node would refuse is reported, a choice it lacks is replaced."""
    values = node["widgets_values"]
    i = 0
    for name, spec in (p for p in _inputs(defn) if is_widget(p[1])):
        value, choices = values[i], _choices(spec)
        _, opts = spec_parts(spec)
        if name in part.widgets and name not in unchecked:
            if choices and value not in choices:
                values[i] = _default(spec)
                say("warning", f"{name} {value!r} is not offered by {part.type} here; set to {values[i]!r}")
            elif isinstance(value, (int, float)) and not isinstance(value, bool) and (
                    ("min" in opts and value < opts["min"]) or ("max" in opts and value > opts["max"])):
                say("warning", f"{name} {value} is outside {part.type}'s range {opts.get('min')}..{opts.get('max')}; "
                               f"kept as it was, but ComfyUI will refuse it until it is changed")
        i += 1 + len(frontend_extras(name, spec))


def _cubiq_values(node: Mapping, say) -> Dict[str, Any]:
    layout = CUBIQ_WIDGETS[node["type"]]
    raw = node.get("widgets_values")
    if isinstance(raw, dict):
        return {name: raw.get(name, default) for name, default in layout}
    raw = list(raw or [])
    if len(raw) != len(layout):
        say("warning", f"expected {len(layout)} widget values ({', '.join(n for n, _ in layout) or 'none'}), "
                       f"found {len(raw)}; read them in that order, missing ones take cubiq's defaults")
    return {name: raw[i] if i < len(raw) else default for i, (name, default) in enumerate(layout)}


def _convert_node(graph: UIGraph, cubiq: dict, definitions: Mapping, result: MigrationResult, created: set,
                  replaced: Dict[int, List[dict]]) -> None:
    node_id, node_type = cubiq["id"], cubiq["type"]

    def say(level, message):
        result.notes.append(MigrationNote(level, message, node_id, node_type))

    incoming, outgoing = graph.links_of(node_id)
    inputs = cubiq.get("inputs") or []

    def input_name(link):
        entry = next((i for i in inputs if i.get("link") == link[0]), None)
        if entry is None and 0 <= link[4] < len(inputs):
            entry = inputs[link[4]]
        return None if entry is None else ((entry.get("widget") or {}).get("name") or entry.get("name"))

    named = [(input_name(l), l) for l in incoming]
    kps = next((l for n, l in named if n == "image_kps"), None)
    ctx = {"type": node_type, "linked": {n for n, _ in named}, "kps_is_drawing":
           kps is not None and graph.source_type(kps) in KEYPOINT_SOURCES}
    plan = _PLANS[node_type](_cubiq_values(cubiq, say), ctx)
    for level, message in plan.notes:
        say(level, message)
    if cubiq.get("mode", 0) in (2, 4):
        say("info", "the cubiq node was " + ("muted" if cubiq["mode"] == 2 else "bypassed") +
            "; its replacements are too")

    defs = {p.key: definitions[p.type] if p.type in definitions else _SET_MASK_DEFINITION for p in plan.parts}
    made = {p.key: _new_node(node_id if i == 0 else graph.new_node_id(), p, defs[p.key], cubiq)
            for i, p in enumerate(plan.parts)}
    replaced[id(cubiq)] = [made[p.key] for p in plan.parts]  # in the node list where cubiq's was, at the end
    graph.nodes.update({n["id"]: n for n in made.values()})
    created.update(n["id"] for n in made.values())
    result.added_node_ids += [made[p.key]["id"] for p in plan.parts[1:]]
    for p in plan.parts:
        _check_widgets(made[p.key], defs[p.key], p, plan.unchecked, say)

    for name, link in named:
        targets = [(k, n, _input_slot(made[k], defs[k], n)) for k, n in plan.inputs.get(name or "", [])]
        targets = [t for t in targets if t[2] is not None]
        if not targets:
            say("warning", f"input {name!r} has no equivalent here; its link from node {link[1]} was removed")
            graph.remove_link(link)
            continue
        (key, _, slot), rest = targets[0], targets[1:]
        graph.set_dst(link, made[key]["id"], slot)
        for key, _, slot in rest:  # one cubiq input feeding two of ours: a second link from the same output
            graph.add_link(link[1], link[2], made[key]["id"], slot, link[5])
        if name == "combine_embeds":
            say("warning", "combine_embeds comes from a link; its value is not translated ('norm average' is "
                           "'norm_average' here): check the node that feeds it")
    for link in outgoing:
        target = plan.outputs.get(link[2])
        if target is None:
            say("warning", f"output {link[2]} has no equivalent here; its link to node {link[3]} was removed")
            graph.remove_link(link)
            continue
        key, name, fallback = target
        graph.set_src(link, made[key]["id"], _output_slot(defs[key], name, fallback))
    for src, out, fallback, dst, name in plan.wires:
        slot = _output_slot(defs[src], out, fallback)
        graph.add_link(made[src]["id"], slot, made[dst]["id"], _input_slot(made[dst], defs[dst], name),
                       made[src]["outputs"][slot]["type"])

    main = made[plan.parts[0].key]
    main["pos"] = copy.deepcopy(cubiq.get("pos", [0, 0]))
    main["size"] = [int(v) if float(v).is_integer() else v
                    for v in map(max, xy(cubiq.get("size"), (0.0, 0.0)), main["size"])]
    _place(graph, plan, made, main)
    result.converted += 1


def _place(graph: UIGraph, plan: _Plan, made: Dict[str, dict], main: dict) -> None:
    """The main node stays where cubiq's was unless, at our size, it would overlap a neighbour (then it takes the
    nearest free spot); each added node goes beside the node it feeds (left) or reads from (right), nearest free
    spot first, so links keep running left to right and nothing overlaps."""
    for node in made.values():
        graph.forget(node["id"])
    graph.place(main, xy(main["pos"], (0.0, 0.0)), directions=(-1, 1))
    feeds: Dict[str, str] = {}  # part -> the part its output goes to first
    for src, _, _, dst, _ in plan.wires:
        feeds.setdefault(src, dst)

    def hops(key, seen=()):  # links from a part to the main one: nearest placed first (project before detect)
        dst = feeds.get(key)
        return 0 if key == plan.parts[0].key else 1 if dst is None or dst in seen else 1 + hops(dst, seen + (key,))

    for p in sorted(plan.parts[1:], key=lambda p: hops(p.key)):
        node = made[p.key]
        if p.side == "right":
            mx, my, mw, _ = graph.rect(main)
            graph.place(node, (mx + mw + graph.GAP * 2, my + graph.TITLE_H), directions=(1,))
        else:
            fx, fy, _, _ = graph.rect(made[feeds.get(p.key, plan.parts[0].key)])
            graph.place(node, (fx - node["size"][0] - graph.GAP * 2, fy + graph.TITLE_H), directions=(-1,))


# --- after every node: link types, leftovers ------------------------------------------------------------------

def _retype(graph: UIGraph, created: set) -> None:
    """Links now leaving this pack's nodes take their output types; Reroutes carrying cubiq types follow."""
    for link in graph.wf["links"]:
        src = graph.nodes.get(link[1])
        if link[1] in created and src is not None and 0 <= link[2] < len(src["outputs"]):
            link[5] = src["outputs"][link[2]]["type"]
    changed = True
    while changed:
        changed = False
        for node in graph.wf["nodes"]:
            outs = node.get("outputs") or []
            if node.get("type") != "Reroute" or not outs or outs[0].get("type") not in CUBIQ_IO_TYPES:
                continue
            feed = graph.links.get(((node.get("inputs") or [{}])[0]).get("link"))
            if feed is not None and feed[5] not in CUBIQ_IO_TYPES and feed[5] != "*":
                if outs[0].get("name") == outs[0]["type"]:  # a Reroute's label is its type
                    outs[0]["name"] = feed[5]
                outs[0]["type"] = feed[5]
                for link_id in outs[0].get("links") or []:
                    if link_id in graph.links:
                        graph.links[link_id][5] = feed[5]
                changed = True


def _drop_mismatched(graph: UIGraph, created: set, result: MigrationResult) -> None:
    """A cubiq-typed value cannot enter this pack's nodes, nor ours a node still expecting cubiq's types."""
    for link in list(graph.wf["links"]):
        dst = graph.nodes.get(link[3])
        inputs = (dst or {}).get("inputs") or []
        if dst is None or not 0 <= link[4] < len(inputs) or dst.get("type") == "Reroute":
            continue
        wanted = inputs[link[4]].get("type")
        if link[3] in created and link[5] in CUBIQ_IO_TYPES:
            why = f"it carries cubiq's {link[5]} from node {link[1]}, which was not converted"
        elif link[3] not in created and wanted in CUBIQ_IO_TYPES and link[5] not in CUBIQ_IO_TYPES | {"*"}:
            why = f"node {link[1]} now gives {link[5]}, not cubiq's {wanted}"
        else:
            continue
        result.notes.append(MigrationNote("warning", f"input {inputs[link[4]].get('name')!r} was disconnected: "
                                          f"{why}; reconnect it by hand", link[3], dst.get("type")))
        graph.remove_link(link)


def _report_leftovers(graph: UIGraph, created: set, result: MigrationResult) -> None:
    for node in graph.wf["nodes"]:
        if node["id"] in created or node.get("type") in VIRTUAL:
            continue
        props = node.get("properties") or {}
        types = {p.get("type") for p in (node.get("inputs") or []) + (node.get("outputs") or [])}
        if props.get("cnr_id") == CUBIQ_PACK_ID or "ComfyUI_InstantID" in str(props.get("aux_id") or "") \
                or types & CUBIQ_IO_TYPES:
            result.notes.append(MigrationNote("warning", "this looks like a node of cubiq's InstantID pack that the "
                                              "converter does not know; it was left as it is", node["id"],
                                              node.get("type")))
    for sub in ((graph.wf.get("definitions") or {}).get("subgraphs") or []):
        if any(n.get("type") in CUBIQ_NODE_TYPES for n in sub.get("nodes") or []):
            result.notes.append(MigrationNote("warning", f"subgraph {sub.get('name') or sub.get('id')!r} holds cubiq "
                                              "nodes; subgraphs are not converted: unpack it and migrate again"))


def migrate_workflow(workflow: Mapping, definitions: Mapping[str, Mapping]) -> MigrationResult:
    """Replace cubiq's InstantID nodes in a UI-format workflow; the input is never modified.

    ``definitions``: this pack's nodes as ComfyUI's /object_info gives them (``input``, ``output``,
    ``output_name``, optionally ``input_order``), keyed by node id; ConditioningSetMask may be included too.
    """
    check_workflow_input(workflow)  # before the deep copy: bounded depth, entries of the shape read below
    result = MigrationResult(copy.deepcopy(dict(workflow)))
    clean_numbers(result.workflow, CUBIQ_WIDGETS,
                  lambda level, message, node_id, node_type: result.notes.append(
                      MigrationNote(level, message, node_id, node_type)))
    graph = UIGraph(result.workflow)
    cubiq = [n for n in graph.wf["nodes"] if n.get("type") in CUBIQ_NODE_TYPES]
    missing = sorted(set().union(*(_NEEDS[n["type"]] for n in cubiq)) - set(definitions)) if cubiq else []
    if missing:
        raise CubiqMigrationError(f"node definitions missing for {missing}: the InstantID Precision pack is not "
                                  f"fully loaded (check ComfyUI's console for import errors)")
    created: set = set()  # ids of the nodes that replaced cubiq's (the main ones keep cubiq's ids)
    replaced: Dict[int, List[dict]] = {}  # id() of a cubiq node -> the nodes that replace it
    for node in cubiq:
        _convert_node(graph, node, definitions, result, created, replaced)
    graph.wf["nodes"] = [m for n in graph.wf["nodes"] for m in replaced.get(id(n), [n])]
    _retype(graph, created)
    _drop_mismatched(graph, created, result)
    _report_leftovers(graph, created, result)
    graph.wf["last_node_id"], graph.wf["last_link_id"] = graph.last_node, graph.last_link
    state = graph.wf.get("state")
    if isinstance(state, dict):  # newer frontends keep the counters here too
        state["lastNodeId"], state["lastLinkId"] = graph.last_node, graph.last_link
    return result


def migration_report_text(result: MigrationResult) -> str:
    if not result.converted and not result.notes:
        return "No cubiq InstantID nodes found; the workflow is unchanged."
    lines = [f"Converted {result.converted} cubiq InstantID node(s) to InstantID Precision nodes "
             f"({len(result.added_node_ids)} node(s) added)."]
    for level, heading in (("warning", "Needs your attention:"), ("info", "Behaviour differences:")):
        notes = [n for n in result.notes if n.level == level]
        if notes:
            lines.append(heading)
        for n in notes:
            where = f"node {n.node_id} ({n.node_type}): " if n.node_id is not None else ""
            lines.append(f"  - {where}{n.message}")
    return "\n".join(lines)
