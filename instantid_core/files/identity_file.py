"""Saved identities: a person's face analysis results in one small .safetensors file, so a later run skips face
analysis and never needs the photos again.

Tensors (float32 exactly as the recognizer gave them, so a projection from a loaded identity is bit-identical to
one from the photos): ``embeddings`` [F, 512] raw glintr100 vectors, ``kps`` [F, 5, 2], ``bboxes`` [F, 4],
``det_scores`` [F], ``photo_of_face`` [F] (which photo each face came from), ``photo_sizes`` [P, 2] (width,
height). The photos themselves are never stored: only the sha256 of each photo's pixel data (in the header).
Header metadata (strings): see ``HEADER_KEYS``.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import IdentityFileError
from ..faces.face_analysis import Face, ImageFaces
from ..faces.manual_layout import require_embeddings
from .identity_checks import MAX_FACES, checked_header, checked_tensors

FORMAT = "instantid_identity"
FORMAT_VERSION = "1"
EMBEDDING_MODEL = "antelopev2/glintr100"
EMBEDDING_SIZE = 512
HEADER_KEYS = ("format", "format_version", "name", "created", "photo_count", "face_count", "embedding_model",
               "embedding_size", "combine", "photo_sha256")
TENSORS = ("embeddings", "kps", "bboxes", "det_scores", "photo_of_face", "photo_sizes")
EXTENSION = ".safetensors"
_UNSAFE = re.compile(r"[^A-Za-z0-9 _.\-]+")
MAX_FILE_BYTES = 4096 + MAX_FACES * 4096  # a face takes ~2.2 KB: a larger file is not an identity (read whole)


@dataclass(frozen=True)
class SavedIdentity:
    """A loaded identity: every photo's faces (as face analysis produced them) plus the header."""
    name: str
    images: Tuple[ImageFaces, ...]
    combine: str
    photo_sha256: Tuple[str, ...]
    header: Dict[str, str]
    path: Optional[Path] = None

    def summary(self) -> str:
        h = self.header
        return "\n".join([f"identity '{self.name}'" + (f" ({self.path.name})" if self.path else ""),
                          f"created: {h.get('created', '?')}",
                          f"photos: {h.get('photo_count')}, faces: {h.get('face_count')}",
                          f"embedding model: {h.get('embedding_model')} ({h.get('embedding_size')} numbers)",
                          f"combine mode it was saved with: {self.combine or 'not recorded'}",
                          f"format: {h.get('format')} v{h.get('format_version')}"])


def safe_name(name: str) -> str:
    """A file name from a user's text: letters, digits, space, '_', '.', '-' only; never a path."""
    cleaned = _UNSAFE.sub("_", str(name)).strip(" .")
    if not cleaned:
        raise IdentityFileError("give the identity a name (letters, digits, '_', '-')", "name")
    return cleaned[:120]


def target_path(folder: Path, name: str, overwrite: bool = False) -> Path:
    """``<folder>/<name>.safetensors``; when it exists and ``overwrite`` is off, the first free
    ``<name>_0001.safetensors``, ``<name>_0002…``."""
    stem = safe_name(name)
    if stem.lower().endswith(EXTENSION):
        stem = stem[: -len(EXTENSION)]
    path = Path(folder) / f"{stem}{EXTENSION}"
    n = 0
    while path.exists() and not overwrite:
        n += 1
        path = Path(folder) / f"{stem}_{n:04d}{EXTENSION}"
    return path


def pixel_sha256(rgb: np.ndarray) -> str:
    """sha256 of an image's pixel data (uint8 RGB, its shape included), independent of the file it came from."""
    import hashlib
    a = np.ascontiguousarray(rgb)
    return hashlib.sha256(f"{a.shape}{a.dtype}".encode() + a.tobytes()).hexdigest()


def save_identity(folder: Path, name: str, images: Sequence[ImageFaces], combine: str = "",
                  photo_sha256: Sequence[str] = (), overwrite: bool = False) -> Path:
    """Write the faces of every photo (photos without a face are left out) and return the path written."""
    from safetensors.numpy import save_file

    require_embeddings(images, "faces")
    used = [(i, im) for i, im in enumerate(images) if im.faces]
    faces = [(p, f) for p, (_, im) in enumerate(used) for f in im.faces]
    if not faces:
        raise IdentityFileError("there is no face to save (Face Detect found none)", "faces")
    embeddings = np.stack([f.embedding for _, f in faces]).astype(np.float32)
    if embeddings.shape[1] != EMBEDDING_SIZE or not np.all(np.isfinite(embeddings)):
        raise IdentityFileError(f"the face embeddings must be finite {EMBEDDING_SIZE}-number antelopev2 vectors, "
                                f"got shape {embeddings.shape}", "faces")
    hashes = [photo_sha256[i] if i < len(photo_sha256) else "" for i, _ in used]
    tensors = {"embeddings": embeddings,
               "kps": np.stack([f.kps for _, f in faces]).astype(np.float32),
               "bboxes": np.stack([f.bbox for _, f in faces]).astype(np.float32),
               "det_scores": np.array([f.det_score for _, f in faces], np.float32),
               "photo_of_face": np.array([p for p, _ in faces], np.int64),
               "photo_sizes": np.array([im.image_size for _, im in used], np.int64).reshape(-1, 2)}
    path = target_path(Path(folder), name, overwrite)
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "name": path.stem,
              "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "photo_count": str(len(used)), "face_count": str(len(faces)), "embedding_model": EMBEDDING_MODEL,
              "embedding_size": str(EMBEDDING_SIZE), "combine": combine, "photo_sha256": json.dumps(hashes)}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")  # a crash never leaves a half-written identity under the real name
    save_file(tensors, str(tmp), metadata=header)
    tmp.replace(path)
    return path


