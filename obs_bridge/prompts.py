"""Selections given as text (``--point X,Y``, ``--box X0,Y0,X1,Y1``), for the live command.

Coordinates are pixels of the bridge's frame (the camera's, or ``--width``×``--height``);
prompts given at start are applied on the first frame the tracker steps.
"""

from __future__ import annotations

from etam_plugin.errors import PromptError
from etam_plugin.model import Prompt


def _numbers(text: str, count: int, what: str) -> list[float]:
    parts = [p.strip() for p in text.split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != count or any(v < 0 for v in values):
        example = "X,Y" if count == 2 else "X0,Y0,X1,Y1"
        raise ValueError(f"{what} {text!r}: expected {example} in pixels (non-negative numbers)")
    return values


def parse_point(text: str) -> Prompt:
    """``"320,240"`` → a one-click positive prompt."""
    x, y = _numbers(text, 2, "point")
    return Prompt(points_xy=((x, y),), labels=(1,))


def parse_box(text: str) -> Prompt:
    """``"100,80,300,260"`` → a box prompt (corners in any order)."""
    x0, y0, x1, y1 = _numbers(text, 4, "box")
    x0, x1 = sorted((x0, x1))
    y0, y1 = sorted((y0, y1))
    if x1 - x0 < 1 or y1 - y0 < 1:
        raise ValueError(f"box {text!r} is empty: the corners must differ in x and in y")
    return Prompt(box_xyxy=(x0, y0, x1, y1))


def check_in_frame(prompt: Prompt, width: int, height: int) -> None:
    """Raise :class:`PromptError` when a point or box corner lies outside the frame (a
    prompt for another resolution would silently select the wrong thing)."""
    corners: list[tuple[float, float]] = list(prompt.points_xy)
    if prompt.box_xyxy is not None:
        x0, y0, x1, y1 = prompt.box_xyxy
        corners += [(x0, y0), (x1, y1)]
    for x, y in corners:
        if not (0 <= x <= width - 1 and 0 <= y <= height - 1):
            raise PromptError(
                f"prompt at {x:g},{y:g} is outside the {width}×{height} frame "
                f"(x in 0..{width - 1}, y in 0..{height - 1})",
                text=f"{x:g},{y:g}",
            )
