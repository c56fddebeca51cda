"""One import identity for the pack (runner/pack_import.py): ComfyUI imports the pack as a package named after its
folder, and everything else (the command line, the tests, scripts, benchmarks) registers that same package first,
so each file of the pack is ONE module in a process, whichever way it was reached: the runner's relative imports,
the nodes ComfyUI loads, or the top-level names ``instantid_core`` / ``runner`` the tests use. Two copies of a
module would make an ``isinstance`` or an ``except`` across them fail silently."""
import importlib
import importlib.util
import json
import os
import subprocess
import sys

import pytest

import instantid_testkit
from instantid_testkit.comfy_env import ROOT, cli_base_dir, comfy_env, face_photo

WORKFLOW = "example_workflows/instantid_basic_portrait.json"
TINY = ["--checkpoint", "tiny_sdxl.safetensors", "--controlnet", "tiny_identitynet.safetensors",
        "--adapter", "ip-adapter.safetensors", "--width", "64", "--height", "64", "--steps", "1"]
SLOW = 600  # a fresh ComfyUI start-up per command, on a loaded 2-core machine

# A test-only custom node: when its process exits it writes, for every file of the pack's product (its top-level
# .py files, nodes/, runner/, instantid_core/) that the process imported, the sys.modules names of each distinct
# module object made of it. Only those: a venv inside the clone (CI's .venv) holds extension modules that are
# rightly registered under several names.
CENSUS_NODE = """
import atexit, json, os, sys
PACK, OUT = {pack!r}, {out!r}
PRODUCT = ("nodes", "runner", "instantid_core")
def census():
    objects = {{}}
    for name, module in list(sys.modules.items()):
        path = os.path.realpath(getattr(module, "__file__", None) or "/")
        if not path.startswith(PACK + os.sep):
            continue
        relative = os.path.relpath(path, PACK)
        parts = relative.split(os.sep)
        if len(parts) == 1 or parts[0] in PRODUCT:
            objects.setdefault(relative, {{}}).setdefault(id(module), []).append(name)
    with open(OUT, "w") as f:
        json.dump({{path: sorted(by_id.values()) for path, by_id in objects.items()}}, f)
atexit.register(census)
NODE_CLASS_MAPPINGS = {{}}
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return comfy_env(tmp_path_factory.mktemp("comfy_identity"))


def census_of(env, tmp_path, *args) -> dict:
    """{pack file: [[names of one module object], …]} of a `python <pack> ARGS` process on the tiny models."""
    base = cli_base_dir(env, tmp_path)
    out = tmp_path / "census.json"
    (base / "custom_nodes" / "module_census.py").write_text(CENSUS_NODE.format(pack=str(ROOT), out=str(out)))
    cmd = [sys.executable, str(ROOT), "--comfy-args", f"--cpu --base-directory {base}", *args]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=SLOW,
                          env={**os.environ, "COMFYUI_PATH": env.comfy_root})
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    return json.loads(out.read_text())


def assert_one_module_per_file(census: dict) -> None:
    # reached both ways: the runner's side and the nodes ComfyUI loaded, which import the same core files
    assert any(p.startswith(f"runner{os.sep}") for p in census) and any(p.startswith(f"nodes{os.sep}") for p in census)
    assert os.path.join("instantid_core", "errors.py") in census
    twice = {path: objects for path, objects in census.items() if len(objects) > 1}
    assert twice == {}, f"files imported as more than one module: {twice}"


def test_a_run_process_holds_one_copy_of_each_module(env, tmp_path):
    from PIL import Image
    Image.fromarray(face_photo()).save(tmp_path / "face.png")
    census = census_of(env, tmp_path, "run", WORKFLOW, "--face", str(tmp_path / "face.png"), "--prompt", "a portrait",
                       "--out", str(tmp_path / "out.png"), *TINY)
    assert_one_module_per_file(census)


def test_an_in_process_batch_holds_one_copy_of_each_module(env, tmp_path):
    from PIL import Image
    (tmp_path / "faces").mkdir()
    Image.fromarray(face_photo()).save(tmp_path / "faces" / "ann.png")
    (tmp_path / "prompts.txt").write_text("a portrait\n")
    census = census_of(env, tmp_path, "batch", "--faces", str(tmp_path / "faces"), "--prompts",
                       str(tmp_path / "prompts.txt"), "--out", str(tmp_path / "out"), *TINY)
    assert_one_module_per_file(census)
    assert os.path.join("runner", "batch", "local.py") in census


def test_top_level_names_are_the_package_modules_themselves():
    import instantid_core.errors
    import runner.workflow_prompt
    package = instantid_testkit.PACKAGE
    assert package == str(ROOT).replace(".", "_x_")  # the name ComfyUI's load_custom_node gives the folder
    assert instantid_core.errors is importlib.import_module(f"{package}.instantid_core.errors")
    assert instantid_core.errors.__name__ == instantid_core.errors.__spec__.name == f"{package}.instantid_core.errors"
    assert runner.workflow_prompt.RunnerError is importlib.import_module(
        f"{package}.runner.workflow_prompt").RunnerError


def test_a_linked_pack_folder_meets_the_same_modules(tmp_path):
    """ComfyUI names the pack after the path it finds it at: a link in custom_nodes gives another name, whose
    modules must be the ones already imported."""
    runner_pack_import = importlib.import_module(f"{instantid_testkit.PACKAGE}.runner.pack_import")
    custom_nodes = tmp_path / "custom.nodes"  # a "." in the path, which ComfyUI writes "_x_"
    custom_nodes.mkdir()
    (custom_nodes / "instantid-link").symlink_to(ROOT, target_is_directory=True)
    runner_pack_import.follow_comfyui_names([custom_nodes])
    linked = runner_pack_import.comfyui_module_name(custom_nodes / "instantid-link")
    assert "." not in linked
    # what ComfyUI's load_custom_node does first: the folder's package under that name (its __init__ runs then)
    spec = importlib.util.spec_from_file_location(linked, custom_nodes / "instantid-link" / "__init__.py")
    sys.modules[linked] = importlib.util.module_from_spec(spec)
    try:
        import instantid_core.errors
        assert importlib.import_module(f"{linked}.instantid_core.errors") is instantid_core.errors
    finally:
        for name in [n for n in sys.modules if n == linked or n.startswith(linked + ".")]:
            del sys.modules[name]
