"""The writer interface every export format implements, and the format registry.

A writer is handed finished frames one at a time, in source order, and either commits a
complete output or leaves nothing behind (see :mod:`etam_plugin.export.atomic`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, TypeVar

import numpy as np

from etam_plugin.errors import ExportError, ExportFrameError
from etam_plugin.export.atomic import export_error
from etam_plugin.export.targets import file_target
from etam_plugin.media.info import VideoInfo
from etam_plugin.media.timecode import offset_timecode


@dataclass(frozen=True)
class OutputSpec:
    """What an output must match: the source's frames ``first_frame`` ..
    ``first_frame + frame_count - 1`` as displayed (rotation applied), at the exact rate.

    ``start_timecode`` is the timecode of ``first_frame`` (not of the source's frame 0); for
    a source without timecode it counts from 00:00:00:00.
    Colour tags use FFmpeg's names ("bt709", "tv"); None means untagged.
    """

    width: int
    height: int
    frame_rate: Fraction
    frame_count: int
    first_frame: int = 0
    start_timecode: str | None = None
    sample_aspect_ratio: Fraction = Fraction(1)
    color_space: str | None = None
    color_primaries: str | None = None
    color_trc: str | None = None
    source_path: Path | None = None

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ExportError(f"invalid output size {self.width}x{self.height}")
        if self.frame_count <= 0:
            raise ExportError(f"nothing to export: {self.frame_count} frames")
        if not self.frame_rate or self.frame_rate <= 0:
            raise ExportError(f"invalid frame rate {self.frame_rate}")
        object.__setattr__(self, "frame_rate", Fraction(self.frame_rate))
        object.__setattr__(self, "sample_aspect_ratio", Fraction(self.sample_aspect_ratio or 1))

    @property
    def stop_frame(self) -> int:
        return self.first_frame + self.frame_count

    @classmethod
    def from_video_info(
        cls, info: VideoInfo, frame_range: tuple[int, int] | range | None = None
    ) -> OutputSpec:
        """The spec for source frames ``[start, stop)`` of ``info`` (all frames by default).

        Frames reach writers in display orientation, so a 90°/270° rotation flag swaps the
        size and inverts the pixel aspect ratio.
        """
        start, stop = (0, info.frame_count) if frame_range is None else _range(frame_range)
        if not 0 <= start < stop <= info.frame_count:
            raise ExportError(
                f"frame range {start}..{stop - 1} is outside the source's "
                f"0..{info.frame_count - 1}",
                path=info.path,
            )
        width, height, sar = info.width, info.height, Fraction(info.sample_aspect_ratio or 1)
        if info.rotation % 180 == 90:
            width, height, sar = height, width, 1 / sar
        # A source without timecode counts from 00:00:00:00 (as NLEs show it); stamping the
        # output anyway lets a timeline place a matte that starts mid-clip by timecode.
        tc = offset_timecode(info.start_timecode or "00:00:00:00", start, info.frame_rate)
        return cls(
            width=width,
            height=height,
            frame_rate=Fraction(info.frame_rate),
            frame_count=stop - start,
            first_frame=start,
            start_timecode=tc,
            sample_aspect_ratio=sar,
            color_space=info.color_space,
            color_primaries=info.color_primaries,
            color_trc=info.color_trc,
            source_path=Path(info.path),
        )


def _range(r: tuple[int, int] | range) -> tuple[int, int]:
    if isinstance(r, range):
        if r.step != 1:
            raise ExportError("frame ranges must be contiguous (step 1)")
        return r.start, r.stop
    start, stop = r
    return int(start), int(stop)


def as_unit_matte(matte: Any, height: int, width: int, *, path: Path, index: int) -> np.ndarray:
    """A float32 (H, W) matte in [0, 1] from float, bool, uint8 or uint16 input."""
    m = np.asarray(matte)
    if m.ndim == 3 and m.shape[2] == 1:
        m = m[..., 0]
    if m.shape != (height, width):
        raise ExportFrameError(
            f"matte for frame {index} is {m.shape}, the output is {(height, width)}",
            path=path, frame_index=index, expected=(height, width), found=m.shape,
        )  # fmt: skip
    if m.dtype == np.bool_:
        return m.astype(np.float32)
    if m.dtype == np.uint8:
        return m.astype(np.float32) / 255.0
    if m.dtype == np.uint16:
        return m.astype(np.float32) / 65535.0
    if not np.issubdtype(m.dtype, np.floating):
        raise ExportFrameError(
            f"matte for frame {index} has dtype {m.dtype}; expected float in [0, 1]",
            path=path, frame_index=index, expected="float32", found=str(m.dtype),
        )  # fmt: skip
    m = m.astype(np.float32, copy=False)
    if not np.isfinite(m).all():
        raise ExportFrameError(
            f"matte for frame {index} has NaN/inf values", path=path, frame_index=index
        )
    return np.clip(m, 0.0, 1.0)


def quantize(matte: np.ndarray, maximum: int, dtype: type = np.uint16) -> np.ndarray:
    """Round a [0, 1] matte to integer codes 0..maximum (round half to even, exact ends)."""
    return np.rint(matte * np.float32(maximum)).astype(dtype)


class MatteWriter(ABC):
    """Writes one output, frame by frame; nothing appears at ``path`` until :meth:`commit`.

    Use as a context manager: leaving the block without :meth:`commit` (an exception, a
    cancel, Ctrl-C) discards everything written so far.

    ``write(frame_index, rgb, matte)`` takes the *source* frame index (checked to follow
    on from the previous one, so a dropped or doubled frame is an error, not a shifted
    matte), ``rgb`` uint8 (H, W, 3) in display orientation (ignored, may be None, when
    :attr:`needs_rgb` is false) and ``matte`` float32 (H, W) in [0, 1], straight
    (unassociated): the colour is never multiplied by it.
    """

    format_name: ClassVar[str]
    description: ClassVar[str]
    #: What an editing timeline places of this output (``cutout``: a movie with alpha,
    #: ``luma``: a luma matte), or None where an NLE cannot put it on a track.
    timeline_kind: ClassVar[str | None] = None
    #: Files numbered by frame, with no clock of their own (so variable-rate frames keep
    #: their indices without drifting).
    numbered_frames: ClassVar[bool] = False
    #: Errors from the writing library that mean "could not write" (disk full, ...).
    io_errors: ClassVar[tuple[type[BaseException], ...]] = (OSError,)

    def __init__(self, out_path: str | Path, spec: OutputSpec, **options: Any) -> None:
        self.path = Path(out_path).expanduser().absolute()
        self.spec = spec
        self._next = spec.first_frame
        self._state = "open"
        self.check_options(options, self.path)
        self._configure(**options)
        try:
            self._open()
        except ExportError:
            self._discard()
            raise
        except self.io_errors as exc:
            self._discard()
            raise export_error(self.path, "write", exc) from exc

    # -- what formats implement -------------------------------------------------------
    @classmethod
    def target(cls, path: str | Path, *, make_parents: bool = False) -> Path:
        """Checks where this format would write ``path`` (before any long work: the
        folder exists, or ``make_parents`` will make it, and is writable; nothing that is
        not ours gets replaced) and returns the absolute target. A file by default; folder
        formats override it."""
        return file_target(path, "output", make_parents=make_parents)

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        """Keyword options this format accepts (passed through ``export_mattes``)."""
        return ()

    @classmethod
    def check_options(cls, options: Mapping[str, Any], path: Path | None = None) -> None:
        """Refuses options this format does not know (and, where a format overrides
        this, values it cannot use), so a job checks them before its long work."""
        unknown = set(options) - set(cls.option_names())
        if unknown:
            raise ExportError(
                f"{cls.format_name} has no option(s) {sorted(unknown)}; "
                f"known: {sorted(cls.option_names())}",
                path=path,
            )

    def _configure(self, **options: Any) -> None:  # noqa: B027 - optional hook
        """Store format options (called before :meth:`_open`)."""

    @property
    def needs_rgb(self) -> bool:
        """False for matte-only outputs: callers can skip decoding the clip."""
        return True

    @abstractmethod
    def _open(self) -> None:
        """Create the staged output (raise ExportError or an ``io_errors`` error)."""

    @abstractmethod
    def _write(self, frame_index: int, rgb: np.ndarray | None, matte: np.ndarray) -> None:
        """Encode one frame (validated: in order, right size, matte float32 in [0, 1])."""

    @abstractmethod
    def _finish(self) -> Path:
        """Flush and move the staged output into place; return the final path."""

    @abstractmethod
    def _discard(self) -> None:
        """Close quietly and delete the staged output; must not raise."""

    # -- the interface ----------------------------------------------------------------
    @property
    def frames_written(self) -> int:
        return self._next - self.spec.first_frame

    def write(self, frame_index: int, rgb: np.ndarray | None, matte: Any) -> None:
        """Add source frame ``frame_index`` (must be the one after the previous)."""
        if self._state != "open":
            raise ExportError(f"writer for {self.path} is already {self._state}", path=self.path)
        if frame_index != self._next:
            raise ExportFrameError(
                f"frame {frame_index} arrived where frame {self._next} was expected "
                "(a dropped or doubled frame would shift the matte)",
                path=self.path, frame_index=frame_index, expected=self._next, found=frame_index,
            )  # fmt: skip
        if frame_index >= self.spec.stop_frame:
            raise ExportFrameError(
                f"frame {frame_index} is past the end of the range "
                f"({self.spec.first_frame}..{self.spec.stop_frame - 1})",
                path=self.path, frame_index=frame_index,
            )  # fmt: skip
        h, w = self.spec.height, self.spec.width
        m = as_unit_matte(matte, h, w, path=self.path, index=frame_index)
        if self.needs_rgb:
            rgb = _check_rgb(rgb, h, w, path=self.path, index=frame_index)
        try:
            self._write(frame_index, rgb, m)
        except ExportError:
            self.abort()
            raise
        except self.io_errors as exc:
            self.abort()
            raise export_error(self.path, f"write frame {frame_index} to", exc) from exc
        except BaseException:
            self.abort()
            raise
        self._next += 1

    def commit(self) -> Path:
        """Finish the output and move it into place; all frames of the range are required."""
        if self._state != "open":
            raise ExportError(f"writer for {self.path} is already {self._state}", path=self.path)
        if self._next != self.spec.stop_frame:
            self.abort()
            raise ExportFrameError(
                f"only {self.frames_written} of {self.spec.frame_count} frames were written; "
                "nothing was kept",
                path=self.path, expected=self.spec.frame_count, found=self.frames_written,
            )  # fmt: skip
        try:
            final = self._finish()
        except ExportError:
            self.abort()
            raise
        except self.io_errors as exc:
            self.abort()
            raise export_error(self.path, "finish", exc) from exc
        except BaseException:
            self.abort()
            raise
        self._state = "committed"
        return final

    def abort(self) -> None:
        """Drop everything written so far (safe to call twice or after commit)."""
        if self._state == "open":
            self._state = "aborted"
            self._discard()

    def __enter__(self: _W) -> _W:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.abort()


_W = TypeVar("_W", bound=MatteWriter)


def _check_rgb(rgb: Any, height: int, width: int, *, path: Path, index: int) -> np.ndarray:
    if rgb is None:
        raise ExportFrameError(
            f"frame {index}: this format needs the clip's RGB", path=path, frame_index=index
        )
    a = np.asarray(rgb)
    if a.shape != (height, width, 3) or a.dtype != np.uint8:
        raise ExportFrameError(
            f"frame {index} is {a.shape} {a.dtype}, expected {(height, width, 3)} uint8 RGB",
            path=path, frame_index=index, expected=(height, width, 3), found=a.shape,
        )  # fmt: skip
    return a


# -- registry ---------------------------------------------------------------------------
_REGISTRY: dict[str, type[MatteWriter]] = {}


def register_writer(cls: type[_W]) -> type[_W]:
    """Class decorator: make a writer available under its ``format_name``."""
    _REGISTRY[cls.format_name] = cls
    return cls


def _load_format_modules() -> None:
    """Import every module of this package so their writers register (new format = new
    module, no list to edit)."""
    import importlib
    import pkgutil

    import etam_plugin.export as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{pkg.__name__}.{info.name}")


def writer_class(fmt: str) -> type[MatteWriter]:
    """The writer registered for ``fmt`` (e.g. "prores4444")."""
    _load_format_modules()
    try:
        return _REGISTRY[fmt]
    except KeyError:
        raise ExportError(
            f"unknown export format {fmt!r}; available: {', '.join(sorted(_REGISTRY))}"
        ) from None


def available_formats() -> dict[str, str]:
    """Format name → one-line description, for help texts and the panel's menu."""
    _load_format_modules()
    return {name: cls.description for name, cls in sorted(_REGISTRY.items())}


ProgressCallback = Callable[[int, int], None]
