"""The panel's main window: viewer in the centre, transport bar and timeline strip below,
objects and finishing docks on the right, menus, toolbar and status bar.

It only wires views to the controller; every action's shortcut comes from the one table in
``components/shortcuts.py`` (which the help dialog lists).
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import psutil
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDockWidget,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressDialog,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from etam_plugin.devices import cpu_cores
from etam_plugin.errors import MediaError, TimelineRateError
from etam_plugin.gui._qt.brush import MAX_SIZE, MIN_SIZE
from etam_plugin.gui._qt.compact import TextIfRoomButton, WholeOrNothingLabel
from etam_plugin.gui._qt.controller import EditorController, SessionState, StatusInfo
from etam_plugin.gui._qt.dialogs import ShortcutsDialog, error_box
from etam_plugin.gui._qt.export_dialog import ExportDialog
from etam_plugin.gui._qt.finishing_panel import FinishingPanel
from etam_plugin.gui._qt.objects_panel import ObjectsPanel, pick_color
from etam_plugin.gui._qt.progress import TrackingProgress, format_eta
from etam_plugin.gui._qt.recovery_dialog import RecoveryChoice, RecoveryDialog
from etam_plugin.gui._qt.settings import PanelSettings
from etam_plugin.gui._qt.theme import apply_theme, icon
from etam_plugin.gui._qt.timeline_dialog import ClipPickerDialog
from etam_plugin.gui._qt.timeline_strip import TimelineStrip
from etam_plugin.gui._qt.viewer import Viewer
from etam_plugin.gui.components import messages as m
from etam_plugin.gui.components.errors import ErrorReport, describe_error
from etam_plugin.gui.components.model_options import DEVICES, PRECISIONS, ModelOptions
from etam_plugin.gui.components.project import PROJECT_SUFFIX, ProjectState
from etam_plugin.gui.components.recovery import RecoveryCandidate
from etam_plugin.gui.components.render import ViewMode
from etam_plugin.gui.components.shortcuts import by_action
from etam_plugin.media.timecode import as_rate, frame_to_timecode, timecode_to_frame
from etam_plugin.model import ATTENTION_MODES, VARIANTS, Progress
from etam_plugin.timeline import READ_EXTENSIONS as TIMELINE_EXTENSIONS

VIDEO_FILTER = (
    "Video, project or timeline (*.mp4 *.mov *.mkv *.avi *.webm *.mxf *.m4v *.mts *.etam "
    "*.otio *.xml *.fcpxml *.edl *.kdenlive);;"
    "Video (*.mp4 *.mov *.mkv *.avi *.webm *.mxf *.m4v *.mts);;"
    "Projects (*.etam);;Images (*.png *.jpg *.jpeg *.tif *.tiff);;All files (*)"
)
TIMELINE_FILTER = "Timelines (*.otio *.xml *.fcpxml *.fcpxmld *.edl *.kdenlive);;All files (*)"
PROJECT_FILTER = "etam-plugin projects (*.etam)"
MEMORY_POLL_MS = 2000
# Track commands over more frames than this ask first (2 min of 25 fps footage: on a CPU,
# about an hour of work).
LONG_TRACK_FRAMES = 3000


RATE_CHOICES = ("23.976", "24", "25", "29.97", "30", "48", "50", "59.94", "60")
"""Frame rates offered when an EDL's rate is unknown (the field also takes any other)."""


