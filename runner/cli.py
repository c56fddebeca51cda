"""`python <pack folder> run|batch|doctor|download|migrate …`: the command line. ComfyUI is found via --comfyui,
$COMFYUI_PATH, or the ComfyUI whose custom_nodes folder holds this pack, and started in-process when needed."""
from __future__ import annotations

import argparse
import json
import logging
import shlex
import signal
import sys
from pathlib import Path

from ..instantid_core.files.model_catalog import ALL_GROUPS, GROUPS  # GROUPS: the default set; "sdxl" is opt-in
from .arg_checks import ArgumentProblem, check_before_boot, join_comfy_args
from .comfy_location import find_comfyui

PACK = Path(__file__).resolve().parents[1]


def default_comfy_args():
    import torch
    has_gpu = torch.cuda.is_available() or (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    return [] if has_gpu else ["--cpu"]


def _parser() -> argparse.ArgumentParser:
    from ..instantid_core.files.model_catalog import pack_folder_for_command
    prog = f"python {pack_folder_for_command()}"  # as typed from here, e.g. custom_nodes/<folder>
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("--comfyui", help="ComfyUI folder (default: $COMFYUI_PATH or the ComfyUI this pack is in)")
    parser.add_argument("--comfy-args", default=None,
                        help="ComfyUI command-line flags, quoted, before or after the command (default: '--cpu' "
                             "when there is no GPU), e.g. --comfy-args \"--lowvram\" or "
                             "--comfy-args=\"--base-directory /data/comfy\"")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a workflow (UI-format JSON, this pack's or cubiq's) and save the image")
    run.add_argument("workflow", help="workflow JSON, e.g. example_workflows/instantid_basic_portrait.json")
    run.add_argument("--face", action="append", default=[],
                     help="face photo, or a saved identity .safetensors (InstantID Save Identity); repeat for "
                          "several face inputs")
    run.add_argument("--pose", help="photo whose face pose (keypoints) to copy")
    run.add_argument("--target", help="photo whose face is replaced (face swap, group photo workflows)")
    run.add_argument("--prompt", help="positive prompt")
    run.add_argument("--negative", help="negative prompt")
    run.add_argument("--out", default="instantid.png", help="output image path (default: instantid.png); the "
                                                            "image is moved there, none stays in ComfyUI's output/")
    run.add_argument("--checkpoint", help="SDXL checkpoint file name in models/checkpoints (default: the one the "
                                          "workflow names, else the only SDXL checkpoint installed)")
    run.add_argument("--controlnet", help="IdentityNet file name in models/controlnet")
    run.add_argument("--adapter", help="InstantID adapter file name in models/instantid")
    run.add_argument("--width", type=int)
    run.add_argument("--height", type=int)
    run.add_argument("--steps", type=int)
    run.add_argument("--seed", type=int)
    run.add_argument("--score", action="store_true",
                     help="score each saved image against the reference face (identity score, FaceSim: cosine of "
                          "the antelopev2 embeddings); printed and written into the PNG's text metadata")
    run.add_argument("--set", action="append", default=[], metavar="'TITLE.input=value'",
                     help="set any widget of a node by its title")
    doc = sub.add_parser("doctor", help="check model files, onnxruntime and torch; every problem says the fix")
    doc.add_argument("workflow", nargs="?", help="check exactly the files this workflow uses")
    doc.add_argument("--sha256", action="store_true", help="also verify the antelopev2 checksums (reads ~430 MB)")
    doc.add_argument("--models", help="a models folder to check instead of ComfyUI's configured folders")
    down = sub.add_parser("download", help="download the InstantID models from Hugging Face into ComfyUI's folders")
    down.add_argument("--only", action="append", choices=ALL_GROUPS,
                      help="only this group (repeatable); 'sdxl' is the SDXL 1.0 base checkpoint (6.9 GB, "
                           "CreativeML Open RAIL++-M), never fetched unless asked for")
    down.add_argument("--to", help="a ComfyUI models folder (default: ComfyUI's configured folders, "
                                   "extra_model_paths.yaml included)")
    down.add_argument("--dry-run", action="store_true",
                      help="list each file, where it goes and whether it would be fetched; fetch nothing")
    from .batch.cli import add_parser as add_batch_parser
    add_batch_parser(sub, PACK)
    mig = sub.add_parser("migrate", help="convert a workflow made with cubiq's ComfyUI_InstantID to this pack")
    mig.add_argument("source", help="workflow JSON using cubiq's nodes")
    mig.add_argument("target", help="where to write the converted workflow")
    return parser


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        opts = _parser().parse_args(join_comfy_args(sys.argv[1:] if argv is None else argv))
        check_before_boot(opts, PACK)  # seconds before ComfyUI's start-up, not after
    except ArgumentProblem as exc:
        print(str(exc), file=sys.stderr)
        return 2
    comfy_root = find_comfyui(PACK, opts.comfyui)
    if opts.command == "download" and opts.to:
        from .download import download, folders_from_models_dir
        return _download(download, opts, folders_from_models_dir(Path(opts.to)))
    if opts.command == "doctor" and (opts.models or comfy_root is None) and not opts.workflow:
        models = Path(opts.models or PACK.parent.parent / "models")
        return _doctor_in_folders({k: [models / k] for k in ("instantid", "controlnet", "insightface", "checkpoints")},
                                  opts.sha256)
    if comfy_root is not None and (opts.command == "download" or (opts.command == "doctor" and not opts.workflow)):
        # ComfyUI's folders read from its files: no ComfyUI import (seconds, its messages, a broken environment)
        from .comfy_folders import FolderConfigError, configured_folders
        try:
            first, search = configured_folders(comfy_root, shlex.split(opts.comfy_args or ""))
        except FolderConfigError as exc:
            print(str(exc), file=sys.stderr)
            return 2
        if opts.command == "doctor":
            return _doctor_in_folders(search, opts.sha256)
        from .download import download
        return _download(download, opts, first, search)
    if opts.command == "batch":  # boots ComfyUI only when rows run in this process
        return _batch(opts, comfy_root)
    if comfy_root is None:
        print("ComfyUI not found: install this pack in ComfyUI/custom_nodes/, or pass --comfyui DIR "
              "(or set COMFYUI_PATH)", file=sys.stderr)
        return 2
    from .boot import boot_comfy, loaded_pack
    comfy_args = shlex.split(opts.comfy_args) if opts.comfy_args is not None else default_comfy_args()
    boot_comfy(comfy_root, comfy_args, custom_nodes=True)
    loaded_pack(PACK)  # our nodes (and folders) registered even when the pack is installed elsewhere
    if opts.command == "run":
        return _run(opts)
    if opts.command == "migrate":
        return _migrate(opts)
    return _doctor(opts)


def _batch(opts, comfy_root) -> int:
    from .batch.cli import main_batch
    comfy_args = opts.comfy_args.split() if opts.comfy_args is not None else default_comfy_args()

    def boot():
        from .boot import boot_comfy, loaded_pack
        boot_comfy(comfy_root, comfy_args, custom_nodes=True)
        loaded_pack(PACK)

    return main_batch(opts, PACK, comfy_root, comfy_args, boot)


def _run(opts) -> int:
    from .run_command import run_workflow
    from .workflow_prompt import RunnerError
    path = Path(opts.workflow) if Path(opts.workflow).exists() else PACK / opts.workflow
    signal.signal(signal.SIGTERM, _interrupt)  # a terminated run cleans up like Ctrl-C (staged photos)
    try:
        written = run_workflow(path, out=Path(opts.out), faces=opts.face, pose=opts.pose,
                               target=opts.target, prompt=opts.prompt, negative=opts.negative, checkpoint=opts.checkpoint,
                               controlnet=opts.controlnet, adapter=opts.adapter, width=opts.width,
                               height=opts.height, steps=opts.steps, seed=opts.seed, sets=opts.set,
                               score=opts.score)
    except RunnerError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stopped: nothing was saved, and the photos staged in ComfyUI's input/ were removed", file=sys.stderr)
        return 130
    from .scoring import read_png_score, summary
    for path in written:
        record = read_png_score(path) if opts.score else None
        print(f"saved {path.resolve()}" + (f"  {summary(record)}" if record else ""))
    return 0


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _doctor(opts) -> int:
    from .model_choice import doctor_report
    from .workflow_format import ui_to_api
    from .workflow_prompt import RunnerError, load_workflow, node_definitions
    api = None
    if opts.workflow:
        definitions = node_definitions()
        try:
            workflow = load_workflow(Path(opts.workflow), definitions)
        except RunnerError as exc:
            print(str(exc), file=sys.stderr)
            return 2
        api = ui_to_api(workflow, {k: d["input"] for k, d in definitions.items()})
    report = doctor_report(api, opts.sha256)
    print(report.text())
    return 0 if report.ok else 1


def _doctor_in_folders(folders, verify_sha256: bool) -> int:
    from ..instantid_core.files.doctor import run_doctor
    report = run_doctor(*(folders[k] for k in ("instantid", "controlnet", "insightface", "checkpoints")),
                        verify_sha256=verify_sha256)
    print(report.text())
    return 0 if report.ok else 1


def _download(download, opts, folders, search=None) -> int:
    """``download`` is runner.download.download (a test passes its own)."""
    from .download import DownloadError, plan_lines
    groups = opts.only or list(GROUPS)
    if "sdxl" in groups:
        from ..instantid_core.files.model_catalog import SDXL, files_for
        (sdxl,) = files_for([SDXL])
        print(f"SDXL 1.0 base checkpoint, licence: {sdxl.licence} — {sdxl.page}")
    if getattr(opts, "dry_run", False):
        print("dry run: nothing is fetched. Each file, and what `download` would do (by size; it also checks "
              "sha256):")
        print("\n".join(plan_lines(groups, folders)))
        return 0
    try:
        download(groups, folders, search=search)
    except DownloadError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nstopped: what was downloaded so far is kept beside its target (<name>.<sha>.incomplete); run "
              "the same command again to resume it", file=sys.stderr)
        return 130
    return 0


def _migrate(opts) -> int:
    from ..instantid_core.workflow_formats.cubiq_workflows import migrate_workflow, migration_report_text
    from .workflow_prompt import node_definitions
    from ..instantid_core.errors import CubiqMigrationError
    try:
        source = json.loads(Path(opts.source).read_text())
        result = migrate_workflow(source, node_definitions())
    except (OSError, ValueError, RecursionError) as exc:  # CubiqMigrationError is a ValueError
        reason = "nested too deeply to be a workflow" if isinstance(exc, RecursionError) else exc
        print(f"cannot {'convert' if isinstance(exc, CubiqMigrationError) else 'read'} {opts.source}: {reason}",
              file=sys.stderr)
        return 2
    Path(opts.target).write_text(json.dumps(result.workflow, indent=2))
    print(migration_report_text(result))
    print(f"wrote {Path(opts.target).resolve()}")
    return 0
