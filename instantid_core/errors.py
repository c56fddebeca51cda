"""Every error this pack raises on purpose, under one base.

Each message is written for a ComfyUI user: what was expected, what was found, what to do. An error may carry
``input_name``, the node input the user should change; the node layer turns that into the node's own words
("<node>: check the '<input>' input — <message>"), so helpers never need to know which node called them.
"""
from __future__ import annotations

from typing import Optional


class InstantIDError(Exception):
    """Base class. ``input_name``: the node input that fixes it, when one does."""

    input_name: Optional[str] = None

    def __init__(self, message: str, input_name: Optional[str] = None):
        super().__init__(message)
        if input_name is not None:
            self.input_name = input_name


class InputValueError(InstantIDError, ValueError):
    """A node input holds a value that cannot work (no face, out of range, wrong shape, not finite)."""


ADAPTER_DOWNLOAD_HINT = ("Download ip-adapter.bin from the InstantX/InstantID release and put it in "
                         "ComfyUI/models/instantid/.")  # the fix every AdapterFormatError about the file ends with


class AdapterFormatError(InstantIDError, ValueError):
    """The InstantID adapter file (ip-adapter.bin / .safetensors) is missing, wrong or damaged."""

    input_name = "instantid_file"


class LayerMismatchError(InstantIDError, ValueError):
    """The diffusion model's cross-attention layers do not fit the adapter (not an SDXL-family model)."""

    input_name = "model"


class IdentityBatchError(InstantIDError, ValueError):
    """The number of identities (or masks) does not fit the batch being sampled."""


class FaceAnalysisError(InstantIDError, ValueError):
    """Bad image or settings for face analysis, no usable face, index out of range, non-finite embedding."""


class AntelopeFilesError(InstantIDError, ValueError):
    """antelopev2 is missing, misplaced or damaged; the message says how to fix it (files, not node inputs)."""


class CubiqMigrationError(InstantIDError, ValueError):
    """A workflow, or the node definitions, cannot be read for conversion; the message names what is missing."""


class WorkflowTooLargeError(CubiqMigrationError):
    """A workflow beyond the converter's bounds (bytes, nodes, links or nesting depth)."""


class IdentityFileError(InstantIDError, ValueError):
    """A saved identity (.safetensors) is missing, damaged, not an identity file, or made by another face model."""

    input_name = "identity_file"
