"""Whether the full-size stand-ins are what ComfyUI takes them for, without a GPU and without writing 8 GB: the UNet
and the ControlNet are built on torch's meta device (shapes only) with the same config as stand_in_weights.py, and
their state dicts go through ComfyUI's own model detection. Prints one JSON line; tests/test_gpu_check.py runs it.

    python layout_check.py --comfyui DIR
"""
from __future__ import annotations

import argparse
import json
import sys


def layouts(comfyui: str) -> dict:
    import comfy_boot
    comfy_boot.boot(comfyui, ["--cpu"])
    import torch
    import comfy.cldm.cldm
    import comfy.model_detection
    import comfy.ops
    import comfy.supported_models
    import stand_in_weights

    config = comfy.supported_models.SDXL(stand_in_weights.sdxl_unet_config(tiny=False))
    config.set_inference_dtype(torch.float16, None)
    with torch.device("meta"):
        unet = config.get_model({}, device="meta").diffusion_model.state_dict()
    cfg = comfy.model_detection.convert_config(stand_in_weights.sdxl_unet_config(tiny=False))
    cfg.pop("out_channels")
    cfg.update(hint_channels=3, dtype=torch.float16, device="meta", operations=comfy.ops.disable_weight_init)
    control = comfy.cldm.cldm.ControlNet(**cfg).state_dict()
    # the loaders' own detection: load_diffusion_model for the UNet, load_controlnet's ldm path for the ControlNet
    unet_as = comfy.model_detection.model_config_from_unet(unet, "")
    control_as = comfy.model_detection.model_config_from_unet(control, "", True)
    return {"unet": {"detected_as": type(unet_as).__name__, "parameters": sum(t.numel() for t in unet.values())},
            "controlnet": {"detected_as": type(control_as).__name__,
                           "parameters": sum(t.numel() for t in control.values()),
                           "context_dim": control_as.unet_config.get("context_dim"),
                           "adm_in_channels": control_as.unet_config.get("adm_in_channels"),
                           "hint_channels": control["input_hint_block.0.weight"].shape[1]}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comfyui", required=True)
    ns = parser.parse_args(argv)
    print("LAYOUT " + json.dumps(layouts(ns.comfyui)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
