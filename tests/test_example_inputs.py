"""The example photos: every image a shipped workflow names is shipped in example_inputs/, small, and copied into
ComfyUI's input folder at pack import without ever replacing a file that is already there."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from PIL import Image

from instantid_core.files.example_inputs import EXAMPLES, PREFIX, copy_example_inputs, example_names

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / "example_workflows").glob("*.json"))


def load_image_names(workflow: Path):
    nodes = json.loads(workflow.read_text())["nodes"]
    return [n["widgets_values"][0] for n in nodes if n["type"] == "LoadImage"]


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.stem)
def test_every_load_image_names_a_shipped_example(workflow):
    names = load_image_names(workflow)
    assert names, "every shipped workflow starts from a photo"
    missing = [n for n in names if n not in example_names()]
    assert not missing, f"{workflow.name} names {missing}, which example_inputs/ does not ship"


def test_examples_are_small_real_images_with_the_prefix():
    names = example_names()
    assert len(names) >= 3 and all(n.startswith(PREFIX) for n in names)
    assert sorted(p.name for p in EXAMPLES.iterdir() if p.is_file()) == names  # nothing else in the folder
    total = 0
    for name in names:
        with Image.open(EXAMPLES / name) as img:
            assert img.format == "JPEG" and max(img.size) <= 1024
        total += (EXAMPLES / name).stat().st_size
    assert total < 1_000_000
    used = {n for w in WORKFLOWS for n in load_image_names(w)}
    assert set(names) == used, "an example no workflow uses, or a workflow name without its file"


def test_copy_fills_in_missing_names_and_never_overwrites(tmp_path):
    inputs = tmp_path / "input"
    inputs.mkdir()
    names = example_names()
    mine = inputs / names[0]
    mine.write_bytes(b"the user's own picture")
    os.symlink(tmp_path / "nowhere.jpg", inputs / names[1])  # even a dangling link is the user's
    copied = copy_example_inputs(inputs)
    assert copied == names[2:]
    assert mine.read_bytes() == b"the user's own picture"
    assert os.path.islink(inputs / names[1]) and not (tmp_path / "nowhere.jpg").exists()
    for name in names[2:]:
        assert (inputs / name).read_bytes() == (EXAMPLES / name).read_bytes()
    (inputs / names[2]).write_bytes(b"edited by the user")
    assert copy_example_inputs(inputs) == []  # a second start-up changes nothing
    assert (inputs / names[2]).read_bytes() == b"edited by the user"


def test_copy_into_a_missing_or_read_only_folder(tmp_path):
    fresh = tmp_path / "not_yet" / "input"
    assert copy_example_inputs(fresh) == example_names()
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        if os.access(locked, os.W_OK):  # root ignores the mode: a file where the folder should be is read-only too
            locked.chmod(0o755)
            locked.rmdir()
            locked.write_text("a file, not a folder")
        assert copy_example_inputs(locked) == []  # no exception: the pack still imports
    finally:
        if locked.is_dir():
            locked.chmod(0o755)


def test_pack_import_puts_the_examples_into_comfyuis_input_folder(tmp_path_factory):
    from instantid_testkit.comfy_env import comfy_env
    comfy_env(tmp_path_factory.mktemp("comfy"))  # skips, saying how to get ComfyUI, when there is none
    import folder_paths
    present = set(os.listdir(folder_paths.get_input_directory()))
    assert set(example_names()) <= present
