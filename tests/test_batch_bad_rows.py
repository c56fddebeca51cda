"""`batch` never dies on one bad row (issue 26, findings 1-4): a saved identity in the face column is staged for
Load Identity and makes its image; a long id is shortened with a hash; odd paths, a deeply nested JSONL line and an
image that cannot be written are each one row's error; only a bad --out ends the batch (exit 2, one sentence);
what the in-process batch staged into ComfyUI's folders is removed afterwards, as `run` removes its own.
The probe's reproductions are the inputs."""
import json
import os
from pathlib import Path

import numpy as np
import pytest

from instantid_testkit.comfy_env import ROOT, comfy_env, face_photo
from runner.batch.manifest import BadRow, Job, read_manifest
from runner.batch.prompts import Outcome
from runner.batch.state import OutputFolder

WORKFLOW = ROOT / "example_workflows" / "instantid_basic_portrait.json"
OPTIONS = {"checkpoint": "tiny_sdxl.safetensors", "controlnet": "tiny_identitynet.safetensors",
           "adapter": "ip-adapter.safetensors", "steps": 1, "width": 64, "height": 64, "sets": []}


def photo(folder: Path, name: str = "alice.png") -> Path:
    from PIL import Image
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(face_photo([(96, 160, 128, 2)])).save(folder / name)
    return folder / name


def records(out: Path) -> dict:
    return {r["row"]: r for r in OutputFolder(out).records()}


# -- rows, no ComfyUI -----------------------------------------------------------------------------------------

def test_a_long_id_is_shortened_with_a_hash_and_two_alike_stay_apart(tmp_path):
    photo(tmp_path)
    manifest = tmp_path / "ids.csv"
    manifest.write_text("id,face\n" + "a" * 300 + ",alice.png\n" + "a" * 299 + "b,alice.png\n")
    rows = read_manifest(manifest)
    assert all(isinstance(r, Job) for r in rows), rows
    assert len({r.output for r in rows}) == 2
    for r in rows:
        assert len(r.output.encode()) < 200 and r.output.startswith("a" * 40)
        (tmp_path / r.output).write_bytes(b"x")  # a name the file system takes


@pytest.mark.parametrize("face, words", [
    ("~nosuchuser/x.png", "Could not determine home directory"),
    ("a\x00b.png", "null byte"),
    ("y" * 5000 + ".png", "File name too long"),
])
def test_a_path_that_cannot_be_used_is_its_rows_error(tmp_path, face, words):
    photo(tmp_path)
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"id": "bad", "face": face}) + "\n" + json.dumps({"id": "ok", "face": "alice.png"})
                        + "\n")
    bad, ok = read_manifest(manifest)
    assert isinstance(ok, Job)
    assert isinstance(bad, BadRow) and "is not a usable path" in bad.error and words in bad.error, bad
    assert len(bad.error) < 300  # the 5,000-character path is not repeated whole


def test_a_jsonl_line_nested_deeply_is_its_rows_error(tmp_path):
    photo(tmp_path)
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("[" * 100_000 + "]" * 100_000 + "\n" + json.dumps({"id": "ok", "face": "alice.png"}) + "\n")
    deep, ok = read_manifest(manifest)
    assert isinstance(deep, BadRow) and "nested too deeply" in deep.error and isinstance(ok, Job)


class Writes:
    """An executor that 'makes' each row at once (a tiny PNG), to test what the batch does with the result."""

    def run(self, jobs, sink):
        for job in jobs:
            sink.done(job, Outcome(images=[b"\x89PNG fake"], seconds=0.0, worker="test"))


def test_an_image_that_cannot_be_written_fails_its_row_and_the_rest_go_on(tmp_path):
    from dataclasses import replace
    from runner.batch.run import run_batch
    photo(tmp_path)
    manifest = tmp_path / "m.csv"
    manifest.write_text("id,face,seed\nfirst,alice.png,1\nsecond,alice.png,2\n")
    first, second = read_manifest(manifest)
    rows = [replace(first, output="x" * 300 + ".png"), second]  # as the probe's 300-character id was named
    out = tmp_path / "out"
    assert run_batch(rows, out, b"{}", {}, Writes(), stream=open(os.devnull, "w")) == 1
    got = records(out)
    assert got["first"]["status"] == "error" and "cannot be written" in got["first"]["error"]
    assert got["second"]["status"] == "ok" and (out / got["second"]["output"]).is_file()
    # a resume does the row it could not write again, and the rest is done
    assert run_batch([second], out, b"{}", {}, Writes(), stream=open(os.devnull, "w")) == 0


