"""`etam-plugin bench media` runs and writes its numbers (speed is measured, never tested)."""

from __future__ import annotations

import json
from pathlib import Path

from etam_plugin.cli import main

from .media_clips import write_pyav


def test_bench_media_runs_and_writes_json(tmp_path: Path) -> None:
    clip = write_pyav(tmp_path / "tiny.mp4", 24, gop=8)
    out = tmp_path / "media.json"
    argv = ["bench", "media", str(clip), "--random", "3", "--generated-seconds", "0"]
    assert main([*argv, "--json", str(out)]) == 0
    (row,) = json.loads(out.read_text())["clips"]
    assert row["clip"] == "tiny.mp4" and row["frames"] == 24 and row["keyframes"] == 3
    assert row["sequential_fps"] > 0 and row["random_fps"] > 0
    assert 1 <= row["decoded_per_random_read"] <= 8
