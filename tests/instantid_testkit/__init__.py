"""Test fixtures shared by the tests, the benchmarks and scripts/build_workflows.py: adapters in the exact on-disk
layout (adapter_fixtures), tiny ONNX face models (fixtures_onnx), a tiny SDXL-architecture ComfyUI model and
ControlNet (comfy_support), one booted ComfyUI with all of them in place (comfy_env), and API prompts (prompts).

The tests import it with tests/ on sys.path (tests/conftest.py); benchmarks and scripts load it by name from its
folder (``benchmarks/_common.py``), so tests/ never goes on their sys.path.
"""
