"""Saved identities (.safetensors): exact round trip, clear refusals, never a silent overwrite."""
import json

import numpy as np
import pytest

from instantid_testkit import fixtures_onnx as fx
from instantid_core.errors import IdentityFileError
from instantid_core.faces.face_analysis import FaceAnalyzer
from instantid_core.files import identity_file as idf


@pytest.fixture(scope="module")
def photos_faces(tmp_path_factory):
    root = tmp_path_factory.mktemp("insightface")
    fx.make_antelope_pack(root)
    analyzer = FaceAnalyzer.load(root, "CPU")
    imgs = []
    for faces in ([(96, 160, 128, 2)], [(96, 160, 64, 3), (400, 192, 128, 4)], []):
        img = np.zeros((640, 640, 3), np.uint8)
        for f in faces:
            fx.draw_face(img, *f)
        imgs.append(img)
    return imgs, [analyzer.analyze(i) for i in imgs]


def test_round_trip_is_bit_identical(tmp_path, photos_faces):
    imgs, faces = photos_faces
    hashes = [idf.pixel_sha256(i) for i in imgs]
    path = idf.save_identity(tmp_path, "Ann Lee", faces, "instantx_multi_photo", hashes)
    assert path.name == "Ann Lee.safetensors"
    saved = idf.load_identity(path)
    assert len(saved.images) == 2  # the photo without a face is left out
    kept = [f for f in faces if f.faces]
    for a, b in zip(kept, saved.images):
        assert a.image_size == b.image_size and len(a.faces) == len(b.faces)
        for fa, fb in zip(a.faces, b.faces):
            for k in ("embedding", "kps", "bbox"):
                assert getattr(fa, k).dtype == getattr(fb, k).dtype == np.float32
                assert np.array_equal(getattr(fa, k), getattr(fb, k)), k
            assert fa.det_score == fb.det_score
    assert saved.combine == "instantx_multi_photo"
    assert saved.photo_sha256 == (hashes[0], hashes[1])
    h = saved.header
    assert (h["photo_count"], h["face_count"], h["embedding_model"], h["format_version"]) == \
        ("2", "3", "antelopev2/glintr100", "1")
    assert "created" in h and "Ann Lee" in saved.summary()


def test_the_photos_are_never_stored(tmp_path, photos_faces):
    imgs, faces = photos_faces
    path = idf.save_identity(tmp_path, "p", faces)
    assert path.stat().st_size < 8000  # 3 faces: embeddings and keypoints only (a photo is 1.2 MB)
    from safetensors.numpy import load_file
    assert set(load_file(str(path))) == set(idf.TENSORS)


def test_never_overwrites_without_the_option(tmp_path, photos_faces):
    _, faces = photos_faces
    first = idf.save_identity(tmp_path, "ann", faces[:1])
    before = first.read_bytes()
    second = idf.save_identity(tmp_path, "ann", faces[1:2])
    third = idf.save_identity(tmp_path, "ann", faces[1:2])
    assert (second.name, third.name) == ("ann_0001.safetensors", "ann_0002.safetensors")
    assert first.read_bytes() == before
    replaced = idf.save_identity(tmp_path, "ann", faces[1:2], overwrite=True)
    assert replaced == first and first.read_bytes() != before


def test_names_never_become_paths(tmp_path, photos_faces):
    _, faces = photos_faces
    path = idf.save_identity(tmp_path, "../../evil/x", faces[:1])
    assert path.parent == tmp_path
    with pytest.raises(IdentityFileError, match="name"):
        idf.save_identity(tmp_path, " .. ", faces[:1])


def test_damaged_file_is_a_clear_error(tmp_path, photos_faces):
    _, faces = photos_faces
    path = idf.save_identity(tmp_path, "ann", faces)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(IdentityFileError, match="ann.safetensors is damaged") as err:
        idf.load_identity(path)
    assert err.value.input_name == "identity_file"
    garbage = tmp_path / "junk.safetensors"
    garbage.write_bytes(b"not a safetensors file at all")
    with pytest.raises(IdentityFileError, match="junk.safetensors is damaged or not a .safetensors file"):
        idf.load_identity(garbage)


