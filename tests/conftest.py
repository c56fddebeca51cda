import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
# The test kit (tests/instantid_testkit) and the browser helpers from a clean clone, with no install step. The kit
# registers the pack as the package ComfyUI makes of it, with `instantid_core` and `runner` naming its modules
# (runner/pack_import.py): the repo root never goes on sys.path. pytest runs in importlib mode (pyproject.toml)
# because the repo root is itself a package (ComfyUI imports it).
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))
import instantid_testkit  # noqa: E402,F401


# --- CI's full run: a test may skip only because it needs a GPU ------------------------------------------------
# .ci/run sets INSTANTID_FULL_RUN=1 when it has provided ComfyUI, the third-party packs (from ../shared/vendor),
# both frontends and Chromium; then any other skip means a real part went missing and the run must fail instead
# of passing quietly.
import os  # noqa: E402

import pytest  # noqa: E402

ALLOWED_SKIP_WORDS = ("needs a GPU",)
_bad_skips = []


def pytest_runtest_logreport(report):
    if report.skipped and os.environ.get("INSTANTID_FULL_RUN") == "1":
        reason = str(report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr)
        if not any(word in reason for word in ALLOWED_SKIP_WORDS):
            _bad_skips.append((report.nodeid, reason))


def pytest_sessionfinish(session, exitstatus):
    if _bad_skips:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    if _bad_skips:
        terminalreporter.section("skipped in a full run (INSTANTID_FULL_RUN=1): these must run", red=True)
        for nodeid, reason in _bad_skips:
            terminalreporter.line(f"{nodeid}: {reason}")


# --- every test starts from the same random state, so a failure reproduces on the next run ------------------
@pytest.fixture(autouse=True)
def _seeded_random_state():
    import random
    import torch
    random.seed(0)
    torch.manual_seed(0)
    yield


# --- which tests boot ComfyUI: CI runs those on every supported core ----------------------------------------
# A test is a ComfyUI-integration test (marker `comfyui`) when it, one of its fixtures, or a helper of its module
# they call reaches ComfyUI through the kit: the shared in-process ComfyUI (comfy_env), an in-process boot
# (bootstrap_comfy), a ComfyUI found for a subprocess (comfy_path) or a ComfyUI server (ComfyServer). The browser
# tests (tests/test_browser*.py) are marked `browser` as well. On the oldest supported core .ci/run selects
# `-m "comfyui and (not browser or both_cores) and not cross_core and not newest_core"` (a browser test whose
# outcome differs by core, such as Node Replacement's, is marked `both_cores` by hand): a test that needs what only the newest
# core has (say, the Node Replacement API) is marked `newest_core` by hand instead of skipping there, since a full
# run fails on any skip.
import inspect  # noqa: E402
import types  # noqa: E402

COMFY_ENTRY_POINTS = frozenset({"comfy_env", "bootstrap_comfy", "comfy_path", "ComfyServer"})


def _names(code: types.CodeType) -> set:
    """Every global or attribute name a function's code (nested functions included) refers to."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def _reaches_comfyui(func, seen: set) -> bool:
    func = inspect.unwrap(func)
    code = getattr(func, "__code__", None)
    if code is None or func in seen:
        return False
    seen.add(func)
    names = _names(code)
    if names & COMFY_ENTRY_POINTS:
        return True
    module_globals = getattr(func, "__globals__", {})
    return any(_reaches_comfyui(module_globals[n], seen) for n in names
               if inspect.isfunction(module_globals.get(n)) and module_globals[n].__module__ == func.__module__)


def pytest_collection_modifyitems(config, items):
    for item in items:
        functions = [getattr(item, "function", None)] + [
            d.func for defs in item._fixtureinfo.name2fixturedefs.values() for d in defs]
        seen: set = set()
        if any(f is not None and _reaches_comfyui(f, seen) for f in functions):
            item.add_marker(pytest.mark.comfyui)
        if Path(str(item.fspath)).name.startswith("test_browser"):
            item.add_marker(pytest.mark.browser)
