"""Temporal smoothing and the MatteOps bundle (parse, apply, sequences)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from etam_plugin.errors import MatteError
from etam_plugin.matte import (
    MatteOps,
    TemporalSmoother,
    feather,
    grow_shrink,
    smooth_sequence,
    soft_matte,
)


def flickering(n: int = 40, seed: int = 0) -> list[np.ndarray]:
    """A still subject whose edge pixels flip on and off at random, frame to frame."""
    rng = np.random.default_rng(seed)
    base = np.zeros((48, 64), np.float32)
    base[12:36, 16:48] = 1.0
    edge = cv2.dilate(base, np.ones((5, 5))) - cv2.erode(base, np.ones((5, 5)))
    frames = []
    for _ in range(n):
        noise = (rng.random(base.shape) < 0.5) & (edge > 0)
        frames.append(np.where(noise, 1.0 - base, base).astype(np.float32))
    return frames


def flicker(frames: list[np.ndarray]) -> float:
    return float(np.mean([np.abs(b - a).mean() for a, b in itertools.pairwise(frames)]))


# -- temporal -----------------------------------------------------------------------------


def test_smooth_sequence_reduces_flicker_and_keeps_the_frame_count() -> None:
    frames = flickering()
    out = list(smooth_sequence(frames, 3))
    assert len(out) == len(frames)
    assert flicker(out) < 0.35 * flicker(frames)


def test_a_static_matte_passes_smoothing_unchanged() -> None:
    m = soft_matte(np.random.default_rng(2).normal(0, 3, (30, 40)).astype(np.float32))
    out = list(smooth_sequence([m] * 9, 3))
    assert len(out) == 9
    for o in out:
        np.testing.assert_array_equal(o, m)


def test_smooth_sequence_window_is_centred_and_cut_at_the_ends() -> None:
    frames = [np.full((2, 2), float(i) / 10, np.float32) for i in range(6)]
    out = [float(o[0, 0]) for o in smooth_sequence(frames, 1)]
    expected = [0.05, 0.1, 0.2, 0.3, 0.4, 0.45]  # (0+1)/2, (0+1+2)/3, ..., (4+5)/2
    assert out == pytest.approx(expected, abs=1e-6)


def test_smooth_sequence_streams_with_bounded_look_ahead() -> None:
    pulled = 0

    def source() -> Iterator[np.ndarray]:
        nonlocal pulled
        for _ in range(1000):
            pulled += 1
            yield np.zeros((4, 4), np.float32)

    gen = smooth_sequence(source(), 5)
    next(gen)
    assert pulled == 6  # the first output needs frames 0..5 only
    for _ in range(10):
        next(gen)
    assert pulled == 16


def test_smooth_sequence_radius_zero_and_bad_radius() -> None:
    frames = flickering(5)
    for a, b in zip(smooth_sequence(frames, 0), frames, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(MatteError, match="whole number"):
        list(smooth_sequence(frames, 1.5))  # type: ignore[arg-type]


def test_live_smoother_reduces_flicker_resets_and_passes_the_first_frame() -> None:
    frames = flickering()
    smoother = TemporalSmoother(0.75)
    out = [smoother(f) for f in frames]
    np.testing.assert_array_equal(out[0], frames[0])
    assert flicker(out) < 0.35 * flicker(frames)
    smoother.reset()
    np.testing.assert_array_equal(smoother(frames[7]), frames[7])
    # a new size (camera switched) starts over instead of failing
    np.testing.assert_array_equal(smoother(np.ones((3, 3))), np.ones((3, 3)))


def test_live_smoother_is_causal_and_static_safe() -> None:
    smoother = TemporalSmoother(0.5)
    m = np.full((4, 4), 0.25, np.float32)
    for _ in range(5):
        np.testing.assert_allclose(smoother(m), m)
    step = smoother(np.ones((4, 4), np.float32))
    np.testing.assert_allclose(step, 0.625)  # half of the way, no look-ahead
    with pytest.raises(MatteError, match=r"\[0, 1\)"):
        TemporalSmoother(1.0)


# -- MatteOps -------------------------------------------------------------------------------


def test_parse_reads_the_spec_and_str_writes_it_back() -> None:
    ops = MatteOps.parse("feather=2, grow=1,smooth=3 ,invert,feather-mode=outward")
    assert ops == MatteOps(feather=2, grow=1, smooth=3, invert=True, feather_mode="outward")
    assert MatteOps.parse(str(ops)) == ops
    assert MatteOps.parse("shrink=2.5").grow == -2.5
    assert MatteOps.parse("") == MatteOps()
    assert str(MatteOps()) == ""


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("feathr=2", "did you mean 'feather'"),
        ("grow=1,shrink=2", "given twice"),
        ("smooth=1.5", "whole number"),
        ("threshold=1.5", "between 0 and 1"),
        ("feather=-1", "0 to 2048"),
        ("feather=1e9", "0 to 2048"),
        ("grow=-5000", "-2048 to 2048"),
        ("smooth=100000", "0 to 1000"),
        ("feather=wide", "expected a number"),
        ("feather", "needs a value"),
        ("feather_mode=sideways", "outward | inward | centered"),
        ("invert=maybe", "true or false"),
        ("grow=nan", "finite"),
    ],
)
def test_parse_rejects_bad_specs_naming_the_key(spec: str, message: str) -> None:
    with pytest.raises(MatteError, match=message) as info:
        MatteOps.parse(spec)
    assert info.value.key is not None
    assert isinstance(info.value, ValueError)


def test_default_ops_only_threshold() -> None:
    logits = np.random.default_rng(4).normal(0, 4, (20, 30)).astype(np.float32)
    out = MatteOps().apply(logits, logits=True)
    np.testing.assert_array_equal(out, (logits > 0).astype(np.float32))
    soft = MatteOps(soft=2.0).apply(logits, logits=True)
    np.testing.assert_allclose(soft, soft_matte(logits, softness=2.0))
    # the threshold is an alpha level; logits are cut at its logit
    high = MatteOps(threshold=0.9).apply(logits, logits=True)
    np.testing.assert_array_equal(high, (logits > np.log(9)).astype(np.float32))


def test_apply_runs_the_steps_in_the_documented_order() -> None:
    mask = np.zeros((60, 80), bool)
    mask[10:50, 10:60] = True
    mask[25:28, 25:28] = False  # hole
    mask[55:57, 70:72] = True  # island
    frame = np.zeros((60, 80, 3), np.uint8)
    ops = MatteOps.parse("fill_holes=20,drop_islands=10,grow=2,feather=3,invert")
    out = ops.apply(mask, guide=frame)
    clean = mask.copy()
    clean[25:28, 25:28] = True
    clean[55:57, 70:72] = False
    expected = 1 - feather(grow_shrink(clean, 2), 3)
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_refine_needs_the_frame() -> None:
    with pytest.raises(MatteError, match="needs the frame"):
        MatteOps(refine=4).apply(np.zeros((8, 8), bool))
    with pytest.raises(MatteError, match="needs the frames"):
        MatteOps(refine=4).apply_sequence([np.zeros((8, 8), bool)])


def test_apply_sequence_smooths_and_keeps_count() -> None:
    frames = flickering(20)
    ops = MatteOps(smooth=2, soft=1.0)
    out = list(ops.apply_sequence(frames))
    assert len(out) == 20
    np.testing.assert_allclose(out[5], np.mean(frames[3:8], axis=0), atol=1e-6)


def test_apply_sequence_with_guides_refines_each_frame() -> None:
    frame = np.zeros((40, 60, 3), np.uint8)
    frame[:, :30] = 220
    mask = np.zeros((40, 60), bool)
    mask[:, :27] = True
    ops = MatteOps(refine=8)
    out = list(ops.apply_sequence([mask] * 3, guides=[frame] * 3))
    assert len(out) == 3
    assert out[0][20, 28] > 0.9  # pulled out to the image edge at x = 30
    with pytest.raises(ValueError):
        list(ops.apply_sequence([mask] * 3, guides=[frame] * 2))


def test_live_smoother_from_ops_matches_the_offline_window_size() -> None:
    assert MatteOps().smoother() is None
    smoother = MatteOps(smooth=3).smoother()
    assert smoother is not None and smoother.strength == pytest.approx(0.75)


def test_bench_matte_runs_and_writes_json(tmp_path: Path) -> None:
    from etam_plugin.cli import main

    out = tmp_path / "matte.json"
    assert main(["bench", "matte", "--size", "96x64", "--repeat", "1", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["size"] == [96, 64]
    names = {row["op"] for row in data["ops"]}
    assert {"grow_shrink(+3)", "feather(4, outward)", "refine_edges(r=8)"} <= names
    assert all(row["ms"] > 0 for row in data["ops"])
