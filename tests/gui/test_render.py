"""Viewer compositing, matte finishing preview, error reports, gap statistics (no Qt)."""

from __future__ import annotations

import numpy as np
import pytest

from etam_plugin.errors import (
    CheckpointError,
    ExportError,
    MediaError,
    ModelError,
    WeightsUnavailableError,
)
from etam_plugin.gui.components.errors import describe_error
from etam_plugin.gui.components.finishing import is_identity, preview_alpha
from etam_plugin.gui.components.gaps import GapRecorder
from etam_plugin.gui.components.render import (
    CHECKER_DARK,
    CHECKER_LIGHT,
    Layer,
    ViewMode,
    compose,
    edge,
)
from etam_plugin.matte import MatteOps, smooth_sequence

H, W = 40, 60


def _frame() -> np.ndarray:
    frame = np.zeros((H, W, 3), np.uint8)
    frame[..., 0] = 100
    frame[..., 1] = 50
    frame[..., 2] = 10
    return frame


def _square(y0=10, y1=30, x0=20, x1=40) -> np.ndarray:
    m = np.zeros((H, W), bool)
    m[y0:y1, x0:x1] = True
    return m


def test_overlay_tints_inside_with_opacity_and_draws_a_crisp_edge() -> None:
    out = compose(_frame(), [Layer(_square(), (200, 0, 0))], ViewMode.OVERLAY, opacity=0.5)
    assert tuple(out[20, 30]) == (150, 25, 5)  # halfway to the colour
    assert tuple(out[0, 0]) == (100, 50, 10)  # outside untouched
    assert tuple(out[10, 30]) == (200, 0, 0)  # the edge band is full colour
    none = compose(_frame(), [Layer(_square(), (200, 0, 0))], "overlay", opacity=0.0)
    assert tuple(none[20, 30]) == (100, 50, 10)  # opacity 0: only the edge shows


def test_matte_is_white_on_black_union_of_objects() -> None:
    a, b = _square(0, 10, 0, 10), _square(30, 40, 50, 60)
    out = compose(_frame(), [Layer(a, (1, 2, 3)), Layer(b, (4, 5, 6))], ViewMode.MATTE)
    assert out.dtype == np.uint8 and out.shape == (H, W, 3)
    assert (out[a | b] == 255).all() and (out[~(a | b)] == 0).all()


def test_cutout_shows_frame_inside_and_checkerboard_outside() -> None:
    out = compose(_frame(), [Layer(_square(), (9, 9, 9))], ViewMode.CUTOUT)
    assert tuple(out[20, 30]) == (100, 50, 10)
    outside = out[~_square()]
    assert set(np.unique(outside)) == {CHECKER_DARK, CHECKER_LIGHT}


def test_outline_keeps_the_picture_and_marks_only_the_edge() -> None:
    m = _square()
    out = compose(_frame(), [Layer(m, (0, 255, 0))], ViewMode.OUTLINE)
    green = (out == (0, 255, 0)).all(axis=2)
    assert green.sum() > 0 and (green <= edge(m, 3)).all()
    assert tuple(out[20, 30]) == (100, 50, 10)


def test_soft_alpha_blends_proportionally() -> None:
    alpha = np.zeros((H, W), np.float32)
    alpha[:, :30] = 0.25
    out = compose(_frame(), [Layer(alpha, (200, 50, 10))], ViewMode.MATTE)
    assert out[0, 0, 0] == 64


def test_compose_rejects_mismatched_sizes() -> None:
    with pytest.raises(ValueError, match="does not match"):
        compose(_frame(), [Layer(np.zeros((3, 3), bool), (1, 1, 1))])


def test_finishing_preview_uses_the_export_ops_and_neighbours() -> None:
    masks = {4: _square(), 5: _square(10, 30, 22, 42), 6: _square(10, 30, 24, 44)}
    ops = MatteOps(grow=2, feather=2, invert=True)
    alpha = preview_alpha(ops, 5, masks.get)
    np.testing.assert_array_equal(alpha, ops.apply(masks[5]))  # exactly the export's op
    assert preview_alpha(ops, 9, masks.get) is None
    smooth = MatteOps(smooth=1)
    window = preview_alpha(smooth, 5, masks.get)
    expected = list(smooth_sequence([masks[4], masks[5], masks[6]], 1))[1]
    np.testing.assert_array_equal(window, expected)
    assert window[20, 21] == pytest.approx(1 / 3)  # covered in frame 4 only
    edge_frame = preview_alpha(smooth, 4, masks.get)  # frame 3 unknown: the window is cut
    first = next(smooth_sequence([masks[4], masks[5]], 1))
    np.testing.assert_array_equal(edge_frame, first)
    assert is_identity(MatteOps()) and not is_identity(ops)


def test_error_reports_use_structured_fields() -> None:
    r = describe_error(MediaError("frame 12 is corrupt", path="/v/a.mp4", frame_index=12))
    assert r.title == "Cannot read the media" and "frame index: 12" in r.details
    r = describe_error(
        CheckpointError("wrong keys", path="x.pt", reason="keys", missing_keys=["a", "b"])
    )
    assert "missing keys: a, b" in r.details
    r = describe_error(
        WeightsUnavailableError("offline", variant="ti", url="https://u", target=None),
        action="Loading the model",
    )
    assert r.text.startswith("Loading the model failed.") and "https://u" in r.details
    assert describe_error(ExportError("disk full", path="/o")).title == "Export failed"
    assert describe_error(ModelError("no session")).title == "Tracking model problem"
    assert describe_error(MemoryError()).title == "Out of memory"
    assert describe_error(RuntimeError("CUDA out of memory. Tried")).title == "Out of memory"
    r = describe_error(PermissionError(13, "Permission denied", "/ro/x"))
    assert r.title == "File problem" and "/ro/x" in r.text
    r = describe_error(ZeroDivisionError("division by zero"), traceback_text="Traceback ...")
    assert r.title == "Unexpected error" and "keeps running" in r.text
    assert r.details == "Traceback ..."


def test_gap_recorder_reports_the_longest_freeze() -> None:
    rec = GapRecorder(5.0)
    t = 0.0
    for gap_ms in [5, 5, 5, 120, 5, 60, 5]:
        rec.tick(t)
        t += gap_ms / 1000
    rec.tick(t)
    report = rec.report()
    assert report.ticks == 8
    assert report.max_gap_ms == pytest.approx(120)
    assert report.over_50ms == 2
    assert report.p50_gap_ms == pytest.approx(5)
    assert report.max_gap_at_s == pytest.approx(0.135)
