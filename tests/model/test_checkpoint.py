"""Checkpoint files: official-format round trips with the reference network's real keys and
shapes, every way a file can be unusable, variant identification and key/shape checking."""

from __future__ import annotations

import errno
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from PIL import Image

from etam_plugin.model import checkpoint as ckpt
from etam_plugin.model.checkpoint import (
    check_state_dict,
    convert_official,
    infer_variants,
    read_checkpoint,
    save_checkpoint,
)
from etam_plugin.model.config import get_config
from etam_plugin.model.errors import CheckpointError

TI_FAMILY = ["ti", "ti_1", "ti_2", "ti_512x512"]
S_FAMILY = ["s", "s_1", "s_2", "s_512x512"]


def _reference_state_dict(variant: str, seed: int) -> dict[str, torch.Tensor]:
    """Seeded random weights with the official keys and shapes (the reference network)."""
    from tests.reference import build_reference_model  # runs hydra.initialize: keep it here

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = build_reference_model(get_config(variant))
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.fixture(scope="module")
def ti_sd() -> dict[str, torch.Tensor]:
    return _reference_state_dict("ti_512x512", seed=1)


@pytest.fixture(scope="module")
def s_sd() -> dict[str, torch.Tensor]:
    return _reference_state_dict("s", seed=2)


@pytest.fixture(scope="module")
def ti_file(tmp_path_factory: pytest.TempPathFactory, ti_sd: dict) -> Path:
    path = tmp_path_factory.mktemp("ti") / "efficienttam_ti_512x512.pt"
    save_checkpoint(ti_sd, path)
    return path


def _shapes(sd: dict[str, torch.Tensor]) -> dict[str, torch.Size]:
    return {k: v.shape for k, v in sd.items()}


# ------------------------------------------------------------------------ round trip


@pytest.mark.parametrize("variant", ["ti_512x512", "s"])
def test_round_trip_in_the_official_format(variant: str, tmp_path: Path, request) -> None:
    sd = request.getfixturevalue("ti_sd" if variant == "ti_512x512" else "s_sd")
    path = tmp_path / get_config(variant).checkpoint_file
    save_checkpoint(sd, path)

    raw = torch.load(path, map_location="cpu", weights_only=True)
    assert list(raw) == ["model"]  # the official layout, nothing else
    back = read_checkpoint(path)
    assert list(back) == list(sd)
    for key, value in sd.items():
        assert back[key].dtype == value.dtype
        assert torch.equal(back[key], value), key
    assert infer_variants(back, filename=path) == [variant]
    check_state_dict(_shapes(sd), convert_official(back), path=path, variant=variant)


def test_the_official_loader_reads_our_files(ti_file: Path, ti_sd: dict) -> None:
    """The reference package's own checkpoint loader (strict keys) accepts what we write."""
    from sam2.build_sam import _load_checkpoint

    from tests.reference import build_reference_model

    model = build_reference_model(get_config("ti_512x512"))
    _load_checkpoint(model, str(ti_file))
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], ti_sd[k]) for k in ti_sd)


def test_a_bare_state_dict_is_accepted(tmp_path: Path) -> None:
    sd = {"no_obj_ptr": torch.randn(1, 256), "mask_downsample.bias": torch.randn(1)}
    path = tmp_path / "bare.pt"
    torch.save(sd, path)
    back = read_checkpoint(path)
    assert back.keys() == sd.keys()
    assert all(torch.equal(back[k], sd[k]) for k in sd)


def test_dtypes_are_left_alone(tmp_path: Path) -> None:
    sd = {"a.weight": torch.randn(4, 4).half(), "b.weight": torch.randn(3).bfloat16()}
    path = tmp_path / "half.pt"
    save_checkpoint(sd, path)
    back = convert_official(read_checkpoint(path))
    assert {k: v.dtype for k, v in back.items()} == {
        "a.weight": torch.float16,
        "b.weight": torch.bfloat16,
    }


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_weights_that_are_not_finite_are_refused(ti_sd: dict, tmp_path: Path, bad: float) -> None:
    """A NaN weight makes every mask empty: refused at load, naming the tensor."""
    sd = dict(ti_sd)
    key = "sam_mask_decoder.iou_prediction_head.layers.0.weight"
    sd[key] = sd[key].clone()
    sd[key][0, 0] = bad
    path = tmp_path / "efficienttam_ti.pt"
    save_checkpoint(sd, path)
    error = _read_error(path)
    assert error.reason == "not-finite" and key in str(error)


