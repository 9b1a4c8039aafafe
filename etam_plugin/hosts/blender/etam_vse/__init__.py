"""EfficientTAM for Blender's video sequence editor: track an object through a movie or
image strip and mask the strip with the matte, frame for frame.

Installed by ``etam-plugin blender install``. ``bpy`` is imported only when Blender
registers the add-on, so the pure modules (strips, jobs) import anywhere.
"""

bl_info = {
    "name": "EfficientTAM masks (etam-plugin)",
    "author": "etam-plugin",
    "version": (0, 1, 0),
    "blender": (3, 4, 0),
    "location": "Sequencer ▸ Sidebar ▸ EfficientTAM",
    "description": "Rotoscope a strip with EfficientTAM and put its matte on the timeline",
    "category": "Sequencer",
}


def register() -> None:
    from . import ui

    ui.register()


def unregister() -> None:
    from . import ui

    ui.unregister()
