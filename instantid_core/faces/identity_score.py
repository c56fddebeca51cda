""""Does it look like the person?": the Identity Score of generated images against reference faces.

The score is the cosine similarity of the raw antelopev2 (glintr100) face embeddings, what papers call FaceSim:
1.0 = the same embedding direction, ~0 = unrelated faces. It is computed in float64 on the CPU (512 numbers per
face), so it is the same whatever device or dtype the face analysis ran in. Several photos of one person are
scored against the mean of their embeddings; several people are scored one by one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

import numpy as np

from ..errors import InputValueError
from .face_analysis import Face, ImageFaces, order_faces
from .manual_layout import require_embeddings

FACE_CHOICES = ("largest", "best match", "index")
NO_FACE_CHOICES = ("score 0", "error")
EMBEDDING_SIZE = 512  # glintr100's output; the only recognizer InstantID was trained with


@dataclass(frozen=True)
class Reference:
    """One person: the raw embeddings of every photo of them ([N, 512]); scored against their mean."""
    label: str
    embeddings: np.ndarray

    @property
    def photos(self) -> int:
        return int(self.embeddings.shape[0])

    @property
    def target(self) -> np.ndarray:
        return self.embeddings.astype(np.float64).mean(0)


@dataclass(frozen=True)
class ImageScore:
    """One generated image: per reference, the score and the face it was measured on (None: no face)."""
    scores: Tuple[float, ...]
    faces: Tuple[Optional[Face], ...]
    note: str = ""

    @property
    def score(self) -> float:
        """The image's one number (for sorting and routing): the mean over the references."""
        return float(np.mean(self.scores)) if self.scores else 0.0


@dataclass(frozen=True)
class ScoreTable:
    references: Tuple[Reference, ...]
    images: Tuple[ImageScore, ...] = field(default_factory=tuple)

    @property
    def per_image(self) -> List[float]:
        return [i.score for i in self.images]

    @property
    def best_index(self) -> int:
        """The first image with the highest score (ties keep batch order)."""
        scores = self.per_image
        return int(np.argmax(scores)) if scores else 0

    def order(self) -> List[int]:
        """Image indices best first (stable: equal scores keep batch order)."""
        return sorted(range(len(self.images)), key=lambda i: -self.images[i].score)

    def text(self) -> str:
        """A plain table: one row per image, one column per reference (and their mean when several)."""
        labels = [r.label for r in self.references]
        head = ["image"] + labels + (["mean"] if len(labels) > 1 else [])
        rows = [head]
        for i, image in enumerate(self.images):
            row = [str(i)] + [f"{s:.4f}" for s in image.scores]
            if len(labels) > 1:
                row.append(f"{image.score:.4f}")
            rows.append(row)
        widths = [max(len(r[c]) for r in rows) for c in range(len(head))]
        return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(r, widths)) for r in rows)

    def report(self) -> str:
        lines = []
        for ref in self.references:
            how = f"mean embedding of {ref.photos} photos" if ref.photos > 1 else "1 photo"
            lines.append(f"reference {ref.label}: {how}")
        lines.append(self.text())
        if self.images:
            lines.append(f"best: image {self.best_index} ({self.images[self.best_index].score:.4f})")
        lines += [f"image {i}: {im.note}" for i, im in enumerate(self.images) if im.note]
        lines.append("score = cosine similarity of the antelopev2 face embeddings (FaceSim): 1 = the same "
                     "face direction, ~0 = unrelated; the same person in other photos typically scores 0.4-0.8")
        return "\n".join(lines)

    def ui_rows(self) -> dict:
        """What the node shows as a table (web/identity_score.js)."""
        labels = [r.label for r in self.references]
        return {"columns": ["image"] + labels + (["mean"] if len(labels) > 1 else []),
                "rows": [[i] + [round(s, 4) for s in im.scores] + ([round(im.score, 4)] if len(labels) > 1 else [])
                         for i, im in enumerate(self.images)],
                "best": self.best_index if self.images else None,
                "notes": [f"image {i}: {im.note}" for i, im in enumerate(self.images) if im.note]}


def _checked(embeddings, what: str, input_name: str) -> np.ndarray:
    e = np.asarray(embeddings, dtype=np.float32)
    if e.ndim == 1:
        e = e[None]
    if e.ndim != 2 or e.shape[0] == 0:
        raise InputValueError(f"{what}: expected [photos, {EMBEDDING_SIZE}] face embeddings, got shape "
                              f"{tuple(e.shape)}", input_name)
    if e.shape[1] != EMBEDDING_SIZE:
        raise InputValueError(f"{what}: face embeddings have {e.shape[1]} numbers, the antelopev2 recognizer "
                              f"(glintr100) gives {EMBEDDING_SIZE}; they come from another face model and cannot "
                              "be compared", input_name)
    if not np.all(np.isfinite(e)):
        raise InputValueError(f"{what}: the face embedding contains NaN or infinite values; re-run face analysis "
                              "(glintr100.onnx may be damaged: run the Model Doctor)", input_name)
    if np.any(np.linalg.norm(e.astype(np.float64), axis=1) == 0):
        raise InputValueError(f"{what}: a face embedding is all zeros, so it has no direction to compare",
                              input_name)
    return e


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity in float64 (the embeddings are raw, not unit length)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def label(i: int) -> str:
    return chr(ord("A") + i) if i < 26 else f"P{i}"