# ---------------------------------------------------------------------- read errors


def _read_error(path: Path) -> CheckpointError:
    with pytest.raises(CheckpointError) as info:
        read_checkpoint(path)
    assert info.value.path == path
    assert str(path) in str(info.value)
    return info.value


def test_missing_file(tmp_path: Path) -> None:
    err = _read_error(tmp_path / "efficienttam_ti.pt")
    assert err.reason == "missing"
    assert "does not exist" in str(err)


def test_a_folder_is_not_a_checkpoint(tmp_path: Path) -> None:
    err = _read_error(tmp_path)
    assert err.reason == "directory"
    assert "folder" in str(err)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.pt"
    path.touch()
    err = _read_error(path)
    assert err.reason == "empty"
    assert "0 bytes" in str(err)


@pytest.mark.parametrize("keep", [0.5, 0.02])
def test_truncated_checkpoint(ti_file: Path, tmp_path: Path, keep: float) -> None:
    data = ti_file.read_bytes()
    path = tmp_path / "cut.pt"
    path.write_bytes(data[: int(len(data) * keep)])
    err = _read_error(path)
    assert err.reason == "truncated"
    assert "download or copy it again" in str(err)


def test_png_image(tmp_path: Path) -> None:
    path = tmp_path / "weights.pt"
    Image.new("RGB", (8, 8), (255, 0, 0)).save(path, format="PNG")
    err = _read_error(path)
    assert err.reason == "not-a-checkpoint"
    assert "PNG image" in str(err)


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("just some notes\n", "a text file"),
        ("<!DOCTYPE html><html><body>Sign in</body></html>", "web page"),
        (
            "version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12345\n",
            "Git LFS pointer",
        ),
    ],
)
def test_text_files(tmp_path: Path, content: str, says: str) -> None:
    path = tmp_path / "efficienttam_s.pt"
    path.write_text(content)
    err = _read_error(path)
    assert err.reason == "not-a-checkpoint"
    assert says in str(err)


def test_zip_archive_of_other_files(tmp_path: Path) -> None:
    path = tmp_path / "weights.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    err = _read_error(path)
    assert err.reason == "not-a-checkpoint"
    assert "ZIP archive" in str(err) and "readme.txt" in str(err)


