"""Face detection + ArcFace embedding via insightface (>=2.1) and onnxruntime.

Only the two antelopev2 models InstantID needs are loaded (SCRFD detector and
glintr100 recognizer) through ``insightface.model_zoo.get_model``; insightface's
``FaceAnalysis`` would build an onnxruntime session for *every* .onnx in the
folder (incl. the 143 MB 1k3d68) before discarding the unwanted ones.

insightface, onnxruntime and cv2 are imported lazily (insightface alone takes
~0.6 s: it pulls scipy, skimage, onnx, cv2, requests).

Conventions: images come in as RGB (ComfyUI order) and are handed to
insightface as BGR; boxes/keypoints are in source-image pixels; embeddings are
the recognizer's *raw* 512-d output (InstantID was trained on un-normalised
vectors).  A non-finite embedding raises ``FaceAnalysisError`` rather than
flowing into generation as garbage.  Errors raised on purpose derive from
``InstantIDError`` and ``ValueError``.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from .antelope_files import LOADER_FILES, check_antelopev2, require_antelopev2
from ..errors import AntelopeFilesError, FaceAnalysisError


def quiet_insightface_deprecation() -> None:
    """insightface's face alignment calls scikit-image's deprecated ``SimilarityTransform.estimate`` for every
    face and the FutureWarning lands in every run's output; only that one warning is silenced."""
    warnings.filterwarnings("ignore", message=r"`estimate` is deprecated", category=FutureWarning,
                            module=r"insightface\.utils\.face_align")


quiet_insightface_deprecation()

__all__ = [
    "CPU",
    "DEFAULT_DET_SIZES",
    "FACE_SELECTION_MODES",
    "MIN_IMAGE_SIDE",
    "PROVIDER_CHOICES",
    "Face",
    "FaceAnalysisError",
    "FaceAnalyzer",
    "ImageFaces",
    "resolve_providers",
    "order_faces",
    "select_face",
    "to_rgb_uint8",
]

log = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"
PROVIDER_CHOICES = ("auto", "CPU", "CUDA", "ROCM", "DirectML", "CoreML", "OpenVINO")
# Accelerated providers tried before the CPU fallback, per user choice.
_CHAINS: Dict[str, Tuple[str, ...]] = {
    "auto": ("CUDAExecutionProvider", "ROCMExecutionProvider", "MIGraphXExecutionProvider",
             "DmlExecutionProvider", "CoreMLExecutionProvider", "OpenVINOExecutionProvider"),
    "cpu": (),
    "cuda": ("CUDAExecutionProvider",),
    "rocm": ("ROCMExecutionProvider", "MIGraphXExecutionProvider"),  # newer ORT ships MIGraphX only
    "directml": ("DmlExecutionProvider",),
    "coreml": ("CoreMLExecutionProvider",),
    "openvino": ("OpenVINOExecutionProvider",),
}

# Detector sizes tried in order until a face is found (at most 3: each try is a full detector run).
DEFAULT_DET_SIZES: Tuple[Tuple[int, int], ...] = ((640, 640), (512, 512), (320, 320))
MAX_DET_SIZES = 3
# Below this many pixels on the short side no usable face can exist; skip the detector.
MIN_IMAGE_SIDE = 16
FACE_SELECTION_MODES = ("largest", "index_by_size", "index_left_to_right")


def resolve_providers(choice: str = "auto", available: Optional[Iterable[str]] = None) -> List[str]:
    """Map a user choice to an onnxruntime provider list ending in CPU, keeping only available ones."""
    key = str(choice).strip().lower()
    if key not in _CHAINS:
        raise FaceAnalysisError(f"unknown execution provider {choice!r}; choose one of {', '.join(PROVIDER_CHOICES)}")
    if available is None:
        import onnxruntime

        available = onnxruntime.get_available_providers()
    available = set(available)
    chain = [p for p in _CHAINS[key] if p in available]
    if key not in ("auto", "cpu") and not chain:
        log.warning("InstantID face analysis: %s requested but onnxruntime offers only %s; using CPU",
                    choice, sorted(available))
    return chain + [CPU]


