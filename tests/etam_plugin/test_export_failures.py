"""Bad conditions lose nothing: read-only folder, full disk, cancel and Ctrl-C mid-write,
frames out of order or of the wrong size. Each leaves no partial output and no temp file,
keeps an older output intact, and says what went wrong."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from etam_plugin.errors import CancelledError, ExportError, ExportFrameError, MediaError
from etam_plugin.export import OutputSpec, export_mattes, writer_class
from etam_plugin.media.info import VideoInfo
from tests.etam_plugin.export_fs import listing, read_only_dir, tmpfs

H, W = 96, 160
FORMATS = [("prores4444", "out.mov"), ("luma-ffv1", "out.mkv"), ("png16", "out"),
           ("webm", "out.webm")]  # fmt: skip


def _info(n: int = 30) -> VideoInfo:
    return VideoInfo(path=Path("clip.mov"), width=W, height=H, frame_count=n,
                     frame_rate=Fraction(30000, 1001), start_timecode="01:00:00;00")  # fmt: skip


def _noise(i: int) -> np.ndarray:
    """Incompressible frames, so a small disk really fills."""
    return np.random.default_rng(i).integers(0, 256, (H, W, 3), dtype=np.uint8)


def _matte(i: int) -> np.ndarray:
    return np.random.default_rng(1000 + i).random((H, W), dtype=np.float32)


@pytest.mark.realtool
@pytest.mark.parametrize(("fmt", "name"), FORMATS)
def test_read_only_folder(tmp_path: Path, fmt: str, name: str) -> None:
    old = {"out.mov": b"older export"} if name == "out.mov" else {}
    with read_only_dir(tmp_path / "ro", old) as ro:
        with pytest.raises(ExportError) as exc:
            export_mattes(_noise, _info(4), _matte, fmt, ro / name)
        assert exc.value.path == ro / name
        assert "Read-only file system" in str(exc.value) or "Permission denied" in str(exc.value)
        assert listing(ro) == sorted(old)
        if old:
            assert (ro / "out.mov").read_bytes() == b"older export"


@pytest.mark.realtool
@pytest.mark.parametrize(("fmt", "name"), FORMATS)
def test_disk_full_on_tmpfs(tmp_path: Path, fmt: str, name: str) -> None:
    with tmpfs(tmp_path / "small", "256k") as small:
        (small / "keep.txt").write_bytes(b"x" * 1000)
        with pytest.raises(ExportError) as exc:
            export_mattes(_noise, _info(), _matte, fmt, small / name)
        assert "No space left on device" in str(exc.value)
        assert exc.value.path == small / name
        assert listing(small) == ["keep.txt"]  # the staged file/folder is gone too


_FSIZE_SCRIPT = r"""
import json, resource, signal, sys
from fractions import Fraction
from pathlib import Path
import numpy as np
from etam_plugin.errors import ExportError
from etam_plugin.export import export_mattes
from etam_plugin.media.info import VideoInfo
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))  # per file
fmt, out = sys.argv[1], Path(sys.argv[2])
info = VideoInfo(path=Path("c.mov"), width=160, height=96, frame_count=40,
                 frame_rate=Fraction(24))
noise = lambda i: np.random.default_rng(i).integers(0, 256, (96, 160, 3), dtype=np.uint8)
matte = lambda i: np.random.default_rng(99 + i).random((96, 160), dtype=np.float32)
try:
    export_mattes(noise, info, matte, fmt, out)
    print(json.dumps({"ok": True}))
except ExportError as exc:
    print(json.dumps({"ok": False, "message": str(exc), "path": str(exc.path)}))
