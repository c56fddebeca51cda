"""Benchmark 8: how soon `download --help` and `download --dry-run` finish, beside what `download` cost before.

`download` (and `doctor` without a workflow) read ComfyUI's model folders from its files (runner/comfy_folders.py)
instead of starting ComfyUI. Each command runs in a fresh process, interleaved, --runs times (5); the median wall
time is reported:
  help     python <pack> download --help
  dry      python <pack> download --dry-run            (COMFYUI_PATH: the ComfyUI given, folders read from its files)
  booted   a process that starts that ComfyUI in-process as `download` did before (runner.boot.boot_comfy with
           custom nodes, this pack loaded, then folder_paths; a temporary --base-directory, so nothing is written
           into that ComfyUI), only with COMFYUI_PATH set; the yardstick, not a target
Target: help and dry run each under 2 s.

    COMFYUI_PATH=/path/to/ComfyUI python benchmarks/bench_cli_start.py [--runs 5]
Without COMFYUI_PATH the dry run uses an empty ComfyUI-like folder and the booted yardstick is skipped.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common  # noqa: F401
from _common import ROOT

BOOTED = r"""
import _common  # the pack, as ComfyUI names it
from runner.boot import boot_comfy, loaded_pack
boot_comfy({comfy!r}, ["--cpu", "--base-directory", {base!r}], custom_nodes=True)
loaded_pack({root!r})
import folder_paths
print(folder_paths.get_folder_paths("checkpoints")[0])
"""


def wall(cmd, env) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          cwd=_common.BENCHMARKS)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{cmd[:4]} failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    opts = parser.parse_args()
    comfy = os.environ.get("COMFYUI_PATH")
    with tempfile.TemporaryDirectory() as tmp:
        if not comfy:
            comfy = os.path.join(tmp, "ComfyUI")
            os.makedirs(os.path.join(comfy, "comfy"))
            for name in ("main.py", "folder_paths.py"):
                Path(comfy, name).touch()
        env = {**os.environ, "COMFYUI_PATH": comfy, "HF_HUB_OFFLINE": "1"}
        commands = {"help": [sys.executable, str(ROOT), "download", "--help"],
                    "dry": [sys.executable, str(ROOT), "download", "--dry-run"]}
        if os.environ.get("COMFYUI_PATH"):
            base = os.path.join(tmp, "base")
            os.makedirs(os.path.join(base, "custom_nodes"))  # ComfyUI 0.33 lists it at start-up; it must exist
            commands["booted"] = [sys.executable, "-c", BOOTED.format(root=str(ROOT), comfy=comfy, base=base)]
        for cmd in commands.values():  # warm-up: page cache, .pyc files
            wall(cmd, env)
        times = {name: [] for name in commands}
        for _ in range(opts.runs):
            for name, cmd in commands.items():
                times[name].append(wall(cmd, env))
    med = {name: statistics.median(t) for name, t in times.items()}
    for name, t in times.items():
        print(f"{name:<7} median {med[name]:.3f} s  (min {min(t):.3f}, max {max(t):.3f}, {len(t)} runs)")
    booted = f"; starting ComfyUI as before took {med['booted']:.2f} s" if "booted" in med else \
        "; booted yardstick skipped (no COMFYUI_PATH)"
    ok = med["help"] < 2 and med["dry"] < 2
    print(f"RESULT download --help {med['help']:.2f} s, download --dry-run {med['dry']:.2f} s (median of "
          f"{opts.runs}){booted}; target < 2 s: {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
