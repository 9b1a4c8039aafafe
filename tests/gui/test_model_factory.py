"""The panel's default SessionFactory on the real loaders: weights found by variant name in
the weights folder (as a user places them), a checkpoint file chosen in the Model menu, and
missing weights explained."""

from __future__ import annotations

from pathlib import Path

import pytest
from gui_frames import ArrayFrames, synthetic_clip

from etam_plugin.errors import WeightsUnavailableError
from etam_plugin.gui.components.backend import ModelSessionFactory
from etam_plugin.gui.components.errors import describe_error
from etam_plugin.gui.components.model_options import ModelOptions
from etam_plugin.model import Prompt

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def weights_folder(tmp_path_factory) -> Path:
    """Seeded random ti_512x512 weights saved as the official file would be."""
    import torch

    from etam_plugin.model import build_model, get_config, save_checkpoint
    from etam_plugin.weights import checkpoint_filename

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("weights")
    save_checkpoint(
        build_model(get_config("ti_512x512")).state_dict(),
        folder / checkpoint_filename("ti_512x512"),
    )
    return folder


@pytest.fixture
def no_hub_cache(monkeypatch):
    import etam_plugin.weights

    monkeypatch.setattr(etam_plugin.weights, "try_to_load_from_cache", lambda *a, **k: None)


def test_official_weights_by_variant_name(weights_folder, no_hub_cache, monkeypatch) -> None:
    monkeypatch.setenv("ETAM_WEIGHTS_DIR", str(weights_folder))
    factory = ModelSessionFactory(ModelOptions(variant="ti_512x512", device="cpu"))
    session = factory.create(ArrayFrames(synthetic_clip(3, 72, 96)))
    try:
        session.add_object(1, "A")
        result = session.add_prompt(0, 1, Prompt(((30.0, 36.0),), (1,)))
        assert result.objects[1].mask.shape == (72, 96)
        import torch

        from etam_plugin.devices import cpu_cores

        threads = cpu_cores()  # all of them: measured better than leaving one free
        assert factory.cpu_threads == threads == torch.get_num_threads()
        assert factory.describe() == f"ti_512x512 · cpu · float32 · {threads} thread" + (
            "s" if threads > 1 else ""
        )
        again = factory.create(ArrayFrames(synthetic_clip(3, 72, 96)))
        assert again.engine.model is session.engine.model  # one network, many sessions
    finally:
        session.close()


def test_a_chosen_checkpoint_file_and_reconfigure(weights_folder, no_hub_cache) -> None:
    path = next(weights_folder.iterdir())
    factory = ModelSessionFactory(ModelOptions(checkpoint=path, device="cpu"))
    first = factory.create(ArrayFrames(synthetic_clip(2)))
    factory.configure(ModelOptions(checkpoint=path, device="cpu", attention="pooled-keys"))
    second = factory.create(ArrayFrames(synthetic_clip(2)))
    assert second.engine.model is not first.engine.model
    assert second.config.memory_attention.mode == "pooled-keys"
    first.close()
    second.close()


def test_missing_weights_say_where_to_get_them(tmp_path, no_hub_cache, monkeypatch) -> None:
    monkeypatch.setenv("ETAM_WEIGHTS_DIR", str(tmp_path / "empty"))
    factory = ModelSessionFactory(ModelOptions(variant="s", device="cpu"))
    with pytest.raises(WeightsUnavailableError) as info:
        factory.create(ArrayFrames(synthetic_clip(2)))
    report = describe_error(info.value, "Starting the tracking session")
    assert report.title == "Model weights are missing"
    assert "efficienttam_s.pt" in report.text + report.details
    assert str(tmp_path / "empty") in report.text + report.details


def test_precision_and_device_are_checked(no_hub_cache, weights_folder) -> None:
    from etam_plugin.errors import DeviceError

    path = next(weights_folder.iterdir())
    factory = ModelSessionFactory(ModelOptions(checkpoint=path, device="cpu", precision="float16"))
    with pytest.raises(DeviceError, match="GPU") as info:
        factory.create(ArrayFrames(synthetic_clip(2)))
    assert describe_error(info.value).title == "Cannot run on this device"


def test_the_onnx_backend_runs_an_export(tmp_path_factory) -> None:
    """Model ▸ Backend ▸ ONNX Runtime on a real ``export-onnx`` folder (the mobile export
    made once per test run): sessions run on ONNX Runtime, int8 when asked."""
    from tests.model.test_onnx_export import mobile_export

    folder = mobile_export(tmp_path_factory)
    options = ModelOptions(backend="onnx", onnx_dir=folder, device="cpu")
    factory = ModelSessionFactory(options)
    session = factory.create(ArrayFrames(synthetic_clip(3, 72, 96)))
    try:
        session.add_object(1, "A")
        result = session.add_prompt(0, 1, Prompt(((30.0, 36.0),), (1,)))
        assert result.objects[1].mask.shape == (72, 96)
        assert session.config.memory_attention.mode == "pooled-keys"  # the export's mode
        assert factory.describe() == f"onnx fp32 (CPU) · {folder.name}"
        factory.configure(ModelOptions(backend="onnx", onnx_dir=folder, onnx_precision="int8"))
        int8 = factory.create(ArrayFrames(synthetic_clip(3, 72, 96)))
        assert int8.engine.model is not session.engine.model
        assert factory.describe().startswith("onnx int8")
        int8.close()
    finally:
        session.close()
