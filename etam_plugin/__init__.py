"""etam-plugin: rotoscoping and live object masking driven by EfficientTAM.

Kept import-light on purpose: hosts (the panel, the OBS bridge, the CLI) import what they need.
"""

__version__ = "0.1.0"
