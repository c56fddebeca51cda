"""The ComfyUI frontends every browser test runs against: the one the ComfyUI under test pins (its requirements
install it into the test venv as ``comfyui_frontend_package``; 1.49.6 for ComfyUI 0.33.0) and the newer one users
run, which is fetched at test time and never committed.

``frontend`` is a module-scoped, parametrized fixture: a test module that takes it (through its server fixture)
starts its server and browser once per frontend. ``Frontend.vue_nodes`` is "Modern Node Design (Nodes 2.0)",
the setting ``Comfy.VueNodes.Enabled`` of the newer frontend; tests that check what a node shows take the
``vue_frontend`` variant as well.

The newer frontend: ``$INSTANTID_FRONTEND_158`` (a ``static`` folder of an unpacked wheel) when set, else
``pip download --no-deps comfyui-frontend-package==<version>`` into ``$INSTANTID_CACHE_DIR`` (default
``~/.cache/comfyui-instantid``), unpacked once and reused. When neither works the tests skip, saying why (not
with a GPU reason, so CI's full run fails instead of passing without it)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest


def installed_frontend() -> str:
    """The version of the frontend package ComfyUI's requirements installed (the server serves it when no
    --front-end-root is given); ComfyUI 0.33.0 pins 1.49.6."""
    try:
        return metadata.version("comfyui-frontend-package")
    except metadata.PackageNotFoundError:
        return "1.49.6"  # no package: the test skips later (needs_browser); the id stays stable


def version_tuple(version: str) -> tuple:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:3])


PINNED = installed_frontend()
CURRENT = "1.58.1"   # what users run today
ENV_STATIC = "INSTANTID_FRONTEND_158"
ENV_CACHE = "INSTANTID_CACHE_DIR"
PACKAGE = "comfyui-frontend-package"


@dataclass(frozen=True)
class Frontend:
    version: str
    vue_nodes: bool = False  # "Modern Node Design (Nodes 2.0)": nodes drawn as Vue components, not on the canvas

    @property
    def id(self) -> str:
        return f"fe{self.version}" + ("-vue" if self.vue_nodes else "")

    @property
    def newer(self) -> bool:
        """The frontend reports missing nodes and models in its "issues" notice and Issues tab, and has
        Nodes 2.0 (1.49 and later; the 1.27 line of ComfyUI 0.3.64 had modal dialogs instead)."""
        return version_tuple(self.version) >= (1, 30)

    def static_root(self) -> str | None:
        """--front-end-root for the server (None: the frontend package installed with ComfyUI)."""
        return None if self.version == PINNED else str(fetch_static(self.version))

    def settings(self) -> dict:
        """User settings that go with this frontend (no "what's new" popup; the node design)."""
        extra = {"Comfy.InstalledVersion": self.version, "Comfy.Release.Version": self.version}
        if self.newer:
            extra["Comfy.VueNodes.Enabled"] = self.vue_nodes
        return extra


CLASSIC = (Frontend(PINNED), Frontend(CURRENT))
WITH_VUE_NODES = CLASSIC + (Frontend(PINNED, vue_nodes=True), Frontend(CURRENT, vue_nodes=True))


def cache_dir() -> Path:
    return Path(os.environ.get(ENV_CACHE) or Path.home() / ".cache" / "comfyui-instantid")


def _static_of(root: Path) -> Path:
    return root / "comfyui_frontend_package" / "static"


def fetch_static(version: str) -> Path:
    """The ``static`` folder of frontend ``version``; skips the calling test when it cannot be had."""
    env = os.environ.get(ENV_STATIC) if version == CURRENT else None
    if env:
        if not (Path(env) / "index.html").is_file():
            pytest.skip(f"frontend {version}: ${ENV_STATIC}={env} has no index.html (point it at the wheel's "
                        "comfyui_frontend_package/static folder)")
        return Path(env)
    target = cache_dir() / f"frontend-{version}"
    if (_static_of(target) / "index.html").is_file():
        return _static_of(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"frontend-{version}-", dir=target.parent))
    try:
        r = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                            "--only-binary=:all:", "-d", str(work / "wheel"), f"{PACKAGE}=={version}"],
                           capture_output=True, text=True, timeout=600)
        wheels = list((work / "wheel").glob("*.whl"))
        if r.returncode != 0 or not wheels:
            pytest.skip(f"frontend {version}: `pip download {PACKAGE}=={version}` failed (set ${ENV_STATIC} to an "
                        f"unpacked copy's static folder): {(r.stderr or r.stdout).strip()[-600:]}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            wheel.extractall(work / "unpacked",
                             [n for n in wheel.namelist() if n.startswith("comfyui_frontend_package/static/")])
        if not (_static_of(work / "unpacked") / "index.html").is_file():
            pytest.skip(f"frontend {version}: the downloaded wheel has no comfyui_frontend_package/static/index.html")
        try:
            (work / "unpacked").rename(target)  # atomic: a concurrent run that got there first wins
        except OSError:
            if not (_static_of(target) / "index.html").is_file():
                raise
        return _static_of(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def frontend_fixture(variants=CLASSIC):
    """A module-scoped ``frontend`` fixture over ``variants`` (import the result into the test module as
    ``frontend``); each test id gets the variant's id."""
    @pytest.fixture(scope="module", params=variants, ids=[f.id for f in variants])
    def frontend(request) -> Frontend:
        return request.param
    return frontend
