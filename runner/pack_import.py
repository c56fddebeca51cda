"""One import identity for the pack, whoever imports it first.

ComfyUI imports a custom node folder as a package whose name is the folder's path, with every "." written "_x_"
(nodes.load_custom_node), and the pack's modules import each other relatively inside it. Every other entry (the
command line, the tests, scripts, benchmarks, Ray workers) registers the pack as that same package before any
module of it is imported: the package only, since its __init__ needs a booted ComfyUI. When ComfyUI then loads the
folder it makes a new package object under that name, and its relative imports find the submodules already
imported in sys.modules: each file of the pack is one module object per process.

The pack folder itself never goes on the import path (its nodes/ would shadow ComfyUI's top-level `nodes` module).
Test, script and benchmark files may name the core and the runner as the top-level ``instantid_core`` and
``runner``: ``expose_top_level`` makes those names aliases of the package's own modules, not copies.

Plain standard library, no import of the pack: the entry folders load this file before the pack is a package.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

PACK = Path(__file__).resolve().parents[1]
TOP_LEVEL_NAMES = ("instantid_core", "runner")


def comfyui_module_name(folder) -> str:
    """The sys.modules name ComfyUI gives a custom node folder (v0.3.64 and v0.33 alike)."""
    return str(folder).replace(".", "_x_")


def register_pack(pack=PACK) -> str:
    """Make the pack importable as the package ComfyUI will name it (its __init__ is not run); returns that name.
    Safe to call again, and after ComfyUI has loaded the pack."""
    pack = Path(pack).resolve()
    name = comfyui_module_name(pack)
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, pack / "__init__.py",
                                                      submodule_search_locations=[str(pack)])
        sys.modules[name] = importlib.util.module_from_spec(spec)
    # this file, loaded by path by an entry folder, is also the package's own runner.pack_import
    me = sys.modules.get(__name__)
    if me is not None and __name__ != f"{name}.runner.pack_import":
        importlib.import_module(f"{name}.runner")
        sys.modules.setdefault(f"{name}.runner.pack_import", me)
    return name


def process_setup(pack=PACK):
    """A function of no arguments that registers the pack in another process (Ray's worker_process_setup_hook):
    pickled by value, as nothing of the pack can be imported there before it has run."""
    folder = str(Path(pack).resolve())

    def register_instantid_pack():
        register_pack(folder)
    return register_instantid_pack


class _SameModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports of ``alias.*`` (and of ``alias`` itself unless ``submodules_only``) give the modules of
    ``target.*`` (``target``) themselves."""

    def __init__(self, alias: str, target: str, submodules_only: bool = False):
        self.alias, self.target, self.submodules_only = alias, target, submodules_only

    def find_spec(self, fullname, path=None, target=None):
        if not (fullname.startswith(self.alias + ".") or (fullname == self.alias and not self.submodules_only)):
            return None
        real = importlib.import_module(self.target + fullname[len(self.alias):])
        spec = importlib.util.spec_from_loader(fullname, self, is_package=hasattr(real, "__path__"))
        spec.loader_state = (real, real.__spec__)
        return spec

    def create_module(self, spec):
        return spec.loader_state[0]

    def exec_module(self, module):
        # the import system set the alias's spec on the module: its own spec (its real name) is the one to keep
        real, real_spec = module.__spec__.loader_state
        real.__spec__ = real_spec

    def _key(self):
        return self.alias, self.target, self.submodules_only

    def __eq__(self, other):
        return isinstance(other, _SameModules) and other._key() == self._key()

    def __hash__(self):
        return hash(self._key())


def alias(name: str, target: str, submodules_only: bool = False) -> None:
    """Let ``import name[.sub]`` give ``target[.sub]`` (installed once)."""
    finder = _SameModules(name, target, submodules_only)
    if finder not in sys.meta_path:
        sys.meta_path.insert(0, finder)


def expose_top_level(pack=PACK, names=TOP_LEVEL_NAMES) -> str:
    """Register the pack and make ``instantid_core`` and ``runner`` aliases of its subpackages (for tests, scripts
    and benchmarks, whose files import them by those names). Returns the package's name."""
    package = register_pack(pack)
    for name in names:
        alias(name, f"{package}.{name}")
    return package


def expose_folder(name: str, folder) -> ModuleType:
    """Import the package in ``folder`` under the top-level ``name`` (a folder off the import path, such as
    tests/instantid_testkit, whose parent must stay off it)."""
    if name not in sys.modules:
        folder = Path(folder).resolve()
        spec = importlib.util.spec_from_file_location(name, folder / "__init__.py",
                                                      submodule_search_locations=[str(folder)])
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    return sys.modules[name]


def follow_comfyui_names(folders, pack=PACK) -> None:
    """Before ComfyUI loads its custom_nodes ``folders``: where one holds this pack under another path (a link,
    a linked folder), ComfyUI will name it after that path; those names are made aliases of the registered
    package, so its relative imports still meet the modules this process already has."""
    pack = Path(pack).resolve()
    package = register_pack(pack)
    for folder in folders:
        try:
            entries = list(Path(folder).iterdir())
        except OSError:
            continue
        for entry in entries:
            name = comfyui_module_name(Path(folder) / entry.name)
            if name != package and entry.resolve() == pack:
                alias(name, package, submodules_only=True)
