"""ONNX export: every stage on ONNX Runtime matches the torch network (≤ 1e-3, fp32).

The mobile export is made once, through the real ``etam-plugin export-onnx`` command
(with ``--quantize int8``), from a checkpoint of seeded random weights shaped so objects
are present (``tests/reference.py``); the tracking tests reuse it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch

from etam_plugin.cli import main
from etam_plugin.model import (
    MemoryInput,
    build_model,
    export_onnx,
    get_config,
    graph_names,
    save_checkpoint,
)
from etam_plugin.onnx_runtime import OnnxError, OnnxStages, read_manifest
from etam_plugin.onnx_runtime.verify import compare_stages
from tests.reference import shaped_random_state_dict

TOL = 1e-3
SEED = 4
_EXPORTS: dict[str, Path] = {}


def mobile_weights() -> dict[str, torch.Tensor]:
    return shaped_random_state_dict(get_config("ti_512x512"), seed=SEED)


def mobile_network():
    net = build_model(get_config("mobile"))
    net.load_state_dict(mobile_weights())
    return net


def mobile_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The mobile export made by the CLI (cached for the whole test session)."""
    if "mobile" not in _EXPORTS:
        root = tmp_path_factory.mktemp("onnx_mobile")
        checkpoint = root / "efficienttam_ti_512x512.pt"
        save_checkpoint(mobile_weights(), checkpoint)
        code = main(
            [
                "export-onnx",
                str(checkpoint),
                "--variant",
                "mobile",
                "--out",
                str(root / "export"),
                "--quantize",
                "int8",
            ]
        )
        assert code == 0
        _EXPORTS["mobile"] = root / "export"
    return _EXPORTS["mobile"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return mobile_network(), mobile_export(tmp_path_factory)


def _nontrivial(logits: torch.Tensor) -> None:
    inside = (logits > 0).float().mean().item()
    assert 0.01 < inside < 0.99, f"degenerate mask: {inside:.3f} of pixels inside"


@pytest.mark.slow
def test_cli_export_has_every_graph_and_a_manifest(exported) -> None:
    _, folder = exported
    raw = json.loads((folder / "manifest.json").read_text())
    assert raw["format"] == "etam-plugin-onnx" and raw["format_version"] == 1
    assert raw["variant"] == "mobile" and raw["image_size"] == 512
    assert raw["attention"] == {
        "mode": "pooled-keys",
        "pool_window": 2,
        "num_layers": 4,
        "num_heads": 1,
        "kv_dim": 64,
    }
    assert raw["exporter"] == "dynamo" and raw["opset"] >= 17
    assert raw["etam_plugin_version"]
    assert set(raw["graphs"]) == set(graph_names("pooled-keys"))
    # The manifest's names are the graphs' own.
    for entry in raw["graphs"].values():
        session = onnxruntime.InferenceSession(str(folder / entry["file"]))
        assert [i.name for i in session.get_inputs()] == [t["name"] for t in entry["inputs"]]
        assert [o.name for o in session.get_outputs()] == [t["name"] for t in entry["outputs"]]
    # The CLI checked the graphs against torch and kept the numbers.
    diffs = raw["verification"]["max_abs_diff"]
    assert max(diffs.values()) <= TOL
    quantized = {"image_encoder", "prompt_decoder", "memory_encoder", "memory_attention"}
    assert set(raw["int8"]) == quantized
    agreement = raw["quantization"]["agreement_vs_fp32"]
    assert agreement["prompted_iou"] > 0.9 and agreement["tracked_iou"] > 0.9
    leftovers = [p.name for p in folder.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []


@pytest.mark.slow
def test_every_mobile_stage_matches_torch(exported) -> None:
    net, folder = exported
    diffs = compare_stages(net, OnnxStages(folder), seed=11)
    bad = {k: v for k, v in diffs.items() if v > TOL}
    assert not bad, f"stages beyond {TOL}: {bad}"
    assert len(diffs) >= 15
    # The comparison is about real masks: objects present, both inside and outside.
    with torch.inference_mode():
        image = torch.randn(1, 3, 512, 512, generator=torch.Generator().manual_seed(11))
        feats, _ = net.encode_image(image)
        s = 512
        points = torch.tensor([[[0.2 * s, 0.25 * s], [0.7 * s, 0.8 * s], [0.45 * s, 0.5 * s]]])
        out = net.predict_masks(
            net.condition_on_memory(feats, feats, None),
            points,
            torch.tensor([[2, 3, 1]], dtype=torch.int32),
            multimask=True,
        )
    assert float(out.object_score) > 0
    _nontrivial(out.masks)


@pytest.mark.slow
def test_image_encoder_at_1024_matches_torch(tmp_path) -> None:
    config = get_config("ti")
    net = build_model(config)
    net.load_state_dict(shaped_random_state_dict(config, seed=1))
    export_onnx(net, tmp_path / "ti", graphs=["image_encoder"])
    stages_out = OnnxStages(tmp_path / "ti").encode_image
    image = torch.randn(1, 3, 1024, 1024, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        feats, pos = net.encode_image(image)
    got_feats, got_pos = stages_out(image.numpy())
    assert got_feats.shape == (1, 256, 64, 64)
    assert np.abs(got_feats - feats.numpy()).max() <= TOL
    assert np.abs(got_pos - pos.numpy()).max() <= TOL
    with pytest.raises(OnnxError, match="no prompt_decoder graph") as err:  # partial export
        OnnxStages(tmp_path / "ti").predict_masks(got_feats)
    assert err.value.reason == "graph-missing"


def _memory_case(net, stages, ages, n_pointers, seed):
    gen = torch.Generator().manual_seed(seed)
    b, c, h = 2, net.config.hidden_dim, net.config.feature_size
    feats = torch.randn(b, c, h, h, generator=gen)
    pos = torch.randn(b, c, h, h, generator=gen)
    memories = [torch.randn(b, 64, h, h, generator=gen) for _ in ages]
    pointers = torch.randn(b, n_pointers, c, generator=gen) if n_pointers else None
    with torch.inference_mode():
        prepared = [net.prepare_memory(m) for m in memories]
        ref = net.condition_on_memory(
            feats, pos, MemoryInput(list(zip(prepared, ages, strict=True)), pointers)
        )
    got = stages.condition_on_memory(
        feats.numpy(),
        pos.numpy(),
        [(stages.prepare_memory(m.numpy()), a) for m, a in zip(memories, ages, strict=True)],
        None if pointers is None else pointers.numpy(),
    )
    return got, ref.numpy()


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["full", "pooled"])
def test_memory_attention_matches_torch_in_every_mode(tmp_path, mode: str) -> None:
    """pooled-keys is the mobile export's own mode (tested above); here the other two,
    with several memory frames and pointers, no pointers, and a single memory frame."""
    config = get_config("mobile", attention=mode)
    net = build_model(config)
    net.load_state_dict(mobile_weights())
    graphs = [g for g in graph_names(mode) if g.startswith("memory_")]
    graphs.remove("memory_encoder")
    export_onnx(net, tmp_path / mode, graphs=graphs)
    stages = OnnxStages(tmp_path / mode)
    cases = [([6, 3, 1, 0], 7), ([6, 0], 0), ([6], 2), ([6], 0)]
    for i, (ages, n_ptr) in enumerate(cases):
        got, ref = _memory_case(net, stages, ages, n_ptr, seed=i)
        diff = float(np.abs(got - ref).max())
        assert diff <= TOL, f"{mode}, ages {ages}, {n_ptr} pointers: {diff:.2e}"
    if mode == "pooled":  # pooling is really applied with two frames or more
        full = build_model(get_config("mobile", attention="full"))
        full.load_state_dict(mobile_weights())
        got, _ = _memory_case(net, stages, [6, 0], 1, seed=9)
        _, ref_full = _memory_case(full, stages, [6, 0], 1, seed=9)
        assert float(np.abs(got - ref_full).max()) > 1e-2


def test_export_refuses_bad_options(tmp_path) -> None:
    from etam_plugin.model import ModelError, tiny_test_config

    net = build_model(tiny_test_config(64))
    with pytest.raises(ModelError, match="opset 16 is too old"):
        export_onnx(net, tmp_path / "a", opset=16)
    with pytest.raises(ModelError, match="unknown exporter"):
        export_onnx(net, tmp_path / "b", exporter="tf")
    with pytest.raises(ModelError, match="memory_prepare_unpooled"):
        export_onnx(net, tmp_path / "c", graphs=["memory_prepare_unpooled"])  # full mode


def test_cancel_stops_before_the_next_graph(tmp_path) -> None:
    import threading

    from etam_plugin.model import CancelledError, tiny_test_config

    cancel = threading.Event()
    seen = []

    def progress(name: str, done: int, total: int) -> None:
        seen.append(name)
        cancel.set()

    net = build_model(tiny_test_config(64))
    with pytest.raises(CancelledError):
        export_onnx(net, tmp_path / "x", progress=progress, cancel=cancel)
    assert seen == ["image_encoder"]
    assert not (tmp_path / "x" / "manifest.json").exists()


@pytest.mark.slow
def test_exports_run_without_torch(exported) -> None:
    """A fresh interpreter where torch cannot even be imported loads the export and runs
    every graph (each stage, the unpooled single-frame path, int8)."""
    _, folder = exported
    code = textwrap.dedent(
        f"""
        import importlib.abc, sys

        class NoTorch(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ImportError("torch is not installed here")
                return None

        sys.meta_path.insert(0, NoTorch())
        import numpy as np
        from etam_plugin.onnx_runtime import OnnxStages

        for precision in ("fp32", "int8"):
            st = OnnxStages({str(folder)!r}, providers="cpu", precision=precision)
            rng = np.random.default_rng(0)
            feats, pos = st.encode_image(rng.standard_normal((1, 3, 512, 512), np.float32))
            cond = st.condition_no_memory(feats)
            pts = np.array([[[100.0, 120.0], [300.0, 330.0], [200.0, 220.0]]], np.float32)
            lab = np.array([[2, 3, 1]], np.int32)
            multi = st.predict_masks(cond, pts, lab, multimask=True)
            single = st.predict_masks(cond, pts, lab, multi.masks.clip(-32, 32))
            mask = np.zeros((1, 1, 512, 512), np.float32)
            mask[..., 100:300, 150:350] = 1
            as_out = st.mask_as_output(feats, mask)
            high = np.repeat(np.repeat(single.masks, 4, -1), 4, -2)
            frames = [(st.prepare_memory(st.encode_memory(feats, high, True)), 6)]
            one = st.condition_on_memory(feats, pos, frames, multi.obj_ptr[:, None])
            frames.append((st.prepare_memory(st.encode_memory(feats, high, False)), 0))
            two = st.condition_on_memory(feats, pos, frames, None)
            tracked = st.predict_masks(two, multimask=True)
            assert np.isfinite(tracked.masks).all() and np.isfinite(one).all()
            assert as_out.object_score[0, 0] > 0
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "PIL", "cv2"))
        assert not loaded, loaded
        print("ok", len(sys.modules))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.startswith("ok")


@pytest.mark.slow
def test_manifest_round_trip_and_errors(exported, tmp_path) -> None:
    _, folder = exported
    manifest = read_manifest(folder)
    assert manifest.mode == "pooled-keys" and manifest.precisions == ("fp32", "int8")
    assert manifest.path("image_encoder", "int8").name == "image_encoder.int8.onnx"
    assert manifest.path("no_memory", "int8").name == "no_memory.onnx"  # fp32 fallback

    with pytest.raises(OnnxError) as err:
        read_manifest(tmp_path / "nothing")
    assert err.value.reason == "missing"
    (tmp_path / "empty").mkdir()
    with pytest.raises(OnnxError, match="export-onnx") as err:
        read_manifest(tmp_path / "empty")
    assert err.value.reason == "not-an-export"
    broken = tmp_path / "broken"
    broken.mkdir()
    raw = json.loads((folder / "manifest.json").read_text())
    (broken / "manifest.json").write_text(json.dumps({**raw, "format_version": 99}))
    with pytest.raises(OnnxError, match="version 99") as err:
        read_manifest(broken)
    assert err.value.reason == "version"
    (broken / "manifest.json").write_text(json.dumps(raw))  # graphs not copied
    with pytest.raises(OnnxError, match="missing") as err:
        read_manifest(broken)
    assert err.value.reason == "graph-missing"
    (broken / "manifest.json").write_text("{not json")
    with pytest.raises(OnnxError) as err:
        read_manifest(broken)
    assert err.value.reason == "unreadable"


@pytest.mark.slow
def test_faked_gpu_providers_are_requested_and_the_fallback_reported(exported, monkeypatch):
    """This onnxruntime build has only the CPU provider: with CUDA faked as available the
    sessions are asked for CUDA then CPU, and report the CPU they really run on."""
    _, folder = exported
    fake = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: fake)
    with pytest.warns(UserWarning, match="not in available provider names"):
        stages = OnnxStages(folder)
    assert stages.plan.providers == tuple(fake)
    assert stages.active_providers == ("CPUExecutionProvider",)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "efficienttam_ti_512x512.pt"
    save_checkpoint(mobile_weights(), path)
    return path


def _previous_export(folder: Path) -> None:
    folder.mkdir()
    (folder / "manifest.json").write_text('{"old": true}')


def test_cli_interrupted_export_leaves_the_previous_one(checkpoint, tmp_path, monkeypatch):
    import etam_plugin.model

    out = tmp_path / "export"
    _previous_export(out)

    def interrupted(net, folder, **kwargs):
        (Path(folder) / "image_encoder.onnx").write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(etam_plugin.model, "export_onnx", interrupted)
    code = main(["export-onnx", str(checkpoint), "--variant", "mobile", "--out", str(out)])
    assert code == 130
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]
    assert (out / "manifest.json").read_text() == '{"old": true}'


def test_cli_refuses_an_export_that_disagrees_with_torch(checkpoint, tmp_path, monkeypatch, capsys):
    import etam_plugin.model
    import etam_plugin.onnx_runtime
    import etam_plugin.onnx_runtime.verify

    out = tmp_path / "export"
    _previous_export(out)
    monkeypatch.setattr(etam_plugin.model, "export_onnx", lambda net, folder, **kw: {})
    monkeypatch.setattr(etam_plugin.onnx_runtime, "OnnxStages", lambda *a, **kw: None)
    monkeypatch.setattr(
        etam_plugin.onnx_runtime.verify,
        "compare_stages",
        lambda net, stages: {"image_encoder.features": 2e-6, "memory_attention.x": 0.5},
    )
    code = main(["export-onnx", str(checkpoint), "--variant", "mobile", "--out", str(out)])
    assert code == 2
    assert "memory_attention.x differs from torch by 5.00e-01" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]
    assert (out / "manifest.json").read_text() == '{"old": true}'


def test_cli_reports_bad_sources_and_targets(checkpoint, tmp_path, capsys) -> None:
    code = main(["export-onnx", str(tmp_path / "nope.pt"), "--out", str(tmp_path / "x")])
    assert code == 2
    assert "does not exist" in capsys.readouterr().err
    out = tmp_path / "no" / "such" / "folder"
    code = main(["export-onnx", str(checkpoint), "--variant", "mobile", "--out", str(out)])
    assert code == 2
    assert "output folder does not exist" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_cli_never_replaces_a_folder_holding_other_files(checkpoint, tmp_path, capsys) -> None:
    """``--out`` is replaced whole, so a folder with anything but an earlier export in it
    (here the checkpoint and the user's notes) is refused before the export starts."""
    folder = tmp_path / "work"
    folder.mkdir()
    weights = folder / "efficienttam_mobile.pt"
    weights.write_bytes(checkpoint.read_bytes())
    (folder / "notes.txt").write_text("mine")
    code = main(["export-onnx", str(weights), "--variant", "mobile", "--out", str(folder)])
    assert code == 2
    assert "does not write (efficienttam_mobile.pt, notes.txt)" in capsys.readouterr().err
    assert sorted(p.name for p in folder.iterdir()) == ["efficienttam_mobile.pt", "notes.txt"]
