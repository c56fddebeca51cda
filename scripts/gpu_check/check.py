"""The GPU check: build stand-in weights, run every ComfyUI setup in its own process (setup_child.py), collect their
rows into one JSON file (rows.py says its shape) and print a summary. run.sh calls this; docs/gpu.md explains it.

    python scripts/gpu_check/check.py --out DIR [--cpu] [--budget-s 480] [--work DIR] [--comfyui DIR] [--setups A,B]

--cpu is the dry mode: the same scripts with the test suite's tiny models on the CPU; rows that need a GPU say
"not run: needs a GPU".
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import rows

HERE = Path(__file__).resolve().parent
PACK = HERE.parents[1]
CHILD = HERE / "setup_child.py"
MIN_CHILD_S = 40  # what each setup still to come is promised when the budget is shared out
# The build process writes the stand-in weights with ComfyUI's own layer classes. With dynamic VRAM on (the default
# on NVIDIA), ComfyUI 0.33's layers are created without weights (they wait for a state dict to map in), so there is
# nothing to fill or save: the build runs with it off. The setups themselves then load the files with it on or off.
BUILD_FLAGS_GPU = ["--disable-dynamic-vram"]


def pack_commit() -> str:
    stamp = PACK / "PACK_COMMIT"  # written by prepare.sh into the bundle (no .git travels)
    if stamp.is_file():
        return stamp.read_text().strip()
    try:
        return subprocess.run(["git", "-C", str(PACK), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def unknown_flags(comfyui: str, flags) -> list:
    """Flags this ComfyUI's argument parser does not define (e.g. dynamic VRAM's on 0.3.x)."""
    text = (Path(comfyui) / "comfy" / "cli_args.py").read_text(encoding="utf-8")
    return [f for f in flags if f'"{f}"' not in text]


def comfyui_version(comfyui: str):
    """The version the tree says it is (what a setup's header reports too, once one has run)."""
    path = Path(comfyui) / "comfyui_version.py"
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    return text.split("__version__ = ")[1].split('"')[1] if "__version__ = " in text else None


def run_child(args, timeout: float, log) -> tuple:
    """(rows by table, exit code or 'timeout', seconds); stdout rows parsed, every other line logged."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    start = time.perf_counter()
    log.write(f"\n===== {' '.join(args)}\n")
    log.flush()
    got = []
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen([sys.executable, str(CHILD), *args], stdout=out, stderr=subprocess.STDOUT, env=env,
                                text=True, cwd=str(HERE))
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            code = "timeout"
        out.seek(0)
        for line in out:
            if line.startswith(rows.ROW_PREFIX):
                got.append(json.loads(line[len(rows.ROW_PREFIX):]))
            else:
                log.write(line)
    log.flush()
    return got, code, round(time.perf_counter() - start, 1)


def _failure(code, seconds, log_path) -> str:
    if code == "timeout":
        return f"timed out after {seconds} s (the check's time budget); see {log_path.name}"
    return f"the process exited {code}; see {log_path.name}"


def missing_chain_rows(setup: str, have, reason: str):
    done = {(r["unet_dtype"], r["mode"]) for r in have}
    return [{"setup": setup, "unet_dtype": u, "mode": m, "status": f"not run: {reason}"}
            for u in rows.UNET_DTYPES for m in rows.PRECISION_MODES if (u, m) not in done]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.environ.get("GPU_CHECK_OUT"), help="folder for gpu_check.json")
    parser.add_argument("--cpu", action="store_true", help="dry mode: tiny models on the CPU")
    parser.add_argument("--budget-s", type=float, default=float(os.environ.get("GPU_CHECK_BUDGET_S", 480)))
    parser.add_argument("--work", default=os.environ.get("GPU_CHECK_WORK"), help="scratch folder for the weights")
    parser.add_argument("--comfyui", default=os.environ.get("COMFYUI_PATH"))
    parser.add_argument("--setups", default=os.environ.get("GPU_CHECK_SETUPS", ""),
                        help="comma-separated setup names to run (default: all); e.g. a rerun of what failed")
    ns = parser.parse_args(argv)
    if not ns.out or not ns.comfyui:
        parser.error("--out (or GPU_CHECK_OUT) and --comfyui (or COMFYUI_PATH) are required")
    if not ns.cpu:
        import torch
        if not torch.cuda.is_available():
            print("No CUDA GPU is visible to this Python (torch.cuda.is_available() is False). On a machine without "
                  "one, run the dry mode: run.sh --cpu", file=sys.stderr)
            return 2
    t0 = time.perf_counter()
    out = Path(ns.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(ns.work or tempfile.mkdtemp(prefix="gpu_check_"))
    log_path = out / "gpu_check.log"
    tiny = ["--tiny"] if ns.cpu else []
    setups = rows.CPU_SETUPS + rows.GPU_SETUPS if ns.cpu else rows.GPU_SETUPS
    chosen = [n for n in ns.setups.split(",") if n]
    unknown_names = sorted(set(chosen) - {s["name"] for s in setups})
    if unknown_names:
        parser.error(f"no setup {', '.join(unknown_names)}; the setups: {', '.join(s['name'] for s in setups)}")
    runnable = [s for s in setups if (s in rows.CPU_SETUPS) == ns.cpu and (not chosen or s["name"] in chosen)]
    doc = {"schema": rows.SCHEMA, "mode": "cpu-dry" if ns.cpu else "gpu", "comfyui": comfyui_version(ns.comfyui),
           "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "machine": {"python": platform.python_version(), "pack_commit": pack_commit()},
           "budget_s": ns.budget_s, "setups": [], "seed_setup": [], "precision": [],
           "vram": rows.not_run("needs a GPU") if ns.cpu else rows.not_run("no setup ran it"),
           "speed": rows.not_run("no setup ran it"),
           "cubiq": rows.not_run("not part of this version of the check (cubiq's ComfyUI_InstantID under the same "
                                 "setups is left for a later one)")}
    with open(log_path, "w") as log:
        flags0 = ["--cpu"] if ns.cpu else [f for f in BUILD_FLAGS_GPU if not unknown_flags(ns.comfyui, [f])]
        got, code, seconds = run_child(["build", "--comfyui", ns.comfyui, "--work", str(work), *tiny, "--", *flags0],
                                       ns.budget_s - MIN_CHILD_S * len(runnable), log)
        built = next((r for r in got if r["table"] == "build"), None)
        doc["build"] = built or {"status": "error", "error": _failure(code, seconds, log_path)}
        for i, setup in enumerate(setups):
            entry = {"name": setup["name"], "flags": setup["flags"]}
            doc["setups"].append(entry)
            unknown = unknown_flags(ns.comfyui, setup["flags"])
            if (setup in rows.CPU_SETUPS) != ns.cpu:
                entry["status"] = rows.NEEDS_GPU
            elif setup not in runnable:
                entry["status"] = f"not run: not chosen (--setups {ns.setups})"
            elif unknown:
                entry["status"] = f"not run: this ComfyUI has no {' '.join(unknown)}"
            elif built is None:
                entry["status"] = "not run: the stand-in weights could not be built"
            if "status" in entry:
                continue
            left = ns.budget_s - (time.perf_counter() - t0)
            later = sum(1 for s in runnable[runnable.index(setup) + 1:])
            got, code, seconds = run_child(["run", "--comfyui", ns.comfyui, "--work", str(work), "--setup",
                                            setup["name"], "--tasks", ",".join(setup["tasks"]), *tiny, "--",
                                            *setup["flags"]], max(MIN_CHILD_S, left - MIN_CHILD_S * later), log)
            header = next((r for r in got if r["table"] == "setup"), {})
            entry.update({k: v for k, v in header.items() if k not in ("table", "name", "flags")})
            finished = any(r["table"] == "done" for r in got)
            entry["status"] = rows.OK if finished and code == 0 else rows.ERROR
            entry["seconds"] = seconds
            if entry["status"] == rows.ERROR:
                entry["error"] = _failure(code, seconds, log_path)
            doc["comfyui"] = doc["comfyui"] or header.get("comfyui")
            for key in ("device_name", "torch", "total_memory_mb"):
                doc["machine"].setdefault(key, header.get(key))
            chain_rows = {"seed_setup": [], "precision": []}
            for r in got:
                table = r.pop("table")
                if table in chain_rows:
                    chain_rows[table].append(r)
                elif table in ("vram", "speed"):
                    doc[table] = r
            reason = f"setup {setup['name']} ended before this row ({entry.get('error', 'see the log')})"
            if not chain_rows["seed_setup"]:
                chain_rows["seed_setup"] = [{"setup": setup["name"], "unet_dtype": rows.SEED_UNET,
                                             "mode": rows.SEED_MODE, "status": f"not run: {reason}"}]
            chain_rows["precision"] += missing_chain_rows(setup["name"], chain_rows["precision"], reason)
            doc["seed_setup"] += chain_rows["seed_setup"]
            doc["precision"] += chain_rows["precision"]
            for task in ("vram", "speed"):
                if task in setup["tasks"] and doc[task]["status"] == "not run: no setup ran it":
                    doc[task] = rows.not_run(reason)
    if ns.cpu and doc["speed"].get("status") == rows.OK:
        doc["speed"]["note"] = "CPU dry mode: the tiny model at a small size; exercises the code, not a GPU figure"
    doc["seconds"] = round(time.perf_counter() - t0, 1)
    doc["problems"] = rows.validate(doc)
    path = out / rows.FILE_NAME
    path.write_text(json.dumps(doc, indent=1, default=str))
    print(summary(doc))
    print(f"wrote {path} ({doc['seconds']} s); log: {log_path}")
    return 1 if doc["problems"] else 0


def summary(doc) -> str:
    lines = [f"GPU check ({doc['mode']}), ComfyUI {doc['comfyui']}, {doc['machine'].get('device_name')}"]
    for s in doc["setups"]:
        lines.append(f"  setup {s['name']:<24} {s['status']:<28} dynamic VRAM {s.get('dynamic_vram')}, "
                     f"{s.get('vram_state')}, {s.get('seconds')} s")
    for r in doc["precision"]:
        if r["status"] == rows.OK:
            p, q = r["projection"] or {}, r["attention_q"] or {}
            lines.append(f"  {r['setup']:<24} unet {r['unet_dtype']:<8} {r['mode']:<11} projection "
                         f"{p.get('device')}/{p.get('dtype')}, attention {q.get('device')}/{q.get('dtype')}, "
                         f"K/V err {r['rel_err_kv']:.1e}, output vs float32 {r['output_rel_diff_vs_float32']}")
        else:
            lines.append(f"  {r['setup']:<24} unet {r['unet_dtype']:<8} {r['mode']:<11} {r['status']} "
                         f"{r.get('error') or ''}")
    for table in ("vram", "speed", "cubiq"):
        lines.append(f"  {table}: " + json.dumps({k: v for k, v in doc[table].items()
                                                  if not k.endswith("_all") and k != "traceback"}))
    if doc.get("problems"):
        lines.append("  PROBLEMS with the JSON's shape: " + "; ".join(doc["problems"]))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
