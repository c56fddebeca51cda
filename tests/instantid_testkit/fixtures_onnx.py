"""Tiny deterministic ONNX stand-ins for antelopev2, built with onnx.helper.

They are shaped so insightface's model_zoo routes them exactly like the real
files, so the real SCRFD / ArcFaceONNX code (letterbox, anchor decoding, NMS,
alignment, preprocessing) runs in tests.

Detector ("SCRFD", 9 outputs = 3 strides x (score, bbox, kps), 2 anchors):
a "face" is a bright, textured square on a dark canvas whose side is 4*stride
pixels (32, 64 or 128 in detector-input pixels) and whose centre lies on a
multiple of that stride.  Per stride the score is a centre-surround contrast
``clip(inner - 2*ring, 0, 1)`` of the mean brightness (inner = 4s x 4s window
centred on the anchor, ring = the 8s x 8s window around it minus the inner),
so an isolated face scores its mean brightness and flat areas/bigger or smaller
squares score ~0.  Boxes are the anchor +- 2*stride, keypoints a fixed template.

Recognizer ("ArcFace", 1x3x112x112 -> 1x512): a fixed random projection of the
4x4 average-pooled normalised crop; raw (non-unit) norm.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

DET_FILE = "scrfd_10g_bnkps.onnx"
REC_FILE = "glintr100.onnx"
STRIDES = (8, 16, 32)
FACE_SIDES = tuple(4 * s for s in STRIDES)  # 32, 64, 128 detector-input pixels
# keypoints (le, re, nose, lm, rm) relative to the box centre, in half-box units
KPS_TEMPLATE = np.array([[-0.35, -0.2], [0.35, -0.2], [0.0, 0.1], [-0.25, 0.4], [0.25, 0.4]], np.float32)
_OPSET = [helper.make_opsetid("", 13)]
_IR_VERSION = 8  # readable by any onnxruntime >= 1.10


def _const(name, array):
    return numpy_helper.from_array(np.asarray(array, np.float32), name)


def _save(graph, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=_OPSET, producer_name="instantid-tests")
    model.ir_version = _IR_VERSION
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def make_detector(path: Path) -> Path:
    n = helper.make_node
    nodes, inits = [], []
    # blob = (rgb - 127.5) / 128  ->  brightness = mean_c(rgb) / 255 in [0, 1]
    inits += [_const("bw", np.full((1, 3, 1, 1), 128.0 / (3 * 255.0))), _const("bb", [127.5 / 255.0]),
              _const("zero", 0.0), _const("one", 1.0), _const("k_in", 5.0 / 3.0), _const("k_out", 8.0 / 3.0),
              _const("box", np.full((1, 4), 2.0)), _const("kps", (KPS_TEMPLATE * 2.0).reshape(1, 10)),
              numpy_helper.from_array(np.array([-1, 1], np.int64), "col")]
    nodes.append(n("Conv", ["input.1", "bw", "bb"], ["bright"], name="brightness"))
    prev, outs = "bright", {"score": [], "bbox": [], "kps": []}
    for i, s in enumerate(STRIDES):
        k = s if i == 0 else 2  # cell means at stride s, chained 8 -> 16 -> 32
        nodes.append(n("AveragePool", [prev], [f"cell{s}"], kernel_shape=[k, k], strides=[k, k]))
        prev = f"cell{s}"
        # inner: cells j-2..j+1 (pixels [s(j-2), s(j+2))); outer: cells j-4..j+3; pads count as dark
        nodes.append(n("AveragePool", [prev], [f"in{s}"], kernel_shape=[4, 4], pads=[2, 2, 1, 1], count_include_pad=1))
        nodes.append(n("AveragePool", [prev], [f"out{s}"], kernel_shape=[8, 8], pads=[4, 4, 3, 3], count_include_pad=1))
        # inner - 2*ring == 5/3*inner - 8/3*outer  (ring = (64*outer - 16*inner) / 48)
        nodes += [n("Mul", [f"in{s}", "k_in"], [f"a{s}"]), n("Mul", [f"out{s}", "k_out"], [f"b{s}"]),
                  n("Sub", [f"a{s}", f"b{s}"], [f"c{s}"]), n("Clip", [f"c{s}", "zero", "one"], [f"m{s}"]),
                  n("Reshape", [f"m{s}", "col"], [f"s1_{s}"]),  # row-major (y, x) like SCRFD's anchors
                  n("Mul", [f"s1_{s}", "zero"], [f"z{s}"]),
                  # two anchors per location: the second never fires
                  n("Concat", [f"s1_{s}", f"z{s}"], [f"s2_{s}"], axis=1),
                  n("Reshape", [f"s2_{s}", "col"], [f"score_{s}"]),
                  n("Mul", [f"score_{s}", "zero"], [f"zz{s}"]),
                  n("Add", [f"zz{s}", "box"], [f"bbox_{s}"]),  # distances in stride units
                  n("Add", [f"zz{s}", "kps"], [f"kps_{s}"])]
        for key, width in (("score", 1), ("bbox", 4), ("kps", 10)):
            outs[key].append(helper.make_tensor_value_info(f"{key}_{s}", TensorProto.FLOAT, [f"n{s}", width]))
    graph = helper.make_graph(
        nodes, "tiny_scrfd",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, "height", "width"])],
        outs["score"] + outs["bbox"] + outs["kps"], inits)
    return _save(graph, Path(path))


def recognizer_weights(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((48, 512)).astype(np.float32)


def make_recognizer(path: Path, *, seed: int = 0, nan: bool = False) -> Path:
    w = recognizer_weights(seed)
    if nan:
        w[:, 7] = np.nan  # one NaN output dimension, like a broken fp16 export
    n = helper.make_node
    # node names avoid 'Sub'/'Mul' so ArcFaceONNX picks mean=std=127.5 preprocessing
    nodes = [n("AveragePool", ["data"], ["pooled"], kernel_shape=[28, 28], strides=[28, 28], name="pool"),
             n("Flatten", ["pooled"], ["flat"], axis=1, name="flatten"),
             n("MatMul", ["flat", "w"], ["fc1"], name="fc")]
    graph = helper.make_graph(
        nodes, "tiny_arcface",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, ["N", 3, 112, 112])],
        [helper.make_tensor_value_info("fc1", TensorProto.FLOAT, ["N", 512])], [_const("w", w)])
    return _save(graph, Path(path))


def make_antelope_pack(root: Path, *, nan_embedding: bool = False) -> Path:
    """Write ``<root>/models/antelopev2/{scrfd_10g_bnkps,glintr100}.onnx``; return the folder."""
    folder = Path(root) / "models" / "antelopev2"
    make_detector(folder / DET_FILE)
    make_recognizer(folder / REC_FILE, nan=nan_embedding)
    return folder


# --- test images -------------------------------------------------------------

def draw_face(canvas: np.ndarray, x: int, y: int, side: int, seed: int) -> None:
    """Paint a bright 4x4-block colour texture (values 160..255) at [x, x+side) x [y, y+side)."""
    blocks = np.random.default_rng(seed).integers(160, 256, size=(4, 4, 3), dtype=np.uint8)
    canvas[y:y + side, x:x + side] = np.kron(blocks, np.ones((side // 4, side // 4, 1), np.uint8))


def draw_contrast_face(canvas: np.ndarray, x: int, y: int, side: int, seed: int, symmetric: bool = False,
                       low: int = 40, asymmetry: int = 0) -> None:
    """A face the tiny recognizer can tell apart from others: blocks 40..255 instead of 160..255.

    What the tiny recognizer distinguishes: it is linear in the 4x4 colour grid of the aligned 112x112 crop, so
    two faces differ only as much as their block colours do. draw_face's all-bright blocks share a large common
    part and any two of them score ~0.9 against each other; with blocks from 40 (still bright enough on average
    for the detector) two different faces score about -0.1..0.45. It has no learned invariance: a mirrored face
    is a different grid, so ``symmetric`` mirrors the block columns like a face's halves (a flipped symmetric
    face is the same face) and ``asymmetry`` adds up to that much per-block difference between the halves."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(low, 256, size=(4, 4, 3)).astype(np.int32)
    if symmetric:
        blocks[:, 2:] = blocks[:, 1::-1]
        blocks += rng.integers(-asymmetry, asymmetry + 1, size=blocks.shape)
    blocks = np.clip(blocks, 0, 255).astype(np.uint8)
    canvas[y:y + side, x:x + side] = np.kron(blocks, np.ones((side // 4, side // 4, 1), np.uint8))


def face_brightness(canvas: np.ndarray, x: int, y: int, side: int) -> float:
    return float(canvas[y:y + side, x:x + side].mean() / 255.0)


def expected_kps(x: float, y: float, side: float) -> np.ndarray:
    half = side / 2.0
    return np.array([x + half, y + half], np.float32) + KPS_TEMPLATE * half
