"""`etam-plugin track` never destroys what is not its own, and refuses what it can check
before the first frame is tracked. Through the real CLI, on a real clip made by ffmpeg."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from etam_plugin.atomic import stage_prefix
from etam_plugin.cli import main

from .conftest_track import write_clip

pytestmark = pytest.mark.realtool


def _snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with its checksum."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _track(checkpoint: Path, source: Path, *extra: str) -> int:
    return main(
        ["track", str(source), "--checkpoint", str(checkpoint), "--point", "1:1:160,90", *extra]
    )


@pytest.fixture
def shoot(tmp_path: Path, clip: Path) -> Path:
    """A camera folder: the source clip and other files of the user's."""
    folder = tmp_path / "shoot"
    folder.mkdir()
    shutil.copy(clip, folder / "A001.mov")
    (folder / "notes.txt").write_text("keep me")
    (folder / "A001.mov.xmp").write_text("<x/>")
    return folder


def test_a_png_export_into_the_clips_folder_is_refused_and_touches_nothing(
    checkpoint, shoot, capsys, monkeypatch
) -> None:
    before = _snapshot(shoot)
    masks = shoot.parent / "masks"
    for out in (str(shoot), "."):
        monkeypatch.chdir(shoot)
        code = _track(
            checkpoint, shoot / "A001.mov", "--export", "png", "--out", out,
            "--masks-out", str(masks),
        )  # fmt: skip
        err = capsys.readouterr().err
        assert code == 2, err
        assert "already holds files this export does not write" in err
        assert "A001.mov" in err
        assert _snapshot(shoot) == before
        assert not masks.exists(), "refused before the first frame was tracked"


def test_a_png_export_replaces_only_an_earlier_export_of_its_own(
    checkpoint, clip, tmp_path, capsys
) -> None:
    out = tmp_path / "matte"
    assert _track(checkpoint, clip, "--end", "3", "--export", "png", "--out", str(out)) == 0
    first = sorted(p.name for p in out.iterdir())
    assert first == [f"matte.{i:06d}.png" for i in range(4)]  # frames 0..3
    assert _track(checkpoint, clip, "--end", "2", "--export", "png", "--out", str(out)) == 0
    assert sorted(p.name for p in out.iterdir()) == first[:3]  # the new export, whole
    (out / "mine.txt").write_text("a file the user put there")
    assert _track(checkpoint, clip, "--export", "png", "--out", str(out)) == 2
    assert "mine.txt" in capsys.readouterr().err
    assert (out / "mine.txt").read_text() == "a file the user put there"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no staged leftovers"


@pytest.mark.parametrize("link", ["same", "relative", "symlink", "hardlink"])
def test_an_output_that_is_an_input_is_refused(
    checkpoint, clip, tmp_path, link, capsys, monkeypatch
) -> None:
    source = tmp_path / "clip.mov"
    shutil.copy(clip, source)
    prompts = tmp_path / "prompts.json"
    prompts.write_text('[{"frame": 1, "obj": 1, "points": [[160, 90]]}]')
    before = _snapshot(tmp_path)
    monkeypatch.chdir(tmp_path)
    out = {
        "same": str(source),
        "relative": "./sub/../clip.mov",
        "symlink": "alias.mov",
        "hardlink": "twin.mov",
    }[link]
    (tmp_path / "sub").mkdir()
    if link == "symlink":
        (tmp_path / "alias.mov").symlink_to(source)
    if link == "hardlink":
        os.link(source, tmp_path / "twin.mov")
    before = _snapshot(tmp_path)
    code = _track(checkpoint, source, "--export", "prores4444", "--out", out)
    assert code == 2
    assert "is the source this run reads" in capsys.readouterr().err
    # The timeline written over the prompts file (a hard link named .otio) or the checkpoint.
    os.link(prompts, tmp_path / "prompts.otio")
    os.link(checkpoint, tmp_path / "weights.otio")
    before = _snapshot(tmp_path)
    for timeline in ("prompts.otio", "weights.otio"):
        extra = ["--export", "prores4444", "--out", "m.mov", "--timeline-out", timeline]
        code = main(
            ["track", str(source), "--checkpoint", str(checkpoint), "--prompts", str(prompts),
             *extra]
        )  # fmt: skip
        assert code == 2
        assert "this run reads" in capsys.readouterr().err
    assert _snapshot(tmp_path) == before
    assert checkpoint.stat().st_size > 0


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--export", "prores4444", "--out", "x.mp4"], "prores4444 writes .mov files"),
        (["--export", "prores", "--out", "x.mov"], "prores"),
        (["--export", "prores4444", "--out", "a_file.txt/x.mov"], "is not a folder"),
        (["--masks-out", "a_file.txt"], "is a file, not a folder"),
        (["--export", "png", "--out", "a_file.txt"], "is a file, not a folder"),
        (["--matte-ops", "feather=1e9", "--export", "luma", "--out", "l.mov"], "feather"),
        (["--direction", "backward", "--point", "0:1:10,10"], "covers no other frame"),
        (["--session", "a_file.txt"], "is a file, not a folder"),
        (["--vfr", "keep", "--export", "prores4444", "--out", "m.mov"], "would drift"),
        (["--export", "prores4444", "--out", "m.mov", "--timeline-out", "t.txt"], "timelines"),
    ],
)
def test_what_can_be_checked_is_refused_before_tracking(
    checkpoint, clip, tmp_path, monkeypatch, capsys, extra, says
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a_file.txt").write_text("mine")
    started = time.perf_counter()
    if "--point" in extra:  # a prompt on frame 0 only
        code = main(["track", str(clip), "--checkpoint", str(checkpoint), *extra])
    else:
        code = _track(checkpoint, clip, *extra, "--logits-out", "logits")
    err = capsys.readouterr().err
    assert code == 2, err
    assert says in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "logits").exists(), "refused before the first frame was tracked"
    assert (tmp_path / "a_file.txt").read_text() == "mine"
    assert time.perf_counter() - started < 30


