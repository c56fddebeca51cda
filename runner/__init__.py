"""The command-line side of the pack: start ComfyUI in-process (no server), run UI-format workflows through its
own executor, check models, download them, migrate other packs' workflows.

Nothing here imports ComfyUI at import time; `boot.boot_comfy` does, once per process. The tests reuse the same
boot and executor (tests/instantid_testkit/comfy_support). Modules import the core as ``instantid_core``: the
entry points (``python <pack folder> …``, the tests, scripts, benchmarks) put the pack folder on sys.path,
after ComfyUI's own folder, so ComfyUI's top-level ``nodes`` module is never shadowed by the pack's ``nodes/``.
"""
