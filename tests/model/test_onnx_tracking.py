"""The ONNX backend tracks like the torch backend: same sessions, same logic, same masks.

Real footage (the ``jpeg_clip`` fixture: 24 frames of juggle.mp4), two objects, the mobile
export made by the CLI in ``test_onnx_export`` (shaped random weights: objects present).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from etam_plugin.errors import OnnxError
from etam_plugin.model import LiveTracker, Prompt, VideoSession, tiny_test_config
from etam_plugin.model.efficienttam import build_model
from etam_plugin.onnx_runtime import OnnxStages, describe_engine, make_engine
from etam_plugin.onnx_runtime.verify import int8_agreement
from tests.model.conftest import NUM_FRAMES
from tests.model.test_onnx_export import mobile_export, mobile_network

PROMPTS = {
    1: Prompt(points_xy=((160.0, 90.0), (120.0, 40.0)), labels=(1, 0)),
    2: Prompt(box_xyxy=(20.0, 100.0, 110.0, 178.0)),
}


@pytest.fixture(scope="module")
def backends(tmp_path_factory):
    net = mobile_network()
    folder = mobile_export(tmp_path_factory)
    return net, folder


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def _live_run(engine, frames) -> list:
    tracker = LiveTracker(None, engine=engine)
    tracker.step(frames[0])
    for obj_id, prompt in PROMPTS.items():
        result = tracker.select(obj_id, prompt)
    results = [result]
    for frame in frames[1:]:
        results.append(tracker.step(frame))
    return results


@pytest.mark.slow
def test_live_tracker_on_onnx_matches_torch(backends, jpeg_clip) -> None:
    net, folder = backends
    _, frames = jpeg_clip
    torch_run = _live_run(make_engine("torch", net), frames)
    onnx_engine = make_engine("onnx", folder, device="cpu")
    assert describe_engine(onnx_engine) == "onnx fp32 (CPU)"
    onnx_run = _live_run(onnx_engine, frames)
    assert len(onnx_run) == NUM_FRAMES
    for f, (ours, ref) in enumerate(zip(onnx_run, torch_run, strict=True)):
        for obj_id in PROMPTS:
            iou = _iou(ours.objects[obj_id].mask, ref.objects[obj_id].mask)
            assert iou >= 0.999, f"frame {f} object {obj_id}: IoU {iou:.5f}"
            assert abs(ours.objects[obj_id].object_score - ref.objects[obj_id].object_score) < 1e-2
    for obj_id in PROMPTS:  # real masks, not empty or full ones
        inside = float(torch_run[-1].objects[obj_id].mask.mean())
        assert 0.01 < inside < 0.99


@pytest.mark.slow
def test_video_session_on_onnx_matches_torch(backends, jpeg_clip) -> None:
    """Offline tracking with a painted mask prompt, then a correction click (memory-
    conditioned prompt) and propagation after it: every prompt path of the Engine."""
    net, folder = backends
    _, frames = jpeg_clip
    frames = frames[:6]
    mask = np.zeros(frames[0].shape[:2], bool)
    mask[60:150, 30:120] = True

    def run(engine):
        session = VideoSession(None, frames, engine=engine)
        session.add_object(1)
        session.add_object(2)
        session.add_prompt(0, 1, PROMPTS[1])
        session.add_prompt(0, 2, Prompt(mask=mask))
        results = {r.frame_index: r for r, _ in session.propagate()}
        session.add_prompt(3, 1, Prompt(points_xy=((150.0, 80.0),), labels=(1,)))
        results.update({r.frame_index: r for r, _ in session.propagate(start=3)})
        session.close()
        return results

    ref = run(make_engine("torch", net))
    ours = run(make_engine("onnx", folder))
    assert sorted(ours) == list(range(len(frames)))
    for f in ours:
        for obj_id in (1, 2):
            iou = _iou(ours[f].objects[obj_id].mask, ref[f].objects[obj_id].mask)
            assert iou >= 0.999, f"frame {f} object {obj_id}: IoU {iou:.5f}"


@pytest.mark.slow
def test_int8_agrees_with_fp32(backends, jpeg_clip) -> None:
    """int8 against fp32 on the same real frames: per-stage agreement and a short
    tracking run (the numbers the benchmark reports)."""
    from etam_plugin.model.preprocess import to_model_input

    _, folder = backends
    _, frames = jpeg_clip
    fp32 = OnnxStages(folder)
    int8 = OnnxStages(folder, precision="int8")
    images = [to_model_input(f, 512)[None].numpy() for f in frames[:2]]
    agreement = int8_agreement(fp32, int8, *images)
    assert agreement.prompted_iou >= 0.95 and agreement.tracked_iou >= 0.95, agreement
    assert agreement.prompted_logit_error > 0  # int8 really ran

    engine_fp32 = make_engine("onnx", folder)
    engine_int8 = make_engine("onnx", folder, precision="int8")
    assert describe_engine(engine_int8).startswith("onnx int8")
    ious = []
    for a, b in zip(
        _live_run(engine_fp32, frames[:6]), _live_run(engine_int8, frames[:6]), strict=True
    ):
        ious += [_iou(a.objects[o].mask, b.objects[o].mask) for o in PROMPTS]
    assert min(ious) >= 0.9 and float(np.mean(ious)) >= 0.95, ious


def test_make_engine_refuses_what_it_cannot_run(tmp_path) -> None:
    net = build_model(tiny_test_config(64))
    cases = [
        (lambda: make_engine("tensorflow", net), "backend"),
        (lambda: make_engine("torch", tmp_path), "backend"),
        (lambda: make_engine("onnx", net), "backend"),
        (lambda: make_engine("onnx", tmp_path, dtype=torch.bfloat16), "precision"),
        (lambda: make_engine("onnx", tmp_path, precision="fp16"), "precision"),
        (lambda: make_engine("onnx", tmp_path / "missing"), "missing"),
        (lambda: make_engine("onnx", tmp_path), "not-an-export"),
        (lambda: make_engine("onnx", tmp_path, providers=["cuda"]), "provider"),
    ]
    for call, reason in cases:
        with pytest.raises(OnnxError) as err:
            call()
        assert err.value.reason == reason, (reason, str(err.value))
    engine = make_engine("torch", net)
    assert describe_engine(engine) == "torch float32 (cpu)"
    assert engine.layout == ("full", 2)


@pytest.mark.slow
def test_onnx_network_keeps_tensors_on_the_cpu(backends) -> None:
    from etam_plugin.errors import ModelError

    _, folder = backends
    network = make_engine("onnx", folder).model
    assert network.to("cpu") is network
    with pytest.raises(ModelError, match="execution providers"):
        network.to("cuda")
    with pytest.raises(OnnxError) as err:
        make_engine("onnx", folder, device="cuda")  # no CUDA provider in this build
    assert err.value.reason == "provider"


@pytest.mark.slow
def test_track_cli_backends_agree(tmp_path, backends, media_dir) -> None:
    """`etam-plugin track --backend onnx` on the export folder gives the torch run's masks."""
    import cv2

    from etam_plugin.cli import main

    _, folder = backends
    checkpoint = folder.parent / "efficienttam_ti_512x512.pt"
    clip = media_dir / "juggle.mp4"
    common = ["--point", "0:1:640,300", "--end", "3", "--variant", "mobile"]
    assert main(["track", str(clip), "--checkpoint", str(checkpoint), *common,
                 "--masks-out", str(tmp_path / "torch")]) == 0  # fmt: skip
    assert main(["track", str(clip), "--checkpoint", str(folder), "--backend", "onnx", *common,
                 "--masks-out", str(tmp_path / "onnx")]) == 0  # fmt: skip
    for f in range(4):
        name = f"obj_1/{f:06d}.png"
        a = cv2.imread(str(tmp_path / "torch" / name), cv2.IMREAD_GRAYSCALE) > 0
        b = cv2.imread(str(tmp_path / "onnx" / name), cv2.IMREAD_GRAYSCALE) > 0
        assert _iou(a, b) >= 0.999, f"frame {f}"


