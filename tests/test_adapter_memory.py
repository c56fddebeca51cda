"""How the adapter meets ComfyUI's memory manager on either core (dynamic VRAM itself only runs on NVIDIA GPUs;
these checks cover the choices the pack makes, on the CPU).

- The loader builds the adapter's patcher from the class the core uses for its own models
  (``comfy.model_patcher.CoreModelPatcher``, rebound to ModelPatcherDynamic when dynamic VRAM is on), looked up
  when the node runs; v0.3.64 has no such name and gets ModelPatcher.
- Where the adapter's weights are is decided by where most of its bytes are: the dynamic loader leaves the
  resampler's ``latents`` (a parameter beside submodules) on the GPU after an unload."""
import pytest
import torch

from instantid_testkit.direct_nodes import PREFIX, run_node
from instantid_testkit.comfy_env import comfy_env


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return comfy_env(tmp_path_factory.mktemp("comfy"))


def test_the_adapter_gets_the_cores_own_patcher_class(env, monkeypatch):
    import comfy.model_patcher
    core_class = getattr(comfy.model_patcher, "CoreModelPatcher", None)
    plain = run_node(PREFIX + "ModelLoader", instantid_file="ip-adapter.safetensors")[0]
    assert type(plain.patcher) is (core_class or comfy.model_patcher.ModelPatcher)

    class StandInDynamic(comfy.model_patcher.ModelPatcher):
        """What main.py puts under the name when dynamic VRAM is on."""

    monkeypatch.setattr(comfy.model_patcher, "CoreModelPatcher", StandInDynamic, raising=False)
    dynamic = run_node(PREFIX + "ModelLoader", instantid_file="ip-adapter.safetensors")[0]
    assert type(dynamic.patcher) is StandInDynamic
    assert dynamic.patcher.load_device == plain.patcher.load_device
    assert dynamic.patcher.offload_device == plain.patcher.offload_device


def test_a_small_parameter_left_elsewhere_does_not_move_the_adapter(env):
    placement = env.pack("nodes.placement")
    handle = run_node(PREFIX + "ModelLoader", instantid_file="ip-adapter.safetensors")[0]
    model = handle.model
    assert placement.weights_device(model) == torch.device("cpu")
    first = next(model.parameters())
    assert first is model.image_proj.latents  # the one a dynamic load leaves on the GPU
    model.image_proj.latents = torch.nn.Parameter(torch.empty_like(first, device="meta"), requires_grad=False)
    assert placement.weights_device(model) == torch.device("cpu")
    model.image_proj.latents = torch.nn.Parameter(torch.zeros_like(first), requires_grad=False)
    for module in model.modules():  # the reverse: everything but ``latents`` elsewhere
        for name, param in list(module.named_parameters(recurse=False)):
            if param is not model.image_proj.latents:
                setattr(module, name, torch.nn.Parameter(torch.empty_like(param, device="meta"), requires_grad=False))
    assert placement.weights_device(model) == torch.device("meta")
