"""A deterministic stand-in for ``etam_plugin.model.VideoSession`` (same API, no network).

Masks are geometric so tests can predict them: a disc of radius ``R`` around each positive
point, minus a disc of radius ``R // 2`` around each negative point, plus the ellipse inscribed
in the box; propagation copies the previous frame's mask shifted ``SHIFT`` px along x (right
going forward, left going backward). A correction on a frame marks the tracked frames after
it STALE. Every call is logged with its thread so tests can check who calls the session.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from etam_plugin.errors import CancelledError, ModelError
from etam_plugin.model import (
    FrameResult,
    FrameStatus,
    ObjectResult,
    Progress,
    Prompt,
    clicks,
    drawing,
)

SHIFT = 2


def shift_x(mask: np.ndarray, dx: int) -> np.ndarray:
    out = np.zeros_like(mask)
    if dx > 0:
        out[:, dx:] = mask[:, :-dx]
    elif dx < 0:
        out[:, :dx] = mask[:, -dx:]
    else:
        out[:] = mask
    return out


def draw_prompt(prompt: Prompt, size: tuple[int, int]) -> np.ndarray:
    """The fake's mask for a prompt, at ``size`` (height, width)."""
    h, w = size
    if prompt.mask is not None:
        return prompt.mask.astype(bool).copy()
    radius = max(3, min(h, w) // 8)
    canvas = np.zeros((h, w), np.uint8)
    if prompt.box_xyxy is not None:
        x0, y0, x1, y1 = prompt.box_xyxy
        center = (round((x0 + x1) / 2), round((y0 + y1) / 2))
        axes = (max(1, round((x1 - x0) / 2)), max(1, round((y1 - y0) / 2)))
        cv2.ellipse(canvas, center, axes, 0, 0, 360, 1, thickness=-1)
    for (x, y), label in zip(prompt.points_xy, prompt.labels, strict=True):
        if label == 1:
            cv2.circle(canvas, (round(x), round(y)), radius, 1, thickness=-1)
    for (x, y), label in zip(prompt.points_xy, prompt.labels, strict=True):
        if label == 0:
            cv2.circle(canvas, (round(x), round(y)), radius // 2, 0, thickness=-1)
    return canvas.astype(bool)


def _result(obj_id: int, mask: np.ndarray) -> ObjectResult:
    """Present with score 1.0; but a mask cut by the frame's left or right edge scores 0.4
    (the fake's "unsure") and an empty one is absent (score 0, object score -10)."""
    present = bool(mask.any())
    cut = bool(mask[:, 0].any() or mask[:, -1].any())
    score = (0.4 if cut else 1.0) if present else 0.0
    return ObjectResult(obj_id, mask.copy(), score, 10.0 if present else -10.0)


class FakeSession:
    """Implements exactly the VideoSession API the panel codes against."""

    def __init__(
        self,
        model: object,
        frames,
        *,
        delay_s: float = 0.0,
        work: str = "sleep",
        prompt_delay_s: float = 0.0,
    ):
        self.model = model
        self.frames = frames
        self.num_frames = len(frames)
        first = np.asarray(frames[0])
        self.frame_size = (int(first.shape[0]), int(first.shape[1]))
        self.delay_s = delay_s
        self.work = work
        self.prompt_delay_s = prompt_delay_s
        self._names: dict[int, str] = {}
        self._prompts: dict[tuple[int, int], Prompt] = {}
        self._masks: dict[tuple[int, int], np.ndarray] = {}
        self._removed: dict[int, tuple] = {}  # remove_object(keep=True), for restore_object
        self._status: dict[int, list[FrameStatus]] = {}
        self.calls: list[tuple[str, int, tuple]] = []
        self._lock = threading.Lock()
        # Like the real session: a folder of its own, written in place by save(folder).
        self.folder = Path(tempfile.mkdtemp(prefix="etam-fake-session-"))
        self._own_folder = True
        self.closed = False

    # -- bookkeeping for tests ---------------------------------------------------------
    def _log(self, name: str, *args: object) -> None:
        with self._lock:
            self.calls.append((name, threading.get_ident(), args))

    def call_names(self) -> list[str]:
        return [c[0] for c in self.calls]

    def _spend(self) -> None:
        if self.delay_s <= 0:
            return
        if self.work == "sleep":
            time.sleep(self.delay_s)
        elif self.work == "numpy":  # releases the GIL in its kernels, like torch does
            end = time.perf_counter() + self.delay_s
            a = np.random.default_rng(0).random((256, 256), np.float32)
            while time.perf_counter() < end:
                a = np.tanh(a @ a.T / 256.0)
        else:  # pure Python: holds the GIL, the worst case for the GUI thread
            end = time.perf_counter() + self.delay_s
            x = 0
            while time.perf_counter() < end:
                x = (x * 31 + 7) % 1000003

    def _check(self, obj_id: int, frame: int | None = None) -> None:
        if obj_id not in self._names:
            raise ModelError(f"no object {obj_id} in this session")
        if frame is not None and not 0 <= frame < self.num_frames:
            raise ModelError(f"frame {frame} is outside 0..{self.num_frames - 1}")

    # -- how masks are made (a subclass may segment for real) ---------------------------
    def draw(self, frame_index: int, prompt: Prompt) -> np.ndarray:
        """The mask of a prompt on a frame."""
        return draw_prompt(prompt, self.frame_size)

    def follow(self, frame_index: int, previous: np.ndarray, step: int) -> np.ndarray:
        """The mask on ``frame_index`` given the one tracked just before it."""
        return shift_x(previous, SHIFT * step)

    # -- the API -------------------------------------------------------------------------
    @property
    def object_ids(self) -> list[int]:
        return list(self._names)

    def add_object(self, obj_id: int | None = None, name: str | None = None) -> int:
        self._log("add_object", obj_id, name)
        if obj_id is None:
            obj_id = max(self._names, default=0) + 1
        if obj_id in self._names:
            raise ModelError(f"object id {obj_id} is already used")
        self._removed.pop(obj_id, None)
        self._names[obj_id] = name or f"Object {obj_id}"
        self._status[obj_id] = [FrameStatus.EMPTY] * self.num_frames
        return obj_id

    def remove_object(self, obj_id: int, *, keep: bool = False) -> None:
        self._log("remove_object", obj_id)
        self._check(obj_id)
        kept = (self._names.pop(obj_id), self._status.pop(obj_id), {}, {})
        for key in [k for k in self._prompts if k[1] == obj_id]:
            kept[2][key] = self._prompts.pop(key)
        for key in [k for k in self._masks if k[1] == obj_id]:
            kept[3][key] = self._masks.pop(key)
        if keep:
            self._removed[obj_id] = kept

    def restore_object(self, obj_id: int) -> bool:
        """As VideoSession: an object removed with ``keep`` comes back as it was."""
        self._log("restore_object", obj_id)
        if obj_id in self._names or obj_id not in self._removed:
            return False
        name, status, prompts, masks = self._removed.pop(obj_id)
        self._names[obj_id], self._status[obj_id] = name, status
        self._prompts.update(prompts)
        self._masks.update(masks)
        return True

    def rename_object(self, obj_id: int, name: str) -> None:
        self._log("rename_object", obj_id, name)
        self._check(obj_id)
        self._names[obj_id] = name

    def object_name(self, obj_id: int) -> str:
        self._check(obj_id)
        return self._names[obj_id]

    def set_prompts(self, frame_index: int, obj_id: int, calls) -> FrameResult:
        """Stores the calls' drawing (the fake draws masks from drawings); logged as
        ``set_prompt`` with that drawing."""
        prompt = drawing(calls) or Prompt()
        self._log("set_prompt", frame_index, obj_id, prompt)
        self._check(obj_id, frame_index)
        if self.prompt_delay_s:
            time.sleep(self.prompt_delay_s)
        key = (frame_index, obj_id)
        status = self._status[obj_id]
        if prompt.is_empty:
            self._prompts.pop(key, None)
            self._masks.pop(key, None)
            status[frame_index] = FrameStatus.EMPTY
            mask = np.zeros(self.frame_size, bool)
        else:
            self._prompts[key] = prompt
            mask = self.draw(frame_index, prompt)
            self._masks[key] = mask
            status[frame_index] = FrameStatus.PROMPTED
        for i in range(frame_index + 1, self.num_frames):
            if status[i] is FrameStatus.TRACKED:
                status[i] = FrameStatus.STALE
        return FrameResult(frame_index, {obj_id: _result(obj_id, mask)})

    def prompts(self, frame_index: int, obj_id: int) -> tuple[Prompt, ...]:
        return clicks(self._prompts.get((frame_index, obj_id)))

    def prompt(self, frame_index: int, obj_id: int) -> Prompt | None:
        return self._prompts.get((frame_index, obj_id))

    def prompted_frames(self, obj_id: int) -> list[int]:
        return sorted(f for f, o in self._prompts if o == obj_id)

    def propagate(
        self,
        direction: str = "forward",
        start: int | None = None,
        end: int | None = None,
        *,
        obj_ids: list[int] | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[tuple[FrameResult, Progress]]:
        self._log("propagate", direction, start, end, obj_ids)
        if direction not in ("forward", "backward"):
            raise ModelError(f"direction {direction!r} must be forward or backward")
        ids = list(obj_ids) if obj_ids is not None else self.object_ids
        for o in ids:
            self._check(o)
        ids = [o for o in ids if any(k[1] == o for k in self._prompts)]  # as the real one
        if not ids:
            raise ModelError("nothing to track: prompt an object on some frame first")
        step = 1 if direction == "forward" else -1
        prompted = sorted({f for f, o in self._prompts if o in ids})
        if start is None:
            start = (
                (prompted[0] if prompted else 0)
                if step > 0
                else (prompted[-1] if prompted else self.num_frames - 1)
            )
        if end is None:
            end = self.num_frames - 1 if step > 0 else 0
        frames = range(start, end + step, step)
        t0 = time.perf_counter()
        for k, i in enumerate(frames):
            if cancel is not None and cancel.is_set():
                return
            self._spend()
            objects = {}
            for o in ids:
                key = (i, o)
                if key in self._prompts:
                    mask = self._masks[key]
                elif (
                    i == start and key in self._masks and self._status[o][i] is FrameStatus.TRACKED
                ):
                    mask = self._masks[key]
                    self._status[o][i] = FrameStatus.TRACKED
                else:
                    prev = self._masks.get((i - step, o))
                    mask = (
                        self.follow(i, prev, step)
                        if prev is not None
                        else np.zeros(self.frame_size, bool)
                    )
                    self._masks[key] = mask
                    self._status[o][i] = FrameStatus.TRACKED
                objects[o] = _result(o, mask)
            elapsed = time.perf_counter() - t0
            fps = (k + 1) / elapsed if elapsed > 0 else 0.0
            eta = (len(frames) - k - 1) / fps if fps else 0.0
            yield FrameResult(i, objects), Progress(k + 1, len(frames), i, fps, eta)

    def result(
        self, frame_index: int, obj_id: int, *, with_logits: bool = False
    ) -> ObjectResult | None:
        self._check(obj_id, frame_index)
        mask = self._masks.get((frame_index, obj_id))
        if mask is None:
            return None
        result = _result(obj_id, mask)
        if with_logits:  # +8 inside, -8 outside: a soft matte of it has a 1-px ramp
            logits = np.where(mask, 8.0, -8.0).astype(np.float32)
            result = ObjectResult(obj_id, result.mask, result.score, result.object_score, logits)
        return result

    def statuses(self, obj_id: int) -> list[FrameStatus]:
        self._check(obj_id)
        return list(self._status[obj_id])

    def save(self, folder: Path) -> None:
        self._log("save", folder)
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {
            "num_frames": self.num_frames,
            "objects": {str(o): n for o, n in self._names.items()},
            "statuses": {str(o): [s.value for s in st] for o, st in self._status.items()},
            "prompts": [
                {
                    "frame": f,
                    "obj": o,
                    "points": [list(p) for p in pr.points_xy],
                    "labels": list(pr.labels),
                    "box": list(pr.box_xyxy) if pr.box_xyxy else None,
                }
                for (f, o), pr in self._prompts.items()
            ],
        }
        (folder / "session.json").write_text(json.dumps(meta))
        arrays = {f"{f}_{o}": np.packbits(m) for (f, o), m in self._masks.items()}
        np.savez_compressed(folder / "masks.npz", **arrays)

    def close(self) -> None:
        self.closed = True
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    @classmethod
    def open(cls, folder: Path, model: object, frames, **kwargs) -> FakeSession:
        folder = Path(folder)
        try:
            meta = json.loads((folder / "session.json").read_text())
        except FileNotFoundError:
            raise ModelError(f"{folder} is not a session folder (no session.json)") from None
        session = cls(model, frames, **kwargs)
        session.close()
        session.closed = False
        session.folder, session._own_folder = folder, False
        if meta["num_frames"] != session.num_frames:
            raise ModelError(
                f"the session has {meta['num_frames']} frames, the clip {session.num_frames}"
            )
        for o, name in meta["objects"].items():
            session._names[int(o)] = name
        for o, st in meta["statuses"].items():
            session._status[int(o)] = [FrameStatus(s) for s in st]
        for p in meta["prompts"]:
            session._prompts[(p["frame"], p["obj"])] = Prompt(
                points_xy=tuple(tuple(x) for x in p["points"]),
                labels=tuple(p["labels"]),
                box_xyxy=tuple(p["box"]) if p["box"] else None,
            )
        h, w = session.frame_size
        with np.load(folder / "masks.npz") as data:
            for name in data.files:
                f, o = map(int, name.split("_"))
                session._masks[(f, o)] = np.unpackbits(data[name], count=h * w).reshape(h, w) > 0
        return session


class FakeSessionFactory:
    """The panel's SessionFactory for tests; keeps every session it made."""

    def __init__(
        self,
        *,
        delay_s: float = 0.0,
        work: str = "sleep",
        prompt_delay_s: float = 0.0,
        fail: Exception | None = None,
        session_class: type[FakeSession] = FakeSession,
    ):
        self.kwargs = {"delay_s": delay_s, "work": work, "prompt_delay_s": prompt_delay_s}
        self.session_class = session_class
        self.fail = fail
        self.sessions: list[FakeSession] = []
        self.threads: set[int] = set()
        from etam_plugin.gui.components.model_options import ModelOptions

        self.options = ModelOptions()  # what the Model menu set (configure)
        self.configured: list[ModelOptions] = []

    def create(self, frames) -> FakeSession:
        self.threads.add(threading.get_ident())
        if self.fail is not None:
            raise self.fail
        session = self.session_class(self.options, frames, **self.kwargs)
        self.sessions.append(session)
        return session

    def open(self, folder: Path, frames) -> FakeSession:
        self.threads.add(threading.get_ident())
        if self.fail is not None:
            raise self.fail
        session = self.session_class.open(folder, self.options, frames, **self.kwargs)
        self.sessions.append(session)
        return session

    def configure(self, options) -> None:
        self.options = options
        self.configured.append(options)

    def describe(self) -> str:
        return f"fake {self.options.variant} · cpu · fp32"


__all__ = ["SHIFT", "CancelledError", "FakeSession", "FakeSessionFactory", "draw_prompt"]
