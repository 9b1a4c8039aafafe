"""Which source frames a Blender VSE strip shows, or why we cannot follow it.

Pure Python (no ``bpy``), so our own tests check it without Blender. Blender shows media
frame ``t - frame_start + animation_offset_start`` at timeline frame ``t`` of an unretimed
strip; the used part runs from ``frame_final_start`` to ``frame_final_end`` (exclusive).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class StripRefused(Exception):
    """A strip whose frames the matte could not follow; the message says why and what to do."""


@dataclass(frozen=True)
class StripFacts:
    """The numbers read off a strip (``ui.strip_facts`` fills it from ``bpy``)."""

    name: str
    kind: str  # Blender's strip type: "MOVIE", "IMAGE", ...
    frame_start: float
    frame_final_start: int
    frame_final_end: int  # exclusive, as Blender counts
    scene_fps: float
    media: str = ""  # the movie file, or the images' folder
    animation_offset_start: int = 0
    speed_factor: float = 1.0
    reversed: bool = False
    media_fps: float | None = None  # movies: the file's rate
    proxy_timecode: str | None = None  # set when the strip plays through a proxy
    speed_effects: tuple[str, ...] = ()  # Speed effect strips fed by this one
    retimed: bool = False  # Blender 4 retiming keys (any: they may change the speed)
    images: tuple[str, ...] = ()  # image strips: the element files, in order
    folder_images: tuple[str, ...] = ()  # image strips: that folder's images of that kind


@dataclass(frozen=True)
class SourceRange:
    """The media frames ``first..last`` (inclusive) the strip shows, from timeline frame
    ``timeline_start`` on: where the matte strip must start."""

    first: int
    last: int
    timeline_start: int

    @property
    def length(self) -> int:
        return self.last - self.first + 1


def source_range(facts: StripFacts) -> SourceRange:
    """The strip's used media frames; :class:`StripRefused` for what a frame-for-frame
    matte cannot follow (speed changes, reversal, rate conversion, timecode proxies)."""
    name = facts.name
    if facts.kind not in ("MOVIE", "IMAGE"):
        raise StripRefused(f"'{name}' is a {facts.kind.lower()} strip: pick a movie or image strip")
    if facts.speed_effects:
        effects = ", ".join(facts.speed_effects)
        raise StripRefused(
            f"'{name}' feeds the speed effect {effects}: the matte would not follow the "
            "retimed frames; track the strip without the effect, or render it to a movie first"
        )
    if facts.retimed:
        raise StripRefused(
            f"'{name}' has retiming keys: the matte would not follow retimed frames; reset "
            "its retiming, or render the retimed strip to a movie and track that"
        )
    if abs(facts.speed_factor - 1.0) > 1e-6:
        raise StripRefused(
            f"'{name}' plays at another speed ({facts.speed_factor:g}x): set its speed to 1, "
            "or render the retimed strip to a movie and track that"
        )
    if facts.reversed:
        raise StripRefused(f"'{name}' plays its frames reversed: turn off Reverse Frames")
    if facts.proxy_timecode not in (None, "NONE"):
        raise StripRefused(
            f"'{name}' uses a proxy with the {facts.proxy_timecode} timecode index, which can "
            "show other frames than the file's own order: set the proxy's Timecode to None"
        )
    fps = facts.media_fps
    if facts.kind == "MOVIE" and fps and abs(fps - facts.scene_fps) > 1e-3 * facts.scene_fps:
        raise StripRefused(
            f"'{name}' is {fps:.3f} fps in a {facts.scene_fps:.3f} fps scene: Blender "
            "resamples it; set the scene's frame rate to the movie's"
        )
    if facts.kind == "IMAGE":
        _check_images(facts)
    if float(facts.frame_start) != int(facts.frame_start):
        raise StripRefused(f"'{name}' starts between frames ({facts.frame_start}): snap it")
    start = int(facts.frame_start)
    first = facts.frame_final_start - start + facts.animation_offset_start
    last = facts.frame_final_end - 1 - start + facts.animation_offset_start
    if first < 0 or last < first:
        raise StripRefused(f"'{name}' shows no frames of its media ({first}..{last})")
    return SourceRange(first, last, facts.frame_final_start)


def _natural(name: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _check_images(facts: StripFacts) -> None:
    """Our reader numbers a folder's images in name order: the strip must list them all,
    in that order, for its element ``i`` to be our frame ``i``."""
    if list(facts.images) != sorted(facts.folder_images, key=_natural):
        raise StripRefused(
            f"'{facts.name}' uses {len(facts.images)} of the {len(facts.folder_images)} images "
            "in its folder, or another order: give the strip a folder that holds exactly its "
            "images"
        )
