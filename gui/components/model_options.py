"""The Model menu's choices: variant, attention mode, device, precision, checkpoint file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from etam_plugin.devices import DEVICES, DTYPES
from etam_plugin.model import ATTENTION_MODES, VARIANTS

PRECISIONS: tuple[str, ...] = DTYPES
DEFAULT_VARIANT = "ti_512x512"


@dataclass(frozen=True)
class ModelOptions:
    """``attention`` None keeps the variant's own mode; ``checkpoint`` None means the official
    weights for ``variant`` (found locally or downloaded); ``cpu_threads`` 0 means every
    core (``etam_plugin.devices.set_cpu_threads``)."""

    variant: str = DEFAULT_VARIANT
    attention: str | None = None
    device: str = "auto"
    precision: str = "float32"
    checkpoint: Path | None = None
    cpu_threads: int = 0

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown variant {self.variant!r}; known: {', '.join(VARIANTS)}")
        if self.attention is not None and self.attention not in ATTENTION_MODES:
            raise ValueError(
                f"unknown attention mode {self.attention!r}; known: {', '.join(ATTENTION_MODES)}"
            )
        if self.device not in DEVICES:
            raise ValueError(f"unknown device {self.device!r}; known: {', '.join(DEVICES)}")
        if self.precision not in PRECISIONS:
            raise ValueError(
                f"unknown precision {self.precision!r}; known: {', '.join(PRECISIONS)}"
            )
        if isinstance(self.cpu_threads, bool) or not isinstance(self.cpu_threads, int):
            raise ValueError(f"cpu_threads must be a whole number, not {self.cpu_threads!r}")
        if self.cpu_threads < 0:
            raise ValueError("cpu_threads must be 0 (all cores) or more")

    def label(self) -> str:
        """Short text for the status bar, e.g. ``ti_512x512 · pooled-keys · cpu · float32``."""
        parts = [self.variant]
        if self.attention:
            parts.append(self.attention)
        parts += [self.device, self.precision]
        return " · ".join(parts)
