"""Edge ops on hand-made mattes: levels, grow/shrink, feather, guided refinement."""

from __future__ import annotations

import math
import warnings

import cv2
import numpy as np
import pytest

from etam_plugin.errors import MatteError
from etam_plugin.matte import (
    feather,
    grow_shrink,
    invert,
    refine_edges,
    soft_matte,
    threshold,
)


def left_half(h: int = 40, w: int = 80, edge: int = 30) -> np.ndarray:
    """Alpha 1 on columns < edge, 0 from edge on: a straight vertical edge at x = edge."""
    m = np.zeros((h, w), np.float32)
    m[:, :edge] = 1.0
    return m


def disc(h: int, w: int, cx: float, cy: float, r: float) -> np.ndarray:
    """A disc with its edge anti-aliased by 4×4 supersampling (true area ≈ πr²)."""
    ss = 4
    ys, xs = np.mgrid[0 : h * ss, 0 : w * ss]
    inside = (xs + 0.5) / ss - 0.5 - cx
    inside = inside**2 + ((ys + 0.5) / ss - 0.5 - cy) ** 2 <= r * r
    return inside.reshape(h, ss, w, ss).mean(axis=(1, 3)).astype(np.float32)


def edge_position(row: np.ndarray) -> float:
    """Where a 1→0 profile crosses, measured as its mass (sum of alpha)."""
    return float(row.sum())


# -- levels -------------------------------------------------------------------------------


def test_soft_matte_is_the_sigmoid_and_agrees_with_threshold_on_logits() -> None:
    logits = np.linspace(-12, 12, 97, dtype=np.float32).reshape(1, -1).repeat(3, 0)
    m = soft_matte(logits)
    assert m.dtype == np.float32
    np.testing.assert_allclose(m, 1 / (1 + np.exp(-logits.astype(np.float64))), atol=1e-6)
    np.testing.assert_array_equal(m > 0.5, threshold(logits, level=0.0))
    wide = soft_matte(logits, softness=4.0)
    # Softer keeps the 0.5 crossing but spreads the ramp.
    np.testing.assert_array_equal(wide > 0.5, m > 0.5)
    assert ((wide > 0.05) & (wide < 0.95)).sum() > 3 * ((m > 0.05) & (m < 0.95)).sum()


def test_soft_matte_takes_the_models_no_object_logits_without_overflow() -> None:
    logits = np.full((4, 4), -1024.0, np.float32)
    logits[0, 0] = 1e30
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = soft_matte(logits, softness=0.01)
    assert m[0, 0] == 1.0 and m[1, 1] == 0.0


def test_soft_matte_rejects_bad_softness() -> None:
    with pytest.raises(MatteError, match="softness"):
        soft_matte(np.zeros((2, 2)), softness=0)


def test_invert_keeps_the_kind_and_never_touches_the_input() -> None:
    m = np.array([[0.0, 0.25], [1.0, 0.5]], np.float32)
    before = m.copy()
    np.testing.assert_allclose(invert(m), 1 - m)
    np.testing.assert_array_equal(m, before)
    b = m > 0.3
    assert invert(b).dtype == np.bool_
    np.testing.assert_array_equal(invert(b), ~b)


def test_ops_reject_non_2d_input() -> None:
    with pytest.raises(MatteError, match="2-D"):
        grow_shrink(np.zeros((4, 4, 3), np.float32), 1)


# -- grow / shrink --------------------------------------------------------------------------


@pytest.mark.parametrize("px", [3, -3, 2.5, -2.5, 0.3, 17])
def test_grow_moves_a_straight_edge_by_exactly_px(px: float) -> None:
    m = left_half()
    out = grow_shrink(m, px)
    for row in out[5:-5]:
        assert edge_position(row) == pytest.approx(30 + px, abs=1e-4)
    if float(px).is_integer():  # whole pixels give a hard edge exactly px columns over
        col = 30 + int(px)
        assert (out[:, :col] == 1).all() and (out[:, col:] == 0).all()


def test_grow_and_shrink_work_along_both_axes() -> None:
    m = left_half().T.copy()  # horizontal edge at y = 30
    out = grow_shrink(m, 4)
    assert (out[:34] == 1).all() and (out[34:] == 0).all()