def read_header(path: Path) -> Tuple[Dict[str, str], List[str]]:
    """The header metadata and the tensor names (cheap: the tensors are not read)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise IdentityFileError(f"identity file not found: {path}")
    try:
        with safe_open(str(path), framework="numpy") as f:
            return dict(f.metadata() or {}), list(f.keys())
    except Exception as exc:  # safetensors raises its own error types for a damaged or truncated header
        raise IdentityFileError(f"{path.name} is damaged or not a .safetensors file ({exc}); save the identity "
                                "again from the photos") from exc


def load_identity(path: Path) -> SavedIdentity:
    """Read and check an identity file; every problem names the file and what to do."""
    from safetensors.numpy import load_file

    path = Path(path)
    header, keys = read_header(path)
    if header.get("format") != FORMAT:
        shown = ", ".join(sorted(keys)[:5]) + ("…" if len(keys) > 5 else "")
        raise IdentityFileError(f"{path.name} is not an InstantID identity file (no '{FORMAT}' header; it holds "
                                f"tensors {shown or 'none'}): a model file may be in the identities folder. Pick a "
                                "file written by 'InstantID Save Identity'")
    if header.get("format_version") != FORMAT_VERSION:
        raise IdentityFileError(f"{path.name} has identity format version {header.get('format_version')!r}; this "
                                f"version of the pack reads version {FORMAT_VERSION}. Update the pack or save the "
                                "identity again")
    size = header.get("embedding_size")
    model = header.get("embedding_model")
    if size != str(EMBEDDING_SIZE) or model != EMBEDDING_MODEL:
        raise IdentityFileError(f"{path.name} holds {size}-number embeddings from {model!r}; InstantID needs "
                                f"{EMBEDDING_SIZE}-number {EMBEDDING_MODEL} embeddings (another face model's "
                                "vectors mean nothing to its adapter). Save the identity again with this pack's "
                                "Face Analysis")
    photo_count, face_count, hashes = checked_header(path.name, header)
    if path.stat().st_size > MAX_FILE_BYTES:
        raise IdentityFileError(f"{path.name} is {path.stat().st_size >> 20} MB, larger than any identity file "
                                f"({MAX_FACES} faces at most); pick a file written by 'InstantID Save Identity'")
    try:
        t = load_file(str(path))
    except Exception as exc:
        raise IdentityFileError(f"{path.name} is damaged ({exc}); save the identity again from the photos") from exc
    missing = [k for k in TENSORS if k not in t]
    if missing:
        raise IdentityFileError(f"{path.name} lacks {', '.join(missing)}; it is damaged or was not written by "
                                "this pack: save the identity again")
    emb = t["embeddings"]
    count = emb.shape[0] if emb.ndim == 2 else -1
    shapes_ok = (emb.ndim == 2 and emb.shape[1] == EMBEDDING_SIZE and emb.dtype == np.float32 and count > 0 and
                 t["kps"].shape == (count, 5, 2) and t["bboxes"].shape == (count, 4) and
                 t["det_scores"].shape == (count,) and t["photo_of_face"].shape == (count,) and
                 t["photo_sizes"].ndim == 2 and t["photo_sizes"].shape[1] == 2)
    if not shapes_ok:
        raise IdentityFileError(f"{path.name}: embeddings {tuple(emb.shape)} {emb.dtype} do not fit the identity "
                                f"format ([faces, {EMBEDDING_SIZE}] float32 with matching keypoints); the file is "
                                "damaged or made by another tool: save the identity again")
    if not np.all(np.isfinite(emb)):
        raise IdentityFileError(f"{path.name} holds NaN/infinite embeddings; save the identity again")
    checked_tensors(path.name, t, photo_count, face_count)
    owner = t["photo_of_face"].astype(np.int64)
    images = []
    for p, (w, h) in enumerate(t["photo_sizes"].astype(np.int64).tolist()):
        faces = tuple(_face(t, i) for i in np.flatnonzero(owner == p))
        images.append(ImageFaces((int(w), int(h)), faces))
    return SavedIdentity(header.get("name", path.stem), tuple(images), header.get("combine", ""), hashes,
                         header, path)


def _face(t: Dict[str, np.ndarray], i: int) -> Face:
    def frozen(a):
        a = np.array(a, dtype=np.float32)
        a.setflags(write=False)
        return a
    return Face(frozen(t["bboxes"][i]), frozen(t["kps"][i]), float(t["det_scores"][i]), frozen(t["embeddings"][i]))
