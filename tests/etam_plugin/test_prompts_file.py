"""prompts.json written by the panel (for a host add-on) reads back as the same calls, and
the panel's host options are checked before any window opens."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from etam_plugin.errors import PromptError
from etam_plugin.model import Prompt
from etam_plugin.prompts import load_prompts_file, write_prompts_file
from tests.scripts import console_script


def test_written_calls_read_back_as_the_same_calls(tmp_path: Path) -> None:
    calls = [
        (4, 1, Prompt(box_xyxy=(1.5, 2.0, 30.0, 40.25))),
        (4, 1, Prompt(points_xy=((10.0, 12.5),), labels=(0,), clear_old_points=False)),
        (9, 2, Prompt(points_xy=((3.0, 4.0), (5.0, 6.0)), labels=(1, 1))),
    ]
    path = tmp_path / "p.json"
    write_prompts_file(path, calls)
    assert load_prompts_file(path).items() == calls
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.json"]  # nothing staged left


def test_a_painted_mask_is_refused_and_the_old_file_kept(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    write_prompts_file(path, [(0, 1, Prompt(points_xy=((1.0, 2.0),), labels=(1,)))])
    before = path.read_bytes()
    with pytest.raises(PromptError, match="frame 3, object 1 has a painted mask"):
        write_prompts_file(path, [(3, 1, Prompt(mask=np.ones((4, 4), bool)))])
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--start", "5", "--end", "2"], "expected 0 <= start <= end"),
        (["--start", "-1"], "expected 0 <= start <= end"),
        (["--prompts-out", "{clip}"], "--prompts-out"),
    ],
)
def test_panel_host_options_are_checked_before_the_window(
    tmp_path: Path, extra: list[str], says: str
) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"not opened: the options fail first")
    args = [a.format(clip=clip) for a in extra]
    done = subprocess.run(
        [console_script("etam-plugin"), "panel", str(clip), *args],
        capture_output=True, text=True, timeout=120, env={"QT_QPA_PLATFORM": "offscreen",
                                                          "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], done.stderr
    assert clip.read_bytes() == b"not opened: the options fail first"


def test_a_range_is_for_clips_not_projects(tmp_path: Path) -> None:
    done = subprocess.run(
        [console_script("etam-plugin"), "panel", str(tmp_path / "a.etam"), "--start", "3"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--start/--end set the range of a clip" in done.stderr
