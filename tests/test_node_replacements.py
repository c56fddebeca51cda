"""nodes/node_replacements.py against a real ComfyUI, in-process: each registered replacement maps cubiq's node
onto inputs and outputs this pack's node really has (cubiq's widget names and output type are written out here, from
cubiq's ComfyUI_InstantID: its loaders take `instantid_file` / `provider` and return INSTANTID / FACEANALYSIS).
Where the core has Node Replacement (0.33.0) the list is registered with it; where it has not (0.3.64) the pack
registers nothing and imports as before."""
import pytest

from instantid_testkit.comfy_env import comfy_env

CUBIQ = {"InstantIDModelLoader": (["instantid_file"], ["INSTANTID"]),
         "InstantIDFaceAnalysis": (["provider"], ["FACEANALYSIS"])}
CUBIQ_PROVIDERS = ["CPU", "CUDA", "ROCM", "CoreML"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return comfy_env(tmp_path_factory.mktemp("comfy"))


def test_every_mapping_names_real_inputs_and_outputs(env):
    import nodes
    mod = env.pack("nodes.node_replacements")
    assert {old for old, *_ in mod.EXACT} == set(CUBIQ)
    for old, new, widgets, inputs, outputs in mod.EXACT:
        ours = nodes.NODE_CLASS_MAPPINGS[new]
        spec = {**ours.INPUT_TYPES()["required"], **(ours.INPUT_TYPES().get("optional") or {})}
        assert widgets == CUBIQ[old][0]
        assert {m["new_id"] for m in inputs} == set(spec), (old, new)  # every input of ours is given a value
        for m in inputs:
            if "old_id" in m:
                assert m["old_id"] in widgets
            else:
                assert m["set_value"] in spec[m["new_id"]][0]
        assert [(m["old_idx"], m["new_idx"]) for m in outputs] == [(0, 0)] and len(ours.RETURN_TYPES) == 1
    provider = dict(nodes.NODE_CLASS_MAPPINGS["InstantIDPrecision_FaceAnalysisLoader"].INPUT_TYPES()["required"])
    assert set(CUBIQ_PROVIDERS) <= set(provider["provider"][0])  # every value cubiq's widget can hold


def test_registered_where_the_core_has_node_replacement(env):
    mod = env.pack("nodes.node_replacements")
    try:
        from comfy_api.latest import io
    except ImportError:
        io = None
    if io is None or not hasattr(io, "NodeReplace"):  # ComfyUI 0.3.64
        assert mod.register_replacements() == 0
        return
    import server

    class Manager:  # ComfyUI's NodeReplaceManager.register, recorded (the in-process env has no PromptServer)
        def __init__(self):
            self.got = []

        def register(self, replace):
            self.got.append(replace.as_dict())

    manager = Manager()
    had = getattr(server.PromptServer, "instance", None)
    server.PromptServer.instance = type("Instance", (), {"node_replace_manager": manager})()
    try:
        assert mod.register_replacements() == len(mod.EXACT)
    finally:
        server.PromptServer.instance = had
    assert [(r["old_node_id"], r["new_node_id"]) for r in manager.got] == [(o, n) for o, n, *_ in mod.EXACT]
