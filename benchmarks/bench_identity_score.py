"""Benchmark 6: the identity score of a batch of 4 generated images at 1024² on the CPU, and loading a saved identity
instead of analysing the reference photos.

Face models: the tiny SCRFD stand-in from the test fixtures (no real weights exist here) and a recognizer with
glintr100's real architecture and size (IResNet-100, 65 M parameters, 112×112 → 512, random weights, exported to
ONNX like the published file), so the recognizer — the expensive part of scoring — costs what glintr100 costs.
The real SCRFD-10G detector would add its own time per image (about 10 GFLOPs at 640²) to every analysis path.

Measured in one run, medians of ``--repeat`` interleaved runs:
  1. score 4 images with the face analysis already loaded (as the node does when it reuses Face Analysis);
  2. the same with the face analysis loaded again first (what a separate loader would cost each time);
  3. reference from a saved identity (read the .safetensors) vs face analysis of the photos (loaded analyser),
     for 1 and 4 reference photos; the ratio is the identity path's speed-up.

    python benchmarks/bench_identity_score.py [--repeat 3] [--threads 2] [--recognizer cache.onnx]
"""
import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import _common  # noqa: F401
from instantid_testkit import fixtures_onnx as fx
from instantid_testkit.iresnet_onnx import IResNet, make_iresnet_recognizer


def photo(size, seed):
    img = np.zeros((size, size, 3), np.uint8)
    fx.draw_contrast_face(img, 256, 256, 256, seed)  # the detector (det size 512) sees it as a 128-px face
    return img


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def interleaved(a, b, repeat):
    """Median seconds of ``a`` and of ``b``, run alternately (A,B / B,A) so load from other processes hits both."""
    ta, tb = [], []
    for i in range(repeat):
        for fn, out in (((a, ta), (b, tb)) if i % 2 == 0 else ((b, tb), (a, ta))):
            out.append(timed(fn))
    return float(np.median(ta)), float(np.median(tb))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--recognizer", help="reuse this exported recognizer .onnx (written there if missing)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from instantid_core.faces.face_analysis import FaceAnalyzer
    from instantid_core.faces.identity_score import references_from_faces, score_images
    from instantid_core.files.identity_file import load_identity, save_identity

    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        root = Path(tmp)
        folder = root / "models" / "antelopev2"
        fx.make_detector(folder / fx.DET_FILE)
        t = time.perf_counter()
        cached = Path(args.recognizer) if args.recognizer else None
        if cached is not None and cached.is_file():
            import shutil
            shutil.copyfile(cached, folder / fx.REC_FILE)
            params = sum(p.numel() for p in IResNet().parameters())
        else:
            params = make_iresnet_recognizer(folder / fx.REC_FILE)
            if cached is not None:
                import shutil
                shutil.copyfile(folder / fx.REC_FILE, cached)
        size_mb = (folder / fx.REC_FILE).stat().st_size / 1e6
        print(f"recognizer: IResNet-100, {params / 1e6:.1f} M parameters, {size_mb:.0f} MB ONNX "
              f"(glintr100.onnx: 260.7 MB), exported in {time.perf_counter() - t:.1f} s")
        load = lambda: FaceAnalyzer.load(root, "CPU", det_sizes=[512])  # noqa: E731
        analyzer = load()
        gen = [photo(1024, 30 + i) for i in range(4)]
        refs_photos = [photo(1024, 11 + i) for i in range(4)]
        refs = references_from_faces([analyzer.analyze(refs_photos[0])])
        found = [analyzer.analyze(g) for g in gen]
        assert all(f.faces for f in found), "the benchmark faces must be detected"
        emb_norm = float(np.linalg.norm(found[0].faces[0].embedding))
        print(f"embedding: {found[0].faces[0].embedding.shape[0]} numbers, raw norm {emb_norm:.1f}")

        def score(a):
            score_images(refs, [a.analyze(g) for g in gen])

        reused, fresh = interleaved(lambda: score(analyzer), lambda: score(load()), args.repeat)
        print(f"score 4 images at 1024²: reused face analysis {reused:.3f} s ({reused / 4:.3f} s/image); "
              f"loading it first {fresh:.3f} s (medians of {args.repeat}, interleaved)")

        lines = []
        for n in (1, 4):
            faces = [analyzer.analyze(p) for p in refs_photos[:n]]
            path = save_identity(root / "ids", f"p{n}", faces)
            from_file, from_photos = interleaved(
                lambda: references_from_faces(load_identity(path).images),
                lambda: references_from_faces([analyzer.analyze(p) for p in refs_photos[:n]]), args.repeat)
            lines.append((n, from_file, from_photos, path.stat().st_size))
            print(f"reference of {n} photo(s): saved identity {from_file * 1e3:.2f} ms ({path.stat().st_size} B), "
                  f"face analysis of the photos {from_photos:.3f} s: {from_photos / from_file:.0f}x")
        print(f"RESULT identity score of 4 images at 1024² (CPU, {args.threads} threads): {reused:.2f} s with a "
              f"reused face analysis, {fresh:.2f} s loading it first ({fresh / reused:.2f}x); saved identity vs "
              f"face analysis of the photos: {lines[0][2] / lines[0][1]:.0f}x faster (1 photo), "
              f"{lines[1][2] / lines[1][1]:.0f}x (4 photos)")


if __name__ == "__main__":
    main()
