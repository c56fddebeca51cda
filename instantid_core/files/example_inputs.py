"""The example photos the shipped workflows name (example_inputs/, public domain: see docs/workflows.md), put into
ComfyUI's input folder so every template opens with its images present.

Each file is copied only when no file of that name is there: a user's file, or an example the user replaced, is
never overwritten. The names carry a prefix (``instantid_example_``) that no user's own photo is likely to have,
and they stay at the top level of the input folder because ComfyUI's Load Image lists only that level."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import List

EXAMPLES = Path(__file__).resolve().parents[2] / "example_inputs"
PREFIX = "instantid_example_"


def example_names() -> List[str]:
    return sorted(p.name for p in EXAMPLES.glob(f"{PREFIX}*.jpg"))


def copy_example_inputs(input_dir: "os.PathLike[str] | str") -> List[str]:
    """Copy each example photo missing from ``input_dir``; returns the names copied. Never raises for a folder
    that cannot be written (a read-only install): the workflows then show the missing image as usual."""
    copied = []
    target_dir = Path(input_dir)
    for name in example_names():
        target = target_dir / name
        if os.path.lexists(target):
            continue
        try:
            target_dir.mkdir(parents=True, exist_ok=True)
            with open(EXAMPLES / name, "rb") as src, open(target, "xb") as out:  # "x": never replaces a file
                try:
                    shutil.copyfileobj(src, out)
                except BaseException:
                    out.close()
                    target.unlink()
                    raise
        except FileExistsError:  # created meanwhile by someone else: theirs stays
            continue
        except OSError:
            break
        copied.append(name)
    return copied
