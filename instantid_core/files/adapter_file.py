"""Reading and validating the InstantID adapter file (ip-adapter.bin or its .safetensors flattening).

Two on-disk forms hold the same tensors:
  .bin          torch pickle of {"image_proj": {...}, "ip_adapter": {...}}
  .safetensors  flat keys "image_proj.<key>" / "ip_adapter.<key>"
Both are loaded without a second in-memory copy (mmap'd pickle, safetensors' mmap loader).
Every check here turns a confusing downstream shape error into a sentence a ComfyUI user can act on.
Loading reads only the file's structure (keys, shapes, dtypes), never the weights: NaN/Inf weights are caught
where they are used (compute.identity checks every projection's tokens and every layer's K/V and then names the
damaged tensor with ``first_non_finite``), so a 1.7 GB file costs nothing until it is used.
"""
from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Dict, Mapping

import torch

from ..compute.instantid_model import AdapterWeights, InstantIDModel
from ..compute.resampler import ResamplerConfig
from ..errors import ADAPTER_DOWNLOAD_HINT, AdapterFormatError
from ..input_checks import first_non_finite, non_finite_weight_error

IP_KEY = re.compile(r"^(\d+)\.to_([kv])_ip\.weight$")


def load_adapter(path) -> AdapterWeights:
    """Read, classify and validate an adapter file; raises AdapterFormatError with the fix."""
    path = Path(path)
    if not path.is_file():
        raise AdapterFormatError(f"InstantID adapter file not found: {path}. {ADAPTER_DOWNLOAD_HINT}")
    raw = _read_tensors(path)
    image_proj, ip_adapter = _split_halves(raw, path)
    config = _check_image_proj(image_proj, path)
    ip_layers = _check_ip_layers(ip_adapter, config.output_dim, path)
    return AdapterWeights(image_proj=image_proj, ip_layers=ip_layers, config=config, path=path)


def load_instantid_model(path) -> InstantIDModel:
    """Load and validate an adapter file into an InstantIDModel on the CPU, in the file's dtype."""
    return InstantIDModel.from_weights(load_adapter(path))


