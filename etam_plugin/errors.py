"""Errors of the whole project under one root, :class:`EtamError`.

The root and the model's errors are defined in ``etam_plugin.model.errors`` (the bottom
layer) and re-exported here. Subclasses carry structured fields (path, frame index,
expected vs found) so the panel and the bridge can show them and offer choices.
Add new error types here as small subclasses, one family per area.
"""

from __future__ import annotations

from pathlib import Path

from etam_plugin.model.errors import (
    CancelledError,
    CheckpointError,
    EtamError,
    ModelError,
    WeightsUnavailableError,
)

__all__ = [
    "CancelledError",
    "CaptureError",
    "CheckpointError",
    "CorruptFrameError",
    "DeviceError",
    "EffectError",
    "EtamError",
    "ExportError",
    "ExportFrameError",
    "MatteError",
    "MediaError",
    "MediaNotFoundError",
    "ModelError",
    "NoVideoStreamError",
    "ObsAuthError",
    "ObsCredentialsError",
    "ObsError",
    "OnnxError",
    "ProjectError",
    "PromptError",
    "SequenceGapError",
    "StreamError",
    "TimelineError",
    "TimelineMediaError",
    "TimelineRateError",
    "TruncatedMediaError",
    "UndecodableMediaError",
    "UnsupportedMediaError",
    "VfrPolicyError",
    "WeightsUnavailableError",
]


class MediaError(EtamError):
    """A source (video file, image sequence) cannot be read as asked."""

    def __init__(
        self, message: str, *, path: str | Path | None = None, frame_index: int | None = None
    ) -> None:
        super().__init__(message)
        self.path = Path(path) if path is not None else None
        self.frame_index = frame_index


class MediaNotFoundError(MediaError):
    """The file, folder or sequence pattern does not exist."""


class UnsupportedMediaError(MediaError):
    """Not something FFmpeg can read as video (unknown format, empty or damaged header)."""


class NoVideoStreamError(UnsupportedMediaError):
    """The file holds no video stream (e.g. audio only); ``streams`` lists what it has."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        streams: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message, path=path)
        self.streams = tuple(streams)


class UndecodableMediaError(MediaError):
    """The video stream's codec cannot be decoded by this build; ``codec`` names it."""

    def __init__(
        self, message: str, *, path: str | Path | None = None, codec: str | None = None
    ) -> None:
        super().__init__(message, path=path)
        self.codec = codec


class TruncatedMediaError(MediaError):
    """The file ends early: ``found_frames`` of ``expected_frames`` (None: unknown) remain.

    ``frame_index`` is the first missing frame when known.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        expected_frames: int | None = None,
        found_frames: int | None = None,
    ) -> None:
        super().__init__(message, path=path, frame_index=found_frames)
        self.expected_frames = expected_frames
        self.found_frames = found_frames


class CorruptFrameError(MediaError):
    """Frame ``frame_index`` cannot be decoded (damaged data); other frames may still be."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        frame_index: int | None = None,
        reason: str = "corrupt",
    ) -> None:
        super().__init__(message, path=path, frame_index=frame_index)
        self.reason = reason


class VfrPolicyError(MediaError):
    """The file has a variable frame rate: open it again with one of ``policies``."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        policies: tuple[str, ...] = ("conform", "keep"),
        detail: str = "",
    ) -> None:
        super().__init__(message, path=path)
        self.policies = tuple(policies)
        self.detail = detail


class SequenceGapError(MediaError):
    """An image sequence has numbers missing: ``gaps`` lists the missing runs as inclusive
    (first, last) pairs, ascending (runs, not numbers: a gap of a billion stays small)."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        gaps: tuple[tuple[int, int], ...] = (),
    ) -> None:
        super().__init__(message, path=path)
        self.gaps = tuple(gaps)

    @property
    def missing_count(self) -> int:
        return sum(last - first + 1 for first, last in self.gaps)


class PromptError(EtamError, ValueError):
    """A prompt given on the command line or in a prompts file cannot be understood (a
    ValueError too: argument parsers take it as a bad value)."""

    def __init__(self, message: str, *, text: str | None = None) -> None:
        super().__init__(message)
        self.text = text


