"""Benchmark 10: group swap seconds per face vs the single face swap, in one run.

Three faces in one group photo, three identities. Two ways to give every face its identity, both real ComfyUI
prompts on the tiny models of the test suite, in the same process:
  * single  -- the face swap workflow's chain once per face (Face Crop of face i, Apply InstantID + IdentityNet
               with its identity, InpaintModelConditioning, KSampler, VAE Decode, Face Stitch): three queues, the
               way a user swaps faces one at a time;
  * group   -- Group Face Crop (all three faces, one identity per crop), the same Apply / Inpaint / KSampler /
               Decode chain on the batch of three crops, Group Face Stitch: one queue.
Loaders, face detection and the projections are cached by ComfyUI after the first run (their inputs never change);
every timed run has a new seed, so the crop, sampling, decode and stitch run each time. Rounds run both cases in an
order that alternates; reported: the fastest round's seconds per face for each (other processes only add time),
the median over rounds, and their ratio group / single.

    COMFYUI_PATH=/path/to/ComfyUI python benchmarks/bench_group_swap.py [--rounds 5] [--long-side 256] [--steps 2]
"""
import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import _common  # the pack and instantid_testkit importable; comfy_or_skip
from instantid_testkit.prompts import tiny_loaders

SIDE, Y = 128, 160
XS = (32, 256, 448)
SEEDS = (41, 42, 43)
FACES = len(XS)


def write_photos(folder: Path) -> None:
    from PIL import Image
    from instantid_testkit import fixtures_onnx as fx
    for n, seed in enumerate(SEEDS):
        img = np.zeros((640, 640, 3), np.uint8)
        fx.draw_contrast_face(img, 96, Y, SIDE, seed)
        Image.fromarray(img).save(folder / f"bench_person{n}.png")
    img = np.zeros((640, 640, 3), np.uint8)
    for x, seed in zip(XS, SEEDS):
        fx.draw_contrast_face(img, x, Y, SIDE, seed)
    Image.fromarray(img).save(folder / "bench_group.png")


def shared(long_side):
    p = {
        **tiny_loaders("a face"),
        "group": {"class_type": "LoadImage", "inputs": {"image": "bench_group.png"}},
        "det": {"class_type": "InstantIDPrecision_FaceDetect", "inputs": {
            "face_analysis": ["fa", 0], "image": ["group", 0], "selection": "all", "face_index": 0,
            "on_no_face": "error"}},
    }
    for n in range(FACES):
        p[f"img{n}"] = {"class_type": "LoadImage", "inputs": {"image": f"bench_person{n}.png"}}
        p[f"pdet{n}"] = {"class_type": "InstantIDPrecision_FaceDetect", "inputs": {
            "face_analysis": ["fa", 0], "image": [f"img{n}", 0], "selection": "largest", "face_index": 0,
            "on_no_face": "error"}}
        p[f"proj{n}"] = {"class_type": "InstantIDPrecision_ImageProjection", "inputs": {
            "instantid": ["iid", 0], "faces": [f"pdet{n}", 0], "combine": "average", "negative_noise": 0.0, "seed": 0}}
    return p


def generate(p, crop_node, identity, kps, seed, steps, stitch):
    """Apply -> Inpaint -> KSampler -> Decode -> ``stitch`` (a node dict taking generated=['dec', 0])."""
    p.update({
        "apply": {"class_type": "InstantIDPrecision_Apply", "inputs": {
            "model": ["ckpt", 0], "positive": ["pos", 0], "negative": ["neg", 0], "control_net": ["cn", 0],
            "identity": identity, "image_kps": kps, "ip_weight": 0.8, "cn_strength": 0.8, "start_at": 0.0,
            "end_at": 1.0}},
        "inpaint": {"class_type": "InpaintModelConditioning", "inputs": {
            "positive": ["apply", 1], "negative": ["apply", 2], "vae": ["ckpt", 2], "pixels": [crop_node, 0],
            "mask": [crop_node, 1], "noise_mask": True}},
        "ks": {"class_type": "KSampler", "inputs": {"model": ["apply", 0], "positive": ["inpaint", 0],
               "negative": ["inpaint", 1], "latent_image": ["inpaint", 2], "seed": seed, "steps": steps, "cfg": 4.0,
               "sampler_name": "euler", "scheduler": "normal", "denoise": 0.9}},
        "dec": {"class_type": "VAEDecode", "inputs": {"samples": ["ks", 0], "vae": ["ckpt", 2]}},
        "stitch": stitch,
        "out": {"class_type": "PreviewImage", "inputs": {"images": ["stitch", 0]}},
    })
    return p


