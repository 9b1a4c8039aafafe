"""Each live effect checked pixel by pixel on a synthetic frame with a known matte."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from etam_plugin.errors import EffectError
from etam_plugin.obs_bridge.effects import (
    BlurBackground,
    Highlight,
    Privacy,
    RemoveBackground,
    ReplaceBackground,
    parse_colour,
    parse_effect,
)

H, W = 240, 320


@pytest.fixture
def scene() -> tuple[np.ndarray, np.ndarray]:
    """A textured frame with a saturated disc, and the disc's hard matte."""
    rng = np.random.default_rng(1)
    frame = np.repeat(rng.integers(60, 200, (H, W, 1), np.uint8), 3, axis=2)
    yy, xx = np.mgrid[:H, :W]
    disc = (xx - 160) ** 2 + (yy - 120) ** 2 <= 50**2
    frame[disc] = (200, 40, 40)
    return frame, disc.astype(np.float32)


def ring(matte: np.ndarray, inner: int, outer: int) -> np.ndarray:
    def grow(px: int) -> np.ndarray:
        if px == 0:
            return matte > 0.5
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))
        return cv2.dilate((matte > 0.5).astype(np.uint8), k).astype(bool)

    return grow(outer) & ~grow(inner)


def test_remove_keeps_pixels_and_puts_the_matte_in_alpha(scene) -> None:
    frame, matte = scene
    matte[0, 0] = 0.5
    out = RemoveBackground().apply(frame, matte)
    assert out.shape == (H, W, 4) and out.dtype == np.uint8
    assert np.array_equal(out[..., :3], frame)  # straight alpha: colours untouched
    assert np.array_equal(out[..., 3][matte == 1], np.full(int((matte == 1).sum()), 255))
    assert out[..., 3][matte == 0].max() == 0
    assert out[0, 0, 3] in (127, 128)


def test_blur_blurs_only_the_background_without_a_halo(scene) -> None:
    frame, matte = scene
    out = BlurBackground(sigma=12).apply(frame, matte)
    assert (out[..., 3] == 255).all()
    inside = matte > 0.5
    assert np.array_equal(out[..., :3][inside], frame[inside])
    far = ~ring(matte, 0, 30) & ~(matte > 0.5)
    assert out[..., :3][far].std() < 0.5 * frame[far].std()  # texture smoothed away
    # the red subject must not bleed into the blurred background next to it
    halo = ring(matte, 2, 12)
    redness = out[..., 0][halo].astype(int) - out[..., 1][halo]
    assert np.abs(redness).mean() < 8


def test_replace_with_a_colour_and_with_an_image(tmp_path: Path, scene) -> None:
    frame, matte = scene
    out = parse_effect("replace:#102030").apply(frame, matte)
    assert (out[..., :3][matte == 0] == (16, 32, 48)).all()
    assert np.array_equal(out[..., :3][matte == 1], frame[matte == 1])
    # an image of another aspect is scaled to cover and centre-cropped
    bg = np.zeros((100, 400, 3), np.uint8)
    bg[:, :200] = (255, 0, 0)
    bg[:, 200:] = (0, 0, 255)
    path = tmp_path / "bg.png"
    cv2.imwrite(str(path), cv2.cvtColor(bg, cv2.COLOR_RGB2BGR))
    effect = parse_effect(f"replace:{path}")
    assert isinstance(effect, ReplaceBackground)
    out = effect.apply(frame, matte)
    assert tuple(out[5, 5, :3]) == (255, 0, 0) and tuple(out[5, W - 5, :3]) == (0, 0, 255)
    assert effect.background(H, W).shape == (H, W, 3)


def test_highlight_dims_desaturates_and_outlines(scene) -> None:
    frame, matte = scene
    effect = Highlight(dim=0.5, desaturate=1.0, outline=(255, 255, 0), outline_px=4)
    out = effect.apply(frame, matte)
    inside = matte > 0.5
    assert np.array_equal(out[..., :3][inside], frame[inside])
    far = ~ring(matte, 0, 8) & ~inside
    expected = np.round(frame[far].astype(np.float32) * 0.5)
    assert np.abs(out[..., :3][far].astype(int) - expected).max() <= 1
    edge = ring(matte, 1, 3)
    assert (out[..., :3][edge] == (255, 255, 0)).all(axis=1).mean() > 0.9
    assert (out[..., :3][ring(matte, 6, 40)] == (255, 255, 0)).all(axis=1).sum() == 0


def test_highlight_desaturates_colour_in_the_background() -> None:
    frame = np.zeros((60, 80, 3), np.uint8)
    frame[:] = (0, 200, 0)
    out = Highlight(dim=1.0, desaturate=1.0, outline=None).apply(
        frame, np.zeros((60, 80), np.float32)
    )
    r, g, b = out[30, 40, :3].astype(int)
    assert abs(r - g) <= 1 and abs(g - b) <= 1


def test_spotlight_is_brighter_near_the_object(scene) -> None:
    frame, matte = scene
    flat = np.full_like(frame, 200)
    out = Highlight(dim=0.2, desaturate=0, outline=None, spotlight=True).apply(flat, matte)
    near, far = out[120, 160 + 60, 0], out[5, 5, 0]
    assert near > far + 60
    assert far >= int(0.2 * 200) - 2