"""


@pytest.mark.realtool
@pytest.mark.parametrize(("fmt", "name"), FORMATS)
def test_file_size_limit(tmp_path: Path, fmt: str, name: str) -> None:
    """The same through RLIMIT_FSIZE (works without privileges): writes fail with EFBIG."""
    out = tmp_path / name
    proc = subprocess.run([sys.executable, "-c", _FSIZE_SCRIPT, fmt, str(out)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["ok"] is False
    assert "File too large" in result["message"]
    assert result["path"] == str(out)
    assert listing(tmp_path) == []


@pytest.mark.parametrize(("fmt", "name"), FORMATS)
def test_cancel_mid_write_keeps_nothing_new(tmp_path: Path, fmt: str, name: str) -> None:
    target = tmp_path / name
    if fmt == "png16":
        target.mkdir()
        (target / "out.000000.png").write_bytes(b"older")
    else:
        target.write_bytes(b"older export")
    before = listing(tmp_path)
    cancel = threading.Event()
    seen: list[int] = []

    def progress(done: int, total: int) -> None:
        seen.append(done)
        if done == 5:
            cancel.set()

    with pytest.raises(CancelledError):
        export_mattes(_noise, _info(), _matte, fmt, target, progress=progress, cancel=cancel)
    assert seen == [1, 2, 3, 4, 5]
    assert listing(tmp_path) == before
    if fmt == "png16":
        assert listing(target) == ["out.000000.png"]
    else:
        assert target.read_bytes() == b"older export"


def test_ctrl_c_and_source_errors_mid_write(tmp_path: Path) -> None:
    def interrupted(i: int) -> np.ndarray:
        if i == 6:
            raise KeyboardInterrupt
        return _matte(i)

    with pytest.raises(KeyboardInterrupt):
        export_mattes(_noise, _info(), interrupted, "prores4444", tmp_path / "a.mov")

    def corrupt(i: int) -> np.ndarray:
        if i == 3:
            raise MediaError("frame 3 cannot be decoded", path="clip.mov", frame_index=3)
        return _noise(i)

    with pytest.raises(MediaError):
        export_mattes(corrupt, _info(), _matte, "png", tmp_path / "seq")
    assert listing(tmp_path) == []


def test_dropped_doubled_and_missing_frames_are_refused(tmp_path: Path) -> None:
    spec = OutputSpec.from_video_info(_info(10), (2, 6))
    cls = writer_class("prores4444")
    with cls(tmp_path / "a.mov", spec) as w:
        w.write(2, _noise(2), _matte(2))
        with pytest.raises(ExportFrameError) as exc:
            w.write(4, _noise(4), _matte(4))  # frame 3 dropped
        assert (exc.value.expected, exc.value.found) == (3, 4)
    with cls(tmp_path / "b.mov", spec) as w:
        w.write(2, _noise(2), _matte(2))
        with pytest.raises(ExportFrameError):
            w.write(2, _noise(2), _matte(2))  # doubled
    with cls(tmp_path / "c.mov", spec) as w:
        for i in (2, 3, 4):
            w.write(i, _noise(i), _matte(i))
        with pytest.raises(ExportFrameError, match="only 3 of 4 frames"):
            w.commit()
    bad_matte = np.zeros((H + 1, W), np.float32)
    with cls(tmp_path / "d.mov", spec) as w, pytest.raises(ExportFrameError, match="matte for"):
        w.write(2, _noise(2), bad_matte)
    with cls(tmp_path / "e.mov", spec) as w, pytest.raises(ExportFrameError, match="expected"):
        w.write(2, _noise(2)[..., :2], _matte(2))
    assert listing(tmp_path) == []


def test_iterables_must_carry_frame_numbers(tmp_path: Path) -> None:
    pairs = [(i, _matte(i)) for i in range(10) if i != 4]  # frame 4's matte is missing
    with pytest.raises(ExportFrameError, match="frame 4 is missing"):
        export_mattes(_noise, _info(10), iter(pairs), "luma-ffv1", tmp_path / "m.mkv")
    assert listing(tmp_path) == []
    dict_mattes = {i: _matte(i) for i in range(3, 7)}
    out = export_mattes(None, _info(10), dict_mattes, "luma-ffv1", tmp_path / "m.mkv",
                        frame_range=(3, 7))  # fmt: skip
    assert out.is_file()


def test_bad_requests_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"unknown export format 'mp4'.*prores4444"):
        export_mattes(_noise, _info(), _matte, "mp4", tmp_path / "x.mp4")
    with pytest.raises(ExportError, match=r"writes \.mov files"):
        export_mattes(_noise, _info(), _matte, "prores4444", tmp_path / "x.mp4")
    with pytest.raises(ExportError, match="output folder does not exist"):
        export_mattes(_noise, _info(), _matte, "prores4444", tmp_path / "no" / "x.mov")
    with pytest.raises(ExportError, match="outside the source"):
        export_mattes(_noise, _info(10), _matte, "png", tmp_path / "s", frame_range=(5, 11))
    with pytest.raises(ExportError, match="has no option"):
        export_mattes(_noise, _info(), _matte, "prores4444", tmp_path / "x.mov",
                      options={"crf": 3})  # fmt: skip
    assert listing(tmp_path) == []