def test_grow_keeps_a_soft_ramp_and_shifts_it() -> None:
    x = np.arange(80, dtype=np.float32)
    ramp = np.clip((30.5 - x) / 4 + 0.5, 0, 1)  # 4 px wide ramp centred at x = 30.5
    m = np.tile(ramp, (20, 1))
    out = grow_shrink(m, 5)
    np.testing.assert_allclose(out[10, 5:70], ramp[0:65], atol=1e-5)
    out = grow_shrink(m, -2.5)
    assert edge_position(out[10]) == pytest.approx(edge_position(m[10]) - 2.5, abs=1e-3)


@pytest.mark.parametrize("px", [1.5, 6, 20])
def test_grow_is_euclidean_on_a_circle(px: float) -> None:
    r = 60.0
    m = disc(200, 220, 110, 100, r)
    area = float(m.sum())
    grown = float(grow_shrink(m, px).sum())
    expected = 2 * math.pi * r * px + math.pi * px * px
    assert grown - area == pytest.approx(expected, rel=0.02)
    shrunk = float(grow_shrink(m, -px).sum())
    assert area - shrunk == pytest.approx(2 * math.pi * r * px - math.pi * px * px, rel=0.02)


def test_grow_never_lowers_alpha_and_shrink_never_raises_it() -> None:
    rng = np.random.default_rng(1)
    m = cv2.GaussianBlur(rng.random((90, 120), dtype=np.float32), (0, 0), 3)
    m = np.clip((m - m.mean()) * 8 + 0.5, 0, 1)
    assert ((m > 0.02) & (m < 0.98)).any()
    assert (grow_shrink(m, 2.2) >= m - 1e-6).all()
    assert (grow_shrink(m, -2.2) <= m + 1e-6).all()


def test_the_frame_border_is_not_an_edge() -> None:
    m = left_half()  # touches the left, top and bottom borders
    out = grow_shrink(m, -5)
    assert (out[:, :25] == 1).all(), "shrink ate in from the frame border"


def test_shrink_removes_a_line_thinner_than_twice_the_shrink() -> None:
    m = np.zeros((30, 60), np.float32)
    m[10:14, 5:55] = 1  # 4 px thick
    assert grow_shrink(m, -2.5).max() == 0
    # 1 px of line is left, centred between rows 11 and 12: half of it on each.
    np.testing.assert_allclose(grow_shrink(m, -1.5)[:, 8:52].sum(axis=0), 1.0, atol=1e-5)


def test_grow_bridges_a_gap_narrower_than_twice_the_grow() -> None:
    m = np.zeros((40, 60), np.float32)
    m[5:35, 5:28] = 1
    m[5:35, 32:55] = 1  # a 4 px gap
    out = grow_shrink(m, 2)
    assert (out[10:30, 28:32] == 1).all()


def test_grow_of_an_empty_or_full_matte_changes_nothing() -> None:
    empty = np.zeros((10, 10), np.float32)
    full = np.ones((10, 10), np.float32)
    np.testing.assert_array_equal(grow_shrink(empty, 3), empty)
    np.testing.assert_array_equal(grow_shrink(full, -3), full)


# -- feather --------------------------------------------------------------------------------


