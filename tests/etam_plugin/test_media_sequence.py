"""Image sequences: patterns, numbering, gaps, bit depths, damaged files."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from etam_plugin.errors import CorruptFrameError, MediaError, MediaNotFoundError, SequenceGapError
from etam_plugin.media import ImageSequenceSource, VideoFileSource, open_source
from etam_plugin.media.sequence import find_sequence

from .media_clips import pattern_frame, read_index, write_pyav


def write_sequence(
    folder: Path,
    numbers: range | list[int],
    *,
    name: str = "shot.{:04d}.png",
    size: tuple[int, int] = (96, 64),
    depth: int = 8,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n in numbers:
        rgb = pattern_frame(n, *size)
        img = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        if depth == 16:
            img = img.astype(np.uint16) * 257
        assert cv2.imwrite(str(folder / name.format(n)), img)
    return folder


@pytest.mark.parametrize(
    "spec", ["folder", "shot.%04d.png", "shot.####.png", "shot.1003.png"], ids=str
)
def test_a_sequence_opens_from_folder_pattern_or_member(tmp_path: Path, spec: str) -> None:
    folder = write_sequence(tmp_path / "seq", range(1001, 1013))
    src = open_source(folder if spec == "folder" else folder / spec)
    assert isinstance(src, ImageSequenceSource)
    assert len(src) == 12 and src.info.start_number == 1001
    assert src.info.path == folder / "shot.%04d.png"
    assert [read_index(src[i]) for i in (0, 11, 5)] == [1001, 1012, 1006]
    assert src[0].dtype == np.uint8 and src[0].shape == (64, 96, 3)
    assert src.file_of(2).name == "shot.1003.png"


def test_gaps_name_the_missing_numbers(tmp_path: Path) -> None:
    folder = write_sequence(tmp_path / "seq", [1, 2, 3, 7, 8, 10])
    with pytest.raises(SequenceGapError, match="4-6, 9") as info:
        open_source(folder)
    assert info.value.gaps == ((4, 6), (9, 9)) and info.value.missing_count == 4


def test_a_gap_of_two_billion_numbers_is_a_quick_small_error(tmp_path: Path) -> None:
    """Two files, s.1.png and s.2000000000.png: a one-line error in bounded memory (listing
    every missing number took 5 GB)."""
    import resource
    import time

    folder = write_sequence(tmp_path / "seq", [1, 2_000_000_000], name="s.{}.png")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    with pytest.raises(SequenceGapError, match="1999999998 missing frame number") as info:
        open_source(folder)
    assert time.perf_counter() - t0 < 5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB
    assert info.value.gaps == ((2, 1_999_999_999),)


def test_unpadded_numbers_and_digits_inside_the_name(tmp_path: Path) -> None:
    folder = write_sequence(tmp_path / "a", range(8, 13), name="take2_{}_matte.png")
    src = open_source(folder)
    assert len(src) == 5 and src.info.start_number == 8
    assert src.pattern.prefix == "take2_" and src.pattern.suffix == "_matte.png"
    assert [read_index(f) for f in src] == list(range(8, 13))


def test_sixteen_bit_frames_come_out_as_8_bit_with_the_depth_kept(tmp_path: Path) -> None:
    folder = write_sequence(tmp_path / "deep", range(3), depth=16, name="f{:03d}.tif")
    src = open_source(folder)
    assert src.info.bit_depth == 16 and src.info.pix_fmt == "rgb48le"
    assert src.info.codec == "tiff"
    native = src.read_native(1)
    assert native.dtype == np.uint16
    np.testing.assert_array_equal(src[1], pattern_frame(1, 96, 64))
    np.testing.assert_array_equal(native, pattern_frame(1, 96, 64).astype(np.uint16) * 257)


def test_jpeg_and_grey_frames(tmp_path: Path) -> None:
    folder = tmp_path / "grey"
    folder.mkdir()
    for n in range(4):
        grey = cv2.cvtColor(pattern_frame(n, 96, 64), cv2.COLOR_RGB2GRAY)
        cv2.imwrite(str(folder / f"g_{n:02d}.jpg"), grey, [cv2.IMWRITE_JPEG_QUALITY, 95])
    src = open_source(folder, frame_rate=25)
    assert src.info.codec == "mjpeg" and src.info.pix_fmt == "gray"
    assert src.info.frame_rate == 25 and src.timestamp(2) == pytest.approx(0.08)
    assert src[3].shape == (64, 96, 3)
    assert [read_index(f) for f in src] == [0, 1, 2, 3]


def test_a_damaged_image_is_reported_with_its_frame(tmp_path: Path) -> None:
    folder = write_sequence(tmp_path / "seq", range(6))
    (folder / "shot.0004.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    src = open_source(folder)
    assert read_index(src[5]) == 5
    with pytest.raises(CorruptFrameError) as info:
        src[4]
    assert info.value.frame_index == 4 and "shot.0004.png" in str(info.value)


def test_a_frame_of_another_size_is_an_error(tmp_path: Path) -> None:
    folder = write_sequence(tmp_path / "seq", range(3))
    write_sequence(folder, [3], size=(64, 64))
    src = open_source(folder)
    with pytest.raises(MediaError, match="64×64 but the sequence is 96×64"):
        src[3]


def test_ambiguous_and_missing_sequences(tmp_path: Path) -> None:
    folder = write_sequence(tmp_path / "two", range(3))
    write_sequence(folder, range(3), name="other_{:02d}.png")
    with pytest.raises(MediaError, match="several image sequences"):
        open_source(folder)
    assert len(open_source(folder / "other_%02d.png")) == 3
    with pytest.raises(MediaNotFoundError):
        open_source(tmp_path / "none" / "x.%04d.png")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MediaNotFoundError, match="no numbered"):
        open_source(tmp_path / "empty")
    write_sequence(folder, [7], name="clash_{:d}.png")
    write_sequence(folder, [7], name="clash_{:03d}.png")
    with pytest.raises(MediaError, match="several files for frame"):
        find_sequence(folder / "clash_7.png")


def test_padding_in_a_pattern_is_respected(tmp_path: Path) -> None:
    folder = write_sequence(tmp_path / "p", range(1, 4), name="x{:04d}.png")
    write_sequence(folder, [9], name="x{:d}.png")  # "x9.png" is not 4-digit padded
    assert len(open_source(folder / "x%04d.png")) == 3


@pytest.mark.parametrize(
    "name", ["take#1.mp4", "Scene #3 final.mov", "100%d.mkv", "line\nbreak #2.mp4", "été ##.mp4"]
)
def test_an_existing_video_is_a_video_whatever_its_name(tmp_path: Path, name: str) -> None:
    """``#`` and ``%d`` make a pattern only when no file has that name."""
    path = tmp_path / name
    write_pyav(path, 3)
    src = open_source(path)
    assert isinstance(src, VideoFileSource) and len(src) == 3
    assert [read_index(src[i]) for i in (2, 0, 1)] == [2, 0, 1]


def test_an_existing_image_with_a_hash_is_one_of_its_sequence(tmp_path: Path) -> None:
    folder = write_sequence(tmp_path / "seq", range(1, 4), name="take#1.{:04d}.png")
    src = open_source(folder / "take#1.0002.png")
    assert isinstance(src, ImageSequenceSource) and len(src) == 3
    assert src.file_of(0).name == "take#1.0001.png"
    # ...and a pattern is still a pattern when no file has its name.
    assert len(open_source(folder / "take#1.####.png")) == 3
