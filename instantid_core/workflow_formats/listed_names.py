"""File names as ComfyUI's loader widgets list them.

ComfyUI joins sub-folders with the OS separator when it lists model files (``instantid\\model.safetensors`` on
Windows, ``instantid/model.safetensors`` elsewhere) and checks a prompt's value against that list literally, so a
workflow saved on one system fails on the other with "Value not in list" until the file is picked again by hand.
The same file is the entry that differs only in the separator, when exactly one entry does.
"""
from __future__ import annotations

from typing import Iterable, Optional


def _slashed(name: str) -> str:
    return name.replace("\\", "/")


def listed_spelling(value: str, options: Iterable) -> Optional[str]:
    """``value`` itself when listed; else the one listed name that differs only in '/' vs '\\'; else None
    (not listed, or ambiguous: never guess between two files)."""
    options = [o for o in options if isinstance(o, str)]
    if value in options:
        return value
    same = [o for o in options if _slashed(o) == _slashed(value)]
    return same[0] if len(same) == 1 else None