def test_glow_fades_with_distance(scene) -> None:
    frame, matte = scene
    black = np.zeros_like(frame)
    out = Highlight(dim=1.0, desaturate=0, outline=(255, 255, 255), outline_px=0,
                    glow_px=16).apply(black, matte)  # fmt: skip
    assert out[120, 160 + 53, 0] > out[120, 160 + 65, 0] > out[120, 160 + 100, 0]


@pytest.mark.parametrize("mode", ["pixelate", "blur"])
def test_privacy_hides_the_object_and_keeps_the_rest(scene, mode: str) -> None:
    frame, _ = scene
    rng = np.random.default_rng(3)
    frame = frame.copy()
    yy, xx = np.mgrid[:H, :W]
    doc = (abs(xx - 160) < 60) & (abs(yy - 120) < 40)
    frame[doc] = rng.integers(0, 255, (int(doc.sum()), 3), np.uint8)  # "text"
    effect = parse_effect(f"privacy:{mode}")
    assert isinstance(effect, Privacy) and effect.passthrough_level == 0.0
    out = effect.apply(frame, doc.astype(np.float32))
    assert np.array_equal(out[..., :3][~doc], frame[~doc])
    inner = (abs(xx - 160) < 40) & (abs(yy - 120) < 20)
    assert out[..., :3][inner].std(axis=0).mean() < 0.3 * frame[inner].std(axis=0).mean()
    if mode == "pixelate":  # constant over ~24 px blocks: few changes along a row
        row = out[120, 120:200, 0].astype(int)
        assert np.count_nonzero(np.diff(row)) <= 80 // 24 + 1


def test_effect_specs_and_errors(tmp_path: Path) -> None:
    assert parse_effect("remove").name == "remove"
    assert parse_effect("blur:8").sigma == 8
    assert parse_effect("highlight:spotlight").spotlight
    assert parse_effect("HIGHLIGHT").name == "highlight"
    assert parse_colour("0,177,64") == (0, 177, 64) and parse_colour("#ff0000") == (255, 0, 0)
    for bad, msg in [
        ("sparkle", "unknown effect"),
        ("blur:lots", "number"),
        ("replace", "needs an image path or a colour"),
        (f"replace:{tmp_path / 'missing.png'}", "no such image file"),
        ("highlight:neon", "highlight style"),
        ("privacy:smudge", "pixelate"),
        ("remove:x", "no argument"),
    ]:
        with pytest.raises(EffectError, match=msg):
            parse_effect(bad)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    with pytest.raises(EffectError, match="cannot read background image"):
        parse_effect(f"replace:{broken}")


def test_mismatched_inputs_are_refused(scene) -> None:
    frame, matte = scene
    with pytest.raises(EffectError, match="does not match"):
        RemoveBackground().apply(frame, matte[:-1])
    with pytest.raises(EffectError, match="uint8"):
        RemoveBackground().apply(frame.astype(np.float32), matte)


def test_object_effects_draw_on_top_of_the_scene_and_keep_the_object(scene) -> None:
    """An object's own effect: pixelate/blur hide it, outline rings it; under ``remove``
    the object shows (alpha raised to its matte) while the rest stays as the scene made it."""
    from etam_plugin.obs_bridge.effects import ObjectEffect, parse_object_effect

    _, matte = scene
    frame = np.random.default_rng(2).integers(0, 256, (H, W, 3), np.uint8)  # all detail
    inside, outside = ring(matte, 0, 0) & (matte > 0.5), ring(matte, 30, 60)
    core = cv2.erode((matte > 0.5).astype(np.uint8), np.ones((25, 25), np.uint8)).astype(bool)
    for kind in ("pixelate", "blur"):
        out = RemoveBackground().apply(frame, np.zeros_like(matte))  # scene: all removed
        before = out.copy()
        ObjectEffect(kind).apply_into(out, frame, matte)
        assert (out[..., 3][inside] == 255).all()  # the object is in the picture
        assert np.array_equal(out[outside], before[outside])  # the rest as the scene made it
        assert out[core][:, :3].std() < 0.3 * frame[core].std()  # its detail is gone
    out = BlurBackground(sigma=12).apply(frame, matte)
    before = out.copy()
    ObjectEffect("outline", colour=(0, 255, 0), outline_px=4).apply_into(out, frame, matte)
    band = ring(matte, 1, 3)
    assert (out[band][:, 1] > 200).mean() > 0.9 and (out[band][:, 0] < 60).mean() > 0.9
    assert np.array_equal(out[core], before[core])  # the object itself untouched
    assert np.array_equal(out[outside], before[outside])
    assert parse_object_effect("scene") is None and parse_object_effect("") is None
    assert parse_object_effect("outline:#ff0000") == ObjectEffect("outline", colour=(255, 0, 0))
    with pytest.raises(EffectError, match="unknown object effect 'remove'"):
        parse_object_effect("remove")
    with pytest.raises(EffectError, match="takes no argument"):
        parse_object_effect("pixelate:3")