def test_foreign_safetensors_is_refused(tmp_path):
    from safetensors.numpy import save_file
    path = tmp_path / "lora.safetensors"
    save_file({"lora_unet_down.alpha": np.ones(1, np.float32)}, str(path), metadata={"ss_network_dim": "4"})
    with pytest.raises(IdentityFileError, match="not an InstantID identity file.*lora_unet_down.alpha"):
        idf.load_identity(path)


def _rewrite(path, header=None, tensors=None):
    from safetensors.numpy import load_file, save_file
    from safetensors import safe_open
    with safe_open(str(path), framework="numpy") as f:
        meta = dict(f.metadata())
    t = load_file(str(path))
    meta.update(header or {})
    t.update(tensors or {})
    save_file(t, str(path), metadata=meta)


def test_other_embedding_size_is_refused_with_the_reason(tmp_path, photos_faces):
    _, faces = photos_faces
    path = idf.save_identity(tmp_path, "ann", faces[:1])
    _rewrite(path, {"embedding_size": "128", "embedding_model": "buffalo_s/w600k_mbf"},
             {"embeddings": np.ones((1, 128), np.float32)})
    with pytest.raises(IdentityFileError, match="128-number embeddings from 'buffalo_s/w600k_mbf'; InstantID needs "
                                                "512-number"):
        idf.load_identity(path)
    path = idf.save_identity(tmp_path, "bob", faces[:1])  # header claims 512 but the tensor is not
    _rewrite(path, tensors={"embeddings": np.ones((1, 256), np.float32)})
    with pytest.raises(IdentityFileError, match=r"embeddings \(1, 256\)"):
        idf.load_identity(path)


def test_newer_format_and_nan_are_refused(tmp_path, photos_faces):
    _, faces = photos_faces
    path = idf.save_identity(tmp_path, "ann", faces[:1])
    _rewrite(path, {"format_version": "2"})
    with pytest.raises(IdentityFileError, match="format version '2'"):
        idf.load_identity(path)
    path = idf.save_identity(tmp_path, "bob", faces[:1])
    _rewrite(path, tensors={"embeddings": np.full((1, 512), np.nan, np.float32)})
    with pytest.raises(IdentityFileError, match="NaN"):
        idf.load_identity(path)


def test_nothing_to_save_is_refused(tmp_path, photos_faces):
    _, faces = photos_faces
    with pytest.raises(IdentityFileError, match="no face to save"):
        idf.save_identity(tmp_path, "x", faces[2:])
    assert not list(tmp_path.iterdir())


