"""instantid_core's floors: files → faces → compute → ground (errors, input_checks), workflow_formats/ apart.

Every import in every core module (top level and inside functions, relative and absolute) is read with ast and
held to that order: a floor imports itself and the floors to its right, never one to its left. workflow_formats/
imports only itself and the ground, and no floor imports it. The core never imports ComfyUI or the pack's own
nodes/ and runner/. The order is the one instantid_core/__init__.py states.
"""
from __future__ import annotations

import ast
import textwrap
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

import pytest

CORE = Path(__file__).resolve().parents[1] / "instantid_core"
PACKAGE = "instantid_core"
FLOORS = ("files", "faces", "compute", "ground")  # each imports only the floors after it
APART = "workflow_formats"
GROUND_MODULES = ("errors", "input_checks")  # instantid_core/errors.py, instantid_core/input_checks.py
NEVER_IMPORTED = ("comfy", "comfy_extras", "comfy_execution", "comfy_api", "folder_paths", "server",
                  "execution", "nodes", "node_helpers", "latent_preview", "runner")  # ComfyUI and the pack's others


def module_name(path: Path, core: Path) -> str:
    parts = list(path.relative_to(core.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(tree: ast.AST, module: str, is_package: bool) -> Iterator[Tuple[int, str]]:
    """(line, absolute module name) for every import anywhere in the tree; ``from instantid_core import y`` (or
    ``from .. import y`` at the top) yields instantid_core.y, the floor it reaches."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield node.lineno, target
            if target == PACKAGE:
                for alias in node.names:
                    yield node.lineno, f"{target}.{alias.name}"


def floor_of(name: str) -> Optional[str]:
    """The floor of a module inside the core, or None for a name outside it (or a name imported from a module)."""
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return None
    if len(parts) == 1 or parts[1] in GROUND_MODULES or parts[1] in ("__version__",):
        return "ground"
    if parts[1] in FLOORS or parts[1] == APART:
        return parts[1]
    return None  # an attribute of the package itself


def may_import(source: str, target: str) -> bool:
    if source == APART:
        return target in (APART, "ground")
    if target == APART:
        return False
    return FLOORS.index(target) >= FLOORS.index(source)


def violations(core: Path) -> List[str]:
    found = []
    for path in sorted(core.rglob("*.py")):
        module = module_name(path, core)
        source = floor_of(module)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, name in imported_names(tree, module, path.name == "__init__.py"):
            where = f"{path.relative_to(core.parent).as_posix()}:{line}"
            if name.split(".")[0] in NEVER_IMPORTED:
                found.append(f"{where} imports {name}: the core never imports ComfyUI or the pack's nodes/runner")
                continue
            target = floor_of(name)
            if target is not None and source is not None and not may_import(source, target):
                found.append(f"{where} imports {name}: floor '{source}' may not import floor '{target}'")
    return sorted(set(found))


def test_every_core_import_follows_the_floors():
    assert violations(CORE) == []


def test_the_stage_map_states_the_order_this_test_holds():
    doc = ast.get_docstring(ast.parse((CORE / "__init__.py").read_text(encoding="utf-8")))
    assert "files → faces → compute → ground (errors, input_checks)" in doc
    assert f"{APART}/ apart" in doc
    assert {p.name for p in CORE.iterdir() if p.is_dir() and (p / "__init__.py").exists()} == {*FLOORS[:-1], APART}
    assert all((CORE / f"{name}.py").is_file() for name in GROUND_MODULES)


def write(root: Path, relative: str, text: str) -> None:
    path = root / PACKAGE / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")


@pytest.fixture()
def fake_core(tmp_path):
    for floor in (*FLOORS[:-1], APART):
        write(tmp_path, f"{floor}/__init__.py", "")
    write(tmp_path, "__init__.py", '"""doc"""\n')
    write(tmp_path, "errors.py", "class InstantIDError(Exception): pass\n")
    write(tmp_path, "input_checks.py", "from .errors import InstantIDError\n")
    write(tmp_path, "files/reader.py", """\
        from ..faces import geometry
        from ..compute.math import twice
        from instantid_core.errors import InstantIDError
        from .. import input_checks
        """)
    write(tmp_path, "faces/geometry.py", "from ..compute.math import twice\n")
    write(tmp_path, "compute/math.py", "from ..input_checks import InstantIDError\ndef twice(x): return 2 * x\n")
    write(tmp_path, f"{APART}/graph.py", "from ..errors import InstantIDError\n")
    return tmp_path / PACKAGE


def test_imports_down_the_floors_pass(fake_core):
    assert violations(fake_core) == []


@pytest.mark.parametrize("relative, text, culprit", [
    ("compute/up.py", "from ..files.reader import x\n", "instantid_core.files.reader"),
    ("compute/late.py", "def load():\n    from ..faces import geometry\n", "instantid_core.faces"),
    ("faces/absolute.py", "import instantid_core.files.reader\n", "instantid_core.files.reader"),
    ("faces/parent.py", "from .. import files\n", "instantid_core.files"),
    ("compute/package.py", "from instantid_core import faces\n", "instantid_core.faces"),
    ("input_checks.py", "from .compute.math import twice\n", "instantid_core.compute.math"),
    ("files/apart.py", "from ..workflow_formats.graph import x\n", "instantid_core.workflow_formats.graph"),
    (f"{APART}/floor.py", "def f():\n    from ..faces.geometry import y\n", "instantid_core.faces.geometry"),
    ("faces/host.py", "def f():\n    import folder_paths\n", "folder_paths"),
    ("compute/comfy.py", "from comfy.model_patcher import ModelPatcher\n", "comfy.model_patcher"),
    ("files/node.py", "from nodes import NODE_CLASS_MAPPINGS\n", "nodes"),
])
def test_an_import_against_the_order_is_named(fake_core, relative, text, culprit):
    write(fake_core.parent, relative, text)
    found = violations(fake_core)
    assert found and all(relative in line for line in found), found
    assert any(f"imports {culprit}" in line for line in found), found
