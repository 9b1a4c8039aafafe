"""Interactive multi-object tracking over a whole clip (the panel's and the CLI's engine).

Frames are decoded on demand from a :class:`FrameSource`; only bounded caches of decoded
frames' features, prepared memories and records live in RAM (see ``record_store``), so a
10-minute clip costs disk, not memory. One session wraps one network; a network can serve
many sessions. Use a session from one thread at a time.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image

from etam_plugin.model.efficienttam import EfficientTAM
from etam_plugin.model.engine import (
    Engine,
    FrameRecord,
    MemoryPlan,
    PromptCache,
    plan_memory,
    prompt_steps,
    record_from_prediction,
)
from etam_plugin.model.errors import ModelError
from etam_plugin.model.memory_attention import MemoryInput, PreparedMemory
from etam_plugin.model.record_store import KeyedRecords, RecordMeta, RecordStore
from etam_plugin.model.types import (
    FrameResult,
    FrameSource,
    FrameStatus,
    ObjectResult,
    Progress,
    Prompt,
    clicks,
    drawing,
)

SESSION_FILE = "session.json"
SESSION_VERSION = 2  # 2: a frame's prompt calls (1: one click-built prompt)
SHELF_DEPTH = 8  # records kept per frame for undo (the newest)
CORRECTIONS_KEPT = 2048  # corrections kept per object for undo/redo (the newest, on disk)
NO_STATE = -1  # a prompt state id no prompts have: shelving for every state that showed it
DIRECTIONS = ("forward", "backward", "both")

UNDO_SHELF = "etam-undo"
"""The name of the temporary folders holding a session's undo records."""


@dataclass
class _PromptEntry:
    calls: tuple[Prompt, ...]  # the official calls made on the frame, in order
    base: FrameRecord | None = None  # the tracked record a correction started from
    base_mask: Path | None = None  # its mask as shown then (a PNG in the undo shelf)


@dataclass
class _Shelved:
    """A record that re-tracking (or an undo) replaced; its files are in the session's
    shelf. ``valid``/``seen``: the prompt states it was last shown in, tracked / stale."""

    tag: int
    valid: frozenset[int]
    seen: frozenset[int]
    meta: RecordMeta  # what RecordStore.shelve returned


@dataclass
class _Object:
    obj_id: int
    name: str
    store: RecordStore  # non-conditioning frames: tracked frames and corrections
    # Corrections as computed when made, by (frame, base, calls), and the bases prompted
    # on, by ("base", frame, state): undo and redo of a click show the record the user
    # saw, not one recomputed on a memory that changed since.
    corrections: KeyedRecords
    cond: dict[int, FrameRecord] = field(default_factory=dict)  # conditioning frames
    prompts: dict[int, _PromptEntry] = field(default_factory=dict)
    tracked: dict[int, bool] = field(default_factory=dict)  # frame → tracked in reverse
    stale: set[int] = field(default_factory=set)
    # Undo of corrections: per frame, the prompt states (ids, see VideoSession._prompt_state)
    # in which the user last saw the stored record tracked (``valid``) or stale (``seen``),
    # or saw no record (``empty_in``); the records replaced since, kept on disk (``shelf``);
    # and the states whose record there the shelf no longer keeps (``forgot``).
    valid: dict[int, frozenset[int]] = field(default_factory=dict)
    seen: dict[int, frozenset[int]] = field(default_factory=dict)
    empty_in: dict[int, frozenset[int]] = field(default_factory=dict)
    forgot: dict[int, frozenset[int]] = field(default_factory=dict)
    shelf: dict[int, list[_Shelved]] = field(default_factory=dict)
    settled: int | None = None  # the prompt state the frames were last settled for
    # Whether each (frame, prompt state) was a conditioning frame (else a correction, its
    # base in ``corrections``): redo makes the same choice on the same base even if the
    # frame was tracked or re-tracked after the undo.
    made: OrderedDict[tuple[int, int], bool] = field(default_factory=OrderedDict)

    def record(self, frame: int) -> FrameRecord | None:
        return self.cond.get(frame) or self.store.get(frame)

    def has(self, frame: int) -> bool:
        return frame in self.cond or frame in self.store


