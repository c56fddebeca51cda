"""Which identity goes to which face of a multi-person layout.

Faces are counted left to right (the order the layout is drawn in and the report numbers them); identities by
their input number, from 0. An assignment is one entry per face: the identity it gets, or None (left alone).
Three ways to make one: left to right (face i gets identity i), an explicit order string ("2,0,1": face 0 gets
identity 2, face 1 identity 0, ...; "-" leaves a face without identity), or "by likeness", faces matched by
Identity Score: when the layout was detected on a photo of the same people, the one-to-one pairing with the
highest total Identity Score (cosine similarity of the face embeddings; what the Hungarian method computes, done
exactly here by dynamic programming over the identity subsets, which is tiny for at most six identities and needs
no extra dependency).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from ..errors import InputValueError

ASSIGNMENT_MODES = ("left to right", "order", "by likeness")
MAX_IDENTITIES = 6  # the node's inputs; also keeps the subset table at 64 entries


@dataclass(frozen=True)
class Assignment:
    faces: Tuple[Optional[int], ...]  # per face, left to right: the identity index, or None
    mode: str
    cosine: Optional[np.ndarray] = None  # [identities, faces] cosine similarities (by likeness only)

    def face_of(self, identity: int) -> Optional[int]:
        return next((f for f, i in enumerate(self.faces) if i == identity), None)

    def unused(self, identities: int) -> Tuple[int, ...]:
        return tuple(i for i in range(identities) if i not in self.faces)

    def cosine_lines(self) -> List[str]:
        """The cosine matrix as report lines (by likeness only; else none), one row per identity."""
        if self.cosine is None:
            return []
        lines = ["cosine similarity (rows: identities, columns: faces):",
                 "      " + " ".join(f"face {f:<2}" for f in range(len(self.faces)))]
        return lines + [f"id {i:<2} " + " ".join(f"{v:7.4f}" for v in row) for i, row in enumerate(self.cosine)]


def left_to_right(identities: int, faces: int) -> Tuple[Optional[int], ...]:
    return tuple(f if f < identities else None for f in range(faces))


def parse_order(text: str, identities: int, faces: int) -> Tuple[Optional[int], ...]:
    """"2,0,1" -> (2, 0, 1): entry i is face i's identity; '-' = none; faces past the list get none."""
    parts = [p.strip() for p in text.replace(";", ",").split(",")] if text.strip() else []
    if not parts:
        raise InputValueError("assignment is 'order' but the order is empty: give one identity number per face, "
                              "left to right, e.g. '1,0' (use '-' for a face that gets none)", "order")
    if len(parts) > faces:
        raise InputValueError(f"the order lists {len(parts)} faces but the layout has {faces}", "order")
    out = []
    for face, part in enumerate(parts):
        if part in ("-", ""):
            out.append(None)
            continue
        try:
            identity = int(part)
        except ValueError:
            raise InputValueError(f"entry {face} of the order is {part!r}, not an identity number (0..{identities - 1})"
                                  " or '-'", "order") from None
        if not 0 <= identity < identities:
            raise InputValueError(f"entry {face} of the order is identity {identity}, but only identities 0.."
                                  f"{identities - 1} are connected", "order")
        if identity in out:
            raise InputValueError(f"identity {identity} is given to two faces; each identity goes to one face "
                                  "(use '-' to leave a face without identity)", "order")
        out.append(identity)
    return tuple(out) + (None,) * (faces - len(out))


def cosine_matrix(identity_embeddings: Sequence[np.ndarray], face_embeddings: np.ndarray) -> np.ndarray:
    """[identities, faces] cosine similarity, float64. Each identity is the mean of its raw embeddings (the
    same target the Identity Score uses)."""
    targets = np.stack([np.asarray(e, np.float64).reshape(-1, np.shape(e)[-1]).mean(0) for e in identity_embeddings])
    faces = np.asarray(face_embeddings, np.float64).reshape(-1, targets.shape[1])
    norms = np.linalg.norm(targets, axis=1)[:, None] * np.linalg.norm(faces, axis=1)[None, :]
    return (targets @ faces.T) / np.maximum(norms, 1e-12)


def best_one_to_one(scores: np.ndarray) -> Tuple[Optional[int], ...]:
    """Per face, the identity of the one-to-one pairing that matches min(identities, faces) pairs with the
    highest total score. Exact: faces are taken one by one, the state is the set of identities already used."""
    scores = np.asarray(scores, np.float64)
    identities, faces = scores.shape
    if identities > MAX_IDENTITIES:
        raise InputValueError(f"at most {MAX_IDENTITIES} identities can be assigned, got {identities}")
    want = min(identities, faces)
    states = 1 << identities
    best = np.full((faces + 1, states), -np.inf)
    best[0, 0] = 0.0
    choice = np.full((faces + 1, states), -2, np.int64)  # -1: face f left out; i: face f took identity i
    for f in range(faces):
        for used in range(states):
            if best[f, used] == -np.inf:
                continue
            if best[f, used] > best[f + 1, used]:
                best[f + 1, used], choice[f + 1, used] = best[f, used], -1
            for i in range(identities):
                if used & (1 << i):
                    continue
                nxt, value = used | (1 << i), best[f, used] + scores[i, f]
                if value > best[f + 1, nxt]:
                    best[f + 1, nxt], choice[f + 1, nxt] = value, i
    finals = [s for s in range(states) if bin(s).count("1") == want]
    used = max(finals, key=lambda s: best[faces, s])
    out = [None] * faces
    for f in range(faces, 0, -1):
        i = int(choice[f, used])
        if i >= 0:
            out[f - 1] = i
            used &= ~(1 << i)
    return tuple(out)


def assign(mode: str, identities: int, faces: int, order: str = "",
           identity_embeddings: Optional[Sequence[np.ndarray]] = None,
           face_embeddings: Optional[np.ndarray] = None) -> Assignment:
    if not 1 <= identities <= MAX_IDENTITIES:
        raise InputValueError(f"connect 1 to {MAX_IDENTITIES} identities, got {identities}")
    if faces < 1:
        raise InputValueError("the layout has no face to give an identity to", "faces")
    if mode == "left to right":
        return Assignment(left_to_right(identities, faces), mode)
    if mode == "order":
        return Assignment(parse_order(order, identities, faces), mode)
    if mode == "by likeness":
        if face_embeddings is None:
            raise InputValueError("'by likeness' compares each face of the layout with the identities, but this "
                                  "layout has no face embeddings (its faces were placed by hand, with manual "
                                  "keypoints): choose 'left to right' or 'order', or detect the layout with Face "
                                  "Detect on a photo of the same people", "assignment")
        if identity_embeddings is None or any(e is None for e in identity_embeddings):
            raise InputValueError("'by likeness' compares face embeddings: every identity must come from Image "
                                  "Projection of detected or saved faces; otherwise choose 'left to right' or "
                                  "'order'", "assignment")
        cosine = cosine_matrix(identity_embeddings, face_embeddings)
        if not np.isfinite(cosine).all():
            raise InputValueError("a face embedding is not finite, so no Identity Score can be computed", "faces")
        return Assignment(best_one_to_one(cosine), mode, cosine)
    raise InputValueError(f"unknown assignment {mode!r}; choose one of {', '.join(ASSIGNMENT_MODES)}", "assignment")
