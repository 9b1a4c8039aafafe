"""Which ONNX Runtime execution providers to ask for, in which order, with which options.

Automatic choice takes the first available of TensorRT, CUDA, DirectML, CoreML and always
ends with the CPU provider, which runs whatever a device provider does not take. A
requested provider that this onnxruntime build lacks is an error that lists what it has
(asking for "cuda" and silently getting the CPU would hide a broken install).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from etam_plugin.errors import OnnxError

TENSORRT = "TensorrtExecutionProvider"
CUDA = "CUDAExecutionProvider"
DIRECTML = "DmlExecutionProvider"
COREML = "CoreMLExecutionProvider"
CPU = "CPUExecutionProvider"

PROVIDER_ORDER: tuple[str, ...] = (TENSORRT, CUDA, DIRECTML, COREML, CPU)
"""Automatic preference, fastest first; CPU is always the last resort."""

ALIASES: dict[str, str] = {
    "tensorrt": TENSORRT,
    "trt": TENSORRT,
    "cuda": CUDA,
    "directml": DIRECTML,
    "dml": DIRECTML,
    "coreml": COREML,
    "cpu": CPU,
}


@dataclass(frozen=True)
class ProviderPlan:
    """Providers with their options, in priority order, and session settings they need."""

    providers: tuple[str, ...]
    options: tuple[dict[str, str], ...]
    disable_mem_pattern: bool = False
    notes: tuple[str, ...] = field(default=())

    def describe(self) -> str:
        return " > ".join(p.removesuffix("ExecutionProvider") for p in self.providers)


def _canonical(name: str) -> str:
    if name in PROVIDER_ORDER:
        return name
    try:
        return ALIASES[name.strip().lower()]
    except KeyError:
        known = ", ".join(sorted(ALIASES))
        raise OnnxError(
            f"unknown execution provider {name!r}; use one of {known}", reason="provider"
        ) from None


def _options(provider: str, device_id: int, cache_dir: Path | None) -> dict[str, str]:
    if provider == TENSORRT:
        opts = {"device_id": str(device_id)}
        if cache_dir is not None:  # engines are built per input shape: keep them
            opts["trt_engine_cache_enable"] = "True"
            opts["trt_engine_cache_path"] = str(cache_dir)
        return opts
    if provider in (CUDA, DIRECTML):
        return {"device_id": str(device_id)}
    if provider == COREML:
        return {"ModelFormat": "MLProgram"}
    return {}


def plan_providers(
    requested: str | Sequence[str] | None = None,
    available: Sequence[str] | None = None,
    *,
    device_id: int = 0,
    cache_dir: str | Path | None = None,
) -> ProviderPlan:
    """The providers to create sessions with.

    ``requested``: None or ``"auto"`` for the automatic order, else provider names or
    aliases (``cuda``, ``tensorrt``, ``directml``, ``coreml``, ``cpu``) in priority order.
    ``available``: what this onnxruntime build offers (default: asks onnxruntime; tests
    pass a fake list).
    """
    if available is None:
        import onnxruntime

        available = onnxruntime.get_available_providers()
    have = set(available)
    cache = Path(cache_dir) if cache_dir is not None else None
    if requested is None or requested == "auto" or requested == ["auto"]:
        chosen = [p for p in PROVIDER_ORDER if p in have and p != CPU]
    else:
        names = [requested] if isinstance(requested, str) else list(requested)
        chosen = []
        for name in names:
            provider = _canonical(name)
            if provider not in have and provider != CPU:
                raise OnnxError(
                    f"execution provider {provider} is not in this onnxruntime build "
                    f"(it has {', '.join(available) or 'none'}); install the matching "
                    "onnxruntime package (onnxruntime-gpu, onnxruntime-directml, …)",
                    reason="provider",
                )
            if provider not in chosen:
                chosen.append(provider)
        chosen = [p for p in chosen if p != CPU]
    notes = []
    if TENSORRT in chosen and CUDA not in chosen and CUDA in have:
        # Nodes TensorRT does not take should still run on the GPU.
        chosen.insert(chosen.index(TENSORRT) + 1, CUDA)
    if TENSORRT in chosen and cache is None:
        notes.append("TensorRT builds an engine per input shape; pass cache_dir to keep them")
    chosen.append(CPU)
    return ProviderPlan(
        providers=tuple(chosen),
        options=tuple(_options(p, device_id, cache) for p in chosen),
        # DirectML does not support memory patterns or parallel execution.
        disable_mem_pattern=DIRECTML in chosen,
        notes=tuple(notes),
    )
