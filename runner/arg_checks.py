"""Checks of the command line that need no ComfyUI: done before ComfyUI starts (25-30 s), so a typo in a path
costs nothing. Each problem is one sentence for the terminal (ArgumentProblem)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import List, Optional, Sequence

# --comfy-args takes ComfyUI's own flags as its value ("--lowvram"), which argparse would read as an option
COMFY_ARGS = "--comfy-args"


class ArgumentProblem(ValueError):
    """A command-line argument that cannot work; the message says which and what to give instead."""


def shown_path(path, limit: int = 120) -> str:
    """A path as a message shows it: a very long one cut (its length said), control characters escaped."""
    text = str(path)
    text = text if text.isprintable() else repr(text)[1:-1]
    return text if len(text) <= limit else f"{text[:limit]}… ({len(str(path))} characters)"


def join_comfy_args(argv: Sequence[str]) -> List[str]:
    """``--comfy-args VALUE`` anywhere (before or after the subcommand) becomes ``--comfy-args=VALUE`` in front,
    so a value that starts with '--' is taken as the value; the last one given wins."""
    rest, value = [], None
    items = iter(argv)
    for item in items:
        if item == "--":  # everything after it is positional
            rest.append(item)
            rest.extend(items)
            break
        if item == COMFY_ARGS:
            value = next(items, None)
            if value is None:
                raise ArgumentProblem(f"{COMFY_ARGS} needs a value, e.g. {COMFY_ARGS}=--lowvram")
        elif item.startswith(COMFY_ARGS + "="):
            value = item[len(COMFY_ARGS) + 1:]
        else:
            rest.append(item)
    return ([f"{COMFY_ARGS}={value}"] if value is not None else []) + rest


def existing_file(path: str, what: str, pack: Optional[Path] = None) -> Path:
    """``path`` as an existing file (for workflows also relative to the pack folder)."""
    candidates = [Path(path)] + ([pack / path] if pack is not None else [])
    try:
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        if Path(path).is_dir():
            raise ArgumentProblem(f"{what} {path} is a folder; give a file")
        if Path(path).exists():  # a FIFO, a socket, a device: there, but not a file to read
            raise ArgumentProblem(f"{what} {path} is not a regular file (a pipe, socket or device); give a file")
    except OSError as exc:  # e.g. a name longer than the file system allows
        raise ArgumentProblem(f"{what} {shown_path(path)} cannot be used ({exc.strerror or exc}); give a "
                              f"file") from exc
    raise ArgumentProblem(f"{what} not found: {path}")


def writable_file(path: str, what: str) -> Path:
    """``path`` can be written: not a folder, its folder exists (made if missing) and takes a new file."""
    target = Path(path)
    try:
        if "\0" in str(path):  # pathlib answers "no such folder" for it; the write would fail later
            raise ValueError("embedded null byte")
        if target.is_dir():
            raise ArgumentProblem(f"{what} {path} is a folder; give a file name, e.g. {target / 'instantid.png'}")
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, prefix=".instantid-write-test-"):
            pass
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ArgumentProblem(f"{what} {shown_path(path)} cannot be written ({why}); choose another "
                              f"place") from exc
    if target.exists() and not os.access(target, os.W_OK):
        raise ArgumentProblem(f"{what} {path} exists and is read-only; choose another name")
    return target


def check_before_boot(opts, pack: Path) -> None:
    """Every argument of ``opts`` (the parsed command line) that can be checked without ComfyUI."""
    if opts.command == "run":
        existing_file(opts.workflow, "workflow", pack)
        for photo in [*opts.face, *([opts.pose] if opts.pose else [])]:
            existing_file(photo, "photo")
        writable_file(opts.out, "--out")
    elif opts.command == "migrate":
        existing_file(opts.source, "workflow")
        writable_file(opts.target, "target")
    elif opts.command == "doctor":
        if opts.workflow:
            existing_file(opts.workflow, "workflow", pack)
        if opts.models and not Path(opts.models).is_dir():
            raise ArgumentProblem(f"--models {opts.models} is not a folder")
    elif opts.command == "download" and opts.to and Path(opts.to).exists() and not Path(opts.to).is_dir():
        raise ArgumentProblem(f"--to {opts.to} is a file; give a ComfyUI models folder")
