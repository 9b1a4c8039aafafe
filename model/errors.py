"""Error types of the model layer.

The project's single error root lives here because ``model/`` is the bottom layer and may not
import anything above it; ``etam_plugin.errors`` re-exports it and adds the upper layers'
errors. Every error carries structured fields so a GUI can show them and offer choices.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class EtamError(Exception):
    """Root of every error this project raises on purpose."""


class ModelError(EtamError):
    """The network or a tracking session was used in a way it cannot serve."""


class CheckpointError(ModelError):
    """A checkpoint file cannot be used; ``reason`` says why in one phrase."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        reason: str = "invalid",
        expected_variant: str | None = None,
        found_variant: str | None = None,
        missing_keys: Sequence[str] = (),
        unexpected_keys: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.path = Path(path) if path is not None else None
        self.reason = reason
        self.expected_variant = expected_variant
        self.found_variant = found_variant
        self.missing_keys = tuple(missing_keys)
        self.unexpected_keys = tuple(unexpected_keys)


class WeightsUnavailableError(ModelError):
    """Official weights are not on disk and cannot be fetched (e.g. offline)."""

    def __init__(self, message: str, *, variant: str, url: str, target: Path | None) -> None:
        super().__init__(message)
        self.variant = variant
        self.url = url
        self.target = target


class CancelledError(EtamError):
    """Long work was cancelled by the user; nothing partial was kept."""
