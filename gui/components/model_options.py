"""The Model menu's choices: variant, attention mode, device, precision, checkpoint file,
and the backend (PyTorch, or ONNX Runtime on an ``etam-plugin export-onnx`` folder)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from etam_plugin.devices import BACKENDS, DEVICES, DTYPES
from etam_plugin.model import ATTENTION_MODES, VARIANTS

PRECISIONS: tuple[str, ...] = DTYPES
DEFAULT_VARIANT = "ti_512x512"
ONNX_PRECISIONS: tuple[str, ...] = ("fp32", "int8")


@dataclass(frozen=True)
class ModelOptions:
    """``attention`` None keeps the variant's own mode; ``checkpoint`` None means the official
    weights for ``variant`` (found locally or downloaded); ``cpu_threads`` 0 means every
    core (``etam_plugin.devices.set_cpu_threads``).

    ``backend="onnx"`` runs the exported graphs in ``onnx_dir`` (their variant and attention
    mode are the export's; ``variant``/``attention``/``checkpoint`` then wait unused for a
    switch back to PyTorch) in ``onnx_precision`` (``int8``: the dynamically quantised graphs).
    """

    variant: str = DEFAULT_VARIANT
    attention: str | None = None
    device: str = "auto"
    precision: str = "float32"
    checkpoint: Path | None = None
    cpu_threads: int = 0
    backend: str = "torch"
    onnx_dir: Path | None = None
    onnx_precision: str = "fp32"

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
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}; known: {', '.join(BACKENDS)}")
        if self.onnx_precision not in ONNX_PRECISIONS:
            raise ValueError(
                f"unknown ONNX precision {self.onnx_precision!r}; "
                f"known: {', '.join(ONNX_PRECISIONS)}"
            )
        if self.backend == "onnx" and self.onnx_dir is None:
            raise ValueError(
                "the ONNX Runtime backend needs an export folder (made by "
                "`etam-plugin export-onnx`); choose one in Model ▸ Backend"
            )

    def same_network(self, other: ModelOptions) -> bool:
        """Whether switching between the two only changes torch's CPU thread count (an ONNX
        Runtime session fixes its threads when made, so there it means a new session)."""
        return self.backend == other.backend == "torch" and replace(self, cpu_threads=0) == replace(
            other, cpu_threads=0
        )

    def label(self) -> str:
        """Short text for the status bar, e.g. ``ti_512x512 · pooled-keys · cpu · float32``
        or ``onnx int8 · mobile-onnx · auto``."""
        if self.backend == "onnx":
            assert self.onnx_dir is not None
            return " · ".join([f"onnx {self.onnx_precision}", self.onnx_dir.name, self.device])
        parts = [self.variant]
        if self.attention:
            parts.append(self.attention)
        parts += [self.device, self.precision]
        return " · ".join(parts)
