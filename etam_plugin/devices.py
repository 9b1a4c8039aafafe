"""Choosing where the network runs: a device name and a precision, checked up front."""

from __future__ import annotations

from etam_plugin.errors import EtamError

DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("float32", "bfloat16", "float16")


class DeviceError(EtamError):
    """The requested device or precision is not available on this machine."""


def pick_device(name: str = "auto") -> str:
    """``auto`` picks CUDA, then Apple's MPS, then the CPU; others are checked."""
    import torch

    if name not in DEVICES:
        raise DeviceError(f"device must be one of {', '.join(DEVICES)}, not {name!r}")
    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    if name == "auto":
        return "cuda" if cuda else "mps" if mps else "cpu"
    if name == "cuda" and not cuda:
        raise DeviceError("CUDA was asked for but this PyTorch build sees no CUDA GPU")
    if name == "mps" and not mps:
        raise DeviceError("MPS was asked for but this machine has no Apple GPU backend")
    return name


def pick_dtype(name: str, device: str):
    """The torch dtype for ``name``; reduced precision only on a GPU."""
    import torch

    if name not in DTYPES:
        raise DeviceError(f"precision must be one of {', '.join(DTYPES)}, not {name!r}")
    if name != "float32" and device == "cpu":
        raise DeviceError(f"{name} runs on a GPU only; use float32 on the CPU")
    return getattr(torch, name)
