"""Playhead, in/out range and J/K/L shuttle, as editors know them from their NLE.

J plays backward and L forward; pressing the same key again doubles the speed (up to
``MAX_SPEED``), the other key first slows down through zero as in Avid/Premiere/Resolve;
K stops. ``tick()`` advances playback by one step and is called by a timer at the clip rate.
"""

from __future__ import annotations

from etam_plugin.gui.components.events import Event

MAX_SPEED = 8


class Transport:
    """Emits ``frame_changed(index)``, ``range_changed(in, out)``, ``speed_changed(speed)``."""

    def __init__(self, num_frames: int = 0) -> None:
        self.frame_changed = Event()
        self.range_changed = Event()
        self.speed_changed = Event()
        self._num_frames = 0
        self._current = 0
        self._in = 0
        self._out = -1
        self._speed = 0
        self.loop = False  # playback inside in–out wraps around (shots are judged on a loop)
        self.reset(num_frames)

    # -- state ---------------------------------------------------------------------------
    @property
    def num_frames(self) -> int:
        return self._num_frames

    @property
    def current(self) -> int:
        return self._current

    @property
    def in_point(self) -> int:
        return self._in

    @property
    def out_point(self) -> int:
        return self._out

    @property
    def speed(self) -> int:
        """Frames advanced per tick: negative backward, 0 stopped."""
        return self._speed

    @property
    def playing(self) -> bool:
        return self._speed != 0

    def reset(self, num_frames: int) -> None:
        """A new clip: playhead at 0, range = whole clip, stopped."""
        if num_frames < 0:
            raise ValueError("num_frames must be >= 0")
        self._num_frames = num_frames
        self._set_speed(0)
        self._in, self._out = 0, max(num_frames - 1, 0)
        self.range_changed.emit(self._in, self._out)
        self._current = -1
        self.seek(0)

    # -- moves ---------------------------------------------------------------------------
    def seek(self, index: int) -> None:
        index = self._clamp(index)
        if index != self._current:
            self._current = index
            self.frame_changed.emit(index)

    def step(self, delta: int) -> None:
        """Move ``delta`` frames (←/→); stops playback as NLEs do."""
        self._set_speed(0)
        self.seek(self._current + delta)

    def go_start(self) -> None:
        self._set_speed(0)
        self.seek(0)

    def go_end(self) -> None:
        self._set_speed(0)
        self.seek(self._num_frames - 1)

    def set_in(self, index: int | None = None) -> None:
        """Set the in point (I); an in point after the out point moves the out point too."""
        index = self._current if index is None else self._clamp(index)
        self._in = index
        self._out = max(self._out, index)
        self.range_changed.emit(self._in, self._out)

    def set_out(self, index: int | None = None) -> None:
        """Set the out point (O); an out point before the in point moves the in point too."""
        index = self._current if index is None else self._clamp(index)
        self._out = index
        self._in = min(self._in, index)
        self.range_changed.emit(self._in, self._out)

    def clear_range(self) -> None:
        self._in, self._out = 0, max(self._num_frames - 1, 0)
        self.range_changed.emit(self._in, self._out)

    # -- shuttle -------------------------------------------------------------------------
    def shuttle_forward(self) -> None:
        """L: start forward play, double the speed, or slow a backward shuttle."""
        s = self._speed
        self._set_speed(1 if s == 0 else min(s * 2, MAX_SPEED) if s > 0 else _toward_zero(s))

    def shuttle_backward(self) -> None:
        """J: the mirror of :meth:`shuttle_forward`."""
        s = self._speed
        self._set_speed(-1 if s == 0 else max(s * 2, -MAX_SPEED) if s < 0 else _toward_zero(s))

    def stop(self) -> None:
        """K."""
        self._set_speed(0)

    def tick(self) -> bool:
        """Advance playback by one step; stops at the clip ends, or with ``loop`` wraps
        around in–out when playing inside it. Returns whether still playing."""
        if self._speed == 0 or self._num_frames == 0:
            return False
        target = self._current + self._speed
        if self.loop and self._in <= self._current <= self._out:
            span = self._out - self._in + 1
            self.seek(self._in + (target - self._in) % span)
            return True
        if target < 0 or target > self._num_frames - 1:
            self.seek(target)
            self._set_speed(0)
            return False
        self.seek(target)
        return True

    def _set_speed(self, speed: int) -> None:
        if speed != self._speed:
            self._speed = speed
            self.speed_changed.emit(speed)

    def _clamp(self, index: int) -> int:
        return max(0, min(int(index), max(self._num_frames - 1, 0)))


def _toward_zero(speed: int) -> int:
    """One shuttle press against the direction: halve the speed; from ±1 stop."""
    return 0 if abs(speed) == 1 else speed // 2 if speed > 0 else -((-speed) // 2)
