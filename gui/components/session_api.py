"""The tracking-session interface the panel codes against (``etam_plugin.model.VideoSession``),
as a Protocol so that the panel, its tests' fake and the real session meet in one place."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

from etam_plugin.model import FrameResult, FrameSource, FrameStatus, ObjectResult, Progress, Prompt


class SessionLike(Protocol):
    frames: FrameSource
    num_frames: int
    frame_size: tuple[int, int]
    object_ids: list[int]
    folder: Path  # where the session keeps its records; ``save(folder)`` writes it in place

    def add_object(self, obj_id: int | None = None, name: str | None = None) -> int: ...

    def remove_object(self, obj_id: int, *, keep: bool = False) -> None: ...

    def restore_object(self, obj_id: int) -> bool: ...

    def rename_object(self, obj_id: int, name: str) -> None: ...

    def object_name(self, obj_id: int) -> str: ...

    def set_prompts(
        self, frame_index: int, obj_id: int, calls: Sequence[Prompt]
    ) -> FrameResult: ...

    def prompts(self, frame_index: int, obj_id: int) -> tuple[Prompt, ...]: ...

    def prompted_frames(self, obj_id: int) -> list[int]: ...

    def propagate(
        self,
        direction: str = "forward",
        start: int | None = None,
        end: int | None = None,
        *,
        obj_ids: list[int] | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[tuple[FrameResult, Progress]]: ...

    def result(
        self, frame_index: int, obj_id: int, *, with_logits: bool = False
    ) -> ObjectResult | None: ...

    def statuses(self, obj_id: int) -> list[FrameStatus]: ...

    def save(self, folder: Path) -> object: ...

    def close(self) -> None: ...


class SessionFactory(Protocol):
    """Creates sessions on frames; owns the loaded network so several sessions share it."""

    def create(self, frames: FrameSource) -> SessionLike: ...

    def open(self, folder: Path, frames: FrameSource) -> SessionLike: ...

    def describe(self) -> str: ...
