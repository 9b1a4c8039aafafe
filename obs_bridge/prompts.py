"""Selections given as text (``--point X,Y``, ``--box X0,Y0,X1,Y1``), for the live command.

Coordinates are pixels of the bridge's frame (the camera's, or ``--width``×``--height``);
prompts given at start are applied on the first frame the tracker steps.
"""

from __future__ import annotations

from etam_plugin import prompts
from etam_plugin.errors import PromptError
from etam_plugin.model import Prompt


def _non_negative(values: tuple[float, ...], spec: str, what: str) -> None:
    if any(v < 0 for v in values):
        raise PromptError(f"{what} {spec!r}: pixels are non-negative numbers", text=spec)


def parse_point(text: str) -> Prompt:
    """``"320,240"`` → a one-click positive prompt: ``track``'s ``--point`` syntax without
    its ``FRAME:OBJ:`` (read by :func:`etam_plugin.prompts.parse_point`)."""
    _, _, xy, label = prompts.parse_point(text, placed=False)
    _non_negative(xy, text, "--point")
    return Prompt(points_xy=(xy,), labels=(label,))


def parse_box(text: str) -> Prompt:
    """``"100,80,300,260"`` → a box prompt (corners in any order); ``track``'s ``--box``
    syntax without its ``FRAME:OBJ:``."""
    _, _, box = prompts.parse_box(text, placed=False)
    _non_negative(box, text, "--box")
    x0, y0, x1, y1 = box
    x0, x1 = sorted((x0, x1))
    y0, y1 = sorted((y0, y1))
    if x1 - x0 < 1 or y1 - y0 < 1:
        raise PromptError(f"box {text!r} is empty: the corners must differ in x and in y")
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
