"""What a Track command computes: the gaps of the in–out range, each from a done neighbour.

Roto artists read Track Forward as "carry on from where tracking stopped up to Out", not
"start at the playhead": with frames 0–30 tracked and the playhead on Out, starting at the
playhead would skip 31..Out silently. So every command fills gaps (frames that are neither
tracked nor prompted: empty or stale) and leaves done frames alone:

- forward: the gaps after the last done frame at or before the playhead (or the first done
  frame after it, e.g. the prompted frame), each tracked forward up to Out;
- backward: the mirror image, down to In;
- both: every gap in In..Out, tracked from its done neighbour (forward when the frame before
  it is done, else backward from the frame after it).

Per object: one object's done frames are not recomputed because another's are missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from etam_plugin.model import FrameStatus

DONE = (FrameStatus.TRACKED, FrameStatus.PROMPTED)


@dataclass(frozen=True)
class Leg:
    """One ``session.propagate`` call: ``start`` to ``end`` inclusive in ``direction``."""

    direction: str  # "forward" or "backward"
    start: int
    end: int
    obj_ids: tuple[int, ...] | None = None  # None: the request's objects

    @property
    def frames(self) -> int:
        return abs(self.end - self.start) + 1


def gaps(statuses: Sequence[FrameStatus], first: int, last: int) -> list[tuple[int, int]]:
    """Runs ``(a, b)`` (inclusive) of frames in ``first..last`` that are not done."""
    out: list[tuple[int, int]] = []
    run: int | None = None
    for f in range(first, last + 2):
        missing = f <= last and statuses[f] not in DONE
        if missing and run is None:
            run = f
        elif not missing and run is not None:
            out.append((run, f - 1))
            run = None
    return out


def _object_legs(
    direction: str, statuses: Sequence[FrameStatus], playhead: int, first: int, last: int
) -> list[tuple[str, int, int]]:
    holes = gaps(statuses, first, last)
    if not holes:
        return []
    done = [f for f in range(first, last + 1) if statuses[f] in DONE]
    if not done:  # nothing to lean on in range: the prompts are outside it
        if direction == "forward":
            return [("forward", first, last)]
        if direction == "backward":
            return [("backward", last, first)]
        legs = [("forward", playhead, last)]
        return legs + ([("backward", playhead - 1, first)] if playhead > first else [])
    if direction == "forward":
        before = [f for f in done if f <= playhead]
        anchor = before[-1] if before else done[0]
        return [("forward", a, b) for a, b in holes if a > anchor]
    if direction == "backward":
        after = [f for f in done if f >= playhead]
        anchor = after[0] if after else done[-1]
        return [("backward", b, a) for a, b in holes if b < anchor]
    return [("forward", a, b) if a > first else ("backward", b, a) for a, b in holes]


def plan_fill(
    direction: str,
    playhead: int,
    first: int,
    last: int,
    statuses: Mapping[int, Sequence[FrameStatus]],
) -> list[Leg]:
    """The legs that fill ``first..last`` for each object of ``statuses`` (its per-frame
    statuses), in the order they run (forward legs by start, then backward legs from the
    latest down); objects needing the same leg share it."""
    playhead = min(max(playhead, first), last)
    shared: dict[tuple[str, int, int], list[int]] = {}
    for obj_id, stats in statuses.items():
        for leg in _object_legs(direction, stats, playhead, first, last):
            shared.setdefault(leg, []).append(obj_id)
    order = sorted(shared, key=lambda k: (k[0] != "forward", k[1] if k[0] == "forward" else -k[1]))
    return [Leg(d, s, e, tuple(shared[(d, s, e)])) for d, s, e in order]


def describe_gaps(
    statuses: Mapping[int, Sequence[FrameStatus]],
    names: Mapping[int, str],
    first: int,
    last: int,
) -> str:
    """ "Object 1: frames 0–9, 40" for the frames still not done in range ('' when none)."""
    parts = []
    for obj_id, stats in statuses.items():
        holes = gaps(stats, first, last)
        if holes:
            runs = ", ".join(f"{a}" if a == b else f"{a}–{b}" for a, b in holes[:4])
            more = f" and {len(holes) - 4} more" if len(holes) > 4 else ""
            label = "frame" if len(holes) == 1 and holes[0][0] == holes[0][1] else "frames"
            parts.append(f"{names.get(obj_id, f'Object {obj_id}')}: {label} {runs}{more}")
    return "; ".join(parts)
