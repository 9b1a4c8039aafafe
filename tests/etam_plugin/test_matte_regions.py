"""Holes, islands and combining objects, on hand-made masks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from etam_plugin.errors import MatteError
from etam_plugin.matte import combine, drop_islands, fill_holes, index_map, union


def subject_with_holes() -> np.ndarray:
    m = np.zeros((60, 80), bool)
    m[10:50, 10:70] = True
    m[20:23, 20:23] = False  # 9 px hole
    m[30:40, 40:50] = False  # 100 px hole
    return m


def test_fill_holes_fills_only_holes_up_to_the_area() -> None:
    m = subject_with_holes()
    out = fill_holes(m, 9)
    assert out.dtype == np.bool_
    assert out[20:23, 20:23].all()
    assert not out[30:40, 40:50].any()
    assert fill_holes(m, 100)[30:40, 40:50].all()
    np.testing.assert_array_equal(fill_holes(m, 100)[~m & (np.arange(80) < 10)], False)
    np.testing.assert_array_equal(m, subject_with_holes())  # the input is untouched


def test_background_touching_the_border_is_not_a_hole() -> None:
    m = np.ones((30, 30), bool)
    m[:, :3] = False  # a 90 px strip along the left border
    m[10:12, 10:12] = False
    out = fill_holes(m, 1000)
    assert not out[:, :3].any()
    assert out[10:12, 10:12].all()


def test_a_hole_leaking_only_through_a_corner_is_still_a_hole() -> None:
    # Subject pieces are 8-connected, so a ring missing its corner pixel still closes;
    # the background is 4-connected, so the inside cannot leak out through that corner.
    m = np.zeros((12, 12), np.uint8)
    cv2.rectangle(m, (2, 2), (9, 9), 1, 1)
    m[2, 2] = 0
    m = m.astype(bool)
    out = fill_holes(m, 100)
    assert out[3:9, 3:9].all()
    assert not out[2, 2] and not out[0, 0]


def test_drop_islands_removes_pieces_below_the_area() -> None:
    m = np.zeros((60, 80), bool)
    m[10:40, 10:40] = True  # 900 px
    m[50:53, 60:63] = True  # 9 px
    m[5:10, 60:70] = True  # 50 px
    out = drop_islands(m, 50)
    assert out[10:40, 10:40].all() and out[5:10, 60:70].all()
    assert not out[50:53, 60:63].any()
    assert not drop_islands(m, 51)[5:10, 60:70].any()
    assert drop_islands(m, 0).sum() == m.sum()


def test_islands_are_8_connected() -> None:
    m = np.zeros((10, 10), bool)
    m[2, 2] = m[3, 3] = m[4, 4] = True  # a diagonal line of 3 px
    assert drop_islands(m, 3).sum() == 3
    assert drop_islands(m, 4).sum() == 0


def test_a_dropped_island_takes_its_soft_halo_with_it() -> None:
    m = np.zeros((60, 80), np.float32)
    m[10:40, 10:40] = 1.0
    m[48:52, 60:64] = 1.0  # a 16 px speck
    soft = cv2.GaussianBlur(m, (0, 0), 1.5)
    out = drop_islands(soft, 40)
    assert out.dtype == np.float32
    assert out[44:58, 54:70].max() == 0, "a faint halo of the dropped island stayed"
    np.testing.assert_array_equal(out[:44, :44], soft[:44, :44])


def test_a_filled_hole_takes_its_soft_fringe_with_it() -> None:
    m = subject_with_holes().astype(np.float32)
    soft = cv2.GaussianBlur(m, (0, 0), 1.0)
    out = fill_holes(soft, 9)
    assert (out[17:26, 17:26] == 1).all()
    assert out[34, 44] < 0.5  # the big hole stays


def test_area_must_be_a_whole_number() -> None:
    with pytest.raises(MatteError, match="whole number"):
        drop_islands(np.zeros((4, 4), bool), 2.5)  # type: ignore[arg-type]
    with pytest.raises(MatteError, match="whole number"):
        fill_holes(np.zeros((4, 4), bool), -1)


# -- combine ------------------------------------------------------------------------------


def three_objects() -> dict[int, np.ndarray]:
    a = np.zeros((20, 30), np.float32)
    b = np.zeros((20, 30), np.float32)
    c = np.zeros((20, 30), np.float32)
    a[:, :15] = 0.9
    b[:, 10:25] = 0.7  # overlaps a on columns 10..14, where a is higher
    c[:, 20:] = 0.7  # overlaps b on 20..24 with the same alpha: the smaller ID wins
    c[0, 29] = 0.5  # exactly the level: background
    return {5: a, 3: b, 9: c}


def test_union_is_the_per_pixel_maximum() -> None:
    objs = three_objects()
    np.testing.assert_allclose(union(objs), np.maximum.reduce(list(objs.values())))
    np.testing.assert_allclose(combine(objs, "union"), union(objs))


def test_index_map_resolves_overlaps_by_highest_alpha_then_smaller_id() -> None:
    idx = index_map(three_objects())
    assert idx.dtype == np.uint8
    assert (idx[:, :15] == 5).all()  # a beats b where they overlap (0.9 > 0.7)
    assert (idx[:, 15:25] == 3).all()  # b and c tie on 20..24: 3 < 9
    assert (idx[1:, 25:] == 9).all()
    assert idx[0, 29] == 0  # alpha 0.5 is not above the level


def test_index_map_uses_uint16_for_large_ids_and_rejects_bad_ones() -> None:
    m = np.ones((4, 4), np.float32)
    assert combine({300: m}, "index").dtype == np.uint16
    with pytest.raises(MatteError, match=r"1\.\.65535"):
        index_map({0: m})
    with pytest.raises(MatteError, match=r"1\.\.65535"):
        index_map({70000: m})


def test_separate_returns_each_objects_matte_in_id_order() -> None:
    objs = three_objects()
    out = combine(objs, "separate")
    assert isinstance(out, dict) and list(out) == [3, 5, 9]
    for k in objs:
        np.testing.assert_array_equal(out[k], objs[k])
        assert out[k] is not objs[k]


def test_combine_checks_its_input() -> None:
    with pytest.raises(MatteError, match="at least one"):
        combine({})
    with pytest.raises(MatteError, match="same size"):
        combine({1: np.zeros((4, 4)), 2: np.zeros((4, 5))})
    with pytest.raises(MatteError, match="union, separate, index"):
        combine({1: np.zeros((4, 4))}, "stack")  # type: ignore[arg-type]