class MainWindow(QMainWindow):
    def __init__(
        self, controller: EditorController, settings: PanelSettings, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.settings = settings
        self.setWindowTitle("etam-plugin")
        self.setWindowIcon(icon("etam-plugin"))
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks)
        self.error_boxes: list[QMessageBox] = []
        self.last_report: ErrorReport | None = None
        self._process = psutil.Process()
        self._after_save: Callable[[], object] | None = None
        self._closing = False
        self._wanted_options: ModelOptions | None = None
        self.export_dialog: ExportDialog | None = None
        self.download_dialog: QProgressDialog | None = None
        self._auto_clip: tuple[Path, int, int] | None = None
        self.timeline_rate: Fraction | None = None  # an EDL's rate (--rate, or asked once)
        # A host add-on's panel (--prompts-out): the prompts live in the host's file, which
        # the host tracks once the panel closes, so quitting does not ask to save them.
        self.prompts_kept_in: Path | None = None
        self.long_track_frames = LONG_TRACK_FRAMES  # more is confirmed first
        controller.export_folder = settings.export_folder()

        self.viewer = Viewer()
        self.viewer.bind(controller)
        self.strip = TimelineStrip(controller)
        self.progress = TrackingProgress()
        self.objects_panel = ObjectsPanel(controller)
        self.finishing_panel = FinishingPanel(controller)
        self.actions: dict[str, QAction] = {}
        self._build_actions()
        self._build_central()
        self._build_docks()
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()
        self._connect()
        self._restore()
        self._on_source_state()
        self._memory_timer = QTimer(self)
        self._memory_timer.timeout.connect(self._on_memory_timer_timeout)
        self._memory_timer.start(MEMORY_POLL_MS)
        self._on_memory_timer_timeout()

    # ================================================================== building
    def _action(
        self,
        name: str,
        text: str,
        slot: Callable[[], object],
        icon_name: str | None = None,
        checkable: bool = False,
    ) -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        if icon_name:
            action.setIcon(icon(icon_name))
        shortcut = by_action().get(name)
        if shortcut is not None:
            action.setShortcuts([QKeySequence(k) for k in shortcut.keys])
            keys = " / ".join(shortcut.keys)
            action.setToolTip(f"{shortcut.text} ({keys})")
            action.setStatusTip(shortcut.text)
        action.setCheckable(checkable)
        action.triggered.connect(lambda _checked=False: slot())
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.addAction(action)  # shortcuts work even for actions not on a menu
        self.actions[name] = action
        return action

    def _build_actions(self) -> None:
        c, t, v = self.controller, self.controller.transport, self.viewer
        a = self._action
        a("open", "&Open…", self.open_dialog, "open")
        a("open_sequence", "Open Image &Sequence…", self.open_sequence_dialog, "open")
        a("open_timeline", "Open &Timeline Clip…", self.open_timeline_dialog, "timeline")
        a("save", "&Save Project", self.save, "save")
        a("save_as", "Save Project &As…", self.save_as)
        a("export", "&Export…", self.show_export, "export")
        a("quit", "&Quit", self.close)
        undo = c.undo_stack.createUndoAction(self, "&Undo")
        redo = c.undo_stack.createRedoAction(self, "&Redo")
        for name, action, icon_name in (("undo", undo, "undo"), ("redo", redo, "redo")):
            action.setObjectName(name)
            action.setIcon(icon(icon_name))
            action.setShortcuts([QKeySequence(k) for k in by_action()[name].keys])
            self.addAction(action)
            self.actions[name] = action
        a("add_object", "&Add Object", c.add_object, "add")
        a("delete_object", "&Delete Object", c.delete_object, "delete")
        a("next_object", "&Next Object", lambda: self._cycle_object(1))
        a("previous_object", "&Previous Object", lambda: self._cycle_object(-1))
        a("clear_prompt", "&Clear Prompt on This Frame", c.clear_prompt)
        a("brush", "&Brush", self._on_brush_toggled, "brush", checkable=True)
        a("play_backward", "Play &Backward", t.shuttle_backward, "play-backward")
        a("stop", "&Stop", t.stop, "stop")
        a("play_forward", "&Play Forward", t.shuttle_forward, "play")
        a("prev_frame", "Previous Frame", lambda: t.step(-1), "step-backward")
        a("next_frame", "Next Frame", lambda: t.step(1), "step-forward")
        a("first_frame", "First Frame", t.go_start, "first-frame")
        a("last_frame", "Last Frame", t.go_end, "last-frame")
        a("loop", "&Loop In–Out", self._on_loop_toggled, checkable=True)
        a("next_gap", "Next &Problem Frame", lambda: c.next_problem(1))
        a("previous_gap", "Previous Pro&blem Frame", lambda: c.next_problem(-1))
        a("go_to_frame", "&Go to Frame…", self.go_to_frame)
        a("set_in", "Set &In Point", t.set_in, "set-in")
        a("set_out", "Set &Out Point", t.set_out, "set-out")
        a("clear_range", "Clear Range", t.clear_range)
        a("track_forward", "Track &Forward", lambda: self.track("forward"), "track-forward")
        a("track_backward", "Track &Backward", lambda: self.track("backward"), "track-backward")
        a("track_both", "Track B&oth Ways", lambda: self.track("both"), "track-both")
        a("retrack", "&Re-track from Here", lambda: self.track("forward"), "retrack")
        a("cancel_tracking", "&Cancel Tracking", self._cancel_tracking, "cancel")
        a("zoom_fit", "&Fit", v.zoom_fit, "fit")
        a("zoom_100", "&100 %", v.zoom_100, "zoom-100")
        a("zoom_in", "Zoom &In", v.zoom_in, "zoom-in")
        a("zoom_out", "Zoom &Out", v.zoom_out, "zoom-out")
        strip = self.strip
        a("timeline_zoom_in", "Zoom Timeline In", strip.zoom_in, "zoom-in")
        a("timeline_zoom_out", "Zoom Timeline Out", strip.zoom_out, "zoom-out")
        a("timeline_zoom_range", "Zoom Timeline to In–Out", strip.zoom_to_range, "zoom-range")
        a("timeline_zoom_all", "Show Whole Clip in Timeline", strip.zoom_all, "zoom-all")
        strip.set_zoom_actions(
            [self.actions[f"timeline_zoom_{k}"] for k in ("out", "in", "range", "all")]
        )
        a("toggle_markers", "Show Prompt &Markers", self._on_toggle_markers, checkable=True)
        self.actions["toggle_markers"].setChecked(True)
        modes = QActionGroup(self)
        for mode, label in (
            (ViewMode.OVERLAY, "&Overlay"),
            (ViewMode.MATTE, "&Matte"),
            (ViewMode.CUTOUT, "&Cutout"),
            (ViewMode.OUTLINE, "Out&line"),
        ):
            action = a(
                f"mode_{mode.value}",
                label,
                lambda mode=mode: self.set_view_mode(mode),
                f"mode-{mode.value}",
                checkable=True,
            )
            modes.addAction(action)
        a("help_shortcuts", "&Keyboard Shortcuts", self.show_shortcuts, "keyboard")
        a("about", "&About etam-plugin", self._show_about, "help")

    def _build_central(self) -> None:
        bar = QFrame()
        bar.setObjectName("transportBar")
        row = QHBoxLayout(bar)
        row.setContentsMargins(4, 3, 4, 3)
        row.setSpacing(2)  # compact: the window docks beside an editor at ~900 px
        for name in (
            "first_frame",
            "prev_frame",
            "play_backward",
            "stop",
            "play_forward",
            "next_frame",
            "last_frame",
        ):
            row.addWidget(self._tool_button(name))
        self.frame_label = QLabel("–")
        self.frame_label.setObjectName("frameCounter")
        row.addWidget(self.frame_label)
        self.timecode_label = WholeOrNothingLabel()  # left out when the window is narrow
        self.timecode_label.setObjectName("frameCounter")
        row.addWidget(self.timecode_label)
        self.range_label = WholeOrNothingLabel()  # the in/out range: also in the strip
        self.range_label.setObjectName("dim")
        row.addWidget(self.range_label)
        row.addStretch(1)
        for name in ("set_in", "set_out"):
            row.addWidget(self._tool_button(name))
        row.addSpacing(12)
        for name in ("track_backward", "track_both", "track_forward", "retrack"):
            row.addWidget(self._tool_button(name, text_beside=name == "track_forward"))
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.viewer, 1)
        layout.addWidget(bar)
        layout.addWidget(self.strip)
        self.setCentralWidget(central)

    def _tool_button(self, name: str, text_beside: bool = False) -> QToolButton:
        button = TextIfRoomButton() if text_beside else QToolButton()
        button.setDefaultAction(self.actions[name])
        button.setAutoRaise(True)
        return button

    def _build_docks(self) -> None:
        for title, widget, name in (
            ("Objects", self.objects_panel, "objectsDock"),
            ("Matte finishing", self.finishing_panel, "finishingDock"),
        ):
            dock = QDockWidget(title, self)
            dock.setObjectName(name)
            dock.setWidget(widget)
            dock.setFeatures(
                QDockWidget.DockWidgetFeature.DockWidgetMovable
                | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            )
            self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        acts = self.actions
        file_menu = bar.addMenu("&File")
        file_menu.addAction(acts["open"])
        file_menu.addAction(acts["open_sequence"])
        file_menu.addAction(acts["open_timeline"])
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self._rebuild_recent_menu()
        file_menu.addSeparator()
        file_menu.addAction(acts["save"])
        file_menu.addAction(acts["save_as"])
        file_menu.addSeparator()
        file_menu.addAction(acts["export"])
        file_menu.addSeparator()
        file_menu.addAction(acts["quit"])
        edit = bar.addMenu("&Edit")
        for name in ("undo", "redo", None, "clear_prompt"):
            edit.addSeparator() if name is None else edit.addAction(acts[name])
        view = bar.addMenu("&View")
        for name in (
            "zoom_fit",
            "zoom_100",
            "zoom_in",
            "zoom_out",
            None,
            "timeline_zoom_in",
            "timeline_zoom_out",
            "timeline_zoom_range",
            "timeline_zoom_all",
            None,
            "mode_overlay",
            "mode_matte",
            "mode_cutout",
            "mode_outline",
            None,
            "toggle_markers",
        ):
            view.addSeparator() if name is None else view.addAction(acts[name])
        view.addSeparator()
        self.dark_theme_action = view.addAction("&Dark Theme")
        self.dark_theme_action.setCheckable(True)
        self.dark_theme_action.setChecked(self.settings.theme() == "dark")
        self.dark_theme_action.toggled.connect(self._on_dark_theme_toggled)
        objects = bar.addMenu("&Objects")
        for name in ("add_object", "delete_object", "next_object", "previous_object", "brush"):
            objects.addAction(acts[name])
        track = bar.addMenu("&Track")
        for name in (
            "track_forward",
            "track_backward",
            "track_both",
            "retrack",
            "cancel_tracking",
            None,
            "set_in",
            "set_out",
            "clear_range",
            None,
            "play_backward",
            "stop",
            "play_forward",
            "prev_frame",
            "next_frame",
            "first_frame",
            "last_frame",
            "loop",
            "go_to_frame",
            "next_gap",
            "previous_gap",
        ):
            track.addSeparator() if name is None else track.addAction(acts[name])
        self._build_model_menu(bar.addMenu("&Model"))
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(acts["help_shortcuts"])
        help_menu.addAction(acts["about"])

    def _build_model_menu(self, menu: QMenu) -> None:
        options = self.settings.model_options()
        self.model_groups: dict[str, QActionGroup] = {}

        def group(title: str, key: str, values: list[tuple[str, object]], current: object):
            sub = menu.addMenu(title)
            g = QActionGroup(self)
            g.setExclusive(True)
            for label, value in values:
                action = sub.addAction(label)
                action.setCheckable(True)
                action.setData(value)
                action.setObjectName(f"model_{key}_{value}")
                action.setChecked(value == current)
                g.addAction(action)
            g.triggered.connect(lambda action, key=key: self._on_model_option(key, action.data()))
            self.model_groups[key] = g

        group("&Variant", "variant", [(v, v) for v in VARIANTS], options.variant)
        group(
            "&Attention",
            "attention",
            [("Variant default", "")] + [(a, a) for a in ATTENTION_MODES],
            options.attention or "",
        )
        group(
            "&Device",
            "device",
            [(d.upper() if d != "auto" else "Auto", d) for d in DEVICES],
            options.device,
        )
        group("&Precision", "precision", [(p, p) for p in PRECISIONS], options.precision)
        cores = cpu_cores()
        group(
            "CPU &Threads",
            "cpu_threads",
            [(f"All Cores ({cores})", 0)] + [(f"{n} of {cores}", n) for n in range(1, cores + 1)],
            options.cpu_threads,
        )
        group(
            "&Backend",
            "backend",
            [
                ("PyTorch", "torch"),
                ("ONNX Runtime", "onnx:fp32"),
                ("ONNX Runtime, int8", "onnx:int8"),
            ],
            _backend_value(options),
        )
        self.onnx_folder_action = menu.addAction("ONNX &Export Folder…")
        self.onnx_folder_action.setObjectName("onnx_folder")
        self.onnx_folder_action.triggered.connect(lambda: self.choose_onnx_folder())
        menu.addSeparator()
        self.checkpoint_action = menu.addAction("Checkpoint &File…")
        self.checkpoint_action.triggered.connect(self.choose_checkpoint)
        official = menu.addAction("Use the &Official Weights")
        official.triggered.connect(lambda: self.set_model_options(checkpoint=None))
        menu.addSeparator()
        self.download_action = menu.addAction(icon("download"), "&Download Weights…")
        self.download_action.setObjectName("download_weights")
        self.download_action.triggered.connect(self._on_download_action_triggered)

    def _build_toolbar(self) -> None:
        tb = self.addToolBar("Main")
        tb.setObjectName("mainToolbar")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        for name in (
            "open",
            "save",
            "export",
            None,
            "undo",
            "redo",
            None,
            "mode_overlay",
            "mode_matte",
            "mode_cutout",
            "mode_outline",
        ):
            tb.addSeparator() if name is None else tb.addAction(self.actions[name])
        tb.addSeparator()
        tb.addAction(self.actions["brush"])
        self.brush_size = QSpinBox()
        self.brush_size.setRange(MIN_SIZE, MAX_SIZE)
        self.brush_size.setSuffix(" px")
        self.brush_size.setValue(self.viewer.brush.size)
        self.brush_size.setToolTip("Brush size in source pixels ([ smaller, ] bigger)")
        self.brush_size.setKeyboardTracking(False)  # typed: taken on Enter or leaving
        tb.addWidget(self.brush_size)
        tb.addWidget(QLabel("  Opacity "))
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setFixedWidth(110)
        self.opacity_slider.setToolTip("Overlay opacity")
        tb.addWidget(self.opacity_slider)
        tb.addSeparator()
        for name in (
            "zoom_fit",
            "zoom_100",
            None,
            "track_backward",
            "track_both",
            "track_forward",
            "cancel_tracking",
            None,
            "help_shortcuts",
        ):
            tb.addSeparator() if name is None else tb.addAction(self.actions[name])

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.model_label = QLabel()
        self.busy_label = QLabel()
        self.busy_label.setObjectName("busyLabel")
        self.busy_label.hide()
        status.addPermanentWidget(self.busy_label)  # never under a passing message
        self.step_label = WholeOrNothingLabel()  # these give way to the tracking progress
        self.memory_label = WholeOrNothingLabel()
        status.addPermanentWidget(self.progress)
        for label in (self.step_label, self.memory_label, self.model_label):
            status.addPermanentWidget(label)

        self._on_status_changed(self.controller.status())

    def _connect(self) -> None:
        c = self.controller
        c.sourceOpened.connect(self._on_source_opened)
        c.sessionStateChanged.connect(self._on_session_state_changed)
        c.trackingStarted.connect(self._on_tracking_started)
        c.trackingProgress.connect(self._on_tracking_progress)
        c.trackingFinished.connect(self._on_tracking_finished)
        c.errorOccurred.connect(self._on_error_occurred)
        c.statusChanged.connect(self._on_status_changed)
        c.dirtyChanged.connect(self._on_dirty_changed)
        c.projectSaved.connect(self._on_project_saved)
        c.projectSaveFailed.connect(self._on_project_save_failed)
        c.weightsMissing.connect(self._on_weights_missing)
        c.downloadProgress.connect(self._on_download_progress)
        c.downloadFinished.connect(self._on_download_finished)
        c.downloadRetrying.connect(self._on_download_retrying)
        c.timelineRead.connect(self._on_timeline_read)
        c.timelineRateNeeded.connect(self._on_timeline_rate_needed)
        c.modelOptionsApplied.connect(self._on_model_options_applied)
        c.stateRestored.connect(self._on_state_restored)
        c.exportFinished.connect(self._on_export_finished)
        c.busyChanged.connect(self._on_busy_changed)
        c.transport.frame_changed.connect(self._on_frame_changed)
        c.transport.range_changed.connect(self._on_range_changed)
        self.progress.cancel.clicked.connect(self._cancel_tracking)
        self.opacity_slider.valueChanged.connect(self._on_opacity_slider_value_changed)
        self.objects_panel.colorRequested.connect(self._on_color_requested)
        self.viewer.pixelHovered.connect(self._on_pixel_hovered)
        self.brush_size.valueChanged.connect(self.viewer.brush.set_size)
        self.viewer.brush.sizeChanged.connect(self.brush_size.setValue)

    def _restore(self) -> None:
        s = self.settings
        self.set_view_mode(s.view_mode())
        self.opacity_slider.setValue(round(s.opacity() * 100))
        geometry, state = s.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        if state is not None:
            self.restoreState(state)

    # ================================================================== user actions
    def _start_folder(self) -> str:
        recent = self.settings.recent_files()
        return str(recent[0].parent) if recent else ""

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a video, a project or a timeline", self._start_folder(), VIDEO_FILTER
        )
        if path:
            self.open_path(Path(path))

    def open_sequence_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open an image sequence (folder)")
        if folder:
            self.open_path(Path(folder))

    def open_timeline_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a clip of an editing timeline", self._start_folder(), TIMELINE_FILTER
        )
        if path:
            self.open_path(Path(path))

    def open_path(self, path: Path, span: tuple[int, int] | None = None) -> None:
        """Open a clip, a project (``.etam``) or a timeline (pick a clip) from the menu,
        recent files, a drop or the command line; ``span``: a clip's in and out frames
        (a host add-on opens the part of the clip its strip uses)."""
        path = Path(path)
        if not self.confirm_unsaved("open another clip", lambda: self.open_path(path, span)):
            return
        suffix = path.suffix.lower()
        if suffix in TIMELINE_EXTENSIONS:
            self.statusBar().showMessage(f"Reading the timeline {path.name}…")
            self.controller.open_timeline(path, self.timeline_rate)
            return
        self.settings.add_recent(path)
        self._rebuild_recent_menu()
        self.statusBar().showMessage(f"Opening {path.name}…")
        if suffix == PROJECT_SUFFIX:
            self.controller.open_project(path)
        elif span is not None:  # a range restored as a project restores it
            first, last = span
            state = ProjectState(source=path, in_point=first, out_point=last, playhead=first)
            self.controller.open_source(path, state=state)
        else:
            self.controller.open_source(path)

    def open_timeline_clip(self, clip, handles: int) -> None:
        self.settings.set_handles(handles)
        if clip.timeline_path is not None:
            self.settings.add_recent(clip.timeline_path)
            self._rebuild_recent_menu()
        self.controller.open_timeline_clip(clip, handles)

    def pick_clip(self, msg: m.TimelineRead) -> tuple[object, int] | None:
        """Ask which clip of a timeline to open (tests replace this)."""
        dialog = ClipPickerDialog(msg.clips, msg.path.name, self.settings.handles(), self)
        if dialog.exec() != QDialog.DialogCode.Accepted or dialog.chosen() is None:
            return None
        return dialog.chosen(), dialog.handles.value()

    def open_timeline_clip_number(self, path: Path, index: int, handles: int = 0) -> None:
        """Open clip ``index`` of a timeline without asking (the command line's --clip)."""
        self._auto_clip = (Path(path).absolute(), index, handles)
        self.controller.open_timeline(Path(path), self.timeline_rate)

    def ask_rate(self, path: Path) -> Fraction | None:
        """Ask an EDL's frame rate (EDLs carry none; tests replace this)."""
        text, ok = QInputDialog.getItem(
            self,
            "Frame rate of the EDL",
            f"{path.name} does not say its frame rate and its media was not found.\n"
            "Frame rate of its clips:",
            list(RATE_CHOICES),
            RATE_CHOICES.index("24"),
            True,  # editable: 12.5, 120000/1001, …
        )
        if not ok:
            return None
        return as_rate(text)

    def _on_timeline_rate_needed(self, path: Path) -> None:
        self.statusBar().clearMessage()
        try:
            rate = self.ask_rate(Path(path))
        except MediaError as exc:  # not a rate: a timeline problem, said as one
            error = TimelineRateError(f"{exc} (e.g. 25, 29.97, 30000/1001)", path=Path(path))
            self._on_error_occurred(describe_error(error, f"Reading {Path(path).name}"))
            return
        if rate is None:
            self._auto_clip = None
            return
        self.timeline_rate = rate  # the same timeline again, or its next EDL, uses it too
        self.statusBar().showMessage(f"Reading the timeline {Path(path).name}…")
        self.controller.open_timeline(Path(path), rate)

    def _on_timeline_read(self, msg: m.TimelineRead) -> None:
        self.statusBar().clearMessage()
        auto, self._auto_clip = self._auto_clip, None
        if auto is not None and auto[0] == Path(msg.path).absolute():
            match = [c for c in msg.clips if c.index == auto[1]]
            if match:
                self.open_timeline_clip(match[0], auto[2])
                return
            self._on_error_occurred(
                ErrorReport(
                    "Cannot use the timeline",
                    f"{msg.path.name} has no clip {auto[1]} (clips 1..{len(msg.clips)})",
                )
            )
            return
        picked = self.pick_clip(msg)
        if picked is not None:
            clip, handles = picked
            self.open_timeline_clip(clip, handles)

    # -- projects ------------------------------------------------------------------------
    def save(self) -> bool:
        """Save to the project's file (asking for one the first time)."""
        if self.controller.project_path is None:
            return self.save_as()
        return self.controller.save_project(self.controller.project_path)

    def save_as(self) -> bool:
        c = self.controller
        if c.info is None:
            self.statusBar().showMessage("Open a clip first.", 5000)
            return False
        start = c.project_path or c.info.path.with_suffix(PROJECT_SUFFIX)
        path, _ = QFileDialog.getSaveFileName(self, "Save the project", str(start), PROJECT_FILTER)
        if not path:
            return False
        return c.save_project(Path(path))

    def _on_project_saved(self, msg: m.ProjectSaved) -> None:
        if msg.request.autosave:
            self.statusBar().showMessage("Autosaved", 2000)
            return
        self.settings.add_recent(msg.request.path)
        self._rebuild_recent_menu()
        self.statusBar().showMessage(
            f"Saved {msg.request.path.name} ({msg.elapsed_s * 1000:.0f} ms)", 5000
        )
        self._on_dirty_changed(self.controller.changes.dirty)
        then, self._after_save = self._after_save, None
        if then is not None and not self.controller.changes.dirty:
            then()

    def _on_project_save_failed(self, _request: m.SaveProject) -> None:
        self._after_save = None  # e.g. quitting waits until the work is safely saved

    def confirm_unsaved(self, what: str, then: Callable[[], object]) -> bool:
        """True when it is fine to go on now; with unsaved work asks Save / Discard /
        Cancel (Save goes on with ``then`` once the project is saved)."""
        c = self.controller
        if not c.changes.dirty or c.info is None:
            return True
        answer = "discard" if what == "quit" and self.prompts_kept_in else self.ask_unsaved(what)
        if answer == "discard":
            if c.recovery is not None:
                c.recovery.clear_autosave()
            return True
        if answer == "save":
            self._after_save = then
            if not self.save():
                self._after_save = None
        return False

    def ask_unsaved(self, what: str) -> str:
        """ "save", "discard" or "cancel" (tests replace this)."""
        info = self.controller.info
        name = info.name if info is not None else "this clip"
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "etam-plugin",
            "Unsaved work",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setInformativeText(
            f"Your prompts and tracking on {name} are not saved. Save them before you {what}?"
        )
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        answer = box.exec()
        return {
            QMessageBox.StandardButton.Save: "save",
            QMessageBox.StandardButton.Discard: "discard",
        }.get(QMessageBox.StandardButton(answer), "cancel")

    # -- recovery --------------------------------------------------------------------------
    def offer_recovery(self) -> bool:
        """At start: offer the work of panels that did not close normally. Returns
        whether something is being recovered."""
        recovery = self.controller.recovery
        if recovery is None:
            return False
        candidates = recovery.candidates()
        if not candidates:
            return False
        choice, chosen = self.ask_recovery(candidates)
        if choice is RecoveryChoice.DISCARD:
            for candidate in candidates:
                recovery.discard(candidate)
            return False
        if choice is RecoveryChoice.RECOVER and chosen is not None:
            self.statusBar().showMessage(f"Recovering {chosen.source.name}…")
            return self.controller.open_loaded(chosen.project, recovered=chosen)
        return False

    def ask_recovery(
        self, candidates: list[RecoveryCandidate]
    ) -> tuple[RecoveryChoice, RecoveryCandidate | None]:
        """The user's choice (tests replace this)."""
        dialog = RecoveryDialog(candidates, self)
        dialog.exec()
        return dialog.choice, dialog.selected()

    # -- export ----------------------------------------------------------------------------
    def show_export(self) -> ExportDialog | None:
        c = self.controller
        if c.info is None:
            self.statusBar().showMessage("Open a clip and track an object first.", 5000)
            return None
        if self.export_dialog is None:
            self.export_dialog = ExportDialog(c, self)
        elif c.exporting is None:
            self.export_dialog.load(c.export_settings)
        self.export_dialog.show()
        self.export_dialog.raise_()
        return self.export_dialog

    def _on_export_finished(self, msg: m.ExportFinished) -> None:
        if self.controller.export_folder is not None:
            self.settings.set_export_folder(self.controller.export_folder)
        if msg.cancelled:
            self.statusBar().showMessage("Export cancelled.", 6000)
        elif not msg.failed:
            names = ", ".join(p.name for p in msg.paths)
            self.statusBar().showMessage(f"Exported {names} in {msg.elapsed_s:.1f} s", 10000)

    # -- weights -----------------------------------------------------------------------------
    def ask_download(self, error: Exception) -> bool | None:
        """Offer both ways to get missing weights (tests replace this): True to download,
        None when a checkpoint file was chosen instead, False to do neither."""
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "etam-plugin",
            "Model weights are missing",
            QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setInformativeText(
            f"{error}\n\nDownload the official weights now, or choose a checkpoint file you "
            "already have (offline: copy it here first). Model ▸ Checkpoint File… chooses "
            "one at any time."
        )
        download = box.addButton("Download", QMessageBox.ButtonRole.AcceptRole)
        choose = box.addButton("Choose File…", QMessageBox.ButtonRole.ActionRole)
        box.setDefaultButton(download)
        box.exec()
        if box.clickedButton() is choose:
            self.choose_checkpoint()
            return None
        return box.clickedButton() is download

    def _on_weights_missing(self, error: Exception) -> None:
        c = self.controller
        variant = getattr(error, "variant", None)
        answer = self.ask_download(error) if variant else False
        if answer is None:
            return  # a checkpoint file was chosen: the session restarts on it
        if not answer:
            self._on_error_occurred(describe_error(error, "Starting the tracking session"))
            return
        if c.session_state is SessionState.FAILED:
            then = c.retry_session
        else:
            wanted = self._wanted_options
            then = (lambda: c.apply_model_options(wanted)) if wanted is not None else None
        self.start_download(variant, then)

    def start_download(self, variant: str, then: Callable[[], None] | None = None) -> bool:
        if not self.controller.download_weights(variant, then):
            return False
        dialog = QProgressDialog(f"Downloading the {variant} weights…", "Cancel", 0, 0, self)
        label = QLabel()
        label.setWordWrap(True)  # a retry's explanation is two long sentences
        label.setMinimumWidth(420)
        dialog.setLabel(label)
        dialog.setLabelText(f"Downloading the {variant} weights…")
        dialog.setObjectName("downloadDialog")
        dialog.setWindowTitle("etam-plugin")
        dialog.setMinimumDuration(0)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.canceled.connect(self.controller.cancel_download)
        dialog.show()
        self.download_dialog = dialog
        return True

    def _on_download_action_triggered(self) -> None:
        self.start_download(self.settings.model_options().variant)

    def _on_download_progress(self, msg: m.DownloadProgress) -> None:
        dialog = self.download_dialog
        if dialog is None:
            return
        mb = msg.done / 2**20
        if msg.total:
            dialog.setMaximum(1000)
            dialog.setValue(min(1000, round(1000 * msg.done / msg.total)))
            dialog.setLabelText(
                f"Downloading the {msg.variant} weights: {mb:.1f} of {msg.total / 2**20:.1f} MB"
            )
        else:
            dialog.setLabelText(f"Downloading the {msg.variant} weights: {mb:.1f} MB")

    def _on_download_retrying(self, msg: m.DownloadRetrying) -> None:
        """Said at once, in words: the Hub is out of reach, it is tried again, and a file
        the user has is the other way (the retries take about half a minute)."""
        text = (
            f"Cannot reach the Hub for the {msg.variant} weights: {msg.text}.\n"
            "Offline? Cancel, then Model ▸ Checkpoint File… (or Choose File… when asked "
            "for the weights) opens a .pt file you have."
        )
        if self.download_dialog is not None:
            self.download_dialog.setLabelText(text)
        self.statusBar().showMessage(text.replace("\n", " "))

    def _on_download_finished(self, _ok: bool) -> None:
        if self.download_dialog is not None:
            self.download_dialog.canceled.disconnect(self.controller.cancel_download)
            self.download_dialog.close()
            self.download_dialog.deleteLater()
            self.download_dialog = None

    def set_view_mode(self, mode: ViewMode) -> None:
        mode = ViewMode(mode)
        self.actions[f"mode_{mode.value}"].setChecked(True)
        self.controller.view.mode = mode
        self.settings.set_view_mode(mode)

    def set_model_options(self, **changes: object) -> None:
        """Change the Model menu's options; an open clip's session moves to the new model
        (same objects and prompts)."""
        current = self.settings.model_options()
        fields = {**current.__dict__, **changes}
        try:
            options = ModelOptions(**fields)  # type: ignore[arg-type]
        except ValueError as exc:
            self._on_error_occurred(ErrorReport("Model options", str(exc)))
            return
        self._wanted_options = options
        self.settings.set_model_options(options)
        self.controller.apply_model_options(options)
        self._on_status_changed(self.controller.status())
        if self.controller.info is not None:
            self.statusBar().showMessage(
                f"Switching to {options.label()}: your prompts are kept; track again to "
                "update the tracked frames.",
                8000,
            )

    def _on_model_options_applied(self, options: ModelOptions) -> None:
        """The options in use changed (a project's own, or a switch that failed and went
        back): show them in the menu and remember them."""
        self.settings.set_model_options(options)
        values = {
            "variant": options.variant,
            "attention": options.attention or "",
            "device": options.device,
            "precision": options.precision,
            "cpu_threads": options.cpu_threads,
            "backend": _backend_value(options),
        }
        for key, value in values.items():
            for action in self.model_groups[key].actions():
                if action.data() == value:
                    action.setChecked(True)
        self._on_status_changed(self.controller.status())

    def _on_model_option(self, key: str, value: object) -> None:
        if key == "backend":
            self._on_backend_chosen(str(value))
            return
        if key == "attention":
            value = value or None  # "" = the variant's own mode
        self.set_model_options(**{key: value})

    def _on_backend_chosen(self, value: str) -> None:
        current = self.settings.model_options()
        if value == "torch":
            self.set_model_options(backend="torch")
            return
        precision = value.partition(":")[2]
        folder = current.onnx_dir
        if folder is None:  # the first time: where the export is
            if not self.choose_onnx_folder(precision=precision):
                self._on_model_options_applied(current)  # the menu goes back
            return
        if self._check_onnx_folder(folder, precision):
            self.set_model_options(backend="onnx", onnx_precision=precision)
        else:
            self._on_model_options_applied(current)

    def choose_onnx_folder(self, path: Path | None = None, precision: str | None = None) -> bool:
        """Use the ONNX export in ``path`` (asked for when None) with ONNX Runtime; False when
        cancelled or not a usable export (the reason is shown)."""
        current = self.settings.model_options()
        if path is None:
            chosen = QFileDialog.getExistingDirectory(
                self,
                "Choose a folder made by 'etam-plugin export-onnx'",
                str(current.onnx_dir or ""),
            )
            if not chosen:
                return False
            path = Path(chosen)
        precision = precision or current.onnx_precision
        if not self._check_onnx_folder(path, precision):
            return False
        self.set_model_options(backend="onnx", onnx_dir=path, onnx_precision=precision)
        return True

    def _check_onnx_folder(self, path: Path, precision: str) -> bool:
        """Reads the export's manifest (a small JSON file) before switching to it."""
        from etam_plugin.errors import OnnxError
        from etam_plugin.onnx_runtime.manifest import read_manifest

        try:
            manifest = read_manifest(path)
        except OnnxError as exc:
            self._on_error_occurred(ErrorReport("ONNX export", str(exc)))
            return False
        if precision not in manifest.precisions:
            self._on_error_occurred(
                ErrorReport(
                    "ONNX export",
                    f"{path} has no int8 graphs; export with --quantize int8, or choose "
                    "ONNX Runtime (fp32).",
                )
            )
            return False
        return True

    def _on_loop_toggled(self) -> None:
        self.controller.transport.loop = self.actions["loop"].isChecked()

    def track(self, direction: str) -> bool:
        """A Track command; a job of more than ``long_track_frames`` frames is confirmed
        first (Ctrl+→ on a feature-length clip is hours of work)."""
        c = self.controller
        frames = sum(leg.frames for leg in c.track_plan(direction)) if c.info else 0
        if frames > self.long_track_frames and not self.ask_long_track(frames, c.tracking_fps):
            self.statusBar().showMessage("Tracking not started.", 5000)
            return False
        return c.track(direction)

    def ask_long_track(self, frames: int, fps: float | None) -> bool:
        """Confirm a long tracking job, with its time at the last measured rate."""
        if fps:
            took = f"At the last measured {fps:.1f} fps it takes about {format_eta(frames / fps)}."
        else:
            took = "Its speed is not known yet: track a short range first to measure it."
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "etam-plugin",
            f"Track {frames:,} frames?",
            QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setObjectName("longTrackBox")
        box.setInformativeText(
            f"{took} Esc cancels at any time and keeps the frames done; In and Out (I, O) "
            "limit the range."
        )
        start = box.addButton("Track", QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is start

    def go_to_frame(self) -> None:
        """Ask for a frame number or a timecode (as the frame counter shows it) and go."""
        info = self.controller.info
        if info is None:
            return
        dialog = QInputDialog(self)
        dialog.setObjectName("goToFrameDialog")
        dialog.setWindowTitle("Go to Frame")
        dialog.setLabelText(
            f"Frame number (0–{info.num_frames - 1}) or timecode "
            f"(HH:MM:SS:FF at {float(info.fps):.3g} fps):"
        )
        dialog.setTextValue(str(self.controller.transport.current))
        if not dialog.exec():
            return
        text = dialog.textValue().strip()
        try:
            frame = int(text) if text.lstrip("-").isdigit() else timecode_to_frame(text, info.fps)
        except (ValueError, MediaError):
            self._on_error_occurred(
                ErrorReport("", f"Not a frame number or timecode: {text!r}", severity="info")
            )
            return
        if not 0 <= frame < info.num_frames:
            self._on_error_occurred(
                ErrorReport(
                    "", f"Frame {frame} is outside the clip (0–{info.num_frames - 1}).", "", "info"
                )
            )
            return
        self.controller.seek(frame)

    def choose_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose an EfficientTAM checkpoint", "", "Checkpoints (*.pt *.pth);;All (*)"
        )
        if path:
            self.set_model_options(checkpoint=Path(path))

    def show_shortcuts(self) -> ShortcutsDialog:
        dialog = ShortcutsDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def _show_about(self) -> None:
        from etam_plugin import __version__

        self._on_error_occurred(
            ErrorReport(
                "About etam-plugin",
                f"etam-plugin {__version__}\nRotoscoping and live object masking driven by "
                "EfficientTAM.",
                severity="dialog-info",
            )
        )

    def _on_brush_toggled(self) -> None:
        on = self.actions["brush"].isChecked()
        self.viewer.brush.set_enabled(on)
        if on:
            self.statusBar().showMessage(
                "Brush: drag to paint onto the active object's mask, right or Alt+drag to "
                "paint it away; [ and ] change the size; B again to click and box",
                8000,
            )

    def _cycle_object(self, step: int) -> None:
        if self.viewer.brush.enabled:  # [ and ] size the brush while it is on, as in AE
            self.viewer.brush.resize(step)
            return
        ids = self.controller.objects.ids
        if not ids:
            return
        active = self.controller.objects.active_id
        pos = ids.index(active) if active in ids else -1
        self.controller.set_active_object(ids[(pos + step) % len(ids)])

    def _cancel_tracking(self) -> None:
        if self.controller.tracking is not None:
            self.controller.cancel_tracking()
            self.progress.cancelling()

    # ================================================================== controller → view
    def _on_source_opened(self, info: m.SourceInfo) -> None:
        self.statusBar().showMessage(
            f"Opened {info.name}: {info.num_frames} frames, {info.frame_size[1]}×"
            f"{info.frame_size[0]}, {float(info.fps):.3f} fps",
            6000,
        )
        self.controller.undo_stack.setClean()
        self._on_dirty_changed(self.controller.changes.dirty)
        self._on_source_state()
        self._on_frame_changed(self.controller.transport.current)
        self._on_range_changed(
            self.controller.transport.in_point, self.controller.transport.out_point
        )

    def _on_source_state(self) -> None:
        has_clip = self.controller.info is not None
        tracking = self.controller.tracking is not None
        waiting = bool(self.controller.busy)  # tracking plans from the coverage it updates
        for name in ("track_forward", "track_backward", "track_both", "retrack"):
            self.actions[name].setEnabled(has_clip and not tracking and not waiting)
        self.actions["cancel_tracking"].setEnabled(tracking)
        for name in ("add_object", "delete_object", "clear_prompt", "brush", "set_in", "set_out"):
            self.actions[name].setEnabled(has_clip and not tracking)
        self.objects_panel.add_button.setEnabled(self.actions["add_object"].isEnabled())
        for name in ("save", "save_as"):
            self.actions[name].setEnabled(has_clip)
        self.actions["export"].setEnabled(has_clip and not waiting)

    def _on_session_state_changed(self, state: SessionState) -> None:
        self._on_source_state()
        if state is SessionState.STARTING:
            self.statusBar().showMessage("Loading the model…")
        elif state is SessionState.READY and self.controller.tracking is None:
            self.statusBar().showMessage("Ready: click the object to mask", 5000)

    def _on_tracking_started(self, request: m.Propagate) -> None:
        self.progress.start(request.direction, request.total)
        self._on_source_state()

    def _on_tracking_progress(self, progress: Progress) -> None:
        self.progress.update_progress(progress)

    def _on_tracking_finished(self, msg: m.TrackingFinished) -> None:
        self.progress.hide()
        self._on_source_state()
        what = "cancelled" if msg.cancelled else "done"
        fps = msg.frames_done / msg.elapsed_s if msg.elapsed_s > 0 else 0.0
        self.statusBar().showMessage(
            f"Tracking {what}: {msg.frames_done} frames in {msg.elapsed_s:.1f} s ({fps:.1f} fps)",
            8000,
        )

    def _on_error_occurred(self, report: ErrorReport) -> None:
        self.last_report = report
        if report.severity in ("info", "warning"):
            self.statusBar().showMessage(
                f"{report.title}: {report.text}" if report.title else report.text, 8000
            )
            return
        # A closed box deletes itself (WA_DeleteOnClose): touching its wrapper raised, and
        # every later error was lost. Keep only boxes that are alive and shown.
        self.error_boxes = [b for b in self.error_boxes if isValid(b) and b.isVisible()]
        for box in self.error_boxes:
            if box.informativeText() == report.text:
                return  # the same error is already on screen (e.g. a corrupt frame, scrubbing)
        if self.statusBar().currentMessage().endswith("…"):  # "Reading the timeline x…"
            self.statusBar().showMessage(report.title or "Failed", 8000)  # it ended so
        if report.severity == "dialog-info":
            report = ErrorReport(report.title, report.text, report.details, "info")
        box = error_box(self, report)
        self.error_boxes.append(box)
        box.open()

    def _on_busy_changed(self, text: str) -> None:
        """The model is computing something the user waits for: a busy cursor over the
        window (clicks still count: they queue, newest wins) and what it is doing."""
        if text:
            self.setCursor(Qt.CursorShape.BusyCursor)
            self.busy_label.setText(f"{text}…")
            self.busy_label.show()
        else:
            self.unsetCursor()
            self.busy_label.hide()
        self._on_source_state()

    def _on_status_changed(self, info: StatusInfo) -> None:
        self.model_label.setText(f"{info.model} · {info.activity or info.session.value}")
        parts = []
        if info.last_step_ms is not None:
            parts.append(f"last step {info.last_step_ms:.0f} ms")
        if info.tracking_fps:
            parts.append(f"{info.tracking_fps:.1f} fps")
        self.step_label.setText(" · ".join(parts))

    def _on_memory_timer_timeout(self) -> None:
        try:
            rss = self._process.memory_info().rss / 2**20
        except psutil.Error:
            return
        masks = self.controller.masks.nbytes() / 2**20
        self.memory_label.setText(f"RAM {rss:.0f} MB · masks {masks:.1f} MB")

    def _on_dirty_changed(self, dirty: bool) -> None:
        c = self.controller
        name = (
            c.project_path.name
            if c.project_path is not None
            else c.info.name
            if c.info is not None
            else "no clip"
        )
        self.setWindowTitle(f"{name}[*] — etam-plugin")
        self.setWindowModified(dirty)

    def _on_state_restored(self) -> None:
        """A project (or a timeline clip) set the view, finishing and range: show them."""
        c = self.controller
        self.set_view_mode(c.view.mode)
        self.opacity_slider.setValue(round(c.view.opacity * 100))
        self.actions["toggle_markers"].setChecked(c.view.markers)
        self.finishing_panel.show_ops(c.finishing)
        self._on_dirty_changed(c.changes.dirty)

    def _on_frame_changed(self, index: int) -> None:
        info = self.controller.info
        if info is None:
            self.frame_label.setText("–")
            self.timecode_label.setText("")
            return
        self.frame_label.setText(f"{index:>5} / {info.num_frames - 1}")
        self.timecode_label.setText(frame_to_timecode(index, info.fps))
        self.frame_label.setToolTip(self.timecode_label.text())
        self.timecode_label.setToolTip(self.timecode_label.text())

    def _on_range_changed(self, first: int, last: int) -> None:
        self.range_label.setText(f"In {first} · Out {last}")
        self.range_label.setToolTip(self.range_label.text())

    def _on_opacity_slider_value_changed(self, value: int) -> None:
        self.controller.view.opacity = value / 100.0
        self.settings.set_opacity(value / 100.0)

    def _on_dark_theme_toggled(self, dark: bool) -> None:
        name = "dark" if dark else "system"
        self.settings.set_theme(name)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, name)

    def _on_toggle_markers(self) -> None:
        self.controller.view.markers = self.actions["toggle_markers"].isChecked()

    def _on_color_requested(self, obj_id: int) -> None:
        color = pick_color(self, self.controller.objects.get(obj_id).color)
        if color is not None:
            self.controller.set_object_color(obj_id, color)

    def _on_pixel_hovered(self, x: int, y: int) -> None:
        if x >= 0:
            self.statusBar().showMessage(f"x {x}  y {y}   zoom {self.viewer.zoom * 100:.0f} %")

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = self.settings.recent_files()
        for path in files:
            action = self.recent_menu.addAction(path.name)
            action.setToolTip(str(path))
            action.setStatusTip(str(path))
            action.triggered.connect(lambda _c=False, p=path: self.open_path(p))
        if files:
            self.recent_menu.addSeparator()
            clear = self.recent_menu.addAction("Clear Recent")
            clear.triggered.connect(self._on_clear_recent)
        self.recent_menu.setEnabled(bool(files))

    def _on_clear_recent(self) -> None:
        self.settings.clear_recent()
        self._rebuild_recent_menu()

    # ================================================================== Qt events
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_path(paths[0])

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closing and not self.confirm_unsaved("quit", self.close):
            event.ignore()
            return
        self._closing = True
        self.settings.set_window_state(self.saveGeometry(), self.saveState())
        self.settings.sync()
        self._memory_timer.stop()
        if self.export_dialog is not None:
            self.export_dialog.close()
        self.controller.shutdown()
        if self.controller.recovery is not None:
            self.controller.recovery.finish_run()  # a clean exit: nothing to recover
        event.accept()


def _backend_value(options: ModelOptions) -> str:
    """The Backend menu's item for ``options``: ``torch``, ``onnx:fp32`` or ``onnx:int8``."""
    return "torch" if options.backend == "torch" else f"onnx:{options.onnx_precision}"
