"""bfloat16 on the CPU: which stages run it, that masks stay those of float32, who picks it.

The plan (``Engine`` docstring): image encoder and memory attention in bfloat16 weights and
tensors, the memory encoder under autocast, the decoder in float32. The speed is measured by
``etam-plugin bench live --dtype bfloat16`` (README), not here.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from etam_plugin import devices
from etam_plugin.errors import DeviceError
from etam_plugin.model import memory_attention
from etam_plugin.model.config import get_config, tiny_test_config
from etam_plugin.model.efficienttam import build_model
from etam_plugin.model.engine import Engine
from etam_plugin.model.layers import attention
from etam_plugin.model.live_tracker import LiveTracker
from etam_plugin.model.types import Prompt
from etam_plugin.model.video_session import VideoSession
from tests.reference import shaped_random_state_dict

native = pytest.mark.skipif(
    not devices.cpu_has_native_bfloat16(), reason="this CPU has no native bfloat16"
)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def _model(config, seed: int = 4):
    """Seeded random weights: the reference's shapes for a real variant, else torch's init."""
    if config.name == "tiny-test":
        torch.manual_seed(seed)
        return build_model(config)
    model = build_model(config)
    model.load_state_dict(shaped_random_state_dict(config.with_attention("full"), seed=seed))
    return model


@torch.inference_mode()
def test_bfloat16_attention_matches_the_fused_kernel() -> None:
    """The plain matrix-product form bfloat16 takes on the CPU computes the same softmax
    attention (bias included) as the fused float32 kernel, to bfloat16's precision."""
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 196, 64, generator=gen) for _ in range(3))
    bias = torch.zeros(1, 1, 1, 196)
    bias[..., :98] = 1.4
    want = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
    got = attention(q.bfloat16(), k.bfloat16(), v.bfloat16(), bias.bfloat16())
    assert got.dtype == torch.bfloat16
    assert torch.allclose(got.float(), want, atol=0.03, rtol=0.03)


@torch.inference_mode()
def test_the_cpu_plan_puts_each_stage_in_its_precision(monkeypatch) -> None:
    original = _model(tiny_test_config())
    engine = Engine(original, "cpu", torch.bfloat16)
    model = engine.model
    # the caller's network stays float32 (a float32 engine may share it)
    assert {p.dtype for p in original.parameters()} == {torch.float32}
    assert next(model.image_encoder.parameters()).dtype == torch.bfloat16
    assert next(model.memory_attention.parameters()).dtype == torch.bfloat16
    for float_stage in (model.sam_mask_decoder, model.sam_prompt_encoder, model.memory_encoder):
        assert next(float_stage.parameters()).dtype == torch.float32
    frame = np.random.default_rng(0).integers(0, 255, (48, 64, 3), np.uint8)
    feats, pos = engine.encode_frame(frame)
    assert feats.dtype == pos.dtype == torch.float32  # what sessions store is unchanged
    assert torch.allclose(Engine(original).encode_frame(frame)[0], feats, atol=0.1)
    memory = engine.encode_memory(feats, torch.randn(1, 1, 4 * 8, 4 * 8), False)
    prepared = engine.prepare(memory)
    assert prepared.keys[0].dtype == torch.bfloat16  # kept in bfloat16, not re-widened
    # Memory attention runs its own bfloat16 tensors, not autocast: the reused CPU
    # buffers (which autocast turns off) stay in use.
    used = []
    real = memory_attention._scratch
    monkeypatch.setattr(
        memory_attention, "_scratch", lambda *a, **k: used.append(a[1].dtype) or real(*a, **k)
    )
    from etam_plugin.model.memory_attention import MemoryInput

    prediction = engine.track(
        feats, pos, MemoryInput([(prepared, 0)], torch.randn(1, 1, model.config.hidden_dim))
    )
    assert used and set(used) == {torch.bfloat16}
    assert prediction.masks.dtype == torch.float32


@native
@pytest.mark.slow
@torch.inference_mode()
def test_live_bfloat16_masks_match_float32_on_real_footage(jpeg_clip) -> None:
    """The mobile network, random weights, a point and a box streamed over real footage
    (12 frames: past a full memory window): each frame's mask in bfloat16 overlaps the
    float32 one by IoU ≥ 0.99."""
    _, frames = jpeg_clip
    config = get_config("mobile")
    prompts = {
        1: Prompt(points_xy=((160.0, 90.0), (120.0, 40.0)), labels=(1, 0)),
        2: Prompt(box_xyxy=(20.0, 100.0, 110.0, 178.0)),
    }
    trackers = [LiveTracker(_model(config), dtype=d) for d in (torch.float32, torch.bfloat16)]
    for tracker in trackers:
        tracker.step(frames[0])
        for obj_id, prompt in prompts.items():
            tracker.select(obj_id, prompt)
    worst = 1.0
    for f in range(1, 13):
        full, half = (t.step(frames[f]) for t in trackers)
        for obj_id in prompts:
            worst = min(worst, _iou(full.objects[obj_id].mask, half.objects[obj_id].mask))
    assert worst >= 0.99, f"worst per-frame IoU {worst:.4f}"
    inside = float(full.objects[1].mask.mean())
    assert 0.005 < inside < 0.995  # not a trivially empty or full mask


