"""Options → tracking engine, written once for every command, the panel and the bridge.

:class:`EngineOptions` holds what a user may choose (backend, weights, attention, device,
precision, ONNX precision, CUDA graphs, CPU threads) and refuses, with a one-line reason,
any combination that cannot run — before anything loads. :func:`build_engine` turns it into
the :class:`~etam_plugin.model.Engine` that ``VideoSession``, ``LiveTracker`` and
``run_track`` take. :func:`add_engine_arguments` offers the options on a command line and
:func:`engine_options` reads them back.

Importing this module imports neither torch nor onnxruntime (a command's ``--help`` stays
light): the network and the ONNX backend are imported inside :func:`build_engine`, and
onnxruntime only for the ONNX backend.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from etam_plugin.devices import BACKENDS, DEVICES, DTYPE_CHOICES, ONNX_PRECISIONS
from etam_plugin.errors import DeviceError, EtamError, OnnxError


@dataclass(frozen=True)
class EngineOptions:
    """What runs the network. ``checkpoint``: a .pt file or a variant name for its official
    weights (None: ``variant``'s); with ``backend="onnx"`` an ``export-onnx`` folder, whose
    variant and attention mode are fixed by the export. ``cuda_graphs`` None: on where they
    apply (torch on CUDA); True asks for them and is refused where they cannot run.
    ``threads`` 0: every core (torch's CPU pool, or the ONNX Runtime session's)."""

    backend: str = "torch"
    checkpoint: str | Path | None = None
    variant: str | None = None
    attention: str | None = None
    pool_window: int | None = None
    device: str = "auto"
    dtype: str = "float32"
    onnx_precision: str = "fp32"
    cuda_graphs: bool | None = None
    threads: int = 0

    def __post_init__(self) -> None:
        reason = self.refusal()
        if reason is not None:
            cls, message = reason
            raise cls(message) if cls is not OnnxError else OnnxError(message, reason="options")

    def refusal(self) -> tuple[type[EtamError], str] | None:
        """Why these options cannot run (error class, one line), or None. Only what is known
        without looking at the machine; :func:`build_engine` checks the rest."""
        from etam_plugin.model import ATTENTION_MODES, POOL_WINDOWS, VARIANTS

        onnx = self.backend == "onnx"
        checks: list[tuple[bool, type[EtamError], str]] = [
            (
                self.backend not in BACKENDS,
                EtamError,
                f"backend must be one of {', '.join(BACKENDS)}, not {self.backend!r}",
            ),
            (
                self.device not in DEVICES,
                DeviceError,
                f"device must be one of {', '.join(DEVICES)}, not {self.device!r}",
            ),
            (
                self.dtype not in DTYPE_CHOICES,
                DeviceError,
                f"precision must be one of {', '.join(DTYPE_CHOICES)}, not {self.dtype!r}",
            ),
            (
                self.onnx_precision not in ONNX_PRECISIONS,
                EtamError,
                f"ONNX precision must be one of {', '.join(ONNX_PRECISIONS)}, "
                f"not {self.onnx_precision!r}",
            ),
            (
                isinstance(self.threads, bool) or not isinstance(self.threads, int),
                EtamError,
                f"CPU threads must be a whole number, not {self.threads!r}",
            ),
            (
                self.variant is not None and self.variant not in VARIANTS,
                EtamError,
                f"variant must be one of {', '.join(VARIANTS)}, not {self.variant!r}",
            ),
            (
                self.attention is not None and self.attention not in ATTENTION_MODES,
                EtamError,
                f"attention must be one of {', '.join(ATTENTION_MODES)}, not {self.attention!r}",
            ),
            (
                self.pool_window is not None and self.pool_window not in POOL_WINDOWS,
                EtamError,
                f"pool window must be one of {', '.join(map(str, POOL_WINDOWS))}, "
                f"not {self.pool_window!r}",
            ),
            (
                onnx and self.dtype not in ("float32", "auto"),
                OnnxError,
                f"the ONNX backend runs float32 graphs (or int8 with --onnx-precision int8), "
                f"not {self.dtype}",
            ),
            (
                onnx and bool(self.cuda_graphs),
                EtamError,
                "CUDA graphs replay the torch network; the ONNX backend cannot use them",
            ),
            (
                onnx and (self.attention or self.pool_window) is not None,
                EtamError,
                "an ONNX export fixes its attention; export again to change it",
            ),
            (
                onnx and self.checkpoint is None,
                OnnxError,
                "the ONNX backend needs an export folder (made by 'etam-plugin export-onnx')",
            ),
            (
                not onnx and self.onnx_precision != "fp32",
                EtamError,
                f"ONNX precision {self.onnx_precision} is for the ONNX backend "
                "(--backend onnx); the torch network's precision is its dtype",
            ),
            (
                not onnx and self.checkpoint is None and self.variant is None,
                EtamError,
                "no weights: give a checkpoint file or a variant name",
            ),
            (
                bool(self.cuda_graphs) and self.device in ("cpu", "mps"),
                DeviceError,
                f"CUDA graphs run on CUDA only, not on {self.device}",
            ),
            (
                self.dtype == "float16" and self.device == "cpu",
                DeviceError,
                "float16 runs on a GPU only; use float32 or bfloat16 on the CPU",
            ),
        ]
        if not isinstance(self.threads, bool) and isinstance(self.threads, int):
            checks.append(
                (
                    self.threads < 0,
                    EtamError,
                    f"CPU threads must be 0 (all cores) or more, not {self.threads}",
                )
            )
        return next(((cls, text) for bad, cls, text in checks if bad), None)


def build_engine(options: EngineOptions) -> Any:
    """The tracking engine for ``options``: weights loaded, on the device picked.

    Raises :class:`DeviceError` for a device or precision this machine lacks,
    :class:`WeightsUnavailableError`/:class:`CheckpointError` for weights that are not there,
    :class:`OnnxError` for an export that cannot be run."""
    from etam_plugin.devices import pick_device, pick_dtype, set_cpu_threads

    if options.backend == "onnx":
        # only here: importing onnxruntime costs time and leaves a file in the temp folder
        from etam_plugin.onnx_runtime.backend import make_engine

        assert options.checkpoint is not None  # refused in EngineOptions
        if options.variant is not None:  # the export's own variant, or a reason
            from etam_plugin.onnx_runtime.manifest import read_manifest

            made = read_manifest(options.checkpoint).variant
            if made != options.variant:
                raise OnnxError(
                    f"{options.checkpoint} is an export of {made}, not {options.variant}",
                    path=options.checkpoint,
                    reason="options",
                )
        # the execution providers choose where the graphs run; "auto" lets them
        device = None if options.device == "auto" else options.device
        return make_engine(
            "onnx",
            options.checkpoint,
            device=device,
            precision=options.onnx_precision,
            threads=options.threads or None,
        )
    from etam_plugin.model import VARIANTS, Engine, load_model
    from etam_plugin.weights import resolve_checkpoint

    set_cpu_threads(options.threads)
    device = pick_device(options.device)
    dtype = pick_dtype(options.dtype, device, options.backend)
    if options.cuda_graphs and device != "cuda":
        raise DeviceError(f"CUDA graphs run on CUDA only; the network runs on {device}")
    name = str(options.checkpoint if options.checkpoint is not None else options.variant)
    variant = options.variant
    if variant is None and name in VARIANTS:
        variant = name  # a preset is its own variant (and keeps its own attention mode)
    model = load_model(
        resolve_checkpoint(name, download=False),
        variant,
        attention=options.attention,
        pool_window=options.pool_window,
        device=device,
    )
    cuda_graphs = device == "cuda" if options.cuda_graphs is None else options.cuda_graphs
    return Engine(model, device, dtype, cuda_graphs=cuda_graphs)


def add_checkpoint_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    *,
    checkpoint_help: str = "checkpoint file or variant name",
    variant_help: str = "network of --checkpoint's file (default: told by the file)",
    **checkpoint: object,
) -> None:
    """``--checkpoint`` (a file, or a variant's official weights by name) and ``--variant``,
    the same in every command that loads weights; ``checkpoint``: add_argument's extra
    keywords for ``--checkpoint`` (``required``, ``default``)."""
    from etam_plugin.model import VARIANTS

    parser.add_argument("--checkpoint", help=checkpoint_help, **checkpoint)  # type: ignore[arg-type]
    parser.add_argument("--variant", choices=VARIANTS, help=variant_help)


def add_engine_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    *,
    pool_window: bool = False,
    threads: bool = False,
    dtype: str = "float32",
    **checkpoint: object,
) -> None:
    """Every option of :class:`EngineOptions` on a command line (read back with
    :func:`engine_options`); ``pool_window``/``threads`` add those two; ``dtype`` the
    default precision (``auto`` for live); ``checkpoint``: see :func:`add_checkpoint_arguments`."""
    from etam_plugin.model import ATTENTION_MODES, POOL_WINDOWS

    add_checkpoint_arguments(parser, **checkpoint)  # type: ignore[arg-type]
    parser.add_argument("--backend", choices=BACKENDS, default="torch", help="inference backend")
    parser.add_argument(
        "--onnx-precision",
        choices=ONNX_PRECISIONS,
        default="fp32",
        help="with --backend onnx: int8 runs the export's quantised graphs",
    )
    parser.add_argument("--attention", choices=ATTENTION_MODES, help="memory attention mode")
    if pool_window:
        parser.add_argument("--pool-window", type=int, choices=POOL_WINDOWS, default=None)
    parser.add_argument("--device", choices=DEVICES, default="auto")
    parser.add_argument(
        "--dtype",
        choices=DTYPE_CHOICES,
        default=dtype,
        help=f"precision (default {dtype}); auto: bfloat16 on a CPU with native bfloat16 "
        "arithmetic (avx512_bf16/AMX, about 0.6x a float32 step), float32 elsewhere",
    )
    parser.add_argument(
        "--cuda-graphs",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="replay CUDA graphs of the network's stages: same masks, 2-5x faster "
        "(default: on with the torch backend on CUDA)",
    )
    if threads:
        parser.add_argument(
            "--threads", type=int, default=0, metavar="N", help="CPU threads (0: every core)"
        )


def engine_options(args: argparse.Namespace) -> EngineOptions:
    """The :class:`EngineOptions` of arguments added by :func:`add_engine_arguments`."""
    return EngineOptions(
        backend=args.backend,
        checkpoint=args.checkpoint,
        variant=args.variant,
        attention=args.attention,
        pool_window=getattr(args, "pool_window", None),
        device=args.device,
        dtype=args.dtype,
        onnx_precision=args.onnx_precision,
        cuda_graphs=args.cuda_graphs,
        threads=getattr(args, "threads", 0),
    )
