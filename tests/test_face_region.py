"""Face crop geometry (instantid_core.faces): round trips, eye levelling, borders, tiny faces, batches, masks,
colour match and the checks — plain numpy/OpenCV, no ComfyUI."""
import math
from dataclasses import FrozenInstanceError

import numpy as np
import pytest

from instantid_core.errors import InputValueError
from instantid_core.faces.face_mask import face_mask
from instantid_core.faces.face_region import (CropSettings, FaceCrop, cut_crop, eye_angle, passthrough_crop,
                                              plan_crop, plan_crops, warp)
from instantid_core.faces.face_stitch import stitch

W, H = 400, 300
TEMPLATE = np.array([[-0.35, -0.2], [0.35, -0.2], [0.0, 0.1], [-0.25, 0.4], [0.25, 0.4]])


def smooth_photo(seed=0, size=(W, H)):
    """Smooth random colours (a blurred texture): bilinear round trips of it are accurate, so an error means
    wrong geometry, not interpolation."""
    import cv2
    img = np.random.default_rng(seed).random((size[1], size[0], 3)).astype(np.float32)
    img = cv2.GaussianBlur(img, (0, 0), 3)
    return (img - img.min()) / (img.max() - img.min())


def tilted_face(cx, cy, side, angle):
    """Face box and 5 keypoints of an upright template face turned by ``angle`` degrees about its centre."""
    a = math.radians(angle)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    kps = (TEMPLATE * side / 2.0) @ rot.T + [cx, cy]
    return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2), kps


def round_trip(img, crop):
    cut = cut_crop(img, crop)
    mask = face_mask(crop)
    out = stitch(img, cut, crop, mask)
    support = warp(mask, crop.to_source, crop.source_size) > 0
    return out, support, cut


CASES = {  # name: (cx, cy, side, angle, long_side)
    "centred": (200, 150, 80, 0, 256),
    "tilted_25": (200, 150, 80, 25, 256),
    "tilted_-40": (210, 140, 60, -40, 256),
    "upside_down_170": (200, 150, 80, 170, 256),
    "left_border": (8, 150, 60, 10, 256),
    "right_border": (396, 150, 60, -10, 256),
    "top_border": (200, 4, 60, 5, 256),
    "bottom_border": (200, 297, 60, -5, 256),
    "corner": (2, 298, 70, 30, 256),
    "tiny_8px": (200, 150, 8, 12, 512),
}


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("pad_mode", ["edge", "reflect"])
def test_crop_then_stitch_of_the_unchanged_crop_returns_the_original(name, pad_mode):
    cx, cy, side, angle, long_side = CASES[name]
    img = smooth_photo()
    box, kps = tilted_face(cx, cy, side, angle)
    crop = plan_crop(box, kps, (W, H), CropSettings(0.5, True, long_side, pad_mode, 0, 8))
    out, support, _ = round_trip(img, crop)
    assert support.sum() > 10
    assert np.array_equal(out[~support], img[~support])  # bit for bit outside the mask
    assert np.abs(out - img)[support].max() < 0.03  # interpolation error only inside it
    assert crop.scale > 1.0  # every case here is scaled up (long side > region)


def test_a_tiny_face_is_scaled_up_and_the_crop_says_by_how_much():
    box, kps = tilted_face(200, 150, 8, 0)
    crop = plan_crop(box, kps, (W, H), CropSettings(0.5, True, 512))
    assert crop.crop_size == (512, 512)
    assert crop.scale == pytest.approx(512 / 16)  # region = 8 px face + 2 x 0.5 x 8 px context
    assert "scaled up 32.00x" in crop.summary()


@pytest.mark.parametrize("angle", [-75.0, -30.0, -3.0, 0.0, 12.5, 44.0, 91.0, 179.0])
def test_alignment_levels_the_eyes_and_keypoints_map_back(angle):
    box, kps = tilted_face(200, 150, 90, angle)
    crop = plan_crop(box, kps, (W, H), CropSettings(0.4, True, 512))
    ck = crop.crop_kps()
    assert abs(eye_angle(ck)) < 0.5
    assert ck[0, 0] < ck[1, 0]  # the left eye stays left: upright, not upside down
    assert ck[2, 1] > ck[0, 1]  # the nose below the eyes
    assert crop.angle == pytest.approx(angle, abs=1e-9)
    assert np.allclose(crop.to_source_points(ck), kps, atol=1e-9)


def test_without_alignment_the_tilt_is_kept():
    box, kps = tilted_face(200, 150, 90, 20)
    crop = plan_crop(box, kps, (W, H), CropSettings(0.4, False, 512))
    assert crop.angle == 0.0
    assert eye_angle(crop.crop_kps()) == pytest.approx(20.0, abs=1e-6)


