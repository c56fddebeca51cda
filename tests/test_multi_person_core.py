"""Several people in one picture, the core: assigning identities to faces (left to right, order string, by
likeness), per-face region masks (nearest face wins, feathered seam, never overlapping), and the plan's report.
Plain numpy, no ComfyUI."""
import itertools

import numpy as np
import pytest

from instantid_core.errors import InputValueError
from instantid_core.faces.assignment import assign, best_one_to_one, cosine_matrix, parse_order
from instantid_core.faces.face_regions import face_regions
from instantid_core.faces.multi_person import MIN_FACE_PIXELS, LayoutFace, plan_people


def brute_force(scores):
    """The best total over every one-to-one pairing of min(I, F) pairs (the reference for the exact solver)."""
    identities, faces = scores.shape
    best, best_total = None, -np.inf
    k = min(identities, faces)
    for ids in itertools.permutations(range(identities), k):
        for fs in itertools.combinations(range(faces), k):
            total = sum(scores[i, f] for i, f in zip(ids, fs))
            if total > best_total + 1e-12:
                best_total, best = total, (ids, fs)
    return best_total


@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (3, 3), (2, 4), (4, 2), (6, 6), (5, 7), (6, 3)])
def test_likeness_assignment_is_the_best_one_to_one_pairing(shape):
    rng = np.random.default_rng(sum(shape))
    for _ in range(5):
        scores = rng.uniform(-1, 1, size=shape)
        got = best_one_to_one(scores)
        pairs = [(i, f) for f, i in enumerate(got) if i is not None]
        assert len(pairs) == min(shape)
        assert len({i for i, _ in pairs}) == len(pairs)  # one face per identity
        assert sum(scores[i, f] for i, f in pairs) == pytest.approx(brute_force(scores))


def test_likeness_beats_greedy_where_greedy_is_wrong():
    # greedy takes identity 0 -> face 0 (0.9) and leaves identity 1 with face 1 (0.0); the best total is 0.8+0.8
    scores = np.array([[0.9, 0.8], [0.8, 0.0]])
    assert best_one_to_one(scores) == (1, 0)


def test_cosine_matrix_uses_each_identitys_mean_embedding():
    a, b = np.eye(4)[0] * 3, np.eye(4)[1] * 0.5
    ident = [np.stack([a, a + 0.0]), b[None]]
    faces = np.stack([b * 7, a * 2, a + b])
    m = cosine_matrix(ident, faces)
    assert m.shape == (2, 3)
    assert m[0, 1] == pytest.approx(1.0) and m[1, 0] == pytest.approx(1.0) and m[1, 1] == pytest.approx(0.0)
    assert assign("by likeness", 2, 3, identity_embeddings=ident, face_embeddings=faces).faces == (1, 0, None)


def test_left_to_right_and_order_strings():
    assert assign("left to right", 2, 3).faces == (0, 1, None)
    assert assign("left to right", 3, 2).faces == (0, 1)
    assert parse_order("2,0,1", 3, 3) == (2, 0, 1)
    assert parse_order(" 1 , - ", 2, 3) == (1, None, None)
    assert assign("order", 3, 3, "2,0").unused(3) == (1,)


@pytest.mark.parametrize("text,words", [
    ("", "the order is empty"), ("0,1,2,0", "lists 4 faces but the layout has 3"), ("0,x", "'x', not an identity"),
    ("0,5", "only identities 0..2"), ("1,1", "identity 1 is given to two faces")])
def test_bad_order_strings_say_what_to_write(text, words):
    with pytest.raises(InputValueError, match=words) as err:
        parse_order(text, 3, 3)
    assert err.value.input_name == "order"


def test_likeness_without_embeddings_names_the_layout():
    with pytest.raises(InputValueError, match="this layout has no face embeddings") as err:
        assign("by likeness", 2, 2, identity_embeddings=[np.ones(4), np.ones(4)], face_embeddings=None)
    assert err.value.input_name == "assignment"
    with pytest.raises(InputValueError, match="every identity must come from Image Projection") as err:
        assign("by likeness", 2, 2, identity_embeddings=[np.ones(4), None], face_embeddings=np.ones((2, 4)))
    assert err.value.input_name == "assignment"


