"""The `batch` sub-command: its options, and which executor runs the rows."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Callable, Optional

DEFAULT_WORKFLOW = "example_workflows/instantid_basic_portrait.json"


def add_parser(sub, pack: Path) -> None:
    b = sub.add_parser("batch", help="many faces x many prompts through one workflow; resumable (rerun skips "
                                     "what is made), in-process by default, or on ComfyUI servers / Ray",
                       description="Rows come from a manifest (CSV or JSONL, see docs/batch.md) or from --faces x "
                                   "--prompts x --seeds. Images go to --out as <id>_<prompt>_<seed>.png with "
                                   "results.jsonl. Exit status: 0 all made, 1 some row failed, 2 cannot start, "
                                   "130 stopped by Ctrl-C (run again to continue).")
    b.add_argument("manifest", nargs="?", help="CSV/TSV/JSONL manifest, one row per image")
    b.add_argument("--workflow", default=DEFAULT_WORKFLOW,
                   help=f"UI or API-format workflow (cubiq's converted as `run` does); default {DEFAULT_WORKFLOW}")
    b.add_argument("--faces", help="folder of face photos (and saved .safetensors identities): one person each")
    b.add_argument("--prompts", help="text file, one prompt per line (with --faces)")
    b.add_argument("--seeds", type=int, default=1, help="images per face and prompt, seeds --seed, --seed+1, … "
                                                       "(with --faces; default 1)")
    b.add_argument("--seed", type=int, default=0, help="first seed with --faces; the seed of manifest rows "
                                                      "without one (default 0)")
    b.add_argument("--out", default="batch_output", help="output folder (default: batch_output)")
    b.add_argument("--allow-dir", action="append", default=[], metavar="DIR",
                   help="another folder photos may come from (default: the manifest's folder or --faces only)")
    for name in ("checkpoint", "controlnet", "adapter"):
        b.add_argument(f"--{name}", help="as for `run`, for every row")
    for name in ("width", "height", "steps"):
        b.add_argument(f"--{name}", type=int, help="for every row without its own")
    b.add_argument("--set", action="append", default=[], metavar="'TITLE.input=value'",
                   help="set a widget for every row (a row's own 'set' comes after)")
    b.add_argument("--server", action="append", default=[], metavar="URL",
                   help="run on this ComfyUI server (repeat for several), e.g. http://gpu1:8188; the pack must be "
                        "installed there")
    b.add_argument("--server-queue", type=int, default=2,
                   help="prompts queued per server at a time (default 2: one running, one waiting)")
    b.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="run on a Ray cluster (ADDRESS, or 'auto'; none: a local one); needs `pip install "
                        "\"ray[data]\"` and ComfyUI + this pack on every node")
    b.add_argument("--ray-actors", type=int, help="ComfyUI actors (default: one per GPU, else 1)")
    b.add_argument("--ray-gpus-per-actor", type=float, help="default 1 when the cluster has GPUs, else 0")
    b.add_argument("--ray-cpus-per-actor", type=float, default=1.0)


def main_batch(opts, pack: Path, comfy_root: Optional[Path], comfy_args: list,
               boot: Callable[[], None]) -> int:
    from .manifest import ManifestError, cross_product, read_manifest
    from ..arg_checks import shown_path
    from .run import run_batch

    allowed = [Path(d) for d in opts.allow_dir]
    try:
        if opts.manifest and opts.faces:
            raise ManifestError("give a manifest or --faces/--prompts, not both")
        if opts.manifest:
            rows = read_manifest(Path(opts.manifest), opts.seed, allowed)
        elif opts.faces and opts.prompts:
            rows = cross_product(Path(opts.faces), Path(opts.prompts),
                                 range(opts.seed, opts.seed + max(opts.seeds, 1)), allowed)
        else:
            raise ManifestError("give a manifest, or --faces DIR --prompts FILE [--seeds N]")
    except ManifestError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    try:
        wf_path = Path(opts.workflow) if Path(opts.workflow).exists() else pack / opts.workflow
        workflow_bytes = wf_path.read_bytes()
        workflow = json.loads(workflow_bytes)
    except (OSError, ValueError, RecursionError) as exc:  # RecursionError: JSON nested too deeply
        why = "it is nested too deeply" if isinstance(exc, RecursionError) else \
            (getattr(exc, "strerror", None) or str(exc))
        print(f"cannot read workflow {shown_path(opts.workflow)}: {why}", file=sys.stderr)
        return 2
    options = {"checkpoint": opts.checkpoint, "controlnet": opts.controlnet, "adapter": opts.adapter,
               "steps": opts.steps, "width": opts.width, "height": opts.height, "sets": list(opts.set)}
    name = str(wf_path.name)
    if opts.server and opts.ray is not None:
        print("give --server or --ray, not both", file=sys.stderr)
        return 2
    if opts.server:
        from .servers import ServerExecutor, ServerSetupError
        executor = ServerExecutor(opts.server, workflow, name, options, queue=max(opts.server_queue, 1))
        try:
            executor.check()
        except ServerSetupError as exc:
            print(str(exc), file=sys.stderr)
            return 2
    elif opts.ray is not None:
        try:
            import ray  # noqa: F401  (an optional extra)
        except ImportError:
            print('--ray needs Ray: pip install "ray[data]"', file=sys.stderr)
            return 2
        from .ray_pool import RayExecutor
        executor = RayExecutor(opts.ray or None, workflow, name, options, comfy_root=comfy_root,
                               comfy_args=comfy_args, actors=opts.ray_actors, gpus=opts.ray_gpus_per_actor,
                               cpus=opts.ray_cpus_per_actor)
    else:
        if comfy_root is None:
            print("ComfyUI not found: install this pack in ComfyUI/custom_nodes/, pass --comfyui DIR (or set "
                  "COMFYUI_PATH), or run on servers with --server URL", file=sys.stderr)
            return 2
        from .local import LocalExecutor
        executor = LocalExecutor(boot, workflow, name, options)
    from .state import OutputFolderError
    try:
        return run_batch(rows, Path(opts.out), workflow_bytes, options, executor)
    except OutputFolderError as exc:
        print(str(exc), file=sys.stderr)
        return 2
