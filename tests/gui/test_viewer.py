"""The viewer's tools: what you click is the source pixel you see, at any zoom."""

from __future__ import annotations

import numpy as np
import pytest
from gui_frames import coordinate_image
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QWheelEvent

from etam_plugin.gui._qt.images import qimage_to_rgb
from etam_plugin.gui._qt.viewer import Viewer

pytestmark = pytest.mark.gui
H, W = 64, 96


@pytest.fixture
def viewer(qtbot) -> Viewer:
    v = Viewer()
    qtbot.addWidget(v)
    v.resize(320, 240)
    v.show()
    qtbot.waitExposed(v)
    v.set_image(coordinate_image(H, W))
    return v


def _shown(viewer: Viewer) -> np.ndarray:
    return qimage_to_rgb(viewer.viewport().grab().toImage())


def _sample_positions(shown: np.ndarray, count: int = 12) -> list[tuple[int, int, int, int]]:
    """Viewport pixels that show a frame pixel: (vx, vy, x, y) decoded from the colours."""
    ys, xs = np.nonzero(shown[..., 2] == 77)
    rng = np.random.default_rng(7)
    picks = rng.choice(len(xs), size=min(count, len(xs)), replace=False)
    return [
        (int(xs[i]), int(ys[i]), int(shown[ys[i], xs[i], 0]), int(shown[ys[i], xs[i], 1]))
        for i in picks
    ]


@pytest.mark.parametrize("zoom", [0.5, 1.0, 2.0, 8.0])
def test_clicks_land_on_the_pixel_drawn_under_the_pointer(qtbot, viewer: Viewer, zoom) -> None:
    """What you see is what you click: for every sampled screen pixel, the colour drawn
    there names its source pixel, and a click there must prompt exactly that pixel. (At
    these zooms Qt draws each screen pixel from exactly one source pixel.)"""
    viewer.set_zoom(zoom)
    viewer.horizontalScrollBar().setValue(viewer.horizontalScrollBar().maximum() // 3)
    viewer._pixmap.setTransformationMode(Qt.TransformationMode.FastTransformation)
    shown = _shown(viewer)
    samples = _sample_positions(shown, 40)
    assert len(samples) == 40
    clicks = []
    viewer.pointClicked.connect(lambda x, y, pos: clicks.append((x, y, pos)))
    for vx, vy, _x, _y in samples:
        qtbot.mouseClick(viewer.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(vx, vy))
    assert clicks == [(float(x), float(y), True) for _vx, _vy, x, y in samples]


@pytest.mark.parametrize("zoom", ["fit", 1.0, 1.5, 3.7, 13.3])
def test_clicks_map_through_the_view_transform(qtbot, viewer: Viewer, zoom) -> None:
    """At any zoom (fractional ones too, where Qt rounds the drawn size by up to half a
    screen pixel) a click on the screen pixel holding a source pixel's centre prompts that
    source pixel."""
    if zoom == "fit":
        viewer.zoom_fit()
    else:
        viewer.set_zoom(zoom)
    clicks, expected = [], []
    viewer.pointClicked.connect(lambda x, y, pos: clicks.append((x, y)))
    rng = np.random.default_rng(3)
    seen = viewer.mapToScene(viewer.viewport().rect()).boundingRect()
    xs = (max(int(seen.left()), 0), min(int(seen.right()), W - 1))
    ys = (max(int(seen.top()), 0), min(int(seen.bottom()), H - 1))
    for _ in range(25):
        x, y = int(rng.integers(xs[0], xs[1] + 1)), int(rng.integers(ys[0], ys[1] + 1))
        centre = viewer.viewport_point(x, y)
        pos = QPoint(int(np.floor(centre.x())), int(np.floor(centre.y())))
        if not viewer.viewport().rect().contains(pos):
            continue
        expected.append((float(x), float(y)))
        qtbot.mouseClick(viewer.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert len(expected) >= 10
    assert clicks == expected


def test_right_click_and_alt_click_are_negative(qtbot, viewer: Viewer) -> None:
    viewer.set_zoom(2.0)
    clicks = []
    viewer.pointClicked.connect(lambda x, y, pos: clicks.append((x, y, pos)))
    target = viewer.viewport_point(40, 30).toPoint()
    qtbot.mouseClick(viewer.viewport(), Qt.MouseButton.RightButton, pos=target)
    qtbot.mouseClick(
        viewer.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.AltModifier, target
    )
    assert clicks == [(40.0, 30.0, False), (40.0, 30.0, False)]


def test_clicks_off_the_frame_do_nothing(qtbot, viewer: Viewer) -> None:
    viewer.set_zoom(0.5)  # the frame is small in the middle of the viewport
    clicks = []
    viewer.pointClicked.connect(lambda *a: clicks.append(a))
    qtbot.mouseClick(viewer.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(2, 2))
    assert clicks == []


def test_drag_draws_a_box_in_source_pixels(qtbot, viewer: Viewer) -> None:
    viewer.set_zoom(3.0)
    viewer.horizontalScrollBar().setValue(0)
    viewer.verticalScrollBar().setValue(0)
    boxes, clicks = [], []
    viewer.boxDrawn.connect(lambda *b: boxes.append(b))
    viewer.pointClicked.connect(lambda *a: clicks.append(a))
    a, b = viewer.viewport_point(30, 20).toPoint(), viewer.viewport_point(10, 5).toPoint()
    vp = viewer.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=a)
    qtbot.mouseMove(vp, QPoint((a.x() + b.x()) // 2, (a.y() + b.y()) // 2))
    qtbot.mouseMove(vp, b)
    assert viewer._rubber.isVisible()
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=b)
    assert boxes == [(10.0, 5.0, 30.0, 20.0)] and clicks == []
    assert not viewer._rubber.isVisible()


def test_wheel_zooms_around_the_pointer(qtbot, viewer: Viewer) -> None:
    viewer.set_zoom(4.0)  # larger than the viewport: there is room to keep the anchor
    anchor = viewer.viewport_point(50, 40)
    before = viewer.source_pixel(anchor)
    event = QWheelEvent(
        anchor,
        viewer.viewport().mapToGlobal(anchor),
        QPoint(0, 0),
        QPoint(0, 240),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    viewer.wheelEvent(event)
    assert viewer.zoom == pytest.approx(4.0 * 1.25**2)
    assert viewer.source_pixel(anchor) == before == (50, 40)


def test_fit_and_100_percent(qtbot, viewer: Viewer) -> None:
    viewer.zoom_100()
    assert viewer.zoom == 1.0
    shown = _shown(viewer)
    assert (shown[..., 2] == 77).sum() == H * W  # every source pixel once
    viewer.zoom_fit()
    assert viewer.zoom == pytest.approx(min(320 / W, 240 / H), rel=0.05)
    viewer.resize(640, 480)
    qtbot.waitUntil(lambda: viewer.zoom == pytest.approx(min(640 / W, 480 / H), rel=0.05))


def test_markers_sit_on_their_pixels(qtbot, viewer: Viewer) -> None:
    viewer.set_zoom(4.0)
    viewer.set_markers(
        [(12, 9, True, (255, 0, 0), True), (30, 20, False, (0, 255, 0), False)],
        [((5, 5, 40, 30), (0, 0, 255), True)],
    )
    points = [m for m in viewer.markers if hasattr(m, "positive")]
    assert [(m.pos().x(), m.pos().y(), m.positive) for m in points] == [
        (12.5, 9.5, True),
        (30.5, 20.5, False),
    ]
    assert viewer.source_pixel(viewer.mapFromScene(points[0].pos())) == (12, 9)
