"""Manual keypoints (instantid_core.faces.manual_keypoints): presets, the global transform, the stored JSON."""
import json
import math

import numpy as np
import pytest

from instantid_core.errors import InputValueError
from instantid_core.faces.manual_keypoints import (ARCFACE_TEMPLATE, PRESET_POSES, PRESETS, face_points, parse_points,
                                             points_json, preset_points, preset_shape, transform_points)

W, H = 1016, 1016


def px(name, w=W, h=H):
    return preset_points(name, w, h) * [w, h]


def eye_distance(p):
    return float(np.linalg.norm(p[1] - p[0]))


def eye_angle(p):
    """Angle of the eye line in degrees, picture coordinates (positive: the right eye lower, clockwise)."""
    return math.degrees(math.atan2(p[1, 1] - p[0, 1], p[1, 0] - p[0, 0]))


def test_the_preset_list_is_the_documented_one():
    assert PRESETS == ("frontal", "three-quarter left", "three-quarter right", "profile-ish left",
                       "profile-ish right", "tilted left", "tilted right", "custom")


def test_frontal_has_the_arcface_template_proportions():
    p = px("frontal")
    t = ARCFACE_TEMPLATE
    # ratios of the template: eye distance : eye-to-mouth height : mouth width
    eyes = eye_distance(p)
    assert eyes / (p[3:, 1].mean() - p[:2, 1].mean()) == pytest.approx(
        np.linalg.norm(t[1] - t[0]) / (t[3:, 1].mean() - t[:2, 1].mean()), rel=0.01)
    assert (p[4, 0] - p[3, 0]) / eyes == pytest.approx((t[4, 0] - t[3, 0]) / (t[1, 0] - t[0, 0]), rel=0.02)
    # symmetric about the nose, level eyes, centred horizontally, a portrait-sized face (eye distance ~13 %)
    assert p[2, 0] == pytest.approx((p[0, 0] + p[1, 0]) / 2) == pytest.approx((p[3, 0] + p[4, 0]) / 2)
    assert p[0, 1] == pytest.approx(p[1, 1]) and p.mean(axis=0)[0] == pytest.approx(W / 2)
    assert 0.10 < eyes / W < 0.17
    assert p[0, 1] < p[2, 1] < p[3, 1]  # eyes above the nose above the mouth


@pytest.mark.parametrize("side,sign", [("left", -1), ("right", 1)])
def test_turned_presets_move_the_nose_toward_their_side_and_narrow_the_eyes(side, sign):
    front = px("frontal")
    three, profile = px(f"three-quarter {side}"), px(f"profile-ish {side}")
    for p, yaw in ((three, 35), (profile, 65)):
        eye_mid = (p[0, 0] + p[1, 0]) / 2
        offset = (p[2, 0] - eye_mid) / eye_distance(front)
        assert sign * offset > 0.1  # the nose sits toward the turn
        assert eye_distance(p) == pytest.approx(eye_distance(front) * math.cos(math.radians(yaw)), rel=1e-6)
        assert p[0, 0] < p[1, 0] and p[3, 0] < p[4, 0]  # left stays left: the detector's point order holds
        assert np.allclose(p[:, 1], front[:, 1])  # a turn about the vertical axis keeps every height
        assert abs(p[2, 0] - eye_mid) < eye_distance(p) * 1.5  # the nose stays near the face
    assert abs(profile[2, 0] - (profile[0, 0] + profile[1, 0]) / 2) > abs(three[2, 0] - (three[0, 0] + three[1, 0]) / 2)
    # left and right are mirror images of each other
    other = px(f"three-quarter {'right' if side == 'left' else 'left'}")
    mirrored = (W - three[:, 0])[[1, 0, 2, 4, 3]]
    assert np.allclose(mirrored, other[:, 0])


def test_tilted_presets_roll_the_frontal_face():
    front = px("frontal")
    for name, angle in (("tilted left", -15), ("tilted right", 15)):
        p = px(name)
        assert eye_angle(p) == pytest.approx(angle, abs=0.5)  # tilted left: the right eye higher (counter-clockwise)
        assert eye_distance(p) == pytest.approx(eye_distance(front))
        assert np.allclose(p.mean(axis=0), front.mean(axis=0))


def test_presets_keep_their_proportions_on_any_canvas():
    for name in PRESET_POSES:
        wide, tall = px(name, 1216, 832), px(name, 832, 1216)
        square = px(name, 832, 832)
        for p in (wide, tall):  # the same face in pixels, only moved
            assert np.allclose(p - p.mean(axis=0), square - square.mean(axis=0))
        assert np.all((preset_points(name, 1216, 832) > 0) & (preset_points(name, 1216, 832) < 1))