def crop_widgets(long_side):
    return {"padding": 0.5, "align": True, "long_side": long_side, "mask_grow": 0, "feather": 8, "pad_mode": "edge"}


def single_prompt(face, long_side, seed, steps):
    p = shared(long_side)
    p["crop"] = {"class_type": "InstantIDPrecision_FaceCrop", "inputs": {
        "image": ["group", 0], "faces": ["det", 0], "selection": "index_left_to_right", "face_index": face,
        "on_no_face": "error", **crop_widgets(long_side)}}
    stitch = {"class_type": "InstantIDPrecision_FaceStitch", "inputs": {
        "image": ["group", 0], "generated": ["dec", 0], "crop_info": ["crop", 3], "blend": 1.0,
        "color_match": "off", "color_strength": 0.5}}
    return generate(p, "crop", [f"proj{face}", 0], ["crop", 2], seed, steps, stitch)


def group_prompt(long_side, seed, steps):
    p = shared(long_side)
    p["crop"] = {"class_type": "InstantIDPrecision_GroupFaceCrop", "inputs": {
        "image": ["group", 0], "faces": ["det", 0], "assignment": "left to right", "order": "",
        **crop_widgets(long_side), **{f"identity_{n}": [f"proj{n}", 0] for n in range(FACES)}}}
    stitch = {"class_type": "InstantIDPrecision_GroupFaceStitch", "inputs": {
        "image": ["group", 0], "generated": ["dec", 0], "crop_info": ["crop", 4], "blend": 1.0,
        "color_match": "off", "color_strength": 0.5}}
    return generate(p, "crop", ["crop", 3], ["crop", 2], seed, steps, stitch)


def main():
    parser = argparse.ArgumentParser(description="group swap seconds per face vs the single face swap")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of both cases")
    parser.add_argument("--long-side", type=int, default=256, help="crop size (256 = 32x32 latent)")
    parser.add_argument("--steps", type=int, default=2, help="sampling steps per run")
    ns = parser.parse_args()
    cs = _common.comfy_or_skip("group swap seconds per face vs single face swap")
    if cs is None:
        return
    import comfy.utils
    from instantid_testkit import comfy_env
    comfy.utils.PROGRESS_BAR_ENABLED = False
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU; {FACES} faces, crops "
          f"{ns.long_side}x{ns.long_side}, {ns.steps} steps")
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        env = comfy_env.comfy_env(Path(tmp))
        write_photos(env.tmp / "input")
        seed = 0

        def timed(prompts):
            nonlocal seed
            start = time.perf_counter()
            for make in prompts:
                seed += 1
                cs.run_prompt(make(seed))
            return time.perf_counter() - start

        singles = [lambda s, f=f: single_prompt(f, ns.long_side, s, ns.steps) for f in range(FACES)]
        group = [lambda s: group_prompt(ns.long_side, s, ns.steps)]
        timed(singles)  # warm-up: loads the models, detects and projects once (cached from then on)
        timed(group)
        per_face = {"single": [], "group": []}
        for r in range(ns.rounds):
            order = [("single", singles), ("group", group)]
            for name, prompts in (order if r % 2 == 0 else order[::-1]):
                per_face[name].append(timed(prompts) / FACES)
        best = {k: min(v) for k, v in per_face.items()}
        median = {k: statistics.median(v) for k, v in per_face.items()}
        for k in ("single", "group"):
            print(f"{k:>6}: {best[k]:.3f} s per face (fastest round), median {median[k]:.3f} s; rounds "
                  + ", ".join(f"{v:.3f}" for v in per_face[k]))
        print(f"RESULT group swap seconds per face vs single face swap ({FACES} faces, tiny model, crops "
              f"{ns.long_side}x{ns.long_side}, {ns.steps} steps, CPU): {best['group']:.3f} s vs {best['single']:.3f} s "
              f"= {best['group'] / best['single']:.2f}x (median rounds {median['group'] / median['single']:.2f}x); "
              "target: no more per face than one face at a time")


if __name__ == "__main__":
    main()
