"""`download` and `doctor` find ComfyUI's model folders from its files (runner/comfy_folders.py), without importing
ComfyUI: they start at once, print only their own lines, and work where ComfyUI's import fails. The rules are
checked against a real ComfyUI's folder_paths for the same yaml files and flags."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from instantid_core.files.model_catalog import FOLDER_KINDS, files_for
from instantid_testkit.comfy_env import HOW_TO_GET_COMFYUI
from runner.comfy_folders import FolderConfigError, configured_folders
from runner.comfy_location import find_comfyui

ROOT = Path(__file__).resolve().parents[1]


def broken_comfyui(tmp_path: Path) -> Path:
    """A folder that looks like ComfyUI to the pack, whose `comfy` package cannot be imported."""
    root = tmp_path / "ComfyUI"
    (root / "comfy").mkdir(parents=True)
    (root / "main.py").write_text("raise SystemExit('ComfyUI must not be started')\n")
    (root / "folder_paths.py").write_text("raise RuntimeError('folder_paths must not be imported')\n")
    (root / "comfy" / "__init__.py").write_text("raise RuntimeError('broken ComfyUI environment')\n")
    return root


def run_cli(tmp_path: Path, comfy: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COMFYUI_PATH": str(comfy), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, str(ROOT), *args], capture_output=True, text=True, env=env,
                          cwd=str(tmp_path), timeout=120)


def test_download_help_and_dry_run_work_where_comfyui_cannot_be_imported(tmp_path):
    comfy = broken_comfyui(tmp_path)
    helped = run_cli(tmp_path, comfy, "download", "--help")
    assert helped.returncode == 0 and helped.stderr == "", helped.stderr
    assert "--dry-run" in helped.stdout and "--only" in helped.stdout

    planned = run_cli(tmp_path, comfy, "download", "--dry-run")
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert planned.stderr == ""  # nothing but the command's own lines: no ComfyUI start-up messages
    lines = planned.stdout.splitlines()
    assert lines[0].startswith("dry run: nothing is fetched")
    for file in files_for():
        target = comfy / "models" / file.folder_kind / file.target
        at = lines.index(str(target))
        assert lines[at + 1].strip() == f"fetch  {file.size / 1e6:,.1f} MB from {file.url}"
    assert len(lines) == 1 + 2 * len(files_for())
    assert not (comfy / "models").exists()  # a dry run creates nothing


def test_dry_run_tells_present_from_missing_and_wrong_size(tmp_path):
    comfy = broken_comfyui(tmp_path)
    genderage, glint = (next(f for f in files_for(["antelopev2"]) if f.name == n)
                        for n in ("genderage.onnx", "glintr100.onnx"))
    folder = comfy / "models" / "insightface" / "models" / "antelopev2"
    folder.mkdir(parents=True)
    (folder / genderage.name).write_bytes(bytes(genderage.size))
    (folder / glint.name).write_bytes(b"not the model")
    done = run_cli(tmp_path, comfy, "download", "--only", "antelopev2", "--dry-run")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    lines = done.stdout.splitlines()
    assert lines[lines.index(str(folder / genderage.name)) + 1].strip() == "present"
    wrong = lines[lines.index(str(folder / glint.name)) + 1]
    assert "has 13 bytes" in wrong and "glintr100.onnx.bad-N" in wrong
    assert not any("ip-adapter" in line for line in lines)  # --only is honoured


def test_doctor_without_a_workflow_reads_the_folders_without_comfyui(tmp_path):
    comfy = broken_comfyui(tmp_path)
    done = run_cli(tmp_path, comfy, "doctor")
    assert done.returncode == 1, done.stdout + done.stderr  # models missing: the doctor's verdict, not a crash
    assert "Traceback" not in done.stdout + done.stderr and "broken ComfyUI" not in done.stdout + done.stderr
    assert str(comfy / "models" / "instantid") in done.stdout


def test_a_broken_yaml_is_named(tmp_path):
    comfy = broken_comfyui(tmp_path)
    (comfy / "extra_model_paths.yaml").write_text("a: [unclosed\n")
    done = run_cli(tmp_path, comfy, "download", "--dry-run")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert str(comfy / "extra_model_paths.yaml") in done.stderr
    with pytest.raises(FolderConfigError):
        configured_folders(comfy)


def write_yamls(tmp_path: Path, comfy_root: Path):
    """The ComfyUI folder's own yaml (relative entries, a multi-line value, a legacy kind) and a second one given
    by flag (is_default, base_path with ~ and a variable)."""
    own = textwrap.dedent("""
        local:
            checkpoints: |
                ../elsewhere/ckpt
                /abs/ckpt
            insightface: faces
            unet: unet_here
        empty:
    """)
    flagged = textwrap.dedent("""
        drive:
            base_path: $INSTANTID_TEST_DRIVE/models
            is_default: true
            controlnet: cn
            instantid: ii
    """)
    (comfy_root / "extra_model_paths.yaml").write_text(own)
    second = tmp_path / "conf" / "second.yaml"
    second.parent.mkdir(exist_ok=True)
    second.write_text(flagged)
    return second


def test_yaml_rules_flags_and_the_pack_folders(tmp_path, monkeypatch):
    comfy = broken_comfyui(tmp_path)
    monkeypatch.setenv("INSTANTID_TEST_DRIVE", str(tmp_path / "drive"))
    second = write_yamls(tmp_path, comfy)
    first, search = configured_folders(comfy, ["--cpu", "--extra-model-paths-config", str(second)])
    models = comfy / "models"
    assert first == {"instantid": tmp_path / "drive" / "models" / "ii",
                     "controlnet": tmp_path / "drive" / "models" / "cn",
                     "insightface": comfy / "faces",
                     "checkpoints": models / "checkpoints"}
    assert search["checkpoints"] == [models / "checkpoints", tmp_path / "elsewhere" / "ckpt", Path("/abs/ckpt")]
    assert search["controlnet"] == [tmp_path / "drive" / "models" / "cn", models / "controlnet", models / "t2i_adapter"]
    assert search["insightface"] == [comfy / "faces", models / "insightface"]  # the pack's default comes after
    base = tmp_path / "base"
    first, _ = configured_folders(comfy, ["--base-directory", str(base)])
    assert first["checkpoints"] == base / "models" / "checkpoints" and first["instantid"] == base / "models" / "instantid"
    first, _ = configured_folders(comfy, ["--base-directory", str(base), "--models-directory", str(tmp_path / "m")])
    assert first["controlnet"] == tmp_path / "m" / "controlnet"


def test_same_folders_as_a_real_comfyui(tmp_path, monkeypatch):
    comfy = find_comfyui(ROOT)
    if comfy is None:
        pytest.skip("ComfyUI not found: the folders were not compared with ComfyUI's folder_paths. To compare "
                    "them: " + HOW_TO_GET_COMFYUI)
    monkeypatch.setenv("INSTANTID_TEST_DRIVE", str(tmp_path / "drive"))
    fake = tmp_path / "ComfyUI"  # ComfyUI reads <its folder>/extra_model_paths.yaml: use a copy's place for ours
    fake.mkdir()
    second = write_yamls(tmp_path, fake)
    code = f"""
        import importlib.util, json, sys
        sys.path.insert(0, {str(comfy)!r})
        sys.argv = ["main.py", "--cpu", "--base-directory", {str(fake)!r}]
        import comfy.options
        comfy.options.enable_args_parsing()
        import folder_paths, utils.extra_config
        for cfg in ({str(fake / "extra_model_paths.yaml")!r}, {str(second)!r}):
            utils.extra_config.load_extra_path_config(cfg)
        spec = importlib.util.spec_from_file_location("pack_folders", {str(ROOT / "nodes" / "folders.py")!r})
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.register_model_folders()
        print(json.dumps({{k: folder_paths.get_folder_paths(k) for k in {list(FOLDER_KINDS)!r}}}))
    """
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env={**os.environ}, cwd=str(tmp_path), timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    real = json.loads(done.stdout.strip().splitlines()[-1])
    # the pack's default folders were appended by the same rule as ours
    _, search = configured_folders(fake, ["--base-directory", str(fake), "--extra-model-paths-config", str(second)])
    assert {k: [str(p) for p in v] for k, v in search.items()} == real