def test_a_variant_other_than_the_exports_is_refused(backends) -> None:
    """``--variant`` with an export folder: its own variant runs (as ``track`` did before
    the one engine builder), another is refused in one line before anything loads."""
    from etam_plugin.engines import EngineOptions, build_engine
    from etam_plugin.errors import OnnxError

    _, folder = backends
    with pytest.raises(OnnxError, match="is an export of mobile, not ti_512x512"):
        build_engine(EngineOptions(backend="onnx", checkpoint=folder, variant="ti_512x512"))


@pytest.mark.slow
def test_live_takes_the_int8_graphs_and_refuses_what_onnx_cannot_run(backends, monkeypatch) -> None:
    """``live --backend onnx`` runs the quantised graphs when asked, and a precision the
    export cannot run is refused, not run as float32 (it was, silently)."""
    import torch

    from etam_plugin.errors import OnnxError
    from etam_plugin.obs_bridge import tracker_factory as trackers

    _, folder = backends
    tracker = trackers.build_live_tracker(folder, backend="onnx", onnx_precision="int8")
    assert describe_engine(tracker.engine).startswith("onnx int8")
    # bfloat16 passes the device check only where a GPU can run it: stand in for one
    monkeypatch.setattr("etam_plugin.devices.pick_dtype", lambda *_: torch.bfloat16)
    with pytest.raises(OnnxError, match="runs float32 graphs"):
        trackers.build_live_tracker(folder, backend="onnx", dtype="bfloat16")
