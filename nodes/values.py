"""The values that travel between this pack's nodes. They are immutable: ComfyUI caches node outputs
and may hand the same object to several branches, so a node makes a new value instead of editing one."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import List, Optional, Tuple

import torch

from ..instantid_core.faces.face_analysis import ImageFaces
from ..instantid_core.compute.identity import IdentityKV, IdentityTokens
from ..instantid_core.compute.precision import PrecisionPolicy

# IO type names carry the pack's prefix: ComfyUI matches sockets by these strings across all packs, and
# another InstantID pack's "INSTANTID" value must never be wired into these nodes (or ours into its nodes)
FACE_ANALYSIS = "INSTANTID_PRECISION_FACE_ANALYSIS"
FACES = "INSTANTID_PRECISION_FACES"
INSTANTID = "INSTANTID_PRECISION_MODEL"
IDENTITY = "INSTANTID_PRECISION_IDENTITY"
CROP = "INSTANTID_PRECISION_CROP"  # a tuple of instantid_core.faces.face_region.FaceCrop, one per crop


@dataclass(frozen=True)
class InstantIDHandle:
    """The loaded adapter (inside a ComfyUI ModelPatcher) plus the precision policy chosen for it."""
    patcher: object  # comfy.model_patcher.ModelPatcher around an InstantIDModel
    path: str
    policy: PrecisionPolicy = PrecisionPolicy()

    @property
    def model(self):
        return self.patcher.model

    def with_policy(self, policy: PrecisionPolicy) -> "InstantIDHandle":
        return replace(self, policy=policy)


@dataclass(frozen=True)
class FacesResult:
    """Per input image, every detected face (possibly none). ``photo_sha256``: per image, the sha256 of its
    pixels (what a saved identity records instead of the photo). ``saved``: the identity file's name and the
    combine mode it was saved with, when these faces were loaded from one instead of detected."""
    images: List[ImageFaces]
    photo_sha256: Tuple[str, ...] = ()
    saved: Optional[Tuple[str, str]] = None

    @property
    def total(self) -> int:
        return sum(len(f) for f in self.images)


@dataclass(frozen=True)
class Identity:
    """Identity tokens (float32, CPU) and every adapter layer's K/V, computed once."""
    tokens: IdentityTokens
    kv: IdentityKV
    layer_hidden_sizes: dict
    report: str = ""
    faces: Optional[FacesResult] = None  # the faces it was made from (keypoints can be drawn from them)
    embeddings: Optional[torch.Tensor] = None  # the raw [N, 512] face embeddings, before combining (Identity Score)
    combine: str = "average"
