"""The command-line side of the pack: start ComfyUI in-process (no server), run UI-format workflows through its
own executor, check models, download them, migrate other packs' workflows.

Nothing here imports ComfyUI at import time; `boot.boot_comfy` does, once per process. The tests reuse the same
boot and executor (tests/instantid_testkit/comfy_support). Modules import the core and each other relatively:
the runner is part of the package ComfyUI makes of the pack, and every entry point (``python <pack folder> …``,
the tests, scripts, benchmarks, Ray workers) registers that package first (pack_import.py), so each module of the
pack is one module per process.
"""
