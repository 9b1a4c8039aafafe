"""Choosing where the network runs: a device name and a precision, checked up front."""

from __future__ import annotations

import os

from etam_plugin.errors import DeviceError

DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("float32", "bfloat16", "float16")
DTYPE_CHOICES = ("auto", *DTYPES)  # what --dtype accepts; "auto" (live's default): pick_dtype
# The inference backends (the torch network, an ONNX export) and the ONNX export's graph
# precisions, declared once: commands, panel and bridge offer exactly these. Here, with
# the devices, so a command's --help imports neither torch nor onnxruntime.
BACKENDS = ("torch", "onnx")
ONNX_PRECISIONS = ("fp32", "int8")


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


def pick_dtype(name: str, device: str, backend: str = "torch"):
    """The torch dtype for ``name`` (one of :data:`DTYPES`, or ``auto``).

    The CPU runs float32, or bfloat16 where it has native bfloat16 dot products (the
    torch network only: about 0.6× of a float32 live step there, see ``Engine``).
    ``auto`` (live's default) picks that bfloat16 when the CPU has it and float32
    everywhere else — GPUs included, where reduced precision stays a user's choice.
    """
    import torch

    if name == "auto":
        fast = device == "cpu" and backend == "torch" and cpu_has_native_bfloat16()
        return torch.bfloat16 if fast else torch.float32
    if name not in DTYPES:
        raise DeviceError(f"precision must be one of {', '.join(DTYPES)}, not {name!r}")
    if name == "float16" and device == "cpu":
        raise DeviceError("float16 runs on a GPU only; use float32 or bfloat16 on the CPU")
    if name == "bfloat16" and device == "cpu" and not cpu_has_native_bfloat16():
        raise DeviceError(
            "bfloat16 on the CPU needs native bfloat16 arithmetic (avx512_bf16 or AMX), "
            "which this CPU lacks; use float32"
        )
    return getattr(torch, name)


def cpu_has_native_bfloat16() -> bool:
    """Whether the CPU has bfloat16 dot-product instructions (x86 avx512_bf16 or AMX).

    Read from Linux's /proc/cpuinfo; elsewhere False (bfloat16 without them is emulated
    and slower than float32)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            for line in info:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def cpu_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def set_cpu_threads(threads: int = 0) -> int:
    """Set how many threads torch's CPU kernels use in this process and return it.

    ``0`` means every core this process may use. Leaving one core free for a GUI thread was
    measured and did not help: on a 2-core machine the panel's longest GUI stalls while
    tracking were no shorter with 1 torch thread than with 2 (23–32 vs 19–24 ms, p99 12–13
    vs 11–12 ms) and tracking was ~8 % slower (3 interleaved runs each, load average ~3);
    the stalls come from GIL hand-overs and other processes, not from a missing core.
    Process-wide (torch's intra-op pool); call it from the thread that runs the network.
    """
    import torch

    if threads < 0:
        raise DeviceError(f"CPU threads must be 0 (all cores) or more, not {threads}")
    n = threads or cpu_cores()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n
