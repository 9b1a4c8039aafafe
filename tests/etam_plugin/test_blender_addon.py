"""The Blender add-on in a real Blender (Debian's `blender`, headless): installed by our
installer, run on a trimmed strip of real footage, its matte checked frame by frame against
what Blender renders. The frame oracle is FFmpeg's own decode of the clip."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import cv2
import numpy as np
import psutil
import pytest

from tests.etam_plugin.conftest_track import HEIGHT, WIDTH, write_clip
from tests.scripts import console_script

pytestmark = [pytest.mark.realtool, pytest.mark.slow]
DRIVER = Path(__file__).with_name("blender_driver.py")
FRAMES = 12
START, TRIM_START, TRIM_END = 10, 3, 3  # the strip shows media frames 3..8 from frame 13
FPS = [30, 1.001]  # the clip's 29.97


@pytest.fixture(scope="module")
def blender() -> str:
    found = shutil.which("blender")
    if found is None:
        pytest.fail("blender is not installed: apt-get install -y blender")
    return found


@pytest.fixture(scope="module")
def home(tmp_path_factory, blender: str, checkpoint: Path) -> dict[str, str]:
    """A Blender user folder of its own, with the add-on put there by our installer."""
    root = tmp_path_factory.mktemp("blender-home")
    env = dict(os.environ, BLENDER_USER_SCRIPTS=str(root / "scripts"))
    env["BLENDER_USER_CONFIG"] = str(root / "config")
    done = subprocess.run(
        [console_script("etam-plugin"), "blender", "install", "--checkpoint", str(checkpoint)],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()) == root / "scripts" / "addons" / "etam_vse"
    return env


@pytest.fixture(scope="module")
def movie(tmp_path_factory, media_dir: Path) -> Path:
    return write_clip(tmp_path_factory.mktemp("movie") / "shot #1.mp4", media_dir, FRAMES)


def drive(env: dict, request: dict, blend: Path | None = None) -> tuple[dict, str]:
    cmd = ["blender", "-b"] + ([str(blend)] if blend else ["--factory-startup"])
    cmd += ["--python-exit-code", "3", "--python", str(DRIVER), "--", json.dumps(request)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "Traceback" not in out, out
    return driven(done.stdout), out


def driven(stdout: str) -> dict:
    """What the driver found (its one ``DRIVER {json}`` line)."""
    line = next(ln for ln in stdout.splitlines() if ln.startswith("DRIVER "))
    return json.loads(line[len("DRIVER ") :])


def make_scene(env: dict, folder: Path, movie: Path, **extra) -> Path:
    blend = folder / "edit.blend"
    request = {"action": "make", "movie": str(movie), "size": [WIDTH, HEIGHT], "fps": FPS,
               "start": START, "trim_start": TRIM_START, "trim_end": TRIM_END,
               "blend": str(blend)} | extra  # fmt: skip
    drive(env, request)
    return blend


def ffmpeg_frames(movie: Path) -> np.ndarray:
    """Every frame as FFmpeg decodes it, RGB."""
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(movie), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, np.uint8).reshape(-1, HEIGHT, WIDTH, 3)


def rendered(paths: dict) -> dict[int, np.ndarray]:
    out = {}
    for frame, path in paths.items():
        bgra = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        out[int(frame)] = np.dstack([bgra[..., 2::-1], bgra[..., 3:]])
    return out


@pytest.fixture(scope="module")
def tracked(tmp_path_factory, home: dict, movie: Path) -> dict:
    folder = tmp_path_factory.mktemp("edit")
    blend = make_scene(home, folder, movie)
    found, out = drive(
        home, {"action": "track", "operator": {"strip": "clip", "points": "5:1:160,90"}}, blend
    )
    return {"blend": blend, "folder": folder, "found": found, "out": out}


def test_the_matte_strip_sits_above_the_strip_frame_for_frame(tracked: dict) -> None:
    found = tracked["found"]
    assert found["result"] == ["FINISHED"], tracked["out"]
    first = TRIM_START
    assert found["mattes"] == [
        {"name": "clip matte", "channel": 2, "start": START + TRIM_START,
         "duration": FRAMES - TRIM_START - TRIM_END, "mute": True,
         "first_file": f"{found['mattes'][0]['first_file'].split('.')[0]}.{first:06d}.png",
         "directory": found["mattes"][0]["directory"]}
    ]  # fmt: skip
    assert found["modifier_strip"] == "clip matte"
    assert found["points"] == "5:1:160,90"  # kept on the strip
    assert "masks 'clip' (media frames 3..8 from frame 13)" in tracked["out"]


def test_render_shows_each_source_frame_with_its_own_matte(tracked: dict, home: dict, movie):
    """Blender's render at timeline frame t shows media frame t - 10 (FFmpeg's decode says
    which frame it is) and its alpha is our matte of that very frame."""
    blend, folder = tracked["blend"], tracked["folder"]
    shown = range(START + TRIM_START, START + FRAMES - TRIM_END)
    plain, _ = drive(home, {"action": "render", "masked": False, "frames": list(shown),
                            "out": str(folder / "plain")}, blend)  # fmt: skip
    masked, _ = drive(home, {"action": "render", "masked": True,
                             "frames": [shown.start - 1, *shown, shown.stop],
                             "out": str(folder / "masked")}, blend)  # fmt: skip
    decoded = ffmpeg_frames(movie).astype(np.int16)
    matte_dir = Path(tracked["found"]["mattes"][0]["directory"])
    mattes = {}
    for t, picture in rendered(plain["paths"]).items():
        diffs = np.abs(decoded - picture[..., :3]).mean(axis=(1, 2, 3))
        source = t - START
        assert int(np.argmin(diffs)) == source, (t, diffs.round(2))
        assert diffs[source] < 3.0
        (path,) = matte_dir.glob(f"*_matte.{source:06d}.png")
        mattes[t] = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    pictures = rendered(masked["paths"])
    for t, matte in mattes.items():
        assert np.abs(pictures[t][..., 3].astype(int) - matte).max() <= 1, t
    assert pictures[shown.start - 1][..., 3].max() == 0  # nothing before the strip
    assert pictures[shown.stop][..., 3].max() == 0  # nor after it
    # the check above tells frames apart only if neighbouring mattes differ
    assert any((mattes[t] != mattes[t + 1]).any() for t in list(shown)[:-1])


def test_running_again_replaces_the_matte_in_place(tracked: dict, home: dict) -> None:
    again = {"strip": "clip", "points": "4:1:100,60 4:1:220,120:neg", "matte_ops": "grow=2"}
    found, out = drive(home, {"action": "track", "operator": again}, tracked["blend"])
    assert found["result"] == ["FINISHED"], out
    assert [m["name"] for m in found["mattes"]] == ["clip matte"]
    assert found["mattes"][0]["channel"] == 2
    assert found["modifier_strip"] == "clip matte"
    assert found["points"] == again["points"]


def test_each_piece_of_a_cut_strip_gets_its_own_aligned_matte(
    tmp_path: Path, home: dict, movie: Path
) -> None:
    blend = make_scene(home, tmp_path, movie, split_at=16)  # pieces: 3..5 and 6..8
    found, out = drive(
        home, {"action": "track", "operator": {"strip": "clip right", "points": "7:1:160,90"}},
        blend,
    )  # fmt: skip
    assert found["result"] == ["FINISHED"], out
    (matte,) = found["mattes"]
    assert (matte["name"], matte["start"], matte["duration"]) == ("clip right matte", 16, 3)
    assert matte["first_file"].endswith(".000006.png")
    assert "masks 'clip right' (media frames 6..8 from frame 16)" in out


def test_select_in_the_panel_then_the_strip_is_tracked_with_its_prompts(
    tmp_path: Path, home: dict, movie: Path, checkpoint: Path
) -> None:
    """Blender opens the real panel (offscreen Qt here) on the strip's media and range; the
    panel keeps the strip's prompts file; when it closes, Blender tracks with that file."""
    blend = make_scene(home, tmp_path, movie)
    env = dict(home, QT_QPA_PLATFORM="offscreen", ETAM_WEIGHTS_DIR=str(tmp_path / "none"))
    env |= {"XDG_CONFIG_HOME": str(tmp_path / "cfg"), "XDG_STATE_HOME": str(tmp_path / "st")}
    request = {"action": "track", "operator_name": "etam_select_in_panel",
               "operator": {"strip": "clip"},
               "strip_settings": {"points": "5:1:160,90 5:1:40,30:neg"}}  # fmt: skip
    cmd = ["blender", "-b", str(blend), "--python-exit-code", "3", "--python", str(DRIVER),
           "--", json.dumps(request)]  # fmt: skip
    blender = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)  # fmt: skip
    kept = tmp_path / "etam_mattes" / "clip.prompts.json"
    try:
        deadline = time.monotonic() + 300
        while not (kept.is_file() and len(json.loads(kept.read_text() or "[]")) == 2):
            assert time.monotonic() < deadline and blender.poll() is None, "no prompts kept"
            time.sleep(0.5)
        panels = [p for p in psutil.Process(blender.pid).children(recursive=True)
                  if "panel" in p.cmdline()]  # fmt: skip
        (panel,) = panels
        args = panel.cmdline()
        assert args[args.index("panel") + 1] == str(movie)
        assert args[args.index("--start") + 1] == "3" and args[args.index("--end") + 1] == "8"
        assert args[args.index("--checkpoint") + 1] == str(checkpoint)  # the add-on's weights
        panel.terminate()  # the person closes the panel
        out, _ = blender.communicate(timeout=600)
    finally:
        if blender.poll() is None:
            blender.kill()
    assert blender.returncode == 0 and "Traceback" not in out, out
    found = driven(out)
    assert found["result"] == ["FINISHED"], out
    assert found["prompts_file"] == "//etam_mattes/clip.prompts.json"
    assert found["points"] == ""  # now in the file
    assert [m["name"] for m in found["mattes"]] == ["clip matte"]
    assert found["modifier_strip"] == "clip matte"