class VideoSession:
    """Tracks objects through a clip from prompts on any frames.

    ``model``: a loaded :class:`EfficientTAM`; ``frames``: random-access RGB uint8 frames;
    ``folder``: where records and masks are kept (a temporary folder if None);
    ``device``/``dtype``: where and in what precision the network runs.
    """

    def __init__(
        self,
        model: EfficientTAM | None,
        frames: FrameSource,
        *,
        folder: str | Path | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
        feature_cache: int = 8,
        ram_frames: int = 48,
        result_cache: int = 16,
        engine: Engine | None = None,
        cuda_graphs: bool = False,
    ) -> None:
        self.frames = frames
        self.num_frames = len(frames)
        if self.num_frames == 0:
            raise ModelError("the clip has no frames")
        first = frames[0]
        self.frame_size: tuple[int, int] = (int(first.shape[0]), int(first.shape[1]))
        # ``engine`` (from etam_plugin.onnx_runtime.make_engine) picks the backend; then
        # ``model`` may be None. ``cuda_graphs``: see :class:`Engine`.
        if engine is None:
            engine = Engine(model, device, dtype, cuda_graphs=cuda_graphs)
        self.engine = engine
        self.config = self.engine.config
        if folder is None:
            self.folder = Path(tempfile.mkdtemp(prefix="etam-session-"))
            self._cleanup = weakref.finalize(self, shutil.rmtree, self.folder, True)
        else:
            self.folder = Path(folder)
            self.folder.mkdir(parents=True, exist_ok=True)
            self._cleanup = None
        self._ram_frames = ram_frames
        self._objects: OrderedDict[int, _Object] = OrderedDict()
        self._features: OrderedDict[int, tuple[torch.Tensor, torch.Tensor]] = OrderedDict()
        self._feature_cache = max(1, feature_cache)
        self._prepared: OrderedDict[tuple[int, int], PreparedMemory] = OrderedDict()
        self._prepared_cache = 4 * self.config.num_maskmem
        self._results: OrderedDict[tuple[int, int], ObjectResult] = OrderedDict()
        # Per (object, frame): the last prompt's steps, so the next click runs one step.
        self._prompt_cache: dict[tuple[int, int], PromptCache] = {}
        self._result_cache = max(1, result_cache)
        self._lock = threading.RLock()
        # Records replaced by re-tracking, for undo (never saved: undo ends with the session).
        # Named as etam_plugin.atomic names staged files (".NAME.etam<pid>.<random>.partial"),
        # so the next job's sweep removes the shelf a killed process left behind.
        self._shelf = Path(
            tempfile.mkdtemp(prefix=f".{UNDO_SHELF}.etam{os.getpid()}.", suffix=".partial")
        )
        self._shelf_cleanup = weakref.finalize(self, shutil.rmtree, self._shelf, True)
        self._states: dict[tuple[int, bytes], int] = {}
        self._tags = 0
        # Objects removed with ``keep``: their records wait in the shelf for restore_object.
        self._removed: dict[int, _Object] = {}
        # Frames whose record the last prompt change brought back (their masks changed).
        self.last_restored: tuple[int, ...] = ()

    # -- objects -----------------------------------------------------------------------

    @property
    def object_ids(self) -> list[int]:
        return list(self._objects)

    def add_object(self, obj_id: int | None = None, name: str | None = None) -> int:
        """Adds an object (ids are positive integers; the next free one by default)."""
        with self._lock:
            if obj_id is None:
                obj_id = max(self._objects, default=0) + 1
            if obj_id in self._objects:
                raise ModelError(f"object {obj_id} already exists")
            if obj_id <= 0:
                raise ModelError(f"object ids must be positive, got {obj_id}")
            self._drop_removed(obj_id)  # a new object of that id: the kept one cannot return
            store = RecordStore(self.folder / "objects" / str(obj_id), self._ram_frames)
            corrections = KeyedRecords(self._shelf / str(obj_id) / "made", CORRECTIONS_KEPT)
            self._objects[obj_id] = _Object(
                obj_id, name or f"Object {obj_id}", store, corrections=corrections
            )
            return obj_id

    def remove_object(self, obj_id: int, *, keep: bool = False) -> None:
        """Removes an object. ``keep``: its prompts and records are set aside (in the undo
        shelf, never saved) so that :meth:`restore_object` brings it back exactly as it
        was, tracked frames and all: the panel's undo of a delete costs no re-track."""
        with self._lock:
            obj = self._object(obj_id)
            del self._objects[obj_id]
            self._forget(obj_id)
            if keep:
                self._drop_removed(obj_id)
                obj.store.flush()
                self._tags += 1
                aside = self._shelf / f"removed-{obj_id}-{self._tags}"
                if obj.store.folder.is_dir():
                    shutil.move(obj.store.folder, aside)
                aside.mkdir(parents=True, exist_ok=True)
                obj.store.folder = aside
                self._removed[obj_id] = obj
                return
            obj.store.clear()
            shutil.rmtree(self._shelf / str(obj_id), ignore_errors=True)

    def restore_object(self, obj_id: int) -> bool:
        """Brings back an object removed with ``keep``; False when none was kept (then the
        caller adds it and prompts it again)."""
        with self._lock:
            if obj_id in self._objects or obj_id not in self._removed:
                return False
            obj = self._removed.pop(obj_id)
            target = self.folder / "objects" / str(obj_id)
            shutil.rmtree(target, ignore_errors=True)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(obj.store.folder, target)
            obj.store.folder = target
            self._objects[obj_id] = obj
            return True

    def _drop_removed(self, obj_id: int) -> None:
        obj = self._removed.pop(obj_id, None)
        if obj is not None:
            shutil.rmtree(obj.store.folder, ignore_errors=True)
            shutil.rmtree(self._shelf / str(obj_id), ignore_errors=True)

    def rename_object(self, obj_id: int, name: str) -> None:
        self._object(obj_id).name = name

    def object_name(self, obj_id: int) -> str:
        return self._object(obj_id).name

    def _object(self, obj_id: int) -> _Object:
        try:
            return self._objects[obj_id]
        except KeyError:
            raise ModelError(f"no object {obj_id}; objects: {self.object_ids}") from None

    # -- prompts -----------------------------------------------------------------------

    def prompts(self, frame_index: int, obj_id: int) -> tuple[Prompt, ...]:
        """The prompt calls made for ``obj_id`` on a frame, in order (empty: none)."""
        entry = self._object(obj_id).prompts.get(frame_index)
        return entry.calls if entry else ()

    def prompt(self, frame_index: int, obj_id: int) -> Prompt | None:
        """What the frame's calls leave on it as one drawing (see :func:`drawing`)."""
        return drawing(self.prompts(frame_index, obj_id))

    def prompted_frames(self, obj_id: int) -> list[int]:
        return sorted(self._object(obj_id).prompts)

    def add_prompt(self, frame_index: int, obj_id: int, prompt: Prompt) -> FrameResult:
        """One official prompt call (see :class:`Prompt`) for ``obj_id`` on a frame; the
        frame is recomputed at once (one decoder pass) and returned."""
        if prompt.is_empty:
            raise ModelError("empty prompt: give points, a box or a mask")
        with self._lock:
            return self.set_prompts(
                frame_index, obj_id, (*self.prompts(frame_index, obj_id), prompt)
            )

    def set_prompts(self, frame_index: int, obj_id: int, calls: Sequence[Prompt]) -> FrameResult:
        """Replaces the calls made for ``obj_id`` on a frame by ``calls`` (empty: the frame
        has no prompt any more) and recomputes the frame at once: undo, redo and the panel's
        clicks (:func:`clicks`). Calls shared with the frame's previous ones are not re-run.

        On a frame the object was never tracked on, the calls make it a conditioning frame
        (every tracked frame of the object becomes stale); on a tracked frame they are a
        correction that starts from the tracked mask (the frames after it, in the direction
        it was tracked, become stale). A conditioning frame stays one when prompted again.
        """
        calls = tuple(calls)
        with self._lock:
            self._check_frame(frame_index)
            obj = self._object(obj_id)
            self._settle_once(obj)  # what is shown now is what undo back to here shows
            if not calls:
                self._clear_prompt(obj, frame_index)
                self._settle(obj)
                return self.frame_result(frame_index)
            h, w = self.frame_size
            steps = prompt_steps(calls, h, w, self.engine.image_size)
            feats, pos = self._frame_features(frame_index)
            entry = obj.prompts.get(frame_index)
            is_cond, base = self._prompted_on(obj, frame_index, calls, entry)
            cache = self._prompt_cache.get((obj_id, frame_index))
            if is_cond:
                prediction, cache = self.engine.apply_prompt(
                    feats, steps, memory=None, pos=pos, base_logits=None, cache=cache
                )
                record = record_from_prediction(prediction, 0, interacted=True, reverse=False)
                obj.cond[frame_index] = record
                obj.prompts[frame_index] = _PromptEntry(calls)
                obj.stale.update(f for f in obj.tracked if f not in obj.prompts)
            else:
                assert base is not None
                made = (frame_index, _record_digest(base), _calls_key(calls))
                record = obj.corrections.get(made)
                if record is None:
                    memory = None
                    if cache is None:  # the cache holds the memory-conditioned features
                        memory = self._memory_input(
                            obj, self._plan(obj, frame_index, base.reverse), exclude=frame_index
                        )
                    prediction, cache = self.engine.apply_prompt(
                        feats, steps, memory=memory, pos=pos, base_logits=base.logits, cache=cache
                    )
                    record = record_from_prediction(
                        prediction, 0, interacted=True, reverse=base.reverse
                    )
                obj.corrections.put(made, record)
                base_mask = entry.base_mask if entry else self._keep_mask(obj, frame_index)
                obj.store.put(frame_index, record)
                obj.prompts[frame_index] = _PromptEntry(calls, base, base_mask)
                self._mark_after_stale(obj, frame_index, base.reverse)
            obj.stale.discard(frame_index)
            self._invalidate(obj_id, frame_index)
            if cache is not None:  # after invalidating the others
                self._prompt_cache[(obj_id, frame_index)] = cache
            obj.store.save_mask(frame_index, self._result(obj, frame_index, False).mask)
            state = self._settle(obj)
            obj.made[(frame_index, state)] = is_cond
            obj.made.move_to_end((frame_index, state))
            while len(obj.made) > CORRECTIONS_KEPT:
                obj.made.popitem(last=False)
            if not is_cond:
                obj.corrections.put(("base", frame_index, state), base)
            return self.frame_result(frame_index)

    def _prompted_on(
        self, obj: _Object, frame: int, calls: tuple[Prompt, ...], entry: _PromptEntry | None
    ) -> tuple[bool, FrameRecord | None]:
        """Whether the calls make ``frame`` a conditioning frame, else the tracked record
        they correct. The first call on a frame decides, as it did the last time these
        prompts were shown (a redo after the frame was tracked or re-tracked since)."""
        if entry is not None:
            return frame in obj.cond, entry.base
        target = self._states.get(self._state_key(obj, frame, calls))
        was_cond = obj.made.get((frame, target))
        base = obj.corrections.get(("base", frame, target)) if was_cond is False else None
        if was_cond is None or (was_cond is False and base is None):  # as the frame is now
            if frame in obj.cond or not obj.has(frame):
                return True, None
            return False, obj.store.get(frame)
        here = obj.store.get(frame)
        if here is not None and (was_cond or _record_digest(here) != _record_digest(base)):
            self._shelve(obj, frame, NO_STATE)  # tracked since: kept for the prompts that showed it
        if not was_cond:
            obj.tracked.setdefault(frame, base.reverse)
        return was_cond, base

    def _clear_prompt(self, obj: _Object, frame: int) -> None:
        entry = obj.prompts.pop(frame, None)
        if entry is None:
            return
        if frame in obj.cond:
            del obj.cond[frame]
            obj.tracked.pop(frame, None)
            obj.stale.update(f for f in obj.tracked if f not in obj.prompts)
            if not obj.cond:  # nothing left to track from: corrections go (settling
                for f in list(obj.prompts):  # then takes the tracked frames away)
                    self._clear_prompt(obj, f)
        elif entry.base is not None:  # its logits may have been read back in float16:
            exact = entry.base_mask is None  # the mask shown then is put back as it was
            obj.store.put(frame, entry.base, exact=exact)
            if not exact:
                obj.store.put_mask(frame, entry.base_mask)
            self._mark_after_stale(obj, frame, entry.base.reverse)
        self._invalidate(obj.obj_id, frame)
        if frame in obj.store and obj.store.has_exact_logits(frame):  # the stored mask too
            obj.store.save_mask(frame, self._result(obj, frame, False).mask)

    def _keep_mask(self, obj: _Object, frame: int) -> Path | None:
        """A copy of the frame's stored mask in the undo shelf (None: it has none)."""
        folder = self._shelf / str(obj.obj_id)
        folder.mkdir(parents=True, exist_ok=True)
        self._tags += 1
        dest = folder / f"base-{frame:07d}-{self._tags}.png"
        return dest if obj.store.keep_mask(frame, dest) else None

    def _mark_after_stale(self, obj: _Object, frame: int, reverse: bool) -> None:
        later = (lambda f: f < frame) if reverse else (lambda f: f > frame)
        obj.stale.update(f for f in obj.tracked if later(f) and f not in obj.prompts)

    # -- undo of corrections -------------------------------------------------------------

    @staticmethod
    def _state_key(obj: _Object, frame: int | None = None, calls: tuple = ()) -> tuple:
        """The object's prompts as a small key (a digest: a long session has thousands);
        with ``frame``, as if its calls were ``calls``."""
        prompts = {f: e.calls for f, e in obj.prompts.items()}
        if frame is not None:
            prompts[frame] = calls
        items = tuple((f, _calls_key(c)) for f, c in sorted(prompts.items()) if c)
        return obj.obj_id, hashlib.sha1(repr(items).encode()).digest()

    def _prompt_state(self, obj: _Object) -> tuple[int, bool]:
        """A small id of the object's prompts as they are now (equal prompts, equal id),
        and whether these prompts are new (never shown before)."""
        key = self._state_key(obj)
        known = len(self._states)
        state = self._states.setdefault(key, known)
        return state, state == known

    def _settle(self, obj: _Object) -> int:
        """Shows, for the object's prompts as they are now, what the user last saw with
        these prompts: on each frame that ever had a record, the record seen then (from
        the store or the shelf), tracked or stale as it was, or no record. So undoing a
        correction shows what the user saw before it, and redoing it the correction's
        re-tracked frames, with no re-track. Prompts never seen before keep the records
        as they are (stale where the change made them so); that is recorded too."""
        state, new = self._prompt_state(obj)
        restored = []
        memo: dict[frozenset[int], frozenset[int]] = {}  # frames shown together share sets

        def plus(states: frozenset[int]) -> frozenset[int]:
            return memo.setdefault(states, states | {state})

        def unknown(f: int) -> bool:  # what these prompts showed there is not known
            return new or state in obj.forgot.get(f, ())

        frames = set(obj.store.frames()) | set(obj.shelf) | set(obj.empty_in)
        for f in sorted(frames - set(obj.prompts)):
            here = f in obj.store
            if here and state in obj.valid.get(f, ()):
                obj.stale.discard(f)
                continue
            if here and state in obj.seen.get(f, ()):
                obj.stale.add(f)
                continue
            kept = obj.shelf.get(f, [])
            match = next((k for k in kept if state in k.valid or state in k.seen), None)
            if match is not None:
                kept.remove(match)
                self._shelve(obj, f, state)
                obj.store.unshelve(f, self._shelf / str(obj.obj_id), match.tag, match.meta)
                obj.valid[f], obj.seen[f] = match.valid, match.seen
                obj.tracked[f] = match.meta.reverse
                if state in match.seen:
                    obj.stale.add(f)
                else:
                    obj.stale.discard(f)
                self._invalidate(obj.obj_id, f)
                restored.append(f)
            elif here and state not in obj.empty_in.get(f, ()) and unknown(f):
                if f in obj.stale:  # as the change left it
                    obj.seen[f] = plus(obj.seen.get(f, frozenset()))
                else:
                    obj.valid[f] = plus(obj.valid.get(f, frozenset()))
            elif here:  # these prompts were seen when the frame had no record
                self._shelve(obj, f, state)
                obj.tracked.pop(f, None)
                obj.stale.discard(f)
                self._invalidate(obj.obj_id, f)
                restored.append(f)
                obj.empty_in[f] = plus(obj.empty_in.get(f, frozenset()))
            else:
                obj.empty_in[f] = plus(obj.empty_in.get(f, frozenset()))
        self.last_restored = tuple(restored)
        obj.settled = state
        return state

    def _settle_once(self, obj: _Object) -> None:
        """Settles the frames unless they already are for the prompts as they are (tracking
        keeps them so): a click on a long tracked clip walks its frames once, not twice."""
        if obj.settled is None or obj.settled != self._states.get(self._state_key(obj)):
            self._settle(obj)

    def _shelve(self, obj: _Object, frame: int, state: int) -> None:
        """The frame's stored record leaves the store (it is not shown with prompt state
        ``state`` any more); it is kept on disk for undo if other prompts showed it, at
        most ``SHELF_DEPTH`` records per frame, the oldest going first."""
        valid = obj.valid.pop(frame, frozenset()) - {state}
        seen = obj.seen.pop(frame, frozenset()) - {state}
        if frame not in obj.store:
            if frame in obj.empty_in:  # no record was shown; now one will be
                obj.empty_in[frame] = obj.empty_in[frame] - {state}
            return
        if not valid and not seen:  # shown with no other prompts: nothing to keep
            obj.store.pop(frame)
            return
        folder = self._shelf / str(obj.obj_id)
        folder.mkdir(parents=True, exist_ok=True)
        self._tags += 1
        meta = obj.store.shelve(frame, folder, self._tags)
        kept = obj.shelf.setdefault(frame, [])
        kept.append(_Shelved(self._tags, valid, seen, meta))
        while len(kept) > SHELF_DEPTH:
            old = kept.pop(0)
            obj.forgot[frame] = obj.forgot.get(frame, frozenset()) | old.valid | old.seen
            for suffix in (".npy", ".png"):
                (folder / f"{frame:07d}-{old.tag}{suffix}").unlink(missing_ok=True)

    # -- propagation -------------------------------------------------------------------

    def propagate(
        self,
        direction: str = "forward",
        start: int | None = None,
        end: int | None = None,
        *,
        obj_ids: list[int] | None = None,
        cancel: threading.Event | None = None,
        keep_logits: bool = False,
        back_to: int | None = None,
    ) -> Iterator[tuple[FrameResult, Progress]]:
        """Tracks the objects frame by frame, yielding each frame's results as it goes.

        ``direction``: forward, backward, or both (forward from ``start``, then backward
        from ``start - 1``). ``start`` (the origin) defaults to the earliest conditioning
        frame; ``end`` is the last frame processed in the direction of travel (inclusive;
        default: the clip's end), and with ``both`` bounds the forward pass while
        ``back_to`` bounds the backward one. Prompted frames keep their prompted results;
        every other frame in the range is recomputed. Setting ``cancel`` stops between
        frames; results so far are kept.
        """
        if direction not in DIRECTIONS:
            raise ModelError(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
        objs = [self._object(i) for i in (obj_ids or self.object_ids)]
        objs = [o for o in objs if o.cond]
        if not objs:
            raise ModelError("nothing to track: prompt an object on some frame first")
        if start is None:
            start = min(min(o.cond) for o in objs)
        for f in (start, end, back_to):
            if f is not None:
                self._check_frame(f)
        passes = []
        if direction in ("forward", "both"):
            last = self.num_frames - 1 if end is None else end
            passes.append((range(start, last + 1), False))
        if direction == "backward":
            first = 0 if end is None else end
            passes.append((range(start, first - 1, -1) if start > 0 else range(0), True))
        if direction == "both":  # the origin was yielded by the forward pass
            first = 0 if back_to is None else back_to
            passes.append((range(start - 1, first - 1, -1), True))
        with self._lock:  # prompts tracked with for the first time (an opened session)
            for obj in objs:
                self._settle_once(obj)
        total = sum(len(order) for order, _ in passes)
        done, t0 = 0, time.perf_counter()
        for order, reverse in passes:
            for frame in order:
                if cancel is not None and cancel.is_set():
                    return
                with self._lock:
                    result = self._track_frame(frame, objs, reverse, keep_logits)
                done += 1
                elapsed = time.perf_counter() - t0
                fps = done / elapsed if elapsed > 0 else 0.0
                eta = (total - done) / fps if fps > 0 else float("inf")
                yield result, Progress(done, total, frame, fps, eta)

    def _track_frame(
        self, frame: int, objs: list[_Object], reverse: bool, keep_logits: bool
    ) -> FrameResult:
        groups: dict[MemoryPlan, list[_Object]] = {}
        for obj in objs:
            if frame in obj.prompts or frame in obj.cond:
                continue  # prompted frames keep their prompted result
            groups.setdefault(self._plan(obj, frame, reverse), []).append(obj)
        if groups:
            feats, pos = self._frame_features(frame)
            for plan, members in groups.items():
                inputs = [self._memory_input(o, plan) for o in members]
                memory = MemoryInput(
                    frames=[
                        (PreparedMemory.stack([m.frames[i][0] for m in inputs]), age)
                        for i, (_, age) in enumerate(inputs[0].frames)
                    ],
                    pointers=(
                        torch.cat([m.pointers for m in inputs])
                        if inputs[0].pointers is not None
                        else None
                    ),
                )
                prediction = self.engine.track(feats, pos, memory)
                memories = self.engine.encode_memory(feats, prediction.masks, False)
                for i, obj in enumerate(members):
                    record = record_from_prediction(
                        prediction, i, interacted=False, reverse=reverse
                    )
                    record.memory = memories[i : i + 1].cpu()
                    state, _ = self._prompt_state(obj)
                    self._shelve(obj, frame, state)  # kept if other prompts showed it
                    obj.store.put(frame, record)
                    obj.valid[frame] = frozenset((state,))
                    self._invalidate(obj.obj_id, frame)
        results = {}
        for obj in objs:
            obj.tracked[frame] = reverse
            obj.stale.discard(frame)
            results[obj.obj_id] = result = self._result(obj, frame, keep_logits)
            if obj in (m for ms in groups.values() for m in ms):
                obj.store.save_mask(frame, result.mask)
        return FrameResult(frame, results)

    # -- results -----------------------------------------------------------------------

    def result(
        self, frame_index: int, obj_id: int, *, with_logits: bool = False
    ) -> ObjectResult | None:
        """An object's result on a frame (None if never computed); ``with_logits`` also
        returns the mask logits at source resolution."""
        with self._lock:
            obj = self._object(obj_id)
            if not obj.has(frame_index):
                return None
            return self._result(obj, frame_index, with_logits)

    def frame_result(self, frame_index: int, *, with_logits: bool = False) -> FrameResult:
        """All objects' current results on a frame (objects never computed there omitted)."""
        with self._lock:
            results = {
                obj.obj_id: self._result(obj, frame_index, with_logits)
                for obj in self._objects.values()
                if obj.has(frame_index)
            }
            return FrameResult(frame_index, results)

    def statuses(self, obj_id: int) -> list[FrameStatus]:
        """One status per frame, for coverage bars."""
        obj = self._object(obj_id)
        out = [FrameStatus.EMPTY] * self.num_frames
        for f in obj.store.frames():
            out[f] = FrameStatus.TRACKED
        for f in obj.cond:
            out[f] = FrameStatus.TRACKED
        for f in obj.stale:
            out[f] = FrameStatus.STALE
        for f in obj.prompts:
            out[f] = FrameStatus.PROMPTED
        return out

    def _result(self, obj: _Object, frame: int, keep_logits: bool) -> ObjectResult:
        key = (obj.obj_id, frame)
        cached = self._results.get(key)
        if cached is not None and (cached.logits is not None or not keep_logits):
            self._results.move_to_end(key)
            return cached
        h, w = self.frame_size
        mask = None
        if not keep_logits and frame not in obj.cond and not obj.store.has_exact_logits(frame):
            mask = obj.store.load_mask(frame)  # read back in float16: the PNG is as shown
        if mask is not None:
            score, object_score = obj.store.scores(frame)
            result = ObjectResult(obj.obj_id, mask, score, object_score)
        else:
            record = obj.record(frame)
            result = self.engine.to_result(
                obj.obj_id,
                record.logits,
                record.score,
                record.object_score,
                h,
                w,
                keep_logits=keep_logits,
            )
        self._results[key] = result
        while len(self._results) > self._result_cache:
            self._results.popitem(last=False)
        return result

    # -- memory ------------------------------------------------------------------------

    def _plan(self, obj: _Object, frame: int, reverse: bool) -> MemoryPlan:
        return plan_memory(
            frame,
            obj.cond,
            lambda t: t in obj.store,
            num_maskmem=self.config.num_maskmem,
            max_obj_ptrs=self.config.max_obj_ptrs_in_encoder,
            num_frames=self.num_frames,
            reverse=reverse,
            stride=self.config.memory_temporal_stride,
            max_cond_frames=self.config.max_cond_frames_in_attn,
        )

    def _memory_input(
        self, obj: _Object, plan: MemoryPlan, exclude: int | None = None
    ) -> MemoryInput | None:
        spatial = [(t, age) for t, age in plan.spatial if t != exclude]
        if not spatial:
            return None
        frames = [(self._prepared_memory(obj, t), age) for t, age in spatial]
        ptrs = [self._pointer(obj, t) for t in plan.pointers if t != exclude]
        pointers = torch.cat(ptrs)[None].to(self.engine.device) if ptrs else None
        return MemoryInput(frames=frames, pointers=pointers)

    def _pointer(self, obj: _Object, frame: int) -> torch.Tensor:
        if frame in obj.cond:
            return obj.cond[frame].obj_ptr
        return obj.store.pointer(frame)

    def _prepared_memory(self, obj: _Object, frame: int) -> PreparedMemory:
        key = (obj.obj_id, frame)
        prepared = self._prepared.get(key)
        if prepared is not None and prepared.layout == self.engine.layout:
            self._prepared.move_to_end(key)
            return prepared
        record = obj.record(frame)
        if record.memory is None:
            feats, _ = self._frame_features(frame)
            record.memory = self.engine.encode_memory(feats, record.logits, record.interacted).cpu()
        prepared = self.engine.prepare(record.memory)
        self._prepared[key] = prepared
        while len(self._prepared) > self._prepared_cache:
            self._prepared.popitem(last=False)
        return prepared

    def _invalidate(self, obj_id: int, frame: int) -> None:
        """A record changed: drop what was derived from it. Prompt caches of the object's
        other frames hold features conditioned on its memory, so they go too."""
        self._prepared.pop((obj_id, frame), None)
        self._results.pop((obj_id, frame), None)
        for key in [k for k in self._prompt_cache if k[0] == obj_id]:
            del self._prompt_cache[key]

    def _forget(self, obj_id: int) -> None:
        for cache in (self._prepared, self._results, self._prompt_cache):
            for key in [k for k in cache if k[0] == obj_id]:
                del cache[key]

    def _frame_features(self, frame: int) -> tuple[torch.Tensor, torch.Tensor]:
        cached = self._features.get(frame)
        if cached is not None:
            self._features.move_to_end(frame)
            return cached
        feats = self.engine.encode_frame(self.frames[frame])
        self._features[frame] = feats
        while len(self._features) > self._feature_cache:
            self._features.popitem(last=False)
        return feats

    def _check_frame(self, frame: int) -> None:
        if not 0 <= frame < self.num_frames:
            raise ModelError(f"frame {frame} is outside the clip (0..{self.num_frames - 1})")

    # -- persistence -------------------------------------------------------------------

    def save(self, folder: str | Path | None = None) -> Path:
        """Writes the session (objects, prompts, records) to ``folder`` (default: the
        session's own folder) so that :meth:`open` restores it; returns the folder."""
        with self._lock:
            target = Path(folder) if folder is not None else self.folder
            target.mkdir(parents=True, exist_ok=True)
            if target.resolve() != self.folder.resolve():
                shutil.copytree(self.folder, target, dirs_exist_ok=True)
                self._move_to(target)
            with _StagedFiles() as staged:
                self._save_into(target, staged)
            return target

    def _save_into(self, target: Path, staged: _StagedFiles) -> None:
        """Stages every metadata file of the session; the caller commits them together."""
        objects = []
        for obj in self._objects.values():
            obj.store.flush()
            odir = target / "objects" / str(obj.obj_id)
            metadata = obj.store.metadata()
            staged.write(odir / "store.npz", lambda fh, m=metadata: np.savez(fh, **m))
            cond = {f"{f}": r for f, r in obj.cond.items()}
            staged.write(odir / "cond.npz", _records_writer(cond))
            bases = {f"{f}": e.base for f, e in obj.prompts.items() if e.base is not None}
            staged.write(odir / "bases.npz", _records_writer(bases))
            prompts = []
            for f, entry in sorted(obj.prompts.items()):
                calls = []
                for k, call in enumerate(entry.calls):
                    item = {
                        "points": [list(p) for p in call.points_xy],
                        "labels": list(call.labels),
                        "box": list(call.box_xyxy) if call.box_xyxy else None,
                        "clear_old_points": call.clear_old_points,
                        "mask": None,
                    }
                    if call.mask is not None:
                        name = f"prompt_mask_{f:07d}_{k}.png"
                        mask = Image.fromarray(call.mask.astype(bool))
                        staged.write(odir / name, lambda fh, m=mask: m.save(fh, format="PNG"))
                        item["mask"] = name
                    calls.append(item)
                prompts.append({"frame": f, "calls": calls})
            objects.append(
                {
                    "id": obj.obj_id,
                    "name": obj.name,
                    "prompts": prompts,
                    "tracked": [[f, r] for f, r in sorted(obj.tracked.items())],
                    "stale": sorted(obj.stale),
                }
            )
        meta = {
            "version": SESSION_VERSION,
            "num_frames": self.num_frames,
            "frame_size": list(self.frame_size),
            "model": {
                "name": self.config.name,
                "image_size": self.config.image_size,
                "attention": self.config.memory_attention.mode,
                "pool_window": self.config.memory_attention.pool_window,
            },
            "objects": objects,
        }
        text = json.dumps(meta, indent=1).encode()
        staged.write(target / SESSION_FILE, lambda fh: fh.write(text))  # replaced last

    def _move_to(self, target: Path) -> None:
        old = self.folder
        self.folder = target
        for obj in self._objects.values():
            obj.store.folder = target / "objects" / str(obj.obj_id)
        if self._cleanup is not None:
            self._cleanup()  # the temporary folder is no longer needed
            self._cleanup = None
        elif old != target:
            pass  # a user folder stays where it was

    @classmethod
    def open(
        cls,
        folder: str | Path,
        model: EfficientTAM | None,
        frames: FrameSource,
        **kwargs,
    ) -> VideoSession:
        """Reopens a saved session on the same clip (checked by frame count and size)."""
        folder = Path(folder)
        path = folder / SESSION_FILE
        if not path.is_file():
            raise ModelError(f"{folder} is not a saved session (no {SESSION_FILE})")
        try:
            meta = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot read {path}: {exc}") from exc
        version = meta.get("version")
        if version not in (1, SESSION_VERSION):
            raise ModelError(
                f"{path} has session version {version}; this version reads 1 to {SESSION_VERSION}"
            )
        session = cls(model, frames, folder=folder, **kwargs)
        if meta["num_frames"] != session.num_frames or list(meta["frame_size"]) != list(
            session.frame_size
        ):
            raise ModelError(
                f"the session was made on a clip of {meta['num_frames']} frames of "
                f"{meta['frame_size'][1]}×{meta['frame_size'][0]}; this clip has "
                f"{session.num_frames} frames of {session.frame_size[1]}×{session.frame_size[0]}"
            )
        if meta["model"]["image_size"] != session.config.image_size:
            raise ModelError(
                f"the session was tracked at {meta['model']['image_size']}² but this model "
                f"runs at {session.config.image_size}²"
            )
        for item in meta["objects"]:
            obj_id = session.add_object(item["id"], item["name"])
            obj = session._objects[obj_id]
            odir = folder / "objects" / str(obj_id)
            with np.load(odir / "store.npz") as arrays:
                obj.store.load_metadata(dict(arrays))
            obj.cond = _load_records(odir / "cond.npz")
            bases = _load_records(odir / "bases.npz")
            for p in item["prompts"]:
                calls = _read_calls(p, odir, version)
                obj.prompts[p["frame"]] = _PromptEntry(calls, bases.get(p["frame"]))
            obj.tracked = {int(f): bool(r) for f, r in item["tracked"]}
            obj.stale = set(item["stale"])
        return session

    def close(self) -> None:
        """Releases caches (and the temporary folder, if the session made one)."""
        self._features.clear()
        self._prepared.clear()
        self._results.clear()
        self._shelf_cleanup()
        if self._cleanup is not None:
            self._cleanup()


def _record_digest(record: FrameRecord) -> str:
    """A record's identity by content (its logits and scores): the same base of a
    correction however often it was spilled to disk and read back."""
    digest = hashlib.sha1(record.logits.float().contiguous().numpy().tobytes())
    digest.update(f"{record.score:.9g} {record.object_score:.9g} {record.reverse}".encode())
    return digest.hexdigest()


def _calls_key(calls: Sequence[Prompt]) -> tuple:
    """A frame's prompt calls as a hashable value (a mask prompt by its bytes' digest)."""
    return tuple(
        (
            c.points_xy,
            c.labels,
            c.box_xyxy,
            c.clear_old_points,
            None if c.mask is None else hashlib.sha1(np.packbits(c.mask).tobytes()).hexdigest(),
        )
        for c in calls
    )


def _read_calls(item: dict, folder: Path, version: int) -> tuple[Prompt, ...]:
    """One frame's prompt calls from a saved session (version 1 kept one click-built
    prompt per frame: its mask, then its box and clicks)."""

    def mask(name: str | None) -> np.ndarray | None:
        return np.asarray(Image.open(folder / name).convert("L")) > 0 if name else None

    def points(p: dict) -> tuple[tuple[float, float], ...]:
        return tuple((float(x), float(y)) for x, y in p["points"])

    def box(p: dict) -> tuple[float, float, float, float] | None:
        return tuple(p["box"]) if p["box"] else None

    if version == 1:
        painted = mask(item["mask"])
        first = (Prompt(mask=painted),) if painted is not None else ()
        return first + clicks(Prompt(points(item), tuple(item["labels"]), box(item)))
    return tuple(
        Prompt(mask=m)
        if (m := mask(c["mask"])) is not None
        else Prompt(
            points(c),
            tuple(c["labels"]),
            box(c),
            clear_old_points=bool(c["clear_old_points"]),
        )
        for c in item["calls"]
    )


def _records_writer(records: dict[str, FrameRecord]) -> Callable[[BinaryIO], object]:
    arrays: dict[str, np.ndarray] = {}
    for key, r in records.items():
        arrays[f"{key}/logits"] = r.logits.numpy()
        arrays[f"{key}/obj_ptr"] = r.obj_ptr.numpy()
        arrays[f"{key}/scalars"] = np.array(
            [r.object_score, r.score, float(r.interacted), float(r.reverse)], np.float64
        )
    return lambda fh: np.savez(fh, **arrays)


class _StagedFiles:
    """Files written beside their targets first and renamed over them only when every one
    was written: a full disk or a crash mid-save leaves the previous save whole and
    consistent (the renames are in order, the session index last)."""

    def __init__(self) -> None:
        self._staged: list[tuple[Path, Path]] = []

    def write(self, path: Path, write: Callable[[BinaryIO], object]) -> None:
        tmp = path.with_name(path.name + ".tmp")
        self._staged.append((tmp, path))
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())

    def __enter__(self) -> _StagedFiles:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            for tmp, path in self._staged:
                os.replace(tmp, path)
        else:
            for tmp, _ in self._staged:
                tmp.unlink(missing_ok=True)


def _load_records(path: Path) -> dict[int, FrameRecord]:
    out: dict[int, FrameRecord] = {}
    if not path.exists():
        return out
    with np.load(path) as arrays:
        keys = {k.split("/")[0] for k in arrays.files}
        for key in keys:
            s = arrays[f"{key}/scalars"]
            out[int(key)] = FrameRecord(
                logits=torch.from_numpy(arrays[f"{key}/logits"].copy()),
                obj_ptr=torch.from_numpy(arrays[f"{key}/obj_ptr"].copy()),
                object_score=float(s[0]),
                score=float(s[1]),
                interacted=bool(s[2]),
                reverse=bool(s[3]),
            )
    return out
