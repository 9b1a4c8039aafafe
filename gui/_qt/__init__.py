"""The panel's Qt side (napari's ``_qt/``): workers, controller, widgets. Everything here is a
view of, or glue around, the Qt-free models in ``etam_plugin.gui.components``."""