@pytest.fixture(scope="module")
def bpy44() -> Path:
    """Blender 4.4 as a Python module (``.ci/install`` puts it in ``.venv-bpy``)."""
    python = Path(__file__).resolve().parents[2] / ".venv-bpy" / "bin" / "python"
    if not python.is_file():
        if os.environ.get("CI"):
            pytest.fail("no .venv-bpy: .ci/install makes it on CPython 3.11, x86-64")
        pytest.skip("Blender 4.4's bpy module needs CPython 3.11 on x86-64 (.ci/install)")
    return python


def test_blender_4_4_names_track_and_matte_frame_for_frame(
    tmp_path: Path, home: dict, movie: Path, bpy44: Path
) -> None:
    """Blender 4.4 renamed the sequencer's API (``strips``, ``Strip``; no ``speed_factor``):
    the add-on installed for 3.4 runs there unchanged, and the matte lands frame for frame."""

    def drive44(request: dict) -> dict:
        cmd = [str(bpy44), str(DRIVER), "--", json.dumps(request)]
        done = subprocess.run(cmd, env=home, capture_output=True, text=True, timeout=600)
        out = done.stdout + done.stderr
        assert done.returncode == 0 and "Traceback" not in out, out
        return driven(done.stdout)

    blend = tmp_path / "edit44.blend"
    drive44({"action": "make", "movie": str(movie), "size": [WIDTH, HEIGHT], "fps": FPS,
             "start": START, "trim_start": TRIM_START, "trim_end": TRIM_END,
             "blend": str(blend)})  # fmt: skip
    found = drive44({"action": "track", "open": str(blend),
                     "operator": {"strip": "clip", "points": "5:1:160,90"}})  # fmt: skip
    assert found["result"] == ["FINISHED"] and found["modifier_strip"] == "clip matte"
    shown = range(START + TRIM_START, START + FRAMES - TRIM_END)
    frames = [shown.start - 1, *shown, shown.stop]
    masked = drive44({"action": "render", "open": str(blend), "masked": True,
                      "frames": frames, "out": str(tmp_path / "r")})  # fmt: skip
    pictures = rendered(masked["paths"])
    matte_dir = Path(found["mattes"][0]["directory"])
    for t in shown:
        (path,) = matte_dir.glob(f"*_matte.{t - START:06d}.png")
        matte = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        assert np.abs(pictures[t][..., 3].astype(int) - matte).max() <= 1, t
    assert pictures[shown.start - 1][..., 3].max() == 0 and pictures[shown.stop][..., 3].max() == 0