def test_crop_content_matches_the_transform():
    """A pixel of the crop is the source sampled where to_source sends it (the warp uses the matrix as said)."""
    img = smooth_photo(3)
    box, kps = tilted_face(200, 150, 80, 30)
    crop = plan_crop(box, kps, (W, H), CropSettings(0.5, True, 256))
    cut = cut_crop(img, crop)
    for q in [(128, 128), (40, 200), (220, 30)]:
        x, y = crop.to_source_points([q])[0]
        x0, y0 = int(x), int(y)
        fx, fy = x - x0, y - y0
        want = (img[y0, x0] * (1 - fx) * (1 - fy) + img[y0, x0 + 1] * fx * (1 - fy) +
                img[y0 + 1, x0] * (1 - fx) * fy + img[y0 + 1, x0 + 1] * fx * fy)
        assert np.allclose(cut[q[1], q[0]], want, atol=2e-3)


def test_long_side_is_the_user_value_aspect_kept_multiple_of_8():
    box = (100, 50, 160, 150)  # a 60 x 100 face box: taller than wide
    crop = plan_crop(box, None, (W, H), CropSettings(0.5, True, 1024))
    w, h = crop.crop_size
    assert h == 1024 and w % 8 == 0 and abs(w / h - 0.6) < 8 / 1024
    region = (60 * 2, 100 * 2)
    assert crop.scale == pytest.approx(min(w / region[0], h / region[1]))


@pytest.mark.parametrize("pad_mode", ["edge", "reflect"])
def test_border_faces_are_padded_not_refused(pad_mode):
    img = smooth_photo(1)
    box, kps = tilted_face(0, 0, 60, 0)  # centred on the corner: three quarters of the region is off the photo
    crop = plan_crop(box, kps, (W, H), CropSettings(0.5, True, 128, pad_mode))
    cut = cut_crop(img, crop)
    assert cut.shape == (128, 128, 3) and np.isfinite(cut).all()
    if pad_mode == "edge":
        assert np.allclose(cut[0, 0], img[0, 0], atol=1e-6)  # the outermost pixel repeated
    else:
        assert not np.allclose(cut[0, 0], img[0, 0], atol=1e-3)  # a mirrored pixel from inside the photo


def test_mask_is_zero_outside_the_grown_ellipse_and_one_inside_the_feather():
    box, kps = tilted_face(200, 150, 80, 0)
    hard = plan_crop(box, kps, (W, H), CropSettings(0.5, True, 256, mask_grow=0, feather=0))
    soft = plan_crop(box, kps, (W, H), CropSettings(0.5, True, 256, mask_grow=0, feather=20))
    grown = plan_crop(box, kps, (W, H), CropSettings(0.5, True, 256, mask_grow=12, feather=20))
    shrunk = plan_crop(box, kps, (W, H), CropSettings(0.5, True, 256, mask_grow=-12, feather=0))
    m_hard, m_soft, m_grown, m_shrunk = (face_mask(c) for c in (hard, soft, grown, shrunk))
    assert set(np.unique(m_hard)) == {0.0, 1.0}
    assert np.all(m_soft[m_hard == 0] == 0)  # inward feather: nothing outside the ellipse
    assert 0 < m_soft.sum() < m_hard.sum()
    assert m_soft[128, 128] == 1.0  # the centre is fully inside
    assert m_grown.astype(bool).sum() > m_soft.astype(bool).sum() > m_shrunk.astype(bool).sum()
    # the ellipse is the face box at the crop's scale: 80 px * 256 / 160 = 128 px wide
    assert m_hard[128].astype(bool).sum() == pytest.approx(128, abs=2)
    for m in (m_hard, m_soft, m_grown):
        assert not m[0].any() and not m[-1].any() and not m[:, 0].any() and not m[:, -1].any()


def test_a_generated_face_changes_only_pixels_inside_the_mask():
    img = smooth_photo(4)
    box, kps = tilted_face(120, 200, 70, 18)
    crop = plan_crop(box, kps, (W, H), CropSettings(0.6, True, 256, "reflect", 8, 24))
    generated = np.random.default_rng(2).random((256, 256, 3)).astype(np.float32)
    mask = face_mask(crop)
    out = stitch(img, generated, crop, mask)
    support = warp(mask, crop.to_source, (W, H)) > 0
    assert np.array_equal(out[~support], img[~support])
    full = warp(mask, crop.to_source, (W, H)) > 0.999
    assert full.any() and np.abs(out - img)[full].mean() > 0.1  # the new face is there


