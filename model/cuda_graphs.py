"""CUDA graphs for the network's stages: replay a frame's hundreds of kernels in one launch.

Why: on a GPU the small EfficientTAM stages are bound by Python and kernel launches, not by
arithmetic (a ViT-Tiny block at 1,024 tokens is a few microseconds of GPU work per kernel,
and a frame runs several hundred kernels). A CUDA graph records a stage's kernels once and
replays them with one call.

:class:`GraphedStages` wraps an :class:`EfficientTAM` and implements the same stage methods
(the :class:`~etam_plugin.model.engine.StageNetwork` protocol), so :class:`Engine` runs
the same tracking logic on it. Each stage call is keyed by its input *layout*: tensor
shapes, dtypes and devices, and every non-tensor argument (memory ages, flags, the
attention mode) and the autocast state. A layout seen for the first time runs eagerly; when
it comes back it is captured, and later calls copy their inputs into the graph's static
buffers, replay, and return copies of the outputs (callers keep features and memories for
many frames). Tracking settles into one layout per stage after ``num_maskmem`` frames
(memory count, pointer count and ages stop changing), so a live stream replays the same
handful of graphs; the frames before that, and layouts met once, run eagerly.

Measured on an H200 (mobile, bfloat16, one object, 640×360): a tracking step took 10.5 ms
with graphs against 29.9 ms eagerly, and 5.5–5.7 ms once preprocessing also moved to the
GPU (:mod:`preprocess`); logits equal bit for bit (tests/model/test_cuda_graphs.py).

Outputs equal the eager ones: a graph runs the same kernels on the same inputs. Autocast
inside a capture runs with its weight cache off (cached casts made outside a capture would
be freed while the graph still points at them).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from etam_plugin.model.config import EfficientTAMConfig
from etam_plugin.model.efficienttam import EfficientTAM, MaskPrediction
from etam_plugin.model.memory_attention import MemoryInput, PreparedMemory

log = logging.getLogger(__name__)

CAPTURE_AFTER = 2
"""A layout is captured on its second call: the first runs eagerly (it also initialises
cuBLAS/cuDNN state and the network's own per-grid caches outside any capture)."""
MAX_GRAPHS = 32
"""Captured graphs kept (least recently used dropped): each holds its own memory pool."""


def cuda_graphs_available(device: torch.device | str) -> bool:
    """CUDA graphs need a CUDA device; elsewhere stages simply run eagerly."""
    return torch.device(device).type == "cuda" and torch.cuda.is_available()


# -- argument layouts ------------------------------------------------------------------


def _layout(obj: Any, tensors: list[Tensor]) -> Any:
    """A hashable description of ``obj`` with its tensors collected (in order) into
    ``tensors``; raises TypeError for values a graph cannot key on."""
    if isinstance(obj, Tensor):
        tensors.append(obj)
        return ("T", tuple(obj.shape), obj.dtype, obj.device, obj.stride())
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (tuple, list)):
        return (type(obj).__name__, tuple(_layout(x, tensors) for x in obj))
    if isinstance(obj, dict):
        return ("dict", tuple((k, _layout(v, tensors)) for k, v in sorted(obj.items())))
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = dataclasses.fields(obj)
        return (type(obj).__name__, tuple(_layout(getattr(obj, f.name), tensors) for f in fields))
    raise TypeError(f"cannot key a CUDA graph on a {type(obj).__name__}")


def _rebuild(obj: Any, tensors: Iterator[Tensor]) -> Any:
    """``obj`` with each tensor replaced by the next of ``tensors`` (same order as
    :func:`_layout`)."""
    if isinstance(obj, Tensor):
        return next(tensors)
    if isinstance(obj, (tuple, list)):
        return type(obj)(_rebuild(x, tensors) for x in obj)
    if isinstance(obj, dict):
        return {k: _rebuild(obj[k], tensors) for k in sorted(obj)}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        values = {f.name: _rebuild(getattr(obj, f.name), tensors) for f in dataclasses.fields(obj)}
        return type(obj)(**values)
    return obj