class DeviceError(EtamError):
    """The requested device or precision is not available on this machine."""


class MatteError(EtamError, ValueError):
    """A matte operation got options or inputs it cannot use (unknown key, bad value, shape).

    ``key``/``value`` name the offending option when it came from a spec string such as
    ``"feather=2,grow=1"``. Also a ``ValueError`` so plain numeric callers can catch that.
    """

    def __init__(self, message: str, *, key: str | None = None, value: object = None) -> None:
        super().__init__(message)
        self.key = key
        self.value = value


class ExportError(EtamError):
    """An output could not be written; nothing partial is left at ``path``."""

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        super().__init__(message)
        self.path = Path(path) if path is not None else None


class TimelineError(EtamError):
    """A timeline cannot be read or written (format, adapter, missing media, rates)."""

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        super().__init__(message)
        self.path = Path(path) if path is not None else None


class ProjectError(EtamError):
    """A panel project (``.etam``) or its autosave cannot be read or written: ``path`` the
    file at fault, ``reason`` one phrase (``missing``, ``not-a-project``, ``version``,
    ``damaged``, ``unwritable``, ``source-missing``)."""

    def __init__(self, message: str, *, path: str | Path | None = None, reason: str) -> None:
        super().__init__(message)
        self.path = Path(path) if path is not None else None
        self.reason = reason


class ExportFrameError(ExportError):
    """A frame or matte handed to a writer does not fit the output (order, size, type)."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        frame_index: int | None = None,
        expected: object = None,
        found: object = None,
    ) -> None:
        super().__init__(message, path=path)
        self.frame_index = frame_index
        self.expected = expected
        self.found = found


class TimelineMediaError(TimelineError):
    """A clip's media (or a matte) is missing or unusable; ``media_path`` says which."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        media_path: str | Path | None = None,
    ) -> None:
        super().__init__(message, path=path)
        self.media_path = Path(media_path) if media_path is not None else None


class TimelineRateError(TimelineError):
    """Two things that must share a frame rate do not (``expected`` vs ``found``)."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        expected: object = None,
        found: object = None,
    ) -> None:
        super().__init__(message, path=path)
        self.expected = expected
        self.found = found


class CaptureError(EtamError):
    """A live source (camera, file, URL) cannot be opened or stopped delivering frames."""

    def __init__(self, message: str, *, source: str | int | None = None) -> None:
        super().__init__(message)
        self.source = source


class ObsError(EtamError):
    """OBS Studio cannot be reached or refused a request (never includes the password)."""

    def __init__(self, message: str, *, host: str | None = None, port: int | None = None) -> None:
        super().__init__(message)
        self.host = host
        self.port = port


class ObsAuthError(ObsError):
    """OBS refused the password (or wants one and none was given); retrying will not help
    until the password is fixed. The text never contains the password."""


class ObsCredentialsError(ObsError):
    """The OBS password cannot be read safely: ``path`` is the config file at fault
    (readable by other users, unreadable, or malformed)."""

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        super().__init__(message)
        self.path = Path(path) if path is not None else None


class StreamError(EtamError):
    """The live output (loopback stream to OBS, virtual camera) cannot be served."""

    def __init__(self, message: str, *, port: int | None = None) -> None:
        super().__init__(message)
        self.port = port


class EffectError(EtamError, ValueError):
    """A live effect spec or option cannot be used (unknown name, bad colour, unreadable
    background image). Also a ``ValueError`` for plain callers."""


class OnnxError(ModelError):
    """An ONNX export cannot be made or used: ``path`` the folder or file at fault,
    ``reason`` one phrase (``missing``, ``not-an-export``, ``version``, ``graph-missing``,
    ``unreadable``, ``no-int8``, ``provider``, ``precision``, ``backend``, ``parity``)."""

    def __init__(self, message: str, *, path: str | Path | None = None, reason: str) -> None:
        super().__init__(message)
        self.path = Path(path) if path is not None else None
        self.reason = reason
