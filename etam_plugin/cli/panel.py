"""`etam-plugin panel [SOURCE]`: the editor panel (PySide6).

The only module in ``etam_plugin`` that reaches Qt, and only inside ``run``, so the rest of the
CLI starts without it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "panel"
HELP = "Open the editor panel: click objects, track, correct, export mattes."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source",
        nargs="?",
        type=Path,
        help="a video file or an image-sequence folder to open at start",
    )
    parser.add_argument(
        "--theme",
        choices=("dark", "system"),
        help="the look (remembered for next time)",
    )


def run(args: argparse.Namespace) -> int:
    from etam_plugin.gui._qt.settings import PanelSettings
    from etam_plugin.gui.app import application, run_panel

    application()  # QSettings needs the application's name before it is read
    settings = PanelSettings()
    if args.theme:
        settings.set_theme(args.theme)
    return run_panel(args.source, settings=settings)
