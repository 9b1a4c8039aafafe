"""Fixtures for model tests: a short clip of real footage cut into JPEG frames."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

NUM_FRAMES = 24
SIZE = (320, 180)  # width, height of the cut frames


@pytest.fixture(scope="session")
def jpeg_clip(tmp_path_factory, media_dir: Path) -> tuple[Path, list[np.ndarray]]:
    """24 frames of juggle.mp4 at 320×180 as <index>.jpg (the reference's input format)
    and the same pixels decoded by Pillow for our session."""
    folder = tmp_path_factory.mktemp("jpeg_clip")
    with av.open(str(media_dir / "juggle.mp4")) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == NUM_FRAMES:
                break
            image = frame.to_image().resize(SIZE, Image.Resampling.BILINEAR)
            image.save(folder / f"{i}.jpg", quality=95)
    frames = [np.asarray(Image.open(folder / f"{i}.jpg").convert("RGB")) for i in range(NUM_FRAMES)]
    return folder, frames
