"""The numbered identity inputs (identity_0 … identity_5) of the nodes that take several people: Multi-Person and
Group Face Crop read them the same way, so a gap or a missing person gets the same message on both."""
from __future__ import annotations

from typing import List

from ..instantid_core.errors import InputValueError
from ..instantid_core.faces.assignment import MAX_IDENTITIES
from .values import Identity


def connected_identities(kwargs, required: int) -> List[Identity]:
    """identity_0, identity_1, … up to the first empty one; a later connected input is an error (its number would
    silently change), and fewer than `required` names the first empty input."""
    out = []
    for n in range(MAX_IDENTITIES):
        identity = kwargs.get(f"identity_{n}")
        if identity is None:
            if any(kwargs.get(f"identity_{m}") is not None for m in range(n + 1, MAX_IDENTITIES)):
                raise InputValueError(f"identity_{n} is empty but a later identity is connected: connect the "
                                      "identities in order, without gaps", f"identity_{n}")
            break
        out.append(identity)
    if len(out) < required:
        wanted = "one identity" if required == 1 else f"{required} identities"
        raise InputValueError(f"connect at least {wanted}", f"identity_{len(out)}")
    return out
