"""Numbered image sequences (PNG, JPEG, TIFF) as frame sources.

A sequence is given as its folder (one sequence in it), a printf pattern
(``shot.%04d.png``), a hash pattern (``shot.####.png``) or any one of its files
(``shot.1001.png``). The frame number is the last run of digits in the name; frame 0 of
the source is the lowest number (``info.start_number``). Numbers must be contiguous: a gap
raises :class:`SequenceGapError` naming the missing numbers, since renumbering around it
would put every later matte on the wrong frame.

Frames come out as uint8 RGB for the model whatever the files hold (grey, RGBA, 16-bit);
:meth:`ImageSequenceSource.read_native` returns a file's pixels as stored, and
``info.bit_depth`` says what that is. Reading is stateless, so any number of threads may
share one instance.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from etam_plugin.errors import (
    CorruptFrameError,
    MediaError,
    MediaNotFoundError,
    SequenceGapError,
)
from etam_plugin.media.info import VideoInfo
from etam_plugin.media.timecode import as_rate, seconds_to_frame

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
_CODECS = {".png": "png", ".jpg": "mjpeg", ".jpeg": "mjpeg", ".tif": "tiff", ".tiff": "tiff"}
_NUMBERED = re.compile(r"^(?P<prefix>.*?)(?P<num>\d+)(?P<suffix>\D*)$")
_PRINTF = re.compile(r"%(0?)(\d*)d")
_HASHES = re.compile(r"#+")


@dataclass(frozen=True)
class SequencePattern:
    """``prefix`` + number (zero-padded to ``padding`` digits; 0 = not padded) + ``suffix``
    (which ends with the extension), in ``folder``."""

    folder: Path
    prefix: str
    suffix: str
    padding: int

    def name(self, number: int) -> str:
        return f"{self.prefix}{number:0{self.padding}d}{self.suffix}"

    @property
    def printf(self) -> Path:
        """The pattern as ffmpeg's image2 reads it (``shot.%04d.png``)."""
        digits = f"%0{self.padding}d" if self.padding > 1 else "%d"
        return self.folder / f"{self.prefix}{digits}{self.suffix}"


def is_pattern(name: str) -> bool:
    """Does a file name hold a printf (``%04d``) or hash (``####``) frame-number slot?"""
    return bool(_PRINTF.search(name) or _HASHES.search(name))


def _last(regex: re.Pattern[str], name: str) -> re.Match[str] | None:
    matches = list(regex.finditer(name))
    return matches[-1] if matches else None


def _split(name: str) -> tuple[str, str, str] | None:
    stem_ext = Path(name).suffix.lower()
    if stem_ext not in IMAGE_EXTENSIONS:
        return None
    match = _NUMBERED.match(name[: -len(stem_ext)])
    if not match:
        return None
    return match["prefix"], match["num"], match["suffix"] + name[-len(stem_ext) :]


def _runs(runs: Sequence[tuple[int, int]]) -> str:
    """``[(3, 5), (9, 9)]`` → ``"3-5, 9"`` (at most 10 runs, then "…")."""
    text = [str(a) if a == b else f"{a}-{b}" for a, b in runs[:10]]
    return ", ".join(text) + (", …" if len(runs) > 10 else "")