# --- results -------------------------------------------------------------------

def _frozen(a: Any, dtype=np.float32, shape=None) -> np.ndarray:
    a = np.array(a, dtype=dtype)  # copy: results must not alias insightface buffers
    if shape is not None:
        a = a.reshape(shape)
    a.setflags(write=False)  # results are cached by ComfyUI; nobody may mutate them
    return a


@dataclass(frozen=True, eq=False)
class Face:
    bbox: np.ndarray  # (4,) float32 x1, y1, x2, y2 in source pixels
    kps: np.ndarray  # (5, 2) float32: left eye, right eye, nose, left mouth, right mouth
    det_score: float
    embedding: Optional[np.ndarray]  # (512,) float32, raw (NOT L2-normalised); None: placed by hand (manual_layout)

    @property
    def area(self) -> float:
        x1, y1, x2, y2 = (float(v) for v in self.bbox)
        return max(0.0, x2 - x1) * max(0.0, y2 - y1)

    @property
    def embedding_norm(self) -> float:
        return float(np.linalg.norm(self.embedding))


@dataclass(frozen=True)
class ImageFaces:
    image_size: Tuple[int, int]  # (width, height) of the analysed image
    faces: Tuple[Face, ...]  # detector order (score, descending); empty = no face
    det_size: Optional[Tuple[int, int]] = None  # detector size that found them; None if none did

    def __len__(self) -> int:
        return len(self.faces)


# --- selection -----------------------------------------------------------------

def order_faces(faces: Iterable[Face], mode: str = "index_by_size") -> Tuple[Face, ...]:
    """The one face order of this pack (the preview's indices, face_index, the web overlay): largest first,
    or left to right for ``index_left_to_right``. Sorting is stable, so ties keep detector order."""
    if mode == "index_left_to_right":
        return tuple(sorted(faces, key=lambda f: float(f.bbox[0])))
    return tuple(sorted(faces, key=lambda f: -f.area))


def select_face(image_faces: Union[ImageFaces, Sequence[Face]], mode: str = "largest", index: int = 0) -> Face:
    """Pick one face. ``index`` is used by the ``index_*`` modes only."""
    faces = tuple(image_faces.faces if isinstance(image_faces, ImageFaces) else image_faces)
    if mode not in FACE_SELECTION_MODES:
        raise FaceAnalysisError(f"unknown face selection mode {mode!r}; choose one of "
                                f"{', '.join(FACE_SELECTION_MODES)}", "selection")
    if not faces:
        raise FaceAnalysisError("no face was detected in the image, so none can be selected", "image")
    ordered = order_faces(faces, mode)  # "largest" is index 0 of the size order (InstantID's reference choice)
    index = 0 if mode == "largest" else int(index)
    if not 0 <= index < len(ordered):
        raise FaceAnalysisError(f"face index {index} is out of range: {len(ordered)} face(s) detected "
                                f"(valid indices 0..{len(ordered) - 1}, mode {mode!r})", "face_index")
    return ordered[index]


# --- input hygiene -------------------------------------------------------------

def _as_numpy(image: Any) -> np.ndarray:
    if hasattr(image, "detach"):  # torch tensor, without importing torch
        t = image.detach().cpu()
        try:
            return t.numpy()
        except TypeError:  # bfloat16 has no numpy dtype
            return t.float().numpy()
    return np.asarray(image)


