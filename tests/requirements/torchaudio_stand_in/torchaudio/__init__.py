"""Test-venv stand-in for torchaudio; never shipped with the pack and never imported by it.

ComfyUI 0.33 imports torchaudio (and torchaudio.functional) while it starts, for audio VAEs and text encoders that
SDXL never calls. The package index has no torchaudio build for the CPU torch the tests pin (the newest, 2.11,
wants torch 2.11), so scripts/test.sh puts this package in the test venv when `import torchaudio` fails. Importing
it works; using anything in it raises NotImplementedError, so a test that reaches audio code fails loudly instead
of computing something wrong."""
from . import compliance, functional, io, transforms  # noqa: F401  (ComfyUI reaches these as attributes)
from ._raise_on_use import attribute_error_for

__version__ = "0.0.0+stand-in"
STAND_IN = True
__getattr__ = attribute_error_for(__name__)  # defined last: the submodule imports above look names up first
