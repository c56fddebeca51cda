"""Shared set-up for the benchmarks: make the repo importable and build real-size random adapters."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "tests"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from adapter_fixtures import REAL, SDXL_HIDDEN, adapter_state  # noqa: E402


def real_size_state(dtype):
    """The real 1.7 GB layout (70 layers, resampler 1280×4) with random weights in ``dtype``."""
    return adapter_state(SDXL_HIDDEN, size=REAL, dtype=dtype, seed=0)
