"""A scripted editing session on the real panel, for as long as asked (issue 14's proof).

    python tests/gui/scripted_session.py                       # 10 minutes, prints JSON
    python tests/gui/scripted_session.py --duration 60 --json out.json

The real main window (offscreen unless $QT_QPA_PLATFORM says otherwise) on real footage
(a short, scaled part of ../shared/media/dog.mp4 written as an H.264 file, read by the real
media layer) and the real network (ti_512x512 with seeded random weights shaped so objects
are present). It goes round a cycle of what a roto artist does — click an object on some
frame, click again (cached features), track to a moved Out, correct a frame, undo and redo,
export (matte, then with a timeline), provoke an error (a broken timeline) — and checks on
every round:

- no lost error: every provoked error reaches the screen as a new report;
- no silent gap: after tracking, the range is tracked, or the status bar says what is not;
- undo returns identical masks: the frames a correction changed show, after undo, exactly
  what they showed before it; redo shows the correction's again;
- recovery after SIGKILL (once, at the end): a panel process killed with SIGKILL after its
  autosave is offered back from the recovery area.

It prints JSON: first-click latency and click-on-cached-features latency (ms), the time the
busy state took to appear after each click (ms), RSS at start, end, peak and every ~10 s,
counts, and the failures (an empty list when every check held). Exit status 1 on failures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from conftest import SHAPED_WEIGHTS  # noqa: E402
from gui_frames import decode_clip, write_clip  # noqa: E402
from measure_responsiveness import MEDIA, wait_until  # noqa: E402

FRAMES = 24
WIDTH = 320


def shaped_weights(folder: Path) -> Path:
    """The seeded random ti_512x512 checkpoint (made in a subprocess, as the tests do)."""
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-c", SHAPED_WEIGHTS, str(folder)], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"could not make the weights:\n{done.stderr[-2000:]}")
    return folder


class Session:
    """The window, and what the script measures and checks as it drives it."""

    def __init__(self, app, window, clip: Path, tmp: Path, seed: int) -> None:
        self.app, self.w, self.c = app, window, window.controller
        self.clip, self.tmp = clip, tmp
        self.rng = random.Random(seed)
        self.failures: list[str] = []
        self.counts: dict[str, int] = {}
        self.click_ms: list[float] = []
        self.cached_click_ms: list[float] = []
        self.busy_ms: list[float] = []
        self._busy_at: float | None = None
        self.c.busyChanged.connect(self._on_busy)

    def _on_busy(self, text: str) -> None:
        if text and self._busy_at is None:
            self._busy_at = time.perf_counter()

    def wait(self, cond, timeout_s: float = 600.0) -> None:
        wait_until(self.app, cond, timeout_s)

    def count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def fail(self, what: str) -> None:
        self.failures.append(what)
        print("FAILED:", what, file=sys.stderr, flush=True)

    # -- actions, as a person does them ------------------------------------------------
    def seek(self, frame: int) -> None:
        self.c.seek(frame)
        self.wait(lambda: self.c.displayed_frame == frame)

    def click(self, x: int, y: int, button=None) -> float:
        """A real mouse click on the viewer; the ms until its mask is shown. Also records
        how long the busy state took to appear."""
        from PySide6.QtCore import QPoint, Qt
        from PySide6.QtTest import QTest

        c, frame = self.c, self.c.displayed_frame
        obj = c.objects.active_id
        centre = self.w.viewer.viewport_point(x, y)
        self._busy_at = None
        t0 = time.perf_counter()
        QTest.mouseClick(
            self.w.viewer.viewport(),
            button or Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
            QPoint(round(centre.x()), round(centre.y())),
        )
        self.wait(lambda: not c.busy and c.masks.has(frame, obj))
        ms = (time.perf_counter() - t0) * 1000
        if self._busy_at is None:
            self.fail(f"no busy state for a click on frame {frame}")
        else:
            self.busy_ms.append((self._busy_at - t0) * 1000)
        self.count("clicks")
        return ms

    def shown_masks(self, frames: list[int]) -> dict[int, bytes]:
        """What the viewer shows of the active object on each frame (stepping there)."""
        out = {}
        obj = self.c.objects.active_id
        for f in frames:
            self.seek(f)
            try:
                self.wait(lambda f=f: self.c.masks.has(f, obj), timeout_s=120)
            except TimeoutError:
                self.fail(
                    f"frame {f} shows no mask of object {obj} "
                    f"(status {self.c.coverage.status(obj, f).value})"
                )
                out[f] = b""
                continue
            out[f] = self.c.masks.get(f, obj).tobytes()
        return out

    def track_to(self, out: int) -> None:
        """Move Out, Track Forward; then no silent gap: every frame from the object's
        first prompt to Out is tracked, or the status bar says which are not."""
        from etam_plugin.gui.components.fill import DONE

        c = self.c
        self.seek(out)
        c.transport.set_out(out)
        with_prompts = [o for o in c.objects.ids if c.prompts.frames(o)]
        before = c.tracking
        self.w.track("forward")
        if c.tracking is before:  # nothing to do (all tracked): it must say so
            if "already tracked" not in self.w.statusBar().currentMessage():
                self.fail(f"Track Forward to {out} did nothing, silently")
            return
        self.wait(lambda: c.tracking is None)
        self.count("tracks")

        def left(o: int) -> list[int]:
            first = min(c.prompts.frames(o))
            return [f for f in range(first, out + 1) if c.coverage.status(o, f) not in DONE]

        if not any(left(o) for o in with_prompts):
            return
        if "Not tracked" not in self.w.statusBar().currentMessage():
            self.fail(f"frames {[left(o) for o in with_prompts]} left untracked, silently")
        # Told what is left, the user fills every gap of the range: Track Both Ways.
        self.w.track("both")
        self.wait(lambda: c.tracking is None)
        self.count("gap_fills")
        for o in with_prompts:
            if left(o) and "could not be tracked" not in self.w.statusBar().currentMessage():
                self.fail(f"object {o}: frames {left(o)} left after Both Ways, silently")

    def correct_undo_redo(self, frame: int) -> None:
        """A correction on ``frame``, re-tracked; undo shows exactly the masks from before
        it on the frames it changed, redo the correction's."""
        c = self.c
        later = [f for f in range(frame, min(frame + 4, c.transport.out_point + 1))]
        before = self.shown_masks(later)
        self.seek(frame)
        h, w = c.info.frame_size
        self.click(self.rng.randrange(w // 4, 3 * w // 4), self.rng.randrange(h // 4, 3 * h // 4))
        self.track_to(max(later))
        after = self.shown_masks(later)
        self.w.actions["undo"].trigger()
        self.wait(lambda: not c.busy)
        undone = self.shown_masks(later)
        if undone != before:
            diff = [f for f in later if undone[f] != before[f]]
            self.fail(f"undo of a correction on {frame}: frames {diff} differ from before")
        self.w.actions["redo"].trigger()
        self.wait(lambda: not c.busy)
        redone = self.shown_masks(later)
        if redone != after:
            diff = [f for f in later if redone[f] != after[f]]
            self.fail(f"redo of a correction on {frame}: frames {diff} differ from after")
        self.count("undo_redo_checks")

    def export(self, timeline: str) -> None:
        from etam_plugin.gui.components.export_job import ExportSettings

        c = self.c
        out = self.tmp / "out" / "shot_matte.mov"
        settings = ExportSettings(fmt="prores4444", out=out, timeline=timeline)
        (self.tmp / "out").mkdir(exist_ok=True)
        job = c.plan_export(settings)
        finished = []
        c.exportFinished.connect(finished.append)
        try:
            if not c.export(job):
                self.fail("an export was refused")
                return
            self.wait(lambda: bool(finished))
        finally:
            c.exportFinished.disconnect(finished.append)
        msg = finished[0]
        if msg.failed or msg.cancelled or not all(Path(p).is_file() for p in msg.paths):
            self.fail(f"export {timeline or 'matte'} did not write its files: {msg}")
        self.count("exports")
        if job.reuse:
            self.count("exports_reusing_the_matte")

    def provoke_error(self) -> None:
        """A broken timeline: the error must reach the screen, however many came before."""
        w = self.w
        bad = self.tmp / f"broken-{self.counts.get('errors', 0)}.otio"
        bad.write_text("{ not a timeline")
        seen = w.last_report
        w.open_path(bad)
        try:
            self.wait(lambda: w.last_report is not seen, timeout_s=60)
        except TimeoutError:
            self.fail(f"error {self.counts.get('errors', 0) + 1} (a broken timeline) was lost")
            return
        if "Reading the timeline" in w.statusBar().currentMessage():
            self.fail("the status bar still says 'Reading the timeline…' after the error")
        for box in list(w.error_boxes):
            box.close()
        self.count("errors")


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def run(args: argparse.Namespace, tmp: Path) -> dict:
    from etam_plugin.gui._qt.controller import SessionState
    from etam_plugin.gui._qt.settings import PanelSettings
    from etam_plugin.gui.app import application, create_window

    weights = args.weights or shaped_weights(tmp / "weights")
    os.environ["ETAM_WEIGHTS_DIR"] = str(weights)
    os.environ["XDG_CONFIG_HOME"] = str(tmp / "config")  # nothing of the user's touched
    os.environ["XDG_STATE_HOME"] = str(tmp / "state")
    clip = write_clip(tmp / "dog_part.mp4", decode_clip(MEDIA / "dog.mp4", FRAMES, WIDTH))
    app = application()
    rss = {"start": rss_mb()}
    samples = [(0.0, rss["start"])]
    window = create_window(PanelSettings.at(tmp / "panel.ini"))
    window.ask_unsaved = lambda what: "discard"
    window.resize(1280, 800)
    window.show()
    s = Session(app, window, clip, tmp, args.seed)
    c = s.c
    t_start = time.monotonic()
    window.open_path(clip)
    s.wait(lambda: c.session_state is SessionState.READY and c.displayed_frame == 0)
    h, w = c.info.frame_size
    first_ms = s.click(w // 2, h // 2)  # the first click: the image encoder runs
    cached_ms = s.click(w // 2 + 10, h // 2 + 5)  # the same frame: features cached
    rounds = 0
    next_sample = 10.0
    while True:
        elapsed = time.monotonic() - t_start
        if elapsed >= args.duration or (args.rounds and rounds >= args.rounds):
            break
        if elapsed >= next_sample:
            samples.append((round(elapsed, 1), rss_mb()))
            next_sample += 10.0
        rounds += 1
        n = c.info.num_frames
        frame = s.rng.randrange(0, n - 4)
        s.seek(frame)
        s.click_ms.append(s.click(s.rng.randrange(w // 4, 3 * w // 4), h // 2))
        s.cached_click_ms.append(s.click(s.rng.randrange(w // 4, 3 * w // 4), h // 3))
        s.track_to(min(frame + s.rng.randrange(3, 8), n - 1))
        s.correct_undo_redo(min(frame + 1, c.transport.out_point))
        s.export("")
        s.export(".otio")
        s.export(".xml")  # the same matte: only the timeline is written
        s.provoke_error()
        samples.append((round(time.monotonic() - t_start, 1), rss_mb()))
    rss["end"] = rss_mb()
    c.changes.reset()
    window.close()
    app.processEvents()
    recovery = check_recovery(weights, tmp) if not args.no_kill else None
    if recovery is not None and not recovery["offered"]:
        s.fail(f"recovery after SIGKILL: {recovery}")
    peak = max(v for _t, v in [*samples, (0, rss["end"])])
    return {
        "duration_s": round(time.monotonic() - t_start, 1),
        "rounds": rounds,
        "clip": f"dog.mp4, first {FRAMES} frames at {WIDTH} px",
        "model": "ti_512x512, seeded random weights (shaped), cpu",
        "first_click_ms": round(first_ms, 1),
        "cached_click_ms": round(cached_ms, 1),
        "click_ms_median": _median(s.click_ms),
        "cached_click_ms_median": _median(s.cached_click_ms),
        "busy_appears_ms_max": round(max(s.busy_ms), 2) if s.busy_ms else None,
        "busy_appears_ms_median": _median(s.busy_ms, 2),
        "rss_mb": {
            "start": round(rss["start"], 1),
            "end": round(rss["end"], 1),
            "peak": round(peak, 1),
        },
        "rss_mb_over_time": [[t, round(v, 1)] for t, v in samples],
        "counts": s.counts,
        "recovery_after_sigkill": recovery,
        "failures": s.failures,
    }


def _median(values: list[float], digits: int = 1) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[len(ordered) // 2], digits)


def check_recovery(weights: Path, tmp: Path) -> dict:
    """A panel process (on an 8-frame part of the clip) clicks and tracks, autosaves, and
    is killed with SIGKILL; the recovery area then offers its work back."""
    from etam_plugin.gui.components.recovery import RecoveryArea

    state = tmp / "killed-state"
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "ETAM_WEIGHTS_DIR": str(weights),
        "XDG_CONFIG_HOME": str(tmp / "killed-config"),
        "XDG_STATE_HOME": str(state),
    }
    short = write_clip(tmp / "dog_short.mp4", decode_clip(MEDIA / "dog.mp4", 8, WIDTH))
    args = [sys.executable, "-m", "etam_plugin", "panel", str(short)]
    args += ["--point", "0:1:160,90", "--track", "forward"]
    root = state / "etam-plugin" / "recovery"
    log = tmp / "killed-panel.log"
    with log.open("w") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
    tracked = 0
    try:
        end = time.monotonic() + 600
        while time.monotonic() < end and proc.poll() is None:
            for autosave in root.glob("run-*/autosave.etam"):
                try:
                    tracked = json.loads(autosave.read_text())["autosave"]["summary"]["tracked"]
                except (OSError, ValueError, KeyError):
                    continue
            if tracked >= 3:
                break
            time.sleep(0.2)
        if proc.poll() is not None:
            return {"offered": False, "why": f"the panel exited: {log.read_text()[-500:]}"}
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    candidates = RecoveryArea(root).candidates()
    offered = [c for c in candidates if Path(c.source) == short]
    return {
        "offered": bool(offered) and offered[0].summary.get("tracked", 0) >= 3,
        "killed_with": "SIGKILL",
        "returncode": proc.returncode,
        "tracked_when_killed": tracked,
        "offered_tracked": offered[0].summary.get("tracked") if offered else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds (default 600)")
    parser.add_argument(
        "--rounds", type=int, default=0, help="stop after this many rounds (0: the duration only)"
    )
    parser.add_argument("--weights", type=Path, help="a folder with efficienttam_ti_512x512.pt")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-kill", action="store_true", help="skip the SIGKILL check")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="etam-session-") as tmp:
        result = run(args, Path(tmp))
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text)
    return 1 if result["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
