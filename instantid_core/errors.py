"""Error types. Each message is written for a ComfyUI user: what was expected, what was found, what to do."""


class InstantIDError(Exception):
    """Base class for every error this pack raises on purpose."""


class AdapterFormatError(InstantIDError, ValueError):
    """The InstantID adapter file (ip-adapter.bin / .safetensors) is missing, wrong or damaged."""


class LayerMismatchError(InstantIDError, ValueError):
    """The diffusion model's cross-attention layers do not fit the adapter (not an SDXL-family model)."""


class IdentityBatchError(InstantIDError, ValueError):
    """The number of identities does not fit the batch being sampled."""
