"""API-format prompts for the tests: the full InstantID chain on the tiny models."""
from __future__ import annotations


def tiny_loaders(text: str) -> dict:
    """The loaders every several-people prompt starts from: the tiny checkpoint, its prompt and negative, face
    analysis, the adapter and IdentityNet (node ids ckpt, pos, neg, fa, iid, cn)."""
    return {
        "ckpt": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "tiny_sdxl.safetensors"}},
        "pos": {"class_type": "CLIPTextEncode", "inputs": {"text": text, "clip": ["ckpt", 1]}},
        "neg": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["ckpt", 1]}},
        "fa": {"class_type": "InstantIDPrecision_FaceAnalysisLoader", "inputs": {"provider": "CPU", "det_size": "640"}},
        "iid": {"class_type": "InstantIDPrecision_ModelLoader", "inputs": {"instantid_file": "ip-adapter.safetensors"}},
        "cn": {"class_type": "ControlNetLoader", "inputs": {"control_net_name": "tiny_identitynet.safetensors"}},
    }


def full_chain(ip_weight=0.8, cn_strength=0.8, seed=1, steps=2, size=64, image="face.png", adapter="ip-adapter.safetensors",
               precision=None, apply="InstantIDPrecision_Apply", save=True):
    p = {
        "ckpt": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "tiny_sdxl.safetensors"}},
        "pos": {"class_type": "CLIPTextEncode", "inputs": {"text": "a photo of a person", "clip": ["ckpt", 1]}},
        "neg": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["ckpt", 1]}},
        "img": {"class_type": "LoadImage", "inputs": {"image": image}},
        "fa": {"class_type": "InstantIDPrecision_FaceAnalysisLoader", "inputs": {"provider": "CPU", "det_size": "640"}},
        "det": {"class_type": "InstantIDPrecision_FaceDetect", "inputs": {"face_analysis": ["fa", 0], "image": ["img", 0],
                "selection": "largest", "face_index": 0, "on_no_face": "error"}},
        "iid": {"class_type": "InstantIDPrecision_ModelLoader", "inputs": {"instantid_file": adapter}},
        "proj": {"class_type": "InstantIDPrecision_ImageProjection", "inputs": {"instantid": ["iid", 0], "faces": ["det", 0],
                 "combine": "average", "negative_noise": 0.0, "seed": 0}},
        "cn": {"class_type": "ControlNetLoader", "inputs": {"control_net_name": "tiny_identitynet.safetensors"}},
        "lat": {"class_type": "EmptyLatentImage", "inputs": {"width": size, "height": size, "batch_size": 1}},
        "apply": {"class_type": apply, "inputs": {"model": ["ckpt", 0], "positive": ["pos", 0],
                  "negative": ["neg", 0], "control_net": ["cn", 0], "identity": ["proj", 0], "ip_weight": ip_weight,
                  "cn_strength": cn_strength, "start_at": 0.0, "end_at": 1.0, "latent": ["lat", 0]}},
        "ks": {"class_type": "KSampler", "inputs": {"model": ["apply", 0], "positive": ["apply", 1],
               "negative": ["apply", 2], "latent_image": ["lat", 0], "seed": seed, "steps": steps, "cfg": 4.0,
               "sampler_name": "euler", "scheduler": "normal", "denoise": 1.0}},
        "dec": {"class_type": "VAEDecode", "inputs": {"samples": ["ks", 0], "vae": ["ckpt", 2]}},
    }
    if precision is not None:
        p["prec"] = {"class_type": "InstantIDPrecision_PrecisionOffload", "inputs": {"instantid": ["iid", 0],
                     "mode": precision[0], "half_type": precision[1]}}
        p["proj"]["inputs"]["instantid"] = ["prec", 0]
    if save:
        p["save"] = {"class_type": "PreviewImage", "inputs": {"images": ["dec", 0]}}
    return p


def all_in_one_chain(keep_detect=False, **kwargs):
    """full_chain with the all-in-one node in place of detect + projection + apply (face analysis and the
    projection happen inside it); ``keep_detect`` keeps the Face Detect node for other uses of its faces."""
    p = full_chain(apply="InstantIDPrecision_ApplyAllInOne", **kwargs)
    p["apply"]["inputs"].pop("identity")
    p["apply"]["inputs"].update({"face_analysis": ["fa", 0], "instantid": ["iid", 0], "image": ["img", 0]})
    p.pop("proj")
    if not keep_detect:
        p.pop("det")
    return p
