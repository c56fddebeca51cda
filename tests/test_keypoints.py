import numpy as np
import pytest

from instantid_core.compute.keypoints import COLORS, draw_keypoints, keypoint_image, scale_points

KPS = np.array([[40.0, 40.0], [80.0, 40.0], [60.0, 65.0], [45.0, 90.0], [75.0, 90.0]])


def test_circles_colours_and_radius():
    img = draw_keypoints([KPS], 128, 128)
    assert img.shape == (128, 128, 3) and img.dtype == np.uint8
    for (x, y), color in zip(KPS.astype(int), COLORS):
        assert tuple(img[y, x]) == color
        assert tuple(img[y, x + 10]) == color and tuple(img[y - 10, x]) == color  # radius 10 inclusive
    assert tuple(img[0, 0]) == (0, 0, 0)
    # a filled disc of radius 10 covers about pi*10^2 pixels of the point's own colour
    red = np.all(img == COLORS[0], axis=-1).sum()
    assert 280 < red < 360


def test_limbs_are_dimmed_and_coloured_by_first_point():
    img = draw_keypoints([KPS], 128, 128)
    # midway between left eye (0) and nose (2), outside both circles: the limb, 0.6 × red
    x, y = ((KPS[0] + KPS[2]) / 2).astype(int)
    assert tuple(img[y, x]) == (153, 0, 0)
    # limb half-width is 4 px: 7 px off the limb's axis is background
    mx, my = (KPS[3] + KPS[2]) / 2
    assert tuple(img[int(my), int(mx)]) == (153, 153, 0)


def test_scaling_from_source_to_target_size():
    pts = scale_points(KPS, (128, 128), (256, 64))
    assert np.allclose(pts[:, 0], KPS[:, 0] * 2) and np.allclose(pts[:, 1], KPS[:, 1] / 2)


def test_comfy_image_layout_and_several_faces():
    other = KPS + [60, 20]
    t = keypoint_image([(KPS, (256, 256)), (other, (256, 256))], 512, 384)
    assert tuple(t.shape) == (1, 384, 512, 3) and t.dtype.is_floating_point
    assert 0.0 <= t.min() and t.max() <= 1.0
    x, y = int(other[4, 0] * 2), int(other[4, 1] * 1.5)
    assert t[0, y, x].tolist() == [1.0, 0.0, 1.0]  # second face's magenta point


def test_bad_size():
    with pytest.raises(ValueError):
        draw_keypoints([KPS], 0, 10)
