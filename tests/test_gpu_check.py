"""The GPU check (scripts/gpu_check) in its CPU dry mode, so the kit cannot rot between the runs on a GPU: the same
run.sh and check.py, the test suite's tiny models, ComfyUI on the CPU. One run of the script (about a minute on two
cores) feeds the tests below; its JSON must have every row, every row that can run on a CPU must have run, and the
GPU-only setups must say so. The GPU figures themselves are never a CI test (docs/gpu.md)."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from instantid_testkit import comfy_support as cs

ROOT = Path(__file__).resolve().parents[1]
KIT = ROOT / "scripts" / "gpu_check"
RUN_TIMEOUT_S = 600


def _rows_module():
    """scripts/gpu_check/rows.py under its own name (a bare `rows` on sys.path could shadow something else)."""
    spec = importlib.util.spec_from_file_location("gpu_check_rows", KIT / "rows.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rows = _rows_module()


def _comfy_version(comfy: str) -> str:
    text = (Path(comfy) / "comfyui_version.py").read_text(encoding="utf-8")
    return text.split("__version__ = ")[1].split('"')[1]


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    """run.sh --cpu against the ComfyUI the suite uses: (completed process, JSON document, output folder)."""
    comfy = cs.comfy_path()
    if comfy is None:
        from instantid_testkit.comfy_env import SKIP_REASON
        pytest.skip(SKIP_REASON)
    tmp = tmp_path_factory.mktemp("gpu_check")
    out = tmp / "out"
    # one intra-op thread: the tiny models gain nothing from more, and CI's two cores are shared
    env = dict(os.environ, COMFYUI_PATH=comfy, PYTHON=sys.executable, GPU_CHECK_WORK=str(tmp / "work"),
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("GPU_CHECK_OUT", None)
    proc = subprocess.run(["bash", str(KIT / "run.sh"), "--cpu", "--out", str(out)], env=env, capture_output=True,
                          text=True, timeout=RUN_TIMEOUT_S)
    path = out / f"comfyui-{_comfy_version(comfy)}" / rows.FILE_NAME
    doc = json.loads(path.read_text()) if path.is_file() else None
    return proc, doc, path.parent


def _explain(proc, folder) -> str:
    log = folder / "gpu_check.log"
    return (f"run.sh exited {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}"
            + (f"\n--- gpu_check.log\n{log.read_text()[-6000:]}" if log.is_file() else ""))


def test_dry_run_completes_with_a_well_formed_json(dry_run):
    proc, doc, folder = dry_run
    assert proc.returncode == 0 and doc is not None, _explain(proc, folder)
    assert rows.validate(doc) == [], _explain(proc, folder)
    assert doc["mode"] == "cpu-dry"
    assert doc["build"]["status"] == rows.OK, doc["build"]
    setups = {s["name"]: s for s in doc["setups"]}
    assert setups["cpu"]["status"] == rows.OK, _explain(proc, folder)
    assert setups["cpu"]["torch_device"] == "cpu"
    # the GPU setups are listed, and say why they did not run
    for setup in rows.GPU_SETUPS:
        assert setups[setup["name"]]["status"] == rows.NEEDS_GPU
    assert doc["vram"]["status"] == rows.NEEDS_GPU


def test_dry_run_every_precision_row_ran_on_the_cpu_in_float32(dry_run):
    proc, doc, folder = dry_run
    assert doc is not None, _explain(proc, folder)
    ran = {(r["unet_dtype"], r["mode"]): r for r in doc["precision"]}
    assert sorted(ran) == sorted((u, m) for u in rows.UNET_DTYPES for m in rows.PRECISION_MODES)
    for key, row in ran.items():
        assert row["status"] == rows.OK, (key, row.get("error"), row.get("traceback"))
        # on the CPU every mode computes the projection, the K/V and the identity attention in float32
        for part in ("projection", "identity_kv", "attention_q"):
            assert row[part] == {"device": "cpu", "dtype": "float32"}, (key, part, row[part])
        assert row["adapter_after"] == ["cpu"], key
        assert row["output_finite"] is True, key
        # same math as the float32 CPU reference, so the errors are rounding at most
        assert row["rel_err_tokens"] < 1e-5 and row["rel_err_kv"] < 1e-5, (key, row)
        assert row["output_rel_diff_vs_float32"] is not None and row["output_rel_diff_vs_float32"] < 1e-3, (key, row)
    seed = doc["seed_setup"]
    assert [(r["unet_dtype"], r["mode"], r["status"]) for r in seed] == [(rows.SEED_UNET, rows.SEED_MODE, rows.OK)]


def test_dry_run_times_the_step_with_and_without_identity_attention(dry_run):
    proc, doc, folder = dry_run
    assert doc is not None, _explain(proc, folder)
    speed = doc["speed"]
    assert speed["status"] == rows.OK, speed
    assert speed["device"] == "cpu" and "not a GPU figure" in speed["note"]
    assert len(speed["step_ms_with_all"]) == len(speed["step_ms_without_all"]) == speed["pairs"] > 0
    assert speed["step_ms_with"] > 0 and speed["step_ms_without"] > 0 and speed["step_ratio"] > 0
    assert speed["projection_kv_ms_per_identity"] > 0 and speed["seconds_per_image"] > 0
    assert speed["projection_placement"] == {"device": "cpu", "dtype": "float32"}


def test_validate_names_what_is_missing(dry_run):
    """The validator the check and this test rely on must fail on a broken document."""
    proc, doc, folder = dry_run
    assert doc is not None, _explain(proc, folder)
    broken = json.loads(json.dumps(doc))
    dropped = broken["precision"].pop()
    del broken["speed"]["step_ratio"]
    broken["setups"][1]["status"] = "skipped"
    problems = rows.validate(broken)
    assert any(p.startswith(f"setup {dropped['setup']}: precision rows") for p in problems), problems
    assert any("no field 'step_ratio'" in p for p in problems), problems
    assert any("status 'skipped'" in p for p in problems), problems


def test_without_a_gpu_the_full_check_refuses_and_names_the_dry_mode(tmp_path):
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the refusal is for machines without one")
    proc = subprocess.run([sys.executable, str(KIT / "check.py"), "--out", str(tmp_path), "--comfyui", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "No CUDA GPU" in proc.stderr and "run.sh --cpu" in proc.stderr
    assert not (tmp_path / rows.FILE_NAME).exists()


def test_full_size_stand_ins_are_sdxl_to_comfyui():
    """The GPU run's stand-ins (not built in the dry mode: 8 GB) have the real layouts: ComfyUI's own detection takes
    the UNet for SDXL with its 2.57 G parameters, and the ControlNet for an SDXL one with IdentityNet's
    cross-attention width (2048) and RGB hint. Built on the meta device: shapes only."""
    comfy = cs.comfy_path()
    if comfy is None:
        from instantid_testkit.comfy_env import SKIP_REASON
        pytest.skip(SKIP_REASON)
    proc = subprocess.run([sys.executable, str(KIT / "layout_check.py"), "--comfyui", comfy], capture_output=True,
                          text=True, timeout=300, cwd=str(KIT), env=dict(os.environ, OMP_NUM_THREADS="1"))
    line = next((l for l in proc.stdout.splitlines() if l.startswith("LAYOUT ")), None)
    assert proc.returncode == 0 and line, proc.stdout[-3000:] + proc.stderr[-3000:]
    got = json.loads(line[len("LAYOUT "):])
    assert got["unet"]["detected_as"] == "SDXL"
    assert 2.55e9 < got["unet"]["parameters"] < 2.58e9, got
    control = got["controlnet"]
    assert control["detected_as"] == "SDXL" and control["context_dim"] == 2048, control
    assert control["adm_in_channels"] == 2816 and control["hint_channels"] == 3, control
    assert 1.2e9 < control["parameters"] < 1.3e9, control


def test_an_unknown_setup_name_is_refused_with_the_names_there_are(tmp_path):
    proc = subprocess.run([sys.executable, str(KIT / "check.py"), "--cpu", "--out", str(tmp_path), "--comfyui",
                           str(tmp_path), "--setups", "cpu,lowvrm"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "no setup lowvrm" in proc.stderr and "lowvram" in proc.stderr.split("the setups:")[1]
    assert not (tmp_path / rows.FILE_NAME).exists()
