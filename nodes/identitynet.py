"""IdentityNet through ComfyUI's own ControlNet object: the keypoint image is the hint and the identity
tokens replace the text as the ControlNet's cross-attention context (``cross_attn_controlnet``)."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from .values import Identity


def masked_hint(image: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
    """IMAGE [B,H,W,C] -> hint [B,C,H,W]; with a mask, keypoints outside the region are blanked."""
    hint = image.movedim(-1, 1)
    if mask is None:
        return hint
    m = mask if mask.dim() == 3 else mask.unsqueeze(0)  # [M, H, W]
    # [M, 1, H', W']: the mask resized to the hint
    m = F.interpolate(m.unsqueeze(1).float(), size=hint.shape[-2:], mode="bilinear", align_corners=False)
    return hint * m.to(hint.dtype)


def apply_identitynet(positive, negative, control_net, identity: Identity, keypoints: torch.Tensor,
                      strength: float, start_at: float, end_at: float, mask: Optional[torch.Tensor] = None,
                      vae=None):
    """New positive/negative conditioning lists; the inputs are copied, never edited.

    Like ComfyUI's "Apply ControlNet (Advanced)": a ControlNet already on an entry is chained as
    'previous', and one ControlNet copy is shared by entries that had the same previous one.
    """
    if strength == 0:
        return positive, negative
    hint = masked_hint(keypoints, mask)
    tokens = {0: identity.tokens.cond, 1: identity.tokens.uncond}
    made = {}
    out = []
    for which, conditioning in enumerate((positive, negative)):
        entries = []
        for embedding, options in conditioning:
            options = options.copy()
            previous = options.get("control")
            if previous not in made:
                cnet = control_net.copy().set_cond_hint(hint, strength, (start_at, end_at), vae=vae)
                cnet.set_previous_controlnet(previous)
                made[previous] = cnet
            options["control"] = made[previous]
            options["control_apply_to_uncond"] = False
            options["cross_attn_controlnet"] = tokens[which]
            entries.append([embedding, options])
        out.append(entries)
    return out[0], out[1]
