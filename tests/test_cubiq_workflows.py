"""cubiq ComfyUI_InstantID workflows -> this pack's nodes (instantid_core.workflow_formats.cubiq_workflows), without ComfyUI.

The node definitions below are a small table of this pack's nodes (ids, inputs, outputs) in /object_info
shape; a ComfyUI-backed test elsewhere runs the converter with the real ones.
"""
import copy
import json
import os
import time
from pathlib import Path

import pytest

from instantid_testkit import cubiq_examples as ex
from instantid_core.workflow_formats.cubiq_workflows import (APPLY, APPLY_ATTENTION, APPLY_IDENTITYNET, CUBIQ_NODE_TYPES, FACE_DETECT,
                                            FACE_KEYPOINTS, PROJECTION, SET_MASK, CubiqMigrationError,
                                            migrate_workflow, migration_report_text, needs_migration)

P = "InstantIDPrecision_"
FA, FACES, MODEL_T, IDENTITY = ("INSTANTID_PRECISION_FACE_ANALYSIS", "INSTANTID_PRECISION_FACES",
                                "INSTANTID_PRECISION_MODEL", "INSTANTID_PRECISION_IDENTITY")


def _float(default, lo, hi):
    return ("FLOAT", {"default": default, "min": lo, "max": hi, "step": 0.01, "tooltip": "extra options are fine"})


def _int(default=0, hi=8192):
    return ("INT", {"default": default, "min": 0, "max": hi})


START, END = _float(0.0, 0.0, 1.0), _float(1.0, 0.0, 1.0)


def _definition(required, optional=None, outputs=()):
    return {"input": {"required": required, **({"optional": optional} if optional else {})},
            "output": [t for _, t in outputs], "output_name": [n for n, _ in outputs], "output_node": False}


DEFINITIONS = {
    P + "FaceAnalysisLoader": _definition(
        {"provider": (["auto", "CPU", "CUDA", "ROCM", "DirectML", "CoreML", "OpenVINO"], {"default": "auto"}),
         "det_size": (["640 → 512 → 320", "640", "1024 → 640 → 320", "320"],)},
        outputs=[("face_analysis", FA)]),
    P + "FaceDetect": _definition(
        {"face_analysis": (FA,), "image": ("IMAGE",),
         "selection": (["largest", "all", "index_by_size", "index_left_to_right"], {"default": "largest"}),
         "face_index": _int(0, 63), "on_no_face": (["error", "skip image"], {"default": "error"})},
        outputs=[("faces", FACES), ("preview", "IMAGE")]),
    P + "FaceKeypoints": _definition({"faces": (FACES,), "width": _int(), "height": _int(), "image_index": _int()},
                                     outputs=[("keypoints", "IMAGE")]),
    P + "ModelLoader": _definition({"instantid_file": (["other.bin"],)}, outputs=[("instantid", MODEL_T)]),
    P + "ImageProjection": _definition(
        {"instantid": (MODEL_T,), "faces": (FACES,),
         "combine": (["average", "norm_average", "concat", "one_per_latent", "instantx_multi_photo"],),
         "negative_noise": _float(0.0, 0.0, 1.0), "seed": _int(0, 2 ** 64 - 1)},
        outputs=[("identity", IDENTITY), ("report", "STRING")]),
    P + "ApplyAttention": _definition(
        {"model": ("MODEL",), "identity": (IDENTITY,), "weight": _float(0.8, -1.0, 5.0), "start_at": START,
         "end_at": END}, {"mask": ("MASK",)}, outputs=[("model", "MODEL")]),
    P + "ApplyIdentityNet": _definition(
        {"positive": ("CONDITIONING",), "negative": ("CONDITIONING",), "control_net": ("CONTROL_NET",),
         "identity": (IDENTITY,), "strength": _float(0.8, 0.0, 10.0), "start_at": START, "end_at": END},
        {"image_kps": ("IMAGE",), "faces": (FACES,), "latent": ("LATENT",), "mask": ("MASK",), "vae": ("VAE",)},
        outputs=[("positive", "CONDITIONING"), ("negative", "CONDITIONING")]),
    P + "Apply": _definition(
        {"model": ("MODEL",), "positive": ("CONDITIONING",), "negative": ("CONDITIONING",),
         "control_net": ("CONTROL_NET",), "identity": (IDENTITY,), "ip_weight": _float(0.8, 0.0, 5.0),
         "cn_strength": _float(0.8, 0.0, 10.0), "start_at": START, "end_at": END},
        {"image_kps": ("IMAGE",), "faces": (FACES,), "latent": ("LATENT",), "mask": ("MASK",)},
        outputs=[("model", "MODEL"), ("positive", "CONDITIONING"), ("negative", "CONDITIONING")]),
}
OURS = set(DEFINITIONS) | {SET_MASK}
ALL_WORKFLOWS = dict(ex.EXAMPLES, advanced=ex.advanced, split_pair=ex.split_pair,
                     drawn_keypoints=ex.drawn_keypoints_into_apply, primitive=ex.weight_from_primitive,
                     unknown=ex.with_unknown_cubiq_node)


