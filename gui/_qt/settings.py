"""What the panel remembers between runs (QSettings): recent files, model options (with the
checkpoint path), theme, view mode and opacity, window layout. Values read back are
validated: a hand-edited or stale settings file falls back to defaults, never crashes."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from etam_plugin.gui.components.model_options import ModelOptions
from etam_plugin.gui.components.render import ViewMode

ORGANIZATION = "etam-plugin"
APPLICATION = "panel"
MAX_RECENT = 10


class PanelSettings:
    def __init__(self, qsettings: QSettings | None = None) -> None:
        self.q = qsettings or QSettings(ORGANIZATION, APPLICATION)

    @classmethod
    def at(cls, path: Path) -> PanelSettings:
        """Settings in an INI file of our own (tests, portable installs)."""
        return cls(QSettings(str(path), QSettings.Format.IniFormat))

    def sync(self) -> None:
        self.q.sync()

    # -- recent files --------------------------------------------------------------------
    def recent_files(self) -> list[Path]:
        value = self.q.value("recent/files", [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            return []
        return [Path(v) for v in value if isinstance(v, str) and v][:MAX_RECENT]

    def add_recent(self, path: Path) -> list[Path]:
        path = Path(path).absolute()
        files = [path] + [p for p in self.recent_files() if p != path]
        self.q.setValue("recent/files", [str(p) for p in files[:MAX_RECENT]])
        return files[:MAX_RECENT]

    def clear_recent(self) -> None:
        self.q.remove("recent/files")

    # -- model ---------------------------------------------------------------------------
    def model_options(self) -> ModelOptions:
        default = ModelOptions()
        checkpoint = self.q.value("model/checkpoint", "")
        onnx_dir = self.q.value("model/onnx_dir", "")
        try:
            return ModelOptions(
                variant=str(self.q.value("model/variant", default.variant)),
                attention=str(self.q.value("model/attention", "")) or None,
                device=str(self.q.value("model/device", default.device)),
                precision=str(self.q.value("model/precision", default.precision)),
                checkpoint=Path(checkpoint) if isinstance(checkpoint, str) and checkpoint else None,
                cpu_threads=int(self.q.value("model/cpu_threads", 0)),
                backend=str(self.q.value("model/backend", default.backend)),
                onnx_dir=Path(onnx_dir) if isinstance(onnx_dir, str) and onnx_dir else None,
                onnx_precision=str(self.q.value("model/onnx_precision", default.onnx_precision)),
            )
        except (TypeError, ValueError):
            return default

    def set_model_options(self, options: ModelOptions) -> None:
        self.q.setValue("model/variant", options.variant)
        self.q.setValue("model/attention", options.attention or "")
        self.q.setValue("model/device", options.device)
        self.q.setValue("model/precision", options.precision)
        self.q.setValue("model/checkpoint", str(options.checkpoint) if options.checkpoint else "")
        self.q.setValue("model/cpu_threads", options.cpu_threads)
        self.q.setValue("model/backend", options.backend)
        self.q.setValue("model/onnx_dir", str(options.onnx_dir) if options.onnx_dir else "")
        self.q.setValue("model/onnx_precision", options.onnx_precision)

    # -- timelines ----------------------------------------------------------------------
    def handles(self) -> int:
        """Extra frames each side of a timeline clip (the clip picker's last choice)."""
        try:
            return max(0, int(self.q.value("timeline/handles", 0)))
        except (TypeError, ValueError):
            return 0

    def set_handles(self, frames: int) -> None:
        self.q.setValue("timeline/handles", int(frames))

    # -- exports ------------------------------------------------------------------------
    def export_folder(self) -> Path | None:
        """The folder of the last export (offered for the next clip's)."""
        value = self.q.value("export/folder", "")
        return Path(value) if isinstance(value, str) and value else None

    def set_export_folder(self, folder: Path) -> None:
        self.q.setValue("export/folder", str(folder))

    # -- look ----------------------------------------------------------------------------
    def theme(self) -> str:
        value = str(self.q.value("ui/theme", "dark"))
        return value if value in ("dark", "system") else "dark"

    def set_theme(self, name: str) -> None:
        self.q.setValue("ui/theme", name)

    def view_mode(self) -> ViewMode:
        try:
            return ViewMode(str(self.q.value("view/mode", ViewMode.OVERLAY.value)))
        except ValueError:
            return ViewMode.OVERLAY

    def set_view_mode(self, mode: ViewMode) -> None:
        self.q.setValue("view/mode", ViewMode(mode).value)

    def opacity(self) -> float:
        try:
            return min(max(float(self.q.value("view/opacity", 0.5)), 0.0), 1.0)
        except (TypeError, ValueError):
            return 0.5

    def set_opacity(self, value: float) -> None:
        self.q.setValue("view/opacity", float(value))

    def window_state(self) -> tuple[QByteArray | None, QByteArray | None]:
        geometry = self.q.value("window/geometry")
        state = self.q.value("window/state")
        return (
            geometry if isinstance(geometry, QByteArray) else None,
            state if isinstance(state, QByteArray) else None,
        )

    def set_window_state(self, geometry: QByteArray, state: QByteArray) -> None:
        self.q.setValue("window/geometry", geometry)
        self.q.setValue("window/state", state)
