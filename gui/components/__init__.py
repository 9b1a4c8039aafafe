"""Qt-free models and logic of the panel (napari's ``components/``): widgets in ``_qt/`` are
views of these, and tests drive them without a window. Nothing here imports Qt."""
