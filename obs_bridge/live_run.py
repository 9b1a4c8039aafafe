"""Running a bridge the way ``etam-plugin live`` does: start, run, stop, report.

Headless (progress bar, or a status line every few seconds) or with the control window,
until ``frames`` are out or the user stops it (Ctrl-C, SIGTERM, closing the window); then
the stats file and the last output frame are written (atomically: temp file, then rename)
and the exit code says how it went.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from etam_plugin.atomic import write_bytes_atomic
from etam_plugin.errors import CancelledError, EtamError
from etam_plugin.obs_bridge.bridge import Bridge

log = logging.getLogger(__name__)

EXIT_OK, EXIT_DEGRADED, EXIT_INTERRUPTED = 0, 1, 130


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event, received: list[int]) -> Iterator[None]:
    """First Ctrl-C (or SIGTERM) asks for a clean stop; a second Ctrl-C interrupts hard.
    ``received`` collects the signals, so the exit code can tell a user's Ctrl-C (130)
    from a service manager's SIGTERM (0 after a clean stop: it asked for exactly that).

    Only the main thread may install handlers; elsewhere (a test calling this from a worker)
    the defaults stay.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_signal(signum: int, _frame: Any) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        received.append(signum)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def run_live(
    bridge: Bridge,
    *,
    frames: int | None = None,
    window: bool = False,
    stats_path: Path | None = None,
    snapshot_path: Path | None = None,
    stop: threading.Event | None = None,
    status_every_s: float = 10.0,
) -> int:
    """Start ``bridge`` and run it; returns the exit code (see ``etam-plugin live --help``).

    Errors before the first frame (camera missing, stream port taken, bad prompt) propagate
    as :class:`EtamError` with nothing left running.
    """
    for path in (stats_path, snapshot_path):
        if path is not None:
            check_writable(Path(path))
    stop = stop or threading.Event()
    cancelled = False
    received: list[int] = []
    if window:
        # Qt before any bridge thread: PySide6's first import walks sys.modules, and a
        # thread importing meanwhile (the OBS client) aborted the process ("libshiboken/
        # signature: could not initialize part 2: dictionary changed size during iteration")
        import etam_plugin.obs_bridge.control_window  # noqa: F401
    with _stop_on_signals(stop, received):
        bridge.start()
        try:
            source = bridge.capture.source.describe() if bridge.capture else "?"
            where = bridge.stream.url if bridge.stream else "no stream"
            print(
                f"live: {source} → {where}, {bridge.size[0]}x{bridge.size[1]}, effect "
                f"{bridge.effect.name}, {bridge.stats()['device']}"
                + ("" if frames else " (Ctrl-C stops)"),
                file=sys.stderr,
                flush=True,
            )
            start_count = bridge.composite_stats.count
            if window:
                from etam_plugin.obs_bridge.control_window import run_control_window

                def done() -> bool:  # frames out, or another bridge owns the OBS source
                    conflict = bridge.obs is not None and bridge.obs.status().state == "conflict"
                    out = bridge.composite_stats.count - start_count
                    return conflict or (frames is not None and out >= frames)

                run_control_window(bridge, until=stop, frames_done=done)
                bridge.check_obs()  # the window closed on a conflict: say so (exit 2)
                cancelled = stop.is_set()
            else:
                cancelled = _headless(bridge, frames, stop, status_every_s)
            stats = _final_stats(bridge, frames, cancelled)
            stats["run"]["stopped_by"] = signal.Signals(received[0]).name if received else None
            latest = bridge.latest()
        finally:
            bridge.stop()
    stats["rss_mb"]["end"] = _rss_mb()
    try:
        if stats_path is not None:
            write_bytes_atomic(stats_path, (json.dumps(stats, indent=2) + "\n").encode())
        if snapshot_path is not None and latest is not None:
            write_png_atomic(snapshot_path, latest.rgba)
    except OSError as exc:
        raise EtamError(f"cannot write {exc.filename or 'the results'}: {exc.strerror}") from None
    return _exit_code(stats, cancelled)


