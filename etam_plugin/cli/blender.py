"""`etam-plugin blender install`: the Blender video-editor add-on."""

from __future__ import annotations

import argparse
import sys

NAME = "blender"
HELP = "Install the Blender video-sequencer add-on (track a strip, matte it on the timeline)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    install = sub.add_parser(
        "install",
        help="put the add-on into Blender's user add-ons, enabled, using this Python",
        description="Copies the add-on into the user add-on folder of BLENDER, records this "
        "Python (the one that has etam-plugin) and the weights for it, and enables it.",
    )
    install.add_argument(
        "--blender", help="the Blender program (default: $BLENDER, else `blender` on PATH)"
    )
    install.add_argument(
        "--checkpoint",
        default="",
        help="the weights the add-on tracks with: a checkpoint file or a variant name "
        "(can be changed later in the add-on's preferences)",
    )


def run(args: argparse.Namespace) -> int:
    from etam_plugin.hosts.blender import install

    done = install(args.blender, checkpoint=args.checkpoint)
    print(f"installed and enabled in {done.blender}: {done.folder}", file=sys.stderr)
    print(f"  runs etam-plugin with {done.python}", file=sys.stderr)
    if not done.checkpoint:
        print(
            "  no weights recorded: set a checkpoint in Blender's add-on preferences, or run "
            "again with --checkpoint",
            file=sys.stderr,
        )
    print(done.folder)
    return 0
