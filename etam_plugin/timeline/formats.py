"""Which tool reads and writes each timeline file type, by extension.

OTIO adapter packages do the work where they are right; FCPXML and the Kdenlive project are
handled by our own modules because the installed adapters get them wrong (see those modules).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from etam_plugin.errors import TimelineError

#: extension → (OTIO adapter name or None for our own module, pip package that provides it)
_ADAPTERS = {
    ".otio": ("otio_json", "opentimelineio"),
    ".xml": ("fcp_xml", "otio-fcp-adapter"),
    ".edl": ("cmx_3600", "otio-cmx3600-adapter"),
    ".kdenlive": ("kdenlive", "otio-kdenlive-adapter"),
}
READ_EXTENSIONS = (".otio", ".xml", ".fcpxml", ".fcpxmld", ".edl", ".kdenlive")
WRITE_EXTENSIONS = (".otio", ".xml", ".fcpxml", ".kdenlive")


def _adapter(ext: str, path: Path) -> str:
    name, package = _ADAPTERS[ext]
    if name not in otio.adapters.available_adapter_names():
        raise TimelineError(
            f"reading {ext} needs the OTIO adapter {name!r} (pip install {package})", path=path
        )
    return name


def quiet(fn: Callable[[], object]) -> object:
    """Run an adapter without letting it print (the kdenlive adapter prints a banner to
    stdout, which would corrupt ``--json`` output)."""
    with contextlib.redirect_stdout(io.StringIO()):
        return fn()


def read_otio(path: Path, rate: Fraction | None = None) -> otio.schema.Timeline:
    """Read any supported timeline file as an OTIO timeline (the first, if it holds many)."""
    ext = path.suffix.lower()
    if ext not in READ_EXTENSIONS:
        raise TimelineError(
            f"unknown timeline type {ext or '(no extension)'}; "
            f"supported: {', '.join(READ_EXTENSIONS)}",
            path=path,
        )
    if ext == ".fcpxmld":  # Final Cut 10.6+ exports a bundle folder
        path = path / "Info.fcpxml"
    if not path.is_file():
        raise TimelineError(f"timeline not found: {path}", path=path)
    try:
        if ext in (".fcpxml", ".fcpxmld"):
            from etam_plugin.timeline import fcpxml

            result: object = fcpxml.read_fcpxml(path)
        else:
            name = _adapter(ext, path)
            kwargs = {"rate": float(rate)} if ext == ".edl" and rate else {}
            result = quiet(lambda: otio.adapters.read_from_file(str(path), name, **kwargs))
    except TimelineError:
        raise
    except Exception as exc:  # adapters raise anything from ValueError to AttributeError
        raise TimelineError(f"cannot read {path.name}: {exc}", path=path) from exc
    if isinstance(result, otio.schema.Timeline):
        return result
    timelines = list(result.find_children(descended_from_type=otio.schema.Timeline))  # type: ignore[attr-defined]
    if not timelines:
        raise TimelineError(f"{path.name} holds no timeline", path=path)
    return timelines[0]
