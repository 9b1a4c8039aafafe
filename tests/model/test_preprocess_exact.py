"""The GPU resize reproduces Pillow's antialiased bicubic resize bit for bit (run here on
the CPU through the same torch code), so GPU and CPU sessions see identical network input."""

from __future__ import annotations

import av
import numpy as np
import pytest
import torch

from etam_plugin.model import preprocess
from etam_plugin.model.preprocess import resize_square, resize_square_exact, to_model_input

SHAPES = [
    (360, 640),  # wider than tall: columns shrink, rows grow
    (180, 320),  # both grow
    (1080, 1920),  # both shrink
    (541, 961),
    (513, 511),  # rows shrink, columns grow: Pillow resizes the rows first
    (2000, 500),
    (400, 600),
    (1001, 1000),
    (512, 512),  # no resize at all
    (512, 300),  # one axis only
    (16, 9),
]


def _exact(image: np.ndarray, size: int) -> np.ndarray:
    chw = torch.from_numpy(image).permute(2, 0, 1)
    out = resize_square_exact(chw, size).permute(1, 2, 0).numpy()
    assert np.array_equal(out, np.round(out)) and out.min() >= 0 and out.max() <= 255
    return out.astype(np.uint8)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[1]}x{s[0]}")
@pytest.mark.parametrize("size", [512, 1024])
def test_matches_pillow_on_noise(shape, size) -> None:
    """Noise with hard edges and flat runs: the worst case for rounding and clipping."""
    rng = np.random.default_rng(sum(shape) + size)
    image = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    image[: shape[0] // 3] = np.where(image[: shape[0] // 3] > 127, 255, 0)
    assert np.array_equal(_exact(image, size), resize_square(image, size))


def test_matches_pillow_on_footage(media_dir) -> None:
    with av.open(str(media_dir / "juggle.mp4")) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert np.array_equal(_exact(frame, 512), resize_square(frame, 512))
    small = np.ascontiguousarray(frame[::3, ::2])
    assert np.array_equal(_exact(small, 1024), resize_square(small, 1024))


@pytest.fixture
def fresh_order_cache():
    preprocess._pillow_order.cache_clear()
    yield
    preprocess._pillow_order.cache_clear()


def test_follows_the_pass_order_of_the_installed_pillow(monkeypatch, fresh_order_cache) -> None:
    """Pillow versions order the two passes differently when rows shrink while columns
    grow: the order is measured against the installed Pillow. Here a stand-in Pillow that
    always resizes columns first (as older versions do)."""
    image = np.random.default_rng(3).integers(0, 256, (700, 300, 3), dtype=np.uint8)
    chw = torch.from_numpy(image).permute(2, 0, 1).to(torch.float64)
    columns_first = preprocess._two_passes(chw, 512, rows_first=False)
    rows_first = preprocess._two_passes(chw, 512, rows_first=True)
    assert not torch.equal(columns_first, rows_first)  # the order matters for this shape

    def older_pillow(frame: np.ndarray, size: int) -> np.ndarray:
        x = torch.from_numpy(frame).permute(2, 0, 1).to(torch.float64)
        out = preprocess._two_passes(x, size, rows_first=False)
        return out.permute(1, 2, 0).numpy().astype(np.uint8)

    monkeypatch.setattr(preprocess, "resize_square", older_pillow)
    assert torch.equal(
        resize_square_exact(torch.from_numpy(image).permute(2, 0, 1), 512), columns_first
    )


def test_falls_back_to_pillow_when_no_order_matches(monkeypatch, fresh_order_cache) -> None:
    image = np.random.default_rng(4).integers(0, 256, (300, 700, 3), dtype=np.uint8)

    def other_resizer(frame: np.ndarray, size: int) -> np.ndarray:
        return np.full((size, size, 3), int(frame[0, 0, 0]), np.uint8)

    monkeypatch.setattr(preprocess, "resize_square", other_resizer)
    out = resize_square_exact(torch.from_numpy(image).permute(2, 0, 1), 512)
    assert torch.equal(out, torch.full((3, 512, 512), float(image[0, 0, 0]), dtype=torch.float64))


def test_rejects_what_pillow_path_rejects() -> None:
    with pytest.raises(ValueError, match="RGB uint8"):
        to_model_input(np.zeros((10, 10), np.uint8), 512, "cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_model_input_equals_cpu_model_input(media_dir) -> None:
    with av.open(str(media_dir / "juggle.mp4")) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
    for image in (frame, np.ascontiguousarray(frame[:, :400])):
        gpu = to_model_input(image, 512, "cuda").cpu()
        cpu = to_model_input(image, 512, "cpu")
        assert torch.equal(gpu, cpu)
