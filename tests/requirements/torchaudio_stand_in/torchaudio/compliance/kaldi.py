"""torchaudio.compliance.kaldi of the test-only stand-in (see the package docstring): any use raises."""
from .._raise_on_use import attribute_error_for

__getattr__ = attribute_error_for(__name__)
