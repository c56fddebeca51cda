"""The plan for several people in one picture: faces of the layout on the canvas (left to right), which identity
each gets, each face's region, and what the user should know (the report's warnings)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .assignment import Assignment, assign
from .face_regions import Box, FaceRegion, face_regions, scale_box

# Below this many canvas pixels a face spans fewer than two cells of SDXL's coarsest attention grid (1/32 of
# the image), where the identity term has almost nothing to act on.
MIN_FACE_PIXELS = 64


@dataclass(frozen=True)
class LayoutFace:
    box: Box  # in the layout's own pixels
    kps: np.ndarray  # (5, 2) in the layout's own pixels
    embedding: Optional[np.ndarray] = None  # raw 512-d, when the layout was detected on a photo


@dataclass(frozen=True)
class MultiPersonPlan:
    canvas: Tuple[int, int]  # (width, height) of the generation
    faces: Tuple[LayoutFace, ...]  # left to right
    canvas_boxes: Tuple[Box, ...]
    assignment: Assignment
    regions: Tuple[FaceRegion, ...]
    identities: int
    warnings: Tuple[str, ...]

    def assigned(self) -> List[Tuple[int, int]]:
        """(face, identity) for every face that got one, left to right."""
        return [(f, i) for f, i in enumerate(self.assignment.faces) if i is not None]

    def text(self) -> str:
        w, h = self.canvas
        lines = [f"{len(self.faces)} face(s) on a {w}x{h} canvas, {self.identities} identity(ies), "
                 f"assignment: {self.assignment.mode}"]
        for f, (identity, region) in enumerate(zip(self.assignment.faces, self.regions)):
            box = "empty" if region.box is None else "({}, {}, {}, {})".format(*region.box)
            who = "no identity" if identity is None else f"identity {identity}"
            lines.append(f"face {f}: {who}, region {box}")
        lines += self.assignment.cosine_lines()
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def ordered_left_to_right(faces: Sequence[LayoutFace]) -> Tuple[LayoutFace, ...]:
    return tuple(sorted(faces, key=lambda f: float(f.box[0])))  # stable: ties keep the layout's order


def _warnings(plan_faces, boxes, assignment: Assignment, regions, identities: int) -> List[str]:
    out = []
    for i in assignment.unused(identities):
        out.append(f"identity {i} has no face (more identities than faces, or left out of the order); it is not "
                   "used")
    for f, (box, identity) in enumerate(zip(boxes, assignment.faces)):
        side = min(box[2] - box[0], box[3] - box[1])
        if identity is not None and side < MIN_FACE_PIXELS:
            out.append(f"face {f} is only {side:.0f} px on the canvas (under {MIN_FACE_PIXELS}); the identity can "
                       "barely take hold at this latent size: generate larger or place the faces bigger")
    for f, region in enumerate(regions):
        if assignment.faces[f] is not None and region.box is None:
            out.append(f"face {f} has no region on the canvas (outside it, or covered by nearer faces)")
        for g in region.overlaps:
            if g > f:
                out.append(f"the regions of faces {f} and {g} overlap: the nearer face wins, with a feathered seam")
    return out


def plan_people(layout: Sequence[LayoutFace], layout_size: Tuple[int, int], canvas: Tuple[int, int],
                identities: int, mode: str = "left to right", order: str = "",
                identity_embeddings: Optional[Sequence[np.ndarray]] = None, grow: float = 0.5,
                feather: float = 16.0) -> MultiPersonPlan:
    faces = ordered_left_to_right(layout)
    face_embeddings = None
    if faces and all(f.embedding is not None for f in faces):
        face_embeddings = np.stack([np.asarray(f.embedding, np.float64) for f in faces])
    assignment = assign(mode, identities, len(faces), order, identity_embeddings, face_embeddings)
    boxes = tuple(scale_box(f.box, layout_size, canvas) for f in faces)
    regions = tuple(face_regions(boxes, canvas[0], canvas[1], grow, feather))
    warnings = _warnings(faces, boxes, assignment, regions, identities)
    return MultiPersonPlan(tuple(canvas), faces, boxes, assignment, regions, identities, tuple(warnings))
