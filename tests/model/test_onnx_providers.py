"""Execution-provider choice, with faked lists of what an onnxruntime build offers."""

from __future__ import annotations

import pytest

from etam_plugin.onnx_runtime import OnnxError, plan_providers
from etam_plugin.onnx_runtime.backend import _providers_for

TRT = "TensorrtExecutionProvider"
CUDA = "CUDAExecutionProvider"
DML = "DmlExecutionProvider"
COREML = "CoreMLExecutionProvider"
CPU = "CPUExecutionProvider"
AZURE = "AzureExecutionProvider"


@pytest.mark.parametrize(
    ("available", "expected"),
    [
        ([CPU, CUDA, TRT], (TRT, CUDA, CPU)),  # onnxruntime-gpu with TensorRT libraries
        ([CUDA, CPU], (CUDA, CPU)),
        ([DML, CPU], (DML, CPU)),  # onnxruntime-directml on Windows
        ([COREML, CPU, AZURE], (COREML, CPU)),  # macOS wheels
        ([AZURE, CPU], (CPU,)),  # the plain wheel: Azure is not a device
        ([], (CPU,)),
    ],
)
def test_automatic_order_takes_the_fastest_available(available, expected) -> None:
    plan = plan_providers(None, available)
    assert plan.providers == expected
    assert plan.providers[-1] == CPU
    assert len(plan.options) == len(plan.providers)
    assert plan_providers("auto", available).providers == expected


def test_provider_options_and_session_needs() -> None:
    plan = plan_providers(None, [TRT, CUDA, CPU], device_id=1, cache_dir="/tmp/trt")
    trt, cuda, cpu = plan.options
    assert trt == {
        "device_id": "1",
        "trt_engine_cache_enable": "True",
        "trt_engine_cache_path": "/tmp/trt",
    }
    assert cuda == {"device_id": "1"} and cpu == {}
    assert not plan.disable_mem_pattern
    assert plan_providers(None, [TRT, CUDA, CPU]).notes  # engines rebuilt without a cache

    dml = plan_providers(None, [DML, CPU])
    assert dml.disable_mem_pattern  # DirectML cannot use memory patterns
    assert plan_providers(None, [COREML, CPU]).options[0] == {"ModelFormat": "MLProgram"}
    assert dml.describe() == "Dml > CPU"


def test_requested_providers_by_alias_in_the_given_order() -> None:
    available = [TRT, CUDA, CPU]
    assert plan_providers("cuda", available).providers == (CUDA, CPU)
    assert plan_providers(["cpu"], available).providers == (CPU,)
    assert plan_providers(["CUDAExecutionProvider", "cuda"], available).providers == (CUDA, CPU)
    # TensorRT leaves what it cannot take to CUDA, then the CPU.
    assert plan_providers("tensorrt", available).providers == (TRT, CUDA, CPU)
    assert plan_providers(["DirectML"], [DML, CPU]).providers == (DML, CPU)


def test_unavailable_or_unknown_providers_are_errors() -> None:
    with pytest.raises(OnnxError, match="not in this onnxruntime build") as err:
        plan_providers("cuda", [AZURE, CPU])
    assert err.value.reason == "provider"
    assert "AzureExecutionProvider, CPUExecutionProvider" in str(err.value)
    with pytest.raises(OnnxError, match="unknown execution provider 'vulkan'"):
        plan_providers(["vulkan"], [CPU])


def test_torch_style_devices_map_to_providers() -> None:
    assert _providers_for(None) == (None, 0)
    assert _providers_for("auto") == (None, 0)
    assert _providers_for("cuda:1") == (["cuda"], 1)
    assert _providers_for("cpu") == (["cpu"], 0)
    assert _providers_for("mps") == (["coreml"], 0)