def test_unknown_preset_names_the_input():
    with pytest.raises(InputValueError) as exc:
        preset_shape("sideways")
    assert exc.value.input_name == "preset" and "frontal" in str(exc.value)


def test_transform_identity_rotation_scale_and_offset():
    pts = preset_points("frontal", 640, 480)
    base = pts * [640, 480]
    assert np.allclose(transform_points(pts, 640, 480), base)
    centre = base.mean(axis=0)
    turned = transform_points(pts, 640, 480, rotate=90)
    # +90° is clockwise on the picture: a point right of the centre goes below it
    rel = base - centre
    assert np.allclose(turned - centre, np.stack([-rel[:, 1], rel[:, 0]], axis=1))
    assert eye_angle(turned) == pytest.approx(90)
    scaled = transform_points(pts, 640, 480, scale=0.5)
    assert np.allclose(scaled - centre, rel * 0.5) and np.allclose(scaled.mean(axis=0), centre)
    moved = transform_points(pts, 640, 480, offset_x=0.25, offset_y=-0.1)
    assert np.allclose(moved - base, [160, -48])
    # order: rotate and scale about the set's own centre, then move
    both = transform_points(pts, 640, 480, rotate=30, scale=2, offset_x=0.1)
    assert np.allclose(both.mean(axis=0), centre + [64, 0])
    assert eye_distance(both) == pytest.approx(2 * eye_distance(base))


def test_rotation_works_in_pixels_so_a_wide_canvas_does_not_shear_the_face():
    pts = preset_points("frontal", 1600, 400)
    p = transform_points(pts, 1600, 400, rotate=45)
    assert eye_angle(p) == pytest.approx(45)
    assert eye_distance(p) == pytest.approx(eye_distance(pts * [1600, 400]))


def test_face_points_are_fractions_of_the_photo():
    kps = np.array([[100, 50], [200, 50], [150, 100], [110, 150], [190, 150]], np.float32)
    assert np.allclose(face_points(kps, (400, 200)), kps / [400, 200])


def test_json_round_trip_and_accepted_forms():
    pts = preset_points("three-quarter left", 1016, 1016)
    text = points_json(pts)
    assert json.loads(text) == [[round(x, 4), round(y, 4)] for x, y in pts.tolist()]
    assert np.allclose(parse_points(text), pts, atol=5e-5)
    assert np.allclose(parse_points(json.dumps({"points": json.loads(text)})), pts, atol=5e-5)
    assert parse_points("") is None and parse_points("   ") is None
    assert parse_points("[[0,0],[1,0],[0.5,0.5],[-0.5,1],[1.5,1]]")[3, 0] == -0.5  # off the picture is allowed


@pytest.mark.parametrize("text,words", [
    ("[[0.4, 0.4], [0.6, 0.4]", "not valid JSON"),
    ("[[0.4, 0.4], [0.6, 0.4], [0.5, 0.5], [0.45, 0.6]]", "found 4 entries"),
    ("[[0.4, 0.4], [0.6, 0.4], [0.5, 0.5], [0.45, 0.6], [0.55, 0.6], [0.5, 0.1]]", "found 6 entries"),
    ('{"left_eye": [0.4, 0.4]}', "found an object without a 'points' list"),
    ("0.5", "found a float"),
    ("[[0.4, 0.4], [0.6, 0.4], [0.5], [0.45, 0.6], [0.55, 0.6]]", "point 2 (nose)"),
    ('[[0.4, 0.4], [0.6, 0.4], [0.5, "x"], [0.45, 0.6], [0.55, 0.6]]', "point 2 (nose)"),
    ("[[0.4, 0.4], [0.6, 0.4], [0.5, true], [0.45, 0.6], [0.55, 0.6]]", "point 2 (nose)"),
    ("[[0.4, NaN], [0.6, 0.4], [0.5, 0.5], [0.45, 0.6], [0.55, 0.6]]", "left eye: not a finite number"),
    ("[[0.4, 0.4], [0.6, 0.4], [0.5, 0.5], [0.45, 0.6], [Infinity, 0.6]]", "right mouth corner: not a finite"),
    ("[[400, 300], [600, 300], [500, 400], [450, 500], [550, 500]]", "pixel positions?"),
])
def test_bad_points_are_refused_naming_the_input(text, words):
    with pytest.raises(InputValueError) as exc:
        parse_points(text)
    assert exc.value.input_name == "points"
    assert words in str(exc.value), str(exc.value)
    assert "five [x, y] pairs" in str(exc.value) or "Divide x by the width" in str(exc.value)
