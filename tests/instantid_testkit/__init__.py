"""Test fixtures shared by the tests, the benchmarks and scripts/build_workflows.py: adapters in the exact on-disk
layout (adapter_fixtures), tiny ONNX face models (fixtures_onnx), a tiny SDXL-architecture ComfyUI model and
ControlNet (comfy_support), one booted ComfyUI with all of them in place (comfy_env), and API prompts (prompts).
The tests' other helpers live here too: reference math in float64 (reference_math), the pack's nodes called
directly (direct_nodes), a local Hugging Face hub (hub_server, with tiny_catalog), cubiq's example workflows
(cubiq_examples) and the third-party packs (third_party); custom node files ComfyUI loads in a test
(cubiq_stand_ins.py, chaining_stand_in.py) and the precision matrix's child process (matrix_child.py).

The tests import it with tests/ on sys.path (tests/conftest.py); benchmarks and scripts load it by name from its
folder (``benchmarks/_common.py``, ``scripts/_bootstrap.py``). Importing it registers the pack the way ComfyUI
names it, with ``instantid_core`` and ``runner`` as aliases of the package's own modules (runner/pack_import.py):
whatever imports the kit (a test, a benchmark, a test-only custom node in a subprocess) meets one copy of the pack.
"""
import importlib.util as _util
import sys as _sys
from pathlib import Path as _Path

ROOT = _Path(__file__).resolve().parents[2]  # the repository (the pack)


def _pack_import():
    """runner/pack_import.py, which must run before the pack is a package (so it is loaded from its file)."""
    name = "instantid_pack_import"
    if name not in _sys.modules:
        spec = _util.spec_from_file_location(name, ROOT / "runner" / "pack_import.py")
        _sys.modules[name] = _util.module_from_spec(spec)
        spec.loader.exec_module(_sys.modules[name])
    return _sys.modules[name]


PACKAGE = _pack_import().expose_top_level(ROOT)  # the pack's sys.modules name, as ComfyUI gives it
