"""Imported first by every script in this folder (`import _bootstrap`): the pack registered as the package ComfyUI
makes of it, with ``instantid_core`` and ``runner`` naming its modules, and the test helpers the scripts reuse
importable as ``instantid_testkit`` and ``browser_support`` (runner/pack_import.py). Neither the pack folder (its
nodes/ would shadow ComfyUI's `nodes`) nor tests/ goes on the import path."""
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pack_import():
    """runner/pack_import.py, which runs before the pack is a package (so it is loaded from its file)."""
    name = "instantid_pack_import"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "runner" / "pack_import.py")
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


pack_import = _pack_import()
PACKAGE = pack_import.expose_top_level(ROOT)
for _helpers in ("instantid_testkit", "browser_support"):
    pack_import.expose_folder(_helpers, ROOT / "tests" / _helpers)
