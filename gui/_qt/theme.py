"""The dark editor theme and icons, read from ``etam_plugin.resources`` (package data)."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication

THEMES = ("dark", "system")

_RES = files("etam_plugin.resources")


def resource_path(*parts: str) -> Path:
    """A file shipped in ``resources/`` (an installed wheel keeps them as real files)."""
    return Path(str(_RES.joinpath(*parts)))


ICON_SIZES = (16, 20, 24, 32, 48)


@cache
def icon(name: str) -> QIcon:
    """An SVG icon from ``resources/icons`` by name (``"track-forward"``).

    The disabled look is the same drawing in the dim text colour (#5d6470 for the files'
    #d8dee9): Qt's automatic one barely differs for light line icons on a dark theme, so
    disabled buttons looked clickable."""
    path = resource_path("icons", f"{name}.svg")
    if not path.is_file():
        raise FileNotFoundError(f"no icon {name!r} at {path}")
    result = QIcon(str(path))
    renderer = QSvgRenderer(QByteArray(path.read_bytes().replace(b"#d8dee9", b"#5d6470")))
    for size in ICON_SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        renderer.render(painter)
        painter.end()
        result.addPixmap(QPixmap.fromImage(image), QIcon.Mode.Disabled)
    return result


def dark_palette() -> QPalette:
    p = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#1e2127",
        QPalette.ColorRole.WindowText: "#d8dee9",
        QPalette.ColorRole.Base: "#1e2127",
        QPalette.ColorRole.AlternateBase: "#23272e",
        QPalette.ColorRole.ToolTipBase: "#2f343d",
        QPalette.ColorRole.ToolTipText: "#d8dee9",
        QPalette.ColorRole.Text: "#d8dee9",
        QPalette.ColorRole.Button: "#2f343d",
        QPalette.ColorRole.ButtonText: "#d8dee9",
        QPalette.ColorRole.BrightText: "#ffffff",
        QPalette.ColorRole.Highlight: "#4a9eff",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#4a9eff",
        QPalette.ColorRole.PlaceholderText: "#5d6470",
    }
    for role, color in roles.items():
        p.setColor(role, QColor(color))
    r = QPalette.ColorRole
    for role in (r.Text, r.ButtonText, r.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#5d6470"))
    return p


def apply_theme(app: QApplication, name: str = "dark") -> None:
    """``dark``: Fusion + dark palette + ``resources/theme/dark.qss``; ``system``: Qt's own."""
    if name not in THEMES:
        raise ValueError(f"unknown theme {name!r}; known: {', '.join(THEMES)}")
    if name == "system":
        app.setStyleSheet("")
        return
    app.setStyle("Fusion")
    app.setPalette(dark_palette())
    app.setStyleSheet(resource_path("theme", "dark.qss").read_text(encoding="utf-8"))
