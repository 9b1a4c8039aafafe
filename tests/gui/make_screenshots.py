"""Make the README's screenshots of the panel: a real window on Qt's xcb platform under Xvfb.

    python tests/gui/make_screenshots.py                 # starts its own Xvfb if needed
    python tests/gui/make_screenshots.py --out /tmp/shots --clip juggle.mp4

States: the empty panel, a clip with an object selected (overlay), tracking in progress,
the matte view, the cutout view, the export dialog, the timeline zoomed to In–Out, and a
jump to a problem frame (the stand-in scores a mask cut by the frame's edge low). Masks
come from the GrabCut stand-in (tests/gui/screenshot_session.py; see why there);
everything else is the real panel.
PNGs are palette-quantised to stay small (< 300 KB).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
MEDIA = Path(os.environ.get("ETAM_TEST_MEDIA", HERE.parents[2] / "shared" / "media"))
REPO = HERE.parents[1]
MAX_BYTES = 300_000


@contextlib.contextmanager
def display(width: int, height: int) -> Iterator[str]:
    """An X display: $DISPLAY if set, else a private Xvfb for the duration."""
    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        raise SystemExit("Xvfb is not installed (apt-get install xvfb)")
    for number in range(90, 120):
        if not Path(f"/tmp/.X11-unix/X{number}").exists():
            break
    name = f":{number}"
    proc = subprocess.Popen(
        [xvfb, name, "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            if Path(f"/tmp/.X11-unix/X{number}").exists():
                break
            time.sleep(0.05)
        os.environ["DISPLAY"] = name
        yield name
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def wait_until(cond: Callable[[], bool], timeout_s: float = 120.0) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    end = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > end:
            raise TimeoutError("the panel did not get there in time")
        loop = QEventLoop()
        QTimer.singleShot(20, loop.quit)
        loop.exec()


def settle(ms: int = 300) -> None:
    """Let pending repaints and queued results land before a picture is taken."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def save_small(image, path: Path) -> int:
    """Save a QImage as a palette PNG (adaptive 256 colours) and return its size."""
    import numpy as np
    from PIL import Image

    from etam_plugin.gui._qt.images import qimage_to_rgb

    rgb = Image.fromarray(np.ascontiguousarray(qimage_to_rgb(image)))
    for colours in (256, 192, 128, 96):
        small = rgb.quantize(
            colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG
        )
        small.save(path, optimize=True)
        if path.stat().st_size <= MAX_BYTES:
            break
    return path.stat().st_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--clip", default="dog.mp4")
    parser.add_argument("--size", default="1440x900")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    args.out.mkdir(parents=True, exist_ok=True)

    with display(width + 200, height + 200), tempfile.TemporaryDirectory() as tmp:
        os.environ["QT_QPA_PLATFORM"] = "xcb"
        return shoot(args, width, height, Path(tmp))


def shoot(args: argparse.Namespace, width: int, height: int, tmp: Path) -> int:
    from screenshot_session import GrabCutFactory

    from etam_plugin.gui._qt.controller import SessionState
    from etam_plugin.gui._qt.settings import PanelSettings
    from etam_plugin.gui._qt.theme import apply_theme
    from etam_plugin.gui.app import application, create_window
    from etam_plugin.gui.components.render import ViewMode
    from etam_plugin.matte import MatteOps

    app = application()
    apply_theme(app, "dark")
    settings = PanelSettings.at(tmp / "panel.ini")
    factory = GrabCutFactory(delay_s=0.15)
    window = create_window(settings, factory)
    window.ask_unsaved = lambda what: "discard"
    window.resize(width, height)
    window.move(0, 0)
    window.show()
    c = window.controller
    sizes: dict[str, int] = {}

    def shot(name: str, screen: bool = False) -> None:
        settle()
        strip = window.strip
        wait_until(lambda: all(f in strip._pixmaps for f in strip.thumbnail_frames()))
        if screen:
            image = app.primaryScreen().grabWindow(0, 0, 0, width, height).toImage()
        else:
            image = window.grab().toImage()
        sizes[name] = save_small(image, args.out / f"{name}.png")

    wait_until(window.isVisible)
    shot("empty")

    window.open_path(MEDIA / args.clip)
    wait_until(lambda: c.session_state is SessionState.READY and c.displayed_frame == 0)
    c.transport.set_out(59)
    c.rename_object(1, "Dog")
    c.set_box(440, 370, 705, 552)  # the dog (dog.mp4, 1280×720)
    for xy in ((620, 430), (475, 410), (565, 470), (660, 515), (530, 505)):
        c.add_point(*xy)
    wait_until(lambda: c.masks.has(0, 1))
    person = c.add_object("Person")
    c.set_box(222, 212, 455, 558)
    for xy in ((320, 300), (310, 420), (425, 255), (370, 480), (280, 540)):
        c.add_point(*xy)
    wait_until(lambda: c.masks.has(0, person.obj_id))
    settle(1500)
    c.set_active_object(1)
    shot("overlay")

    c.track("forward")
    wait_until(lambda: c.tracking is not None and window.progress.bar.value() >= 7)
    shot("tracking")
    wait_until(lambda: c.tracking is None, timeout_s=600)

    # A correction on frame 45, as a roto artist would make it: the frames after it turn
    # stale (hatched in the coverage bars) until re-tracked.
    c.seek(45)
    wait_until(lambda: c.displayed_frame == 45)
    c.set_active_object(1)
    c.add_point(790, 400)
    wait_until(lambda: c.coverage.status(1, 45).value == "prompted")
    c.seek(5)
    wait_until(lambda: c.displayed_frame == 5 and c.masks.has(5, 1))
    window.set_view_mode(ViewMode.MATTE)
    shot("matte")
    c.set_finishing(MatteOps(feather=3.0, feather_mode="outward", fill_holes=400))
    window.finishing_panel.show_ops(c.finishing)
    window.set_view_mode(ViewMode.CUTOUT)
    shot("cutout")

    # The timeline zoomed to In–Out (0–59 of 288 frames): each frame is a few pixels wide.
    window.set_view_mode(ViewMode.OVERLAY)
    c.seek(52)
    window.strip.zoom_to_range()
    wait_until(lambda: c.displayed_frame == 52 and c.masks.has(52, 1))
    shot("timeline-zoom")

    # Problem frames: the plants at the right edge, cut by the frame, score low; Alt+→
    # from frame 0 stops where that starts (frame 5) and says what it is.
    plants = c.add_object("Plants")
    c.seek(5)
    wait_until(lambda: c.displayed_frame == 5)
    c.set_box(1150, 100, 1279, 700)
    for xy in ((1272, 250), (1272, 420), (1272, 600), (1230, 330)):
        c.add_point(*xy)
    wait_until(lambda: c.masks.has(5, plants.obj_id) and not c.busy)
    c.transport.set_out(40)
    c.track("forward")
    wait_until(lambda: c.tracking is not None)
    wait_until(lambda: c.tracking is None, timeout_s=600)
    c.seek(0)
    wait_until(lambda: c.displayed_frame == 0)
    window.actions["next_gap"].trigger()
    wait_until(lambda: c.displayed_frame == c.transport.current)
    shot("problem-frames")

    dialog = window.show_export()
    dialog.timeline.setCurrentIndex(dialog.timeline.findData(".otio"))
    dialog.move(width // 2 - dialog.width() // 2, height // 2 - dialog.height() // 2)
    shot("export", screen=True)
    dialog.close()

    c.changes.reset()
    window.close()
    for name, size in sizes.items():
        print(f"{args.out / name}.png  {size / 1000:.0f} KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
