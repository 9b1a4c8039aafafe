"""Live preview of the matte finishing on the shown frame, with the export's own ops.

The panel edits an ``etam_plugin.matte.MatteOps`` (the same value the export and the CLI's
``--matte-ops`` take), so what is previewed is what gets exported. Per-frame ops run on the shown
frame; temporal smoothing averages it with the neighbouring frames whose masks are already
known (``smooth_sequence`` on that window), as the export will over the whole range.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from etam_plugin.gui.components.render import Layer
from etam_plugin.matte import MatteOps, smooth_sequence

if TYPE_CHECKING:
    from etam_plugin.gui.components.masks import MaskStore
    from etam_plugin.gui.components.objects import ObjectList

IDENTITY = MatteOps()


def is_identity(ops: MatteOps) -> bool:
    """True when finishing would hand a bool mask back unchanged (skip the work)."""
    return ops == IDENTITY


def preview_alpha(
    ops: MatteOps,
    frame: int,
    mask_of: Callable[[int], np.ndarray | None],
    guide: np.ndarray | None = None,
) -> np.ndarray | None:
    """Float32 alpha (H, W) of ``frame`` after ``ops``, or None when it has no mask.

    ``mask_of(i)`` gives frame i's bool mask (None when unknown); ``guide`` is the shown
    frame's picture for edge refinement. Neighbours are refined without their pictures
    (only the shown one is decoded), so refine + smooth previews slightly softer than export.
    """
    mask = mask_of(frame)
    if mask is None:
        return None
    per_frame = ops if (guide is not None or not ops.refine) else replace(ops, refine=0.0)
    centre = per_frame.apply(mask, guide=guide)
    if ops.smooth == 0:
        return centre
    plain = replace(ops, refine=0.0)
    before: list[np.ndarray] = []
    for i in range(frame - 1, frame - ops.smooth - 1, -1):
        if (m := mask_of(i)) is None:
            break
        before.insert(0, plain.apply(m))
    after: list[np.ndarray] = []
    for i in range(frame + 1, frame + ops.smooth + 1):
        if (m := mask_of(i)) is None:
            break
        after.append(plain.apply(m))
    window = [*before, centre, *after]
    return list(smooth_sequence(window, ops.smooth))[len(before)]


class ObjectFinishing:
    """Each object's finishing ops: a shot's objects need their own edges (hair feathered,
    a car's edge hard), as in After Effects' per-layer Refine Edge. An object never set has
    none (the raw mask)."""

    def __init__(self) -> None:
        self._ops: dict[int, MatteOps] = {}

    def of(self, obj_id: int | None) -> MatteOps:
        return self._ops.get(obj_id, IDENTITY) if obj_id is not None else IDENTITY

    def set(self, obj_id: int, ops: MatteOps) -> bool:
        """Set ``obj_id``'s ops; True when that changed anything."""
        if self.of(obj_id) == ops:
            return False
        if is_identity(ops):
            self._ops.pop(obj_id, None)
        else:
            self._ops[obj_id] = ops
        return True

    def pop(self, obj_id: int) -> MatteOps:
        """Forget an object's ops and return them (a delete's undo brings them back)."""
        return self._ops.pop(obj_id, IDENTITY)

    def reset(self, ops: dict[int, MatteOps] | None = None) -> None:
        self._ops = {o: v for o, v in (ops or {}).items() if not is_identity(v)}

    def as_dict(self) -> dict[int, MatteOps]:
        """The objects that have finishing, by id."""
        return dict(self._ops)


def finished_layers(
    objects: ObjectList,
    finishing: ObjectFinishing,
    masks: MaskStore,
    num_frames: int,
    frame: int,
    guide: np.ndarray | None,
) -> list[Layer]:
    """The visible objects' mattes on ``frame`` (finishing previewed), bottom to top;
    ``guide`` is the frame's image when it is shown (edge-aware ops follow it)."""
    out = []
    for obj in objects:
        if not obj.visible:
            continue
        ops = finishing.of(obj.obj_id)
        if is_identity(ops):
            mask = masks.get(frame, obj.obj_id)
            if mask is not None:
                out.append(Layer(mask, obj.color))
            continue

        def mask_of(i: int, obj_id: int = obj.obj_id) -> np.ndarray | None:
            return masks.get(i, obj_id) if 0 <= i < num_frames else None

        alpha = preview_alpha(ops, frame, mask_of, guide)
        if alpha is not None:
            out.append(Layer(alpha, obj.color))
    return out
