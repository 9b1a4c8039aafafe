"""Colour tags: carry the source's tags (FFmpeg names, as ffprobe prints them) into outputs.

Writers must convert RGB back to Y'CbCr with the same matrix the NLE will use to decode the
output, so the matrix and the tag come from one place here.
"""

from __future__ import annotations

from dataclasses import dataclass

# FFmpeg's AVCOL_* numbers (libavutil/pixfmt.h), keyed by av_color_*_name() spellings.
_SPACES = {
    "rgb": 0, "gbr": 0, "bt709": 1, "fcc": 4, "bt470bg": 5, "bt601": 5, "smpte170m": 6,
    "smpte240m": 7, "ycgco": 8, "bt2020nc": 9, "bt2020_ncl": 9, "bt2020c": 10,
}  # fmt: skip
_PRIMARIES = {
    "bt709": 1, "bt470m": 4, "bt470bg": 5, "smpte170m": 6, "smpte240m": 7, "film": 8,
    "bt2020": 9, "smpte428": 10, "smpte431": 11, "smpte432": 12, "ebu3213": 22,
}  # fmt: skip
_TRCS = {
    "bt709": 1, "gamma22": 4, "gamma28": 5, "smpte170m": 6, "smpte240m": 7, "linear": 8,
    "log100": 9, "log316": 10, "iec61966-2-4": 11, "bt1361e": 12, "iec61966-2-1": 13,
    "bt2020-10": 14, "bt2020-12": 15, "smpte2084": 16, "smpte428": 17, "arib-std-b67": 18,
}  # fmt: skip
_ALIASES = {"itu709": "bt709", "itu601": "bt470bg", "bt2020": "bt2020nc"}
UNSPECIFIED = 2
# Matrices swscale can convert with (its SWS_CS_* list); others fall back to the default.
_SWS_MATRICES = {1: "ITU709", 4: "FCC", 5: "ITU601", 6: "SMPTE170M", 7: "SMPTE240M", 9: "BT2020"}


def _lookup(table: dict[str, int], name: str | None) -> int | None:
    if not name:
        return None
    key = str(name).strip().lower().replace(" ", "")
    if key.isdigit():  # already a number (a PyAV enum value)
        return int(key) if int(key) in table.values() else None
    return table.get(_ALIASES.get(key, key))


@dataclass(frozen=True)
class ColourTags:
    """Numeric tags for an output plus the swscale matrix name to convert RGB with."""

    colorspace: int
    primaries: int
    trc: int
    matrix: str

    @classmethod
    def for_source(
        cls,
        height: int,
        color_space: str | None = None,
        color_primaries: str | None = None,
        color_trc: str | None = None,
    ) -> ColourTags:
        """The source's tags; an untagged source gets BT.709 from 720 lines up, else BT.601,
        which is what NLEs (and FFmpeg's players) assume for untagged video."""
        space = _lookup(_SPACES, color_space)
        if space is None or space not in _SWS_MATRICES:
            space = 1 if height >= 720 else 6
        return cls(
            colorspace=space,
            primaries=_lookup(_PRIMARIES, color_primaries) or UNSPECIFIED,
            trc=_lookup(_TRCS, color_trc) or UNSPECIFIED,
            matrix=_SWS_MATRICES[space],
        )

    def apply(self, target: object) -> None:
        """Set the tags on a PyAV codec context or frame (both have these attributes)."""
        target.colorspace = self.colorspace  # type: ignore[attr-defined]
        target.color_primaries = self.primaries  # type: ignore[attr-defined]
        target.color_trc = self.trc  # type: ignore[attr-defined]