def _tensors_of(obj: Any) -> list[Tensor]:
    found: list[Tensor] = []
    _layout(obj, found)
    return found


@dataclass
class _Graph:
    replay: Callable[[], None]  # holds the graph
    inputs: list[Tensor]  # static input buffers, in layout order
    output: Any  # the stage's output structure, holding the graph's static tensors
    outputs: list[Tensor]  # those tensors, in layout order


@dataclass
class GraphStats:
    """How a :class:`GraphedStages` ran: for benchmarks and logs."""

    eager: int = 0
    replays: int = 0
    captures: int = 0
    failed: int = 0


class GraphedStages:
    """An :class:`EfficientTAM` whose stage calls replay CUDA graphs once their layout
    repeats (see the module docstring). Weights must stay where they are (load new weights
    with ``load_state_dict``, which copies in place, or call :meth:`reset`)."""

    def __init__(
        self,
        model: EfficientTAM,
        *,
        capture_after: int = CAPTURE_AFTER,
        max_graphs: int = MAX_GRAPHS,
        capturer: CudaCapture | None = None,
    ) -> None:
        if capture_after < 1:
            raise ValueError(f"capture_after must be 1 or more, not {capture_after}")
        self.net = model
        self.capture_after = capture_after
        self.max_graphs = max_graphs
        self.capturer = capturer if capturer is not None else CudaCapture()
        self.stats = GraphStats()
        self._graphs: OrderedDict[Any, _Graph] = OrderedDict()
        self._seen: dict[Any, int] = {}
        self._uncapturable: set[Any] = set()

    # -- what Engine reads ---------------------------------------------------------------

    @property
    def config(self) -> EfficientTAMConfig:
        return self.net.config

    @property
    def device(self) -> torch.device:
        return self.net.device

    def to(self, device: torch.device | str) -> GraphedStages:
        self.reset()
        self.net.to(device)
        return self

    def reset(self) -> None:
        """Drops every graph (and its memory); later calls capture anew."""
        self._graphs.clear()
        self._seen.clear()
        self._uncapturable.clear()

    @property
    def graph_count(self) -> int:
        return len(self._graphs)

    # -- stages ----------------------------------------------------------------------------

    def encode_image(self, images_b3ss: Tensor) -> tuple[Tensor, Tensor]:
        return self._call("encode_image", self.net.encode_image, images_b3ss)

    def predict_masks(
        self,
        features: Tensor,
        points_xy: Tensor | None = None,
        labels: Tensor | None = None,
        mask_logits: Tensor | None = None,
        multimask: bool = False,
    ) -> MaskPrediction:
        return self._call(
            "predict_masks",
            self.net.predict_masks,
            features,
            points_xy,
            labels,
            mask_logits,
            multimask,
        )

    def mask_as_output(self, features: Tensor, mask_b1ss: Tensor) -> MaskPrediction:
        return self._call("mask_as_output", self.net.mask_as_output, features, mask_b1ss)

    def condition_on_memory(
        self, features: Tensor, pos: Tensor, memory: MemoryInput | None
    ) -> Tensor:
        return self._call(
            "condition_on_memory", self.net.condition_on_memory, features, pos, memory
        )

    def encode_memory(
        self, features: Tensor, masks_high_res: Tensor, *, from_points: bool
    ) -> Tensor:
        def run(f: Tensor, m: Tensor, points: bool) -> Tensor:
            return self.net.encode_memory(f, m, from_points=points)

        return self._call("encode_memory", run, features, masks_high_res, from_points)

    def prepare_memory(
        self, memory_bchw: Tensor, project_values: bool | None = None
    ) -> PreparedMemory:
        return self._call("prepare_memory", self.net.prepare_memory, memory_bchw, project_values)

    def upscale(self, low_res: Tensor) -> Tensor:
        return self._call("upscale", self.net.upscale, low_res)

    # -- graph machinery -----------------------------------------------------------------

    def _call(self, name: str, fn: Callable[..., Any], *args: Any) -> Any:
        tensors: list[Tensor] = []
        try:
            layout = _layout(args, tensors)
        except TypeError:
            return self._eager(fn, args)
        if not (tensors and torch.is_inference_mode_enabled() and self.capturer.accepts(tensors)):
            return self._eager(fn, args)
        key = (name, layout, self.net.config.memory_attention, _autocast_state())
        graph = self._graphs.get(key)
        if graph is None:
            if key in self._uncapturable:
                return self._eager(fn, args)
            seen = self._seen.get(key, 0) + 1
            if seen < self.capture_after:
                if len(self._seen) > 64 * self.max_graphs:
                    self._seen.clear()  # layouts met once (warm-up) must not pile up
                self._seen[key] = seen
                return self._eager(fn, args)
            self._seen.pop(key, None)
            graph = self._capture(key, fn, args, tensors)
            if graph is None:
                return self._eager(fn, args)
        else:
            self._graphs.move_to_end(key)
            # one multi-tensor copy: a memory-attention call has ~100 input tensors
            torch._foreach_copy_(graph.inputs, tensors)
        graph.replay()
        self.stats.replays += 1
        copies = [torch.empty_like(t) for t in graph.outputs]
        torch._foreach_copy_(copies, graph.outputs)
        return _rebuild(graph.output, iter(copies))

    def _eager(self, fn: Callable[..., Any], args: tuple) -> Any:
        self.stats.eager += 1
        return fn(*args)

    def _capture(self, key: Any, fn: Callable[..., Any], args: tuple, tensors: list[Tensor]):
        """Captures ``fn`` on static copies of ``args``; None (and eager from then on) if
        the stage cannot be captured."""
        statics = [t.clone() for t in tensors]
        try:
            replay, output = self.capturer.capture(fn, _rebuild(args, iter(statics)))
        except RuntimeError as exc:
            self._uncapturable.add(key)
            self.stats.failed += 1
            log.warning("CUDA graph capture of %s failed, running it eagerly: %s", key[0], exc)
            return None
        entry = _Graph(replay, statics, output, _tensors_of(output))
        self._graphs[key] = entry
        self.stats.captures += 1
        while len(self._graphs) > self.max_graphs:
            self._graphs.popitem(last=False)
        return entry


