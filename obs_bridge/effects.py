"""Live effects: a camera frame and an object matte in, an RGBA frame (straight alpha) out.

Every effect is whole-array OpenCV/numpy work (no per-pixel Python); blurs and other
wide-neighbourhood ops run on a downscaled copy, where they cost a sixteenth and look the
same once smoothed back up. ``etam-plugin bench effects`` measures each one per 1080p frame.

Conventions: ``frame`` uint8 RGB (H, W, 3); ``matte`` float32 (H, W) in [0, 1], 1 = the
selected object(s); output uint8 RGBA (H, W, 4) with straight (not premultiplied) alpha.
Effects are registered by name so a spec string (``"replace:bg.png"``) picks one; a new effect
is a new class plus one registry line, not another branch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol

import cv2
import numpy as np

from etam_plugin.errors import EffectError

RGB = tuple[int, int, int]


class Effect(Protocol):
    """Turns a frame and a matte into the RGBA frame that goes to OBS.

    ``passthrough_level`` is the matte value at which the effect leaves the camera picture
    untouched (1 for background effects, 0 for privacy); the bridge fades a lost object's
    matte towards it, or away from it, depending on the configured fallback.
    """

    name: ClassVar[str]
    passthrough_level: ClassVar[float]

    def apply(self, frame: np.ndarray, matte: np.ndarray) -> np.ndarray: ...


# -- small vectorised helpers ---------------------------------------------------------------
def _check(frame: np.ndarray, matte: np.ndarray) -> None:
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise EffectError(f"frame must be uint8 (H, W, 3), got {frame.dtype} {frame.shape}")
    if matte.shape != frame.shape[:2]:
        raise EffectError(f"matte shape {matte.shape} does not match frame {frame.shape[:2]}")


def _as_weights(matte: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(matte, dtype=np.float32)


def blend(fg: np.ndarray, bg: np.ndarray, matte: np.ndarray) -> np.ndarray:
    """``fg·matte + bg·(1 − matte)`` per pixel on uint8 images (OpenCV's blendLinear)."""
    w = _as_weights(matte)
    return cv2.blendLinear(fg, bg, w, 1.0 - w)


Roi = tuple[slice, slice]


def support(matte: np.ndarray, margin: int = 0) -> Roi | None:
    """The bounding box of the matte's non-zero pixels grown by ``margin`` (None: empty).

    Effects do their per-pixel blending there only: a person or a document usually covers
    a fraction of the frame, and outside it the result is the background as is.
    """
    x, y, w, h = cv2.boundingRect(cv2.convertScaleAbs(_as_weights(matte), alpha=255.0))
    if w == 0 or h == 0:
        return None
    rows, cols = matte.shape
    return (
        slice(max(0, y - margin), min(rows, y + h + margin)),
        slice(max(0, x - margin), min(cols, x + w + margin)),
    )


def support_within(matte: np.ndarray, box: Roi | None, margin: int = 0) -> Roi | None:
    """:func:`support`, looking only inside ``box`` when the matte is known to be zero
    outside it (a warped object's box): no full-frame pass per object."""
    if box is None:
        return support(matte, margin)
    inner = support(matte[box])
    if inner is None:
        return None
    rows, cols = matte.shape
    y0, x0 = box[0].start or 0, box[1].start or 0
    return (
        slice(max(0, y0 + inner[0].start - margin), min(rows, y0 + inner[0].stop + margin)),
        slice(max(0, x0 + inner[1].start - margin), min(cols, x0 + inner[1].stop + margin)),
    )


def blend_into(out: np.ndarray, fg: np.ndarray, matte: np.ndarray, roi: Roi | None) -> np.ndarray:
    """``out`` (the background, modified in place) with ``fg`` blended in where the matte is."""
    if roi is not None:
        out[roi] = blend(fg[roi], out[roi], matte[roi])
    return out


def with_alpha(rgb: np.ndarray, alpha: np.ndarray | int) -> np.ndarray:
    """RGBA from RGB plus a float matte (scaled to 0–255) or a constant 0–255 alpha."""
    out = cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA)
    if isinstance(alpha, np.ndarray):
        out[..., 3] = cv2.convertScaleAbs(_as_weights(alpha), alpha=255.0)
    elif alpha != 255:
        out[..., 3] = alpha
    return out


