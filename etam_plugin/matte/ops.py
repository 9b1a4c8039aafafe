"""All finishing knobs in one value, shared by the panel, the CLI and the OBS bridge.

``MatteOps.parse("feather=2,grow=1,smooth=3")`` reads the CLI / settings form;
``str(ops)`` writes it back. Per frame the order is fixed, from the model's output to the
final alpha: matte (hard threshold or soft sigmoid) → fill holes → drop islands → grow or
shrink → refine against the frame → feather → invert; temporal smoothing then runs over
the sequence (it commutes with invert, so the order of those two does not matter).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from etam_plugin.errors import MatteError
from etam_plugin.matte._arrays import as_matte
from etam_plugin.matte.levels import invert as invert_matte
from etam_plugin.matte.levels import soft_matte
from etam_plugin.matte.morphology import FEATHER_MODES, feather, grow_shrink
from etam_plugin.matte.refine import refine_edges
from etam_plugin.matte.regions import drop_islands, fill_holes
from etam_plugin.matte.temporal import TemporalSmoother, smooth_sequence

_TRUE = {"1", "true", "yes", "on", ""}
_FALSE = {"0", "false", "no", "off"}
MAX_RADIUS = 2048
"""Largest grow/feather/refine radius in px: wider than any frame side is meaningless, and
OpenCV's kernels fail far beyond it."""
MAX_SMOOTH = 1000
"""Largest temporal radius in frames (its window is held in memory)."""
_ALIASES = {"shrink": "grow", "fill": "fill_holes", "islands": "drop_islands"}


