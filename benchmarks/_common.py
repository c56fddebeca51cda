"""Shared set-up for the benchmarks, imported first by each (`import _common`), and by the code their child
processes run (started in this folder, where `python -c` finds it): the pack registered as the package
ComfyUI makes of it, with ``instantid_core`` and ``runner`` naming its modules, and the test fixtures importable as
``instantid_testkit`` (runner/pack_import.py). Neither the pack folder (its nodes/ would shadow ComfyUI's `nodes`)
nor tests/ goes on the import path. Also: real-size random adapters, ComfyUI booted or a skip line, this process's RSS.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"  # the working folder of the child processes, so that they can `import _common`


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
pack_import.expose_folder("instantid_testkit", ROOT / "tests" / "instantid_testkit")

from instantid_testkit.adapter_fixtures import REAL, SDXL_HIDDEN, adapter_state  # noqa: E402


def real_size_state(dtype):
    """The real 1.7 GB layout (70 layers, resampler 1280×4) with random weights in ``dtype``."""
    return adapter_state(SDXL_HIDDEN, size=REAL, dtype=dtype, seed=0)


def comfy_or_skip(result_label: str):
    """The test fixtures' ComfyUI support with ComfyUI booted (--cpu), or None after printing that the benchmark is
    skipped, and why, as its RESULT line."""
    from instantid_testkit import comfy_support as cs
    if cs.comfy_path() is None:
        print("SKIPPED: ComfyUI not found. Set COMFYUI_PATH=/path/to/ComfyUI (or run from ComfyUI/custom_nodes/).")
        print(f"RESULT {result_label}: skipped (no ComfyUI)")
        return None
    cs.bootstrap_comfy(argv=("--cpu",))
    return cs


def rss_mb() -> float:
    """This process's resident memory in MB (Linux /proc; NaN elsewhere): the figure the RSS benchmarks track."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")