def test_regions_never_overlap_and_nearest_face_wins():
    boxes = [(20, 40, 80, 110), (70, 40, 130, 110), (150, 20, 190, 60)]  # faces 0 and 1 overlap once grown
    regions = face_regions(boxes, 200, 160, grow=0.5, feather=6)
    masks = np.stack([r.mask for r in regions])
    assert (masks >= 0).all() and (masks.sum(0) <= 1.0 + 1e-6).all()
    assert ((masks > 0).sum(0) <= 1).all()  # at most one face's mask is non-zero at any pixel
    assert regions[0].overlaps == (1,) and regions[1].overlaps == (0,) and regions[2].overlaps == ()
    # the seam between 0 and 1 lies halfway between their centres (same size): left of it is face 0's
    assert masks[0, 75, 40] > 0.99 and masks[1, 75, 115] > 0.99
    assert masks[0, 75, 76:].max() == 0.0 and masks[1, 75, :75].max() == 0.0
    # feathered inward: the seam itself is 0 on both sides, and values ramp up away from it
    assert masks[0, 75, 74] < masks[0, 75, 70] < masks[0, 75, 60]
    # region boxes: inside the canvas, around the face
    x1, y1, x2, y2 = regions[2].box
    assert (x1, y1, x2, y2) == (140, 10, 200, 70)  # the face box grown by half on every axis, clipped


def test_grow_and_feather_checks():
    with pytest.raises(InputValueError) as err:
        face_regions([(0, 0, 10, 10)], 32, 32, grow=-0.9)
    assert err.value.input_name == "grow"
    with pytest.raises(InputValueError) as err:
        face_regions([(0, 0, 10, 10)], 32, 32, feather=float("nan"))
    assert err.value.input_name == "feather"
    hard = face_regions([(8, 8, 24, 24)], 32, 32, grow=0.0, feather=0)[0].mask
    assert set(np.unique(hard)) == {0.0, 1.0}


def face(x, y, side, embedding=None):
    kps = np.array([[x + side * 0.3, y + side * 0.4]] * 5, np.float32)
    return LayoutFace((x, y, x + side, y + side), kps, embedding)


def test_plan_orders_faces_left_to_right_scales_to_the_canvas_and_reports():
    layout = [face(300, 100, 80), face(20, 100, 80), face(160, 100, 20)]  # detector order is not left to right
    plan = plan_people(layout, (400, 300), (800, 600), identities=4)
    assert [f.box[0] for f in plan.faces] == [20, 160, 300]
    assert plan.canvas_boxes[0] == (40.0, 200.0, 200.0, 360.0)
    assert plan.assignment.faces == (0, 1, 2)
    text = plan.text()
    assert "face 0: identity 0, region (" in text and "face 2: identity 2" in text
    assert "identity 3 has no face" in text
    assert f"face 1 is only 40 px on the canvas (under {MIN_FACE_PIXELS})" in text
    assert "overlap" not in text


def test_plan_by_likeness_reports_the_cosine_matrix():
    rng = np.random.default_rng(3)
    people = rng.standard_normal((3, 512))
    layout = [face(10 + 120 * k, 50, 100, people[p] + 0.1 * rng.standard_normal(512)) for k, p in enumerate((2, 0, 1))]
    plan = plan_people(layout, (400, 200), (400, 200), identities=3, mode="by likeness",
                       identity_embeddings=[p[None] for p in people])
    assert plan.assignment.faces == (2, 0, 1)
    assert plan.assignment.cosine.shape == (3, 3)
    assert "cosine similarity (rows: identities, columns: faces)" in plan.text()
    assert plan.assigned() == [(0, 2), (1, 0), (2, 1)]
