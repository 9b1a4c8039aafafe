"""The editor panel (PySide6). Widgets are views of Qt-free models; the GUI thread never runs
the model."""
