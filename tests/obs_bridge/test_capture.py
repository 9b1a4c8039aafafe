"""Capture from real files through OpenCV: looping, pacing, newest-frame hand-over,
a source that disappears and comes back, and clear errors for bad media."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from etam_plugin.errors import CaptureError
from etam_plugin.obs_bridge.backoff import Backoff
from etam_plugin.obs_bridge.capture import CaptureThread, Frame, VideoSource, parse_source
from etam_plugin.obs_bridge.slots import LatestSlot
from etam_plugin.obs_bridge.testpattern import TestPattern, read_counter


def wait_for(check, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


def test_parse_source() -> None:
    assert parse_source("0") == 0
    assert parse_source(" 2 ") == 2
    assert parse_source("/dev/video1") == "/dev/video1"
    assert parse_source("rtsp://cam/stream") == "rtsp://cam/stream"
    with pytest.raises(CaptureError):
        parse_source("  ")


def test_file_source_reads_every_frame_exactly(pattern: TestPattern, pattern_clip: Path) -> None:
    src = VideoSource(str(pattern_clip))
    src.open()
    try:
        assert src.is_file and src.fps == pytest.approx(30)
        for i in range(pattern.frames):
            rgb = src.read()
            assert rgb is not None and rgb.shape == (240, 320, 3)
            assert read_counter(rgb) == i == src.index
        assert src.read() is None  # end of file
    finally:
        src.close()


def test_capture_loops_a_file_at_its_frame_rate(pattern_clip: Path) -> None:
    slot: LatestSlot[Frame] = LatestSlot()
    seen: list[int] = []
    cap = CaptureThread(VideoSource(str(pattern_clip)), [slot], size=(320, 240))
    cap.start()
    try:
        t0 = time.monotonic()
        last = 0
        while time.monotonic() - t0 < 2.5:
            got = slot.get(after=last, timeout=0.5)
            if got:
                last, frame = got
                seen.append(read_counter(frame.rgb))
        elapsed = time.monotonic() - t0
    finally:
        cap.stop()
        cap.join(2)
    # 60-frame clip at 30 fps: 2.5 s is ~75 frames, so it looped once, in order
    assert 60 <= len(seen) + slot.dropped <= 90, (len(seen), elapsed)
    assert seen.index(0, 1) > 50  # came back to frame 0 after the end
    assert cap.stats.fps() == pytest.approx(30, rel=0.15)
    assert cap.status().state == "stopped"


def test_a_slow_reader_gets_the_newest_frame(pattern_clip: Path) -> None:
    slot: LatestSlot[Frame] = LatestSlot()
    cap = CaptureThread(VideoSource(str(pattern_clip)), [slot], size=(160, 120))
    cap.start()
    try:
        time.sleep(0.5)
        seq, frame = slot.get(after=0, timeout=1)
        assert frame.rgb.shape == (120, 160, 3)  # resized to the requested size
        assert seq > 5 and slot.dropped >= seq - 1  # older frames were dropped, not queued
        assert frame.seq == seq and cap.latest_index >= frame.source_index
    finally:
        cap.stop()
        cap.join(2)


def test_file_removed_mid_run_is_reported_and_recovered(
    tmp_path: Path, pattern: TestPattern
) -> None:
    clip = TestPattern(frames=10).write(tmp_path / "short.mkv")
    backup = tmp_path / "backup.mkv"
    shutil.copy(clip, backup)
    slot: LatestSlot[Frame] = LatestSlot()
    errors: list[CaptureError] = []
    cap = CaptureThread(
        VideoSource(str(clip)),
        [slot],
        size=(320, 240),
        backoff=Backoff(initial=0.05, maximum=0.2),
        on_error=errors.append,
    )
    cap.start()
    try:
        assert wait_for(lambda: slot.seq > 3, 3)
        clip.unlink()  # the "camera" goes away; noticed when the file loops
        assert wait_for(lambda: cap.status().state == "reconnecting", 3)
        status = cap.status()
        assert "does not exist" in status.last_error and str(clip) in status.last_error
        assert len(errors) == 1 and errors[0].source == str(clip)
        stalled = slot.seq
        time.sleep(0.5)
        assert slot.seq == stalled  # nothing delivered while it is gone
        assert len(errors) == 1  # reported once, not once per retry
        shutil.copy(backup, clip)
        assert wait_for(lambda: slot.seq > stalled + 3, 3), "capture did not recover"
        status = cap.status()
        assert status.state == "running" and status.last_error is None
        assert status.reopen_count == 1
    finally:
        cap.stop()
        cap.join(2)


def test_missing_and_corrupt_sources_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="does not exist") as info:
        VideoSource(str(tmp_path / "nope.mp4")).open()
    assert info.value.source == str(tmp_path / "nope.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x01not a video" * 500)
    with pytest.raises(CaptureError, match=r"cannot open|no frame could be read"):
        VideoSource(str(junk)).open()


def test_a_camera_that_does_not_exist_is_a_capture_error() -> None:
    with pytest.raises(CaptureError, match=r"camera 57|/dev/video57"):
        VideoSource(57).open()


class _StuckSource(VideoSource):
    """A camera whose driver blocks in read() after a few frames (pulled mid-read)."""

    def __init__(self, clip: str) -> None:
        super().__init__(clip)
        self.release = __import__("threading").Event()

    def read(self):  # type: ignore[override]
        if self.index >= 3:
            self.release.wait(10)
            return None
        return super().read()


def test_a_source_that_blocks_in_read_is_reported_as_stalled(pattern_clip: Path) -> None:
    source = _StuckSource(str(pattern_clip))
    slot: LatestSlot[Frame] = LatestSlot()
    cap = CaptureThread(source, [slot], size=(320, 240), stall_s=0.3)
    cap.start()
    try:
        assert wait_for(lambda: cap.status().state == "stalled", 3)
        assert "no frame from video file" in cap.status().last_error
    finally:
        source.release.set()
        cap.stop()
        cap.join(2)