def test_blend_zero_and_an_empty_mask_return_the_original():
    img = smooth_photo(5)
    box, kps = tilted_face(200, 150, 80, 0)
    crop = plan_crop(box, kps, (W, H), CropSettings(0.5, True, 128))
    gen = np.ones((128, 128, 3), np.float32)
    assert np.array_equal(stitch(img, gen, crop, face_mask(crop), blend=0.0), img)
    assert np.array_equal(stitch(img, gen, crop, np.zeros((128, 128), np.float32)), img)


def test_colour_match_moves_the_face_towards_the_replaced_pixels():
    img = np.full((H, W, 3), 0.5, np.float32) + smooth_photo(6) * 0.1
    box, kps = tilted_face(200, 150, 80, 0)
    crop = plan_crop(box, kps, (W, H), CropSettings(0.5, True, 128, feather=0))
    gen = np.zeros((128, 128, 3), np.float32) + [0.9, 0.2, 0.2]  # a strongly red face
    mask = face_mask(crop)
    plain = stitch(img, gen, crop, mask)
    matched = stitch(img, gen, crop, mask, color_match="lab_mean_std", color_strength=1.0)
    inside = warp(mask, crop.to_source, (W, H)) > 0.999
    assert np.abs(matched[inside].mean(0) - img[inside].mean(0)).max() < 0.03
    assert np.abs(plain[inside].mean(0) - img[inside].mean(0)).max() > 0.3
    outside = warp(mask, crop.to_source, (W, H)) == 0
    assert np.array_equal(matched[outside], img[outside])


def test_batch_crops_share_one_size_and_no_face_passes_through():
    faces = [(tilted_face(100, 100, 60, 10)[0], tilted_face(100, 100, 60, 10)[1], 0), None,
             (tilted_face(300, 200, 120, -20)[0], tilted_face(300, 200, 120, -20)[1], 1)]
    crops = plan_crops(faces, (W, H), CropSettings(0.5, True, 256))
    assert [c.crop_size for c in crops] == [(256, 256)] * 3
    assert [c.image_index for c in crops] == [0, 1, 2]
    assert [c.face_index for c in crops] == [0, -1, 1] and not crops[1].has_face
    assert not face_mask(crops[1]).any()
    img = smooth_photo(7)
    out = stitch(img, cut_crop(img, crops[1]), crops[1], face_mask(crops[1]))
    assert np.array_equal(out, img)  # a pass-through crop changes nothing


def test_the_crop_description_is_frozen_and_typed():
    crop = passthrough_crop((W, H), CropSettings())
    assert isinstance(crop, FaceCrop)
    with pytest.raises(FrozenInstanceError):
        crop.scale = 2.0
    assert isinstance(crop.to_crop, tuple) and isinstance(crop.to_crop[0], tuple)


@pytest.mark.parametrize("kwargs, name", [
    ({"padding": math.nan}, "padding"), ({"padding": -1.0}, "padding"), ({"long_side": 1002}, "long_side"),
    ({"long_side": 32}, "long_side"), ({"pad_mode": "wrap"}, "pad_mode"), ({"mask_grow": math.inf}, "mask_grow"),
    ({"feather": math.nan}, "feather"), ({"feather": -1}, "feather")])
def test_bad_settings_name_their_input(kwargs, name):
    with pytest.raises(InputValueError) as exc:
        CropSettings(**kwargs).checked()
    assert exc.value.input_name == name


def test_stitch_refuses_other_sizes_naming_the_input():
    img = smooth_photo(8)
    box, kps = tilted_face(200, 150, 80, 0)
    crop = plan_crop(box, kps, (W, H), CropSettings(0.5, True, 128))
    gen, mask = cut_crop(img, crop), face_mask(crop)
    cases = [((img[:200], gen, mask), "image"), ((img, gen[:64], mask), "generated"),
             ((img, gen, mask[:64]), "mask")]
    for args, name in cases:
        with pytest.raises(InputValueError) as exc:
            stitch(args[0], args[1], crop, args[2])
        assert exc.value.input_name == name, (name, str(exc.value))
    with pytest.raises(InputValueError) as exc:
        stitch(img, gen, crop, mask, blend=math.nan)
    assert exc.value.input_name == "blend"
    shrunk_away = plan_crop(box, kps, (W, H), CropSettings(0.5, True, 128, mask_grow=-500))
    with pytest.raises(InputValueError) as exc:
        face_mask(shrunk_away)
    assert exc.value.input_name == "mask_grow"
