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
    parser.add_argument(
        "--track",
        choices=("forward", "backward", "both"),
        help="track once the prompts are applied",
    )


def run(args: argparse.Namespace) -> int:
    from etam_plugin.prompts import build_prompts

    prompts = build_prompts(args.prompts, args.point, args.box).items()  # errors before Qt

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
    )