def _small_size(shape: tuple[int, ...], scale: int) -> tuple[int, int]:
    h, w = shape[:2]
    return max(1, w // scale), max(1, h // scale)


def soft_blur(image: np.ndarray, sigma: float, *, scale: int = 4) -> np.ndarray:
    """A wide Gaussian blur done at 1/``scale`` size and scaled back up (same look, ~1/16 cost)."""
    h, w = image.shape[:2]
    small = cv2.resize(image, _small_size(image.shape, scale), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), max(sigma / scale, 0.5))
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def background_blur(
    frame: np.ndarray, matte: np.ndarray, sigma: float, scale: int | None = None
) -> np.ndarray:
    """Blur of the background only (normalised convolution): the subject's colours do not
    bleed into the blurred background around it, which a plain blur would show as a halo.

    Done at 1/``scale`` size (default: where sigma becomes ~3 px, at most 1/8): a blur that
    wide has no detail left that the smaller copy would lose.
    """
    h, w = frame.shape[:2]
    if scale is None:
        scale = int(min(8, max(1, sigma / 3), max(1, min(h, w) // 32)))
    size = _small_size(frame.shape, scale)
    f_small = cv2.resize(frame, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    bg_w = 1.0 - cv2.resize(_as_weights(matte), size, interpolation=cv2.INTER_AREA)
    s = max(sigma / scale, 0.5)
    num = cv2.GaussianBlur(f_small * bg_w[..., None], (0, 0), s)
    den = cv2.GaussianBlur(bg_w, (0, 0), s)
    blurred = num / np.maximum(den, 1e-3)[..., None]
    # Where the background is hidden everywhere nearby, fall back to the plain blur.
    plain = cv2.GaussianBlur(f_small, (0, 0), s)
    mix = np.clip(den * 8.0, 0.0, 1.0)[..., None]
    small = np.clip(blurred * mix + plain * (1.0 - mix), 0, 255).astype(np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def parse_colour(text: str) -> RGB:
    """``#rrggbb``, ``rrggbb``, ``r,g,b`` or a few names → an RGB tuple."""
    names = {
        "black": (0, 0, 0),
        "white": (255, 255, 255),
        "green": (0, 177, 64),
        "blue": (0, 71, 187),
        "red": (220, 30, 30),
        "yellow": (255, 200, 0),
        "grey": (128, 128, 128),
        "gray": (128, 128, 128),
    }
    t = text.strip().lower()
    if t in names:
        return names[t]
    try:
        if "," in t:
            parts = tuple(int(p) for p in t.split(","))
            if len(parts) == 3 and all(0 <= p <= 255 for p in parts):
                return parts  # type: ignore[return-value]
        else:
            h = t.removeprefix("#")
            if len(h) == 6:
                return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))
    except ValueError:
        pass
    raise EffectError(f"cannot read colour {text!r}: use #rrggbb, r,g,b or a name like 'green'")


# -- the effects ----------------------------------------------------------------------------
@dataclass
class RemoveBackground:
    """Real transparency: the object keeps its pixels, alpha is the matte."""

    name: ClassVar[str] = "remove"
    passthrough_level: ClassVar[float] = 1.0

    def apply(self, frame: np.ndarray, matte: np.ndarray) -> np.ndarray:
        _check(frame, matte)
        return with_alpha(frame, matte)


@dataclass
class BlurBackground:
    """Background blurred (like a shallow depth of field), object sharp; opaque output."""

    name: ClassVar[str] = "blur"
    passthrough_level: ClassVar[float] = 1.0
    sigma: float = 24.0

    def apply(self, frame: np.ndarray, matte: np.ndarray) -> np.ndarray:
        _check(frame, matte)
        out = background_blur(frame, matte, self.sigma)
        return with_alpha(blend_into(out, frame, matte, support(matte)), 255)


@dataclass
class ReplaceBackground:
    """Background replaced by an image (scaled to cover the frame) or a flat colour."""

    name: ClassVar[str] = "replace"
    passthrough_level: ClassVar[float] = 1.0
    image: np.ndarray | None = None
    colour: RGB = (0, 177, 64)
    _cache: dict[tuple[int, int], np.ndarray] = field(default_factory=dict, repr=False)

    @classmethod
    def from_path(cls, path: str | Path) -> ReplaceBackground:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise EffectError(f"cannot read background image {path} (missing or not an image)")
        return cls(image=cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))

    def background(self, height: int, width: int) -> np.ndarray:
        """The replacement at frame size, computed once per size (cover + centre crop)."""
        key = (height, width)
        if key not in self._cache:
            if self.image is None:
                bg = np.empty((height, width, 3), np.uint8)
                bg[:] = self.colour
            else:
                ih, iw = self.image.shape[:2]
                s = max(width / iw, height / ih)
                rw, rh = max(width, round(iw * s)), max(height, round(ih * s))
                scaled = cv2.resize(self.image, (rw, rh), interpolation=cv2.INTER_AREA)
                x0, y0 = (rw - width) // 2, (rh - height) // 2
                bg = np.ascontiguousarray(scaled[y0 : y0 + height, x0 : x0 + width])
            self._cache.clear()
            self._cache[key] = bg
        return self._cache[key]

    def apply(self, frame: np.ndarray, matte: np.ndarray) -> np.ndarray:
        _check(frame, matte)
        out = self.background(*frame.shape[:2]).copy()
        return with_alpha(blend_into(out, frame, matte, support(matte)), 255)


@dataclass
class Highlight:
    """Draw the eye to the object: dim and desaturate the rest, outline or glow around it,
    optionally a spotlight (brightness falling off with distance from the object)."""

    name: ClassVar[str] = "highlight"
    passthrough_level: ClassVar[float] = 1.0
    dim: float = 0.45
    desaturate: float = 0.7
    outline: RGB | None = (255, 200, 0)
    outline_px: int = 4
    glow_px: float = 0.0
    spotlight: bool = False

    def _background(self, frame: np.ndarray, matte: np.ndarray) -> np.ndarray:
        dim = 1.0 if self.spotlight else self.dim
        if self.desaturate > 0:
            grey = cv2.cvtColor(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
            d = self.desaturate
            bg = cv2.addWeighted(frame, dim * (1.0 - d), grey, dim * d, 0.0)
        else:
            bg = cv2.convertScaleAbs(frame, alpha=dim) if dim != 1.0 else frame.copy()
        if not self.spotlight:
            return bg
        return cv2.multiply(
            bg,
            cv2.cvtColor(self._spot(matte), cv2.COLOR_GRAY2RGB),
            scale=1.0 / 255.0,
            dtype=cv2.CV_8U,
        )

    def _spot(self, matte: np.ndarray) -> np.ndarray:
        """uint8 light level: 255 at the object, falling to ``dim`` a frame-width away."""
        h, w = matte.shape
        size = _small_size(matte.shape, 8)
        small = cv2.resize(_as_weights(matte), size, interpolation=cv2.INTER_AREA)
        core = (small > 0.5).astype(np.uint8)
        if not core.any():
            level = np.full(size[::-1], self.dim, np.float32)
        else:
            dist = cv2.distanceTransform(1 - core, cv2.DIST_L2, 3) * 8.0
            reach = 0.25 * max(h, w)
            level = self.dim + (1.0 - self.dim) * np.exp(-((dist / reach) ** 2))
        level = cv2.resize(level, (w, h), interpolation=cv2.INTER_LINEAR)
        return cv2.convertScaleAbs(level, alpha=255.0)

    def _ring(self, matte: np.ndarray) -> np.ndarray | None:
        """Float outline weight just outside the object's edge (and its glow)."""
        if self.outline is None or (self.outline_px <= 0 and self.glow_px <= 0):
            return None
        m8 = cv2.convertScaleAbs(_as_weights(matte), alpha=255.0)
        ring = None
        if self.outline_px > 0:
            k = 2 * self.outline_px + 1
            grown = cv2.dilate(m8, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
            ring = cv2.subtract(grown, m8)
        if self.glow_px > 0:
            glow = cv2.subtract(soft_blur(m8, self.glow_px), m8)
            glow = cv2.convertScaleAbs(glow, alpha=2.0)  # the glow fades from twice the edge
            ring = glow if ring is None else cv2.max(ring, glow)
        return ring.astype(np.float32) * np.float32(1.0 / 255.0)

    def apply(self, frame: np.ndarray, matte: np.ndarray) -> np.ndarray:
        _check(frame, matte)
        out = self._background(frame, matte)
        reach = self.outline_px + int(2 * self.glow_px) + 2
        roi = support(matte, reach if self.outline is not None else 0)
        blend_into(out, frame, matte, roi)
        ring = None if roi is None else self._ring(matte[roi])
        if ring is not None and roi is not None:
            colour = np.empty_like(out[roi])
            colour[:] = self.outline
            out[roi] = blend(colour, out[roi], ring)
        return with_alpha(out, 255)


@dataclass
class Privacy:
    """Hide the selected object itself (a document, a screen): pixelate or blur it."""

    name: ClassVar[str] = "privacy"
    passthrough_level: ClassVar[float] = 0.0
    mode: str = "pixelate"
    block_px: int = 24
    sigma: float = 24.0

    def __post_init__(self) -> None:
        if self.mode not in ("pixelate", "blur"):
            raise EffectError(f"privacy mode must be 'pixelate' or 'blur', got {self.mode!r}")
        if self.block_px < 2:
            raise EffectError(f"privacy block size must be >= 2 px, got {self.block_px}")

    def _hidden(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        if self.mode == "blur":
            return soft_blur(frame, self.sigma, scale=min(8, max(1, min(h, w) // 16)))
        small = cv2.resize(
            frame, _small_size(frame.shape, self.block_px), interpolation=cv2.INTER_AREA
        )
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)

    def region(self, matte: np.ndarray, box: Roi | None = None) -> Roi | None:
        """Where hiding the object changes pixels: its box (grown by the blur's reach), on
        the block grid for pixelate so the blocks stay put as the object moves. ``box``:
        where the matte can be non-zero, when known."""
        roi = support_within(matte, box, margin=int(self.sigma) if self.mode == "blur" else 0)
        if roi is None or self.mode != "pixelate":
            return roi
        b = self.block_px
        y0, x0 = roi[0].start // b * b, roi[1].start // b * b
        y1 = min(matte.shape[0], -(-roi[0].stop // b) * b)
        x1 = min(matte.shape[1], -(-roi[1].stop // b) * b)
        return (slice(y0, y1), slice(x0, x1))

    def apply(self, frame: np.ndarray, matte: np.ndarray) -> np.ndarray:
        _check(frame, matte)
        out = frame.copy()
        roi = self.region(matte)
        if roi is not None:
            out[roi] = blend(self._hidden(frame[roi]), frame[roi], matte[roi])
        return with_alpha(out, 255)


OBJECT_EFFECTS: tuple[str, ...] = ("pixelate", "blur", "outline")


@dataclass
class ObjectEffect:
    """One object's own effect, drawn on top of the scene effect's output inside that
    object's matte: ``pixelate`` or ``blur`` hides the object (a document, a screen),
    ``outline`` rings it in ``colour``. The object always shows (its alpha is raised to its
    matte): with ``remove`` a pixelated document stays in the picture. Background effects
    (remove, blur, replace, highlight's dimming) stay scene-wide: "the background" is
    everything no object covers. Work is confined to the object's box, so several objects
    cost what their areas cost, not a full frame each."""

    kind: str
    colour: RGB = (255, 200, 0)
    block_px: int = 24
    sigma: float = 24.0
    outline_px: int = 4

    def __post_init__(self) -> None:
        if self.kind not in OBJECT_EFFECTS:
            raise EffectError(
                f"unknown object effect {self.kind!r}; choose from {', '.join(OBJECT_EFFECTS)}"
            )

    @property
    def name(self) -> str:
        return self.kind

    @property
    def spec(self) -> str:
        """The spec that gives this effect back (``outline:#rrggbb`` with its colour)."""
        if self.kind == "outline" and self.colour != ObjectEffect.colour:
            return "outline:#{:02x}{:02x}{:02x}".format(*self.colour)
        return self.kind

    def apply_into(
        self, rgba: np.ndarray, frame: np.ndarray, matte: np.ndarray, box: Roi | None = None
    ) -> None:
        """Draw the effect into ``rgba`` (the scene effect's output, changed in place).
        ``box``: where the matte can be non-zero, when known (saves a full-frame pass)."""
        if self.kind == "outline":
            roi = support_within(matte, box, self.outline_px + 2)
            ring = (
                None
                if roi is None
                else Highlight(outline=self.colour, outline_px=self.outline_px)._ring(matte[roi])
            )
            if roi is None or ring is None:
                return
            colour = np.empty((*ring.shape, 3), np.uint8)
            colour[:] = self.colour
            weight = ring
        else:
            privacy = Privacy(mode=self.kind, block_px=self.block_px, sigma=self.sigma)
            roi = privacy.region(matte, box)
            if roi is None:
                return
            colour, weight = privacy._hidden(frame[roi]), _as_weights(matte[roi])
        region = rgba[roi]
        region[..., :3] = blend(colour, np.ascontiguousarray(region[..., :3]), weight)
        np.maximum(region[..., 3], cv2.convertScaleAbs(weight, alpha=255.0), out=region[..., 3])


def parse_object_effect(spec: str | None) -> ObjectEffect | None:
    """``pixelate``, ``blur``, ``outline[:COLOUR]``; ``scene`` (or empty) → None: the
    object follows the scene effect."""
    text = (spec or "").strip()
    name, _, arg = text.partition(":")
    name = name.lower()
    if name in ("", "scene"):
        return None
    if name == "outline" and arg:
        return ObjectEffect("outline", colour=parse_colour(arg))
    if arg:
        raise EffectError(f"object effect {name!r} takes no argument")
    return ObjectEffect(name)


# -- spec strings ---------------------------------------------------------------------------
def _remove(arg: str | None) -> Effect:
    if arg:
        raise EffectError("'remove' takes no argument")
    return RemoveBackground()


def _blur(arg: str | None) -> Effect:
    try:
        return BlurBackground(sigma=float(arg)) if arg else BlurBackground()
    except ValueError:
        raise EffectError(f"blur strength must be a number of pixels, got {arg!r}") from None


def _replace(arg: str | None) -> Effect:
    if not arg:
        raise EffectError(
            "'replace' needs an image path or a colour: replace:PATH or replace:#00b140"
        )
    if Path(arg).is_file():
        return ReplaceBackground.from_path(arg)
    try:
        return ReplaceBackground(colour=parse_colour(arg))
    except EffectError:
        raise EffectError(f"replace:{arg}: no such image file, and not a colour") from None


def _highlight(arg: str | None) -> Effect:
    styles: dict[str | None, Highlight] = {
        None: Highlight(),
        "outline": Highlight(dim=1.0, desaturate=0.0),
        "glow": Highlight(dim=0.6, desaturate=0.3, outline_px=0, glow_px=24.0),
        "dim": Highlight(outline=None),
        "desaturate": Highlight(dim=1.0, desaturate=1.0, outline=None),
        "spotlight": Highlight(dim=0.25, desaturate=0.0, outline=None, spotlight=True),
    }
    if arg not in styles:
        raise EffectError(
            f"highlight style {arg!r} unknown; use one of {', '.join(s for s in styles if s)}"
        )
    return styles[arg]


def _privacy(arg: str | None) -> Effect:
    return Privacy(mode=arg or "pixelate")


EFFECTS: dict[str, Callable[[str | None], Effect]] = {
    "remove": _remove,
    "blur": _blur,
    "replace": _replace,
    "highlight": _highlight,
    "privacy": _privacy,
}


def parse_effect(spec: str) -> Effect:
    """``remove``, ``blur[:SIGMA]``, ``replace:PATH|COLOUR``,
    ``highlight[:outline|glow|dim|desaturate|spotlight]``, ``privacy[:pixelate|blur]``."""
    name, _, arg = spec.strip().partition(":")
    factory = EFFECTS.get(name.lower())
    if factory is None:
        raise EffectError(f"unknown effect {name!r}; choose from {', '.join(EFFECTS)}")
    return factory(arg or None)
