import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
# `import instantid_core` and the test helpers from a clean clone, with no install step. pytest runs in
# importlib mode (pyproject.toml) because the repo root is itself a package (ComfyUI imports it).
for p in (ROOT, TESTS):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))
