"""Stage 1: frames from a camera, a video file (looped) or a stream URL, through OpenCV.

A capture thread reads as fast as the source delivers (a local file is paced to its frame
rate, as a camera would be) and hands each frame to size-1 slots: a reader that is behind gets
the newest frame, never a backlog. When the source fails (camera unplugged, file gone) the
thread reports it and reopens it with backoff; the stream resumes when the source returns.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from etam_plugin.errors import CaptureError
from etam_plugin.obs_bridge.backoff import Backoff
from etam_plugin.obs_bridge.slots import LatestSlot, SlotClosed
from etam_plugin.obs_bridge.stats import StageStats

log = logging.getLogger(__name__)

SourceSpec = int | str
"""A camera index (``0``), a device path (``/dev/video2``), a video file or a URL."""

_URL_PREFIXES = ("rtsp://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")


def parse_source(text: str | int) -> SourceSpec:
    """``"0"`` → camera index 0; anything else is a path or URL, kept as given."""
    if isinstance(text, int):
        return text
    stripped = text.strip()
    if stripped.isdigit():
        return int(stripped)
    if not stripped:
        raise CaptureError("empty capture source: give a camera index, device path, file or URL")
    return stripped


@dataclass(frozen=True)
class Frame:
    """One captured frame.

    ``seq`` counts frames delivered by the capture stage (1, 2, …, across reopenings);
    ``t_capture`` is ``time.monotonic()`` when it was read; ``rgb`` is uint8 (H, W, 3);
    ``source_index`` is the frame's position in the source since it was last (re)opened
    (for a looping file: the frame number in the file).
    """

    seq: int
    t_capture: float
    rgb: np.ndarray
    source_index: int


class VideoSource:
    """An OpenCV ``VideoCapture`` with the bridge's policies: size/fps requests, clear errors.

    ``open()`` also reads the first frame, so a file that opens but cannot be decoded fails
    there with a :class:`CaptureError` instead of producing an empty stream.
    """

    def __init__(
        self,
        source: SourceSpec,
        *,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        fourcc: str | None = None,
    ) -> None:
        self.source = source
        self.requested_size = (width, height) if width and height else None
        self.requested_fps = fps
        self.fourcc = fourcc
        self._cap: cv2.VideoCapture | None = None
        self._first: np.ndarray | None = None
        self.index = 0
        self.fps = 0.0

    @property
    def is_file(self) -> bool:
        """A local file: paced to its frame rate and looped at its end."""
        return isinstance(self.source, str) and not (
            self.source.startswith(_URL_PREFIXES) or self.source.startswith("/dev/")
        )

    @property
    def is_open(self) -> bool:
        return self._cap is not None

    def describe(self) -> str:
        if isinstance(self.source, int):
            return f"camera {self.source}"
        return self.source if not self.is_file else f"video file {self.source}"

    def open(self) -> None:
        """Open the source and read its first frame; raises :class:`CaptureError`."""
        self.close()
        if self.is_file and not Path(self.source).is_file():
            raise CaptureError(f"{self.describe()} does not exist", source=self.source)
        cap = cv2.VideoCapture(self.source)
        if not cap.isOpened():
            cap.release()
            raise CaptureError(f"cannot open {self.describe()}", source=self.source)
        if not self.is_file:
            # Keep the driver's own queue minimal: stale frames there are latency.
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
            if self.fourcc:
                cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*self.fourcc))
            if self.requested_size:
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.requested_size[0])
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.requested_size[1])
            if self.requested_fps:
                cap.set(cv2.CAP_PROP_FPS, self.requested_fps)
        ok, bgr = cap.read()
        if not ok or bgr is None:
            cap.release()
            raise CaptureError(
                f"{self.describe()} opened but no frame could be read "
                "(unsupported or corrupt media, or the device is busy)",
                source=self.source,
            )
        nominal = cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(self.requested_fps or (nominal if 0 < nominal < 1000 else 30.0))
        self._cap = cap
        self._first = bgr
        self.index = 0

    def read(self) -> np.ndarray | None:
        """The next frame as uint8 RGB, or ``None`` when the source ended or failed."""
        if self._cap is None:
            return None
        if self._first is not None:
            bgr, self._first = self._first, None
        else:
            ok, bgr = self._cap.read()
            if not ok or bgr is None:
                return None
            self.index += 1
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        self._first = None


@dataclass(frozen=True)
class CaptureStatus:
    """What the capture stage is doing, for the status line and the stats file."""

    state: str  # "running" | "reconnecting" | "ended" | "stopped"
    source: str
    last_error: str | None
    reopen_count: int
    latest_index: int


class CaptureThread(threading.Thread):
    """Reads ``source`` into ``slots`` until stopped; reopens it with backoff when it fails.

    ``size`` (width, height) fixes the delivered frame size: a camera that comes back at
    another resolution is resized, so downstream buffers (the stream to OBS) never change
    shape. ``loop`` restarts a file at its end by reopening it — which also notices a file
    that was removed meanwhile.
    """

    def __init__(
        self,
        source: VideoSource,
        slots: Sequence[LatestSlot[Frame]],
        *,
        size: tuple[int, int],
        loop: bool = True,
        backoff: Backoff | None = None,
        stats: StageStats | None = None,
        on_error: Callable[[CaptureError], None] | None = None,
        stall_s: float = 2.0,
    ) -> None:
        super().__init__(name="etam-capture", daemon=True)
        self.source = source
        self.slots = list(slots)
        self.size = size
        self.loop = loop
        self.backoff = backoff or Backoff(initial=0.25, maximum=4.0)
        self.stats = stats or StageStats("capture")
        self.on_error = on_error
        self._stop_event = threading.Event()
        self._lock = threading.Lock()
        self._state = "running"
        self._last_error: str | None = None
        self._reopen_count = 0
        self._latest_index = -1
        self._last_frame_t = time.monotonic()
        self._seq = 0
        self.stall_s = stall_s

    # -- control -------------------------------------------------------------------------
    def stop(self) -> None:
        self._stop_event.set()

    def status(self) -> CaptureStatus:
        """The state; ``stalled`` when a running source has sent nothing for ``stall_s``
        (a driver can block inside a read when a camera is pulled, so no error comes)."""
        with self._lock:
            state, error = self._state, self._last_error
            quiet = time.monotonic() - self._last_frame_t
            if state == "running" and quiet > self.stall_s:
                state = "stalled"
                error = f"no frame from {self.source.describe()} for {quiet:.1f} s"
            return CaptureStatus(
                state=state,
                source=self.source.describe(),
                last_error=error,
                reopen_count=self._reopen_count,
                latest_index=self._latest_index,
            )

    @property
    def latest_index(self) -> int:
        """The source index of the newest frame read (the file's frame number)."""
        return self._latest_index

    # -- loop ----------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._run()
        except SlotClosed:
            pass
        finally:
            self.source.close()
            with self._lock:
                if self._state != "ended":
                    self._state = "stopped"

    def _run(self) -> None:
        due = time.monotonic()
        while not self._stop_event.is_set():
            if not self.source.is_open and not self._reopen():
                continue
            t0 = time.perf_counter()
            rgb = self.source.read()
            if rgb is None:
                self.source.close()
                if self.source.is_file:
                    if self.loop:
                        continue  # reopen at the top: restarts the file, notices removal
                    with self._lock:
                        self._state = "ended"
                    return
                self._fail(
                    CaptureError(
                        f"{self.source.describe()} stopped delivering frames",
                        source=self.source.source,
                    )
                )
                continue
            if (rgb.shape[1], rgb.shape[0]) != self.size:
                rgb = cv2.resize(rgb, self.size, interpolation=cv2.INTER_AREA)
            now = time.monotonic()
            self._seq += 1
            frame = Frame(self._seq, now, rgb, self.source.index)
            with self._lock:
                self._latest_index = self.source.index
                self._last_frame_t = now
            for slot in self.slots:
                slot.put(frame)
            self.stats.record((time.perf_counter() - t0) * 1000.0, now)
            if self.source.is_file:
                due = self._pace(due)

    def _pace(self, due: float) -> float:
        """Sleep until the next frame is due at the file's rate; never burst to catch up."""
        period = 1.0 / max(self.source.fps, 1e-3)
        due += period
        delay = due - time.monotonic()
        if delay > 0:
            self._stop_event.wait(delay)
            return due
        return time.monotonic() if delay < -period else due

    def _reopen(self) -> bool:
        try:
            self.source.open()
        except CaptureError as exc:
            self._fail(exc)
            return False
        with self._lock:
            if self._state == "reconnecting":
                log.info("capture: %s is back", self.source.describe())
                self._reopen_count += 1
            self._state = "running"
            self._last_error = None
        self.backoff.reset()
        return True

    def _fail(self, exc: CaptureError) -> None:
        with self._lock:
            first = self._state != "reconnecting"
            self._state = "reconnecting"
            self._last_error = str(exc)
        self.stats.error()
        if first:
            log.warning("capture: %s; retrying", exc)
            if self.on_error is not None:
                self.on_error(exc)
        self._stop_event.wait(self.backoff.next_delay())