def test_a_stale_staged_file_of_a_killed_run_is_removed_by_the_next(
    checkpoint, clip, tmp_path
) -> None:
    """After a SIGKILL mid-write, the next export to the same target removes the dead
    process's staged file, and leaves a live process's alone."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    target = tmp_path / "matte.mov"
    stale = tmp_path / f".matte.mov.etam{dead.pid}.abcd1234.partial"
    stale.write_bytes(b"half a matte")
    alive = tmp_path / f".matte.mov.etam{os.getppid()}.abcd1234.partial"
    alive.write_bytes(b"someone else's")
    assert stage_prefix(target).startswith(".matte.mov.etam")
    assert not stale.exists() and alive.exists()
    alive.unlink()
    stale.write_bytes(b"half a matte")
    code = _track(checkpoint, clip, "--end", "2", "--export", "prores4444", "--out", str(target))
    assert code == 0 and target.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["matte.mov"]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_mid_run_cleans_up_like_ctrl_c(checkpoint, media_dir, tmp_path, sig) -> None:
    """The CLI in its own process, stopped mid-run: exit 128 + signal (130 for Ctrl-C), no
    staged file, no output, no temporary session folder left."""
    clip = write_clip(tmp_path / "long.mov", media_dir, frames=60)
    work, tmp = tmp_path / "out", tmp_path / "tmp"
    work.mkdir()
    tmp.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "etam_plugin", "track", str(clip), "--checkpoint",
         str(checkpoint), "--point", "0:1:160,90", "--masks-out", str(work / "masks"),
         "--export", "prores4444", "--out", str(work / "m.mov")],
        env={**os.environ, "TMPDIR": str(tmp)},
        stderr=subprocess.PIPE,
        text=True,
        # as from a terminal: a test run started in the background (``cmd &``) ignores
        # SIGINT, and so would the CLI it starts (Python then raises no KeyboardInterrupt)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not list((work / "masks").rglob("000002.png")):  # tracking is under way
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == (130 if sig == signal.SIGINT else 128 + sig), err
    assert not (work / "m.mov").exists()
    leftovers = [p for p in work.rglob("*") if ".partial" in p.name or ".etam" in p.name]
    assert not leftovers
    assert not list(tmp.iterdir()), f"temporary files left: {list(tmp.iterdir())}"


def test_a_read_only_output_folder_is_refused_before_tracking(
    checkpoint, clip, tmp_path, capsys
) -> None:
    from .export_fs import read_only_dir

    with read_only_dir(tmp_path / "ro", {}) as ro:
        masks = tmp_path / "masks"
        code = _track(
            checkpoint, clip, "--masks-out", str(masks), "--export", "prores4444",
            "--out", str(ro / "m.mov"),
        )  # fmt: skip
        err = capsys.readouterr().err
        assert code == 2 and "Read-only file system" in err, err
        assert not masks.exists()


@pytest.mark.slow
def test_after_a_kill_9_the_next_run_removes_what_the_killed_one_left(
    checkpoint, clip, media_dir, tmp_path
) -> None:
    long = write_clip(tmp_path / "long.mov", media_dir, frames=60)
    tmp, masks = tmp_path / "tmp", tmp_path / "masks"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "etam_plugin", "track", str(long), "--checkpoint",
         str(checkpoint), "--point", "0:1:160,90", "--masks-out", str(masks)],
        env=env, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not list(masks.rglob("000002.png")):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    left = [p.name for p in tmp.iterdir()]
    assert left and all(f".etam{proc.pid}." in name for name in left), left
    again = subprocess.run(
        [sys.executable, "-m", "etam_plugin", "track", str(clip), "--checkpoint",
         str(checkpoint), "--point", "0:1:160,90", "--end", "1"],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert list(tmp.iterdir()) == []
