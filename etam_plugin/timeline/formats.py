"""Which tool reads and writes each timeline file type, by extension.

OTIO adapter packages do the work where they are right; FCPXML and the Kdenlive project are
handled by our own modules because the installed adapters get them wrong (see those modules).
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
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


MAX_TIMELINE_BYTES = 64 * 1024 * 1024
"""Larger than any edit's timeline file (a feature film's FCP XML is a few MB)."""
MAX_NESTING = 256
"""Deepest nesting of JSON/XML elements read: real timelines stay under ~40 levels, and
OTIO's readers recurse (a crafted file nested 100,000 deep crashed the process)."""
_JSON_STRING = re.compile(rb'"(?:\\.|[^"\\])*"')


def check_limits(path: Path) -> None:
    """A hostile file gets a one-line error within a second, never a crash or a hang:
    size and nesting are checked before any adapter reads it."""
    size = path.stat().st_size
    if size > MAX_TIMELINE_BYTES:
        raise TimelineError(
            f"{path.name} is {size / 2**20:.0f} MB, larger than any timeline "
            f"({MAX_TIMELINE_BYTES // 2**20} MB at most)",
            path=path,
        )
    data = path.read_bytes()
    if path.suffix.lower() == ".otio":
        depth = _json_depth(data)
    elif path.suffix.lower() in (".xml", ".fcpxml", ".kdenlive"):
        depth = _xml_depth(path)
    else:
        return
    if depth > MAX_NESTING:
        raise TimelineError(
            f"{path.name} nests {depth} levels deep; timelines stay far below "
            f"{MAX_NESTING}: not a timeline this tool reads",
            path=path,
        )


def _json_depth(data: bytes) -> int:
    text = np.frombuffer(_JSON_STRING.sub(b"", data), np.uint8)
    steps = np.zeros(text.shape, np.int64)
    steps[(text == ord("{")) | (text == ord("["))] = 1
    steps[(text == ord("}")) | (text == ord("]"))] = -1
    return int(steps.cumsum().max(initial=0))


def _xml_depth(path: Path) -> int:
    import xml.etree.ElementTree as ET

    depth = deepest = 0
    try:
        for event, _ in ET.iterparse(path, events=("start", "end")):
            depth += 1 if event == "start" else -1
            deepest = max(deepest, depth)
            if deepest > MAX_NESTING:
                break
    except ET.ParseError as exc:
        raise TimelineError(
            f"cannot read {path.name}: not well-formed XML ({exc})", path=path
        ) from None
    return deepest


def _fix_fcp_xml_adapter() -> None:
    """Two gaps of otio-fcp-adapter 1.0, closed where it reads (canary tests say when the
    adapter fixes them):
    - it hands a nested ``<sequence>`` to the method that reads a ``<media>`` element, so
      every nested sequence (Premiere's nests, Resolve's compound clips) came out as an
      empty stack and its clips vanished silently: give that method the ``<media>``;
    - it ignores ``<enabled>FALSE</enabled>``, so a switched-off clip looked live."""
    fcp_xml = otio.adapters.from_name("fcp_xml").module()  # loaded as OTIO loads it
    parser = fcp_xml.FCP7XMLParser
    if getattr(parser, "etam_fixed", False):
        return
    stack_for = parser.stack_for_element
    item_for = parser.item_and_timing_for_element

    def stack_for_element(self, element, context):
        media = element.find("./media") if element.tag == "sequence" else None
        if media is None:
            return stack_for(self, element, context)
        stack = stack_for(self, media, context.context_pushing_element(element))
        stack.name = fcp_xml._name_from_element(element)
        return stack

    def item_and_timing_for_element(self, item_element, *args, **kwargs):
        item, timing = item_for(self, item_element, *args, **kwargs)
        enabled = item_element.find("./enabled")
        if enabled is not None and (enabled.text or "").strip().upper() == "FALSE":
            item.enabled = False
        return item, timing

    parser.stack_for_element = stack_for_element
    parser.item_and_timing_for_element = item_and_timing_for_element
    parser.etam_fixed = True


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
    check_limits(path)
    try:
        if ext in (".fcpxml", ".fcpxmld"):
            from etam_plugin.timeline import fcpxml

            result: object = fcpxml.read_fcpxml(path)
        else:
            name = _adapter(ext, path)
            if name == "fcp_xml":
                _fix_fcp_xml_adapter()
            kwargs = {"rate": float(rate)} if ext == ".edl" and rate else {}
            result = quiet(lambda: otio.adapters.read_from_file(str(path), name, **kwargs))
    except TimelineError:
        raise
    except Exception as exc:  # adapters raise anything from ValueError to AttributeError
        raise TimelineError(f"cannot read {path.name}: {exc}", path=path) from exc
    if isinstance(result, otio.schema.Timeline):
        return result
    if not hasattr(result, "find_children"):
        schema = getattr(result, "original_schema_name", None) or type(result).__name__
        raise TimelineError(f"{path.name} holds no timeline (it holds a {schema})", path=path)
    timelines = list(result.find_children(descended_from_type=otio.schema.Timeline))  # type: ignore[attr-defined]
    if not timelines:
        raise TimelineError(f"{path.name} holds no timeline", path=path)
    return timelines[0]
