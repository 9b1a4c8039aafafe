"""Read a video file's properties and frame timestamps with PyAV, in one demux pass.

:func:`scan` reads every packet's timestamps (no decoding, except the first frame to learn
its rotation and check the codec works), which gives the exact frame count in
presentation order, the keyframes for seeking, the constant rate or VFR, and a truncated
file's missing tail. :func:`probe` returns just the :class:`VideoInfo`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from etam_plugin.errors import (
    CancelledError,
    MediaError,
    MediaNotFoundError,
    NoVideoStreamError,
    TruncatedMediaError,
    UndecodableMediaError,
    UnsupportedMediaError,
)
from etam_plugin.media.info import VideoInfo
from etam_plugin.media.timing import Timing, analyse

# FFmpeg's names for its colour enums (libavutil/pixdesc.c), as ffprobe prints them.
COLOR_RANGES = {1: "tv", 2: "pc"}
COLOR_PRIMARIES = {
    1: "bt709", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "film",
    9: "bt2020", 10: "smpte428", 11: "smpte431", 12: "smpte432", 22: "ebu3213",
}  # fmt: skip
COLOR_TRCS = {
    1: "bt709", 4: "gamma22", 5: "gamma28", 6: "smpte170m", 7: "smpte240m", 8: "linear",
    9: "log100", 10: "log316", 11: "iec61966-2-4", 12: "bt1361e", 13: "iec61966-2-1",
    14: "bt2020-10", 15: "bt2020-12", 16: "smpte2084", 17: "smpte428", 18: "arib-std-b67",
}  # fmt: skip
COLOR_SPACES = {
    0: "gbr", 1: "bt709", 4: "fcc", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m",
    8: "ycgco", 9: "bt2020nc", 10: "bt2020c", 11: "smpte2085", 12: "chroma-derived-nc",
    13: "chroma-derived-c", 14: "ictcp",
}  # fmt: skip
_ATTACHED_PIC = 1024  # AV_DISPOSITION_ATTACHED_PIC: cover art, not video

Progress = Callable[[int, int], "bool | None"]


@dataclass(frozen=True)
class FrameIndex:
    """Every frame's presentation timestamp (stream ticks, ascending), and where to seek.

    ``keyframes`` are the positions (into ``pts``) of frames a decoder can start at.
    ``end_pts`` is where the last frame ends. ``timing`` holds the rate analysis.
    ``truncated`` says why the file looks cut off (None when it looks complete), with
    ``expected_frames`` when its header says how many frames it should have.
    """

    pts: np.ndarray
    keyframes: np.ndarray
    end_pts: int
    time_base: Fraction
    timing: Timing
    truncated: str | None = None
    expected_frames: int | None = None
    by_order: bool = False
    """A decoded picture's position is its place in the decoder's output since a keyframe,
    not its timestamp: AVI (no presentation times stored) and files where two frames
    share a timestamp (both are frames: ffmpeg decodes both)."""
    uses_dts: bool = False
    """``pts`` holds decode timestamps (AVI)."""

    def __len__(self) -> int:
        return len(self.pts)

    def position_of(self, pts: int | None) -> int | None:
        """The frame position of timestamp ``pts`` (None if no frame has it)."""
        if pts is None:
            return None
        i = int(np.searchsorted(self.pts, pts))
        return i if i < len(self.pts) and self.pts[i] == pts else None

    def keyframe_before(self, position: int) -> int:
        """Position of the last keyframe at or before ``position`` (0 if there is none)."""
        k = int(np.searchsorted(self.keyframes, position, side="right")) - 1
        return int(self.keyframes[k]) if k >= 0 else 0


def open_container(path: Path) -> av.container.InputContainer:
    """``av.open`` with its failures turned into specific :class:`MediaError`s."""
    if not path.exists():
        raise MediaNotFoundError(f"{path} does not exist", path=path)
    if path.is_dir():
        raise UnsupportedMediaError(
            f"{path} is a folder; to read an image sequence use open_source() or "
            "ImageSequenceSource",
            path=path,
        )
    try:
        size = path.stat().st_size
        if size == 0:
            raise UnsupportedMediaError(f"{path} is empty (0 bytes)", path=path)
        return av.open(str(path), mode="r", metadata_errors="ignore")
    except PermissionError:
        raise MediaError(f"{path} cannot be read: permission denied", path=path) from None
    except av.error.FFmpegError as exc:
        with path.open("rb") as f:
            head = f.read(12)
        if head[4:8] == b"ftyp":  # ISO-BMFF (MP4/MOV) that FFmpeg cannot open
            raise TruncatedMediaError(
                f"{path} is an MP4/MOV file whose index (moov atom) is missing or damaged: "
                "the recording was most likely cut off before it was finished",
                path=path,
            ) from None
        raise UnsupportedMediaError(
            f"{path} is not a video file FFmpeg can read ({exc.strerror or exc})", path=path
        ) from None


def video_stream(container: av.container.InputContainer, path: Path) -> av.VideoStream:
    videos = [s for s in container.streams.video if not int(s.disposition) & _ATTACHED_PIC]
    if not videos:
        kinds = tuple(
            sorted(
                {
                    "cover art" if int(s.disposition) & _ATTACHED_PIC else str(s.type)
                    for s in container.streams
                }
            )
        )
        has = ", ".join(kinds) if kinds else "no streams"
        raise NoVideoStreamError(
            f"{path} has no video stream (it has: {has})", path=path, streams=kinds
        )
    stream = videos[0]
    if stream.codec_context is None:
        raise UndecodableMediaError(
            f"{path}: the video codec is unknown to FFmpeg, so it cannot be decoded",
            path=path,
            codec="unknown",
        )
    return stream


def _timecode(container: av.container.InputContainer, stream: av.VideoStream) -> str | None:
    for meta in (stream.metadata, container.metadata, *(s.metadata for s in container.streams)):
        value = meta.get("timecode")
        if value:
            return str(value).strip()
    return None


def _rotation(frame: av.VideoFrame) -> int:
    angle = frame.rotation or 0
    return round(angle / 90.0) * 90 % 360


def scan(path: str | Path, *, progress: Progress | None = None) -> tuple[VideoInfo, FrameIndex]:
    """Demux ``path`` once and describe its video stream; see the module docstring.

    ``progress(done_bytes, total_bytes)`` is called as the file is read (a long file takes
    a while: every packet is read, none decoded); returning False cancels with
    :class:`CancelledError`.

    Raises :class:`MediaNotFoundError`, :class:`UnsupportedMediaError`,
    :class:`NoVideoStreamError`, :class:`UndecodableMediaError`, or
    :class:`TruncatedMediaError` when not even the header is readable. A file cut off
    later scans fine: ``index.truncated`` says so (see :func:`check_complete`).
    """
    path = Path(path)
    container = open_container(path)
    try:
        return _scan(container, path, progress)
    finally:
        container.close()


def _scan(
    container: av.container.InputContainer, path: Path, progress: Progress | None
) -> tuple[VideoInfo, FrameIndex]:
    stream = video_stream(container, path)
    codec = stream.codec_context.codec.canonical_name
    time_base = stream.time_base
    if time_base is None:
        raise UnsupportedMediaError(f"{path}: the video stream has no time base", path=path)
    pts_list: list[int] = []
    key_list: list[bool] = []
    corrupt_tail = False
    last_end: int | None = None
    other_end_s = 0.0  # where the other streams end, to tell a cut-off file
    first_frame = None
    decode_error: Exception | None = None
    demux_failed = False
    discarded = 0
    # AVI stores frames in decode order with decode times only; the pts libavformat guesses
    # for B-frames are wrong (frame 3 came back as frame 1), so frames are counted instead.
    uses_dts = "avi" in container.format.name.split(",")
    try:
        total = path.stat().st_size
        for count, packet in enumerate(container.demux()):
            if progress is not None and count % 256 == 0 and packet.pos is not None:
                done = min(int(packet.pos), total)
                if progress(done, total) is False:
                    raise CancelledError(f"reading {path} was cancelled")
            if packet.stream is not stream:
                if packet.pts is not None and packet.stream.time_base is not None:
                    end = packet.pts + (packet.duration or 0)
                    other_end_s = max(other_end_s, float(end * packet.stream.time_base))
                continue
            if packet.size == 0:  # the flush packet at the end
                if first_frame is None and decode_error is None:
                    first_frame = _decode_first(packet)
                continue
            if packet.is_discard:  # hidden by an edit list (a stream-copy trim's lead-in)
                discarded += 1
                continue
            ts = packet.dts if uses_dts else packet.pts if packet.pts is not None else packet.dts
            if ts is None:
                raise UnsupportedMediaError(
                    f"{path} is a raw {codec} stream without timestamps; frame-accurate "
                    f"reading needs a container: remux it with `ffmpeg -i {path.name} "
                    f"-c copy {path.stem}.mkv`",
                    path=path,
                )
            corrupt_tail = bool(packet.is_corrupt)  # a partial last packet of a cut-off file
            pts_list.append(int(ts))
            key_list.append(bool(packet.is_keyframe))
            end = int(ts) + int(packet.duration or 0)
            last_end = end if last_end is None else max(last_end, end)
            if first_frame is None and decode_error is None:
                try:
                    first_frame = _decode_first(packet)
                except av.error.FFmpegError as exc:
                    decode_error = exc
    except av.error.FFmpegError:
        demux_failed = True  # the demuxer gave up part way: the rest cannot be read
    if corrupt_tail and len(pts_list) > 1:
        pts_list.pop()
        key_list.pop()
    if not pts_list:
        raise UnsupportedMediaError(f"{path}: the video stream has no frames", path=path)
    if first_frame is None:
        detail = f": {decode_error}" if decode_error else ""
        raise UndecodableMediaError(
            f"{path}: no frame of its {codec} video could be decoded{detail}",
            path=path,
            codec=codec,
        )

    order = np.argsort(np.asarray(pts_list, dtype=np.int64), kind="stable")
    pts = np.asarray(pts_list, dtype=np.int64)[order]
    keyflags = np.asarray(key_list, dtype=bool)[order]
    by_order = uses_dts or bool(np.any(pts[1:] == pts[:-1]))  # shared timestamps
    hints = [stream.base_rate, stream.guessed_rate, stream.average_rate]
    timing = analyse(pts, time_base, [Fraction(h) if h else None for h in hints])
    step = max(1, round(1 / (timing.rate * time_base)))
    end_pts = int(pts[-1]) + step
    if last_end is not None and not corrupt_tail and last_end > pts[-1] and not uses_dts:
        end_pts = int(last_end)
    keyframes = np.flatnonzero(keyflags)
    if not len(keyframes):
        keyframes = np.array([0], dtype=np.int64)

    expected = int(stream.frames or 0) - discarded or None
    truncated = None
    if expected and len(pts) < expected and not _header_counts_ticks(container, timing, pts):
        truncated = f"its header lists {expected} frames"
    elif corrupt_tail or demux_failed:
        truncated = "its data stops part-way through a frame"
    elif container.duration:
        declared = container.duration / 1_000_000
        start = float(container.start_time or 0) / 1_000_000
        video_end = float(end_pts * time_base)
        reached = max(video_end, other_end_s)  # an end time on the stream clock
        # Containers disagree on whether "duration" counts from 0 or from the start
        # time; a file is short only if it is short either way.
        if reached < declared - max(0.5, 2 * float(1 / timing.rate)):
            reached -= start
            truncated = f"it stops at {reached:.2f} s of the {declared:.2f} s its header declares"
    if truncated:
        # A cut-off file loses its last GOP ragged: frames decoded late but shown early
        # (B-frames) are missing or lack the frame they refer to. Keep the prefix that
        # really decodes.
        pts, keyframes = _decodable_prefix(container, stream, pts, keyframes)
        if timing.is_vfr:
            pts, keyframes, timing, end_pts = _complete_prefix(pts, keyframes, time_base, timing)
        else:
            end_pts = int(pts[-1]) + step
    index = FrameIndex(
        pts,
        keyframes,
        end_pts,
        Fraction(time_base),
        timing,
        truncated,
        expected,
        by_order,
        uses_dts,
    )

    cc = stream.codec_context
    pix_fmt = cc.format.name if cc.format is not None else first_frame.format.name
    try:
        bit_depth = int(av.VideoFormat(pix_fmt).components[0].bits)
    except (ValueError, IndexError):
        bit_depth = 8
    sar = stream.sample_aspect_ratio or cc.sample_aspect_ratio
    info = VideoInfo(
        path=path,
        width=int(cc.width or first_frame.width),
        height=int(cc.height or first_frame.height),
        frame_count=len(pts),
        frame_rate=timing.rate,
        start_timecode=_timecode(container, stream),
        sample_aspect_ratio=Fraction(sar) if sar else Fraction(1),
        rotation=_rotation(first_frame),
        pix_fmt=pix_fmt,
        codec=codec,
        color_range=COLOR_RANGES.get(int(cc.color_range)),
        color_space=COLOR_SPACES.get(int(cc.colorspace)),
        color_primaries=COLOR_PRIMARIES.get(int(cc.color_primaries)),
        color_trc=COLOR_TRCS.get(int(cc.color_trc)),
        is_vfr=timing.is_vfr,
        time_base=Fraction(time_base),
        start_pts=int(pts[0]),
        codec_profile=stream.profile,
        bit_depth=bit_depth,
        has_audio=any(s.type == "audio" for s in container.streams),
        container=container.format.name,
    )
    return info, index


def _decodable_prefix(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    pts: np.ndarray,
    keyframes: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Decode the last GOP of a cut-off file and cut the index at its first frame that
    does not come out."""
    start = int(keyframes[-1])
    container.seek(int(pts[start]), stream=stream, backward=True, any_frame=False)
    seen: set[int] = set()
    try:
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                continue
            for frame in frames:
                ts = frame.pts if frame.pts is not None else frame.dts
                if ts is not None and not frame.is_corrupt:
                    seen.add(int(ts))
    except av.error.FFmpegError:
        pass
    cut = len(pts)
    for pos in range(start, len(pts)):
        if int(pts[pos]) not in seen:
            cut = pos
            break
    cut = max(cut, 1)
    return pts[:cut], keyframes[keyframes < cut]


