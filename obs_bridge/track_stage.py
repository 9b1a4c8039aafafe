"""Stage 2: the tracker on the newest frame, plus selection commands, in one thread.

Only this thread touches the tracker, so selection, removal and clearing arrive as small
commands that it applies between frames (after a step, so ``select`` prompts the frame just
stepped, as the tracker protocol says). When the tracker is slower than the camera it simply
takes the newest frame each time; the frames in between are composited with the latest
mask by stage 3. Inference can be paused (the source is hidden in OBS) without stopping
the thread.

A click shows within one model step. A click's coordinates belong to the frame the user
was looking at (a ``select`` may carry that frame), and:

- while the model is idle (nothing selected, paused, or waiting for the camera's next
  frame) the tracker steps on the clicked frame itself and the prompt lands on the very
  pixels that were clicked;
- while a step runs on a frame captured at most ``CLICK_ON_STEP_S`` (0.25 s) before the
  clicked one, the click is answered on *that step's* frame as soon as its image
  features exist (a decoder pass, no second image encoder): a click during the image
  encoder is answered right after it, before the other objects are tracked on the frame;
  a click during their tracking right after that. The tracker continues from that frame
  (the object's conditioning frame). Waiting for the step and then encoding the clicked
  frame as well took up to 1.7-2.5 steps (``bench bridge click``);
- a click on a frame further from the step's (a slow step: 0-28 frames apart were
  measured under load) waits for the step and lands on its own frame, as a point on a
  moving object can miss it on an older frame.

A tracker that can split its step (``advance`` the frame, ``track`` the objects: the
model's ``LiveTracker``) answers between the halves; the objects already selected show
their latest masks meanwhile. Without a frame (``--point``/``--box``, library calls) the
prompt applies to the frame stepped next. While nothing is selected the model does no
work at all.

The tracker's own lost/found events (``last_events``, as the model's ``LiveTracker`` has
them) are logged and counted here; presence for hold/fade comes from the same signal, each
result's ``present`` flag (object score > 0), read by stage 3.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Literal

import numpy as np

from etam_plugin.model import FrameResult, ObjectResult, Prompt
from etam_plugin.obs_bridge.capture import Frame
from etam_plugin.obs_bridge.protocol import MaskTracker
from etam_plugin.obs_bridge.slots import LatestSlot, SlotClosed
from etam_plugin.obs_bridge.stats import StageStats
from etam_plugin.obs_bridge.tracker_factory import MODEL_NICENESS, ThreadTuner

log = logging.getLogger(__name__)

# A click that comes during a step is answered on the step's frame (its image features
# exist: one decoder pass) only when that frame was captured at most this long before the
# clicked one: about one `mobile` step on a 2-core CPU, in which a person moves little.
# Further apart (a slower step), a moving object may have left the clicked pixels there,
# so the click waits for the step and lands on its own frame.
CLICK_ON_STEP_S = 0.25


@dataclass(frozen=True)
class MaskSnapshot:
    """The tracker's latest answer: every object's result on the frame ``frame_seq``.

    ``generation`` changes whenever the set of selected objects changes (select, remove,
    clear), so the compositor knows to restart its temporal smoothing. ``frame_rgb`` is the
    frame the masks belong to (edge refinement uses it as its guide).
    """

    frame_seq: int
    t_capture: float
    t_done: float
    objects: dict[int, ObjectResult]
    generation: int
    frame_rgb: np.ndarray | None = None


@dataclass
class _Command:
    kind: Literal["select", "remove", "clear"]
    future: Future
    obj_id: int | None = None
    prompt: Prompt | None = None
    frame: Frame | None = None  # select: the frame the prompt's coordinates refer to


@dataclass(frozen=True)
class EventRecord:
    """A lost/found event of the tracker, with the camera frame it happened on."""

    obj_id: int
    kind: str  # "lost" | "found"
    frame_seq: int
    t: float  # time.monotonic()


def lower_thread_priority(steps: int) -> bool:
    """Lower the calling thread's CPU priority by ``steps`` (Linux, where priority is per
    thread and threads inherit it: torch's OpenMP workers, started from this thread on its
    first parallel region, run at the same lower priority). False where not possible."""
    if steps <= 0 or not sys.platform.startswith("linux"):
        return False
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + steps)
    except OSError as exc:
        log.info("track: could not lower the model's priority: %s", exc)
        return False
    return True


class TrackThread(threading.Thread):
    """Runs ``tracker.step`` on the newest frame from ``frames`` and publishes to ``masks``."""

    def __init__(
        self,
        tracker: MaskTracker,
        frames: LatestSlot[Frame],
        masks: LatestSlot[MaskSnapshot],
        *,
        stats: StageStats | None = None,
        paused: bool = False,
        nice: int = MODEL_NICENESS,
        tuner: ThreadTuner | None = None,
    ) -> None:
        super().__init__(name="etam-track", daemon=True)
        self.nice = nice
        self.tuner = tuner  # CPU models: the thread count follows the load
        self.tracker = tracker
        self.frames = frames
        self.masks = masks
        self.stats = stats or StageStats("track")
        self._commands: deque[_Command] = deque(maxlen=256)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop_event = threading.Event()
        self._resumed = threading.Event()
        if not paused:
            self._resumed.set()
        self._last: tuple[Frame, FrameResult] | None = None
        self._selected: set[int] = set()
        self._generation = 0
        self.last_error: str | None = None
        self.events: deque[EventRecord] = deque(maxlen=64)
        self.event_counts = {"lost": 0, "found": 0}
        self.state_bytes: int | None = None  # the tracker's state after its last step
        self.selected_on: deque[int] = deque(maxlen=64)  # frame seq of each applied select
        self._advance_ms = 0.0  # the image-encoder half of the step under way (_advance)

    # -- requests from other threads ------------------------------------------------------
    def submit(
        self,
        kind: Literal["select", "remove", "clear"],
        obj_id: int | None = None,
        prompt: Prompt | None = None,
        frame: Frame | None = None,
    ) -> Future:
        """Queue a command for the tracker; the future resolves once it has been applied.

        ``frame`` (select only): the frame the prompt was given on; the tracker steps on it
        before selecting unless it was the last frame stepped.
        """
        cmd = _Command(kind, Future(), obj_id, prompt, frame)
        with self._lock:
            self._commands.append(cmd)
        self._wake.set()
        return cmd.future

    def pause(self) -> None:
        self._resumed.clear()

    def resume(self) -> None:
        self._resumed.set()
        self._wake.set()

    @property
    def last_seq(self) -> int:
        """Sequence number of the frame the tracker stepped last (0 before the first)."""
        last = self._last
        return last[0].seq if last is not None else 0

    @property
    def paused(self) -> bool:
        return not self._resumed.is_set()

    def stop(self) -> None:
        self._stop_event.set()
        self._resumed.set()
        self._wake.set()

    # -- loop ----------------------------------------------------------------------------
    def run(self) -> None:
        lower_thread_priority(self.nice)
        last_seq = 0
        try:
            while not self._stop_event.is_set():
                pending = bool(self._commands)
                if not pending and (self.paused or not self._selected):
                    # paused, or nothing selected: no model work at all (a click wakes us)
                    self._wake.wait(0.2)
                    self._wake.clear()
                    continue
                if pending and self._commands_bring_their_frames():
                    self._apply_on_own_frames()  # a click: its own frame, no step before it
                    continue
                got = self.frames.get(after=last_seq, timeout=0.1)
                if got is None:
                    if pending:
                        self._apply_commands()
                    continue
                last_seq, frame = got
                if self._commands and self._commands_bring_their_frames():
                    self._apply_on_own_frames()  # a click while waiting for the frame
                    continue
                if self._step(frame):
                    self._apply_commands(during_step=True)  # what came during the step
        except SlotClosed:
            pass
        finally:
            self._fail_pending(RuntimeError("the bridge stopped before the command ran"))

    @property
    def selected(self) -> bool:
        """Whether any object is selected (with none the model does no work)."""
        return bool(self._selected)

    def _apply_on_own_frames(self) -> None:
        """Clicks that came while the model was idle, each on its own frame; then those
        that came meanwhile, on the frame just stepped (as during any step)."""
        self._apply_commands()
        if self._commands and self._last is not None:
            self._apply_commands(during_step=True)

    def _commands_bring_their_frames(self) -> bool:
        """True when every queued command can run without stepping the newest frame first:
        selects that carry the clicked frame, removals and clears. Stepping the newest
        frame before a click's own frame would delay its first mask by one model step."""
        with self._lock:
            commands = list(self._commands)
        return all(c.kind != "select" or c.frame is not None for c in commands)

    def _step(self, frame: Frame) -> bool:
        """One step on ``frame``; selects that arrive meanwhile are answered on it: between
        the halves (``advance``, then ``track``) when the tracker has them, else after it
        (the caller's :meth:`_apply_commands` with ``during_step``)."""
        if callable(getattr(self.tracker, "advance", None)):
            if not self._advance(frame):
                return False
            if self._commands:  # clicks during the image encoder: on this frame, now
                self._apply_commands(during_step=True, defer_far=True)
            return self._finish_step(frame)
        t0 = time.perf_counter()
        try:
            result = self.tracker.step(frame.rgb)
        except Exception as exc:  # a tracker bug must not take the stream down
            self.stats.error()
            self.last_error = f"tracker failed: {exc}"
            log.exception("track: tracker.step failed on frame %d", frame.seq)
            return False
        self._record_step((time.perf_counter() - t0) * 1000.0)
        self._last = (frame, result)
        self._after_step(frame)
        self._publish(frame, result.objects)
        return True

    def _record_step(self, ms: float) -> None:
        self.stats.record(ms)
        if self.tuner is not None:
            from etam_plugin.devices import set_cpu_threads

            set_cpu_threads(self.tuner.after_step(ms, time.monotonic()))

    def _after_step(self, frame: Frame) -> None:
        """Collect the tracker's lost/found events and its state size (when it has them)."""
        for event in getattr(self.tracker, "last_events", None) or ():
            record = EventRecord(event.obj_id, event.kind, frame.seq, time.monotonic())
            self.events.append(record)
            if record.kind in self.event_counts:
                self.event_counts[record.kind] += 1
            log.info("track: object %d %s on frame %d", record.obj_id, record.kind, frame.seq)
        state_bytes = getattr(self.tracker, "state_bytes", None)
        if callable(state_bytes):
            self.state_bytes = int(state_bytes())

    def _publish(self, frame: Frame, objects: dict[int, ObjectResult]) -> None:
        snap = MaskSnapshot(
            frame.seq, frame.t_capture, time.monotonic(), dict(objects), self._generation, frame.rgb
        )
        self.masks.put(snap)

    def _apply_commands(self, *, during_step: bool = False, defer_far: bool = False) -> None:
        """The queued commands, in order. ``during_step``: they came while a step ran on
        the last frame, whose features the tracker has: selects on a frame captured near
        it (``CLICK_ON_STEP_S``) are answered on it (a decoder pass) rather than on the
        frame they carry (an image encoder more). ``defer_far``: the step is half done, so
        from the first select on a frame further away on, commands wait for its end."""
        with self._lock:
            commands = list(self._commands)
            self._commands.clear()
        waiting: list[_Command] = []  # no frame stepped yet: keep them for the first one
        halves = callable(getattr(self.tracker, "advance", None))
        half_done: Frame | None = None  # a frame advanced to, its other objects not tracked
        step = self._last[0] if during_step and self._last is not None else None
        for cmd in commands:
            on_step = step is not None and (
                cmd.frame is None or abs(cmd.frame.t_capture - step.t_capture) <= CLICK_ON_STEP_S
            )
            if defer_far and step is not None and not on_step:  # after the step, in order
                with self._lock:
                    self._commands.extendleft(reversed(commands[commands.index(cmd) :]))
                break
            seen = None if on_step else cmd.frame
            new_frame = seen is not None and (self._last is None or self._last[0].seq != seen.seq)
            if new_frame and half_done is not None:
                self._finish_step(half_done)
                half_done = None
            if new_frame and halves and cmd.kind == "select":
                ok = self._advance(seen)
                half_done = seen if ok else None
            else:
                ok = not new_frame or self._step(seen)
            if not ok:
                cmd.future.set_exception(
                    RuntimeError(f"the tracker failed on the selected frame: {self.last_error}")
                )
                continue
            if self._last is None and cmd.kind == "select":
                waiting.append(cmd)
                continue
            self._apply(cmd)
        if half_done is not None:
            self._finish_step(half_done)
        if waiting:
            with self._lock:
                self._commands.extendleft(reversed(waiting))

    def _advance(self, frame: Frame) -> bool:
        """First half of a step: the frame's image features only, so that a click (on this
        frame, or during this step) has its mask out after the image encoder and its
        decoder pass, before the other objects are tracked on the frame
        (:meth:`_finish_step`). Until then they show their latest masks."""
        t0 = time.perf_counter()
        try:
            self.tracker.advance(frame.rgb)  # type: ignore[attr-defined]
        except Exception as exc:
            self.stats.error()
            self.last_error = f"tracker failed: {exc}"
            log.exception("track: tracker.advance failed on frame %d", frame.seq)
            return False
        self._advance_ms = (time.perf_counter() - t0) * 1000.0
        before = self._last[1].objects if self._last is not None else {}
        index = getattr(self.tracker, "frame_index", 0)
        self._last = (frame, FrameResult(index, dict(before)))
        return True

    def _finish_step(self, frame: Frame) -> bool:
        """Second half of a step: the objects not selected on ``frame`` tracked on it."""
        t0 = time.perf_counter()
        try:
            result = self.tracker.track()  # type: ignore[attr-defined]
        except Exception as exc:
            self.stats.error()
            self.last_error = f"tracker failed: {exc}"
            log.exception("track: tracker.track failed on frame %d", frame.seq)
            return False
        self._record_step(self._advance_ms + (time.perf_counter() - t0) * 1000.0)
        self._last = (frame, result)
        self._after_step(frame)
        self._publish(frame, result.objects)
        return True

    def _apply(self, cmd: _Command) -> None:
        """One command on the last stepped frame; publishes the changed selection, then
        resolves the command's future (so a window's "selecting…" lasts until the mask is
        there for the output's next frame)."""
        if self._last is None:  # a removal or clear before any frame: nothing to publish
            if cmd.kind == "remove":
                self.tracker.remove(cmd.obj_id)  # type: ignore[arg-type]
            else:
                self.tracker.clear()
            cmd.future.set_result(cmd.obj_id)
            return
        frame, result = self._last
        objects = dict(result.objects)
        try:
            if cmd.kind == "select":
                assert cmd.obj_id is not None and cmd.prompt is not None
                selected = self.tracker.select(cmd.obj_id, cmd.prompt)
                objects.update(selected.objects)
                self._selected.add(cmd.obj_id)
                self.selected_on.append(frame.seq)
            elif cmd.kind == "remove":
                assert cmd.obj_id is not None
                self.tracker.remove(cmd.obj_id)
                objects.pop(cmd.obj_id, None)
                self._selected.discard(cmd.obj_id)
            else:
                self.tracker.clear()
                objects.clear()
                self._selected.clear()
        except Exception as exc:
            log.warning("track: %s of object %s failed: %s", cmd.kind, cmd.obj_id, exc)
            self.last_error = f"{cmd.kind} failed: {exc}"
            cmd.future.set_exception(exc)
            return
        self._generation += 1
        self._last = (frame, FrameResult(result.frame_index, objects))
        self._publish(frame, objects)
        cmd.future.set_result(None if cmd.kind == "clear" else cmd.obj_id)

    def _fail_pending(self, exc: BaseException) -> None:
        with self._lock:
            commands = list(self._commands)
            self._commands.clear()
        for cmd in commands:
            if not cmd.future.done():
                cmd.future.set_exception(exc)
