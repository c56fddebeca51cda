"""antelopev2 discovery, misplacement messages and size/sha256 verification (no models needed)."""

import hashlib

import pytest

from instantid_core.errors import InstantIDError
from instantid_core.faces.antelope_files import (
    ANTELOPE_FILES,
    LOADER_FILES,
    AntelopeFilesError,
    FileSpec,
    FileStatus,
    antelope_dir,
    check_antelopev2,
    require_antelopev2,
    sha256_file,
)

TWO = ("scrfd_10g_bnkps.onnx", "glintr100.onnx")


def _write(path, data=b"onnx-bytes"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _specs(data=b"onnx-bytes"):
    return {n: FileSpec(len(data), hashlib.sha256(data).hexdigest()) for n in TWO}


def test_published_table_matches_design():
    assert set(ANTELOPE_FILES) == {"1k3d68.onnx", "2d106det.onnx", "genderage.onnx",
                                   "glintr100.onnx", "scrfd_10g_bnkps.onnx"}
    assert ANTELOPE_FILES["glintr100.onnx"].size == 260665334
    assert ANTELOPE_FILES["scrfd_10g_bnkps.onnx"].sha256.startswith("5838f7fe")
    assert set(LOADER_FILES) <= set(ANTELOPE_FILES)


def test_ok_layout(tmp_path):
    for n in TWO:
        _write(tmp_path / "models" / "antelopev2" / n)
    report = check_antelopev2(tmp_path, required=TWO, specs=_specs(), verify_sha256=True)
    assert report.ok and report.folder_exists
    assert [f.status for f in report.files] == [FileStatus.OK, FileStatus.OK]
    assert report.files[0].sha256 == hashlib.sha256(b"onnx-bytes").hexdigest()
    assert require_antelopev2(tmp_path, required=TWO, specs=_specs()) == antelope_dir(tmp_path)


def test_missing_folder_names_expected_paths(tmp_path):
    report = check_antelopev2(tmp_path)  # defaults: the five published files
    assert not report.folder_exists
    assert [f.name for f in report.files] == list(ANTELOPE_FILES)
    assert all(f.status is FileStatus.MISSING for f in report.files)
    msg = report.message()
    assert f"The folder {tmp_path / 'models' / 'antelopev2'} does not exist." in msg
    for n in ANTELOPE_FILES:
        assert f"put {n} at {tmp_path / 'models' / 'antelopev2' / n}" in msg
    with pytest.raises(AntelopeFilesError) as exc:
        require_antelopev2(tmp_path)
    assert isinstance(exc.value, ValueError) and isinstance(exc.value, InstantIDError) and str(exc.value) == msg


def test_extra_nesting_says_what_to_move_where(tmp_path):
    nested = tmp_path / "models" / "antelopev2" / "antelopev2"
    for n in ANTELOPE_FILES:
        _write(nested / n)
    report = check_antelopev2(tmp_path)
    assert report.folder_exists and not report.ok
    assert all(f.status is FileStatus.MISPLACED and f.found_path == nested / f.name for f in report.files)
    with pytest.raises(AntelopeFilesError) as exc:
        require_antelopev2(tmp_path)
    msg = str(exc.value)
    folder = tmp_path / "models" / "antelopev2"
    assert f"Move the .onnx files from {nested} into {folder}:" in msg
    for n in ANTELOPE_FILES:
        assert f"move {nested / n} to {folder / n}" in msg


@pytest.mark.parametrize("where", [("models",), (), ("antelopev2",), ("models", "antelopev2-main")])
def test_files_in_wrong_folder(tmp_path, where):
    src = tmp_path.joinpath(*where)
    for n in TWO:
        _write(src / n)
    report = check_antelopev2(tmp_path, required=TWO)
    folder = tmp_path / "models" / "antelopev2"
    for f in report.files:
        assert f.status is FileStatus.MISPLACED
        assert f"move {src / f.name} to {folder / f.name}" in report.message()


def test_mixed_statuses(tmp_path):
    folder = tmp_path / "models" / "antelopev2"
    _write(folder / "scrfd_10g_bnkps.onnx")
    _write(folder / "antelopev2" / "glintr100.onnx")
    report = check_antelopev2(tmp_path, required=TWO + ("genderage.onnx",), specs=_specs())
    assert [f.status for f in report.files] == [FileStatus.OK, FileStatus.MISPLACED, FileStatus.MISSING]
    assert [f.name for f in report.problems] == ["glintr100.onnx", "genderage.onnx"]
    assert "Move the .onnx files" not in report.message()  # only one misplaced file: per-file line only


def test_size_mismatch_against_published_sizes(tmp_path):
    path = _write(tmp_path / "models" / "antelopev2" / "glintr100.onnx", b"truncated")
    report = check_antelopev2(tmp_path, required=["glintr100.onnx"])
    (f,) = report.files
    assert f.status is FileStatus.SIZE_MISMATCH and f.size == 9 and f.expected_size == 260665334
    assert f"{path} is 9 bytes, the published file is 260665334 bytes" in report.message()
    assert check_antelopev2(tmp_path, required=["glintr100.onnx"], verify_size=False).ok


def test_sha_mismatch_only_when_asked(tmp_path):
    _write(tmp_path / "models" / "antelopev2" / "glintr100.onnx")
    specs = {"glintr100.onnx": FileSpec(len(b"onnx-bytes"), "0" * 64)}
    quick = check_antelopev2(tmp_path, required=["glintr100.onnx"], specs=specs)
    assert quick.ok and quick.files[0].sha256 is None  # not hashed by default
    slow = check_antelopev2(tmp_path, required=["glintr100.onnx"], specs=specs, verify_sha256=True)
    assert slow.files[0].status is FileStatus.SHA_MISMATCH
    assert "0" * 64 in slow.message() and hashlib.sha256(b"onnx-bytes").hexdigest() in slow.message()


def test_sha256_streams_in_chunks(tmp_path):
    data = bytes(range(256)) * 41
    path = _write(tmp_path / "blob", data)
    assert sha256_file(path, chunk_size=7) == hashlib.sha256(data).hexdigest()
