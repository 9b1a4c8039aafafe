"""`etam-plugin timeline list TIMELINE`: the clips of an editing timeline, to pick one to
rotoscope (``etam-plugin track TIMELINE --clip N``)."""

from __future__ import annotations

import argparse
import json
import sys
from fractions import Fraction

from etam_plugin.cli._args import RATE_HELP, frame_rate

NAME = "timeline"
HELP = "Inspect editing timelines (.otio, FCP 7 .xml, .fcpxml, .edl, .kdenlive)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    p = sub.add_parser("list", help="List the video clips with media and frame ranges.")
    p.add_argument("timeline", help="timeline file")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--rate", type=frame_rate, default=None, help=RATE_HELP)


def _timecode(frames: int, rate: Fraction) -> str:
    from etam_plugin.errors import EtamError
    from etam_plugin.media.timecode import frame_to_timecode

    try:
        return frame_to_timecode(frames, rate)
    except EtamError:  # e.g. a negative record start; the frame count still tells
        return str(frames)


def run(args: argparse.Namespace) -> int:
    from etam_plugin.timeline import read_timeline

    clips = read_timeline(args.timeline, rate=args.rate)
    if args.json:
        rows = [
            {
                "index": c.index,
                "name": c.name,
                "track": c.track,
                "track_name": c.track_name,
                "media_path": str(c.media_path) if c.media_path else None,
                "media_exists": c.media_exists,
                "rate": str(c.rate),
                "source_start": c.source_start,
                "duration": c.duration,
                "record_start": c.record_start,
                "timeline_rate": str(c.timeline_rate),
                "available_start": c.available_start,
                "available_duration": c.available_duration,
                "handles": list(c.handles) if c.handles else None,
                "enabled": c.enabled,
            }
            for c in clips
        ]
        json.dump(rows, sys.stdout, indent=2)
        print()
        return 0
    if not clips:
        print("no video clips")
        return 0
    header = ("#", "track", "name", "record in", "source in", "frames", "fps", "handles", "media")
    table = [header]
    for c in clips:
        handles = f"{c.handles[0]}/{c.handles[1]}" if c.handles else "?"
        media = str(c.media_path) if c.media_path else "(none)"
        if c.media_path and not c.media_exists:
            media += "  [MISSING]"
        if not c.enabled:
            media += "  [DISABLED]"
        table.append(
            (
                str(c.index),
                c.track_name,
                c.name,
                _timecode(c.record_start, c.timeline_rate),
                _timecode(c.source_start, c.rate),
                str(c.duration),
                f"{float(c.rate):.3f}".rstrip("0").rstrip("."),
                handles,
                media,
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1])
    return 0