# --- helpers -------------------------------------------------------------------------------------------------

def nodes_by_id(wf):
    return {n["id"]: n for n in wf["nodes"]}


def links_by_id(wf):
    return {l[0]: l for l in wf["links"]}


def our_input_types(node_type):
    defn = DEFINITIONS[node_type]["input"]
    return {n: (s[0] if isinstance(s[0], str) else "COMBO") for sec in defn.values() for n, s in sec.items()}


def assert_consistent(wf):
    """Link table, node inputs/outputs and slot indices agree, and types match this pack's definitions."""
    nodes, links = nodes_by_id(wf), links_by_id(wf)
    assert len(links) == len(wf["links"]), "duplicate link ids"
    assert wf["last_node_id"] >= max(nodes) and wf["last_link_id"] >= max(links)
    for link_id, src, src_slot, dst, dst_slot, link_type in wf["links"]:
        out, inp = nodes[src]["outputs"][src_slot], nodes[dst]["inputs"][dst_slot]
        assert link_id in out["links"] and inp["link"] == link_id, f"link {link_id} not on both ends"
        if nodes[src]["type"] in DEFINITIONS:
            assert link_type == DEFINITIONS[nodes[src]["type"]]["output"][src_slot] == out["type"]
        if nodes[dst]["type"] in DEFINITIONS:
            assert link_type == inp["type"] == our_input_types(nodes[dst]["type"])[inp["name"]]
    for node in wf["nodes"]:
        for slot, out in enumerate(node.get("outputs") or []):
            for link_id in out.get("links") or []:
                assert links[link_id][1:3] == [node["id"], slot], f"node {node['id']} lists link {link_id}"
        for slot, inp in enumerate(node.get("inputs") or []):
            if inp.get("link") is not None:
                assert links[inp["link"]][3:5] == [node["id"], slot], f"node {node['id']} input {inp['name']}"


def source(wf, node_id, input_name):
    """(source node, source output name) of a node input."""
    nodes, links = nodes_by_id(wf), links_by_id(wf)
    inp = next(i for i in nodes[node_id]["inputs"] if i["name"] == input_name)
    if inp["link"] is None:
        return None
    link = links[inp["link"]]
    return nodes[link[1]], nodes[link[1]]["outputs"][link[2]]["name"]


def consumers(wf, node_id, output_name):
    """{(consumer id, input name)} of a node output."""
    nodes, links = nodes_by_id(wf), links_by_id(wf)
    out = next(o for o in nodes[node_id]["outputs"] if o["name"] == output_name)
    return {(links[l][3], nodes[links[l][3]]["inputs"][links[l][4]]["name"]) for l in out["links"] or []}