class _Evil:
    """Unpickling this creates the file named by ``marker``: a stand-in for any payload."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_the_malicious_pickle_is_live(tmp_path: Path) -> None:
    """Control: the payload used below really runs when unpickled without protection."""
    marker = tmp_path / "control-marker"
    payload = pickle.dumps({"model": _Evil(marker)}, protocol=2)
    code = f"import pickle; pickle.loads({payload!r})"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert marker.exists()


@pytest.mark.parametrize("container", ["torch-zip", "plain-pickle"])
def test_malicious_pickle_is_refused_and_never_runs(tmp_path: Path, container: str) -> None:
    marker = tmp_path / "PWNED"
    path = tmp_path / "efficienttam_ti.pt"
    evil = {"model": _Evil(marker)}
    if container == "torch-zip":
        torch.save(evil, path)
    else:
        path.write_bytes(pickle.dumps(evil, protocol=2))
    err = _read_error(path)
    assert err.reason == "unsafe"
    assert "refused for safety" in str(err) and "not executed" in str(err)
    assert "open" in str(err)  # names what it asked for
    assert not marker.exists()


@pytest.mark.parametrize(
    ("obj", "says"),
    [
        ({"model": {"a.weight": 1}}, "not tensors: 'a.weight' (int)"),
        ({"epoch": 3, "note": "hi"}, "not tensors"),
        ([torch.zeros(2)], "holds a list"),
        ({"model": {}}, "empty mapping"),
        ({"model": torch.zeros(3)}, "holds a Tensor"),
    ],
)
def test_wrong_structure(tmp_path: Path, obj: object, says: str) -> None:
    path = tmp_path / "odd.pt"
    torch.save(obj, path)
    err = _read_error(path)
    assert err.reason == "structure"
    assert says in str(err)


# ------------------------------------------------------------------------ conversion


def test_convert_strips_wrapper_prefixes_and_keeps_tensors() -> None:
    a, b = torch.randn(2).half(), torch.randn(3)
    sd = {"module.image_encoder.trunk.pos_embed": a, "module._orig_mod.no_obj_ptr": b}
    out = convert_official(sd)
    assert list(out) == ["image_encoder.trunk.pos_embed", "no_obj_ptr"]
    assert out["image_encoder.trunk.pos_embed"] is a and out["no_obj_ptr"] is b
    assert list(sd) == ["module.image_encoder.trunk.pos_embed", "module._orig_mod.no_obj_ptr"]


def test_convert_is_identity_on_official_names(ti_sd: dict) -> None:
    out = convert_official(ti_sd)
    assert list(out) == list(ti_sd)
    assert all(out[k] is ti_sd[k] for k in ti_sd)


def test_convert_refuses_colliding_names() -> None:
    with pytest.raises(CheckpointError) as info:
        convert_official({"module.x": torch.zeros(1), "x": torch.zeros(1)})
    assert info.value.reason == "structure"


# ------------------------------------------------------------------- identification


def test_infer_variants_from_shapes(ti_sd: dict, s_sd: dict) -> None:
    assert infer_variants(ti_sd) == TI_FAMILY
    assert infer_variants(s_sd) == S_FAMILY
    # torch.Size values work as well as tensors (the model's expected shapes)
    assert infer_variants(_shapes(s_sd)) == S_FAMILY


def test_infer_variants_narrowed_by_official_file_name(ti_sd: dict, s_sd: dict) -> None:
    assert infer_variants(ti_sd, "dl/efficienttam_ti_512x512.pt") == ["ti_512x512"]
    assert infer_variants(ti_sd, Path("efficienttam_ti_2.pt")) == ["ti_2"]
    assert infer_variants(s_sd, "efficienttam_s_1.pt") == ["s_1"]
    # a renamed file: the shapes win over a name that contradicts them
    assert infer_variants(s_sd, "efficienttam_ti.pt") == S_FAMILY
    assert infer_variants(ti_sd, "my_finetune.pt") == TI_FAMILY


def test_infer_variants_of_foreign_weights(ti_sd: dict) -> None:
    assert infer_variants({"fc.weight": torch.zeros(3, 3)}) == []
    shallow = {k: v for k, v in ti_sd.items() if ".blocks.11." not in k}
    assert infer_variants(shallow) == []  # 11 trunk blocks: no official variant


# ------------------------------------------------------------------------- checking


def _check_error(expected: dict, sd: dict, **kwargs) -> CheckpointError:
    with pytest.raises(CheckpointError) as info:
        check_state_dict(expected, sd, **kwargs)
    return info.value


def test_check_passes_on_exact_match(ti_sd: dict) -> None:
    check_state_dict(_shapes(ti_sd), ti_sd, variant="ti_512x512")


def test_check_reports_a_missing_key(ti_sd: dict, tmp_path: Path) -> None:
    key = "image_encoder.trunk.blocks.3.attn.qkv.weight"
    sd = {k: v for k, v in ti_sd.items() if k != key}
    path = tmp_path / "efficienttam_ti_512x512.pt"
    err = _check_error(_shapes(ti_sd), sd, path=path, variant="ti_512x512")
    assert err.reason == "mismatch"
    assert err.missing_keys == (key,) and err.unexpected_keys == ()
    assert err.path == path and err.expected_variant == "ti_512x512"
    assert err.found_variant == "ti_512x512"
    assert "1 missing key:" in str(err) and key in str(err) and str(path) in str(err)


def test_check_reports_an_unexpected_key(ti_sd: dict) -> None:
    sd = {**ti_sd, "sam_mask_decoder.extra_head.weight": torch.zeros(4)}
    err = _check_error(_shapes(ti_sd), sd, variant="ti_512x512")
    assert err.reason == "mismatch"
    assert err.unexpected_keys == ("sam_mask_decoder.extra_head.weight",)
    assert "1 unexpected key:" in str(err)


def test_check_reports_a_wrong_shape(ti_sd: dict) -> None:
    key = "memory_encoder.out_proj.weight"
    sd = {**ti_sd, key: torch.zeros(32, 256, 1, 1)}
    err = _check_error(_shapes(ti_sd), sd)
    assert err.reason == "mismatch"
    assert err.missing_keys == () and err.unexpected_keys == ()
    assert "1 shape mismatch:" in str(err)
    assert f"{key}: file (32, 256, 1, 1) vs network (64, 256, 1, 1)" in str(err)


def test_check_lists_the_first_ten_with_counts(ti_sd: dict) -> None:
    sd = {k: v for k, v in ti_sd.items() if not k.startswith("memory_attention.")}
    dropped = len(ti_sd) - len(sd)
    err = _check_error(_shapes(ti_sd), sd)
    assert dropped > 10 and len(err.missing_keys) == dropped
    assert f"{dropped} missing keys (first 10):" in str(err)
    listed = [line for line in str(err).splitlines() if line.startswith("    ")]
    assert len(listed) == 10


def test_check_says_which_variant_a_checkpoint_looks_like(ti_sd: dict, s_sd: dict) -> None:
    err = _check_error(_shapes(ti_sd), s_sd, path="efficienttam_s.pt", variant="ti_512x512")
    assert err.reason == "wrong-variant"
    assert "looks like a ViT-Small checkpoint (s)" in str(err)  # narrowed by its file name
    assert err.expected_variant == "ti_512x512" and err.found_variant == "s"
    err = _check_error(_shapes(ti_sd), s_sd)  # no name, no variant: shapes alone
    assert "looks like a ViT-Small checkpoint (s, s_1, s_2, s_512x512)" in str(err)
    assert "the network is ViT-Tiny" in str(err)
    assert err.found_variant == "s, s_1, s_2, s_512x512"
    assert err.expected_variant is None
    assert "shape mismatches" in str(err)


def test_check_on_mobile_treats_it_as_the_ti_network(ti_sd: dict, s_sd: dict) -> None:
    """``mobile`` runs the ti_512x512 file: a ti checkpoint with a lost key is a plain
    mismatch there, an s checkpoint is the wrong variant."""
    sd = {k: v for k, v in ti_sd.items() if k != "no_obj_ptr"}
    err = _check_error(_shapes(ti_sd), sd, variant="mobile")
    assert err.reason == "mismatch" and "looks like" not in str(err)
    err = _check_error(_shapes(ti_sd), s_sd, variant="mobile")
    assert err.reason == "wrong-variant"
    assert "but the mobile network is ViT-Tiny" in str(err)


# -------------------------------------------------------------------------- writing


def test_save_failure_leaves_the_old_file_and_no_partial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disk that fills up halfway (simulated: the real torch.save writes, then ENOSPC)."""
    path = tmp_path / "efficienttam_ti.pt"
    old = {"a": torch.arange(4.0)}
    save_checkpoint(old, path)
    before = path.read_bytes()
    real_save = torch.save

    def full_disk(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(ckpt.torch, "save", full_disk)
    with pytest.raises(CheckpointError) as info:
        save_checkpoint({"a": torch.zeros(1000)}, path)
    assert info.value.reason == "write-failed"
    assert "No space left on device" in str(info.value) and "nothing was written" in str(info.value)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_save_into_a_missing_folder(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "x.pt"
    with pytest.raises(CheckpointError) as info:
        save_checkpoint({"a": torch.zeros(1)}, path)
    assert info.value.reason == "write-failed" and "does not exist" in str(info.value)
    assert not path.parent.exists()


def test_save_onto_a_folder(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError) as info:
        save_checkpoint({"a": torch.zeros(1)}, tmp_path)
    assert info.value.reason == "directory"


def test_save_refuses_non_tensors(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError) as info:
        save_checkpoint({"a": torch.zeros(1), "b": [1, 2]}, tmp_path / "x.pt")
    assert info.value.reason == "structure" and "b" in str(info.value)
    assert list(tmp_path.iterdir()) == []
