"""Identity score (FaceSim) in the core: the tiny antelopev2 fixtures detect and embed the faces for real."""
import numpy as np
import pytest

from instantid_testkit import fixtures_onnx as fx
from instantid_core.errors import InputValueError
from instantid_core.faces.face_analysis import FaceAnalyzer, ImageFaces
from instantid_core.faces.identity_score import (EMBEDDING_SIZE, cosine, draw_scores, references_from_embeddings,
                                           references_from_faces, require_finite_images, score_images)

A, B = (96, 160, 128, 11), (416, 160, 128, 12)  # (x, y, side, seed): centres on the detector's 32-px grid


@pytest.fixture(scope="module")
def analyzer(tmp_path_factory):
    root = tmp_path_factory.mktemp("insightface")
    fx.make_antelope_pack(root)
    return FaceAnalyzer.load(root, "CPU")


def photo(*faces, size=640, flip=False, **kw):
    img = np.zeros((size, size, 3), np.uint8)
    for x, y, side, seed in faces:
        fx.draw_contrast_face(img, x, y, side, seed, **kw)
    return np.ascontiguousarray(img[:, ::-1]) if flip else img


def analyse(analyzer, *images):
    return [analyzer.analyze(img) for img in images]


def score(analyzer, reference, *generated, **kw):
    refs = references_from_faces(analyse(analyzer, reference))
    return score_images(refs, analyse(analyzer, *generated), **kw)


def test_an_image_scored_against_itself_is_one(analyzer):
    table = score(analyzer, photo(A), photo(A))
    assert table.per_image[0] == pytest.approx(1.0, abs=1e-5)


def test_a_flipped_face_scores_high(analyzer):
    """Faces are nearly mirror-symmetric; the tiny recognizer has no learned flip invariance, so the test face is
    too (symmetric block columns with up to ±25 per block of asymmetry between the halves)."""
    face = dict(symmetric=True, asymmetry=25)
    flipped = score(analyzer, photo(A, **face), photo(A, flip=True, **face)).per_image[0]
    others = [score(analyzer, photo(A, **face), photo((96, 160, 128, s), **face)).per_image[0] for s in (21, 22, 24, 25)]
    assert flipped > 0.9
    assert all(o != 0.0 for o in others)  # every face was found
    assert flipped > max(others) + 0.2


def test_two_different_faces_score_low(analyzer):
    assert score(analyzer, photo(A), photo((96, 160, 128, 12))).per_image[0] < 0.5


def test_what_the_tiny_recognizer_distinguishes(analyzer):
    """Documents the fixture: draw_face's all-bright textures look alike to it (~0.9); contrast faces do not."""
    def bright(seed):
        img = np.zeros((640, 640, 3), np.uint8)
        fx.draw_face(img, 96, 160, 128, seed)
        return img
    assert score(analyzer, bright(2), bright(3)).per_image[0] > 0.85
    assert score(analyzer, photo(A), photo((96, 160, 128, 12))).per_image[0] < 0.5


def test_batch_order_is_kept_and_best_index_points_at_the_best(analyzer):
    other = (96, 160, 128, 12)
    table = score(analyzer, photo(A), photo(other), photo(A), photo((96, 160, 128, 13)))
    singles = [score(analyzer, photo(A), img).per_image[0] for img in (photo(other), photo(A),
                                                                         photo((96, 160, 128, 13)))]
    assert table.per_image == pytest.approx(singles, abs=1e-12)
    assert table.best_index == 1
    assert table.order()[0] == 1 and sorted(table.order()) == [0, 1, 2]


def test_no_face_scores_zero_with_a_note_or_stops(analyzer):
    blank = np.zeros((320, 320, 3), np.uint8)
    table = score(analyzer, photo(A), photo(A), blank)
    assert table.per_image[1] == 0.0 and "no face" in table.images[1].note
    assert "image 1: no face found: scored 0" in table.report()
    with pytest.raises(InputValueError, match="image 1 of the batch: no face found") as err:
        score(analyzer, photo(A), photo(A), blank, on_no_face="error")
    assert err.value.input_name == "images"


def test_several_photos_score_against_their_mean_and_say_so(analyzer):
    refs = references_from_faces(analyse(analyzer, photo(A), photo((96, 160, 128, 12))))
    assert len(refs) == 1 and refs[0].photos == 2
    gen = analyse(analyzer, photo(A))
    table = score_images(refs, gen)
    mean = refs[0].embeddings.astype(np.float64).mean(0)
    assert table.per_image[0] == pytest.approx(cosine(gen[0].faces[0].embedding, mean), abs=1e-12)
    assert "mean embedding of 2 photos" in table.report()


