"""The ONNX export folder's format, named once: ``model.onnx_export`` writes it and
``etam_plugin.onnx_runtime.manifest`` reads it. Plain constants (no torch), so the runtime
side imports them without the network."""

MANIFEST_FILE = "manifest.json"
FORMAT = "etam-plugin-onnx"
FORMAT_VERSION = 1
