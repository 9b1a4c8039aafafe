"""Argument types shared by several subcommands (one parser for each kind of value)."""

from __future__ import annotations

import argparse
from fractions import Fraction


def frame_rate(text: str) -> Fraction:
    """``--rate``: ``24``, ``25``, ``30000/1001``, ``29.97`` (snapped to the NTSC rate)."""
    from etam_plugin.errors import MediaError
    from etam_plugin.media.timecode import as_rate

    try:
        return as_rate(text)
    except MediaError:
        raise argparse.ArgumentTypeError(
            f"not a frame rate: {text!r} (e.g. 24, 25, 30000/1001)"
        ) from None


RATE_HELP = "frame rate of an EDL whose media cannot be found (e.g. 25 or 24000/1001)"
