"""InstantID Identity Score: how much each generated image looks like the reference person (FaceSim).

The core module is imported when the node is first used, not when ComfyUI imports the pack (start-up stays fast)."""
from __future__ import annotations

import numpy as np
import torch

from ..instantid_core.errors import InputValueError
from ..instantid_core.faces.face_analysis import to_rgb_uint8
from .comfy_glue import layer_progress
from .node_base import InstantIDNode
from .values import FACE_ANALYSIS, FACES, IDENTITY, FacesResult, Identity

PREVIEW_ORDERS = ("batch order", "best first")
REFERENCE_INPUTS = ("faces", "identity", "faces_2", "identity_2")


def references(**connected) -> list:
    """Every connected reference input, in REFERENCE_INPUTS order; each is one person or several."""
    from ..instantid_core.faces.identity_score import references_from_faces
    refs = []
    for name in REFERENCE_INPUTS:
        value = connected.get(name)
        if value is None:
            continue
        if isinstance(value, FacesResult):
            refs += references_from_faces(value.images, name)
        elif isinstance(value, Identity):
            refs += _identity_references(value, name)
        else:
            raise InputValueError(f"expected faces or an identity, got {type(value).__name__}", name)
    return refs


def _identity_references(identity: Identity, name: str) -> list:
    from ..instantid_core.faces.identity_score import references_from_embeddings
    if identity.embeddings is None:
        raise InputValueError("this identity carries no face embeddings to compare with; connect the Face "
                              "Detect (or Load Identity) output to 'faces' instead", name)
    return references_from_embeddings(identity.embeddings.numpy(), identity.combine, name)


def score_batch(face_analysis, images: torch.Tensor, refs, face="largest", face_index=0, on_no_face="score 0"):
    from ..instantid_core.faces.identity_score import require_finite_images, score_images
    if images.dim() != 4 or images.shape[0] == 0:
        raise InputValueError(f"expected a batch of images [B, H, W, C], got shape {tuple(images.shape)}", "images")
    require_finite_images(images.detach().cpu().float().numpy(), "images")
    step = layer_progress(len(images))
    found = []
    for i, img in enumerate(images):
        found.append(face_analysis.analyze(img.cpu().numpy()))
        step(i + 1, len(images))
    return score_images(refs, found, face, face_index, on_no_face)


def preview(images: torch.Tensor, table, order) -> torch.Tensor:
    from ..instantid_core.faces.identity_score import draw_scores
    out = [draw_scores(to_rgb_uint8(images[i]), table.images[i], table.references) for i in order]
    return torch.from_numpy(np.stack(out).astype(np.float32) / 255.0)


class InstantIDIdentityScore(InstantIDNode):
    NODE_ID = "IdentityScore"
    DISPLAY_NAME = "InstantID Identity Score"
    DESCRIPTION = ("Does it look like the person? Scores each generated image against the reference face: the "
                   "cosine similarity of their antelopev2 face embeddings (FaceSim; 1 = same face direction). "
                   "Several photos of one person are scored against their mean embedding; each connected "
                   "reference (or each person of a multi-person reference) gets its own score.")

    @classmethod
    def INPUT_TYPES(cls):
        from ..instantid_core.faces.identity_score import FACE_CHOICES, NO_FACE_CHOICES
        return {"required": {
            "face_analysis": (FACE_ANALYSIS, {"tooltip": "From 'InstantID Face Analysis' (the same one the "
                              "reference used: reusing it costs no model load)."}),
            "images": ("IMAGE", {"tooltip": "The generated images (a batch), e.g. from VAE Decode."}),
            "face": (list(FACE_CHOICES), {"default": "largest", "tooltip":
                     "Which face of each generated image is scored: the largest, the one most like each reference "
                     "(best match: use it for several people in one image), or the one at face_index (by size)."}),
            "face_index": ("INT", {"default": 0, "min": 0, "max": 63, "tooltip":
                           "For face = index: 0 = the largest face of the image, 1 = the next, …"}),
            "on_no_face": (list(NO_FACE_CHOICES), {"default": "score 0", "tooltip":
                           "An image without a detectable face: give it the score 0 (noted in the report), or "
                           "stop with an error."}),
            "preview_order": (list(PREVIEW_ORDERS), {"default": "batch order", "tooltip":
                              "Order of the preview output: as generated, or the best-scoring image first."}),
        }, "optional": {
            "faces": (FACES, {"tooltip": "Reference from 'InstantID Face Detect' or 'InstantID Load Identity'. "
                      "One face per photo = one person (several photos: scored against their mean); several "
                      "faces per photo = several people."}),
            "identity": (IDENTITY, {"tooltip": "Reference from 'InstantID Image Projection' (its raw face "
                         "embeddings; combine concat / one_per_latent = one person per photo)."}),
            "faces_2": (FACES, {"tooltip": "A second person's reference faces (scored separately)."}),
            "identity_2": (IDENTITY, {"tooltip": "A second person's identity (scored separately), e.g. the "
                           "two-people workflow's second Image Projection."}),
        }}

    RETURN_TYPES = ("FLOAT", "STRING", "INT", "IMAGE", "IMAGE", "STRING")
    RETURN_NAMES = ("scores", "scores_text", "best_index", "best_image", "preview", "report")
    OUTPUT_IS_LIST = (True, False, False, False, False, False)
    OUTPUT_TOOLTIPS = (
        "One score per image, in batch order (a list: nodes downstream run once per image). With several "
        "references, the mean of their scores.",
        "The scores as a plain table: one row per image, one column per reference.",
        "Index (0-based) of the best-scoring image in the batch.",
        "The best-scoring image itself.",
        "The images with each scored face boxed and its score written on it.",
        "What was compared with what, the table, and any image without a face.",
    )
    FUNCTION = "score"
    OUTPUT_NODE = True  # shows its table even when nothing downstream uses the scores

    def score(self, face_analysis, images, face, face_index, on_no_face, preview_order, faces=None, identity=None,
              faces_2=None, identity_2=None):
        refs = references(faces=faces, identity=identity, faces_2=faces_2, identity_2=identity_2)
        if not refs:
            raise InputValueError("connect a reference: 'faces' (Face Detect or Load Identity) or 'identity' "
                                  "(Image Projection)", "faces")
        table = score_batch(face_analysis, images, refs, face, face_index, on_no_face)
        order = table.order() if preview_order == "best first" else list(range(len(images)))
        best = table.best_index
        report = table.report()
        ui = {"instantid_identity_score": [table.ui_rows()]}
        return {"ui": ui, "result": (table.per_image, table.text(), best, images[best:best + 1],
                                     preview(images, table, order), report)}
