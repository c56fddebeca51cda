"""`batch` on the family-photo workflow (group swap): a manifest row names several faces (the 'face' column,
';'-separated, one per face input in order) and the group photo (the 'target' column). Two good rows make two
swapped photos; a row with the wrong number of faces or a missing target is an error of its own."""
import json

import numpy as np
import pytest

from instantid_testkit.comfy_env import ROOT, comfy_env, face_photo
from runner.batch.manifest import BadRow, Job, read_manifest
from runner.batch.state import OutputFolder

WORKFLOW = ROOT / "example_workflows" / "instantid_family_photo.json"
TINY = {"checkpoint": "tiny_sdxl.safetensors", "controlnet": "tiny_identitynet.safetensors",
        "adapter": "ip-adapter.safetensors"}
OPTIONS = {**TINY, "steps": 1, "sets": ["Group face crop.long_side=64"]}
GROUP = [(32, 160, 128, 2), (256, 160, 128, 4), (448, 160, 128, 3)]  # three faces, left to right


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    env = comfy_env(tmp_path_factory.mktemp("comfy_group_batch"))
    from PIL import Image
    photos = tmp_path_factory.mktemp("group_batch_photos")
    Image.fromarray(face_photo([(96, 160, 128, 2)])).save(photos / "ann.png")
    Image.fromarray(face_photo([(300, 200, 128, 4)])).save(photos / "ben.png")
    Image.fromarray(face_photo([(96, 160, 128, 3)])).save(photos / "cat.png")
    Image.fromarray(face_photo(GROUP)).save(photos / "family.png")
    env.photos = photos
    return env


def test_manifest_target_column_is_parsed_and_checked(tmp_path):
    (tmp_path / "a.png").write_bytes(b"x")
    (tmp_path / "g.png").write_bytes(b"x")
    manifest = tmp_path / "m.csv"
    manifest.write_text("id,face,target,seed\n"
                        "ok,a.png;a.png,g.png,1\n"
                        "gone,a.png,missing.png,1\n"
                        "outside,a.png,../elsewhere.png,1\n")
    ok, gone, outside = read_manifest(manifest)
    assert isinstance(ok, Job) and ok.faces == (str(tmp_path / "a.png"),) * 2
    assert ok.target == str(tmp_path / "g.png") and ok.overrides()["target"] == ok.target
    assert isinstance(gone, BadRow) and "target file not found" in gone.error
    assert isinstance(outside, BadRow) and "outside the allowed folders" in outside.error
    assert Job.from_dict(ok.to_dict()) == ok  # what the server and Ray executors send


def test_two_group_swap_rows_and_the_bad_rows_beside_them(env, tmp_path):
    from PIL import Image
    from runner.batch.local import LocalExecutor
    from runner.batch.run import run_batch
    import shutil
    for name in ("ann.png", "ben.png", "cat.png", "family.png"):
        shutil.copyfile(env.photos / name, tmp_path / name)
    manifest = tmp_path / "m.csv"
    manifest.write_text("id,face,target,prompt,seed\n"
                        "first,ann.png;ben.png;cat.png,family.png,a family,1\n"
                        "second,cat.png;ann.png;ben.png,family.png,a family,2\n"
                        "twofaces,ann.png;ben.png,family.png,a family,3\n"
                        "notarget,ann.png;ben.png;cat.png,nowhere.png,a family,4\n")
    executor = LocalExecutor(lambda: None, json.loads(WORKFLOW.read_text()), WORKFLOW.name, OPTIONS,
                             say=lambda _l: None)
    out = tmp_path / "out"
    status = run_batch(read_manifest(manifest), out, WORKFLOW.read_bytes(), OPTIONS, executor)
    assert status == 1  # some rows failed, the others were made
    by_row = {r["row"]: r for r in OutputFolder(out).records()}
    assert by_row["first"]["status"] == "ok" and by_row["second"]["status"] == "ok"
    assert "3 face photo inputs" in by_row["twofaces"]["error"]
    assert "target file not found" in by_row["notarget"]["error"]
    family = np.asarray(Image.open(tmp_path / "family.png").convert("RGB"))
    made = [np.asarray(Image.open(out / by_row[r]["output"]).convert("RGB")) for r in ("first", "second")]
    for img in made:
        assert img.shape == family.shape  # the group photo's size: its faces were swapped in place
        # above and below every crop (face boxes y 160..288, padding 0.5 -> crops y 96..352): untouched
        assert np.array_equal(img[:90], family[:90]) and np.array_equal(img[360:], family[360:])
        assert not np.array_equal(img, family)  # the faces were regenerated
    assert not np.array_equal(made[0], made[1])  # other identities (and seed) per row
