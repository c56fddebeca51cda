"""The test suite's fixtures (tests/instantid_testkit), loaded as the named package ``instantid_testkit`` the way the
benchmarks load it (tests/ itself stays off the import path); loading it registers the pack too."""
from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

FOLDER = Path(__file__).resolve().parents[2] / "tests" / "instantid_testkit"


def load():
    """The kit; loading it registers the pack as ComfyUI names it, with ``instantid_core`` and ``runner`` naming its
    modules (runner/pack_import.py)."""
    if "instantid_testkit" not in sys.modules:
        spec = importlib.util.spec_from_file_location("instantid_testkit", FOLDER / "__init__.py",
                                                      submodule_search_locations=[str(FOLDER)])
        module = importlib.util.module_from_spec(spec)
        sys.modules["instantid_testkit"] = module
        spec.loader.exec_module(module)
    return sys.modules["instantid_testkit"]


def testkit(submodule: str):
    """instantid_testkit.<submodule>, e.g. testkit("adapter_fixtures")."""
    load()
    return importlib.import_module(f"instantid_testkit.{submodule}")
