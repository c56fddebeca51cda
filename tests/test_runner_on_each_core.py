"""`python <pack> run` and a 4-row `batch`, each in a fresh process with its own ComfyUI start-up, on the core at
COMFYUI_PATH (CI runs this module once per supported core), and the same `run` on the other supported core, whose
image must be the same.

The console of a run is checked too: the runner starts ComfyUI without its web server, and nothing it prints may
tell the user to reinstall ComfyUI's requirements for that (v0.33 printed "IMPORT FAILED: nodes_replacements.py …
pip install -r requirements.txt" on every command)."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from instantid_testkit.comfy_env import ROOT, cli_base_dir, comfy_env, face_photo

WORKFLOW = "example_workflows/instantid_basic_portrait.json"
TINY = ["--checkpoint", "tiny_sdxl.safetensors", "--controlnet", "tiny_identitynet.safetensors",
        "--adapter", "ip-adapter.safetensors"]
SMALL = ["--width", "64", "--height", "64", "--steps", "1"]
SLOW = 600  # a fresh ComfyUI start-up per command, on a loaded 2-core machine
# where CI unpacked each supported core (.ci/run exports both): the cross-core comparison needs the other one
CORE_VARIABLES = ("INSTANTID_COMFYUI_0_33", "INSTANTID_COMFYUI_0_3_64")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    env = comfy_env(tmp_path_factory.mktemp("comfy_cores"))
    from PIL import Image
    photos = tmp_path_factory.mktemp("core_photos")
    for name, faces in (("alice.png", [(96, 160, 128, 2)]), ("bob.png", [(300, 200, 128, 4)])):
        Image.fromarray(face_photo(faces)).save(photos / name)
    env.photos = photos
    env.base = cli_base_dir(env, tmp_path_factory.mktemp("core_base"))
    return env


def cli(env, comfy_root, *args):
    """`python <pack> --comfy-args '--cpu --base-directory <tiny models>' ARGS` with COMFYUI_PATH=comfy_root."""
    cmd = [sys.executable, str(ROOT), "--comfy-args", f"--cpu --base-directory {env.base}", *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=SLOW,
                          env={**os.environ, "COMFYUI_PATH": str(comfy_root)})


def run_portrait(env, comfy_root, out: Path):
    return cli(env, comfy_root, "run", WORKFLOW, "--face", str(env.photos / "alice.png"), "--prompt", "a portrait",
               "--seed", "7", "--out", str(out), *SMALL, *TINY)


def pixels(path: Path) -> np.ndarray:
    from PIL import Image
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


@pytest.fixture(scope="module")
def portrait(env, tmp_path_factory):
    out = tmp_path_factory.mktemp("core_run") / "portrait.png"
    done = run_portrait(env, env.comfy_root, out)
    return out, done


def misleading_lines(console: str) -> list:
    """ComfyUI's start-up complaints that would send the user to reinstall something (there is nothing to fix)."""
    words = ("IMPORT FAILED", "pip install -r requirements.txt", "did not import correctly")
    return [line for line in console.splitlines() if any(w in line for w in words)]


def test_run_makes_the_image_on_this_core_and_boots_quietly(env, portrait):
    out, done = portrait
    console = done.stdout + done.stderr
    assert done.returncode == 0, console[-3000:]
    assert f"saved {out}" in done.stdout
    assert pixels(out).shape == (64, 64, 3)
    assert misleading_lines(console) == [], console[-3000:]
    assert "Traceback" not in console


def test_a_four_row_batch_makes_every_row_on_this_core(env, portrait, tmp_path):
    for person in ("alice", "bob"):  # rows name photos beside the manifest
        shutil.copyfile(env.photos / f"{person}.png", tmp_path / f"{person}.png")
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("id,face,prompt,seed\n" + "".join(
        f"{person},{person}.png,{prompt},{seed}\n"
        for person in ("alice", "bob") for prompt, seed in (("a portrait", 7), ("an oil painting", 8))))
    out = tmp_path / "out"
    done = cli(env, env.comfy_root, "batch", str(manifest), "--out", str(out), *SMALL, *TINY)
    console = done.stdout + done.stderr
    assert done.returncode == 0, console[-3000:]
    assert misleading_lines(console) == [], console[-3000:]
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [(r["row"], r["status"]) for r in records] == [("alice", "ok"), ("alice", "ok"), ("bob", "ok"),
                                                          ("bob", "ok")]
    made = {r["output"]: pixels(out / r["output"]) for r in records}
    assert all(image.shape == (64, 64, 3) for image in made.values())
    # every row ran its own prompt: four different files (the PNG carries the row's prompt, the staged photo's
    # name included), and the two prompts/seeds give different pixels. The tiny models' 64x64 images are nearly
    # black (values 0..1), so the two people's identity difference falls below 8 bits: not checked here
    assert len({(out / name).read_bytes() for name in made}) == 4
    def images_of(seed):
        return {made[r["output"]].tobytes() for r in records if r["seed"] == seed}
    assert images_of(7).isdisjoint(images_of(8))
    # the row with run's inputs (alice, "a portrait", seed 7) is run's image: one executor path, two commands
    first = next(r["output"] for r in records if r["row"] == "alice" and r["seed"] == 7)
    assert np.array_equal(made[first], pixels(portrait[0]))


def other_core(this_root: str):
    """The supported core that is not ``this_root``, from CI's variables; None when it is not known here."""
    this = Path(this_root).resolve()
    for name in CORE_VARIABLES:
        path = os.environ.get(name)
        if path and Path(path).resolve() != this:
            return name, Path(path)
    return None


@pytest.mark.cross_core
def test_run_makes_the_same_image_on_the_other_core(env, portrait, tmp_path):
    """The same inputs, tiny models and seed through the other supported core: pixel for pixel the same image.
    The tiny models' 64x64 images are dark (values 0..1 of 255), so this holds the two cores to the same pipeline
    and sampling, not to the size of the identity term (the IdentityNet tests compare that in floating point)."""
    found = other_core(env.comfy_root)
    if found is None:
        pytest.skip(f"the other supported core is unknown: set {' and '.join(CORE_VARIABLES)} to the two ComfyUI "
                    f"folders (.ci/run does)")
    name, root = found
    assert portrait[1].returncode == 0, (portrait[1].stdout + portrait[1].stderr)[-3000:]
    out = tmp_path / "other.png"
    done = run_portrait(env, root, out)
    assert done.returncode == 0, f"{name}={root}\n" + (done.stdout + done.stderr)[-3000:]
    ours, theirs = pixels(portrait[0]), pixels(out)
    assert np.count_nonzero(ours) > 0  # not an all-black image, which any two broken runs would share
    difference = np.abs(ours.astype(int) - theirs.astype(int))
    assert difference.max() == 0, (f"{env.comfy_root} and {root} differ: {np.count_nonzero(difference)} of "
                                   f"{difference.size} values, by {difference.max()} at most")
