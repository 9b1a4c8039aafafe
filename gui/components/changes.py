"""Unsaved work, counted in revisions: every change to the project bumps the revision; a save
or an autosave records the revision it wrote. Unlike the undo stack's clean state this also
counts work that is not undoable (tracking results, colours, the range)."""

from __future__ import annotations

from etam_plugin.gui.components.events import Event


class ChangeTracker:
    """Emits ``changed(dirty)`` when the unsaved state flips."""

    def __init__(self) -> None:
        self.changed = Event()
        self.revision = 0
        self.saved = 0
        self.autosaved = 0

    @property
    def dirty(self) -> bool:
        """Work that an explicit save has not written."""
        return self.revision != self.saved

    @property
    def needs_autosave(self) -> bool:
        return self.revision not in (self.saved, self.autosaved)

    def mark(self) -> int:
        was = self.dirty
        self.revision += 1
        if not was:
            self.changed.emit(True)
        return self.revision

    def mark_saved(self, revision: int) -> None:
        was = self.dirty
        self.saved = max(self.saved, revision)
        self.autosaved = max(self.autosaved, revision)
        if was != self.dirty:
            self.changed.emit(self.dirty)

    def mark_autosaved(self, revision: int) -> None:
        self.autosaved = max(self.autosaved, revision)

    def reset(self, dirty: bool = False) -> None:
        """A new clip or project: nothing unsaved (or, for recovered work, everything)."""
        was = self.dirty
        self.revision += 1
        self.saved = self.autosaved = self.revision - (1 if dirty else 0)
        if was != self.dirty:
            self.changed.emit(self.dirty)
