"""Several faces placed by hand (instantid_core.faces.manual_keypoints.parse_faces, .manual_layout): the 'points'
JSON of several faces, presets per face, each face's box from its points, and a layout Multi-Person plans with."""
import json

import numpy as np
import pytest

from instantid_core.errors import InputValueError
from instantid_core.faces.assignment import assign
from instantid_core.faces.manual_keypoints import (ARCFACE_TEMPLATE, PRESET_CENTRE, faces_json, parse_faces,
                                                   parse_points, preset_points, transform_points)
from instantid_core.faces.manual_layout import (KEYPOINT_BOX_FACTOR, has_embeddings, keypoint_box,
                                                manual_image_faces, place_faces, require_embeddings)
from instantid_core.faces.multi_person import LayoutFace, plan_people

W, H = 640, 480
ONE = [[0.43, 0.4], [0.57, 0.4], [0.5, 0.47], [0.44, 0.54], [0.56, 0.54]]


def shifted(points, dx, dy=0.0):
    return [[x + dx, y + dy] for x, y in points]


def test_one_face_forms_parse_as_before():
    for text in (json.dumps(ONE), json.dumps({"points": ONE})):
        [face] = parse_faces(text, W, H)
        assert np.array_equal(face, parse_points(text))
    assert parse_faces("", W, H) is None and parse_faces("  ", W, H) is None


def test_several_faces_as_lists_objects_or_under_faces_keep_their_order():
    a, b, c = shifted(ONE, -0.3), ONE, shifted(ONE, 0.3, 0.05)
    for text in (json.dumps([a, b, c]), json.dumps({"faces": [a, {"points": b}, c]})):
        faces = parse_faces(text, W, H)
        assert len(faces) == 3
        for got, want in zip(faces, (a, b, c)):
            assert np.allclose(got, want)
    # the node's own writer reads back
    assert np.allclose(parse_faces(faces_json([np.array(a), np.array(c)]), W, H), [a, c], atol=5e-5)


def test_a_preset_face_is_the_preset_moved_scaled_and_turned():
    [face] = parse_faces(json.dumps([{"preset": "three-quarter left", "center": [0.25, 0.6], "scale": 0.5,
                                      "rotate": 10}]), W, H)
    base = preset_points("three-quarter left", W, H)
    want = transform_points(base, W, H, 10, 0.5, 0.25 - PRESET_CENTRE[0], 0.6 - PRESET_CENTRE[1]) / [W, H]
    assert np.allclose(face, want)
    assert np.allclose(face.mean(axis=0), [0.25, 0.6])  # 'center' is where the points' mean goes
    # defaults: the single preset, where and as large as the preset itself puts it
    [plain] = parse_faces(json.dumps([{"preset": "frontal"}]), W, H)
    assert np.allclose(plain, preset_points("frontal", W, H))
    # keeps its proportions in pixels on a wide canvas: eye distance = half the preset's
    [wide] = parse_faces(json.dumps([{"preset": "frontal", "scale": 0.5, "center": [0.2, 0.5]}]), 1200, 400)
    eyes = lambda p: np.linalg.norm((p[1] - p[0]) * [1200, 400])
    assert eyes(wide) == pytest.approx(eyes(preset_points("frontal", 1200, 400)) / 2)


@pytest.mark.parametrize("value,words", [
    ([], "the list holds no face"),
    ({"faces": []}, "the list holds no face"),
    ({"faces": {"points": ONE}}, "'faces' is a dict, not a list"),
    ({"faces": [ONE], "size": 2}, "found 'size' next to 'faces'"),
    ([ONE, ONE[:4]], "face 1: found 4 entries"),
    ([ONE, shifted(ONE, 0.1)[:3] + [[0.5, "x"], [0.5, 0.5]]], "face 1: point 3 (left mouth corner) is [0.5, 'x']"),
    ([ONE, {"points": ONE, "preset": "frontal"}], "face 1: give either 'points'"),
    ([{"scale": 0.5}], "face 0: give either 'points' (five [x, y] pairs) or 'preset' (a pose name), not neither"),
    ([{"preset": "frontal", "centre": [0.5, 0.5]}], "face 0: unknown key(s) 'centre'"),
    ([{"preset": "custom"}], "face 0: unknown preset 'custom'"),
    ([{"preset": "frontal", "center": [0.5]}], "face 0: 'center' is [0.5], not an [x, y] pair"),
    ([{"preset": "frontal", "scale": 0}], "face 0: 'scale' must be positive"),
    ([{"preset": "frontal", "scale": True}], "face 0: 'scale' is True, not a finite number"),
    ([{"points": ONE, "scale": 2}], "face 0: scale only go with 'preset'"),
    ([ONE, [[400, 300], [600, 300], [500, 400], [450, 500], [550, 500]]], "face 1: coordinates must be fractions"),
])
def test_bad_faces_are_refused_naming_points_and_the_face(value, words):
    with pytest.raises(InputValueError) as exc:
        parse_faces(json.dumps(value), W, H)
    assert exc.value.input_name == "points"
    assert words in str(exc.value), str(exc.value)


@pytest.mark.parametrize("text,words", [
    ("[[[0.4, NaN], [0.6, 0.4], [0.5, 0.5], [0.45, 0.6], [0.55, 0.6]]]", "left eye: not a finite number"),
    ('[{"preset": "frontal", "center": [Infinity, 0.5]}]', "'center' is [nan, 0.5]"),  # JSON's Infinity reads as NaN
    ('[{"preset": "frontal", "rotate": NaN}]', "'rotate' is nan, not a finite number"),
    ("[[0.4, 0.4]", "not valid JSON"),
])
def test_non_finite_and_broken_json_name_points(text, words):
    with pytest.raises(InputValueError) as exc:
        parse_faces(text, W, H)
    assert exc.value.input_name == "points" and words in str(exc.value), str(exc.value)
    assert "several faces" in str(exc.value) or "not a finite" in str(exc.value) or "'center'" in str(exc.value)


