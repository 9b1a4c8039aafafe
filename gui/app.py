"""Start the panel: ``etam-plugin panel [SOURCE]`` calls :func:`run_panel`."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from etam_plugin.errors import PromptError
from etam_plugin.gui._qt.controller import EditorController
from etam_plugin.gui._qt.main_window import MainWindow
from etam_plugin.gui._qt.settings import APPLICATION, ORGANIZATION, PanelSettings
from etam_plugin.gui._qt.theme import apply_theme, icon
from etam_plugin.gui.components.backend import ModelSessionFactory
from etam_plugin.gui.components.errors import describe_error
from etam_plugin.gui.components.frames import FramesFactory, open_frames
from etam_plugin.gui.components.recovery import RecoveryArea
from etam_plugin.gui.components.session_api import SessionFactory
from etam_plugin.model import Prompt
from etam_plugin.prompts import write_prompts_file

# The GUI thread needs the GIL back quickly after each Qt call while the worker runs Python
# (the model's glue code between kernels). At CPython's default 5 ms switch interval a
# repaint that makes many Qt calls can wait 5 ms per call; at 1 ms the longest GUI stall while
# tracking with a GIL-holding worker fell from 77-222 ms to 36-71 ms (p99 50-77 → 19-22 ms)
# with no loss of tracking speed (tests/gui/measure_responsiveness.py, shared 2-core machine).
GUI_SWITCH_INTERVAL_S = 0.001


def application(argv: Sequence[str] | None = None) -> QApplication:
    """The process's QApplication (created once, named so QSettings finds our settings).

    Also shortens the interpreter's thread switch interval: this process is the panel's.
    """
    sys.setswitchinterval(GUI_SWITCH_INTERVAL_S)
    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv) if argv is not None else [sys.argv[0]])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("etam-plugin")
    app.setWindowIcon(icon("etam-plugin"))
    return app  # type: ignore[return-value]


def create_window(
    settings: PanelSettings | None = None,
    session_factory: SessionFactory | None = None,
    frames_factory: FramesFactory = open_frames,
    recovery: RecoveryArea | None = None,
) -> MainWindow:
    """A main window with its controller (defaults: the real model and media reading).

    With ``recovery`` the work is autosaved there and crashed panels' work is offered back;
    without it (tests, embedding) nothing is autosaved."""
    settings = settings or PanelSettings()
    if session_factory is None:
        session_factory = ModelSessionFactory(settings.model_options())
    if recovery is not None:
        recovery.start_run()
    controller = EditorController(session_factory, frames_factory, recovery=recovery)
    return MainWindow(controller, settings)


def install_excepthook(window: MainWindow) -> None:
    """An exception escaping a slot becomes a readable dialog instead of killing the panel."""

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        text = "".join(traceback.format_exception(kind, exc, tb))
        sys.__stderr__.write(text)
        if isinstance(exc, KeyboardInterrupt):
            QApplication.quit()
            return
        window._on_error_occurred(describe_error(exc, traceback_text=text))

    sys.excepthook = hook


def keep_prompts_file(window: MainWindow, path: Path) -> None:
    """Rewrites ``path`` (a prompts.json) whenever the panel's prompts change; a failure
    to write is an error the window shows, once per kind of failure."""
    store = window.controller.prompts
    window.prompts_kept_in = path
    shown: set[str] = set()

    def write(frame: int | None, _obj: int | None) -> None:
        if frame is None:  # the store emptied to open a clip: its prompts come next, and a
            return  # failed start must not leave the host an empty file in their place
        try:
            write_prompts_file(path, store.calls())
        except PromptError as exc:
            if str(exc) not in shown:
                shown.add(str(exc))
                window.controller.errorOccurred.emit(describe_error(exc, "Keeping the prompts"))

    store.changed.connect(write)


def run_panel(
    source: str | Path | None = None,
    *,
    settings: PanelSettings | None = None,
    session_factory: SessionFactory | None = None,
    frames_factory: FramesFactory = open_frames,
    recovery: RecoveryArea | None = None,
    prompts: Sequence[tuple[int, int, Prompt]] = (),
    track: str | None = None,
    clip: int | None = None,
    handles: int = 0,
    rate: Fraction | None = None,
    span: tuple[int, int] | None = None,
    prompts_out: Path | None = None,
) -> int:
    """Show the panel and run until it is closed.

    First offers to recover the work of a panel that did not close normally; then opens
    ``source`` (a clip, a ``.etam`` project, or a timeline: clip number ``clip``, else the
    clip picker), applies ``prompts`` (frame, object, Prompt) as if clicked and, with
    ``track``, tracks. ``rate``: an EDL's frame rate when its media cannot be found.
    ``span``: a clip's in and out frames. ``prompts_out``: a ``prompts.json`` kept equal to
    the prompts at every change (how a host add-on gets them back).
    ``recovery`` defaults to the user's recovery folder.
    """
    app = application()
    settings = settings or PanelSettings()
    apply_theme(app, settings.theme())
    window = create_window(settings, session_factory, frames_factory, recovery or RecoveryArea())
    install_excepthook(window)
    window.timeline_rate = rate
    if prompts_out is not None:
        keep_prompts_file(window, Path(prompts_out))
    window.show()

    def start() -> None:
        if window.offer_recovery() or source is None:
            return
        if clip is not None:
            window.open_timeline_clip_number(Path(source), clip, handles)
        else:
            window.open_path(Path(source), span)
        if prompts or track:
            window.controller.apply_prompts(list(prompts), track)

    QTimer.singleShot(0, start)
    return int(app.exec())
