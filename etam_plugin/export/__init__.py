"""Matte writers (ProRes 4444, luma mattes, PNG sequences, WebM VP9) and ``export_mattes``.

Formats register themselves by name (see :func:`available_formats`); each lives in its own
module. Every writer is atomic: an output appears complete or not at all.
"""

from etam_plugin.export.base import (
    MatteWriter,
    OutputSpec,
    available_formats,
    register_writer,
    writer_class,
)
from etam_plugin.export.driver import export_mattes

__all__ = [
    "MatteWriter",
    "OutputSpec",
    "available_formats",
    "export_mattes",
    "register_writer",
    "writer_class",
]
