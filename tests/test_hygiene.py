"""Repository hygiene: what a careless merge or a copied log line would leave in a committed file.

- A merge-conflict marker line in a text file (the README once shipped one, and everything after it rendered as a
  single broken diagram).
- An absolute path of a developer's machine (a sandbox's work folder, a home folder): it means nothing to anyone
  who clones the repository, and it leaks who built what where.

The files checked are the tracked ones (``git ls-files``); without git (an exported tarball) every file under the
repository except the ignored build and venv folders, so the test runs, and can fail, everywhere."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List

import pytest

ROOT = Path(__file__).resolve().parents[1]
# what .gitignore keeps out of the repository: never checked when the file list comes from walking the tree
UNTRACKED_DIRS = {".git", ".venv", "__pycache__", ".pytest_cache", "out", ".whl", ".gl", ".ci-scratch"}

# The markers git writes into a conflicted file, each at the start of a line: "<<<<<<< ours", "||||||| base",
# "=======", ">>>>>>> theirs" (git's own `diff --check` flags the same lines).
CONFLICT_MARKER = re.compile(rb"^(?:<{7}|\|{7}|>{7})(?: |$)|^={7}$", re.MULTILINE)
# Absolute paths of a machine: a sandbox work folder, Linux/macOS home folders, root's home, Windows user folders.
# The character classes ([o], [s]) keep this very file from matching its own patterns.
MACHINE_PATH = re.compile(
    rb"(?<![\w.~-])/w[o]rk/"                       # the sandboxes this project was built in
    rb"|(?<![\w.~-])/home/[A-Za-z0-9._-]+/"           # /home/<user>/
    rb"|(?<![\w.~-])/U[s]ers/[A-Za-z0-9._ -]+/"       # /Users/<user>/ (macOS)
    rb"|(?<![\w.~-])/r[o]ot/"                       # root's home
    rb"|\b[A-Za-z]:(?:\\\\|\\|/)U[s]ers(?:\\\\|\\|/)",  # drive, "Users", separator (\, \\ or /)
    re.IGNORECASE)


def tracked_files(root: Path = ROOT) -> List[Path]:
    if shutil.which("git") and (root / ".git").exists():
        out = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], capture_output=True, check=True).stdout
        return [root / name for name in out.decode().split("\0") if name]
    files = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in UNTRACKED_DIRS]
        files += [Path(folder) / n for n in names if not n.endswith(".pyc")]
    return files


def is_text(data: bytes) -> bool:
    return b"\0" not in data[:8192]


def conflict_marker_lines(data: bytes) -> List[int]:
    """1-based numbers of the lines that are merge-conflict markers (none for a binary file)."""
    if not is_text(data):
        return []
    data = data.replace(b"\r\n", b"\n")
    return [data.count(b"\n", 0, m.start()) + 1 for m in CONFLICT_MARKER.finditer(data)]


def machine_paths(data: bytes) -> List[str]:
    """Every absolute machine path named in the file, text or binary (a PNG's metadata can carry one too)."""
    return sorted({m.group(0).decode("latin-1") for m in MACHINE_PATH.finditer(data)})


def _scan(check) -> Dict[str, object]:
    found = {}
    for path in tracked_files():
        if path.is_symlink() or not path.is_file():
            continue
        hits = check(path.read_bytes())
        if hits:
            found[str(path.relative_to(ROOT))] = hits
    return found


def test_the_file_list_is_the_repository():
    names = {str(p.relative_to(ROOT)) for p in tracked_files()}
    assert {"README.md", "pyproject.toml", "tests/conftest.py"} <= names
    assert not any(n.startswith((".venv/", ".git/")) for n in names)


def test_no_file_has_a_merge_conflict_marker_line():
    found = _scan(conflict_marker_lines)
    assert not found, f"merge-conflict marker lines (file: line numbers), resolve the merge: {found}"


def test_no_file_names_a_path_of_a_developers_machine():
    found = _scan(machine_paths)
    assert not found, f"absolute paths of a developer's machine; use a path relative to the repository: {found}"


# --- the checks themselves catch what they are for -------------------------------------------------------------

def test_conflict_markers_are_found_and_ordinary_lines_are_not():
    merged = (b"# Title\n\nintro\n<<<<<<< HEAD\nours\n||||||| base\nold\n=======\ntheirs\n>>>>>>> likeness\n"
              b"after\r\n=======\r\n")
    assert conflict_marker_lines(merged) == [4, 6, 8, 10, 12]
    ordinary = (b"a <<<<<<< inside a line\n<<<<<<<< eight\n========\n== heading ==\n>>> prompt\n"
                b"x = '=======' \n")
    assert conflict_marker_lines(ordinary) == []
    assert conflict_marker_lines(b"\0binary\n<<<<<<< HEAD\n") == []


@pytest.mark.parametrize("text", [
    "COMFYUI_PATH=/w" "ork/env/c33/ComfyUI", "see /h" "ome/alice/ComfyUI/models", "open /U" "sers/Bob Smith/x.png",
    "cd /r" "oot/comfy", r"C:\U" r"sers\carol\ComfyUI", r"C:\\U" r"sers\\carol", "C:/U" "sers/carol",
])
def test_machine_paths_are_found(text):
    assert machine_paths(f"before {text} after".encode())


@pytest.mark.parametrize("text", [
    "models/instantid/ip-adapter.bin", "/tmp/ComfyUI", "~/ComfyUI", "https://example.com/home/page/",
    "custom_nodes/comfyui-instantid/" "work/", "/path/to/ComfyUI", "$HOME/ComfyUI",
])
def test_relative_and_placeholder_paths_pass(text):
    assert machine_paths(text.encode()) == []