def _complete_prefix(
    pts: np.ndarray, keyframes: np.ndarray, time_base: Fraction, timing: Timing
) -> tuple[np.ndarray, np.ndarray, Timing, int]:
    t = (pts - pts[0]).astype(np.float64) * float(time_base) * float(timing.rate)
    off_grid = np.flatnonzero(np.rint(t) != np.arange(len(pts)))
    cut = int(off_grid[0]) if len(off_grid) else len(pts)
    if cut < 2:
        return pts, keyframes, timing, int(pts[-1]) + 1
    prefix = pts[:cut]
    fixed = analyse(prefix, time_base, [timing.rate])
    step = max(1, round(1 / (fixed.rate * time_base)))
    return prefix, keyframes[keyframes < cut], fixed, int(prefix[-1]) + step


def _header_counts_ticks(container: av.container.InputContainer, timing, pts: np.ndarray) -> bool:
    """An AVI remuxed by ffmpeg lists its length in time-base ticks, not frames (80 for
    40 frames at 1/50): the header's duration, when the frames found fill it, says so."""
    if not container.duration:
        return False
    declared = Fraction(container.duration, 1_000_000) * timing.rate
    return len(pts) >= math.floor(declared) - 1


def check_complete(info: VideoInfo, index: FrameIndex) -> None:
    """Raise :class:`TruncatedMediaError` when ``index`` says the file was cut off."""
    if index.truncated:
        raise TruncatedMediaError(
            f"{info.path} ends early ({index.truncated}): only its first {len(index)} "
            "frames are complete, the file was cut off or damaged; open it with "
            "allow_truncated=True to use those",
            path=info.path,
            expected_frames=index.expected_frames,
            found_frames=len(index),
        )


def _decode_first(packet: av.Packet) -> av.VideoFrame | None:
    frames = packet.decode()
    return frames[0] if frames else None


def probe(
    path: str | Path, *, allow_truncated: bool = False, progress: Progress | None = None
) -> VideoInfo:
    """The :class:`VideoInfo` of a video file (see :func:`scan` for what it checks).

    A cut-off file raises :class:`TruncatedMediaError` unless ``allow_truncated``, which
    describes the frames that are there.
    """
    info, index = scan(path, progress=progress)
    if not allow_truncated:
        check_complete(info, index)
    return info