def test_several_people_get_one_score_each_and_best_match_finds_them(analyzer):
    two = photo(A, B)
    refs = references_from_faces(analyse(analyzer, two))  # a photo of two people: two references
    assert len(refs) == 2
    swapped = photo((96, 160, 128, 12), (416, 160, 128, 11))  # same two people, places swapped
    table = score_images(refs, analyse(analyzer, swapped), face="best match")
    assert table.images[0].scores == pytest.approx((1.0, 1.0), abs=1e-5)
    largest = score_images(refs, analyse(analyzer, swapped), face="largest")
    assert min(largest.images[0].scores) < 0.9  # one face scored against both people
    assert [r.label for r in table.references] == ["A", "B"]
    assert "mean" in table.text().splitlines()[0]


def test_identity_combine_modes_decide_how_many_people(analyzer):
    e = np.stack([f.faces[0].embedding for f in analyse(analyzer, photo(A), photo((96, 160, 128, 12)))])
    assert [r.photos for r in references_from_embeddings(e, "average")] == [2]
    assert [r.photos for r in references_from_embeddings(e, "instantx_multi_photo")] == [2]
    assert [r.photos for r in references_from_embeddings(e, "one_per_latent")] == [1, 1]


def test_nan_input_is_a_clear_error(analyzer, tmp_path):
    images = np.zeros((2, 64, 64, 3), np.float32)
    images[1, 3, 3, 0] = np.nan
    with pytest.raises(InputValueError, match="NaN or infinite pixel values"):
        require_finite_images(images)
    bad = np.full((1, EMBEDDING_SIZE), np.nan, np.float32)
    with pytest.raises(InputValueError, match="NaN or infinite") as err:
        references_from_embeddings(bad, "average")
    assert err.value.input_name == "identity"
    fx.make_antelope_pack(tmp_path, nan_embedding=True)  # a broken recognizer stops at face analysis already
    with pytest.raises(ValueError, match="non-finite"):
        FaceAnalyzer.load(tmp_path, "CPU").analyze(photo(A))


def test_embeddings_of_another_face_model_are_refused():
    with pytest.raises(InputValueError, match="128 numbers.*glintr100"):
        references_from_embeddings(np.ones((1, 128), np.float32), "average")


def test_raw_embedding_norm_does_not_change_the_score(analyzer):
    """glintr100's raw vectors have norms of ~20-30 (the tiny one ~90) and InstantID keeps them raw: the score
    must not depend on the norm, and equals the cosine of insightface's own unit-length normed_embedding."""
    gen = analyse(analyzer, photo(A))
    ref = analyse(analyzer, photo((96, 160, 128, 12)))[0].faces[0].embedding
    base = score_images(references_from_embeddings(ref[None], "average"), gen).per_image[0]
    for k in (1e-3, 25.0 / np.linalg.norm(ref), 1e3):
        scaled = score_images(references_from_embeddings((ref * k)[None], "average"), gen).per_image[0]
        assert scaled == pytest.approx(base, abs=1e-6)
    unit = lambda v: v / np.linalg.norm(v)  # noqa: E731  (insightface's normed_embedding)
    assert float(unit(ref) @ unit(gen[0].faces[0].embedding)) == pytest.approx(base, abs=1e-6)


def test_preview_draws_on_a_copy(analyzer):
    img = photo(A)
    table = score(analyzer, photo(A), img)
    drawn = draw_scores(img, table.images[0], table.references)
    assert drawn.shape == img.shape and not np.array_equal(drawn, img)
    assert np.array_equal(img, photo(A))  # the input is untouched


def test_empty_image_faces_reference_is_refused():
    with pytest.raises(InputValueError, match="no face"):
        references_from_faces([ImageFaces((64, 64), ())])


def test_glintr100_architecture_recognizer_gives_raw_512_vectors_the_score_reads(tmp_path):
    """A recognizer built like glintr100 (IResNet blocks, BN-FC-BN head, its input name and 112×112 shape; fewer
    blocks, random weights): insightface routes it as ArcFace, it gives raw (not unit-length) 512-number vectors,
    and the score equals the cosine of insightface's own normed_embedding."""
    pytest.importorskip("torch")
    from instantid_testkit.iresnet_onnx import make_iresnet_recognizer
    folder = tmp_path / "models" / "antelopev2"
    fx.make_detector(folder / fx.DET_FILE)
    make_iresnet_recognizer(folder / fx.REC_FILE, blocks=(1, 1, 1, 1))
    analyzer = FaceAnalyzer.load(tmp_path, "CPU")
    assert type(analyzer.rec_model).__name__ == "ArcFaceONNX" and analyzer.rec_model.input_size == (112, 112)
    ref, gen = (analyzer.analyze(photo(f)) for f in (A, (96, 160, 128, 12)))
    e = ref.faces[0].embedding
    assert e.shape == (EMBEDDING_SIZE,) and e.dtype == np.float32 and abs(float(np.linalg.norm(e)) - 1) > 0.1
    table = score_images(references_from_faces([ref]), [gen, ref])
    unit = lambda v: v / np.linalg.norm(v)  # noqa: E731
    assert table.per_image[0] == pytest.approx(float(unit(e) @ unit(gen.faces[0].embedding)), abs=1e-6)
    assert table.per_image[1] == pytest.approx(1.0, abs=1e-5)