def test_keypoint_box_is_a_square_about_the_points_2_2_times_their_extent():
    kps = np.array([[100, 100], [140, 100], [120, 120], [104, 150], [136, 150]], float)  # 40 wide, 50 tall
    x1, y1, x2, y2 = keypoint_box(kps)
    assert (x2 - x1) == pytest.approx(KEYPOINT_BOX_FACTOR * 50) == pytest.approx(y2 - y1)
    assert ((x1 + x2) / 2, (y1 + y2) / 2) == pytest.approx((120, 125))
    # on the ArcFace template the box is about a detector's face box: most of the 112-unit aligned crop
    x1, y1, x2, y2 = keypoint_box(ARCFACE_TEMPLATE)
    assert 80 < x2 - x1 < 100 and 0 < y1 < 40 and 100 < y2 < 125
    # a face turned toward a profile keeps a head-sized box (its points narrow, not their height)
    front = keypoint_box(preset_points("frontal", W, H) * [W, H])
    profile = keypoint_box(preset_points("profile-ish left", W, H) * [W, H])
    assert profile[2] - profile[0] == pytest.approx(front[2] - front[0])


def test_place_faces_turns_and_scales_each_face_about_its_own_centre_and_moves_all():
    faces = [np.array(shifted(ONE, -0.25)), np.array(shifted(ONE, 0.25))]
    placed = place_faces(faces, W, H, rotate=30, scale=0.5, offset_x=0.05, offset_y=-0.1)
    for got, face in zip(placed, faces):
        assert np.allclose(got, transform_points(face, W, H, 30, 0.5, 0.05, -0.1))
        assert np.allclose(got.mean(axis=0), face.mean(axis=0) * [W, H] + [0.05 * W, -0.1 * H])
    # one face: exactly the single-face transform
    [one] = place_faces([np.array(ONE)], W, H, 12, 1.3, 0.1, 0.0)
    assert np.array_equal(one, transform_points(np.array(ONE), W, H, 12, 1.3, 0.1, 0.0))


def test_a_face_off_the_picture_names_what_moved_it():
    with pytest.raises(InputValueError) as exc:
        place_faces([np.array(ONE), np.array(shifted(ONE, 0.7))], W, H)
    assert exc.value.input_name == "points" and "face 1's centre" in str(exc.value)
    assert "off the 640x480 picture" in str(exc.value)
    with pytest.raises(InputValueError) as exc:  # inside as placed, pushed out by the offset
        place_faces([np.array(ONE)], W, H, offset_x=-0.8)
    assert exc.value.input_name == "offset_x"
    with pytest.raises(InputValueError) as exc:
        place_faces([np.array(ONE)], W, H, offset_y=0.9)
    assert exc.value.input_name == "offset_y"
    with pytest.raises(InputValueError) as exc:
        place_faces([np.array([[0.5, 0.5]] * 5)], W, H)
    assert exc.value.input_name == "points" and "coincide" in str(exc.value)
    # partly off the picture is fine: a face cut by the border
    place_faces([np.array(shifted(ONE, 0.45))], W, H)


def test_manual_faces_are_image_faces_without_embeddings():
    placed = place_faces([np.array(shifted(ONE, 0.25)), np.array(shifted(ONE, -0.25))], W, H)
    image = manual_image_faces(placed, W, H)
    assert image.image_size == (W, H) and len(image) == 2
    for face, kps in zip(image.faces, placed):
        assert face.embedding is None and np.allclose(face.kps, kps)
        assert np.allclose(face.bbox, keypoint_box(kps))
        assert not face.kps.flags.writeable and not face.bbox.flags.writeable
    assert not has_embeddings([image])
    with pytest.raises(InputValueError) as exc:
        require_embeddings([image], "faces_2")
    assert exc.value.input_name == "faces_2" and "placed by hand" in str(exc.value)
    assert "InstantID Face Detect" in str(exc.value)


def test_a_hand_placed_layout_is_planned_left_to_right_and_by_order():
    written = [shifted(ONE, 0.3), shifted(ONE, -0.3), ONE]  # right, left, middle
    placed = place_faces([np.array(f) for f in parse_faces(json.dumps(written), W, H)], W, H)
    image = manual_image_faces(placed, W, H)
    layout = [LayoutFace(tuple(float(v) for v in f.bbox), np.asarray(f.kps), f.embedding) for f in image.faces]
    plan = plan_people(layout, (W, H), (320, 240), 3)
    xs = [f.kps[0, 0] for f in plan.faces]
    assert xs == sorted(xs) and plan.assignment.faces == (0, 1, 2)
    assert np.allclose(plan.faces[0].kps, placed[1])  # the leftmost written second
    assert plan.canvas_boxes[0] == pytest.approx(tuple(v / 2 for v in keypoint_box(placed[1])))
    assert all(r.box is not None for r in plan.regions)
    ordered = plan_people(layout, (W, H), (320, 240), 3, "order", "2,-,0")
    assert ordered.assignment.faces == (2, None, 0)


def test_by_likeness_on_a_hand_placed_layout_says_what_to_choose():
    with pytest.raises(InputValueError) as exc:
        assign("by likeness", 2, 2, identity_embeddings=[np.ones(512), np.ones(512)], face_embeddings=None)
    assert exc.value.input_name == "assignment"
    assert "placed by hand" in str(exc.value) and "'left to right' or 'order'" in str(exc.value)