def widgets(node):
    """Our node's widget values by name (seed's frontend 'control_after_generate' value is skipped)."""
    names = [n for n, s in our_input_types(node["type"]).items()
             if s in ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO")]
    values = list(node["widgets_values"])
    if "seed" in names:
        values.pop(names.index("seed") + 1)
    assert len(values) == len(names)
    return dict(zip(names, values))


def migrate(wf):
    result = migrate_workflow(wf, DEFINITIONS)
    assert_consistent(result.workflow)
    return result


def only(wf, node_type, **where):
    found = [n for n in wf["nodes"] if n["type"] == node_type and all(n.get(k) == v for k, v in where.items())]
    assert len(found) == 1, f"{len(found)} nodes of type {node_type}"
    return found[0]


def rects_overlap(a, b):
    (ax, ay), (aw, ah) = a["pos"], (a["size"] if isinstance(a["size"], list) else list(a["size"].values()))
    (bx, by), (bw, bh) = b["pos"], (b["size"] if isinstance(b["size"], list) else list(b["size"].values()))
    ay, by, ah, bh = ay - 30, by - 30, ah + 30, bh + 30  # the title bar sits above pos
    return ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah


# --- the five examples ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(ex.EXAMPLES))
def test_each_example_converts_and_keeps_everything_else(name):
    original = ex.EXAMPLES[name]()
    pristine = copy.deepcopy(original)
    result = migrate(original)
    wf = result.workflow
    assert original == pristine, "the input workflow was modified"
    assert needs_migration(original) and not needs_migration(wf)
    assert not {n["type"] for n in wf["nodes"]} & CUBIQ_NODE_TYPES
    assert result.converted == sum(n["type"] in CUBIQ_NODE_TYPES for n in original["nodes"])
    assert result.warnings == [], migration_report_text(result)
    before, after = nodes_by_id(original), nodes_by_id(wf)
    kept_links = {l[0] for l in original["links"]}
    assert kept_links <= set(links_by_id(wf)), "a link of the original was lost"
    new_nodes = set(after) - set(before)
    for node_id, node in before.items():  # every other node: byte for byte, except that an output feeding
        if node["type"] in CUBIQ_NODE_TYPES:  # one cubiq input that became two of ours lists the extra link
            continue
        node_after = copy.deepcopy(after[node_id])
        for out in node_after.get("outputs") or []:
            added = [l for l in out["links"] or [] if l not in kept_links]
            assert all(links_by_id(wf)[l][3] in new_nodes | {n["id"] for n in before.values()
                                                             if n["type"] in CUBIQ_NODE_TYPES} for l in added)
            out["links"] = [l for l in out["links"] or [] if l in kept_links] or out["links"] and None
        assert json.dumps(node_after, sort_keys=True) == json.dumps(node, sort_keys=True)
    assert new_nodes == set(result.added_node_ids) and min(new_nodes) > original["last_node_id"]
    assert min(set(links_by_id(wf)) - kept_links) > original["last_link_id"]
    assert wf["last_node_id"] == max(after) and wf["last_link_id"] == max(links_by_id(wf))
    assert {k: wf[k] for k in ("groups", "config", "extra", "version")} == \
        {k: original[k] for k in ("groups", "config", "extra", "version")}
    assert placement_clashes(original, wf) == []


def placement_clashes(original, converted):
    """(node, node it overlaps) for every node the conversion placed: the added ones and the replacements, which
    may be larger than cubiq's nodes and then must not grow into a neighbour either."""
    placed = {n["id"] for n in converted["nodes"]} - {n["id"] for n in original["nodes"]
                                                      if n["type"] not in CUBIQ_NODE_TYPES}
    by_id = nodes_by_id(converted)
    return [(a, o["id"]) for a in sorted(placed) for o in converted["nodes"]
            if o["id"] != a and rects_overlap(by_id[a], o)]


def test_multi_id_field_by_field():
    """Both Apply InstantID of cubiq's two-people example, checked against the source graph."""
    original = ex.multi_id()
    wf = migrate(original).workflow
    nodes = nodes_by_id(wf)
    for apply_id, weight, face, pose, mask, model_from, positive_from in (
            (60, 0.9, 13, 82, 87, 4, 39), (77, 0.8, 78, 84, 88, 60, 89)):
        apply = nodes[apply_id]
        assert apply["type"] == APPLY
        assert widgets(apply) == {"ip_weight": weight, "cn_strength": weight, "start_at": 0, "end_at": 1}
        assert source(wf, apply_id, "model")[0]["id"] == model_from  # node 77's model: node 60's patched model
        assert source(wf, apply_id, "positive")[0]["id"] == positive_from
        assert source(wf, apply_id, "negative")[0]["id"] == 40
        assert source(wf, apply_id, "control_net")[0]["id"] == 16
        assert source(wf, apply_id, "image_kps") is None
        assert source(wf, apply_id, "mask")[0]["id"] == mask
        project, out = source(wf, apply_id, "identity")
        assert (project["type"], out) == (PROJECTION, "identity")
        assert widgets(project) == {"combine": "average", "negative_noise": 0.35, "seed": 0}
        assert source(wf, project["id"], "instantid")[0]["id"] == 11
        detect = source(wf, project["id"], "faces")[0]
        assert detect["type"] == FACE_DETECT and source(wf, detect["id"], "image")[0]["id"] == face
        assert source(wf, detect["id"], "face_analysis")[0]["id"] == 38
        pose_detect = source(wf, apply_id, "faces")[0]  # cubiq drew the keypoints of the face in image_kps
        assert pose_detect["type"] == FACE_DETECT and pose_detect is not detect
        assert source(wf, pose_detect["id"], "image")[0]["id"] == pose
        assert source(wf, pose_detect["id"], "face_analysis")[0]["id"] == 38
        assert widgets(pose_detect) == {"selection": "largest", "face_index": 0, "on_no_face": "skip image"}
        set_mask = next(n for n in wf["nodes"] if n["type"] == SET_MASK and source(wf, n["id"], "conditioning")[0]
                        is apply)
        assert source(wf, set_mask["id"], "mask")[0]["id"] == mask
        assert set_mask["widgets_values"] == [1.0, "default"]
    # outputs go where cubiq's went: model 60 -> 77 -> KSampler; positives (masked) and negatives combined
    assert consumers(wf, 60, "model") == {(77, "model")} and consumers(wf, 77, "model") == {(3, "model")}
    assert consumers(wf, 60, "negative") == {(80, "conditioning_2")}
    assert consumers(wf, 77, "negative") == {(80, "conditioning_1")}
    masked = {apply_id: next(iter(consumers(wf, apply_id, "positive")))[0] for apply_id in (60, 77)}
    assert consumers(wf, masked[60], "CONDITIONING") == {(79, "conditioning_2")}
    assert consumers(wf, masked[77], "CONDITIONING") == {(79, "conditioning_1")}
    assert only(wf, P + "ModelLoader")["widgets_values"] == ["ip-adapter.bin"]  # carried though not offered
    assert only(wf, P + "FaceAnalysisLoader")["widgets_values"] == ["CPU", "640 → 512 → 320"]


def test_basic_example_draws_keypoints_from_the_reference_face():
    wf = migrate(ex.basic()).workflow
    detect = source(wf, 60, "faces")[0]
    assert detect["type"] == FACE_DETECT and source(wf, 60, "image_kps") is None
    assert source(wf, source(wf, 60, "identity")[0]["id"], "faces")[0] is detect
    assert source(wf, detect["id"], "image")[0]["id"] == 13


# --- the other cubiq nodes, values beyond the old ranges ------------------------------------------------------

def test_advanced_values_carry_over_exactly():
    result = migrate(ex.advanced(ip_weight=4.5, cn_strength=9.0, start_at=0.1, end_at=0.9, noise=0.4))
    wf = result.workflow
    assert widgets(nodes_by_id(wf)[12]) == {"ip_weight": 4.5, "cn_strength": 9.0, "start_at": 0.1, "end_at": 0.9}
    project = source(wf, 12, "identity")[0]
    assert widgets(project) == {"combine": "norm_average", "negative_noise": 0.4, "seed": 0}
    assert only(wf, P + "FaceAnalysisLoader")["widgets_values"][0] == "CUDA"
    # the face analysis went through a Reroute: it now carries this pack's type, to both detectors
    reroute = nodes_by_id(wf)[11]
    assert reroute["outputs"][0]["type"] == FA
    assert {n for n, _ in consumers(wf, 11, FA)} == {n["id"] for n in wf["nodes"] if n["type"] == FACE_DETECT}
    assert result.warnings == []
    assert any("norm average" in n.message for n in result.notes)
    assert any("0.4" in n.message and "Gaussian" in n.message for n in result.notes)


def test_split_pair_maps_attention_and_controlnet():
    result = migrate(ex.split_pair(weight=-0.5, noise=0.2, strength=9.0, start_at=0.05, end_at=0.95))
    wf = result.workflow
    nodes = nodes_by_id(wf)
    attention, identitynet = nodes[11], nodes[12]
    assert (attention["type"], identitynet["type"]) == (APPLY_ATTENTION, APPLY_IDENTITYNET)
    assert widgets(attention) == {"weight": -0.5, "start_at": 0.0, "end_at": 1.0}
    assert widgets(identitynet) == {"strength": 9.0, "start_at": 0.05, "end_at": 0.95}
    project = source(wf, 11, "identity")[0]
    assert widgets(project) == {"combine": "average", "negative_noise": 0.2, "seed": 0}
    assert source(wf, 12, "identity")[0] is project  # FACE_EMBEDS -> identity
    assert consumers(wf, 11, "model") == {(8, "model")}
    # the keypoint preprocessor became detect + keypoints, feeding IdentityNet's image_kps directly
    keypoints = nodes[10]
    assert keypoints["type"] == FACE_KEYPOINTS and source(wf, 12, "image_kps")[0] is keypoints
    assert widgets(keypoints) == {"width": 0, "height": 0, "image_index": 0}
    assert source(wf, source(wf, 10, "faces")[0]["id"], "image")[0]["id"] == 9
    # cubiq masked the positive prompt, not the keypoint image
    assert source(wf, 12, "mask") is None
    set_mask = only(wf, SET_MASK)
    assert source(wf, set_mask["id"], "conditioning")[0] is identitynet
    assert source(wf, set_mask["id"], "mask")[0]["id"] == 13
    assert consumers(wf, set_mask["id"], "CONDITIONING") == {(8, "positive")}
    assert consumers(wf, 12, "negative") == {(8, "negative")}
    assert result.warnings == []


def test_a_drawn_keypoint_image_goes_straight_to_image_kps():
    wf = migrate(ex.drawn_keypoints_into_apply()).workflow
    assert source(wf, 12, "image_kps")[0]["type"] == FACE_KEYPOINTS
    assert source(wf, 12, "faces") is None
    assert sum(n["type"] == FACE_DETECT for n in wf["nodes"]) == 2  # reference photo + keypoint preprocessor


def test_a_widget_fed_by_a_link_feeds_both_of_ours():
    original = ex.weight_from_primitive(1.25)
    wf = migrate(original).workflow
    assert source(wf, 60, "ip_weight")[0]["id"] == 67 and source(wf, 60, "cn_strength")[0]["id"] == 67
    assert widgets(nodes_by_id(wf)[60])["ip_weight"] == 1.25


def test_bypassed_cubiq_node_stays_bypassed():
    original = ex.basic()
    nodes_by_id(original)[60]["mode"] = 4
    result = migrate(original)
    made = [n for n in result.workflow["nodes"] if n["id"] in result.added_node_ids + [60]]
    assert {n["mode"] for n in made} == {4} and any("bypassed" in n.message for n in result.notes)


# --- what cannot be mapped is reported ------------------------------------------------------------------------

def test_unknown_node_and_unmappable_options_are_reported():
    original = ex.with_unknown_cubiq_node()
    pristine = copy.deepcopy(original)
    result = migrate(original)
    wf = result.workflow
    assert original == pristine
    warnings = {(n.node_id, n.message.split(" ")[0]) for n in result.warnings}
    assert (13, "this") in warnings  # the unknown node: left in place, named
    assert (13, "input") in warnings  # its cubiq FACEANALYSIS input could not stay connected
    assert (2, "provider") in warnings and (12, "combine_embeds") in warnings
    assert only(wf, P + "FaceAnalysisLoader")["widgets_values"][0] == "auto"
    assert widgets(source(wf, 12, "identity")[0])["combine"] == "average"
    unknown = nodes_by_id(wf)[13]
    assert unknown["type"] == "InstantIDFaceSwap" and unknown["inputs"][0]["link"] is None
    assert unknown["inputs"][1]["link"] == 17
    text = migration_report_text(result)
    assert "InstantIDFaceSwap" in text and "TensorRT" in text and "median" in text


def test_values_outside_our_ranges_are_kept_and_reported():
    definitions = copy.deepcopy(DEFINITIONS)
    definitions[P + "Apply"]["input"]["required"]["ip_weight"] = _float(0.8, 0.0, 3.0)
    result = migrate_workflow(ex.advanced(ip_weight=4.5), definitions)
    assert widgets(nodes_by_id(result.workflow)[12])["ip_weight"] == 4.5
    assert any("ip_weight 4.5" in n.message for n in result.warnings)


def test_widget_count_mismatch_is_reported():
    original = ex.basic()
    nodes_by_id(original)[60]["widgets_values"] = [0.7]
    result = migrate(original)
    assert widgets(nodes_by_id(result.workflow)[60])["end_at"] == 1.0  # cubiq's default
    assert any("found 1" in n.message for n in result.warnings)


# --- definitions, errors, report --------------------------------------------------------------------------------

def test_widget_order_and_types_come_from_the_definitions():
    definitions = json.loads(json.dumps(DEFINITIONS))  # as /object_info sends them: lists, not tuples
    projection = definitions[P + "ImageProjection"]
    projection["input"]["required"] = dict(reversed(list(projection["input"]["required"].items())))
    projection["input"]["optional"] = {"strength_hint": ["FLOAT", {"default": 0.25}],
                                       "forced": ["INT", {"forceInput": True}]}
    result = migrate_workflow(ex.advanced(noise=0.4), definitions)
    assert_consistent(result.workflow)
    project = source(result.workflow, 12, "identity")[0]
    assert project["widgets_values"] == [0, "fixed", 0.4, "norm_average", 0.25]
    assert [i["name"] for i in project["inputs"]] == ["faces", "instantid", "forced"]


def test_missing_definitions_name_the_nodes():
    definitions = {k: v for k, v in DEFINITIONS.items() if k != P + "ImageProjection"}
    with pytest.raises(CubiqMigrationError, match="ImageProjection"):
        migrate_workflow(ex.basic(), definitions)


def test_object_style_links_are_refused_with_a_fix():
    wf = ex.basic()
    wf["links"] = [{"id": l[0], "origin_id": l[1]} for l in wf["links"]]
    with pytest.raises(CubiqMigrationError, match="Export"):
        migrate_workflow(wf, DEFINITIONS)


def test_workflow_without_cubiq_nodes_is_returned_unchanged():
    wf = migrate(ex.basic()).workflow
    again = migrate_workflow(wf, DEFINITIONS)
    assert again.workflow == wf and again.converted == 0
    assert migration_report_text(again).startswith("No cubiq InstantID nodes")


def test_report_text_lists_conversions_and_differences():
    text = migration_report_text(migrate(ex.multi_id()))
    assert text.startswith("Converted 4 cubiq InstantID node(s)")
    assert "Behaviour differences:" in text and "node 60 (ApplyInstantID)" in text and "0.35" in text


# --- the real files --------------------------------------------------------------------------------------------

def _real_examples():
    root = os.environ.get("INSTANTID_THIRD_PARTY")
    folder = Path(root or "") / "ComfyUI_InstantID" / "examples"
    if not root or not folder.is_dir():
        from instantid_testkit.third_party import CUBIQ_INSTANTID, skip_reason  # says which git clone provides them
        pytest.skip(skip_reason(CUBIQ_INSTANTID) + "; without them the generated examples are not compared with "
                    "cubiq's real example files")
    return folder


def _graph(wf):
    nodes = {n["id"]: (n["type"], "<prompt>" if n["type"] == "CLIPTextEncode" else n.get("widgets_values"),
                       [(i["name"], i["type"], i.get("link")) for i in n.get("inputs") or []],
                       [(o["name"], o["type"], sorted(o.get("links") or [])) for o in n.get("outputs") or []])
             for n in wf["nodes"]}
    return nodes, sorted(map(list, wf["links"])), wf["last_node_id"], wf["last_link_id"]


@pytest.mark.parametrize("name", sorted(ex.EXAMPLES))
def test_generated_examples_match_cubiqs_files(name):
    real = json.loads((_real_examples() / f"{name}.json").read_text())
    assert _graph(ex.EXAMPLES[name]()) == _graph(real)
    result = migrate(real)
    assert result.warnings == [] and not needs_migration(result.workflow)
    assert placement_clashes(real, result.workflow) == []  # cubiq's own, tighter layout


@pytest.mark.parametrize("name", sorted(ex.EXAMPLES))
def test_placed_nodes_overlap_nothing_in_a_packed_layout(name):
    source = ex.packed(ex.EXAMPLES[name]())
    assert placement_clashes(source, migrate(source).workflow) == []


def test_a_large_stacked_graph_converts_in_time_without_overlaps():
    """Placement stays near-linear in the node count: 60 stacked examples (~1000 nodes) convert in well under
    a second on a desktop; the bound here is generous for a loaded CI box."""
    source = ex.stacked(60)
    assert len(source["nodes"]) >= 960
    t0 = time.perf_counter()
    result = migrate_workflow(source, DEFINITIONS)
    seconds = time.perf_counter() - t0
    assert seconds < 5.0, f"{len(source['nodes'])} nodes took {seconds:.2f} s"
    assert_consistent(result.workflow)
    assert result.converted == sum(n["type"] in CUBIQ_NODE_TYPES for n in source["nodes"])
    assert placement_clashes(source, result.workflow) == []
