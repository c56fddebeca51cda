"""Packaging: Comfy Registry rules for pyproject.toml, dependency hygiene, and that installing the
requirements into an environment that already has torch (ComfyUI's) changes no torch."""
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TORCH = {"torch", "torchvision", "torchaudio"}


def requirement_names(path=ROOT / "requirements.txt"):
    names = []
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            names.append(re.split(r"[<>=!~;\[ ]", line)[0].lower())
    return names


def test_pyproject_follows_registry_rules():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project, comfy = data["project"], data["tool"]["comfy"]
    name = project["name"]
    assert len(name) < 100 and re.fullmatch(r"[A-Za-z][A-Za-z0-9._-]*", name)
    assert not re.search(r"[._-]{2}", name) and "comfyui" not in name.lower()
    assert re.fullmatch(r"\d+\.\d+\.\d+", project["version"])
    assert (ROOT / project["license"]["file"]).is_file()
    assert project["description"] and project["urls"]["Repository"].startswith("https://")
    # the URL keys the Registry reads (others, such as "Bug Tracker", it drops)
    assert {"Homepage", "Documentation", "Repository", "Issues"} <= set(project["urls"])
    assert comfy["requires-comfyui"] == ">=0.3.64"  # the oldest core the tests run against
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]*", comfy["PublisherId"])
    assert comfy["DisplayName"]
    assert re.search(r"\.(svg|png|jpg|gif)$", comfy["Icon"])
    icon = ROOT / "web" / comfy["Icon"].rsplit("/web/", 1)[1]
    w, h = (int(v) for v in re.search(r'width="(\d+)" height="(\d+)"', icon.read_text()).groups())
    assert w <= 800 and h <= 400
    for folder in comfy.get("includes", []):
        assert (ROOT / folder).is_dir()
    assert "dynamic" not in project  # the registry records no dependencies from a dynamic list
    assert sorted(d.lower() for d in project["dependencies"]) == sorted(requirement_lines())


def test_ray_is_an_optional_extra_the_tests_install():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any(d.lower().startswith("ray") for d in project["dependencies"])  # only `batch --ray` needs it
    [ray] = project["optional-dependencies"]["ray"]
    dev = [line.split("#")[0].strip() for line in (ROOT / "requirements-dev.txt").read_text().splitlines()]
    assert ray in dev


def test_readme_gives_the_registry_id_and_no_search_that_works_today():
    name = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"]
    readme = (ROOT / "README.md").read_text()
    assert f"comfy node install {name}" in readme and "once published" in readme
    assert not re.search(r"ComfyUI-Manager\W+search", readme), "the pack is not in ComfyUI-Manager's list yet"


def requirement_lines(path=ROOT / "requirements.txt"):
    return [line.split("#")[0].strip().lower() for line in path.read_text().splitlines()
            if line.split("#")[0].strip() and not line.startswith("-")]


def test_registry_models_match_the_catalog():
    from instantid_core.files.model_catalog import files_for
    models = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["comfy"]["Models"]
    assert models == [{"location": f"/{f.folder_kind}/{f.target}", "model_url": f.url} for f in files_for()]
    assert all(m["model_url"].startswith("https://huggingface.co/") for m in models)


def test_comfyignore_leaves_out_development_folders():
    ignored = (ROOT / ".comfyignore").read_text().split()
    for folder in ("tests/", "benchmarks/", "scripts/", ".ci/"):
        assert folder in ignored
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert not set(data["tool"]["comfy"]["includes"]) & {f.rstrip("/") for f in ignored}


def test_requirements_hygiene():
    names = requirement_names()
    assert not TORCH & set(names), "ComfyUI owns torch"
    assert not {"onnxruntime", "onnxruntime-gpu"} <= set(names), "both onnxruntime distributions break each other"
    assert not {"opencv-python", "opencv-python-headless"} <= set(names)
    assert "insightface" in names


def test_installing_requirements_changes_no_torch(tmp_path):
    """pip's own resolver, in this environment (which already has torch): nothing torch-like would change."""
    report = tmp_path / "report.json"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--report", str(report),
                           "-r", str(ROOT / "requirements.txt")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    planned = {item["metadata"]["name"].lower() for item in json.loads(report.read_text())["install"]}
    assert not planned & TORCH, f"installing requirements.txt would change {planned & TORCH}"