def test_outward_feather_keeps_the_subject_solid_and_softens_outside() -> None:
    m = disc(120, 120, 60, 60, 35) > 0.5
    out = feather(m, 6, mode="outward")
    assert (out[m] == 1.0).all(), "outward feather ate into the subject"
    ring = ~m & (cv2.dilate(m.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0)
    assert (out[ring] > 0.3).all()
    far = cv2.dilate(m.astype(np.uint8), np.ones((31, 31), np.uint8)) == 0
    assert (out[far] == 0).all()


def test_inward_feather_never_spills_outside() -> None:
    m = disc(120, 120, 60, 60, 35) > 0.5
    out = feather(m, 6, mode="inward")
    assert (out[~m] == 0).all(), "inward feather spilled outside the subject"
    inner_ring = m & (cv2.erode(m.astype(np.uint8), np.ones((5, 5), np.uint8)) == 0)
    assert (out[inner_ring] < 0.7).all()
    core = cv2.erode(m.astype(np.uint8), np.ones((31, 31), np.uint8)) > 0
    assert (out[core] == 1).all()


def test_centered_feather_straddles_the_edge_and_keeps_its_mass() -> None:
    m = left_half(edge=40)
    out = feather(m, 8)
    row = out[20]
    assert row[39] > 0.5 > row[40]
    assert row[39] + row[40] == pytest.approx(1.0, abs=1e-5)  # symmetric about the edge
    assert (row[:31] == 1).all() and (row[49:] == 0).all()  # the blur reaches exactly 8 px
    assert edge_position(row) == pytest.approx(40, abs=1e-3)


def test_feather_rejects_a_bad_mode_and_negative_radius() -> None:
    with pytest.raises(MatteError, match="outward"):
        feather(left_half(), 2, mode="sideways")  # type: ignore[arg-type]
    with pytest.raises(MatteError, match=">= 0"):
        feather(left_half(), -1)


# -- refine -------------------------------------------------------------------------------


def blocky(m: np.ndarray, cell: int) -> np.ndarray:
    """A coarse mask: the shape seen on a grid of ``cell``-px blocks, blown up."""
    h, w = m.shape
    small = cv2.resize(m, (w // cell, h // cell), interpolation=cv2.INTER_AREA)
    up = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    return (up > 0.5).astype(np.float32)


def two_tone(h: int, w: int, edge: int) -> np.ndarray:
    frame = np.zeros((h, w, 3), np.uint8)
    frame[:, :edge] = (200, 80, 40)  # the subject ends at x = edge
    frame[:, edge:] = (30, 120, 210)
    return frame


def test_refine_pulls_a_short_edge_onto_the_image_edge() -> None:
    frame = two_tone(60, 120, 64)
    m = left_half(60, 120, edge=60)  # the mask stops 4 px short of the subject's outline
    out = refine_edges(m, frame, radius=12)  # band 6 px
    row = out[30]
    assert row[:64].min() > 0.97, "the matte did not reach the image edge"
    assert row[64:].max() < 0.03, "the matte crossed the image edge"


def test_refine_pulls_a_long_edge_back_to_the_image_edge() -> None:
    frame = two_tone(60, 120, 64)
    m = left_half(60, 120, edge=68)  # 4 px too far out
    row = refine_edges(m, frame, radius=12)[30]
    assert row[:64].min() > 0.97 and row[64:].max() < 0.03


def test_plain_guided_filter_moves_the_edge_toward_the_image_edge() -> None:
    frame = two_tone(60, 120, 64)
    m = left_half(60, 120, edge=59)
    row = refine_edges(m, frame, radius=10, eps=1e-4, band=0, subsample=1)[30]
    crossing = int(np.argmax(row < 0.5))
    assert 60 < crossing <= 64
    assert row[64:].max() < 0.03


@pytest.mark.parametrize("gray", [False, True])
def test_refine_recovers_a_subject_outline_from_a_coarse_mask(gray: bool) -> None:
    h, w = 256, 320
    truth = disc(h, w, 170, 120, 70)
    rng = np.random.default_rng(3)
    fg, bg = np.array([220, 180, 60], np.float32), np.array([40, 60, 150], np.float32)
    frame = truth[..., None] * fg + (1 - truth[..., None]) * bg
    frame = np.clip(frame + rng.normal(0, 4, frame.shape), 0, 255).astype(np.uint8)
    coarse = blocky(truth, 16)  # staircase edges, up to ~6 px off
    guide = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if gray else frame
    refined = refine_edges(coarse, guide, radius=16)
    before = np.abs(coarse - truth).mean()
    after = np.abs(refined - truth).mean()
    assert after < 0.25 * before, (before, after)


def test_refine_subsampled_fit_matches_the_full_resolution_fit() -> None:
    h, w = 256, 320
    truth = disc(h, w, 170, 120, 70)
    frame = (truth[..., None] * np.array([200, 170, 90]) + 30).astype(np.uint8)
    coarse = blocky(truth, 16)
    exact = refine_edges(coarse, frame, radius=16, subsample=1)
    fast = refine_edges(coarse, frame, radius=16)  # subsample 4
    assert np.abs(exact - fast).mean() < 0.01


def test_refine_checks_the_guide() -> None:
    m = np.zeros((10, 12), np.float32)
    with pytest.raises(MatteError, match="12×10"):
        refine_edges(m, np.zeros((12, 10, 3), np.uint8))
    with pytest.raises(MatteError, match="uint8"):
        refine_edges(m, np.zeros((10, 12, 3), np.float32))
