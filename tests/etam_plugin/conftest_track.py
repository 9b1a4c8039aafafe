"""What the `track` tests run on: a small real clip and seeded random weights in the official
checkpoint format (fixtures in ``conftest.py``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

WIDTH, HEIGHT, FRAMES = 320, 180, 8


def write_checkpoint(path: Path) -> Path:
    from etam_plugin.bench._reference_oracle import shaped_random_state_dict
    from etam_plugin.model import get_config, save_checkpoint

    save_checkpoint(shaped_random_state_dict(get_config("ti_512x512"), seed=3), path)
    return path


def write_clip(path: Path, media_dir: Path, frames: int = FRAMES) -> Path:
    """``frames`` frames of dog.mp4 (29.97 fps) scaled to 320×180, H.264, start timecode."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(media_dir / "dog.mp4"), "-frames:v", str(frames),
         "-vf", f"scale={WIDTH}:{HEIGHT}", "-c:v", "libx264", "-crf", "18", "-an",
         "-timecode", "01:00:00;00", str(path)],
        check=True,
    )  # fmt: skip
    return path
