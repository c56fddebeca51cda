"""The GPU check's JSON: which setups run, the row tables, and the one validator that both the check (before it
writes the file) and the CI test use. No torch, no ComfyUI here: the CI test reads a finished file with it."""
from __future__ import annotations

from typing import Dict, List

SCHEMA = 1
FILE_NAME = "gpu_check.json"
ROW_PREFIX = "GPU_CHECK_ROW "            # how a setup's child process prints one row on stdout
NEEDS_GPU = "not run: needs a GPU"       # the conftest's allowed skip words; a GPU-only row in the CPU dry mode
OK, ERROR = "ok", "error"

# The precision node's modes (nodes/model_nodes.py offers instantid_core.compute.precision.PrecisionMode's values).
# float32 runs first in each UNet dtype: the other modes' sampled output is compared with it.
PRECISION_MODES = ("float32", "auto", "half_on_gpu", "keep_on_cpu")
UNET_DTYPES = ("float16", "bfloat16")
SEED_MODE, SEED_UNET = "auto", "float16"   # the seed's setup: fp16 UNet, InstantID left where the loader puts it

# One ComfyUI command line per child process (ComfyUI reads its arguments once, at import).
# tasks: chain = seed setup + every precision mode x UNet dtype; vram, speed = the default setup only.
GPU_SETUPS = (
    {"name": "default", "flags": [], "tasks": ["chain", "vram", "speed"]},
    {"name": "no-dynamic-vram", "flags": ["--disable-dynamic-vram"], "tasks": ["chain"]},
    {"name": "lowvram", "flags": ["--lowvram"], "tasks": ["chain"]},
    {"name": "lowvram-no-dynamic-vram", "flags": ["--lowvram", "--disable-dynamic-vram"], "tasks": ["chain"]},
    {"name": "novram", "flags": ["--novram"], "tasks": ["chain"]},
)
# The dry mode: the same code on the CPU with tiny models. Speed runs too (so it cannot rot) but on a tiny model
# its figures say nothing about a GPU; VRAM has no CPU meaning.
CPU_SETUPS = ({"name": "cpu", "flags": ["--cpu"], "tasks": ["chain", "speed"]},)

CHAIN_FIELDS = ("setup", "flags", "unet_dtype", "mode", "half_type", "status", "error", "projection", "identity_kv",
                "attention_q", "adapter_after", "rel_err_tokens", "rel_err_kv", "output_finite", "seconds")
PRECISION_FIELDS = CHAIN_FIELDS + ("output_rel_diff_vs_float32",)
VRAM_FIELDS = ("status", "setup", "runs", "kv_cache_mb", "adapter_in_vram_during_sampling", "allocated_before_mb",
               "allocated_after_mb", "left_behind_mb", "device_used_after_mb")
VRAM_RUN_FIELDS = ("name", "peak_allocated_mb", "device_used_peak_mb")
SPEED_FIELDS = ("status", "setup", "device", "size", "pairs", "steps_per_run", "step_ms_without", "step_ms_with",
                "step_ratio", "projection_kv_ms_per_identity", "image_steps", "seconds_per_image")
SETUP_FIELDS = ("name", "flags", "status", "seconds", "vram_state", "dynamic_vram", "torch_device",
                "offload_device")


def not_run(reason: str) -> dict:
    return {"status": f"not run: {reason}"}


def _missing(row: dict, fields, where: str) -> List[str]:
    return [f"{where}: no field {f!r}" for f in fields if f not in row]


def _placement_ok(value) -> bool:
    return value is None or (isinstance(value, dict) and {"device", "dtype"} <= set(value))


def validate(doc: Dict) -> List[str]:
    """Every problem with a check's JSON, as readable strings (empty = the right shape). A row either ran
    (status ok / error, every field present) or says why not (status 'not run: …')."""
    problems = _missing(doc, ("schema", "mode", "comfyui", "machine", "setups", "seed_setup", "precision", "vram",
                              "speed", "cubiq", "seconds"), "document")
    if problems:
        return problems
    if doc["schema"] != SCHEMA:
        problems.append(f"schema {doc['schema']} != {SCHEMA}")
    setups = GPU_SETUPS if doc["mode"] == "gpu" else CPU_SETUPS + GPU_SETUPS
    names = [s["name"] for s in doc["setups"]]
    if names != [s["name"] for s in setups]:
        problems.append(f"setups {names}, expected {[s['name'] for s in setups]}")
    for s in doc["setups"]:
        if s.get("status") in (OK, ERROR):
            problems += _missing(s, SETUP_FIELDS, f"setup {s.get('name')}")
        elif not str(s.get("status", "")).startswith("not run: "):
            problems.append(f"setup {s.get('name')}: status {s.get('status')!r}")
    ran = [s["name"] for s in doc["setups"] if s.get("status") in (OK, ERROR)]
    for table, fields in (("seed_setup", CHAIN_FIELDS), ("precision", PRECISION_FIELDS)):
        for row in doc[table]:
            where = f"{table} {row.get('setup')} {row.get('unet_dtype')} {row.get('mode')}"
            if str(row.get("status", "")).startswith("not run: "):
                continue
            problems += _missing(row, fields, where)
            if row.get("status") not in (OK, ERROR):
                problems.append(f"{where}: status {row.get('status')!r}")
            for f in ("projection", "identity_kv", "attention_q"):
                if not _placement_ok(row.get(f)):
                    problems.append(f"{where}: {f} is {row.get(f)!r}, expected {{device, dtype}}")
    for name in ran:
        seeds = [r for r in doc["seed_setup"] if r.get("setup") == name]
        if len(seeds) != 1:
            problems.append(f"setup {name}: {len(seeds)} seed_setup rows, expected 1")
        got = sorted((r.get("unet_dtype"), r.get("mode")) for r in doc["precision"] if r.get("setup") == name)
        want = sorted((u, m) for u in UNET_DTYPES for m in PRECISION_MODES)
        if got != want:
            problems.append(f"setup {name}: precision rows {got}, expected {want}")
    for table, fields in (("vram", VRAM_FIELDS), ("speed", SPEED_FIELDS)):
        row = doc[table]
        if str(row.get("status", "")).startswith("not run: "):
            continue
        problems += _missing(row, fields, table)
        if table == "vram":
            for run in row.get("runs", []):
                problems += _missing(run, VRAM_RUN_FIELDS, f"vram run {run.get('name')}")
    if not str(doc["cubiq"].get("status", "")).startswith(("not run: ", OK, ERROR)):
        problems.append(f"cubiq: status {doc['cubiq'].get('status')!r}")
    return problems