def check_writable(path: Path) -> None:
    """Refuse, before anything starts, a results file whose folder is missing or read-only
    (learning it after an hour of streaming loses the numbers)."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise EtamError(f"cannot write {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise EtamError(f"cannot write {path}: folder {folder} is not writable")


def _headless(bridge: Bridge, frames: int | None, stop: threading.Event, every_s: float) -> bool:
    """Runs until ``frames`` more are out or ``stop``; True when stopped by the user."""
    progress: Callable[[int], None] | None = None
    bar = None
    if frames is not None:
        from tqdm import tqdm

        bar = tqdm(total=frames, unit="frame", desc="live", file=sys.stderr)

        def progress(done: int) -> None:
            bar.update(min(done, frames) - bar.n)

    else:
        last = [time.monotonic()]

        def progress(done: int) -> None:
            if time.monotonic() - last[0] >= every_s:
                last[0] = time.monotonic()
                from etam_plugin.obs_bridge.bridge import status_line

                print(f"live: {done} frames · {status_line(bridge.stats())}", file=sys.stderr)

    try:
        bridge.run(frames, cancel=stop, progress=progress)
    except CancelledError:
        return True
    finally:
        if bar is not None:
            bar.close()
    return False


def _final_stats(bridge: Bridge, frames: int | None, cancelled: bool) -> dict:
    """The bridge's stats plus what the run adds: requested frames, selections, summary."""
    stats = bridge.stats()
    stages = stats["stages"]
    uptime = max(stats["uptime_s"], 1e-9)
    stream = stats.get("stream")
    # delivered: what the outputs took — frames the stream sent to its reader (OBS), or
    # with no stream every composited frame (handed to the virtual camera or a test sink)
    delivered = stream["sent"] if stream is not None else stages["composite"]["count"]
    stats["run"] = {
        "frames_requested": frames,
        "frames_out": delivered,
        "frames_composited": stages["composite"]["count"],
        "cancelled": cancelled,
        "selections": [_future_text(f) for f in bridge.initial_selections],
        "pid": os.getpid(),
    }
    stats["fps"] = {
        "output": stages["composite"]["fps"],
        "output_average": round(delivered / uptime, 2),
        "composited_average": round(stages["composite"]["count"] / uptime, 2),
        "capture": stages["capture"]["fps"],
        "tracker": stages["track"]["fps"],
        "tracker_average": round(stages["track"]["count"] / uptime, 3),
    }
    obs = stats.get("obs")
    if obs is not None:
        obs["ever_connected"] = obs["connections"] > 0
    return stats


def _future_text(future: Any) -> str:
    if not future.done():
        return "pending"
    exc = future.exception()
    return "ok" if exc is None else f"failed: {exc}"


def _exit_code(stats: dict, cancelled: bool) -> int:
    failed = [s for s in stats["run"]["selections"] if s.startswith("failed")]
    for text in failed:
        print(f"live: selection {text}", file=sys.stderr)
    track = stats["stages"]["track"]
    if track["errors"] and track["count"] == 0:
        print(f"live: every tracker step failed: {stats['tracker_error']}", file=sys.stderr)
        return EXIT_DEGRADED
    if cancelled:
        terminated = stats["run"].get("stopped_by") == "SIGTERM"
        print("live: stopped" + (" (SIGTERM)" if terminated else ""), file=sys.stderr)
        if not terminated:
            return EXIT_INTERRUPTED
    obs = stats.get("obs")
    if obs is not None and not obs["ever_connected"]:
        print(f"live: OBS was never reached: {obs['last_error']}", file=sys.stderr)
        return EXIT_DEGRADED
    return EXIT_DEGRADED if failed else EXIT_OK


def _rss_mb() -> float:
    import psutil

    return round(psutil.Process().memory_info().rss / 2**20, 1)


def write_png_atomic(path: Path, rgba: Any) -> None:
    """The output frame as an RGBA PNG (straight alpha, as OBS receives it)."""
    import cv2

    ok, png = cv2.imencode(".png", cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    if not ok:
        raise OSError(f"could not encode {path} as PNG")
    write_bytes_atomic(path, png.tobytes())
