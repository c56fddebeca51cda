"""Start and stop a real ComfyUI server for the browser test, in a throw-away base directory.

Layout of ``--base-directory <tmp>/base`` (ComfyUI derives models/, custom_nodes/, input/, output/, temp/ and
user/ from it, folder_paths.py):

* ``custom_nodes/<pack dir name>`` -> symlink to this repository (so ``WEB_DIRECTORY`` is served at
  ``/extensions/<pack dir name>/``), plus ``instantid_browser_fixture.py``, a test-only custom node that
  registers the tiny SDXL family in the server process and writes the tiny models (fixture_node.py);
* ``user/default/comfy.settings.json``: settings that keep the first-run dialogs out of the way.

The server runs with ``--cpu`` and an in-memory database; nothing is written into the ComfyUI checkout."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from .fixture_node import STATUS_FILE, custom_node_source
from .frontends import CLASSIC, Frontend

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
SETTINGS = {
    "Comfy.TutorialCompleted": True,          # no template browser on first start
    "Comfy.Validation.Workflows": True,       # workflow JSON is checked against the schema on load
    "Comfy.Workflow.ShowMissingNodesWarning": True,
    "Comfy.Workflow.ShowMissingModelsWarning": True,
    "Comfy.UseNewMenu": "Top",
    "Comfy.Sidebar.Location": "left",
    "Comfy.Minimap.Visible": False,
    # stored explicitly: the frontend's NavigationMode default handler otherwise writes these two before they
    # are registered, which throws an (unrelated) TypeError while the page starts
    "Comfy.Canvas.NavigationMode": "legacy",
    "Comfy.Canvas.LeftMouseClickBehavior": "panning",
    "Comfy.Canvas.MouseWheelScroll": "zoom",
    "Comfy.NodeBadge.NodeIdBadgeMode": "Show all",
    "Comfy.Release.Status": "changelog seen",  # with the frontend's version (frontends.py): no "what's new" popup
    "Comfy.Release.Timestamp": int(time.time()),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def python_for(comfy_root: str) -> str:
    """$COMFYUI_PYTHON, else the interpreter running the tests (which has ComfyUI's requirements when
    COMFYUI_PATH is set, see scripts/test.sh)."""
    return os.environ.get("COMFYUI_PYTHON") or sys.executable


class ComfyServer:
    def __init__(self, comfy_root: str, tmp: Path, python: str | None = None, frontend: Frontend = CLASSIC[0]):
        self.comfy_root = str(comfy_root)
        self.tmp = Path(tmp)
        self.base = self.tmp / "base"
        self.python = python or python_for(comfy_root)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.tmp / "comfyui.log"
        self.proc: subprocess.Popen | None = None
        self.pack_name = "comfyui-instantid"  # the folder name ComfyUI serves the web dir under
        self.extra_args: list[str] = []  # more ComfyUI command-line arguments (set before start)
        self.tiny_models = True  # False: models/ stays empty (set before start)
        self.extra_env: dict[str, str] = {}  # more environment for the server process (set before start)
        self.frontend = frontend

    # -- set-up --------------------------------------------------------------------------------------------
    def prepare(self) -> None:
        nodes = self.base / "custom_nodes"
        nodes.mkdir(parents=True, exist_ok=True)
        link = nodes / self.pack_name
        if not link.exists():
            link.symlink_to(REPO, target_is_directory=True)
        (nodes / "instantid_browser_fixture.py").write_text(
            custom_node_source(str(TESTS), str(self.base), models=self.tiny_models))
        user = self.base / "user" / "default"
        user.mkdir(parents=True, exist_ok=True)
        (user / "comfy.settings.json").write_text(json.dumps({**SETTINGS, **self.frontend.settings()}, indent=1))
        for d in ("input", "output", "temp", "models"):
            (self.base / d).mkdir(exist_ok=True)

    def start(self, timeout: float = 120.0) -> None:
        self.prepare()
        root = self.frontend.static_root()
        front_end = ["--front-end-root", root] if root else []
        cmd = [self.python, "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(self.port),
               "--base-directory", str(self.base), "--database-url", "sqlite:///:memory:",
               "--disable-auto-launch", "--preview-method", "none", *front_end, *self.extra_args]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1", "DO_NOT_TRACK": "1", **self.extra_env}
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, cwd=self.comfy_root, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ComfyUI exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                self.get_json("/system_stats", timeout=2)
                break
            except (urllib.error.URLError, ConnectionError, OSError, ValueError):
                time.sleep(0.3)
        else:
            self.stop()
            raise RuntimeError(f"ComfyUI did not answer within {timeout:.0f} s:\n{self.log_tail()}")
        status_path = self.base / STATUS_FILE
        status = json.loads(status_path.read_text()) if status_path.exists() else {"ok": False, "error": "missing"}
        if not status.get("ok"):
            self.stop()
            raise RuntimeError(f"test fixture node failed in the server:\n{status.get('error')}\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
        if getattr(self, "log", None) is not None:
            self.log.close()
            self.log = None

    def log_tail(self, chars: int = 6000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    # -- HTTP ----------------------------------------------------------------------------------------------
    def get_json(self, path: str, timeout: float = 10):
        with urllib.request.urlopen(self.url + path, timeout=timeout) as r:
            return json.loads(r.read())

    def get_bytes(self, path: str, timeout: float = 10) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def post_json(self, path: str, body: dict, timeout: float = 10):
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
