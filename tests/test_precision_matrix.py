"""No dtype/device error, and float32 embedding math on the CPU, in every combination of
ComfyUI command line × adapter weights stored fp32/fp16/bf16 × Precision/Offload mode (and no manager node).

ComfyUI parses its command line once per process (module globals), so each flag set runs in ONE child process
(tests/instantid_testkit/matrix_child.py) that bootstraps ComfyUI with those flags, loads the tiny models once and runs the full
node chain for every (adapter dtype, precision setting) row. This test is parametrised by flag set and asserts
every row the child prints. Rows per flag set: 3 adapter dtypes × 7 settings = 21.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from instantid_testkit import comfy_support as cs

TESTS = Path(__file__).resolve().parent
CHILD = TESTS / "instantid_testkit" / "matrix_child.py"
ROW_PREFIX = "MATRIX_ROW "
ROWS_PER_FLAG_SET = 3 * 7
CHILD_TIMEOUT_S = 600

CPU_FLAG_SETS = [("--cpu",), ("--cpu", "--force-fp16"), ("--cpu", "--fp16-unet"), ("--cpu", "--bf16-unet"),
                 ("--cpu", "--fp32-unet")]
IMPOSSIBLE_ON_CPU = [("--cpu", "--lowvram"), ("--cpu", "--novram"), ("--cpu", "--gpu-only")]
CUDA_FLAG_SETS = [(), ("--lowvram",), ("--novram",), ("--force-fp16",), ("--bf16-unet",), ("--gpu-only",)]

IMPOSSIBLE_REASON = ("needs a GPU: {flag} cannot be combined with --cpu: ComfyUI puts --cpu, --lowvram, --novram, --highvram, "
                     "--normalvram and --gpu-only in one mutually exclusive argparse group (comfy/cli_args.py), so "
                     "'--cpu {flag}' is an argparse error (exit 2); and without --cpu, ComfyUI cannot start on a machine "
                     "without a GPU (comfy/model_management.py queries CUDA at import). Covered by the CUDA row "
                     "'{flag}' on a GPU machine.")


def _cuda_available() -> bool:
    try:
        import torch
        return bool(torch.cuda.is_available())
    except Exception:
        return False


def _id(flags) -> str:
    return " ".join(flags) if flags else "cuda-default"


def _params():
    params = [pytest.param(f, id=_id(f)) for f in CPU_FLAG_SETS]
    params += [pytest.param(f, id=_id(f), marks=pytest.mark.skip(reason=IMPOSSIBLE_REASON.format(flag=f[1])))
               for f in IMPOSSIBLE_ON_CPU]
    no_cuda = pytest.mark.skipif(not _cuda_available(), reason=(
        "needs a GPU: CUDA (torch.cuda.is_available() is False): ComfyUI without --cpu runs on the GPU"))
    params += [pytest.param(f, id=_id(f), marks=no_cuda) for f in CUDA_FLAG_SETS]
    return params


def run_child(flags, tmp: Path):
    """Run the child for one flag set; returns (header, rows, done, completed process)."""
    # one intra-op thread: the tiny models gain nothing from two, and on a shared 2-core box two OpenMP threads
    # competing with other processes made a child ~8x slower (87 s vs 11 s measured)
    threads = os.environ.get("MATRIX_THREADS", "1")
    env = dict(os.environ, COMFYUI_PATH=cs.comfy_path(), PYTHONUNBUFFERED="1", OMP_NUM_THREADS=threads,
               MKL_NUM_THREADS=threads)
    proc = subprocess.run([sys.executable, str(CHILD), "--tmp", str(tmp), "--", *flags], env=env,
                          capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
    parsed = [json.loads(line[len(ROW_PREFIX):]) for line in proc.stdout.splitlines() if line.startswith(ROW_PREFIX)]
    header = next((p["header"] for p in parsed if "header" in p), None)
    done = next((p for p in parsed if p.get("done")), None)
    rows = [p for p in parsed if "adapter" in p]
    return header, rows, done, proc


def row_problems(row) -> list:
    """Everything wrong with one row, as readable strings (empty = the row passes)."""
    if row.get("error"):
        return [f"error {row['error']}\n{row.get('traceback', '')}"]
    out = []
    exp_dev, exp_dtype = row["expected_compute"]
    want = f"{exp_dev}/{exp_dtype}"
    if not row["image_finite"]:
        out.append("decoded image is not finite")
    if row["image_shape"] != [1, 64, 64, 3]:
        out.append(f"decoded image shape {row['image_shape']}")
    if not row["projection_ok"] or row["projection_hook_calls"] == 0:
        out.append(f"projection computed in {row['projection_seen']} ({row['projection_hook_calls']} hooked module "
                   f"calls), expected {want}")
    if not row["kv_ok"]:
        out.append(f"identity K/V computed as {row['kv_master']}, expected {want}")
    if row["tokens"] != ["cpu/float32"]:
        out.append(f"identity tokens are {row['tokens']}, expected cpu/float32")
    if row["weights_devices"] != [row["offload_device"]]:
        out.append(f"adapter weights on {row['weights_devices']} after the run, offload device is "
                   f"{row['offload_device']}")
    expected_stored = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}[row["adapter"]]
    if row["weights_stored"] != [expected_stored]:
        out.append(f"adapter weights stored as {row['weights_stored']}, the file is {expected_stored}")
    if row["patch_calls"] != row["kv_layers"] or row["kv_layers"] != 17:
        out.append(f"{row['patch_calls']} patch calls for {row['kv_layers']} adapter layers in one step")
    # K/V served to the attention: q's device, float32 on the CPU, q's dtype elsewhere
    attn = {q.split("/")[0] + "/" + ("float32" if q.startswith("cpu/") else q.split("/")[1]) for q in row["q_seen"]}
    if len(row["q_seen"]) != 1 or set(row["kv_served"]) != attn:
        out.append(f"K/V served as {row['kv_served']} for q {row['q_seen']}")
    for q_dtype, t in row["term"].items():
        if t["layers"] != 17:
            out.append(f"identity term checked on {t['layers']} layers")
        if not t["vs_same_weights_fp32"] <= t["tol_same"]:
            out.append(f"identity term (q {q_dtype}) differs from float32 math on the same weights by "
                       f"{t['vs_same_weights_fp32']:.2e} relative (tolerance {t['tol_same']:g})")
        if not t["vs_fp32_file"] <= t["tol_fp32_file"]:
            out.append(f"identity term (q {q_dtype}) differs from the float32 run of the fp32 file by "
                       f"{t['vs_fp32_file']:.2e} relative (tolerance {t['tol_fp32_file']:g})")
    return out


def summary(rows) -> str:
    lines = [f"{'adapter':<7} {'mode':<12} {'half':<5} {'unet w/cast':<18} {'projection':<14} {'K/V':<14} "
             f"{'q':<14} {'term fp32 err':>13} {'vs fp32 file':>12} {'s':>6}"]
    for r in rows:
        if r.get("error"):
            lines.append(f"{r['adapter']:<7} {r['mode']:<12} {str(r['half_type']):<5} ERROR {r['error']}")
            continue
        t = next(v for v in r["term"].values() if v["from_unet"])
        lines.append(f"{r['adapter']:<7} {r['mode']:<12} {str(r['half_type']):<5} "
                     f"{r['unet_weights'] + '/' + str(r['unet_manual_cast']):<18} "
                     f"{'/'.join(r['expected_compute']):<14} {','.join(r['kv_master']):<14} "
                     f"{','.join(r['q_seen']):<14} {t['vs_same_weights_fp32']:>13.2e} {t['vs_fp32_file']:>12.2e} "
                     f"{r['seconds']:>6.2f}")
    return "\n".join(lines)


@pytest.mark.parametrize("flags", _params())
def test_precision_matrix(flags, tmp_path):
    if cs.comfy_path() is None:
        from instantid_testkit.comfy_env import SKIP_REASON
        pytest.skip(SKIP_REASON)
    header, rows, done, proc = run_child(flags, tmp_path)
    log_tail = (proc.stdout[-3000:] + "\n--- stderr ---\n" + proc.stderr[-6000:])
    assert proc.returncode == 0, f"child exited {proc.returncode}:\n{log_tail}"
    assert header is not None and done is not None, f"child did not finish:\n{log_tail}"
    # the flags really took effect in the child (not the --cpu that comfy_env would have used)
    for flag in flags:
        key = flag.lstrip("-").replace("-", "_")
        assert header["args"][key], (flag, header)
    assert header["args"]["cpu"] == ("--cpu" in flags)
    if "--cpu" in flags:
        assert header["torch_device"] == "cpu" and header["offload_device"] == "cpu"
    if "--force-fp16" in flags:
        assert header["unet_dtype_global"] == "float16"  # the global the seed pack trusted: fp16 even on the CPU
    print(f"\nflags {_id(flags)}: {header}\n{summary(rows)}\nchild time {done['seconds']} s")
    assert len(rows) == ROWS_PER_FLAG_SET, f"{len(rows)} rows:\n{summary(rows)}\n{log_tail}"
    combos = {(r["adapter"], r["mode"], r["half_type"]) for r in rows}
    assert len(combos) == ROWS_PER_FLAG_SET
    failures = [f"[{_id(flags)} | adapter {r['adapter']} | {r['mode']} {r['half_type'] or ''}] " + "; ".join(p)
                for r in rows if (p := row_problems(r))]
    assert not failures, "\n".join(failures) + "\n\n" + summary(rows)
