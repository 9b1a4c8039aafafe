"""Which objects are on screen, and how much of each to show: hold, fade and fallback.

A tracker loses an object for a frame or two all the time (motion blur, occlusion); cutting
it out of the picture at once flickers. So a lost object's last matte is *held* for
``hold_s`` from the moment the loss is reported, then *faded* out over ``fade_s``. (Counting
from the last result that showed it would be no hold at all with a model slower than the
hold: its next result, a second later, would arrive already past the fade.) When every
selected object is gone the picture fades to the configured fallback — the camera untouched
(``passthrough``) or the effect fully applied (``keyed``). An object that comes back is
shown again at once.

Time is the caller's clock; while inference is paused (the source is hidden in OBS) the
caller stops advancing it, so a pause never fades anything.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from etam_plugin.matte import MatteOps, TemporalSmoother
from etam_plugin.model import ObjectResult

Fallback = Literal["passthrough", "keyed"]
FALLBACKS: tuple[str, ...] = ("passthrough", "keyed")


@dataclass(frozen=True)
class PresencePolicy:
    """How long a lost object is held, how fast it fades, and what shows when all are lost."""

    hold_s: float = 0.5
    fade_s: float = 0.5
    fallback: Fallback | None = None  # None: the effect's own choice

    def __post_init__(self) -> None:
        if self.hold_s < 0 or self.fade_s < 0:
            raise ValueError(f"hold_s and fade_s must be >= 0, got {self.hold_s}, {self.fade_s}")
        if self.fallback is not None and self.fallback not in FALLBACKS:
            raise ValueError(f"fallback must be one of {FALLBACKS}, got {self.fallback!r}")


@dataclass
class _Track:
    matte: np.ndarray  # float32 (H, W): the last matte seen while present (finished)
    last_seen: float
    present: bool
    lost_at: float | None = None  # when the tracker first reported it lost


@dataclass(frozen=True)
class ObjectState:
    """One object as the status line shows it."""

    obj_id: int
    present: bool
    weight: float  # 1 shown fully, 0 faded out


class PresenceMixer:
    """Keeps each object's last good matte and mixes them into one matte per output frame.

    ``update(objects, now)`` with each new tracker result; ``mix(now, shape, passthrough)``
    once per composited frame. The matte finishing ``ops`` (the panel's: soft matte from
    logits, grow/shrink, feather, …, and its causal temporal smoothing) run on each object's
    matte once when the tracker delivers it, not on every composited frame: smoothing then
    steadies the tracker's jitter without blending repeated copies of one mask.
    """

    def __init__(self, policy: PresencePolicy | None = None, ops: MatteOps | None = None) -> None:
        self.policy = policy or PresencePolicy()
        self.ops = ops or MatteOps()
        self._tracks: dict[int, _Track] = {}
        self._smoothers: dict[int, TemporalSmoother] = {}

    def restart_smoothing(self) -> None:
        """Forget the smoothing history (the selection changed)."""
        self._smoothers.clear()

    def update(
        self, objects: Mapping[int, ObjectResult], now: float, guide: np.ndarray | None = None
    ) -> None:
        """Take one tracker result: refresh present objects, keep lost ones' old mattes.

        ``guide`` is the frame the results belong to (uint8 RGB), used by edge refinement.
        """
        for obj_id in list(self._tracks):
            if obj_id not in objects:
                del self._tracks[obj_id]  # removed by the user
                self._smoothers.pop(obj_id, None)
        for obj_id, res in objects.items():
            present = res.present and bool(res.mask.any())
            track = self._tracks.get(obj_id)
            if present:
                matte = self._finish(res, guide)
                smoother = self._smoothers.get(obj_id)
                if smoother is None and self.ops.smooth:
                    smoother = self._smoothers[obj_id] = self.ops.smoother()
                if smoother is not None:
                    matte = smoother(matte)
                self._tracks[obj_id] = _Track(matte, now, True)
            elif track is not None:
                if track.present:
                    track.lost_at = now
                track.present = False
                self._smoothers.pop(obj_id, None)  # when it returns, start afresh
            # never seen present: nothing to hold yet

    def weight(self, track: _Track, now: float) -> float:
        if track.present:
            return 1.0
        since = track.last_seen if track.lost_at is None else track.lost_at
        lost_for = now - since - self.policy.hold_s
        if lost_for <= 0:
            return 1.0
        if self.policy.fade_s <= 0:
            return 0.0
        return max(0.0, 1.0 - lost_for / self.policy.fade_s)

    def states(self, now: float) -> list[ObjectState]:
        return [
            ObjectState(obj_id, t.present, round(self.weight(t, now), 3))
            for obj_id, t in sorted(self._tracks.items())
        ]

    def mix(
        self,
        now: float,
        shape: tuple[int, int],
        passthrough_level: float,
        *,
        selected: bool,
        exclude: Collection[int] = (),
    ) -> np.ndarray:
        """The matte to composite with now: float32 ``shape`` in [0, 1].

        ``selected`` says whether any object is selected at all: with none, the picture is
        the camera untouched (nothing to key yet). Otherwise the union of the weighted
        mattes, moved towards the fallback as the strongest weight falls. Objects in
        ``exclude`` (those with their own effect) are left out.
        """
        if not selected:
            return np.full(shape, passthrough_level, np.float32)
        combined: np.ndarray | None = None
        presence = 0.0
        for obj_id, track in self._tracks.items():
            if obj_id in exclude:
                continue
            w = self.weight(track, now)
            if w <= 0.0 or track.matte.shape != shape:
                continue
            presence = max(presence, w)
            part = track.matte if w >= 1.0 else track.matte * np.float32(w)
            combined = part.copy() if combined is None else np.maximum(combined, part, out=combined)
        if combined is None:
            combined = np.zeros(shape, np.float32)
        fallback = self.policy.fallback or ("keyed" if passthrough_level == 0.0 else "passthrough")
        target = passthrough_level if fallback == "passthrough" else 1.0 - passthrough_level
        if presence < 1.0 and target > 0.0:
            # lift towards 1 as the objects fade: 1 − p·(1 − union), and p·union = combined
            combined += np.float32(1.0 - presence)
        return combined

    def weighted(self, obj_id: int, now: float, shape: tuple[int, int]) -> np.ndarray | None:
        """One object's matte as shown now (held, or faded by its weight); None when it is
        not shown at all."""
        track = self._tracks.get(obj_id)
        if track is None or track.matte.shape != shape:
            return None
        w = self.weight(track, now)
        if w <= 0.0:
            return None
        return track.matte if w >= 1.0 else track.matte * np.float32(w)

    def mattes(self) -> tuple[tuple[int, np.ndarray], ...]:
        """Each object's last matte, by id (the held arrays themselves: read, never write)."""
        return tuple((obj_id, t.matte) for obj_id, t in sorted(self._tracks.items()))

    @property
    def object_ids(self) -> list[int]:
        return sorted(self._tracks)

    def _finish(self, res: ObjectResult, guide: np.ndarray | None) -> np.ndarray:
        """The panel's per-frame finishing, from the logits when the tracker kept them."""
        use_logits = res.logits is not None
        values = res.logits if use_logits else res.mask
        if self.ops.refine and guide is None:
            return self.ops.to_matte(values, logits=use_logits)
        return self.ops.apply(values, logits=use_logits, guide=guide if self.ops.refine else None)