@dataclass(frozen=True)
class MatteOps:
    """Finishing settings; the defaults change nothing but the hard threshold.

    soft: 0 = hard matte (alpha 0/1 at ``threshold``); > 0 = soft matte
        ``sigmoid(logits / soft)`` (for matte input: keep it soft as given).
    threshold: the alpha level (0..1) of the hard matte (logits are cut at its logit).
    grow: px, > 0 grows, < 0 shrinks (``shrink=N`` in a spec means ``grow=-N``).
    feather: blur radius in px; feather_mode: outward | inward | centered.
    smooth: temporal radius in frames (offline: a (2r+1)-frame window; live: an EMA of
        strength r / (r + 1), see :meth:`smoother`).
    fill_holes: fill enclosed holes up to this many px; drop_islands: drop pieces under
        this many px.
    refine: guided-filter radius in px (0 = off; needs the frame); refine_eps: its eps.
    invert: output 1 - alpha.
    """

    soft: float = 0.0
    threshold: float = 0.5
    grow: float = 0.0
    feather: float = 0.0
    feather_mode: str = "centered"
    smooth: int = 0
    fill_holes: int = 0
    drop_islands: int = 0
    refine: float = 0.0
    refine_eps: float = 1e-3
    invert: bool = False

    def __post_init__(self) -> None:
        def bad(key: str, expected: str) -> MatteError:
            value = getattr(self, key)
            return MatteError(f"{key}={value!r}: expected {expected}", key=key, value=value)

        for key in ("soft", "threshold", "grow", "feather", "refine", "refine_eps"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise bad(key, "a number")
            if not math.isfinite(value):
                raise bad(key, "a finite number")
        for key in ("smooth", "fill_holes", "drop_islands"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise bad(key, "a whole number >= 0")
        if self.soft < 0:
            raise bad("soft", "a softness >= 0 (0 = hard matte)")
        if not 0.0 < self.threshold < 1.0:
            raise bad("threshold", "an alpha level between 0 and 1")
        for key in ("feather", "refine"):
            if not 0 <= getattr(self, key) <= MAX_RADIUS:
                raise bad(key, f"a radius of 0 to {MAX_RADIUS} px")
        if abs(self.grow) > MAX_RADIUS:
            raise bad("grow", f"-{MAX_RADIUS} to {MAX_RADIUS} px")
        if self.smooth > MAX_SMOOTH:
            raise bad("smooth", f"a radius of 0 to {MAX_SMOOTH} frames")
        if self.refine_eps <= 0:
            raise bad("refine_eps", "a number > 0")
        if self.feather_mode not in FEATHER_MODES:
            raise bad("feather_mode", " | ".join(FEATHER_MODES))
        if not isinstance(self.invert, (bool, np.bool_)):
            raise bad("invert", "true or false")

    # -- spec strings ---------------------------------------------------------------------

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def parse(cls, spec: str) -> MatteOps:
        """Read ``"key=value,key=value"`` (a bare key such as ``invert`` means true).

        Raises :class:`MatteError` naming the key for unknown keys (with a suggestion),
        repeated keys and values of the wrong kind.
        """
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, object] = {}
        for raw in spec.split(","):
            item = raw.strip()
            if not item:
                continue
            key, sep, text = item.partition("=")
            key, text = key.strip().lower().replace("-", "_"), text.strip()
            sign = -1.0 if key == "shrink" else 1.0
            key = _ALIASES.get(key, key)
            if key not in fields:
                close = difflib.get_close_matches(key, [*fields, *_ALIASES], n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise MatteError(
                    f"unknown matte option {key!r}{hint}; known: {', '.join(fields)}, shrink",
                    key=key,
                )
            if key in values:
                also = " (shrink=N means grow=-N)" if key == "grow" else ""
                raise MatteError(f"matte option {key!r} is given twice{also}", key=key, value=text)
            kind = type(getattr(cls(), key))
            if not sep and kind is not bool:
                raise MatteError(f"matte option {key!r} needs a value ({key}=...)", key=key)
            values[key] = _convert(key, text, kind, sign)
        return cls(**values)

    def __str__(self) -> str:
        """The spec of the settings that differ from the defaults (parse() reads it back)."""
        default = MatteOps()
        parts = []
        for key in self.keys():
            value = getattr(self, key)
            if value == getattr(default, key):
                continue
            if isinstance(value, (bool, np.bool_)):
                parts.append(key if value else f"{key}=false")
            else:
                parts.append(f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}")
        return ",".join(parts)

    # -- applying -----------------------------------------------------------------------

    def smoother(self) -> TemporalSmoother | None:
        """A live (causal) smoother matching ``smooth``, or None when smoothing is off."""
        if self.smooth == 0:
            return None
        return TemporalSmoother(self.smooth / (self.smooth + 1))

    def to_matte(self, values: np.ndarray, *, logits: bool = False) -> np.ndarray:
        """The first step alone: logits, a bool mask or a matte → float32 alpha."""
        if logits:
            if self.soft > 0:
                return soft_matte(values, softness=self.soft)
            level = math.log(self.threshold / (1.0 - self.threshold))
            arr = np.asarray(values)
            if arr.ndim != 2:
                raise MatteError(f"logits must be 2-D (H, W), got shape {arr.shape}")
            return (arr > level).astype(np.float32)
        m = as_matte(values)
        if self.soft == 0:
            m = (m > np.float32(self.threshold)).astype(np.float32)
        return m

    def apply(
        self, values: np.ndarray, *, guide: np.ndarray | None = None, logits: bool = False
    ) -> np.ndarray:
        """Every per-frame step (all but temporal smoothing) on one frame → float32 (H, W).

        ``values``: logits (``logits=True``), a bool mask or a float matte in [0, 1].
        ``guide``: the frame (uint8 RGB), needed when ``refine`` is on.
        """
        m = self.to_matte(values, logits=logits)
        if self.fill_holes:
            m = fill_holes(m, self.fill_holes)
        if self.drop_islands:
            m = drop_islands(m, self.drop_islands)
        if self.grow:
            m = grow_shrink(m, self.grow)
        if self.refine:
            if guide is None:
                raise MatteError("refine needs the frame: pass guide=", key="refine")
            m = refine_edges(m, guide, radius=self.refine, eps=self.refine_eps)
        if self.feather:
            m = feather(m, self.feather, mode=self.feather_mode)  # type: ignore[arg-type]
        if self.invert:
            m = invert_matte(m)
        return m

    def apply_sequence(
        self,
        frames: Iterable[np.ndarray],
        *,
        guides: Iterable[np.ndarray] | None = None,
        logits: bool = False,
    ) -> Iterator[np.ndarray]:
        """Everything, temporal smoothing included, over a sequence: one matte out per
        frame in, streamed (holds at most ``smooth + 1`` frames ahead)."""
        if self.refine and guides is None:
            raise MatteError("refine needs the frames: pass guides=", key="refine")
        if guides is None:
            per_frame = (self.apply(f, logits=logits) for f in frames)
        else:
            per_frame = (
                self.apply(f, guide=g, logits=logits) for f, g in zip(frames, guides, strict=True)
            )
        return smooth_sequence(per_frame, self.smooth)


def _convert(key: str, text: str, kind: type, sign: float) -> object:
    low = text.lower()
    if kind is bool:
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise MatteError(f"{key}={text!r}: expected true or false", key=key, value=text)
    if kind is str:
        return low
    try:
        number = float(text)
    except ValueError:
        raise MatteError(f"{key}={text!r}: expected a number", key=key, value=text) from None
    if kind is int:
        if not number.is_integer():
            raise MatteError(f"{key}={text!r}: expected a whole number", key=key, value=text)
        return int(number)
    return sign * number