def to_rgb_uint8(image: Any) -> np.ndarray:
    """HxW / HxWx{1,2,3,4} array (uint8 0..255, float 0..1, uint16) -> contiguous HxWx3 uint8 RGB.

    Grayscale is replicated, alpha dropped, float NaN -> 0, out-of-range values clipped.
    """
    a = _as_numpy(image)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 2, 3, 4):
        raise FaceAnalysisError(f"expected an HxW or HxWxC image with C in 1..4, got shape {tuple(a.shape)}")
    if a.shape[2] in (1, 2):  # gray or gray+alpha
        a = np.repeat(a[:, :, :1], 3, axis=2)
    elif a.shape[2] == 4:
        a = a[:, :, :3]
    if a.dtype == np.uint8:
        return np.ascontiguousarray(a)
    if a.dtype == np.bool_:
        return a.astype(np.uint8) * 255
    if np.issubdtype(a.dtype, np.floating):
        f = np.nan_to_num(a.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        return np.ascontiguousarray(np.rint(np.clip(f, 0.0, 1.0) * 255.0).astype(np.uint8))
    if a.dtype == np.uint16:
        return np.ascontiguousarray((a >> 8).astype(np.uint8))
    if np.issubdtype(a.dtype, np.integer):
        return np.ascontiguousarray(np.clip(a, 0, 255).astype(np.uint8))
    raise FaceAnalysisError(f"unsupported image dtype {a.dtype}")


def _normalize_det_sizes(sizes: Iterable[Union[int, Sequence[int]]]) -> Tuple[Tuple[int, int], ...]:
    out = []
    for s in sizes:
        w, h = (int(s), int(s)) if np.isscalar(s) else (int(s[0]), int(s[1]))
        if w <= 0 or h <= 0 or w % 32 or h % 32:  # SCRFD's coarsest stride is 32
            raise FaceAnalysisError(f"detection size {s!r} must be positive multiples of 32")
        if (w, h) not in out:
            out.append((w, h))
    if not 1 <= len(out) <= MAX_DET_SIZES:
        raise FaceAnalysisError(f"give 1 to {MAX_DET_SIZES} detection sizes, got {len(out)}")
    return tuple(out)


def _letterbox_ok(w: int, h: int, size: Tuple[int, int]) -> bool:
    """Mirror SCRFD's resize arithmetic: extreme aspect ratios would resize to 0 px and crash cv2."""
    im_ratio, model_ratio = h / w, size[1] / size[0]
    if im_ratio > model_ratio:
        return int(size[1] / im_ratio) >= 1
    return int(size[0] * im_ratio) >= 1


# --- analyzer ------------------------------------------------------------------

class FaceAnalyzer:
    """SCRFD detection + ArcFace embedding; build it with :meth:`load`."""

    def __init__(self, det_model: Any, rec_model: Any, *,
                 det_sizes: Iterable[Union[int, Sequence[int]]] = DEFAULT_DET_SIZES,
                 det_thresh: float = 0.5, requested_providers: Sequence[str] = ()):
        self.det_model = det_model
        self.rec_model = rec_model
        self.det_sizes = _normalize_det_sizes(det_sizes)
        self.det_thresh = float(det_thresh)
        self.requested_providers = tuple(requested_providers)

    @classmethod
    def load(cls, insightface_root: "os.PathLike[str] | str", provider: str = "auto", *,
             det_sizes: Iterable[Union[int, Sequence[int]]] = DEFAULT_DET_SIZES, det_thresh: float = 0.5,
             required: Sequence[str] = LOADER_FILES) -> "FaceAnalyzer":
        """Load from ``<insightface_root>/models/antelopev2``; raises AntelopeFilesError with fix instructions."""
        folder = require_antelopev2(insightface_root, required=required, verify_size=False)
        providers = resolve_providers(provider)
        det = _load_model(insightface_root, folder, LOADER_FILES[0], "detection", providers)
        rec = _load_model(insightface_root, folder, LOADER_FILES[1], "recognition", providers)
        if not getattr(det, "use_kps", False):
            raise AntelopeFilesError(f"{folder / LOADER_FILES[0]} is a face detector without keypoints; "
                                     "InstantID needs the 5 keypoints of scrfd_10g_bnkps")
        analyzer = cls(det, rec, det_sizes=det_sizes, det_thresh=det_thresh, requested_providers=providers)
        used = analyzer.providers
        if providers[0] != CPU and any(providers[0] not in p for p in used.values()):
            log.warning("InstantID face analysis: requested %s but sessions run on %s", providers[0], used)
        return analyzer

    @property
    def providers(self) -> Dict[str, Tuple[str, ...]]:
        """Providers the onnxruntime sessions actually use (after ORT's own fallbacks)."""
        return {"detection": tuple(self.det_model.session.get_providers()),
                "recognition": tuple(self.rec_model.session.get_providers())}

    def _sizes_for(self, w: int, h: int) -> List[Tuple[int, int]]:
        static = getattr(self.det_model, "static_input_size", None)
        sizes = [tuple(static)] if static is not None else list(self.det_sizes)  # fixed-shape export: one size
        return [s for s in sizes if _letterbox_ok(w, h, s)]

    def analyze(self, image: Any) -> ImageFaces:
        """Detect and embed all faces of one image; no face -> empty :class:`ImageFaces`."""
        rgb = to_rgb_uint8(image)
        h, w = rgb.shape[:2]
        if min(h, w) < MIN_IMAGE_SIDE:
            return ImageFaces((w, h), ())
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])  # insightface expects OpenCV's BGR
        for size in self._sizes_for(w, h):
            # size and threshold go per call: the shared detector's state is never touched
            dets, kpss = self.det_model.detect(bgr, input_size=size, max_num=0, det_thresh=self.det_thresh)
            if len(dets):
                return ImageFaces((w, h), self._embed(bgr, dets, kpss), size)
        return ImageFaces((w, h), ())

    def analyze_batch(self, images: Any) -> List[ImageFaces]:
        """Analyse each image of a list or of a BxHxWxC batch independently."""
        if not isinstance(images, (list, tuple)):
            batch = _as_numpy(images)
            if batch.ndim != 4:
                raise FaceAnalysisError(f"expected a list of images or a BxHxWxC batch, got shape {tuple(batch.shape)}")
            images = list(batch)
        return [self.analyze(img) for img in images]

    def _embed(self, bgr: np.ndarray, dets: np.ndarray, kpss: np.ndarray) -> Tuple[Face, ...]:
        from insightface.app.common import Face as InsightFace

        faces = []
        for i, (det, kps) in enumerate(zip(dets, kpss)):
            if not (np.all(np.isfinite(det)) and np.all(np.isfinite(kps))):
                log.warning("InstantID face analysis: dropped a detection with non-finite box/keypoints")
                continue
            face = InsightFace(bbox=det[:4], kps=kps, det_score=det[4])
            emb = np.asarray(self.rec_model.get(bgr, face), dtype=np.float32).reshape(-1)
            if not np.all(np.isfinite(emb)):
                raise FaceAnalysisError(
                    f"the face recognizer returned a non-finite (NaN/Inf) embedding for face {i} "
                    f"(box {np.round(det[:4], 1).tolist()}); glintr100.onnx may be damaged, or the "
                    "execution provider overflowed; try provider 'CPU'")
            faces.append(Face(_frozen(det[:4], shape=(4,)), _frozen(kps, shape=(5, 2)),
                              float(det[4]), _frozen(emb)))
        return tuple(faces)


def _load_model(root: Any, folder: Path, name: str, task: str, providers: List[str]) -> Any:
    import onnxruntime
    from insightface.model_zoo import get_model

    opts = onnxruntime.SessionOptions()
    opts.log_severity_level = 3  # ORT's shape/fallback warnings are noise in the ComfyUI console
    path = folder / name
    try:
        model = get_model(str(path), providers=providers, sess_options=opts)
    except Exception as exc:  # corrupt/truncated files surface as protobuf/ORT errors
        report = check_antelopev2(root, required=[name], verify_size=True)
        hint = report.message() if not report.ok else "the file size matches the published one"
        raise AntelopeFilesError(f"could not load {path}: {exc}\n{hint}") from exc
    if model is None or getattr(model, "taskname", None) != task:
        got = getattr(model, "taskname", "unrecognised")
        raise AntelopeFilesError(f"{path} is not a face {task} model (insightface routed it as {got})")
    return model

