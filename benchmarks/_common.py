"""Shared set-up for the benchmarks: the pack and its test fixtures importable, and real-size random adapters.

The pack folder goes LAST on sys.path (ComfyUI's own `nodes` module must win over the pack's `nodes/`); the shared
fixtures are loaded as the named package ``instantid_testkit`` from tests/instantid_testkit, so tests/ itself never
goes on sys.path.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))


def _load_testkit():
    if "instantid_testkit" not in sys.modules:
        folder = ROOT / "tests" / "instantid_testkit"
        spec = importlib.util.spec_from_file_location("instantid_testkit", folder / "__init__.py",
                                                      submodule_search_locations=[str(folder)])
        module = importlib.util.module_from_spec(spec)
        sys.modules["instantid_testkit"] = module
        spec.loader.exec_module(module)


_load_testkit()

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
