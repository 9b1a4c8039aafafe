"""Measure how responsive the panel stays while tracking (prints a table, --json FILE).

    python tests/gui/measure_responsiveness.py --model ti_512x512 --frames 30 --scrub 100

Runs the whole main window offscreen on a real clip (decoded from ../shared/media, scaled),
clicks the object, tracks forward with a GUI-thread timer ticking every 5 ms, and reports the
tick gaps. ``--model``: ``ti_512x512`` (the real network, seeded random weights), ``tiny``
(the tiny test network), or ``fake-sleep`` / ``fake-numpy`` / ``fake-python`` (the test
double spending each frame sleeping, in GIL-releasing numpy, or in GIL-holding Python).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from conftest import ClipLibrary  # noqa: E402
from gui_fake_session import FakeSessionFactory  # noqa: E402
from gui_frames import decode_clip  # noqa: E402

from etam_plugin.gui._qt.controller import SessionState  # noqa: E402
from etam_plugin.gui._qt.responsiveness import TickGapMeter, measure_tracking  # noqa: E402
from etam_plugin.gui._qt.settings import PanelSettings  # noqa: E402
from etam_plugin.gui.app import application, create_window  # noqa: E402

MEDIA = Path(os.environ.get("ETAM_TEST_MEDIA", HERE.parents[2] / "shared" / "media"))


class RandomNetworkFactory:
    def __init__(self, variant: str) -> None:
        import torch

        from etam_plugin.model import build_model, get_config, tiny_test_config

        torch.manual_seed(0)
        config = tiny_test_config() if variant == "tiny" else get_config(variant)
        self.model = build_model(config).eval()
        self.variant = variant

    def create(self, frames):
        from etam_plugin.model import VideoSession

        return VideoSession(self.model, frames)

    def open(self, folder, frames):
        from etam_plugin.model import VideoSession

        return VideoSession.open(folder, self.model, frames)

    def describe(self) -> str:
        return f"{self.variant} (random weights) · cpu · float32"


def wait_until(app, cond, timeout_s: float = 600.0, quiet: bool = False) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    end = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > end:
            if quiet:
                return
            raise TimeoutError("the panel did not get there in time")
        loop = QEventLoop()
        QTimer.singleShot(20, loop.quit)
        loop.exec()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="ti_512x512")
    parser.add_argument("--clip", default="dog.mp4")
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--scrub", type=int, default=0, help="scrub every N ms while tracking")
    parser.add_argument("--delay", type=float, default=0.2, help="fake: seconds per frame")
    parser.add_argument(
        "--idle",
        type=float,
        default=0.0,
        help="first measure N seconds with nothing running (the machine's own noise)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch CPU threads for the network (0: the panel's default, all cores)",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    app = application()
    clips = ClipLibrary()
    array = decode_clip(MEDIA / args.clip, args.frames, args.width)
    path = clips.add(Path("/virtual") / args.clip, array)
    threads = None
    if args.model.startswith("fake-"):
        factory = FakeSessionFactory(delay_s=args.delay, work=args.model.split("-", 1)[1])
    else:
        from etam_plugin.devices import set_cpu_threads

        threads = set_cpu_threads(args.threads)
        factory = RandomNetworkFactory(args.model)
    settings = PanelSettings.at(Path(os.environ.get("TMPDIR", "/tmp")) / "etam-measure.ini")
    window = create_window(settings, factory, clips)
    window.resize(1400, 860)
    window.show()
    window.open_path(path)
    c = window.controller
    wait_until(app, lambda: c.session_state is SessionState.READY and c.displayed_frame == 0)
    h, w = array.shape[1:3]
    c.add_point(w // 2, h // 2)
    wait_until(app, lambda: c.masks.has(0, 1))
    baseline = None
    if args.idle > 0:
        meter = TickGapMeter(5)
        meter.start()
        wait_until(app, lambda: False, timeout_s=args.idle, quiet=True)
        baseline = meter.stop().as_dict()
    load_before = os.getloadavg()[0]
    report, finished = measure_tracking(c, "forward", scrub_every_ms=args.scrub)
    result = {
        "model": args.model,
        "threads": threads,
        "load_avg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "clip": args.clip,
        "frames": args.frames,
        "size": [h, w],
        "scrub_every_ms": args.scrub,
        "tracking_fps": finished.frames_done / finished.elapsed_s if finished else None,
        **report.as_dict(),
    }
    if baseline is not None:
        result["idle_max_gap_ms"] = baseline["max_gap_ms"]
        result["idle_p99_gap_ms"] = baseline["p99_gap_ms"]
        result["idle_over_50ms"] = baseline["over_50ms"]
    for key, value in result.items():
        print(f"{key:>16}: {value:.2f}" if isinstance(value, float) else f"{key:>16}: {value}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    c.changes.reset()
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
