"""`etam-plugin panel [SOURCE]`: the editor panel (PySide6).

The only module in ``etam_plugin`` that reaches Qt, and only inside ``run``, so the rest of the
CLI starts without it.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from etam_plugin.cli._args import RATE_HELP, frame_rate
from etam_plugin.engines import add_checkpoint_arguments

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
    add_checkpoint_arguments(
        parser,
        checkpoint_help="the weights: a checkpoint file, or a variant name for its official "
        "weights (as Model ▸ Checkpoint File… and Model ▸ Variant set them; remembered)",
    )
    parser.add_argument(
        "--track",
        choices=("forward", "backward", "both"),
        help="track once the prompts are applied",
    )


def _span(args: argparse.Namespace) -> tuple[int, int] | None:
    """--start/--end as (in, out); only for a clip (projects and timelines bring their own)."""
    from etam_plugin.errors import EtamError
    from etam_plugin.timeline import READ_EXTENSIONS as TIMELINE_EXTENSIONS

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
    weights = _weights_changes(args)

    from etam_plugin.gui._qt.settings import PanelSettings
    from etam_plugin.gui.app import application, run_panel

    application()  # QSettings needs the application's name before it is read
    settings = PanelSettings()
    if args.theme:
        settings.set_theme(args.theme)
    if weights:
        settings.set_model_options(replace(settings.model_options(), **weights))
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


def _weights_changes(args: argparse.Namespace) -> dict[str, object]:
    """The Model menu's options ``--checkpoint``/``--variant`` set (checked before Qt): a
    variant name means its official weights; a file keeps its own name's variant when that
    is an official name (``efficienttam_ti_512x512.pt``), else ``--variant`` or the one
    chosen before."""
    from etam_plugin.errors import CheckpointError
    from etam_plugin.model import VARIANTS
    from etam_plugin.weights import checkpoint_filename

    changes: dict[str, object] = {}
    if args.checkpoint in VARIANTS:
        changes.update(variant=args.checkpoint, checkpoint=None)
    elif args.checkpoint:
        path = Path(args.checkpoint).expanduser()
        if not path.is_file():
            raise CheckpointError(f"no checkpoint file {path}", path=path, reason="missing")
        changes["checkpoint"] = path.absolute()
        named = [v for v in VARIANTS if checkpoint_filename(v) == path.name]
        if named:
            changes["variant"] = named[0]
    if args.variant:
        changes["variant"] = args.variant
    if changes:
        changes["backend"] = "torch"
    return changes
