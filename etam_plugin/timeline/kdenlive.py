"""Kdenlive projects (MLT XML) with the matte composited over the clip, written by hand.

Not through ``otio-kdenlive-adapter`` 0.0.3: it is deprecated upstream, always writes a
1920×1080 square-pixel profile, places clips by timecode-based source frames (MLT counts
from 0, so any clip with a start timecode lands on the wrong frames), prints a banner to
stdout and writes no compositing between tracks, so a matte on V2 would simply cover V1.

Layout, bottom-up (Kdenlive composites every video track onto the black track 0):
- ``cutout``: V1 clip, V2 ProRes 4444 cutout; an ``affine`` composition ("Composite and
  transform" in Kdenlive) lays the cutout over V1 using its alpha.
- ``luma``: V1 clip, V2 luma matte (not composited itself), V3 the clip again; MLT's
  ``matte`` transition replaces V3's alpha with V2's luma, then ``composite`` puts the
  isolated object over V1 — the same "track matte" an editor would build by hand.
An A1 track carries the clip's audio when it has any.

Which compositor, as measured with MLT 7.12 (Debian 12) and melt: ``qtblend`` (Kdenlive's
default) and ``composite`` show a ProRes 4444 cutout opaque (they ignore the
yuva444p12le alpha), and qtblend cannot load at all without an X display; ``affine``
honours that alpha. After a ``matte`` transition it is the other way round: ``affine``
garbles the colours and ``composite`` is right. Both choices render headless (checked
with melt by ``tests/etam_plugin/test_timeline_kdenlive.py``). No per-track ``qtblend`` is
written either: V1 is opaque and needs none, and a qtblend declared before the
composition would, when it loads, bury it. Producers use ``avformat``, not Kdenlive's
usual ``avformat-novalidate``: with the latter MLT 7.12 applied the ``matte`` transition
to the first frame only.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

MLT_VERSION = "7.12.0"


@dataclass(frozen=True)
class KdenliveLayout:
    """Everything the project needs, in MLT terms (0-based file frames)."""

    title: str
    width: int
    height: int
    rate: Fraction
    sample_aspect_ratio: Fraction
    colorspace: str  # "709" or "601"
    clip_path: Path
    clip_name: str
    clip_length: int  # frames in the clip's file
    clip_in: int  # first file frame used
    matte_path: Path
    matte_name: str
    matte_length: int
    matte_in: int
    duration: int
    record_start: int
    kind: str  # "cutout" | "luma"
    has_audio: bool
    note: str = ""


def _prop(parent: ET.Element, name: str, value: object) -> None:
    ET.SubElement(parent, "property", name=name).text = str(value)


def _producer(root: ET.Element, pid: str, kid: int, path: Path, name: str, length: int) -> None:
    p = ET.SubElement(root, "producer", id=pid, **{"in": "0", "out": str(length - 1)})
    _prop(p, "length", length)
    _prop(p, "eof", "pause")
    _prop(p, "resource", str(path))
    _prop(p, "mlt_service", "avformat")
    _prop(p, "seekable", "1")
    _prop(p, "kdenlive:id", kid)
    _prop(p, "kdenlive:clipname", name)
    _prop(p, "kdenlive:folderid", "-1")


# Identity placement, no scaling: the matte is the clip's size (checked before writing).
_AFFINE = {"rect": "0 0 100% 100% 1", "distort": 0, "fill": 1, "compositing": 0}
_COMPOSITE = {"geometry": "0/0:100%x100%:100", "distort": 0, "fill": 1, "progressive": 1}


def _transition(
    tractor: ET.Element,
    service: str,
    a: int,
    b: int,
    *,
    internal: bool = False,
    span: tuple[int, int] | None = None,
    **props: object,
) -> None:
    """An MLT transition: ``internal`` ones are Kdenlive's automatic per-track compositing
    (always active); the others are compositions the editor sees over ``span``."""
    t = ET.SubElement(tractor, "transition")
    if span is not None:
        t.set("in", str(span[0]))
        t.set("out", str(span[1]))
    _prop(t, "a_track", a)
    _prop(t, "b_track", b)
    _prop(t, "mlt_service", service)
    _prop(t, "kdenlive_id", service)
    if internal:
        _prop(t, "always_active", 1)
        _prop(t, "internal_added", 237)
    for key, value in props.items():
        _prop(t, key, value)


def kdenlive_xml(lay: KdenliveLayout) -> str:
    """The project as a string (caller writes it atomically)."""
    dar = Fraction(lay.width, lay.height) * lay.sample_aspect_ratio
    root = ET.Element("mlt", LC_NUMERIC="C", version=MLT_VERSION, producer="main_bin")
    root.set("title", lay.title)
    ET.SubElement(
        root,
        "profile",
        description=f"{lay.width}x{lay.height} {float(lay.rate):.3f} fps (etam-plugin)",
        width=str(lay.width),
        height=str(lay.height),
        progressive="1",
        sample_aspect_num=str(lay.sample_aspect_ratio.numerator),
        sample_aspect_den=str(lay.sample_aspect_ratio.denominator),
        display_aspect_num=str(dar.numerator),
        display_aspect_den=str(dar.denominator),
        frame_rate_num=str(lay.rate.numerator),
        frame_rate_den=str(lay.rate.denominator),
        colorspace=lay.colorspace,
    )
    _producer(root, "producer0", 4, lay.clip_path, lay.clip_name, lay.clip_length)
    _producer(root, "producer1", 5, lay.matte_path, lay.matte_name, lay.matte_length)

    bin_ = ET.SubElement(root, "playlist", id="main_bin")
    _prop(bin_, "kdenlive:docproperties.version", "0.98")
    _prop(bin_, "kdenlive:docproperties.decimalPoint", ".")
    if lay.note:
        _prop(bin_, "kdenlive:docproperties.documentnotes", lay.note)
    _prop(bin_, "xml_retain", 1)
    for pid, kid, length in (("producer0", 4, lay.clip_length), ("producer1", 5, lay.matte_length)):
        entry = ET.SubElement(bin_, "entry", producer=pid, **{"in": "0", "out": str(length - 1)})
        _prop(entry, "kdenlive:id", kid)

    end = lay.record_start + lay.duration
    black = ET.SubElement(root, "producer", id="black_track", **{"in": "0", "out": str(end - 1)})
    _prop(black, "length", 2147483647)
    _prop(black, "eof", "continue")
    _prop(black, "resource", "black")
    _prop(black, "aspect_ratio", 1)
    _prop(black, "mlt_service", "color")
    _prop(black, "set.test_audio", 0)

    tracks: list[str] = []

    def track(name: str, pid: str, kid: int, first: int, audio: bool = False) -> int:
        n = len(tracks)
        content = ET.SubElement(root, "playlist", id=f"playlist{2 * n}")
        if audio:
            _prop(content, "kdenlive:audio_track", 1)
        if lay.record_start:
            ET.SubElement(content, "blank", length=str(lay.record_start))
        entry = ET.SubElement(
            content,
            "entry",
            producer=pid,
            **{"in": str(first), "out": str(first + lay.duration - 1)},
        )
        _prop(entry, "kdenlive:id", kid)
        ET.SubElement(root, "playlist", id=f"playlist{2 * n + 1}")
        span = {"in": "0", "out": str(end - 1)}
        tractor = ET.SubElement(root, "tractor", id=f"tractor{n}", **span)
        _prop(tractor, "kdenlive:track_name", name)
        if audio:
            _prop(tractor, "kdenlive:audio_track", 1)
        hide = "video" if audio else "audio"
        ET.SubElement(tractor, "track", producer=f"playlist{2 * n}", hide=hide)
        ET.SubElement(tractor, "track", producer=f"playlist{2 * n + 1}", hide=hide)
        tracks.append(f"tractor{n}")
        return n + 1  # index in the main tractor (0 is black)

    a1 = track("A1", "producer0", 4, lay.clip_in, audio=True) if lay.has_audio else None
    v1 = track("V1", "producer0", 4, lay.clip_in)
    if lay.kind == "luma":
        v2 = track("V2 luma matte", "producer1", 5, lay.matte_in)
        v3 = track("V3 object (clip through the matte)", "producer0", 4, lay.clip_in)
    else:
        v2 = track("V2 cutout", "producer1", 5, lay.matte_in)
        v3 = None

    main = ET.SubElement(
        root, "tractor", id="maintractor", global_feed="1", **{"in": "0", "out": str(end - 1)}
    )
    ET.SubElement(main, "track", producer="black_track")
    for tid in tracks:
        ET.SubElement(main, "track", producer=tid)
    if a1 is not None:
        _transition(main, "mix", 0, a1, internal=True, sum=1)
    span = (lay.record_start, end - 1)
    if v3 is None:
        _transition(main, "affine", v1, v2, span=span, **_AFFINE)
    else:
        _transition(main, "matte", v3, v2, span=span)
        _transition(main, "composite", v1, v3, span=span, **_COMPOSITE)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def colorspace_of(space: str | None, height: int) -> str:
    """MLT profile colorspace: 709 unless the source says 601 (or is SD and untagged)."""
    if space in ("bt470bg", "smpte170m", "bt601"):
        return "601"
    if space is None and height < 720:
        return "601"
    return "709"
