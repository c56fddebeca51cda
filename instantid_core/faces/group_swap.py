"""Group swap: every face of an existing group photo that gets an identity is cut out, regenerated and put back.

The plan says which identity goes to which face (the Multi-Person assignment: left to right, an order string,
or by likeness on the cosine matrix of the photo's face embeddings), and gives one crop per assigned face, all
on one canvas size so the crops sample as one batch. Faces without an identity get no crop, so the stitch
never touches them. The stitch puts the generated crops back one after another into the one photo; each step
keeps every pixel outside its warped mask bit for bit (face_stitch.stitch selects the original there), so
after all steps every pixel outside the union of the masks is the original.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from ..errors import InputValueError
from .assignment import Assignment, assign
from .face_region import CropSettings, FaceCrop, plan_crop
from .face_stitch import stitch

# A face this small in the photo is scaled up a lot; what the crop then shows is mostly the model's invention.
BIG_ZOOM = 4.0


@dataclass(frozen=True)
class PhotoFace:
    box: Tuple[float, float, float, float]  # x1, y1, x2, y2 in photo pixels
    kps: np.ndarray  # (5, 2) in photo pixels
    embedding: Optional[np.ndarray] = None  # raw 512-d (by likeness)


@dataclass(frozen=True)
class GroupSwapPlan:
    faces: Tuple[PhotoFace, ...]  # left to right
    assignment: Assignment
    crops: Tuple[FaceCrop, ...]  # one per assigned face, left to right
    crop_faces: Tuple[int, ...]  # per crop: the face it was cut around
    crop_identities: Tuple[int, ...]  # per crop: the identity it gets
    identities: int
    warnings: Tuple[str, ...]

    def text(self) -> str:
        lines = [f"{len(self.faces)} face(s) in the photo, {self.identities} identity(ies), "
                 f"assignment: {self.assignment.mode}, {len(self.crops)} crop(s) in one batch"]
        crop_of = {f: c for c, f in enumerate(self.crop_faces)}
        for f, identity in enumerate(self.assignment.faces):
            box = "({:.0f}, {:.0f}, {:.0f}, {:.0f})".format(*self.faces[f].box)
            if identity is None:
                lines.append(f"face {f}: no identity, left untouched, box {box}")
                continue
            crop = self.crops[crop_of[f]]
            lines.append(f"face {f}: identity {identity} -> crop {crop_of[f]}, box {box}, scale {crop.scale:.2f}x, "
                         f"turned {crop.angle:+.1f} deg")
        lines += self.assignment.cosine_lines()
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _warnings(assignment: Assignment, crops: Sequence[FaceCrop], identities: int) -> List[str]:
    out = [f"identity {i} has no face (more identities than faces, or left out of the order); it is not used"
           for i in assignment.unused(identities)]
    for c, crop in enumerate(crops):
        if crop.scale > BIG_ZOOM:
            out.append(f"crop {c} (face {crop.face_index}) is scaled up {crop.scale:.1f}x: its detail comes "
                       "from the model; lower long_side or raise denoise a little")
    return out


def plan_group_swap(faces: Sequence[PhotoFace], photo_size: Tuple[int, int], identities: int, settings: CropSettings,
                    mode: str = "left to right", order: str = "",
                    identity_embeddings: Optional[Sequence[np.ndarray]] = None) -> GroupSwapPlan:
    """Faces of one photo (any order; numbered left to right here) -> which identity each gets and the crops."""
    settings = settings.checked()
    if not faces:
        raise InputValueError("no face was found in the group photo: use a photo with visible faces, and Face "
                              "Detect with selection 'all'", "faces")
    ordered = tuple(sorted(faces, key=lambda f: float(f.box[0])))  # stable: ties keep the detector's order
    face_embeddings = None
    if all(f.embedding is not None for f in ordered):
        face_embeddings = np.stack([np.asarray(f.embedding, np.float64) for f in ordered])
    assignment = assign(mode, identities, len(ordered), order, identity_embeddings, face_embeddings)
    chosen = [(f, i) for f, i in enumerate(assignment.faces) if i is not None]
    if not chosen:
        raise InputValueError("no face got an identity, so there is nothing to swap: give at least one face an "
                              "identity number in the order", "order")
    size = None
    crops = []
    for f, _ in chosen:
        # the first crop fixes the canvas for the batch; the others grow their context to its aspect ratio
        crop = plan_crop(ordered[f].box, ordered[f].kps, photo_size, settings, face_index=f, image_index=0,
                         crop_size=size)
        size = crop.crop_size
        crops.append(crop)
    return GroupSwapPlan(ordered, assignment, tuple(crops), tuple(f for f, _ in chosen), tuple(i for _, i in chosen),
                         identities, tuple(_warnings(assignment, crops, identities)))


def stitch_group(original: np.ndarray, generated: Sequence[np.ndarray], crops: Sequence[FaceCrop],
                 masks: Sequence[np.ndarray], color_match: str = "off", color_strength: float = 1.0,
                 blend: float = 1.0) -> np.ndarray:
    """Every generated crop back into the one photo, in crop order (a later crop wins where two masks meet).
    original [H, W, C]; generated[i] [h, w, C]; masks[i] [h, w] in crop pixels."""
    if len(generated) != len(crops) or len(masks) != len(crops):
        raise InputValueError(f"{len(generated)} generated crops and {len(masks)} masks for {len(crops)} crop "
                              "descriptions: decode the whole batch of crops and connect it here", "generated")
    out = original
    for picture, crop, mask in zip(generated, crops, masks):
        out = stitch(out, picture, crop, mask, color_match, color_strength, blend)
    return out
