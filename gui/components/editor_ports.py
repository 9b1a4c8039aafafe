"""What the editor model is given and gives: the worker mailboxes, timers and undo history
its host (the Qt panel, or a test) provides, and the session state and status it reports.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from etam_plugin.gui.components import messages as m
from etam_plugin.gui.components.objects import TrackedObject
from etam_plugin.model import Prompt

# Autosave a few seconds after the first unsaved change (not after the last: a user who
# keeps clicking is still saved every few seconds).
AUTOSAVE_DELAY_MS = 3000
# While tracking, the worker also checkpoints to the autosave this often.
CHECKPOINT_EVERY_S = 30.0


class SessionState(str, enum.Enum):
    NONE = "no clip"
    STARTING = "starting"
    READY = "ready"
    FAILED = "unavailable"


@dataclass(frozen=True)
class StatusInfo:
    model: str
    session: SessionState
    last_step_ms: float | None
    tracking_fps: float | None
    masks_mb: float
    activity: str = ""  # what the session does now: "tracking", "exporting", … or its state


@dataclass(frozen=True)
class Workers:
    """Where requests go: each call files one request in a worker's newest-wins mailbox
    (``frames`` takes a priority: thumbnails wait behind the shown frame). Their results
    come back through :meth:`EditorModel.on_inference_result` and its siblings."""

    inference: Callable[[m.Request], None]
    frames: Callable[[m.Request, int], None]
    tasks: Callable[[m.Request], None]


class Timer(Protocol):
    """A timer the host runs (a QTimer in the panel); its timeout calls back the model."""

    def start(self, msec: int) -> None: ...

    def stop(self) -> None: ...

    def isActive(self) -> bool: ...  # QTimer's spelling, so a QTimer is one


class History(Protocol):
    """The undo history edits are recorded in (a QUndoStack in the panel). Its commands
    call the model's public methods: ``apply_prompt``, ``insert_object``, ``drop_object``,
    ``restore_object``."""

    def push_prompt(
        self, frame: int, obj_id: int, before: Prompt | None, after: Prompt | None, text: str
    ) -> None: ...

    def push_add(self, obj: TrackedObject) -> None: ...

    def push_remove(self, obj_id: int) -> None: ...

    def forget_add(self, obj_id: int) -> None:
        """Drop the last step if it added ``obj_id`` (the session refused the object)."""

    def clear(self) -> None: ...

    def set_clean(self) -> None: ...