class CudaCapture:
    """Records a stage into a ``torch.cuda.CUDAGraph`` (each graph with its own memory)."""

    def accepts(self, tensors: list[Tensor]) -> bool:
        device = tensors[0].device
        return device.type == "cuda" and all(t.device == device for t in tensors)

    def capture(self, fn: Callable[..., Any], args: tuple) -> tuple[Callable[[], None], Any]:
        """Returns (replay, output): ``replay()`` recomputes ``output``'s tensors in place
        from the current contents of ``args``' tensors."""
        device = _tensors_of(args)[0].device
        graph = torch.cuda.CUDAGraph()
        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side), _capture_autocast():
            fn(*args)  # warm-up on a side stream, as capture requires
        torch.cuda.current_stream(device).wait_stream(side)
        # thread_local: CUDA calls that other threads make meanwhile (the bridge's effects,
        # a panel's workers) neither break this capture nor fail themselves
        with torch.cuda.graph(graph, capture_error_mode="thread_local"), _capture_autocast():
            output = fn(*args)
        return graph.replay, output


def _autocast_state() -> tuple[bool, torch.dtype | None]:
    if not torch.is_autocast_enabled("cuda"):
        return (False, None)
    return (True, torch.get_autocast_dtype("cuda"))


def _capture_autocast() -> contextlib.AbstractContextManager:
    """The caller's autocast, with the cast cache off (see the module docstring)."""
    enabled, dtype = _autocast_state()
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast("cuda", dtype=dtype, cache_enabled=False)
