"""`etam-plugin track`: track objects through a clip from prompts and write masks/mattes.

The argument names are a contract used by automation; keep them stable.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from etam_plugin.cli._args import RATE_HELP, frame_rate
from etam_plugin.engines import add_engine_arguments

NAME = "track"
HELP = "Track objects through a clip (or a timeline clip) and write masks, mattes, timelines."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", type=Path, help="video file, image-sequence folder, or timeline")
    add_engine_arguments(
        parser,
        pool_window=True,
        checkpoint_help="checkpoint file or variant name; with --backend onnx, an ONNX folder",
        variant_help="network variant (default: inferred)",
        required=True,
    )
    parser.add_argument("--prompts", type=Path, help="prompts.json")
    parser.add_argument("--point", action="append", default=[], metavar="FRAME:OBJ:X,Y[:neg]")
    parser.add_argument("--box", action="append", default=[], metavar="FRAME:OBJ:X0,Y0,X1,Y1")
    parser.add_argument("--direction", choices=("forward", "backward", "both"), default="forward")
    parser.add_argument("--start", type=int, help="first frame of the range (inclusive)")
    parser.add_argument("--end", type=int, help="last frame of the range (inclusive)")
    parser.add_argument("--masks-out", type=Path, help="DIR/obj_<id>/<frame>.png, 255 inside")
    parser.add_argument("--logits-out", type=Path, help="DIR/obj_<id>/<frame>.npy, float32")
    parser.add_argument("--vfr", choices=("conform", "keep"), help="policy for variable-rate video")
    parser.add_argument("--clip", type=int, help="clip number, when SOURCE is a timeline")
    parser.add_argument("--handles", type=int, default=0, help="extra frames each side of a clip")
    parser.add_argument("--rate", type=frame_rate, default=None, help=RATE_HELP)
    parser.add_argument("--export", help="prores4444, luma, luma-ffv1, png, png16 or webm")
    parser.add_argument("--out", type=Path, help="output path of --export")
    parser.add_argument(
        "--export-option",
        action="append",
        default=[],
        type=_export_option,
        metavar="KEY=VALUE",
        help="an option of the --export format, e.g. content=matte for a grey png matte "
        "(repeatable; the format names the options it knows)",
    )
    parser.add_argument("--matte-ops", default="", help='e.g. "feather=2,grow=1,smooth=3"')
    parser.add_argument("--timeline-out", type=Path, help=".otio, .xml, .fcpxml or .kdenlive")
    parser.add_argument("--objects", default="all", help="objects to export: 1,2 or all")
    parser.add_argument("--combine", choices=("union", "separate"), default="union")
    parser.add_argument("--session", type=Path, help="keep the session folder here")
    parser.add_argument(
        "--progress",
        choices=("bar", "json"),
        default="bar",
        help='bar: progress bars on stderr; json: one {"stage", "done", "total"} '
        "object a line on stderr, for programs that run this one (host add-ons)",
    )


def _export_option(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r}: expected KEY=VALUE, e.g. content=matte")
    return key.strip(), value.strip()


def _objects(text: str) -> list[int] | None:
    from etam_plugin.errors import EtamError

    if text == "all":
        return None
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise EtamError(f"--objects {text!r}: expected 1,2,… or all") from None


def _checkpoint_file(name: str) -> Path | None:
    """The checkpoint as a file when it names one (a variant name is resolved later)."""
    path = Path(name).expanduser()
    return path if path.is_file() else None


def run(args: argparse.Namespace) -> int:
    import threading

    from tqdm import tqdm

    from etam_plugin.engines import build_engine, engine_options
    from etam_plugin.matte import MatteOps
    from etam_plugin.prompts import build_prompts
    from etam_plugin.track import TrackRequest, run_track

    options = engine_options(args)  # what cannot run is refused before anything is read
    request = TrackRequest(
        source=args.source,
        prompts=build_prompts(args.prompts, args.point, args.box),
        direction=args.direction,
        start=args.start,
        end=args.end,
        clip=args.clip,
        handles=args.handles,
        rate=args.rate,
        vfr=args.vfr,
        masks_out=args.masks_out,
        logits_out=args.logits_out,
        export=args.export,
        out=args.out,
        export_options=dict(args.export_option),
        matte_ops=MatteOps.parse(args.matte_ops),
        timeline_out=args.timeline_out,
        objects=_objects(args.objects),
        combine=args.combine,
        reads=tuple(p for p in (args.prompts, _checkpoint_file(args.checkpoint)) if p),
    )
    engine = build_engine(options)
    if options.backend == "onnx":
        from etam_plugin.onnx_runtime import describe_engine

        print(f"backend: {describe_engine(engine)}", file=sys.stderr)
    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if args.progress == "json":
            print(json.dumps({"stage": stage, "done": done, "total": total}), file=sys.stderr)
            sys.stderr.flush()
            return
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, unit="frame", file=sys.stderr)
        bar.update(done - bar.n)

    cancel = threading.Event()
    try:
        summary = run_track(
            request,
            None,
            progress=progress,
            cancel=cancel,
            session_folder=args.session,
            engine=engine,
        )
    finally:
        for bar in bars.values():
            bar.close()
    first, last = summary.frame_range
    print(
        f"tracked {summary.frames_tracked} frames ({first}..{last}) of objects "
        f"{summary.objects} at {summary.fps:.2f} fps",
        file=sys.stderr,
    )
    for path in summary.outputs:
        print(path)
    return 0
