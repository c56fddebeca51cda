"""Stand-in weight files in the real layouts, with random weights, written once per check and read by every setup's
process through ComfyUI's and the pack's own loaders (the loaders are part of what is checked: dynamic VRAM, for
one, only applies to models a ComfyUI loader built).

full: the SDXL UNet (ComfyUI's SDXL classes and config, 2.6 G parameters, fp16 file as SDXL checkpoints ship),
      an SDXL ControlNet with IdentityNet's tensors (cross-attention 2048, text_time embedding; ComfyUI's key
      names, which its loader maps diffusers files to anyway), and the 1.7 GB adapter layout (70 layers, fp32).
tiny: the same files and code with the test suite's tiny SDXL config (tests/instantid_testkit), for the CPU dry mode.
"""
from __future__ import annotations

from pathlib import Path

import torch

from testkit import testkit

# the real SDXL UNet: the tiny config's keys with SDXL's numbers (320 channels, 2/2/10/10 transformer depths)
SDXL_SIZES = {"model_channels": 320, "transformer_depth": [0, 0, 2, 2, 10, 10], "transformer_depth_middle": 10,
              "transformer_depth_output": [0, 0, 0, 2, 2, 2, 10, 10, 10]}
# the tiny adapter of the tests' ComfyUI fixture: small resampler, but the real 16 x 2048 identity tokens
TINY_PROJ = dict(dim=64, depth=2, heads=1, num_queries=16, embedding_dim=512, output_dim=2048, ff_mult=4)


def paths(work: Path) -> dict:
    models = Path(work) / "models"
    return {"diffusion_models": models / "diffusion_models" / "sdxl_stand_in.safetensors",
            "controlnet": models / "controlnet" / "identitynet_stand_in.safetensors",
            "instantid": models / "instantid" / "ip-adapter_stand_in.safetensors"}


def sdxl_unet_config(tiny: bool) -> dict:
    base = dict(testkit("comfy_support").TINY_SDXL_UNET_CONFIG)
    return base if tiny else {**base, **SDXL_SIZES}


@torch.no_grad()
def fill_random_(module: torch.nn.Module, seed: int, device: torch.device) -> torch.nn.Module:
    """ComfyUI's layers skip init: fill them, with the test suite's rule (N(0, 0.02), norms 1/0) but the numbers
    drawn on ``device`` (seconds on a GPU instead of minutes on a CPU for 2.6 G parameters). The dry mode runs this
    same code with the CPU as the device."""
    norms = (torch.nn.LayerNorm, torch.nn.GroupNorm)
    gen = torch.Generator(device=device).manual_seed(seed)
    for sub in module.modules():
        for name, p in sub.named_parameters(recurse=False):
            if p.dim() == 0:
                continue
            if isinstance(sub, norms):
                p.fill_(1.0 if name == "weight" else 0.0)
            else:
                p.copy_(torch.empty(p.shape, device=device).normal_(0.0, 0.02, generator=gen).to(p.dtype))
    return module


def _save(state: dict, path: Path) -> Path:
    import comfy.utils
    path.parent.mkdir(parents=True, exist_ok=True)
    comfy.utils.save_torch_file({k: v.detach().contiguous().cpu() for k, v in state.items()}, str(path))
    return path


def write_unet(path: Path, tiny: bool, device: torch.device) -> int:
    import comfy.supported_models
    config = comfy.supported_models.SDXL(sdxl_unet_config(tiny))
    config.set_inference_dtype(torch.float16, None)
    model = config.get_model({}, device="cpu")
    fill_random_(model.diffusion_model, seed=0, device=device)
    _save(model.diffusion_model.state_dict(), path)
    return sum(p.numel() for p in model.diffusion_model.parameters())


def write_controlnet(path: Path, tiny: bool, device: torch.device) -> int:
    import comfy.cldm.cldm
    import comfy.model_detection
    import comfy.ops
    cfg = comfy.model_detection.convert_config(sdxl_unet_config(tiny))
    cfg.pop("out_channels")
    cfg.update(hint_channels=3, dtype=torch.float16, device="cpu", operations=comfy.ops.disable_weight_init)
    net = fill_random_(comfy.cldm.cldm.ControlNet(**cfg), seed=3, device=device)
    _save(net.state_dict(), path)
    return sum(p.numel() for p in net.parameters())


def write_adapter(path: Path, tiny: bool) -> int:
    fixtures = testkit("adapter_fixtures")
    if tiny:
        cs = testkit("comfy_support")
        hidden = [h for *_, h in cs.list_cross_attention_layers(cs.build_tiny_sdxl_model())]
        state = fixtures.adapter_state(hidden, size=TINY_PROJ, seed=5)
    else:  # ip-adapter.bin as published: fp32, resampler 1280 x 4, 70 identity layers
        state = fixtures.adapter_state(fixtures.SDXL_HIDDEN, size=fixtures.REAL, seed=5)
    path.parent.mkdir(parents=True, exist_ok=True)
    fixtures.save_safetensors(state, path)
    return sum(t.numel() for part in state.values() for t in part.values())


def write_all(work: Path, tiny: bool) -> dict:
    """Write the three files; returns their parameter counts and sizes for the JSON."""
    import importlib.util
    import comfy.model_management as mm
    memory = importlib.util.find_spec("comfy.memory_management")  # absent before dynamic VRAM (0.3.x)
    if memory is not None and importlib.import_module("comfy.memory_management").aimdo_enabled:
        # ComfyUI's layers are then created without weights (they wait for a state dict): nothing to fill or save
        raise RuntimeError("build the stand-in weights with dynamic VRAM off (--disable-dynamic-vram); check.py does")
    if tiny:
        testkit("comfy_support").register_tiny_sdxl()
    device = mm.get_torch_device()
    files = paths(work)
    counts = {"diffusion_models": write_unet(files["diffusion_models"], tiny, device),
              "controlnet": write_controlnet(files["controlnet"], tiny, device),
              "instantid": write_adapter(files["instantid"], tiny)}
    return {kind: {"file": path.name, "parameters": counts[kind], "mb": round(path.stat().st_size / 2**20, 1)}
            for kind, path in files.items()}
