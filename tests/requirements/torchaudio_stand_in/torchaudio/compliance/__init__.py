"""torchaudio.compliance of the test-only stand-in (see the package docstring)."""
from . import kaldi  # noqa: F401
from .._raise_on_use import attribute_error_for

__getattr__ = attribute_error_for(__name__)