def test_out_that_is_a_file_ends_the_batch_in_one_sentence(tmp_path, capsys, monkeypatch):
    from runner import cli
    photo(tmp_path)
    manifest = tmp_path / "m.csv"
    manifest.write_text("id,face\nme,alice.png\n")
    blocker = tmp_path / "taken"
    blocker.write_text("a file")
    monkeypatch.setattr(cli, "find_comfyui", lambda *a: tmp_path)  # "found": the batch must stop at --out
    assert cli.main(["batch", str(manifest), "--out", str(blocker)]) == 2
    err = capsys.readouterr().err
    assert "is a file, not a folder" in err and "Traceback" not in err, err
    assert cli.main(["batch", str(manifest), "--out", str(blocker / "below")]) == 2
    err = capsys.readouterr().err
    assert "cannot be made" in err and "Traceback" not in err, err


LONG = "y" * 5000


@pytest.mark.parametrize("argv, words", [
    (["--faces", LONG, "--prompts", "p.txt"], "--faces 'yyy"),
    (["--faces", ".", "--prompts", LONG], "cannot read prompts file 'yyy"),
    ([LONG + ".csv"], "cannot read manifest 'yyy"),
    (["m.csv", "--workflow", "deep.json"], "cannot read workflow deep.json: it is nested too deeply"),
    (["m.csv", "--workflow", LONG], "cannot read workflow yyy"),
    (["m.csv", "--out", LONG], "cannot be made (File name too long)"),
    (["m.csv", "--out", "a\x00b"], "cannot be made (embedded null byte)"),
])
def test_what_ends_the_batch_is_one_short_sentence(tmp_path, capsys, monkeypatch, argv, words):
    """A whole-batch problem (--faces, --prompts, the manifest, --workflow, --out) is exit 2 in one sentence
    that does not repeat a 5,000-character name (every runner error path: one sentence, exit 2)."""
    from runner import cli
    photo(tmp_path)
    (tmp_path / "m.csv").write_text("id,face\nme,alice.png\n")
    (tmp_path / "p.txt").write_text("a portrait\n")
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "find_comfyui", lambda *a: tmp_path)  # "found": nothing may get as far as booting
    assert cli.main(["batch", *argv]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err and len(err) < 400 and err.count("\n") == 1, err


# -- in-process ComfyUI -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return comfy_env(tmp_path_factory.mktemp("comfy_batch_rows"))


def test_a_saved_identity_row_is_made_and_nothing_staged_stays(env, tmp_path):
    import folder_paths
    from PIL import Image
    from instantid_core.faces.face_analysis import FaceAnalyzer
    from instantid_core.files.identity_file import save_identity
    from runner.batch.local import LocalExecutor
    from runner.batch.run import run_batch

    face = photo(tmp_path)
    analyzer = FaceAnalyzer.load(folder_paths.get_folder_paths("insightface")[0], "CPU")
    saved = save_identity(tmp_path, "person", [analyzer.analyze(np.asarray(Image.open(face)))])
    (tmp_path / "broken.safetensors").write_bytes(b"junk")
    manifest = tmp_path / "ids.csv"
    manifest.write_text(f"id,face,seed\nme,{saved.name},3\nphoto,alice.png,3\nbroken,broken.safetensors,3\n")
    input_dir = Path(folder_paths.get_input_directory())
    identities = Path(folder_paths.get_folder_paths("instantid_identities")[0])
    def files():  # (ComfyUI itself may add folders, e.g. input/3d)
        return {p.name for d in (input_dir, identities) if d.is_dir() for p in d.iterdir() if p.is_file()}
    before = files()
    executor = LocalExecutor(lambda: None, json.loads(WORKFLOW.read_text()), WORKFLOW.name, OPTIONS,
                             say=lambda _l: None)
    out = tmp_path / "out"
    assert run_batch(read_manifest(manifest), out, WORKFLOW.read_bytes(), OPTIONS, executor,
                     stream=open(os.devnull, "w")) == 1
    got = records(out)
    assert got["me"]["status"] == "ok" and got["photo"]["status"] == "ok", got
    assert "broken.safetensors is damaged" in got["broken"]["error"]
    # the identity of that photo gives that photo's picture
    assert (out / got["me"]["output"]).read_bytes() != b""
    a, b = (np.asarray(Image.open(out / got[r]["output"])) for r in ("me", "photo"))
    assert np.array_equal(a, b)
    assert files() == before  # the staged photo and identity are gone again
