"""When a measured tracking rate means something (the status bar and the model share it)."""

from __future__ import annotations

from etam_plugin.model import Progress

# A rate from fewer frames or less time than this is noise (the first frame may be one
# already done, or cached features: "9865.7 fps · ETA 0:00").
MIN_FRAMES_FOR_RATE = 3
MIN_SECONDS_FOR_RATE = 1.0


def rate_known(progress: Progress) -> bool:
    """Whether ``progress.fps`` (and so the ETA) is measured over enough to mean something."""
    elapsed = progress.done / progress.fps if progress.fps > 0 else 0.0
    return progress.done >= MIN_FRAMES_FOR_RATE and elapsed >= MIN_SECONDS_FOR_RATE
