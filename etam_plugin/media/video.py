"""Frame-accurate random access to a video file with PyAV.

Opening scans every packet's timestamp once (no decoding, see :mod:`.probe`), so frame
``i`` is always the ``i``-th picture in presentation order, whatever the container's
clock. Reading frame ``i`` seeks to the last keyframe at or before it and decodes
forward, unless continuing from the previous read is cheaper (sequential reading never
seeks). Decoded pictures are kept in a small LRU cache bounded in frames *and* bytes, so
stepping backwards through a GOP is fast and a 10-minute 4K clip cannot fill memory.

Frames come out as uint8 RGB (H, W, 3) in **display orientation** (the rotation flag
applied) unless ``orientation="coded"``; ``info.width``/``info.height`` are the coded size
and ``info.display_width``/``display_height`` the displayed one; ``frame_size`` is what
this source returns. The pixel aspect ratio is reported, never resampled (mattes must
stay on the pixel grid of the frames).

Corrupt frames: a frame whose data cannot be decoded (or that the decoder flags corrupt)
raises :class:`CorruptFrameError` carrying its index; reading continues past it (the
next keyframe decodes cleanly; frames between may show the decoder's concealment).
``on_corrupt="conceal"`` returns the decoder's best picture instead (or, when it gives
none, the nearest earlier picture) and records the file frame in
:attr:`VideoFileSource.corrupt_frames`.

Thread safety: every method may be called from any thread; a lock serialises decoding
(one decoder per instance). For parallel decoding give each thread its own
:meth:`VideoFileSource.clone` (which shares the scan, not the decoder).
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import numpy as np

from etam_plugin.errors import CorruptFrameError, MediaError, VfrPolicyError
from etam_plugin.media.info import VideoInfo
from etam_plugin.media.probe import (
    FrameIndex,
    Progress,
    check_complete,
    open_container,
    scan,
    video_stream,
)
from etam_plugin.media.timecode import as_rate, seconds_to_frame
from etam_plugin.media.timing import ConformReport, conform_map

VfrPolicy = Literal["conform", "keep"]
VFR_POLICIES: tuple[str, ...] = ("conform", "keep")
DEFAULT_CACHE_BYTES = 256 * 1024 * 1024
DEFAULT_CACHE_FRAMES = 64

# swscale knows these YUV matrices (libswscale/swscale.h SWS_CS_*); others map to them.
_SWS_MATRIX = {1: 1, 4: 4, 5: 5, 6: 5, 7: 7, 9: 9, 10: 9}


class VideoFileSource:
    """A video file as a :class:`~etam_plugin.model.FrameSource` (``len(src)``, ``src[i]``).

    ``vfr``: required for variable-frame-rate files (else :class:`VfrPolicyError`):
    ``"conform"`` maps output frame ``k`` to the source frame shown at ``k / rate``
    (``conform_rate``, default the file's nominal rate; see :attr:`conform_report` for
    duplicates and drops), ``"keep"`` indexes every decoded frame with its own timestamp
    (:meth:`timestamp`). A constant-rate file needs no policy; ``vfr="conform"`` with a
    ``conform_rate`` resamples it too (e.g. 60p to a 30p timeline).
    ``allow_truncated``: open a cut-off file and read the frames that are complete.
    ``cache_frames``/``cache_bytes``: bounds of the decoded-frame cache.
    ``progress``: see :func:`~etam_plugin.media.probe.scan` (opening reads the whole file
    once; returning False from it cancels).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        vfr: VfrPolicy | None = None,
        conform_rate: Fraction | int | str | None = None,
        orientation: Literal["display", "coded"] = "display",
        cache_frames: int | None = None,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        on_corrupt: Literal["raise", "conceal"] = "raise",
        allow_truncated: bool = False,
        threads: int = 0,
        progress: Progress | None = None,
        _scanned: tuple[VideoInfo, FrameIndex] | None = None,
    ) -> None:
        path = Path(path)
        if vfr not in (None, *VFR_POLICIES):
            raise MediaError(f"vfr must be None, 'conform' or 'keep', got {vfr!r}", path=path)
        if orientation not in ("display", "coded"):
            raise MediaError(f"orientation must be 'display' or 'coded', got {orientation!r}")
        if on_corrupt not in ("raise", "conceal"):
            raise MediaError(f"on_corrupt must be 'raise' or 'conceal', got {on_corrupt!r}")
        file_info, index = _scanned if _scanned is not None else scan(path, progress=progress)
        if not allow_truncated:
            check_complete(file_info, index)
        self._options: dict = dict(
            vfr=vfr,
            conform_rate=conform_rate,
            orientation=orientation,
            cache_frames=cache_frames,
            cache_bytes=cache_bytes,
            on_corrupt=on_corrupt,
            allow_truncated=allow_truncated,
            threads=threads,
        )
        self._file_info = file_info
        self._index = index
        self.path = path
        self.orientation = orientation
        self.on_corrupt = on_corrupt
        self.conform_report: ConformReport | None = None
        self._map: np.ndarray | None = None
        policy: str | None = None
        rate = index.timing.rate
        if vfr == "conform" and conform_rate is not None:
            policy = "conform"  # resample any file to the rate asked for
            rate = as_rate(conform_rate)
            self._map, self.conform_report = conform_map(
                index.pts, index.end_pts, index.time_base, rate
            )
        elif index.timing.is_vfr:
            if vfr is None:
                raise VfrPolicyError(
                    f"{path} has a variable frame rate ({index.timing.detail}); open it with "
                    "vfr='conform' to resample it to a constant "
                    f"{float(rate):.6g} fps (duplicating or dropping frames), or vfr='keep' "
                    "to index every frame with its own timestamp",
                    path=path,
                    detail=index.timing.detail,
                )
            policy = vfr
            if vfr == "conform":
                self._map, self.conform_report = conform_map(
                    index.pts, index.end_pts, index.time_base, rate
                )
        self._rate = rate
        self._policy = policy
        n = len(self._map) if self._map is not None else len(index)
        self.info = dataclasses.replace(
            file_info, frame_count=n, frame_rate=rate, vfr_policy=policy
        )
        self._rotation_k = 0 if orientation == "coded" else file_info.rotation // 90
        if self._rotation_k % 2:
            self.frame_size = (file_info.width, file_info.height)
        else:
            self.frame_size = (file_info.height, file_info.width)
        self.corrupt_frames: set[int] = set()  # source positions flagged corrupt so far

        self._lock = threading.RLock()
        self._cache: OrderedDict[int, av.VideoFrame] = OrderedDict()
        self._cache_sizes: dict[int, int] = {}
        self._cache_total = 0
        self._cache_frames = cache_frames if cache_frames is not None else DEFAULT_CACHE_FRAMES
        self._cache_bytes = cache_bytes
        self._bad: dict[int, str] = {}  # positions whose packet failed to decode
        self._cursor: int | None = None  # position of the last decoded frame
        self._frames: Iterator[tuple[int, av.VideoFrame]] | None = None
        self._container = open_container(path)
        self._stream = video_stream(self._container, path)
        # Frame threading decodes ~2x faster, but after a decode error it loses the frames
        # still in flight; a cut-off file's ragged end decodes as probe verified it only
        # without it.
        self._stream.thread_type = "SLICE" if index.truncated else "AUTO"
        self._stream.thread_count = threads
        self._keyframe_set = frozenset(int(k) for k in index.keyframes)
        self.seeks = 0  # how many seeks reading took (for benchmarks and tests)
        self.decoded = 0  # how many pictures were decoded

    # -- FrameSource ----------------------------------------------------------------------

    def __len__(self) -> int:
        return self.info.frame_count

    def __getitem__(self, index: int) -> np.ndarray:
        """Frame ``index`` (0-based; negative counts from the end) as uint8 RGB (H, W, 3)."""
        i = self._checked_index(index)
        pos = int(self._map[i]) if self._map is not None else i
        with self._lock:
            try:
                frame = self._frame_at(pos, i)
            except CorruptFrameError:
                if self.on_corrupt != "conceal":
                    raise
                frame = self._stand_in(pos, i)
            # converted under the lock too: a cached frame carries its own swscale context,
            # and two threads converting the same frame at once crashed or hung PyAV
            return self._to_rgb(frame)

    def _stand_in(self, pos: int, index: int) -> av.VideoFrame:
        """``on_corrupt="conceal"`` for a picture the decoder gave nothing for: repeat the
        nearest earlier picture that decodes (a freeze, as editors do)."""
        self.corrupt_frames.add(pos)
        for earlier in range(pos - 1, max(-1, pos - 256), -1):
            try:
                return self._frame_at(earlier, index)
            except CorruptFrameError:
                self.corrupt_frames.add(earlier)
        raise self._missing(pos, index)

    def __iter__(self) -> Iterator[np.ndarray]:
        """Every frame in order, decoding straight through (no seeks)."""
        for i in range(len(self)):
            yield self[i]

    # -- time -------------------------------------------------------------------------

    @property
    def frame_rate(self) -> Fraction:
        return self._rate

    def timestamp(self, index: int) -> Fraction:
        """Seconds from the first frame to frame ``index``, exact (its own timestamp with
        ``vfr='keep'``, else ``index / frame_rate``)."""
        i = self._checked_index(index)
        if self._policy == "keep":
            return (int(self._index.pts[i]) - int(self._index.pts[0])) * self._index.time_base
        return Fraction(i) / self._rate

    def index_at(self, seconds: Fraction | float | int) -> int:
        """The frame on screen ``seconds`` after the first frame (IndexError outside)."""
        if self._policy == "keep":
            rel = (self._index.pts - self._index.pts[0]).astype(np.float64)
            rel *= float(self._index.time_base)
            i = int(np.searchsorted(rel, float(seconds) + 1e-9, side="right")) - 1
            end = float((self._index.end_pts - self._index.pts[0]) * self._index.time_base)
            if i < 0 or float(seconds) >= end:
                raise IndexError(f"{seconds} s is outside {self.path} (0..{end:.6g} s)")
            return i
        i = seconds_to_frame(seconds, self._rate)
        if not 0 <= i < len(self):
            raise IndexError(
                f"{seconds} s is outside {self.path} (0..{float(self.info.duration):.6g} s)"
            )
        return i

    def source_index(self, index: int) -> int:
        """The file's frame (presentation order) that output frame ``index`` shows."""
        i = self._checked_index(index)
        return int(self._map[i]) if self._map is not None else i

    # -- lifetime -----------------------------------------------------------------------

    def clone(self) -> VideoFileSource:
        """An independent reader of the same file with the same options (no re-scan)."""
        return VideoFileSource(self.path, **self._options, _scanned=(self._file_info, self._index))

    def close(self) -> None:
        with self._lock:
            self._cache.clear()
            self._cache_sizes.clear()
            self._cache_total = 0
            self._frames = None
            if self._container is not None:
                self._container.close()
                self._container = None

    def __enter__(self) -> VideoFileSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        i = self.info
        return (
            f"VideoFileSource({str(self.path)!r}, {len(self)} frames, "
            f"{self.frame_size[1]}×{self.frame_size[0]} @ {i.frame_rate} fps)"
        )

    # -- decoding -----------------------------------------------------------------------

    def _checked_index(self, index: int) -> int:
        n = len(self)
        i = int(index)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"frame {index} is outside {self.path} (0..{n - 1})")
        return i

    def _frame_at(self, pos: int, index: int) -> av.VideoFrame:
        if self._container is None:
            raise MediaError(f"{self.path} is closed", path=self.path, frame_index=index)
        frame = self._cache.get(pos)
        if frame is not None:
            self._cache.move_to_end(pos)
            return self._checked_frame(pos, index, frame)
        keyframe = self._index.keyframe_before(pos)
        if self._frames is None or self._cursor is None or pos <= self._cursor:
            return self._seek_and_decode(pos, index, keyframe)
        if keyframe > self._cursor + 1:  # jumping ahead beats decoding the gap
            return self._seek_and_decode(pos, index, keyframe)
        found = self._decode_until(pos, index)
        if found is not None:
            return found
        return self._seek_and_decode(pos, index, keyframe)

    def _seek_and_decode(self, pos: int, index: int, keyframe: int) -> av.VideoFrame:
        """Seek to ``keyframe`` and decode to ``pos``; if the demuxer lands after ``pos``
        (its seek index disagrees with ours), try earlier keyframes, then the start."""
        starts = [int(k) for k in self._index.keyframes if k <= keyframe][::-1]
        for start in [*starts, 0]:
            self._seek(start)
            found = self._decode_until(pos, index)
            if found is not None:
                return found
        raise self._missing(pos, index)

    def _seek(self, start: int) -> None:
        """Seek to the keyframe at position ``start``. Pictures before it that come out
        after the seek are skipped: they were decoded without their references.

        Demuxers that seek by estimate (MPEG-TS, MPEG-PS) may land after the keyframe:
        the first packet shows it, and the seek is retried further back (half a second,
        then doubling); at the first keyframe the file is read from its first byte."""
        assert self._container is not None
        self.seeks += 1
        self._frames = None
        self._cursor = None
        first_pts = int(self._index.pts[0])
        half_second = max(1, int(Fraction(1, 2) / self._stream.time_base))
        back = 0
        landed: int | None = 0
        while True:
            target = int(self._index.pts[start]) - back
            if start == 0 or target <= first_pts:
                self._reopen()
                packets = self._container.demux(self._stream)
                landed = 0
                break
            self._container.seek(target, stream=self._stream, backward=True, any_frame=False)
            packets = self._container.demux(self._stream)
            head: list[av.Packet] = []
            for packet in packets:
                head.append(packet)
                if self._packet_ts(packet) is not None:
                    break
            landed = self._index.position_of(self._packet_ts(head[-1])) if head else None
            if self._usable_landing(landed, start):
                packets = itertools.chain(head, packets)
                break
            back = max(2 * back, half_second)  # landed late: further back
        self._frames = self._decode_stream(packets, floor=start, origin=landed)

    def _usable_landing(self, landed: int | None, start: int) -> bool:
        """Whether decoding from where a seek landed reaches keyframe ``start`` intact.
        Counting pictures (``by_order``) needs a landing on a known keyframe."""
        if self._index.by_order:
            return landed is not None and landed <= start and landed in self._keyframe_set
        return landed is None or landed <= start

    def _packet_ts(self, packet: av.Packet) -> int | None:
        """The packet's timestamp as the index keeps it."""
        return packet.dts if self._index.uses_dts else packet.pts

    def _reopen(self) -> None:
        """A fresh demuxer and decoder at the first byte of the file."""
        assert self._container is not None
        self._container.close()
        self._container = open_container(self.path)
        self._stream = video_stream(self._container, self.path)
        self._stream.thread_type = "SLICE" if self._index.truncated else "AUTO"
        self._stream.thread_count = self._options["threads"]

    def _decode_until(self, pos: int, index: int) -> av.VideoFrame | None:
        """Decode forward to ``pos``. None when the decoder started after it (overshoot);
        raises when ``pos`` is skipped or the file ends first."""
        assert self._frames is not None
        for got, frame in self._frames:
            if self._cursor is None and got > pos:
                self._cursor = got
                return None  # landed after the target: seek earlier
            self._cursor = got
            if got == pos:
                return self._checked_frame(pos, index, frame)
            if got > pos:
                raise self._missing(pos, index)
        self._frames = None
        if self._cursor is None:
            return None  # nothing decoded since the seek (it landed late): seek earlier
        self._cursor = None
        raise self._missing(pos, index)

    def _decode_stream(
        self, packets: Iterable[av.Packet], floor: int, origin: int | None
    ) -> Iterator[tuple[int, av.VideoFrame]]:
        """(position, picture) for each picture decoded from ``packets``, from ``floor`` on.
        A picture's position comes from its timestamp, or (``by_order``) from its place in
        the output since the keyframe at ``origin`` where the demuxer landed."""
        counted = origin if self._index.by_order else None
        for packet in packets:
            try:
                frames = packet.decode()
            except av.error.FFmpegError as exc:
                if counted is not None:  # the damaged picture still takes its place
                    bad, counted = counted, counted + 1
                else:
                    bad = self._index.position_of(packet.pts)
                if bad is not None:
                    self._bad[bad] = exc.strerror or type(exc).__name__
                continue
            for frame in frames:
                if counted is not None:
                    got, counted = counted, counted + 1
                else:
                    got = self._index.position_of(frame.pts if frame.pts is not None else frame.dts)
                if got is None or got < floor:
                    continue
                self.decoded += 1
                if frame.is_corrupt:
                    self.corrupt_frames.add(got)
                self._remember(got, frame)
                yield got, frame

    def _remember(self, pos: int, frame: av.VideoFrame) -> None:
        size = sum(p.buffer_size for p in frame.planes)
        if pos in self._cache:
            self._cache_total -= self._cache_sizes[pos]
        self._cache[pos] = frame
        self._cache.move_to_end(pos)
        self._cache_sizes[pos] = size
        self._cache_total += size
        while self._cache and (
            len(self._cache) > self._cache_frames or self._cache_total > self._cache_bytes
        ):
            old, _ = self._cache.popitem(last=False)
            self._cache_total -= self._cache_sizes.pop(old)

    def _checked_frame(self, pos: int, index: int, frame: av.VideoFrame) -> av.VideoFrame:
        if pos in self.corrupt_frames and self.on_corrupt == "raise":
            raise CorruptFrameError(
                self._corrupt_message(index, pos, "the decoder flagged it as damaged"),
                path=self.path,
                frame_index=index,
                reason="flagged corrupt",
            )
        size = (self._file_info.width, self._file_info.height)
        if (frame.width, frame.height) != size:  # a damaged header mid-stream
            raise CorruptFrameError(
                self._corrupt_message(
                    index,
                    pos,
                    f"it decodes at {frame.width}×{frame.height}, not {size[0]}×{size[1]}",
                ),
                path=self.path,
                frame_index=index,
                reason="size changed",
            )
        return frame

    def _missing(self, pos: int, index: int) -> CorruptFrameError:
        reason = self._bad.get(pos)
        why = f"its data is damaged ({reason})" if reason else "the decoder produced no picture"
        return CorruptFrameError(
            self._corrupt_message(index, pos, why),
            path=self.path,
            frame_index=index,
            reason="undecodable" if reason else "missing",
        )

    def _corrupt_message(self, index: int, pos: int, why: str) -> str:
        where = f"frame {index}" + (f" (file frame {pos})" if pos != index else "")
        return f"{where} of {self.path} cannot be decoded: {why}; other frames are still readable"

    def _to_rgb(self, frame: av.VideoFrame) -> np.ndarray:
        fmt = frame.format
        kwargs: dict[str, object] = {}
        if not fmt.is_rgb:
            matrix = _SWS_MATRIX.get(int(frame.colorspace))
            if matrix is None:  # untagged: what players assume (HD → BT.709)
                matrix = 1 if max(frame.width, frame.height) >= 1280 else 5
            kwargs["src_colorspace"] = av.video.reformatter.Colorspace(matrix)
            full = int(frame.color_range) == 2 or fmt.name.startswith("yuvj")
            kwargs["src_color_range"] = av.video.reformatter.ColorRange(2 if full else 1)
        rgb = frame.to_ndarray(format="rgb24", **kwargs)
        if self._rotation_k:
            rgb = np.ascontiguousarray(np.rot90(rgb, self._rotation_k))
        return rgb