@pytest.mark.parametrize(
    ("scene", "settings", "says"),
    [
        ({"speed": 2.0}, {}, "plays at another speed (2x)"),
        ({}, {"python": "/nowhere/bin/python"}, "etam-plugin's Python is gone"),
        ({}, {"checkpoint": "/nowhere/weights.pt"}, "weights.pt"),
        ({}, {"operator": {"strip": "nope"}}, "no strip named 'nope'"),
        ({}, {"operator": {"strip": "clip", "points": ""}}, "no prompts"),
    ],
    ids=["speed", "no-python", "no-weights", "no-strip", "no-prompts"],
)
def test_what_cannot_run_is_a_report_not_a_traceback(
    tmp_path: Path, home: dict, movie: Path, scene: dict, settings: dict, says: str
) -> None:
    blend = make_scene(home, tmp_path, movie, **scene)
    request = {"action": "track", "operator": {"strip": "clip", "points": "5:1:160,90"}}
    found, _ = drive(home, request | settings, blend)
    assert found["result"] == ["CANCELLED"]
    error = found["error"]
    assert error.startswith("Error: ") and len(error.strip().splitlines()) == 1, error
    assert says in error
    assert found["mattes"] == [] and found["modifier_strip"] is None
    assert not (tmp_path / "etam_mattes").exists() or not any((tmp_path / "etam_mattes").iterdir())


def test_install_replaces_only_its_own_folder(tmp_path: Path, blender: str) -> None:
    env = dict(os.environ, BLENDER_USER_SCRIPTS=str(tmp_path / "scripts"))
    env["BLENDER_USER_CONFIG"] = str(tmp_path / "config")
    cmd = [console_script("etam-plugin"), "blender", "install"]
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0 and again.returncode == 0, again.stderr
    addons = tmp_path / "scripts" / "addons"
    assert sorted(p.name for p in addons.iterdir()) == ["etam_vse"]  # nothing staged is left
    assert "no weights recorded" in again.stderr
    foreign = tmp_path / "other" / "addons" / "etam_vse"
    foreign.mkdir(parents=True)
    (foreign / "__init__.py").write_text("bl_info = {'name': 'someone else'}\n")
    env["BLENDER_USER_SCRIPTS"] = str(tmp_path / "other")
    refused = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert refused.returncode != 0
    assert refused.stderr.strip().splitlines()[-1].endswith("is not this add-on: not replacing it")
    assert (foreign / "__init__.py").read_text() == "bl_info = {'name': 'someone else'}\n"


def test_install_without_blender_says_where_to_point(tmp_path: Path) -> None:
    done = subprocess.run(
        [console_script("etam-plugin"), "blender", "install", "--blender", "/nowhere/blender"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Blender not found (/nowhere/blender)" in lines[0]
