"""End to end through insightface's real SCRFD/ArcFaceONNX code on tiny ONNX stand-ins."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

try:
    from . import fixtures_onnx as F
except ImportError:  # tests/ is not a package
    from instantid_testkit import fixtures_onnx as F

from instantid_core.faces.antelope_files import AntelopeFilesError
from instantid_core.errors import InstantIDError
from instantid_core.faces.face_analysis import (
    CPU,
    FaceAnalysisError,
    FaceAnalyzer,
    ImageFaces,
    resolve_providers,
    select_face,
)

# (x, y, side, seed): left-to-right order (32, 128, 64) differs from size order (128, 64, 32)
LAYOUT = [(32, 96, 32, 1), (256, 64, 128, 2), (512, 96, 64, 3)]


def canvas(h=640, w=640, faces=LAYOUT):
    img = np.zeros((h, w, 3), np.uint8)
    for x, y, side, seed in faces:
        F.draw_face(img, x, y, side, seed)
    return img


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("insightface")
    F.make_antelope_pack(root)
    return root


@pytest.fixture(scope="module")
def analyzer(root):
    return FaceAnalyzer.load(root, "CPU")


def spy_detect(monkeypatch, analyzer):
    calls = []
    original = analyzer.det_model.detect

    def detect(img, *args, **kwargs):
        calls.append(kwargs.get("input_size"))
        return original(img, *args, **kwargs)

    monkeypatch.setattr(analyzer.det_model, "detect", detect)
    return calls


def det_state(det):
    return (det.input_size, list(det.input_sizes), det.det_thresh, det.nms_thresh)


# --- providers and loading ----------------------------------------------------

@pytest.mark.parametrize("choice, available, expected", [
    ("auto", ["CUDAExecutionProvider", CPU], ["CUDAExecutionProvider", CPU]),
    ("auto", ["AzureExecutionProvider", CPU], [CPU]),
    ("CUDA", [CPU], [CPU]),
    ("cpu", ["CUDAExecutionProvider", CPU], [CPU]),
    ("ROCM", ["MIGraphXExecutionProvider", CPU], ["MIGraphXExecutionProvider", CPU]),
    ("DirectML", ["DmlExecutionProvider", CPU], ["DmlExecutionProvider", CPU]),
    ("CoreML", ["CoreMLExecutionProvider", CPU], ["CoreMLExecutionProvider", CPU]),
    ("OpenVINO", ["OpenVINOExecutionProvider", CPU], ["OpenVINOExecutionProvider", CPU]),
])
def test_resolve_providers(choice, available, expected):
    assert resolve_providers(choice, available) == expected


def test_resolve_providers_rejects_unknown():
    with pytest.raises(ValueError, match="auto, CPU, CUDA"):
        resolve_providers("TPU", [CPU])


def test_loads_through_insightface_and_reports_providers(root):
    from insightface.model_zoo.arcface_onnx import ArcFaceONNX
    from insightface.model_zoo.scrfd import SCRFD

    a = FaceAnalyzer.load(root, "auto")
    assert isinstance(a.det_model, SCRFD) and isinstance(a.rec_model, ArcFaceONNX)
    assert a.requested_providers[-1] == CPU
    assert CPU in a.providers["detection"] and CPU in a.providers["recognition"]


def test_missing_pack_raises_with_paths(tmp_path):
    with pytest.raises(AntelopeFilesError, match=str(tmp_path / "models" / "antelopev2" / "glintr100.onnx")):
        FaceAnalyzer.load(tmp_path)


def test_corrupt_and_wrong_files_raise_clearly(tmp_path):
    folder = F.make_antelope_pack(tmp_path)
    (folder / F.REC_FILE).write_bytes(b"not an onnx file")
    with pytest.raises(AntelopeFilesError, match="could not load .*glintr100.onnx(.|\n)*16 bytes"):
        FaceAnalyzer.load(tmp_path, "CPU")
    F.make_recognizer(folder / F.DET_FILE)  # a recognizer under the detector's name
    with pytest.raises(AntelopeFilesError, match="not a face detection model"):
        FaceAnalyzer.load(tmp_path, "CPU")


def test_det_sizes_validation(analyzer):
    FaceAnalyzer(analyzer.det_model, analyzer.rec_model, det_sizes=[640])
    with pytest.raises(ValueError, match="1 to 3"):
        FaceAnalyzer(analyzer.det_model, analyzer.rec_model, det_sizes=[640, 512, 384, 320])
    with pytest.raises(ValueError, match="multiples of 32"):
        FaceAnalyzer(analyzer.det_model, analyzer.rec_model, det_sizes=[(640, 500)])


def test_import_is_lazy():
    code = ("import sys, instantid_core.faces.face_analysis, instantid_core.faces.antelope_files;"
            "print([m for m in ('insightface', 'onnxruntime', 'cv2') if m in sys.modules])")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- detection and embedding --------------------------------------------------

def test_known_boxes_kps_scores(analyzer):
    img = canvas()
    res = analyzer.analyze(img)
    assert res.image_size == (640, 640) and res.det_size == (640, 640) and len(res) == 3
    by_x = sorted(res.faces, key=lambda f: f.bbox[0])
    for face, (x, y, side, _) in zip(by_x, LAYOUT):
        assert face.bbox.dtype == np.float32 and face.bbox.shape == (4,)
        assert face.kps.dtype == np.float32 and face.kps.shape == (5, 2)
        np.testing.assert_allclose(face.bbox, [x, y, x + side, y + side], atol=0.5)
        np.testing.assert_allclose(face.kps, F.expected_kps(x, y, side), atol=0.5)
        assert face.det_score == pytest.approx(F.face_brightness(img, x, y, side), abs=0.01)
        assert face.embedding.shape == (512,) and face.embedding.dtype == np.float32


def test_coordinates_are_in_source_pixels(analyzer):
    img = canvas(960, 1280, [(256, 128, 256, 7)])  # detector sees it at scale 0.5
    (face,) = analyzer.analyze(img).faces
    np.testing.assert_allclose(face.bbox, [256, 128, 512, 384], atol=1)
    np.testing.assert_allclose(face.kps, F.expected_kps(256, 128, 256), atol=1)


def test_embedding_is_raw_recognizer_output_on_insightface_crop(analyzer, root):
    import onnxruntime
    from insightface.utils.face_align import norm_crop

    img = canvas()
    res = analyzer.analyze(img)
    sess = onnxruntime.InferenceSession(str(root / "models/antelopev2" / F.REC_FILE), providers=[CPU])
    for face in res.faces:
        crop = norm_crop(img, face.kps, 112).astype(np.float32)  # RGB crop: the model's own input order
        blob = ((crop - 127.5) / 127.5).transpose(2, 0, 1)[None]
        expected = sess.run(None, {"data": blob})[0][0]
        np.testing.assert_allclose(face.embedding, expected, rtol=1e-5, atol=1e-4)
        assert abs(face.embedding_norm - 1.0) > 0.5  # raw, not L2-normalised
    e = [f.embedding / f.embedding_norm for f in res.faces]
    assert max(abs(float(e[i] @ e[j])) for i in range(3) for j in range(i + 1, 3)) < 0.99
    again = analyzer.analyze(img)
    for a, b in zip(res.faces, again.faces):
        np.testing.assert_array_equal(a.embedding, b.embedding)


def test_results_are_read_only(analyzer):
    face = analyzer.analyze(canvas()).faces[0]
    for arr in (face.bbox, face.kps, face.embedding):
        with pytest.raises(ValueError):
            arr[0] = 0


@pytest.mark.parametrize("value", [0, 255])
def test_no_face_is_empty_result(analyzer, value):
    res = analyzer.analyze(np.full((480, 640, 3), value, np.uint8))
    assert res == ImageFaces((640, 480), (), None) and len(res) == 0


# --- detection-size fallback --------------------------------------------------

def test_det_size_fallback_finds_big_face_without_leaking_state(analyzer, monkeypatch):
    img = canvas(faces=[(128, 128, 256, 4)])  # too big for the 640 and 512 passes, fits at 320
    before = det_state(analyzer.det_model)
    calls = spy_detect(monkeypatch, analyzer)
    res = analyzer.analyze(img)
    assert calls == [(640, 640), (512, 512), (320, 320)]
    assert res.det_size == (320, 320)
    np.testing.assert_allclose(res.faces[0].bbox, [128, 128, 384, 384], atol=1)
    assert det_state(analyzer.det_model) == before
    calls.clear()
    assert analyzer.analyze(canvas()).det_size == (640, 640) and calls == [(640, 640)]
    assert det_state(analyzer.det_model) == before


def test_blank_image_tries_at_most_three_sizes(analyzer, monkeypatch):
    calls = spy_detect(monkeypatch, analyzer)
    assert len(analyzer.analyze(np.zeros((300, 300, 3), np.uint8))) == 0
    assert len(calls) == 3


# --- input hygiene --------------------------------------------------------------

def test_grayscale_equals_replicated_rgb(analyzer):
    gray = canvas()[:, :, 1]
    ref = analyzer.analyze(np.repeat(gray[:, :, None], 3, axis=2))
    assert len(ref) == 3
    for variant in (gray, gray[:, :, None]):
        res = analyzer.analyze(variant)
        for a, b in zip(res.faces, ref.faces):
            np.testing.assert_array_equal(a.bbox, b.bbox)
            np.testing.assert_array_equal(a.embedding, b.embedding)


def test_rgba_and_float_inputs(analyzer):
    img = canvas()
    ref = analyzer.analyze(img)
    alpha = np.random.default_rng(0).integers(0, 256, img.shape[:2] + (1,), dtype=np.uint8)
    for variant in (np.concatenate([img, alpha], axis=2), img.astype(np.float32) / 255.0):
        res = analyzer.analyze(variant)
        assert len(res) == 3
        for a, b in zip(res.faces, ref.faces):
            np.testing.assert_allclose(a.bbox, b.bbox)
            np.testing.assert_allclose(a.embedding, b.embedding, rtol=1e-6)


@pytest.mark.parametrize("shape", [(1, 1, 3), (1, 1), (8, 8, 4), (15, 400, 3), (0, 0, 3)])
def test_tiny_images_give_no_face(analyzer, shape):
    res = analyzer.analyze(np.full(shape, 255, np.uint8))
    assert len(res) == 0 and res.image_size == (shape[1], shape[0])


def test_extreme_aspect_ratio(analyzer, monkeypatch):
    calls = spy_detect(monkeypatch, analyzer)
    assert len(analyzer.analyze(np.zeros((20, 20000, 3), np.uint8))) == 0  # would resize to 0 px: skipped
    assert calls == []
    wide = canvas(160, 2560, [(1024, 32, 128, 5)])  # 16:1, detector sees a 32 px face
    (face,) = analyzer.analyze(wide).faces
    np.testing.assert_allclose(face.bbox, [1024, 32, 1152, 160], atol=1)


def test_bad_shapes_raise(analyzer):
    with pytest.raises(ValueError, match="HxW"):
        analyzer.analyze(np.zeros((4, 4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="HxW"):
        analyzer.analyze(np.zeros((64, 64, 5), np.uint8))


def test_batch_is_independent(analyzer):
    one = canvas(faces=[(256, 64, 128, 9)])
    results = analyzer.analyze_batch([canvas(), np.zeros((640, 640, 3), np.uint8), one])
    assert [len(r) for r in results] == [3, 0, 1]
    stacked = np.stack([canvas(), np.zeros((640, 640, 3), np.uint8), one]).astype(np.float32) / 255.0
    assert [len(r) for r in analyzer.analyze_batch(stacked)] == [3, 0, 1]  # ComfyUI-style BxHxWxC float
    with pytest.raises(ValueError, match="BxHxWxC"):
        analyzer.analyze_batch(canvas())


def test_nan_embedding_raises(tmp_path):
    F.make_antelope_pack(tmp_path, nan_embedding=True)
    a = FaceAnalyzer.load(tmp_path, "CPU")
    with pytest.raises(FaceAnalysisError, match="non-finite") as exc:
        a.analyze(canvas())
    assert isinstance(exc.value, InstantIDError) and isinstance(exc.value, ValueError)
    assert len(a.analyze(np.zeros((64, 64, 3), np.uint8))) == 0  # no face: recognizer never runs


def test_real_photo_does_not_crash(analyzer):
    import cv2
    import insightface

    path = Path(insightface.__file__).parent / "data" / "images" / "t1.jpg"
    if not path.is_file():
        pytest.skip(f"insightface's sample photo {path.name} is not in its package (an insightface build without "
                    "data/images): reinstall it with `pip install --force-reinstall --no-deps insightface`")
    rgb = cv2.imread(str(path))[:, :, ::-1]
    res = analyzer.analyze(rgb)
    assert res.image_size == (rgb.shape[1], rgb.shape[0])
    for face in res.faces:
        assert np.all(np.isfinite(face.embedding))


# --- selection --------------------------------------------------------------------

def test_selection_modes(analyzer):
    res = analyzer.analyze(canvas())
    side = lambda f: round(float(f.bbox[2] - f.bbox[0]))  # noqa: E731
    assert side(select_face(res)) == 128
    assert side(select_face(res, "largest", index=2)) == 128  # index ignored
    assert [side(select_face(res, "index_by_size", i)) for i in range(3)] == [128, 64, 32]
    assert [side(select_face(res, "index_left_to_right", i)) for i in range(3)] == [32, 128, 64]
    with pytest.raises(FaceAnalysisError, match=r"index 3 is out of range: 3 face\(s\) detected"):
        select_face(res, "index_by_size", 3)
    with pytest.raises(ValueError, match="out of range"):
        select_face(res, "index_left_to_right", -1)
    with pytest.raises(ValueError, match="unknown face selection mode"):
        select_face(res, "smallest")
    with pytest.raises(ValueError, match="no face"):
        select_face(ImageFaces((64, 64), ()))
