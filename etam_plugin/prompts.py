"""Prompts from the command line and from ``prompts.json``, in the order they were given.

``--point FRAME:OBJ:X,Y[:neg]`` (repeatable; clicks on the same frame and object build one
prompt, in order), ``--box FRAME:OBJ:X0,Y0,X1,Y1``, and a JSON list of
``{"frame": 0, "obj": 1, "points": [[x, y], ...], "labels": [1, 0], "box": [x0, y0, x1, y1]}``.
Coordinates are source pixels.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from etam_plugin.errors import EtamError
from etam_plugin.model import Prompt


class PromptError(EtamError):
    """A prompt given on the command line or in a prompts file cannot be understood."""

    def __init__(self, message: str, *, text: str | None = None) -> None:
        super().__init__(message)
        self.text = text


@dataclass
class _Draft:
    points: list[tuple[float, float]] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    box: tuple[float, float, float, float] | None = None


class PromptSet:
    """Prompts keyed by (frame, object), in the order they were first given."""

    def __init__(self) -> None:
        self._drafts: dict[tuple[int, int], _Draft] = {}

    def add_points(self, frame: int, obj: int, points, labels) -> None:
        draft = self._draft(frame, obj)
        draft.points.extend((float(x), float(y)) for x, y in points)
        draft.labels.extend(int(v) for v in labels)

    def set_box(self, frame: int, obj: int, box) -> None:
        self._draft(frame, obj).box = tuple(float(v) for v in box)

    def _draft(self, frame: int, obj: int) -> _Draft:
        if frame < 0:
            raise PromptError(f"frame {frame} is negative")
        if obj <= 0:
            raise PromptError(f"object ids are positive integers, got {obj}")
        return self._drafts.setdefault((frame, obj), _Draft())

    def items(self) -> list[tuple[int, int, Prompt]]:
        """(frame, object, prompt) in the order given."""
        out = []
        for (frame, obj), d in self._drafts.items():
            try:
                prompt = Prompt(tuple(d.points), tuple(d.labels), d.box)
            except ValueError as exc:
                raise PromptError(f"frame {frame}, object {obj}: {exc}") from exc
            out.append((frame, obj, prompt))
        return out

    @property
    def frames(self) -> list[int]:
        return sorted({frame for frame, _ in self._drafts})

    @property
    def objects(self) -> list[int]:
        return sorted({obj for _, obj in self._drafts})

    def __len__(self) -> int:
        return len(self._drafts)


def _numbers(text: str, count: int, what: str, spec: str) -> list[float]:
    parts = text.split(",")
    if len(parts) != count:
        raise PromptError(f"{what} {spec!r}: expected {count} comma-separated numbers", text=spec)
    try:
        return [float(p) for p in parts]
    except ValueError:
        raise PromptError(f"{what} {spec!r}: {text!r} is not numbers", text=spec) from None


def _frame_obj(frame: str, obj: str, what: str, spec: str) -> tuple[int, int]:
    try:
        return int(frame), int(obj)
    except ValueError:
        raise PromptError(f"{what} {spec!r}: FRAME and OBJ must be integers", text=spec) from None


def parse_point(spec: str) -> tuple[int, int, tuple[float, float], int]:
    """``FRAME:OBJ:X,Y[:neg]`` → (frame, obj, (x, y), label)."""
    parts = spec.split(":")
    if len(parts) not in (3, 4) or (len(parts) == 4 and parts[3].lower() not in ("neg", "pos")):
        raise PromptError(
            f"--point {spec!r}: expected FRAME:OBJ:X,Y or FRAME:OBJ:X,Y:neg", text=spec
        )
    frame, obj = _frame_obj(parts[0], parts[1], "--point", spec)
    x, y = _numbers(parts[2], 2, "--point", spec)
    label = 0 if len(parts) == 4 and parts[3].lower() == "neg" else 1
    return frame, obj, (x, y), label


def parse_box(spec: str) -> tuple[int, int, tuple[float, float, float, float]]:
    """``FRAME:OBJ:X0,Y0,X1,Y1`` → (frame, obj, box)."""
    parts = spec.split(":")
    if len(parts) != 3:
        raise PromptError(f"--box {spec!r}: expected FRAME:OBJ:X0,Y0,X1,Y1", text=spec)
    frame, obj = _frame_obj(parts[0], parts[1], "--box", spec)
    x0, y0, x1, y1 = _numbers(parts[2], 4, "--box", spec)
    return frame, obj, (x0, y0, x1, y1)


def load_prompts_file(path: str | Path, into: PromptSet | None = None) -> PromptSet:
    """Reads a prompts.json list into a :class:`PromptSet`."""
    prompts = into or PromptSet()
    path = Path(path)
    try:
        entries = json.loads(path.read_text())
    except OSError as exc:
        raise PromptError(f"cannot read prompts file {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise PromptError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(entries, list):
        raise PromptError(f"{path}: expected a JSON list of prompts")
    for i, entry in enumerate(entries):
        where = f"{path} entry {i}"
        if not isinstance(entry, dict) or "frame" not in entry or "obj" not in entry:
            raise PromptError(f'{where}: each prompt needs "frame" and "obj"')
        unknown = set(entry) - {"frame", "obj", "points", "labels", "box"}
        if unknown:
            raise PromptError(f"{where}: unknown keys {sorted(unknown)}")
        try:
            frame, obj = int(entry["frame"]), int(entry["obj"])
            if "box" in entry and entry["box"] is not None:
                box = [float(v) for v in entry["box"]]
                if len(box) != 4:
                    raise ValueError("box needs 4 numbers")
                prompts.set_box(frame, obj, box)
            points = entry.get("points") or []
            labels = entry.get("labels")
            if labels is None:
                labels = [1] * len(points)
            if len(labels) != len(points):
                raise ValueError(f"{len(points)} points but {len(labels)} labels")
            prompts.add_points(frame, obj, [(float(x), float(y)) for x, y in points], labels)
        except (TypeError, ValueError) as exc:
            raise PromptError(f"{where}: {exc}") from exc
    return prompts


def build_prompts(
    prompts_file: str | Path | None, points: Iterable[str], boxes: Iterable[str]
) -> PromptSet:
    """The prompts of one ``track`` run: the file first, then ``--box``, then ``--point``
    (a box goes before the clicks of its frame and object)."""
    prompts = load_prompts_file(prompts_file) if prompts_file else PromptSet()
    for spec in boxes:
        frame, obj, box = parse_box(spec)
        prompts.set_box(frame, obj, box)
    for spec in points:
        frame, obj, xy, label = parse_point(spec)
        prompts.add_points(frame, obj, [xy], [label])
    return prompts