def _read_tensors(path: Path) -> dict:
    if path.stat().st_size == 0:
        raise AdapterFormatError(f"{path.name} is empty (0 bytes): the download did not finish. {ADAPTER_DOWNLOAD_HINT}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".safetensors":
            from safetensors.torch import load_file
            return load_file(str(path), device="cpu")
        if suffix in (".bin", ".pt", ".pth", ".ckpt"):
            return _torch_load(path)
    except AdapterFormatError:
        raise
    except Exception as exc:  # truncated / corrupt archives raise many different types
        raise AdapterFormatError(
            f"{path.name} could not be read ({type(exc).__name__}: {exc}). The file is damaged or only "
            f"partly downloaded; compare its size with the published one (ip-adapter.bin is about 1.7 GB). "
            f"{ADAPTER_DOWNLOAD_HINT}") from exc
    raise AdapterFormatError(f"{path.name}: unsupported file type '{suffix}'. Use the .bin or .safetensors adapter.")


def _torch_load(path: Path) -> dict:
    try:
        try:
            return torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:
            if "mmap" not in str(exc):
                raise
            # legacy (non-zip) pickles cannot be memory-mapped; they are small enough to read plainly
            return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # damaged bytes fail with many types (UnpicklingError, IndexError, EOFError, ...)
        refused = isinstance(exc, pickle.UnpicklingError) and (
            "unsupported global" in str(exc).lower() or _is_whole_pickle(path))
        if refused:  # well-formed, yet not plain tensors
            raise AdapterFormatError(
                f"{path.name} was refused: it is a pickle that contains code or objects other than tensors, "
                f"which this pack never executes. {ADAPTER_DOWNLOAD_HINT} (or use a .safetensors conversion)") from exc
        raise AdapterFormatError(
            f"{path.name} is not a readable torch file: it is damaged or only partly downloaded, or not a model "
            f"at all ({type(exc).__name__}). Compare its size with the published one (ip-adapter.bin is about "
            f"1.7 GB). {ADAPTER_DOWNLOAD_HINT}") from exc


def _is_whole_pickle(path: Path) -> bool:
    """True when the file parses as a complete pickle stream (read, never executed): torch's safe loader
    refused a well-formed file, so it holds objects or code; False for damaged or random bytes."""
    import pickletools
    try:
        with open(path, "rb") as f:
            for _ in pickletools.genops(f):
                pass
        return True
    except Exception:  # any parse failure: not a whole pickle
        return False


def _split_halves(raw: Mapping, path: Path):
    if not isinstance(raw, Mapping):
        raise AdapterFormatError(f"{path.name} holds a {type(raw).__name__}, not a dict of tensors. {ADAPTER_DOWNLOAD_HINT}")
    if "image_proj" in raw and "ip_adapter" in raw:
        return dict(raw["image_proj"]), dict(raw["ip_adapter"])
    flat_proj = {k[len("image_proj."):]: v for k, v in raw.items() if k.startswith("image_proj.")}
    flat_ip = {k[len("ip_adapter."):]: v for k, v in raw.items() if k.startswith("ip_adapter.")}
    if flat_proj and flat_ip and len(flat_proj) + len(flat_ip) == len(raw):
        return flat_proj, flat_ip
    raise AdapterFormatError(f"{path.name} is not an InstantID adapter: {_describe_foreign(raw)}")


def _describe_foreign(raw: Mapping) -> str:
    keys = list(raw.keys())
    text = " ".join(str(k) for k in keys[:4000])
    if "model.diffusion_model." in text or "first_stage_model." in text:
        return ("it is a full Stable Diffusion checkpoint. Put it in ComfyUI/models/checkpoints and load it with "
                f"'Load Checkpoint'. {ADAPTER_DOWNLOAD_HINT}")
    if "controlnet_cond_embedding" in text or "input_hint_block" in text or "controlnet_down_blocks" in text:
        return ("it is a ControlNet (IdentityNet?). Put it in ComfyUI/models/controlnet and load it with "
                f"'Load ControlNet Model'; the adapter is the other file, ip-adapter.bin. {ADAPTER_DOWNLOAD_HINT}")
    if any(str(k).startswith(("image_proj", "ip_adapter")) for k in keys):
        return f"it has only part of the expected 'image_proj' and 'ip_adapter' sections. {ADAPTER_DOWNLOAD_HINT}"
    return (f"expected the sections 'image_proj' and 'ip_adapter', found keys like {keys[:3]}. {ADAPTER_DOWNLOAD_HINT}")


def _expected_image_proj_shapes(c: ResamplerConfig) -> Dict[str, tuple]:
    inner, ff = c.heads * c.dim_head, c.dim * c.ff_mult
    shapes = {"latents": (1, c.num_queries, c.dim), "proj_in.weight": (c.dim, c.embedding_dim),
              "proj_in.bias": (c.dim,), "proj_out.weight": (c.output_dim, c.dim), "proj_out.bias": (c.output_dim,),
              "norm_out.weight": (c.output_dim,), "norm_out.bias": (c.output_dim,)}
    for i in range(c.depth):
        p = f"layers.{i}."
        for norm in ("norm1", "norm2"):
            shapes[p + f"0.{norm}.weight"] = shapes[p + f"0.{norm}.bias"] = (c.dim,)
        shapes.update({p + "0.to_q.weight": (inner, c.dim), p + "0.to_kv.weight": (2 * inner, c.dim),
                       p + "0.to_out.weight": (c.dim, inner), p + "1.0.weight": (c.dim,), p + "1.0.bias": (c.dim,),
                       p + "1.1.weight": (ff, c.dim), p + "1.3.weight": (c.dim, ff)})
    return shapes


def _check_image_proj(sd: Dict[str, torch.Tensor], path: Path) -> ResamplerConfig:
    name = path.name
    if "proj.0.weight" in sd or any(k.startswith("perceiver_resampler") for k in sd):
        raise AdapterFormatError(f"{name} is an IP-Adapter FaceID file, not InstantID. Use it with an IPAdapter "
                                 f"pack; for InstantID: {ADAPTER_DOWNLOAD_HINT}")
    if "proj.weight" in sd and "latents" not in sd:
        raise AdapterFormatError(f"{name} is a plain IP-Adapter (CLIP Vision) file, not InstantID. {ADAPTER_DOWNLOAD_HINT}")
    try:
        config = ResamplerConfig.from_state_dict(sd)
    except (KeyError, ValueError, IndexError) as exc:
        raise AdapterFormatError(f"{name}: the image projection is incomplete or malformed ({exc}). {ADAPTER_DOWNLOAD_HINT}")
    if config.embedding_dim != 512:
        raise AdapterFormatError(
            f"{name} projects {config.embedding_dim}-d embeddings, but InstantID uses the 512-d insightface face "
            f"embedding: this looks like an IP-Adapter Plus (CLIP Vision) file. {ADAPTER_DOWNLOAD_HINT}")
    expected = _expected_image_proj_shapes(config)
    for key, shape in expected.items():
        if key not in sd:
            raise AdapterFormatError(f"{name}: image_proj.{key} is missing (the file is incomplete). {ADAPTER_DOWNLOAD_HINT}")
        if tuple(sd[key].shape) != shape:
            raise AdapterFormatError(f"{name}: image_proj.{key} has shape {tuple(sd[key].shape)}, expected {shape}. "
                                     f"{ADAPTER_DOWNLOAD_HINT}")
    extra = sorted(set(sd) - set(expected))
    if extra:
        raise AdapterFormatError(f"{name}: unexpected image_proj keys {extra[:5]} — not the InstantID layout. "
                                 f"{ADAPTER_DOWNLOAD_HINT}")
    for key, t in sd.items():
        if not t.is_floating_point():
            raise AdapterFormatError(f"{name}: image_proj.{key} is {t.dtype}, expected floating point weights.")
    return config


def _check_ip_layers(sd: Dict[str, torch.Tensor], token_dim: int, path: Path) -> Dict[int, tuple]:
    name = path.name
    if any("lora" in k for k in sd):
        raise AdapterFormatError(f"{name} contains LoRA weights: it is an IP-Adapter FaceID file, not InstantID. "
                                 f"{ADAPTER_DOWNLOAD_HINT}")
    pairs: Dict[int, dict] = {}
    for key, t in sd.items():
        m = IP_KEY.match(key)
        if not m:
            raise AdapterFormatError(f"{name}: unexpected key ip_adapter.{key}; expected only "
                                     f"'<n>.to_k_ip.weight' / '<n>.to_v_ip.weight'. {ADAPTER_DOWNLOAD_HINT}")
        pairs.setdefault(int(m.group(1)), {})[m.group(2)] = t
    if not pairs:
        raise AdapterFormatError(f"{name}: the ip_adapter section is empty. {ADAPTER_DOWNLOAD_HINT}")
    expected_keys = list(range(1, 2 * len(pairs), 2))
    if sorted(pairs) != expected_keys:
        missing = sorted(set(expected_keys) - set(pairs))
        raise AdapterFormatError(f"{name}: identity layers are not numbered 1, 3, 5, … (missing {missing[:5]}, "
                                 f"found {len(pairs)} layers) — the file is incomplete. {ADAPTER_DOWNLOAD_HINT}")
    layers = {}
    for n in expected_keys:
        kv = pairs[n]
        if set(kv) != {"k", "v"}:
            raise AdapterFormatError(f"{name}: layer {n} lacks its to_{'v' if 'k' in kv else 'k'}_ip weight. "
                                     f"{ADAPTER_DOWNLOAD_HINT}")
        k, v = kv["k"], kv["v"]
        for which, t in (("k", k), ("v", v)):
            if not t.is_floating_point():
                raise AdapterFormatError(f"{name}: ip_adapter.{n}.to_{which}_ip.weight is {t.dtype}, expected "
                                         f"floating point weights (fp32, fp16 or bf16). {ADAPTER_DOWNLOAD_HINT}")
        if k.dim() != 2 or k.shape != v.shape or k.shape[1] != token_dim:
            raise AdapterFormatError(f"{name}: layer {n} weights have shapes {tuple(k.shape)} / {tuple(v.shape)}, "
                                     f"expected [hidden, {token_dim}] for both. {ADAPTER_DOWNLOAD_HINT}")
        layers[n] = (k, v)
    return layers


def check_finite(weights: AdapterWeights) -> None:
    """Read every weight once (the doctor's full check; the nodes never pay for it): refuse NaN/Inf, naming it."""
    tensors = {f"image_proj.{k}": v for k, v in weights.image_proj.items()}
    for n, (k, v) in weights.ip_layers.items():
        tensors[f"ip_adapter.{n}.to_k_ip.weight"], tensors[f"ip_adapter.{n}.to_v_ip.weight"] = k, v
    key = first_non_finite(tensors)
    if key is not None:
        raise non_finite_weight_error(weights.path.name, key)