def test_pixel_hash_depends_on_pixels_only():
    a = np.zeros((4, 4, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 1
    assert idf.pixel_sha256(a) == idf.pixel_sha256(a.copy()) != idf.pixel_sha256(b)
    assert len(json.dumps(idf.pixel_sha256(a))) == 66


# --- crafted files: every field checked on load, one clear error naming the file and the field -------------------

def _face_file(tmp_path, photos_faces, name="ann"):
    _, faces = photos_faces
    return idf.save_identity(tmp_path, name, faces[:2])  # 2 photos, 3 faces


def _kps(value):
    def make(t):
        k = t["kps"].copy()
        k[0, 0, 0] = value
        return {"kps": k}
    return make


CRAFTED = {  # reproductions of the probe (issue 26, finding 5 and 6): field -> how the file is spoiled
    "kps NaN": ("kps", None, _kps(np.nan)),
    "kps inf": ("kps", None, _kps(np.inf)),
    "kps 1e30": ("kps", None, _kps(1e30)),
    "kps far outside": ("kps", None, _kps(-5000.0)),
    "kps as int": ("kps", None, lambda t: {"kps": t["kps"].astype(np.int64)}),
    "bboxes NaN": ("bboxes", None, lambda t: {"bboxes": np.full_like(t["bboxes"], np.nan)}),
    "bboxes empty": ("bboxes", None, lambda t: {"bboxes": np.zeros_like(t["bboxes"])}),
    "det_scores inf": ("det_scores", None, lambda t: {"det_scores": np.full_like(t["det_scores"], np.inf)}),
    "photo size NaN": ("photo_sizes", None, lambda t: {"photo_sizes": np.full((2, 2), np.nan, np.float32)}),
    "photo size 0": ("photo_sizes", None, lambda t: {"photo_sizes": np.zeros((2, 2), np.int64)}),
    "photo size negative": ("photo_sizes", None, lambda t: {"photo_sizes": np.full((2, 2), -640, np.int64)}),
    "photo size 10000": ("photo_sizes", None, lambda t: {"photo_sizes": np.full((2, 2), 10_000, np.int64)}),
    "photo size 1e6": ("photo_sizes", None, lambda t: {"photo_sizes": np.full((2, 2), 10**6, np.int64)}),
    "photo size 30000": ("photo_sizes", None, lambda t: {"photo_sizes": np.full((2, 2), 30_000, np.int64)}),
    "index NaN": ("photo_of_face", None, lambda t: {"photo_of_face": np.full(3, np.nan, np.float32)}),
    "index out of range": ("photo_of_face", None, lambda t: {"photo_of_face": np.array([0, 1, 2], np.int64)}),
    "index negative": ("photo_of_face", None, lambda t: {"photo_of_face": np.array([0, -1, 1], np.int64)}),
    "sha 5": ("photo_sha256", {"photo_sha256": "5"}, None),
    "sha null": ("photo_sha256", {"photo_sha256": "null"}, None),
    "sha not hex": ("photo_sha256", {"photo_sha256": '["x", "y"]'}, None),
    "sha deep": ("photo_sha256", {"photo_sha256": "[" * 10_000 + "]" * 10_000}, None),
    "sha count": ("photo_sha256", {"photo_sha256": json.dumps(["a" * 64])}, None),
    "photo_count text": ("photo_count", {"photo_count": "two"}, None),
    "photo_count wrong": ("photo_count", {"photo_count": "1", "photo_sha256": "[]"}, None),
    "face_count NaN": ("face_count", {"face_count": "nan"}, None),
    "face_count wrong": ("face_count", {"face_count": "7"}, None),
    "face_count huge": ("face_count", {"face_count": "999999"}, None),
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_crafted_identity_files_are_one_clear_error(tmp_path, photos_faces, case):
    from safetensors.numpy import load_file
    field, header, tensors = CRAFTED[case]
    path = _face_file(tmp_path, photos_faces)
    _rewrite(path, header, tensors(load_file(str(path))) if tensors else None)
    with pytest.raises(IdentityFileError) as err:
        idf.load_identity(path)
    message = str(err.value)
    assert message.startswith("ann.safetensors") and f"'{field}'" in message, message
    assert err.value.input_name == "identity_file"


def test_keypoints_of_a_face_at_the_photo_edge_still_load(tmp_path, photos_faces):
    """The detector puts keypoints of a face cut off by the edge a little outside the photo: still valid."""
    from safetensors.numpy import load_file
    path = _face_file(tmp_path, photos_faces)
    k = load_file(str(path))["kps"].copy()
    k[0, 0] = (-20.0, 650.0)
    _rewrite(path, tensors={"kps": k})
    assert idf.load_identity(path).images[0].faces[0].kps[0].tolist() == [-20.0, 650.0]


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path, photos_faces, monkeypatch):
    path = _face_file(tmp_path, photos_faces)
    monkeypatch.setattr(idf, "MAX_FILE_BYTES", 100)
    with pytest.raises(IdentityFileError, match="larger than any identity file"):
        idf.load_identity(path)
