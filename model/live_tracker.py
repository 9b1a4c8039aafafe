"""Streaming tracker for live video: one frame in, masks out, constant state.

It keeps only what the next frame can use: each object's conditioning frame (where it was
selected), the memories of its last ``num_maskmem - 1`` frames (already prepared for
attention, so a memory frame's keys are computed once, not on each of the frames that
attend it), and the object pointers of its last ``max_obj_ptrs - 1`` frames. Frame
indexes only grow; nothing else does, however long the stream runs.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from etam_plugin.model.efficienttam import EfficientTAM
from etam_plugin.model.engine import (
    Engine,
    FrameRecord,
    MemoryPlan,
    plan_memory,
    prompt_steps,
    record_from_prediction,
)
from etam_plugin.model.errors import ModelError
from etam_plugin.model.memory_attention import MemoryInput, PreparedMemory
from etam_plugin.model.types import FrameResult, ObjectResult, Prompt


@dataclass(frozen=True)
class TrackEvent:
    """An object disappeared (``lost``) or reappeared (``found``) on a frame."""

    obj_id: int
    frame_index: int
    kind: str


@dataclass
class _Entry:
    record: FrameRecord
    prepared: PreparedMemory | None = None


@dataclass
class _LiveObject:
    cond_frame: int
    cond: _Entry
    recent: deque[tuple[int, _Entry]] = field(default_factory=deque)
    present: bool = True
    last: ObjectResult | None = None


class LiveTracker:
    """Tracks selected objects frame by frame.

    Call :meth:`step` with each new frame; :meth:`select` (re)selects an object with a
    prompt on the frame last passed to :meth:`step`. ``on_event`` is called with a
    :class:`TrackEvent` when an object is lost or found again.
    """

    def __init__(
        self,
        model: EfficientTAM | None,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
        on_event: Callable[[TrackEvent], None] | None = None,
        engine: Engine | None = None,
        cuda_graphs: bool = False,
    ) -> None:
        # ``engine`` (from etam_plugin.onnx_runtime.make_engine) picks the backend; then
        # ``model`` may be None. ``cuda_graphs``: see :class:`Engine`.
        if engine is None:
            engine = Engine(model, device, dtype, cuda_graphs=cuda_graphs)
        self.engine = engine
        self.config = self.engine.config
        self.on_event = on_event
        self.last_events: list[TrackEvent] = []
        self._objects: dict[int, _LiveObject] = {}
        self._frame_index = -1
        self._last: tuple[tuple[int, int], torch.Tensor, torch.Tensor] | None = None
        # Pointers reach back max_obj_ptrs - 1 frames; memories num_maskmem - 1 frames.
        self._history = max(self.config.max_obj_ptrs_in_encoder, self.config.num_maskmem) - 1

    @property
    def object_ids(self) -> list[int]:
        return list(self._objects)

    @property
    def frame_index(self) -> int:
        """Index of the last frame passed to :meth:`step` (-1 before the first)."""
        return self._frame_index

    def select(self, obj_id: int, prompt: Prompt) -> FrameResult:
        """(Re)selects ``obj_id`` on the last stepped frame with one prompt call (see
        :class:`Prompt`); its old state is dropped."""
        if self._last is None:
            raise ModelError("no frame yet: call step() with a frame before selecting")
        if prompt.is_empty:
            raise ModelError("empty prompt: give points, a box or a mask")
        (h, w), feats, pos = self._last
        steps = prompt_steps((prompt,), h, w, self.engine.image_size)
        prediction, _ = self.engine.apply_prompt(
            feats, steps, memory=None, pos=pos, base_logits=None
        )
        record = record_from_prediction(prediction, 0, interacted=True, reverse=False)
        record.memory = self.engine.encode_memory(feats, record.logits, True)
        entry = _Entry(record, self.engine.prepare(record.memory))
        obj = _LiveObject(cond_frame=self._frame_index, cond=entry)
        obj.last = self._to_result(obj_id, record)
        obj.present = obj.last.present
        self._objects[obj_id] = obj
        return FrameResult(
            self._frame_index, {i: o.last for i, o in self._objects.items() if o.last}
        )

    def remove(self, obj_id: int) -> None:
        self._objects.pop(obj_id, None)

    def clear(self) -> None:
        self._objects.clear()

    def step(self, frame_rgb: np.ndarray) -> FrameResult:
        """Tracks every selected object on a new frame; masks at the frame's size."""
        self.advance(frame_rgb)
        return self.track()

    def advance(self, frame_rgb: np.ndarray) -> None:
        """Makes ``frame_rgb`` the current frame (image features only, nothing tracked):
        :meth:`step` in two halves, so that a click on a new frame can be answered by
        :meth:`select` before the other objects are tracked on it (:meth:`track`)."""
        self._frame_index += 1
        feats, pos = self.engine.encode_frame(frame_rgb)
        self._last = ((int(frame_rgb.shape[0]), int(frame_rgb.shape[1])), feats, pos)
        self.last_events = []

    def track(self) -> FrameResult:
        """Tracks the selected objects on the current frame (those selected on it already
        have their mask); returns every object's latest result."""
        if self._last is None:
            raise ModelError("no frame yet: call advance() or step() with a frame first")
        index = self._frame_index
        _, feats, pos = self._last
        groups: dict[MemoryPlan, list[int]] = {}
        for obj_id, obj in self._objects.items():
            if obj.cond_frame != index:
                groups.setdefault(self._plan(obj, index), []).append(obj_id)
        for plan, members in groups.items():
            objs = [self._objects[i] for i in members]
            memory = MemoryInput(
                frames=[
                    (PreparedMemory.stack([self._entry(o, t).prepared for o in objs]), age)
                    for t, age in plan.spatial
                ],
                pointers=torch.cat(
                    [
                        torch.cat([self._entry(o, t).record.obj_ptr for t in plan.pointers])[None]
                        for o in objs
                    ]
                ).to(self.engine.device),
            )
            prediction = self.engine.track(feats, pos, memory)
            memories = self.engine.encode_memory(feats, prediction.masks, False)
            for i, (obj_id, obj) in enumerate(zip(members, objs, strict=True)):
                record = record_from_prediction(prediction, i, interacted=False, reverse=False)
                record.memory = memories[i : i + 1]
                obj.recent.append((index, _Entry(record, self.engine.prepare(record.memory))))
                self._forget_old(obj, index)
                obj.last = self._to_result(obj_id, record)
                self._report(obj_id, obj, index)
        return FrameResult(index, {i: o.last for i, o in self._objects.items() if o.last})

    def state_bytes(self) -> int:
        """Bytes held for tracking (records, memories, prepared keys, last features)."""
        total = 0
        for obj in self._objects.values():
            entries = [obj.cond] + [e for _, e in obj.recent]
            for e in entries:
                total += e.record.nbytes() + (e.prepared.nbytes() if e.prepared else 0)
        if self._last is not None:
            total += sum(t.numel() * t.element_size() for t in self._last[1:])
        return total

    # -- internals -----------------------------------------------------------------------

    def _plan(self, obj: _LiveObject, index: int) -> MemoryPlan:
        recent = {t for t, _ in obj.recent}
        return plan_memory(
            index,
            [obj.cond_frame],
            recent.__contains__,
            num_maskmem=self.config.num_maskmem,
            max_obj_ptrs=self.config.max_obj_ptrs_in_encoder,
            num_frames=None,
            reverse=False,
            stride=self.config.memory_temporal_stride,
        )

    def _entry(self, obj: _LiveObject, frame: int) -> _Entry:
        if frame == obj.cond_frame:
            return obj.cond
        for t, entry in obj.recent:
            if t == frame:
                return entry
        raise KeyError(frame)

    def _forget_old(self, obj: _LiveObject, index: int) -> None:
        """Drops pointers past the pointer window and memories past the memory window."""
        while obj.recent and obj.recent[0][0] <= index - self._history:
            obj.recent.popleft()
        memory_window = self.config.num_maskmem - 1
        for t, entry in obj.recent:
            if t <= index - memory_window and entry.prepared is not None:
                entry.prepared = None
                entry.record.memory = None
                entry.record.logits = entry.record.logits[..., :0, :0]

    def _to_result(self, obj_id: int, record: FrameRecord) -> ObjectResult:
        (h, w), _, _ = self._last
        # The logits come with the mask at no extra cost; soft live edges are made from them.
        return self.engine.to_result(
            obj_id, record.logits, record.score, record.object_score, h, w, keep_logits=True
        )

    def _report(self, obj_id: int, obj: _LiveObject, index: int) -> None:
        present = obj.last.present
        if present != obj.present:
            event = TrackEvent(obj_id, index, "found" if present else "lost")
            self.last_events.append(event)
            if self.on_event is not None:
                self.on_event(event)
        obj.present = present
