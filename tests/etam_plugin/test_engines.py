"""One builder from options to a tracking engine: every combination runs or is refused with
a one-line reason, and every command offers the same options."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from etam_plugin.engines import EngineOptions, add_engine_arguments, build_engine, engine_options
from etam_plugin.errors import DeviceError, EtamError, OnnxError

REFUSED = [
    # (options, error class, words of the reason)
    (dict(backend="tensorflow"), EtamError, "backend must be one of"),
    (dict(device="tpu"), DeviceError, "device must be one of"),
    (dict(dtype="float8"), DeviceError, "precision must be one of"),
    (dict(onnx_precision="int4"), EtamError, "ONNX precision must be one of"),
    (dict(backend="onnx", checkpoint="x", dtype="bfloat16"), OnnxError, "runs float32 graphs"),
    (dict(backend="onnx", checkpoint="x", dtype="float16"), OnnxError, "runs float32 graphs"),
    (dict(backend="onnx", checkpoint="x", cuda_graphs=True), EtamError, "cannot use them"),
    (dict(backend="onnx", checkpoint="x", attention="full"), EtamError, "fixes its attention"),
    (dict(backend="onnx", checkpoint="x", pool_window=2), EtamError, "fixes its attention"),
    (dict(backend="onnx"), OnnxError, "needs an export folder"),
    (dict(checkpoint="mobile", onnx_precision="int8"), EtamError, "is for the ONNX backend"),
    (dict(), EtamError, "no weights"),
    (dict(checkpoint="mobile", device="cpu", cuda_graphs=True), DeviceError, "CUDA only"),
    (dict(checkpoint="mobile", device="mps", cuda_graphs=True), DeviceError, "CUDA only"),
    (dict(checkpoint="mobile", device="cpu", dtype="float16"), DeviceError, "GPU only"),
    (dict(checkpoint="mobile", threads=-1), EtamError, "0 .all cores. or more"),
    (dict(checkpoint="mobile", threads=True), EtamError, "whole number"),
    (dict(checkpoint="mobile", variant="huge"), EtamError, "variant must be one of"),
    (dict(checkpoint="mobile", attention="sideways"), EtamError, "attention must be one of"),
    (dict(checkpoint="mobile", pool_window=3), EtamError, "pool window must be one of"),
]

ACCEPTED = [
    dict(checkpoint="mobile"),
    dict(variant="ti_512x512"),
    dict(checkpoint="mobile", device="cuda", dtype="bfloat16", cuda_graphs=True),
    dict(checkpoint="mobile", device="auto", dtype="float16", cuda_graphs=False),
    dict(checkpoint="m.pt", variant="ti_512x512", attention="pooled-keys", pool_window=2),
    dict(checkpoint="mobile", threads=2),
    dict(checkpoint="mobile", device="cpu", dtype="bfloat16"),  # where the CPU has it: build
    dict(checkpoint="mobile", dtype="auto"),
    dict(backend="onnx", checkpoint="folder", dtype="auto"),  # auto is float32 there
    dict(backend="onnx", checkpoint="folder"),
    dict(backend="onnx", checkpoint="folder", onnx_precision="int8", device="cpu", threads=1),
    dict(backend="onnx", checkpoint="folder", cuda_graphs=False),
    dict(backend="onnx", checkpoint="folder", variant="mobile"),  # checked against the export
]


@pytest.mark.parametrize(("options", "error", "words"), REFUSED)
def test_what_cannot_run_is_refused_in_one_line(options, error, words) -> None:
    with pytest.raises(error, match=words) as info:
        EngineOptions(**options)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("options", ACCEPTED)
def test_what_can_run_is_accepted(options) -> None:
    assert EngineOptions(**options).refusal() is None


def test_build_engine_runs_the_torch_network_on_the_cpu(checkpoint: Path, tmp_path) -> None:
    """The torch backend leaves onnxruntime unloaded: importing it writes a file into the
    temp folder (which `track`'s clean-up tests saw) and costs start time."""
    code = (
        "import sys\n"
        "from etam_plugin.engines import EngineOptions, build_engine\n"
        f"engine = build_engine(EngineOptions(checkpoint={str(checkpoint)!r}, device='cpu'))\n"
        "from etam_plugin.model.cuda_graphs import GraphedStages\n"
        "print(engine.device, engine.dtype, isinstance(engine.model, GraphedStages), "
        "engine.config.image_size, 'onnxruntime' in sys.modules)\n"
    )
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["cpu", "torch.float32", "False", "512", "False"]
    assert not list(tmp_path.iterdir())


def test_asking_for_cuda_graphs_without_cuda_is_refused(checkpoint: Path, monkeypatch) -> None:
    monkeypatch.setattr("etam_plugin.devices.pick_device", lambda name="auto": "cpu")
    with pytest.raises(DeviceError, match="CUDA graphs run on CUDA only"):
        build_engine(EngineOptions(checkpoint=checkpoint, cuda_graphs=True))


def test_every_command_reads_the_same_engine_options() -> None:
    parser = argparse.ArgumentParser()
    add_engine_arguments(parser, pool_window=True, threads=True)
    args = parser.parse_args(
        [
            "--checkpoint",
            "f",
            "--backend",
            "onnx",
            "--onnx-precision",
            "int8",
            "--device",
            "cpu",
            "--threads",
            "2",
        ]
    )
    assert engine_options(args) == EngineOptions(
        backend="onnx", checkpoint="f", onnx_precision="int8", device="cpu", threads=2
    )
    for command in ("track", "live"):
        out = subprocess.run(
            [sys.executable, "-m", "etam_plugin", command, "--help"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr
        for flag in ("--backend", "--onnx-precision", "--attention", "--device", "--dtype"):
            assert flag in out.stdout, (command, flag)
        assert "--cuda-graphs, --no-cuda-graphs" in out.stdout


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--backend", "onnx", "--dtype", "bfloat16"], "runs float32 graphs"),
        (["--backend", "onnx", "--cuda-graphs"], "cannot use them"),
        (["--onnx-precision", "int8"], "is for the ONNX backend"),
        (["--device", "cpu", "--cuda-graphs"], "CUDA only"),
    ],
)
def test_track_refuses_what_cannot_run_before_reading_the_clip(tmp_path, argv, words) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "etam_plugin", "track", str(tmp_path / "none.mp4"),
         "--checkpoint", "mobile", "--point", "0:1:5,5", *argv],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 2, out.stderr
    assert words in out.stderr and "Traceback" not in out.stderr
