"""Prompts from the command line and from ``prompts.json``, as prompt calls in order.

Each ``prompts.json`` entry is one official ``add_new_points_or_box`` call (see
``etam_plugin.model.Prompt``): ``{"frame": 0, "obj": 1, "points": [[x, y], ...], "labels":
[1, 0], "box": [x0, y0, x1, y1], "clear_old_points": true}`` — its points and box go in
together; ``clear_old_points`` (default true) replaces the object's earlier points on that
frame, false appends to them. ``--box FRAME:OBJ:X0,Y0,X1,Y1`` is one call with a box;
each ``--point FRAME:OBJ:X,Y[:neg]`` is one call that appends a click, as the panel's clicks
do. Calls run in the order: the file's entries, then ``--box``, then ``--point``.
Coordinates are source pixels.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path

from etam_plugin.atomic import write_bytes_atomic
from etam_plugin.errors import PromptError
from etam_plugin.model import Prompt

MAX_PROMPTS_BYTES = 16 * 2**20
"""Far more than any hand-made or exported prompts file (each entry is ~100 bytes)."""


class PromptSet:
    """Prompt calls as (frame, object, call), in the order they were given."""

    def __init__(self) -> None:
        self._calls: list[tuple[int, int, Prompt]] = []

    def add(self, frame: int, obj: int, call: Prompt) -> None:
        if frame < 0:
            raise PromptError(f"frame {frame} is negative")
        if obj <= 0:
            raise PromptError(f"object ids are positive integers, got {obj}")
        self._calls.append((frame, obj, call))

    def items(self) -> list[tuple[int, int, Prompt]]:
        """(frame, object, call) in the order given."""
        return list(self._calls)

    @property
    def frames(self) -> list[int]:
        return sorted({frame for frame, _, _ in self._calls})

    @property
    def objects(self) -> list[int]:
        return sorted({obj for _, obj, _ in self._calls})

    def __len__(self) -> int:
        return len(self._calls)


def _call(where: str, **fields) -> Prompt:
    try:
        return Prompt(**fields)
    except ValueError as exc:
        raise PromptError(f"{where}: {exc}") from exc


def _numbers(text: str, count: int, what: str, spec: str) -> list[float]:
    parts = text.split(",")
    if len(parts) != count:
        form = "X,Y" if count == 2 else "X0,Y0,X1,Y1"
        raise PromptError(
            f"{what} {spec!r}: expected {form} ({count} comma-separated numbers)", text=spec
        )
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise PromptError(f"{what} {spec!r}: {text!r} is not numbers", text=spec) from None
    if not all(math.isfinite(v) for v in values):
        raise PromptError(f"{what} {spec!r}: coordinates must be finite numbers", text=spec)
    return values


def _frame_obj(frame: str, obj: str, what: str, spec: str) -> tuple[int, int]:
    try:
        return int(frame), int(obj)
    except ValueError:
        raise PromptError(f"{what} {spec!r}: FRAME and OBJ must be integers", text=spec) from None


def parse_point(spec: str, *, placed: bool = True) -> tuple[int, int, tuple[float, float], int]:
    """``FRAME:OBJ:X,Y[:neg]`` → (frame, obj, (x, y), label). ``placed=False`` (``live``,
    where each point selects one more object on the first frame): ``X,Y`` alone, a
    positive click, → (-1, -1, (x, y), 1)."""
    parts = spec.split(":")
    if not placed:
        if len(parts) != 1:
            raise PromptError(f"--point {spec!r}: expected X,Y (pixels)", text=spec)
        x, y = _numbers(parts[0], 2, "--point", spec)
        return -1, -1, (x, y), 1
    if len(parts) not in (3, 4) or (len(parts) == 4 and parts[3].lower() not in ("neg", "pos")):
        raise PromptError(
            f"--point {spec!r}: expected FRAME:OBJ:X,Y or FRAME:OBJ:X,Y:neg", text=spec
        )
    frame, obj = _frame_obj(parts[0], parts[1], "--point", spec)
    x, y = _numbers(parts[2], 2, "--point", spec)
    label = 0 if len(parts) == 4 and parts[3].lower() == "neg" else 1
    return frame, obj, (x, y), label


def parse_box(
    spec: str, *, placed: bool = True
) -> tuple[int, int, tuple[float, float, float, float]]:
    """``FRAME:OBJ:X0,Y0,X1,Y1`` → (frame, obj, box); ``placed=False``: ``X0,Y0,X1,Y1``
    alone → (-1, -1, box) (see :func:`parse_point`)."""
    parts = spec.split(":")
    if len(parts) != (3 if placed else 1):
        form = "FRAME:OBJ:X0,Y0,X1,Y1" if placed else "X0,Y0,X1,Y1"
        raise PromptError(f"--box {spec!r}: expected {form}", text=spec)
    frame, obj = _frame_obj(parts[0], parts[1], "--box", spec) if placed else (-1, -1)
    x0, y0, x1, y1 = _numbers(parts[-1], 4, "--box", spec)
    return frame, obj, (x0, y0, x1, y1)


def load_prompts_file(path: str | Path, into: PromptSet | None = None) -> PromptSet:
    """Reads a prompts.json list (one prompt call an entry) into a :class:`PromptSet`."""
    prompts = into or PromptSet()
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_PROMPTS_BYTES:
            raise PromptError(
                f"{path} is {size / 2**20:.0f} MB; a prompts file is at most "
                f"{MAX_PROMPTS_BYTES // 2**20} MB"
            )
        entries = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PromptError(f"cannot read prompts file {path}: {exc.strerror or exc}") from exc
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise PromptError(f"{path} is not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(entries, list):
        raise PromptError(f"{path}: expected a JSON list of prompts")
    keys = {"frame", "obj", "points", "labels", "box", "clear_old_points"}
    for i, entry in enumerate(entries):
        where = f"{path} entry {i}"
        if not isinstance(entry, dict) or "frame" not in entry or "obj" not in entry:
            raise PromptError(f'{where}: each prompt needs "frame" and "obj"')
        unknown = set(entry) - keys
        if unknown:
            raise PromptError(f"{where}: unknown keys {sorted(unknown)}")
        clear = entry.get("clear_old_points", True)
        if not isinstance(clear, bool):
            raise PromptError(f'{where}: "clear_old_points" must be true or false')
        try:
            frame, obj = _integer(entry["frame"]), _integer(entry["obj"])
            box = None
            if entry.get("box") is not None:
                box = tuple(float(v) for v in entry["box"])
                if len(box) != 4:
                    raise ValueError("box needs 4 numbers")
            points = entry.get("points") or []
            labels = entry.get("labels")
            if labels is None:
                labels = [1] * len(points)
            if len(labels) != len(points):
                raise ValueError(f"{len(points)} points but {len(labels)} labels")
            xy = tuple((float(x), float(y)) for x, y in points)
            labels = tuple(_integer(v) for v in labels)
        except (TypeError, ValueError) as exc:
            raise PromptError(f"{where}: {exc}") from exc
        if not xy and box is None:
            raise PromptError(f"{where}: give points or a box")
        prompts.add(
            frame,
            obj,
            _call(where, points_xy=xy, labels=labels, box_xyxy=box, clear_old_points=clear),
        )
    return prompts


def prompt_entries(items: Iterable[tuple[int, int, Prompt]]) -> list[dict]:
    """``prompts.json`` entries for prompt calls (frame, object, call), in order; what
    :func:`load_prompts_file` reads back as the same calls. Mask calls have no JSON form."""
    entries = []
    for frame, obj, call in items:
        if call.mask is not None:
            raise PromptError(
                f"frame {frame}, object {obj} has a painted mask, which a prompts file cannot hold"
            )
        entry: dict = {"frame": int(frame), "obj": int(obj)}
        if call.points_xy:
            entry["points"] = [[float(x), float(y)] for x, y in call.points_xy]
            entry["labels"] = [int(v) for v in call.labels]
        if call.box_xyxy is not None:
            entry["box"] = [float(v) for v in call.box_xyxy]
        if not call.clear_old_points:
            entry["clear_old_points"] = False
        entries.append(entry)
    return entries


def write_prompts_file(path: str | Path, items: Iterable[tuple[int, int, Prompt]]) -> None:
    """Writes prompt calls as a ``prompts.json`` (all or nothing)."""
    text = json.dumps(prompt_entries(items), indent=1)
    try:
        write_bytes_atomic(path, text.encode("utf-8"))
    except OSError as exc:
        raise PromptError(f"cannot write prompts file {path}: {exc.strerror or exc}") from exc


def _integer(value: object) -> int:
    """An integer from JSON (true/false and 1.5 are not integers)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ValueError(f"{value!r} is not an integer")
    return int(value)


def build_prompts(
    prompts_file: str | Path | None, points: Iterable[str], boxes: Iterable[str]
) -> PromptSet:
    """The prompt calls of one ``track`` run: the file's entries, then each ``--box``, then
    each ``--point`` (a click appended to the points of its frame and object)."""
    prompts = load_prompts_file(prompts_file) if prompts_file else PromptSet()
    for spec in boxes:
        frame, obj, box = parse_box(spec)
        prompts.add(frame, obj, _call(f"--box {spec!r}", box_xyxy=box))
    for spec in points:
        frame, obj, xy, label = parse_point(spec)
        call = _call(f"--point {spec!r}", points_xy=(xy,), labels=(label,), clear_old_points=False)
        prompts.add(frame, obj, call)
    return prompts