def references_from_faces(images: Sequence[ImageFaces], input_name: str = "faces") -> List[Reference]:
    """Face Detect's result (or a loaded identity) as people. One face per photo: one person seen in every
    photo. Several faces in a photo (selection 'all'): several people, person k = the k-th face of each photo
    in Face Detect's order (largest first)."""
    require_embeddings(images, input_name)
    per_photo = [order_faces(f.faces) for f in images if f.faces]
    if not per_photo:
        raise InputValueError("the reference has no face (Face Detect found none)", input_name)
    people = max(len(p) for p in per_photo)
    groups = [[p[k].embedding for p in per_photo if len(p) > k] for k in range(people)]
    return [Reference("", _checked(np.stack(g), "reference", input_name)) for g in groups]


def references_from_embeddings(embeddings, combine: str, input_name: str = "identity") -> List[Reference]:
    """An Image Projection's identity: 'concat' / 'one_per_latent' treat each photo as its own person; the
    other combine modes make one person of all photos."""
    e = _checked(embeddings, "reference", input_name)
    if combine in ("concat", "one_per_latent"):
        return [Reference("", row[None]) for row in e]
    return [Reference("", e)]


def labelled(refs: Sequence[Reference]) -> Tuple[Reference, ...]:
    return tuple(Reference(label(i), r.embeddings) for i, r in enumerate(refs))


def _pick(faces: Tuple[Face, ...], ref: Reference, choice: str, index: int) -> Optional[Face]:
    if not faces:
        return None
    if choice == "best match":
        target = ref.target
        return max(faces, key=lambda f: cosine(f.embedding, target))
    ordered = order_faces(faces)  # largest first, the order Face Detect's preview numbers
    if choice == "largest":
        return ordered[0]
    if choice == "index":
        return ordered[index] if 0 <= index < len(ordered) else None
    raise InputValueError(f"unknown face choice {choice!r}; choose one of {', '.join(FACE_CHOICES)}", "face")


def score_images(references: Sequence[Reference], generated: Sequence[ImageFaces], face: str = "largest",
                 face_index: int = 0, on_no_face: str = "score 0") -> ScoreTable:
    """Score every generated image (in batch order) against every reference."""
    if not references:
        raise InputValueError("connect a reference: faces (Face Detect or Load Identity) or an identity "
                              "(Image Projection)", "faces")
    if on_no_face not in NO_FACE_CHOICES:
        raise InputValueError(f"unknown on_no_face {on_no_face!r}; choose one of {NO_FACE_CHOICES}", "on_no_face")
    refs = labelled(references)
    rows = []
    for i, found in enumerate(generated):
        picked = tuple(_pick(found.faces, r, face, face_index) for r in refs)
        if any(f is None for f in picked):
            why = ("no face found" if not found.faces else
                   f"face_index {face_index} is out of range ({len(found.faces)} face(s) found)")
            if on_no_face == "error":
                raise InputValueError(f"image {i} of the batch: {why}; set 'on_no_face' to 'score 0' to score it 0",
                                      "images")
            note = f"{why}: scored 0"
        else:
            note = ""
        for f in picked:
            if f is not None:
                _checked(f.embedding, f"generated image {i}", "images")
        scores = tuple(0.0 if f is None else cosine(f.embedding, r.target) for f, r in zip(picked, refs))
        rows.append(ImageScore(scores, picked, note))
    return ScoreTable(refs, tuple(rows))


def require_finite_images(images: np.ndarray, input_name: str = "images") -> None:
    """Generated images with NaN/Inf pixels (a half-precision VAE overflow) would silently score 0."""
    if not np.all(np.isfinite(images)):
        raise InputValueError("the images contain NaN or infinite pixel values, so no face can be measured: the "
                              "VAE decode overflowed (try a fp32 VAE, or ComfyUI's --fp32-vae)", input_name)


def draw_scores(rgb: np.ndarray, image: ImageScore, references: Sequence[Reference]) -> np.ndarray:
    """A copy of ``rgb`` (HxWx3 uint8) with a box on each scored face and the scores written top left."""
    import cv2

    canvas = np.ascontiguousarray(rgb.copy())
    h, w = canvas.shape[:2]
    scale = max(0.4, min(h, w) / 400)
    thick = max(1, round(scale * 2))
    for face, ref in zip(image.faces, references):
        if face is not None:
            x1, y1, x2, y2 = (int(round(float(v))) for v in face.bbox)
            cv2.rectangle(canvas, (x1, y1), (x2, y2), (0, 255, 0), thick)
            if len(references) > 1:
                cv2.putText(canvas, ref.label, (x1 + 2, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, scale * 0.8,
                            (0, 255, 0), thick, cv2.LINE_AA)
    parts = [f"{r.label} {s:.3f}" if len(references) > 1 else f"{s:.3f}" for r, s in zip(references, image.scores)]
    text = "  ".join(parts) + ("  (no face)" if image.note else "")
    y = int(28 * scale)
    for colour, width in (((0, 0, 0), thick + 2), ((255, 255, 255), thick)):  # outlined: readable on any image
        cv2.putText(canvas, text, (int(6 * scale), y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, width, cv2.LINE_AA)
    return canvas
