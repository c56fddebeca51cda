"""Command line: `python <this folder> run WORKFLOW.json --face me.jpg --prompt "…" --out out.png`
and `python <this folder> doctor`. Runs the real ComfyUI in-process (found via --comfyui, $COMFYUI_PATH,
or the ComfyUI whose custom_nodes folder holds this pack)."""
import argparse
import asyncio
import importlib
import importlib.util
import os
import sys
from pathlib import Path

PACK = Path(__file__).resolve().parent
# Python put this folder first on sys.path; it would shadow ComfyUI's `nodes` module with ours.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != PACK]


def _core(name):
    """Import instantid_core.<name> without making the pack folder importable as a top-level path."""
    if "instantid_core" not in sys.modules:
        spec = importlib.util.spec_from_file_location("instantid_core", PACK / "instantid_core" / "__init__.py",
                                                      submodule_search_locations=[str(PACK / "instantid_core")])
        module = importlib.util.module_from_spec(spec)
        sys.modules["instantid_core"] = module
        spec.loader.exec_module(module)
    return importlib.import_module(f"instantid_core.{name}")


def bootstrap(comfy_root: Path, comfy_args):
    """Start ComfyUI's machinery as main.py does (args, custom paths, core and custom nodes), no server."""
    sys.path.insert(0, str(comfy_root))
    import comfy.options
    comfy.options.enable_args_parsing()
    argv, sys.argv = sys.argv, [str(comfy_root / "main.py"), *comfy_args]
    try:
        from comfy.cli_args import args
    finally:
        sys.argv = argv
    import folder_paths
    import utils.extra_config  # must precede `import nodes` (ComfyUI's own start-up order)
    main_yaml = comfy_root / "extra_model_paths.yaml"
    for cfg in ([str(main_yaml)] if main_yaml.is_file() else []) + [c for group in (args.extra_model_paths_config or [])
                                                                      for c in group]:
        utils.extra_config.load_extra_path_config(cfg)
    for attr, setter in (("output_directory", folder_paths.set_output_directory),
                         ("input_directory", folder_paths.set_input_directory)):
        if getattr(args, attr, None):
            setter(os.path.abspath(getattr(args, attr)))
    import nodes
    asyncio.run(nodes.init_extra_nodes(init_custom_nodes=True, init_api_nodes=False))
    pack = next((m for m in list(sys.modules.values())
                 if Path(getattr(m, "__file__", "") or "").resolve() == PACK / "__init__.py"), None)
    if pack is None:  # not installed in custom_nodes: load it the way ComfyUI loads custom nodes
        if not asyncio.run(nodes.load_custom_node(str(PACK), module_parent="custom_nodes")):
            sys.exit("ComfyUI could not import this pack; see the messages above")
        pack = next(m for m in list(sys.modules.values())
                    if Path(getattr(m, "__file__", "") or "").resolve() == PACK / "__init__.py")
    return importlib.import_module(f"{pack.__name__}.nodes.headless")


def default_comfy_args():
    import torch
    has_gpu = torch.cuda.is_available() or (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    return [] if has_gpu else ["--cpu"]


def main(argv=None):
    parser = argparse.ArgumentParser(prog=f"python {PACK.name}", description=__doc__)
    parser.add_argument("--comfyui", help="ComfyUI folder (default: $COMFYUI_PATH or the ComfyUI this pack is in)")
    parser.add_argument("--comfy-args", default=None,
                        help="ComfyUI command-line flags, quoted (default: '--cpu' when there is no GPU), "
                             "e.g. \"--lowvram\" or \"--base-directory /data/comfy\"")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a workflow (UI-format JSON) and save the image")
    run.add_argument("workflow", help="workflow JSON, e.g. workflows/instantid_basic_portrait.json")
    run.add_argument("--face", action="append", default=[], help="face photo (repeat for several face inputs)")
    run.add_argument("--pose", help="photo whose face pose (keypoints) to copy")
    run.add_argument("--prompt", help="positive prompt")
    run.add_argument("--negative", help="negative prompt")
    run.add_argument("--out", default="instantid.png", help="output image path (default: instantid.png)")
    run.add_argument("--checkpoint", help="SDXL checkpoint file name in models/checkpoints")
    run.add_argument("--controlnet", help="IdentityNet file name in models/controlnet")
    run.add_argument("--adapter", help="InstantID adapter file name in models/instantid")
    run.add_argument("--width", type=int)
    run.add_argument("--height", type=int)
    run.add_argument("--steps", type=int)
    run.add_argument("--seed", type=int)
    run.add_argument("--set", action="append", default=[], metavar="'TITLE.input=value'",
                     help="set any widget of a node by its title")
    doc = sub.add_parser("doctor", help="check model files, onnxruntime and torch; every problem says the fix")
    doc.add_argument("--sha256", action="store_true", help="also verify the antelopev2 checksums (reads ~430 MB)")
    doc.add_argument("--models", help="a models folder to check instead of ComfyUI's configured folders")
    opts = parser.parse_args(argv)

    comfy_root = _core("comfy_location").find_comfyui(PACK, opts.comfyui)
    if opts.command == "doctor" and (opts.models or comfy_root is None):
        models = Path(opts.models or PACK.parent.parent / "models")
        folders = {k: [models / k] for k in ("instantid", "controlnet", "insightface", "checkpoints")}
    elif comfy_root is None:
        sys.exit("ComfyUI not found: install this pack in ComfyUI/custom_nodes/, or pass --comfyui DIR "
                 "(or set COMFYUI_PATH)")
    else:
        comfy_args = opts.comfy_args.split() if opts.comfy_args is not None else default_comfy_args()
        headless = bootstrap(comfy_root, comfy_args)
        if opts.command == "run":
            return _run(headless, opts)
        report = headless.doctor_report(opts.sha256)
        print(report.text())
        return 0 if report.ok else 1
    report = _core("doctor").run_doctor(folders["instantid"], folders["controlnet"], folders["insightface"],
                                        folders["checkpoints"], verify_sha256=opts.sha256)
    print(report.text())
    return 0 if report.ok else 1


def _run(headless, opts):
    try:
        written = headless.run_workflow(Path(opts.workflow) if Path(opts.workflow).exists() else PACK / opts.workflow,
                                        out=Path(opts.out), faces=opts.face, pose=opts.pose, prompt=opts.prompt,
                                        negative=opts.negative, checkpoint=opts.checkpoint,
                                        controlnet=opts.controlnet, adapter=opts.adapter, width=opts.width,
                                        height=opts.height, steps=opts.steps, seed=opts.seed, sets=opts.set)
    except headless.RunnerError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    for path in written:
        print(f"saved {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