@torch.inference_mode()
def test_a_video_session_tracks_in_bfloat16_on_the_cpu(jpeg_clip) -> None:
    """The panel and ``track`` may pick bfloat16 too: a session prompts, tracks and
    corrects with the bfloat16 stages (masks near the float32 ones)."""
    _, frames = jpeg_clip
    results = []
    for dtype in (torch.float32, torch.bfloat16):
        session = VideoSession(_model(tiny_test_config(), seed=2), frames[:6], dtype=dtype)
        session.add_object(1)
        session.add_prompt(0, 1, Prompt(points_xy=((160.0, 90.0),), labels=(1,)))
        tracked = {r.frame_index: r.objects[1].mask for r, _ in session.propagate()}
        session.add_prompt(3, 1, Prompt(points_xy=((60.0, 60.0),), labels=(0,)))
        results.append(tracked)
    assert sorted(results[1]) == list(range(6))
    for f in range(6):
        assert _iou(results[0][f], results[1][f]) >= 0.95


def test_who_picks_bfloat16(monkeypatch) -> None:
    monkeypatch.setattr(devices, "cpu_has_native_bfloat16", lambda: True)
    assert devices.pick_dtype("auto", "cpu") == torch.bfloat16
    assert devices.pick_dtype("auto", "cpu", "onnx") == torch.float32  # ONNX runs float32
    assert devices.pick_dtype("auto", "cuda") == torch.float32  # a GPU's choice stays the user's
    assert devices.pick_dtype("bfloat16", "cpu") == torch.bfloat16
    assert devices.pick_dtype("float32", "cpu") == torch.float32
    with pytest.raises(DeviceError, match="GPU only"):
        devices.pick_dtype("float16", "cpu")
    monkeypatch.setattr(devices, "cpu_has_native_bfloat16", lambda: False)
    assert devices.pick_dtype("auto", "cpu") == torch.float32
    with pytest.raises(DeviceError, match="avx512_bf16"):
        devices.pick_dtype("bfloat16", "cpu")


def test_live_runs_bfloat16_by_default_where_the_cpu_has_it(monkeypatch, tmp_path) -> None:
    """``live`` without --dtype takes the fast plan; ``--dtype float32`` forces float32."""
    from etam_plugin.model import save_checkpoint
    from etam_plugin.obs_bridge.tracker_factory import build_live_tracker

    path = tmp_path / "efficienttam_ti_512x512.pt"
    save_checkpoint(shaped_random_state_dict(get_config("ti_512x512"), seed=1), path)
    monkeypatch.setattr(devices, "cpu_has_native_bfloat16", lambda: True)
    auto = build_live_tracker(path, device="cpu")
    assert next(auto.engine.model.image_encoder.parameters()).dtype == torch.bfloat16
    forced = build_live_tracker(path, device="cpu", dtype="float32")
    assert next(forced.engine.model.image_encoder.parameters()).dtype == torch.float32
    monkeypatch.setattr(devices, "cpu_has_native_bfloat16", lambda: False)
    assert build_live_tracker(path, device="cpu").engine.dtype == torch.float32
    with pytest.raises(DeviceError, match="avx512_bf16"):
        build_live_tracker(path, device="cpu", dtype="bfloat16")


@native
@pytest.mark.slow
def test_bench_live_runs_bfloat16_on_the_cpu(tmp_path, media_dir) -> None:
    """``bench live --dtype bfloat16`` on the CPU (it was refused as GPU-only) reports the
    step, the click on cached features and a second object's click."""
    import json

    from etam_plugin.cli import main

    out = tmp_path / "live.json"
    args = ["bench", "live", "--frames", "2", "--warmup", "1", "--dtype", "bfloat16"]
    args += ["--clip", str(media_dir / "juggle.mp4")]
    args += ["--state-frames", "3", "--state-network", "tiny", "--json", str(out)]
    assert main(args) == 0
    report = json.loads(out.read_text())
    assert report["dtype"] == "bfloat16" and report["device"] == "cpu"
    assert report["second_click_ms"] > 0 and report["ours"]["median_ms"] > 0
