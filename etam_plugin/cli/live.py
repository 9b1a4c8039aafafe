"""`etam-plugin live`: mask an object on a webcam with EfficientTAM and feed OBS Studio.

A thin layer over :class:`etam_plugin.obs_bridge.Bridge`: arguments → ``BridgeConfig`` and
a tracker, then either the control window or a headless run (``--no-window``) until
``--frames`` are out or Ctrl-C. The obs-websocket password is never an argument: it comes
from ``ETAM_OBS_PASSWORD`` or a private config file (``--password-file``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from etam_plugin.engines import add_engine_arguments

NAME = "live"
HELP = "Mask any clicked object on a webcam live (EfficientTAM-Mobile) and feed OBS Studio."

EPILOG = """\
The OBS password is read from the environment variable ETAM_OBS_PASSWORD or from a config
file that only you can read (chmod 600): by default the user config folder's
etam-plugin/obs.ini (~/.config/etam-plugin/obs.ini on Linux), with
    [obs]
    password = ...
It is never taken from the command line. Exit codes: 0 done, 1 ran but OBS was never
reached (or every tracker step failed), 2 bad input (camera, checkpoint, prompt, password
file), 130 stopped with Ctrl-C (the stats file is still written); SIGTERM stops cleanly
and exits 0. --frames counts composited frames; the stats' frames_out counts those
delivered (sent to OBS's reader of the stream)."""


def _point(text: str) -> Any:
    from etam_plugin.obs_bridge.prompts import parse_point

    try:
        return parse_point(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _box(text: str) -> Any:
    from etam_plugin.obs_bridge.prompts import parse_box

    try:
        return parse_box(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from etam_plugin.obs_bridge.tracker_factory import MODEL_NICENESS

    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    src = parser.add_argument_group("camera")
    src.add_argument(
        "--camera", default="0", help="camera index, device path, video file (looped) or URL"
    )
    src.add_argument("--width", type=_positive_int, help="capture width (with --height)")
    src.add_argument("--height", type=_positive_int, help="capture height (with --width)")
    src.add_argument("--fps", type=_positive_float, help="capture frame rate to ask for")

    sel = parser.add_argument_group("selection (each --point/--box selects one more object)")
    sel.add_argument("--point", dest="prompts", action="append", type=_point, metavar="X,Y")
    sel.add_argument("--box", dest="prompts", action="append", type=_box, metavar="X0,Y0,X1,Y1")
    sel.add_argument(
        "--restore-selection",
        action="store_true",
        help="select again the objects selected when live last stopped on this camera (their "
        "clicks and boxes are remembered per camera on stop; without this flag the window "
        "offers them)",
    )
    sel.add_argument(
        "--object-effect",
        dest="object_effects",
        action="append",
        metavar="N=EFFECT",
        help="object N (the Nth --point/--box) gets its own effect on top of --effect: "
        "pixelate, blur (hide it) or outline[:COLOUR]; e.g. --object-effect 2=pixelate",
    )

    look = parser.add_argument_group("output")
    look.add_argument(
        "--effect",
        default="remove",
        help="remove, blur[:SIGMA], replace:IMAGE|#rrggbb, "
        "highlight[:outline|glow|dim|desaturate|spotlight], privacy[:pixelate|blur]",
    )
    look.add_argument(
        "--matte-ops",
        default=None,
        help='edge finishing, e.g. "feather=3,smooth=2" (default: soft edges + 2 px feather)',
    )
    obs = look.add_mutually_exclusive_group()
    obs.add_argument("--obs", default="127.0.0.1:4455", metavar="HOST:PORT", help="OBS to drive")
    obs.add_argument("--no-obs", action="store_true", help="serve the stream only, no OBS")
    look.add_argument("--scene", help="OBS scene for the source (default: the program scene)")
    look.add_argument("--source-name", default="etam-plugin", help="OBS media source name")
    look.add_argument(
        "--sync-audio",
        nargs="+",
        default=(),
        metavar="INPUT",
        help="delay these OBS audio inputs (e.g. 'Mic/Aux') by the bridge's measured latency, "
        "so speech matches the picture; restored on exit",
    )
    look.add_argument("--password-file", type=Path, help="private config file with [obs] password")
    look.add_argument("--stream-port", type=int, default=0, help="TCP port of the stream (0: any)")
    look.add_argument(
        "--hold",
        type=_non_negative_float,
        default=0.5,
        metavar="S",
        help="keep a lost object's last matte this many seconds (default 0.5)",
    )
    look.add_argument(
        "--fade",
        type=_non_negative_float,
        default=0.5,
        metavar="S",
        help="then fade it out over this many seconds (default 0.5)",
    )
    look.add_argument(
        "--fallback",
        choices=("passthrough", "keyed"),
        help="when every object is lost: the camera untouched, or the effect everywhere "
        "(default: the effect's choice; privacy hides everything)",
    )
    look.add_argument(
        "--camera-lost",
        choices=("slate", "transparent", "freeze"),
        default="slate",
        help="what OBS gets while the camera is lost: a 'camera lost' slate (default), a "
        "transparent picture, or nothing (the last frame stays)",
    )
    look.add_argument(
        "--virtual-camera", action="store_true", help="also feed a virtual camera (pyvirtualcam)"
    )

    model = parser.add_argument_group("model")
    add_engine_arguments(
        model,
        dtype="auto",
        checkpoint_help="checkpoint file or variant name (default mobile)",
        default="mobile",
    )
    model.add_argument(
        "--model-niceness",
        type=int,
        default=MODEL_NICENESS,
        metavar="N",
        help="run the model N nice steps below the output, so the output keeps the camera's "
        f"rate on a small CPU (Linux; 0: same priority; default {MODEL_NICENESS})",
    )

    run_group = parser.add_argument_group("run")
    run_group.add_argument("--frames", type=_positive_int, help="stop after N output frames")
    run_group.add_argument("--stats", type=Path, metavar="PATH.json", help="write stats here")
    run_group.add_argument(
        "--snapshot", type=Path, metavar="PATH.png", help="write the last output frame (RGBA)"
    )
    run_group.add_argument("--no-window", action="store_true", help="headless: no control window")


def run(args: argparse.Namespace) -> int:
    import logging

    from etam_plugin.errors import EtamError

    if (args.width is None) != (args.height is None):
        raise EtamError("--width and --height go together")
    from etam_plugin.engines import engine_options

    options = engine_options(args)  # what cannot run is refused before anything starts
    from etam_plugin.obs_bridge.tracker_factory import prepare_live_threads

    prepare_live_threads()  # before torch loads: its threads must not spin on a busy core
    if args.sync_audio and args.no_obs:
        raise EtamError("--sync-audio sets OBS inputs' audio offset: it needs OBS (not --no-obs)")
    if not args.no_window:
        _check_display()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    from etam_plugin.obs_bridge.live_run import check_writable, run_live

    # cheap checks before the model loads: output files, effect, matte ops, OBS, password
    for path in (args.stats, args.snapshot):
        if path is not None:
            check_writable(path)
    config = _config(args)
    from etam_plugin.obs_bridge.bridge import Bridge
    from etam_plugin.obs_bridge.tracker_factory import build_live_tracker

    tracker = build_live_tracker(options)
    bridge = Bridge(config, tracker)
    return run_live(
        bridge,
        frames=args.frames,
        window=not args.no_window,
        stats_path=args.stats,
        snapshot_path=args.snapshot,
    )


def _check_display() -> None:
    """Qt aborts the process without a display: say so instead."""
    import os

    from etam_plugin.errors import EtamError

    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY")
        or os.environ.get("WAYLAND_DISPLAY")
        or os.environ.get("QT_QPA_PLATFORM")
    ):
        raise EtamError("no display for the control window: use --no-window to run headless")


def _object_effect(text: str, selected: int) -> tuple[int, str]:
    """``N=EFFECT``: object N (in --point/--box order, from 1) gets its own effect."""
    from etam_plugin.errors import EtamError
    from etam_plugin.obs_bridge.effects import parse_object_effect

    number, sep, spec = text.partition("=")
    if not sep or not number.strip().isdigit() or int(number) <= 0:
        raise EtamError(f"--object-effect: expected N=EFFECT (e.g. 2=pixelate), got {text!r}")
    n = int(number)
    if n > selected:
        raise EtamError(
            f"--object-effect {text}: only {selected} object(s) selected with --point/--box"
        )
    parse_object_effect(spec)  # EffectError: one line, before the model loads
    return n, spec


def _config(args: argparse.Namespace) -> Any:
    from etam_plugin.matte import MatteOps
    from etam_plugin.obs_bridge.bridge import LIVE_MATTE, BridgeConfig
    from etam_plugin.obs_bridge.capture import parse_source
    from etam_plugin.obs_bridge.credentials import load_password
    from etam_plugin.obs_bridge.effects import parse_effect
    from etam_plugin.obs_bridge.obs_control import ObsSettings, parse_obs_address
    from etam_plugin.obs_bridge.presence import PresencePolicy

    prompts = tuple(args.prompts or ())
    object_effects = dict(_object_effect(text, len(prompts)) for text in args.object_effects or ())
    obs = password = None
    if not args.no_obs:
        host, port = parse_obs_address(args.obs)
        obs = ObsSettings(
            host=host,
            port=port,
            scene=args.scene,
            source_name=args.source_name,
            sync_audio=tuple(args.sync_audio),
        )
        password = load_password(config_path=args.password_file)
    return BridgeConfig(
        source=parse_source(args.camera),
        width=args.width,
        height=args.height,
        fps=args.fps,
        effect=parse_effect(args.effect),
        matte=LIVE_MATTE if args.matte_ops is None else MatteOps.parse(args.matte_ops),
        prompts=prompts,
        object_effects=object_effects,
        obs=obs,
        password=password,
        stream_port=args.stream_port,
        virtual_camera=args.virtual_camera,
        presence=PresencePolicy(hold_s=args.hold, fade_s=args.fade, fallback=args.fallback),
        model_niceness=max(0, min(19, args.model_niceness)),
        camera_lost=args.camera_lost,
        remember_selection=True,
        restore_selection=args.restore_selection,
        # headless without --frames, run_live prints the status line itself (with the count)
        **({"status_log_s": 0.0} if args.no_window and args.frames is None else {}),
    )
