"""One child process of the GPU check: ComfyUI booted with ONE command line (it reads its arguments once, at
import), then either `build` (write the stand-in weight files) or `run` (load them through the loaders and run this
setup's tasks). Every result is one stdout line ``GPU_CHECK_ROW <json>``, printed as soon as it exists, so a process
that times out or crashes still leaves the rows it finished.

    python setup_child.py build --comfyui DIR --work DIR [--tiny] -- <ComfyUI flags>
    python setup_child.py run --comfyui DIR --work DIR --setup NAME --tasks chain,vram,speed [--tiny] -- <flags>
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path

# (chain size, chain steps), vram (size, steps), speed (size, pairs, steps per run, steps per image)
SIZES = {"full": {"chain": (512, 2), "vram": (1024, 4), "speed": (1024, 10, 3, 20)},
         "tiny": {"chain": (64, 1), "vram": (64, 2), "speed": (64, 4, 2, 3)}}  # the dry mode: code paths only


def emit(table: str, row: dict) -> None:
    import rows
    print(rows.ROW_PREFIX + json.dumps({"table": table, **row}, default=str), flush=True)


def build(ns, flags) -> None:
    import comfy_boot
    header = comfy_boot.boot(ns.comfyui, flags)
    import stand_in_weights
    start = time.perf_counter()
    files = stand_in_weights.write_all(Path(ns.work), tiny=ns.tiny)
    emit("build", {"status": "ok", "seconds": round(time.perf_counter() - start, 1), "files": files,
                   "device": header["torch_device"]})


def run(ns, flags) -> None:
    import comfy_boot
    header = comfy_boot.boot(ns.comfyui, flags)
    emit("setup", {"name": ns.setup, "flags": flags, **header})
    pack = comfy_boot.load_pack()
    import chain
    import stand_in_weights
    files = stand_in_weights.paths(Path(ns.work))
    sizes = SIZES["tiny" if ns.tiny else "full"]
    import rows
    models = chain.load_models(pack, files, rows.UNET_DTYPES, tiny=ns.tiny)
    observer = chain.Observer(pack)
    tasks = ns.tasks.split(",")
    if "chain" in tasks:
        from precision_rows import chain_rows
        for table, row in chain_rows(models, observer, files, *sizes["chain"]):
            emit(table, {"setup": ns.setup, "flags": flags, **row})
    for task, module, fn in (("vram", "vram_row", "vram_row"), ("speed", "speed_row", "speed_row")):
        if task not in tasks:
            continue
        try:
            row = getattr(__import__(module), fn)(models, observer, ns.setup, *sizes[task])
        except Exception as exc:  # reported in the row; the other task still runs
            row = {"status": "error", "setup": ns.setup, "error": f"{type(exc).__name__}: {exc}",
                   "traceback": traceback.format_exc()[-2500:]}
        emit(task, row)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("build", "run"))
    parser.add_argument("--comfyui", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--setup", default="")
    parser.add_argument("--tasks", default="chain")
    parser.add_argument("--tiny", action="store_true")
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index("--") if "--" in argv else len(argv)
    ns = parser.parse_args(argv[:split])
    flags = argv[split + 1:]  # ComfyUI's command line, after --
    if ns.tiny:  # the dry mode shares 2 cores with other work; the tiny models gain nothing from more threads
        import torch
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or 1))
    start = time.perf_counter()
    (build if ns.command == "build" else run)(ns, flags)
    emit("done", {"seconds": round(time.perf_counter() - start, 1)})


if __name__ == "__main__":
    sys.exit(main())
