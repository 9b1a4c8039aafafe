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


def add_checkpoint_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    *,
    checkpoint_help: str = "checkpoint file or variant name",
    variant_help: str = "network of --checkpoint's file (default: told by the file)",
    **checkpoint: object,
) -> None:
    """``--checkpoint`` (a file, or a variant's official weights by name) and ``--variant``,
    the same in every command that runs the network; ``checkpoint``: add_argument's extra
    keywords for ``--checkpoint`` (``required``, ``default``)."""
    from etam_plugin.model import VARIANTS

    parser.add_argument("--checkpoint", help=checkpoint_help, **checkpoint)  # type: ignore[arg-type]
    parser.add_argument("--variant", choices=VARIANTS, help=variant_help)
