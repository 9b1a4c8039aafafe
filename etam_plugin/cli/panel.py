"""`etam-plugin panel [SOURCE]`: the editor panel (PySide6).

The only module in ``etam_plugin`` that reaches Qt, and only inside ``run``, so the rest of the
CLI starts without it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from etam_plugin.cli._args import RATE_HELP, frame_rate

NAME = "panel"
HELP = "Open the editor panel: click objects, track, correct, export mattes."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source",
        nargs="?",
        type=Path,
        help="a video file, an image-sequence folder, a .etam project, or a timeline",
    )
    parser.add_argument(
        "--theme",
        choices=("dark", "system"),
        help="the look (remembered for next time)",
    )
    parser.add_argument("--clip", type=int, help="when SOURCE is a timeline: open clip N")
    parser.add_argument(
        "--handles", type=int, default=0, help="frames more each side of a timeline clip"
    )
    parser.add_argument(
        "--prompts",
        type=Path,
        help="prompts.json to apply at start (read as `track` reads it; the panel applies "
        "each entry's points as clicks, as it does every edit)",
    )
    parser.add_argument(
        "--point",
        action="append",
        default=[],
        metavar="FRAME:OBJ:X,Y[:neg]",
        help="a click to apply at start (repeatable; undoable like a click)",
    )
    parser.add_argument("--box", action="append", default=[], metavar="FRAME:OBJ:X0,Y0,X1,Y1")
    parser.add_argument("--rate", type=frame_rate, default=None, help=RATE_HELP)
    parser.add_argument("--start", type=int, help="when SOURCE is a clip: its in frame")
    parser.add_argument("--end", type=int, help="when SOURCE is a clip: its out frame")
    parser.add_argument(
        "--prompts-out",
        type=Path,
        help="keep this prompts.json equal to the panel's prompts at every change (as "
        "`track --prompts` reads it; may be the --prompts file, to go on editing it)",
    )
    parser.add_argument(
        "--track",
        choices=("forward", "backward", "both"),
        help="track once the prompts are applied",
    )


def _span(args: argparse.Namespace) -> tuple[int, int] | None:
    """--start/--end as (in, out); only for a clip (projects and timelines bring their own)."""
    from etam_plugin.errors import EtamError
    from etam_plugin.track import TIMELINE_EXTENSIONS

    if args.start is None and args.end is None:
        return None
    source = args.source
    if source is None or source.suffix.lower() in (".etam", *TIMELINE_EXTENSIONS):
        raise EtamError("--start/--end set the range of a clip: give a video or image folder")
    first, last = args.start or 0, args.end if args.end is not None else 2**31 - 1
    if not 0 <= first <= last:
        raise EtamError(f"--start {first} --end {last}: expected 0 <= start <= end")
    return first, last


def _prompts_out(args: argparse.Namespace) -> Path | None:
    """Where the prompts are kept, checked before the window opens: never the clip."""
    if args.prompts_out is None:
        return None
    from etam_plugin.export.targets import file_target, refuse_inputs

    path = file_target(args.prompts_out, "--prompts-out")
    if args.source is not None:
        refuse_inputs(path, {"source": args.source}, "--prompts-out")
    return path


def run(args: argparse.Namespace) -> int:
    from etam_plugin.prompts import build_prompts

    prompts = build_prompts(args.prompts, args.point, args.box).items()  # errors before Qt
    span, prompts_out = _span(args), _prompts_out(args)

    from etam_plugin.gui._qt.settings import PanelSettings
    from etam_plugin.gui.app import application, run_panel

    application()  # QSettings needs the application's name before it is read
    settings = PanelSettings()
    if args.theme:
        settings.set_theme(args.theme)
    return run_panel(
        args.source,
        settings=settings,
        prompts=prompts,
        track=args.track,
        clip=args.clip,
        handles=args.handles,
        rate=args.rate,
        span=span,
        prompts_out=prompts_out,
    )
