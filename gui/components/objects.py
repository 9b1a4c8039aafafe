"""The objects being rotoscoped: id, name, colour, visibility, and which one is active.

Ids are chosen here (not by the session) so that the GUI never waits for the worker to name
an object: the same id is passed to ``VideoSession.add_object(obj_id, name)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from etam_plugin.gui.components.events import Event

Color = tuple[int, int, int]

# Distinct, saturated colours that stay readable over video (Tableau 10 order, brightened).
PALETTE: tuple[Color, ...] = (
    (255, 99, 71),
    (64, 170, 255),
    (80, 220, 100),
    (255, 200, 40),
    (200, 110, 255),
    (0, 220, 220),
    (255, 120, 200),
    (170, 220, 60),
    (255, 150, 60),
    (150, 150, 255),
)


@dataclass(frozen=True)
class TrackedObject:
    """One object as the panel shows it (the masks live in the session and the mask store)."""

    obj_id: int
    name: str
    color: Color
    visible: bool = True


class ObjectList:
    """Ordered objects plus the active one; emits ``changed(kind, obj_id)``.

    ``kind`` is one of ``"added"``, ``"removed"``, ``"renamed"``, ``"recolored"``,
    ``"visibility"``, ``"active"``, ``"reset"``.
    """

    def __init__(self) -> None:
        self._objects: dict[int, TrackedObject] = {}
        self._active: int | None = None
        self._next_id = 1
        self.changed = Event()

    # -- queries -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._objects)

    def __iter__(self) -> Iterator[TrackedObject]:
        return iter(list(self._objects.values()))

    def __contains__(self, obj_id: object) -> bool:
        return obj_id in self._objects

    def get(self, obj_id: int) -> TrackedObject:
        try:
            return self._objects[obj_id]
        except KeyError:
            raise KeyError(f"no object with id {obj_id}") from None

    @property
    def ids(self) -> list[int]:
        return list(self._objects)

    @property
    def active_id(self) -> int | None:
        return self._active

    def visible_ids(self) -> list[int]:
        return [o.obj_id for o in self._objects.values() if o.visible]

    def next_id(self) -> int:
        return self._next_id

    def default_name(self, obj_id: int) -> str:
        return f"Object {obj_id}"

    def new_object(self, name: str | None = None) -> TrackedObject:
        """The object :meth:`add` would add next (for an undoable add), without adding it."""
        obj_id = self._next_id
        return TrackedObject(obj_id, name or self.default_name(obj_id), color_for(obj_id))

    # -- edits ---------------------------------------------------------------------------
    def add(
        self,
        name: str | None = None,
        *,
        obj_id: int | None = None,
        color: Color | None = None,
        visible: bool = True,
        activate: bool = True,
    ) -> TrackedObject:
        """Add an object (a new id unless ``obj_id`` is given, e.g. to undo a delete)."""
        if obj_id is None:
            obj_id = self._next_id
        if obj_id in self._objects:
            raise ValueError(f"object id {obj_id} is already used")
        self._next_id = max(self._next_id, obj_id + 1)
        if color is None:
            color = color_for(obj_id)
        obj = TrackedObject(obj_id, name or self.default_name(obj_id), color, visible)
        self._objects[obj_id] = obj
        self.changed.emit("added", obj_id)
        if activate or self._active is None:
            self.set_active(obj_id)
        return obj

    def remove(self, obj_id: int) -> TrackedObject:
        obj = self.get(obj_id)
        ids = self.ids
        del self._objects[obj_id]
        self.changed.emit("removed", obj_id)
        if self._active == obj_id:
            pos = ids.index(obj_id)
            rest = [i for i in ids if i != obj_id]
            self.set_active(rest[min(pos, len(rest) - 1)] if rest else None)
        return obj

    def rename(self, obj_id: int, name: str) -> None:
        name = name.strip()
        if not name:
            raise ValueError("an object name cannot be empty")
        self._replace(obj_id, "renamed", name=name)

    def set_color(self, obj_id: int, color: Color) -> None:
        if len(color) != 3 or not all(0 <= int(c) <= 255 for c in color):
            raise ValueError(f"colour {color} is not an RGB triple of 0..255")
        self._replace(obj_id, "recolored", color=tuple(int(c) for c in color))

    def set_visible(self, obj_id: int, visible: bool) -> None:
        self._replace(obj_id, "visibility", visible=bool(visible))

    def set_active(self, obj_id: int | None) -> None:
        if obj_id is not None:
            self.get(obj_id)
        if obj_id != self._active:
            self._active = obj_id
            self.changed.emit("active", obj_id)

    def clear(self) -> None:
        self._objects.clear()
        self._active = None
        self._next_id = 1
        self.changed.emit("reset", None)

    def _replace(self, obj_id: int, kind: str, **changes: object) -> None:
        old = self.get(obj_id)
        new = replace(old, **changes)
        if new != old:
            self._objects[obj_id] = new
            self.changed.emit(kind, obj_id)


def color_for(obj_id: int) -> Color:
    """The default colour of object ``obj_id`` (the palette, cycling)."""
    return PALETTE[(obj_id - 1) % len(PALETTE)]
