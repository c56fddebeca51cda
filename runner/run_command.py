"""The `run` command: a workflow run once through ComfyUI's own executor in this process, without the web UI. It
prints a line per node as it runs, and moves the saved images to --out (scores written into them with --score).
The prompt is built by runner/workflow_prompt.py, and run by runner/in_process_comfy.py."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import List, Optional

from . import scoring
from .in_process_comfy import PromptError, PromptRunner, saved_images
from .workflow_format import ui_to_api
from .workflow_prompt import RunnerError, Staging, apply_overrides, load_workflow, node_definitions, preflight


def console_listener(api: dict, stream=None):
    """Prints a line per node as it starts (its title, else its display name), its progress, and what came
    from the cache."""
    import nodes as comfy_nodes

    def title(node_id) -> str:
        node = api.get(str(node_id), {})
        kind = node.get("class_type", "?")
        given = node.get("_meta", {}).get("title")
        return printable(given if given and given != kind else comfy_nodes.NODE_DISPLAY_NAME_MAPPINGS.get(kind, kind))

    def listen(event: str, data: dict) -> None:
        out = stream or sys.stdout
        if event == "execution_cached" and data.get("nodes"):
            print(f"  cached: {', '.join(title(n) for n in data['nodes'])}", file=out, flush=True)
        elif event == "executing" and data.get("node") is not None:
            print(f"  running node {data['node']}: {title(data['node'])}", file=out, flush=True)
        elif event == "progress" and data.get("max"):
            end = "\n" if data["value"] >= data["max"] else ""
            print(f"\r    {title(data.get('node'))}: {data['value']}/{data['max']}", end=end, file=out, flush=True)

    return listen


def printable(text) -> str:
    """A workflow's text as the terminal should show it: control characters (escape sequences that recolour,
    move the cursor or retitle the window) are written out as \\xNN / \\uNNNN instead of acting."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")
                   for c in text)


def run_workflow(workflow: Path, out: Optional[Path] = None, verbose: bool = True, score: bool = False,
                 **overrides) -> List[Path]:
    """Convert, override, pre-check and run; moves the images to ``out`` (``out``, ``out-1``, …), so no copy
    stays in ComfyUI's output folder. Staged photos are removed however the run ends. ``score``: each saved
    image's identity score goes into its PNG text (runner/scoring.py)."""
    say = print if verbose else (lambda _line: None)
    definitions = node_definitions()
    try:
        api = ui_to_api(load_workflow(workflow, definitions, say), {k: d["input"] for k, d in definitions.items()})
    except ValueError as exc:  # WorkflowFormatError: e.g. a node type no installed pack provides
        raise RunnerError(f"{workflow}: {exc}") from exc
    staging = Staging()
    try:
        apply_overrides(api, staging, **overrides)
        try:
            scored = scoring.add_score_nodes(api) if score else {}
        except scoring.ScoreSetupError as exc:
            raise RunnerError(str(exc)) from exc
        preflight(api, say)
        runner = PromptRunner(listener=console_listener(api) if verbose else None)
        try:
            result = runner.run(api)
        except PromptError as exc:
            raise RunnerError(str(exc)) from exc
    finally:
        staging.remove()
    images = saved_images(result.history.get("outputs", {}))
    if not images:
        raise RunnerError("the workflow ran but saved no image (it has no Save Image / Preview Image node)")
    records = scoring.scores_by_image(result.history, scored)
    for path in images:
        if path.name in records:
            scoring.write_png_score(path, records[path.name])
    if out is None:
        return images
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for i, src in enumerate(images):
        dst = out if i == 0 else out.with_name(f"{out.stem}-{i}{out.suffix}")
        shutil.move(src, dst)
        written.append(dst)
    return written