def _compact(numbers: list[int]) -> str:
    """``[3, 4, 5, 9]`` → ``"3-5, 9"`` (at most 10 runs, then "…")."""
    runs: list[tuple[int, int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return _runs(runs)


def find_sequence(spec: str | Path) -> tuple[SequencePattern, list[int]]:
    """Resolve a folder, pattern or member file to its pattern and sorted frame numbers."""
    text = str(spec)
    path = Path(text)
    fixed_padding: int | None = None
    if is_pattern(path.name) and not path.exists():
        folder = path.parent
        # The last slot is the frame number: "take#1.####.png" numbers its "####".
        if m := _last(_PRINTF, path.name):
            fixed_padding = int(m.group(2) or 0) if m.group(1) else 0
        else:
            m = _last(_HASHES, path.name)
            assert m is not None
            fixed_padding = len(m.group(0))
        prefix, suffix = path.name[: m.start()], path.name[m.end() :]
        wanted: tuple[str, str] | None = (prefix, suffix)
    elif path.is_dir():
        folder, wanted = path, None
    elif path.is_file():
        parts = _split(path.name)
        if parts is None:
            raise MediaError(
                f"{path} is not a numbered PNG/JPEG/TIFF image, so it is not part of a sequence",
                path=path,
            )
        folder, wanted = path.parent, (parts[0], parts[2])
    else:
        raise MediaNotFoundError(f"{path} does not exist", path=path)
    if not folder.is_dir():
        raise MediaNotFoundError(f"folder {folder} does not exist", path=folder)

    groups: dict[tuple[str, str], dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    for entry in folder.iterdir():
        parts = _split(entry.name)
        if parts is None or not entry.is_file():
            continue
        prefix, digits, suffix = parts
        if fixed_padding and len(digits) < fixed_padding:
            continue
        groups[(prefix, suffix)][int(digits)].append(digits)
    if wanted is not None:
        if wanted not in groups:
            raise MediaNotFoundError(f"no image of the sequence {path} exists", path=path)
        key = wanted
    else:
        if not groups:
            raise MediaNotFoundError(
                f"{folder} holds no numbered PNG/JPEG/TIFF images", path=folder
            )
        if len(groups) > 1:
            listing = "; ".join(f"{p}#{s} ({len(n)} files)" for (p, s), n in sorted(groups.items()))
            raise MediaError(
                f"{folder} holds several image sequences ({listing}): open one by its "
                "pattern (e.g. name.%04d.png) or one of its files",
                path=folder,
            )
        key = next(iter(groups))
    numbered = groups[key]
    clashes = sorted(n for n, names in numbered.items() if len(names) > 1)
    if clashes:
        raise MediaError(
            f"sequence {key[0]}#{key[1]} in {folder} has several files for frame number(s) "
            f"{_compact(clashes)} (e.g. 7 and 007)",
            path=folder,
        )
    lengths = {len(names[0]) for names in numbered.values()}
    padding = fixed_padding if fixed_padding is not None else (min(lengths) if lengths else 0)
    if fixed_padding is None and len(lengths) > 1:
        padding = 0  # mixed lengths: not padded (1, 2, ..., 10)
    return SequencePattern(folder, key[0], key[1], padding), sorted(numbered)


def _native_to_rgb8(img: np.ndarray) -> np.ndarray:
    """OpenCV's BGR(A)/grey, 8/16-bit or float, to uint8 RGB."""
    if img.dtype == np.uint16:
        img = ((img.astype(np.uint32) + 128) // 257).astype(np.uint8)
    elif img.dtype != np.uint8:
        img = (np.clip(img.astype(np.float32), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _pix_fmt(img: np.ndarray) -> str:
    channels = 1 if img.ndim == 2 else img.shape[2]
    if img.dtype == np.uint16:
        return {1: "gray16le", 3: "rgb48le", 4: "rgba64le"}.get(channels, "rgb48le")
    if img.dtype == np.uint8:
        return {1: "gray", 3: "rgb24", 4: "rgba"}.get(channels, "rgb24")
    return {1: "grayf32le", 3: "rgbf32le", 4: "rgbaf32le"}.get(channels, "rgbf32le")


class ImageSequenceSource:
    """A numbered image sequence as a :class:`~etam_plugin.model.FrameSource`.

    ``frame_rate`` (image files carry none; default 24) and ``start_timecode`` go into
    :attr:`info`.
    """

    def __init__(
        self,
        folder_or_pattern: str | Path,
        *,
        frame_rate: Fraction | int | str = 24,
        start_timecode: str | None = None,
    ) -> None:
        self.pattern, self.numbers = find_sequence(folder_or_pattern)
        first, last = self.numbers[0], self.numbers[-1]
        gaps = tuple(
            (a + 1, b - 1)
            for a, b in zip(self.numbers, self.numbers[1:], strict=False)
            if b > a + 1
        )
        if gaps:
            count = sum(b - a + 1 for a, b in gaps)
            raise SequenceGapError(
                f"image sequence {self.pattern.printf} has {count} missing frame "
                f"number(s) between {first} and {last}: {_runs(gaps)}",
                path=self.pattern.printf,
                gaps=gaps,
            )
        self._rate = as_rate(frame_rate)
        first_img = self._read(0)
        h, w = first_img.shape[:2]
        self.frame_size = (h, w)
        ext = Path("frame" + self.pattern.suffix).suffix.lower()
        self.info = VideoInfo(
            path=self.pattern.printf,
            width=w,
            height=h,
            frame_count=len(self.numbers),
            frame_rate=self._rate,
            start_timecode=start_timecode,
            pix_fmt=_pix_fmt(first_img),
            codec=_CODECS.get(ext, ext.lstrip(".")),
            bit_depth=int(first_img.dtype.itemsize * 8),
            container="image2",
            start_number=first,
            time_base=1 / self._rate,
        )
        self.path = self.pattern.printf

    def __len__(self) -> int:
        return len(self.numbers)

    def _checked_index(self, index: int) -> int:
        n = len(self)
        i = int(index)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"frame {index} is outside {self.path} (0..{n - 1})")
        return i

    def file_of(self, index: int) -> Path:
        """The image file of frame ``index``."""
        return self.pattern.folder / self.pattern.name(self.numbers[self._checked_index(index)])

    def _read(self, index: int) -> np.ndarray:
        path = self.file_of(index)
        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if img is None:
            reason = "it is missing" if not path.exists() else "it is damaged or not an image"
            raise CorruptFrameError(
                f"frame {index} ({path.name}) of {self.path} cannot be read: {reason}",
                path=path,
                frame_index=index,
                reason="missing" if not path.exists() else "undecodable",
            )
        return img

    def read_native(self, index: int) -> np.ndarray:
        """Frame ``index`` as stored: uint8/uint16 (or float), grey, RGB or RGBA (RGB order)."""
        img = self._read(self._checked_index(index))
        if img.ndim == 3:
            code = cv2.COLOR_BGRA2RGBA if img.shape[2] == 4 else cv2.COLOR_BGR2RGB
            img = cv2.cvtColor(img, code)
        return img

    def __getitem__(self, index: int) -> np.ndarray:
        """Frame ``index`` as uint8 RGB (H, W, 3)."""
        i = self._checked_index(index)
        img = self._read(i)
        if img.shape[:2] != self.frame_size:
            raise MediaError(
                f"frame {i} ({self.file_of(i).name}) is {img.shape[1]}×{img.shape[0]} but the "
                f"sequence is {self.frame_size[1]}×{self.frame_size[0]}",
                path=self.file_of(i),
                frame_index=i,
            )
        return _native_to_rgb8(img)

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            yield self[i]

    @property
    def frame_rate(self) -> Fraction:
        return self._rate

    def timestamp(self, index: int) -> Fraction:
        return Fraction(self._checked_index(index)) / self._rate

    def index_at(self, seconds: Fraction | float | int) -> int:
        i = seconds_to_frame(seconds, self._rate)
        if not 0 <= i < len(self):
            raise IndexError(f"{seconds} s is outside {self.path}")
        return i

    def source_index(self, index: int) -> int:
        return self._checked_index(index)

    def clone(self) -> ImageSequenceSource:
        return self  # stateless: safe to share between threads

    def close(self) -> None:
        """Nothing to release (files are opened per read)."""

    def __enter__(self) -> ImageSequenceSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ImageSequenceSource({str(self.path)!r}, {len(self)} frames)"
