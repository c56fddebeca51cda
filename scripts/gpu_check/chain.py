"""One InstantID run through the pack's own node functions and ComfyUI's own objects (no prompt executor):
adapter loader node -> Precision/Offload node -> the projection node's build_identity -> apply_both (identity
attention + IdentityNet) -> ComfyUI's KSampler function. Records where each part really ran."""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

import torch

HALF_TYPE = {"float16": "fp16", "bfloat16": "bf16"}  # the precision node's half_type for a UNet dtype
IP_WEIGHT = CN_STRENGTH = 0.8                         # the published defaults


def dtype_name(dtype) -> str:
    return str(dtype).replace("torch.", "")


def placement(device, dtype) -> dict:
    return {"device": torch.device(device).type, "dtype": dtype_name(dtype)}


@dataclass
class Models:
    """What a user's graph would hold: the UNet (per dtype), IdentityNet, the adapter handle, conditioning."""
    pack: object          # pack("nodes.apply_nodes") -> module
    unets: dict           # "float16" / "bfloat16" -> ModelPatcher from comfy.sd.load_diffusion_model
    control_net: object   # from comfy.controlnet.load_controlnet
    instantid: object     # InstantIDHandle from the pack's loader node
    faces: object         # FacesResult with one stand-in face (face analysis is not what this checks)
    positive: list
    negative: list


def stand_in_faces(pack, seed: int = 7):
    """One face with a random 512-d raw embedding (norm ~22, like ArcFace's) and plausible keypoints."""
    import numpy as np
    face_analysis = pack("instantid_core.faces.face_analysis")
    gen = np.random.default_rng(seed)
    kps = np.array([[240, 260], [400, 260], [320, 340], [260, 420], [380, 420]], np.float32)
    face = face_analysis.Face(bbox=np.array([160, 160, 480, 520], np.float32), kps=kps, det_score=0.99,
                              embedding=gen.standard_normal(512).astype(np.float32))
    images = [face_analysis.ImageFaces(image_size=(640, 640), faces=(face,), det_size=(640, 640))]
    return pack("nodes.values").FacesResult(images=images)


def keypoint_image(size: int) -> torch.Tensor:
    """A stand-in keypoint image [1, H, W, 3] (five coloured dots): IdentityNet only needs the hint's shape here."""
    img = torch.zeros(1, size, size, 3)
    r = max(1, size // 64)
    for i, (x, y) in enumerate(((0.38, 0.4), (0.62, 0.4), (0.5, 0.53), (0.41, 0.66), (0.59, 0.66))):
        cx, cy = int(x * size), int(y * size)
        img[0, cy - r:cy + r, cx - r:cx + r, i % 3] = 1.0
    return img


def conditioning(seed: int = 0):
    """SDXL-shaped text conditioning (77 tokens x 2048, pooled 1280) without a text encoder."""
    gen = torch.Generator().manual_seed(seed)
    def one():
        return [[torch.randn(1, 77, 2048, generator=gen), {"pooled_output": torch.randn(1, 1280, generator=gen)}]]
    return one(), one()


def load_models(pack, files: dict, unet_dtypes, tiny: bool) -> Models:
    import comfy.controlnet
    import comfy.sd
    import folder_paths
    if tiny:
        from testkit import testkit
        testkit("comfy_support").register_tiny_sdxl()
    unets = {name: comfy.sd.load_diffusion_model(str(files["diffusion_models"]),
                                                 model_options={"dtype": getattr(torch, name)})
             for name in unet_dtypes}
    control_net = comfy.controlnet.load_controlnet(str(files["controlnet"]))
    folder_paths.add_model_folder_path("instantid", str(files["instantid"].parent), is_default=True)
    loader = pack("nodes.model_nodes").InstantIDModelLoader()
    instantid = loader.load(files["instantid"].name)[0]
    positive, negative = conditioning()
    return Models(pack, unets, control_net, instantid, stand_in_faces(pack), positive, negative)


class Observer:
    """Forward hooks on the resampler's layers (they fire under functional_call too) and a wrapper around the
    attention patch: the device/dtype the projection and the identity attention really computed in."""

    def __init__(self, pack):
        self.projection = set()
        self.attention_q = set()
        patch_cls = pack("nodes.attention_patch").IdentityAttentionPatch
        original = patch_cls.with_identity
        observer = self

        def with_identity(patch, out, q, extra_options):
            observer.attention_q.add((q.device.type, dtype_name(q.dtype)))
            return original(patch, out, q, extra_options)

        if not getattr(original, "_gpu_check", False):
            with_identity._gpu_check = True
            patch_cls.with_identity = with_identity

    @contextlib.contextmanager
    def projection_hooks(self, handle):
        def hook(module, inputs, output):
            self.projection.add((inputs[0].device.type, dtype_name(inputs[0].dtype), dtype_name(module.weight.dtype)))
        handles = [m.register_forward_hook(hook) for m in handle.model.image_proj.modules()
                   if isinstance(m, torch.nn.Linear)]
        try:
            yield
        finally:
            for h in handles:
                h.remove()

    def reset(self):
        self.projection.clear()
        self.attention_q.clear()


def one_placement(seen: set):
    """{device, dtype} when every call agreed; the list of what was seen otherwise (the JSON shows both)."""
    if len(seen) == 1:
        device, dtype = next(iter(seen))[:2]
        return {"device": device, "dtype": dtype}
    return None if not seen else {"device": "mixed", "dtype": "mixed", "seen": sorted(map(list, seen))}


def configured(models: Models, mode: str, unet_dtype: str):
    """The Precision/Offload node's output for this mode, half type matching the UNet."""
    node = models.pack("nodes.model_nodes").InstantIDPrecisionOffload()
    return node.configure(models.instantid, mode, HALF_TYPE[unet_dtype])["result"][0]


def build_identity(models: Models, handle, observer: Observer):
    with observer.projection_hooks(handle):
        return models.pack("nodes.projection_node").build_identity(handle, models.faces, "average")


def apply(models: Models, unet, identity, size: int, identitynet: bool = True):
    """The patched clone and conditioning, as 'Apply InstantID + IdentityNet' makes them (or identity attention
    alone, as 'Apply InstantID Attention')."""
    apply_nodes = models.pack("nodes.apply_nodes")
    if not identitynet:
        return apply_nodes.InstantIDApplyAttention().apply(unet, identity, IP_WEIGHT, 0.0, 1.0)[0], \
            models.positive, models.negative
    return apply_nodes.apply_both(unet, models.positive, models.negative, models.control_net, identity, IP_WEIGHT,
                                  CN_STRENGTH, 0.0, 1.0, image_kps=keypoint_image(size))


def sample(model, positive, negative, size: int, steps: int, seed: int = 21, callback=None) -> torch.Tensor:
    """ComfyUI's KSampler node function (euler, normal, cfg 4); returns the latent on the CPU."""
    import comfy.sample
    import comfy.utils
    import nodes
    latent = {"samples": torch.zeros(1, 4, size // 8, size // 8)}
    if callback is None:
        out = nodes.common_ksampler(model, seed, steps, 4.0, "euler", "normal", positive, negative, latent)
        return out[0]["samples"].float().cpu()
    # the node's own call, with a per-step callback (the node builds its preview callback there)
    noise = comfy.sample.prepare_noise(latent["samples"], seed)
    out = comfy.sample.sample(model, noise, steps, 4.0, "euler", "normal", positive, negative, latent["samples"],
                              callback=callback, disable_pbar=True, seed=seed)
    return out.float().cpu()


def timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t
