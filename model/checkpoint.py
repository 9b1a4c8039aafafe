"""Checkpoint files: read, convert, identify, check and write EfficientTAM weights.

File-level handling only, apart from the network modules (DESIGN: conversion is a pure
``state_dict → state_dict`` function). The official format is ``{"model": state_dict}``
saved with ``torch.save``; our parameter names are the official ones.

Loading never executes a pickle: ``torch.load(..., weights_only=True)`` refuses anything
that is not plain tensors and containers. Every problem is a :class:`CheckpointError`
whose ``reason`` is one of:

``missing``, ``directory``, ``unreadable``, ``empty``, ``not-a-checkpoint``,
``truncated``, ``corrupt``, ``unsafe`` (refused by ``weights_only``; nothing ran),
``structure`` (loads, but is not a state dict of tensors), ``mismatch`` (keys/shapes do
not fit the network), ``wrong-variant`` (they fit another official variant),
``write-failed``.
"""

from __future__ import annotations

import os
import pickle
import re
import tempfile
import warnings
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

from etam_plugin.model.config import OFFICIAL_VARIANTS, EfficientTAMConfig, get_config
from etam_plugin.model.errors import CheckpointError

__all__ = [
    "check_state_dict",
    "convert_official",
    "infer_variants",
    "read_checkpoint",
    "save_checkpoint",
]

# Prefixes that wrappers add in front of every parameter name when a wrapped module is
# saved: DistributedDataParallel (``module.``) and torch.compile (``_orig_mod.``).
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")
_LIST_LIMIT = 10

_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_PROTO = 0x80  # pickle protocol ≥ 2 opcode; the legacy torch.save format starts so


# --------------------------------------------------------------------------- reading


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The state dict stored at ``path`` (official ``{"model": sd}`` or a bare ``sd``).

    Tensors are loaded on the CPU with their stored dtypes. Raises :class:`CheckpointError`
    naming the file and the problem; a pickle that would run code is refused unexecuted.
    """
    path = Path(path)
    head = _read_head(path)
    kind = _sniff(head)
    if kind is not None:
        raise CheckpointError(
            f"{path} is not a PyTorch checkpoint: it looks like {kind}.",
            path=path,
            reason="not-a-checkpoint",
        )
    obj = _torch_load(path, is_zip=head.startswith(_ZIP_MAGIC))
    return _state_dict_of(obj, path)


def _read_head(path: Path) -> bytes:
    if not path.exists():
        where = path.parent if path.parent.is_dir() else "a folder that does not exist"
        raise CheckpointError(
            f"checkpoint {path} does not exist (looked in {where}).", path=path, reason="missing"
        )
    if path.is_dir():
        raise CheckpointError(
            f"checkpoint {path} is a folder; give the path of the .pt file inside it.",
            path=path,
            reason="directory",
        )
    try:
        with path.open("rb") as f:
            head = f.read(64)
    except OSError as exc:
        raise CheckpointError(
            f"checkpoint {path} cannot be read: {exc.strerror or exc}.",
            path=path,
            reason="unreadable",
        ) from exc
    if not head:
        raise CheckpointError(
            f"checkpoint {path} is empty (0 bytes); the download or copy did not finish.",
            path=path,
            reason="empty",
        )
    return head


def _sniff(head: bytes) -> str | None:
    """What the file is when it is certainly not a torch checkpoint, else None."""
    if head.startswith(_ZIP_MAGIC) or (head[0] == _PICKLE_PROTO and len(head) > 1):
        return None
    if head.startswith(b"\x89PNG"):
        return "a PNG image"
    if head.startswith(b"\xff\xd8\xff"):
        return "a JPEG image"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "a GIF image"
    if len(head) > 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") > 0:
        return "a safetensors file (not supported; use the official .pt files)"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "binary data of an unknown kind"
    lowered = text.lstrip().lower()
    if lowered.startswith("version https://git-lfs"):
        return "a Git LFS pointer (a small text stub), not the weights themselves"
    if lowered.startswith(("<!doctype html", "<html")):
        return "a web page (HTML), e.g. a saved download page instead of the file"
    return "a text file"


def _torch_load(path: Path, *, is_zip: bool) -> Any:
    try:
        with warnings.catch_warnings():
            # Plain pickles (protocol ≠ 2) make torch warn before it refuses them anyway.
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if "Weights only load failed" in text:
            detail = _weights_only_detail(text)
            raise CheckpointError(
                f"checkpoint {path} was refused for safety and was not executed: loading it "
                f"would need more than plain tensors ({detail}). Only load checkpoints from a "
                "source you trust, or re-save them as a plain state dict of tensors.",
                path=path,
                reason="unsafe",
            ) from exc
        raise _damaged(path, exc) from exc
    except EOFError as exc:
        raise _damaged(path, exc, truncated=True) from exc
    except RuntimeError as exc:  # torch's zip reader reports damage as RuntimeError
        if is_zip:
            raise _zip_problem(path, exc) from exc
        raise _damaged(path, exc) from exc
    except (KeyError, ValueError, OSError) as exc:
        raise _damaged(path, exc) from exc


def _zip_problem(path: Path, exc: RuntimeError) -> CheckpointError:
    """Tell a cut-off torch file from an ordinary ZIP archive that holds no torch data."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return _damaged(path, exc, truncated=True)
    if not any(n.endswith("data.pkl") for n in names):
        listed = ", ".join(names[:5]) + (", …" if len(names) > 5 else "")
        return CheckpointError(
            f"{path} is not a PyTorch checkpoint: it is a ZIP archive of other files ({listed}).",
            path=path,
            reason="not-a-checkpoint",
        )
    return _damaged(path, exc)


def _weights_only_detail(text: str) -> str:
    match = re.search(r"Unsupported global: GLOBAL (\S+)", text)
    if match:
        return f"it asks for {match.group(1)}"
    match = re.search(r"WeightsUnpickler error:\s*([^\n]+)", text)
    return match.group(1).strip() if match else "see the chained error"


def _damaged(path: Path, exc: BaseException, *, truncated: bool = False) -> CheckpointError:
    size = path.stat().st_size
    if truncated:
        return CheckpointError(
            f"checkpoint {path} is truncated or damaged ({size} bytes; the end of the file is "
            "missing): download or copy it again.",
            path=path,
            reason="truncated",
        )
    return CheckpointError(
        f"checkpoint {path} is damaged and cannot be read ({type(exc).__name__}: {exc}); "
        "download or copy it again.",
        path=path,
        reason="corrupt",
    )


def _state_dict_of(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    if isinstance(obj, Mapping) and "model" in obj:
        inner, where = obj["model"], "the 'model' entry"
    else:
        inner, where = obj, "the file"
    if not isinstance(inner, Mapping):
        raise CheckpointError(
            f"checkpoint {path}: {where} holds a {type(inner).__name__}, not a state dict "
            "(a mapping of parameter names to tensors).",
            path=path,
            reason="structure",
        )
    if not inner:
        raise CheckpointError(
            f"checkpoint {path}: {where} is an empty mapping; there are no weights in it.",
            path=path,
            reason="structure",
        )
    bad = [
        f"{k!r} ({type(v).__name__})"
        for k, v in inner.items()
        if not (isinstance(k, str) and isinstance(v, torch.Tensor))
    ]
    if bad:
        keys = ", ".join(sorted(str(k) for k in inner)[:_LIST_LIMIT])
        raise CheckpointError(
            f"checkpoint {path}: {where} is not a state dict of tensors; {len(bad)} of "
            f"{len(inner)} entries are not tensors: {', '.join(bad[:_LIST_LIMIT])} "
            f"(keys: {keys}).",
            path=path,
            reason="structure",
        )
    broken = [k for k, v in inner.items() if v.is_floating_point() and not v.isfinite().all()]
    if broken:
        raise CheckpointError(
            f"checkpoint {path}: {len(broken)} tensor(s) hold NaN or infinite values "
            f"({', '.join(sorted(broken)[:_LIST_LIMIT])}); every mask would be empty or noise.",
            path=path,
            reason="not-finite",
        )
    return dict(inner)


# ------------------------------------------------------------------------ conversion


def convert_official(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Official checkpoint names → ours (the same names), without touching the tensors.

    Strips the ``module.`` (DistributedDataParallel) and ``_orig_mod.`` (torch.compile)
    prefixes that wrapped saves put in front of the names; dtypes and devices are kept.
    """
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        new = key
        stripped = True
        while stripped:
            stripped = False
            for prefix in _WRAPPER_PREFIXES:
                if new.startswith(prefix):
                    new = new[len(prefix) :]
                    stripped = True
        if new in out:
            raise CheckpointError(
                f"checkpoint has both {key!r} and another key that also maps to {new!r}",
                reason="structure",
            )
        out[new] = value
    return out


# ------------------------------------------------------------------- identification

_BLOCK = re.compile(r"^image_encoder\.trunk\.blocks\.(\d+)\.")
_MEM_LAYER = re.compile(r"^memory_attention\.layers\.(\d+)\.")


def _shape_of(value: torch.Tensor | torch.Size | Iterable[int]) -> tuple[int, ...]:
    return tuple(value.shape) if isinstance(value, torch.Tensor) else tuple(value)


def _evidence(shapes: Mapping[str, Any]) -> dict[str, int]:
    """The hyper-parameters that the parameter shapes reveal (absent keys: not included).

    Image size (512 vs 1024) and the memory attention mode (``_1``/``_2``) leave no trace:
    no parameter depends on them.
    """
    found: dict[str, int] = {}

    def dim(key: str, axis: int) -> int | None:
        try:
            return _shape_of(shapes[key])[axis]
        except (KeyError, IndexError):
            return None

    pairs = {
        "embed_dim": dim("image_encoder.trunk.patch_embed.proj.weight", 0),
        "patch_size": dim("image_encoder.trunk.patch_embed.proj.weight", -1),
        "hidden_dim": dim("no_mem_embed", -1),
        "mem_dim": dim("maskmem_tpos_enc", -1),
        "num_maskmem": dim("maskmem_tpos_enc", 0),
        "ffn_dim": dim("memory_attention.layers.0.linear1.weight", 0),
        "kv_dim": dim("memory_attention.layers.0.cross_attn_image.k_proj.weight", -1),
    }
    found.update({k: v for k, v in pairs.items() if v is not None})
    blocks = {int(m.group(1)) for k in shapes if (m := _BLOCK.match(k))}
    if blocks:
        found["depth"] = max(blocks) + 1
    layers = {int(m.group(1)) for k in shapes if (m := _MEM_LAYER.match(k))}
    if layers:
        found["mem_layers"] = max(layers) + 1
    return found


def _config_evidence(config: EfficientTAMConfig) -> dict[str, int]:
    return {
        "embed_dim": config.encoder.embed_dim,
        "patch_size": config.encoder.patch_size,
        "hidden_dim": config.hidden_dim,
        "mem_dim": config.mem_dim,
        "num_maskmem": config.num_maskmem,
        "ffn_dim": config.memory_attention.ffn_dim,
        "kv_dim": config.memory_attention.kv_dim,
        "depth": config.encoder.depth,
        "mem_layers": config.memory_attention.num_layers,
    }


def _variants_for(evidence: Mapping[str, int]) -> list[str]:
    if "embed_dim" not in evidence:
        return []
    matches = []
    for name in OFFICIAL_VARIANTS:
        expected = _config_evidence(get_config(name))
        if all(expected[k] == v for k, v in evidence.items()):
            matches.append(name)
    return matches


def _variant_of_filename(filename: str | os.PathLike[str] | None) -> list[str]:
    if filename is None:
        return []
    base = Path(filename).name
    return [v for v in OFFICIAL_VARIANTS if get_config(v).checkpoint_file == base]


def infer_variants(
    state_dict: Mapping[str, Any], filename: str | os.PathLike[str] | None = None
) -> list[str]:
    """The official variants whose network has these parameter shapes, in ``VARIANTS`` order.

    Shapes tell ViT-Tiny (embed 192: ``ti``, ``ti_1``, ``ti_2``, ``ti_512x512``) from
    ViT-Small (embed 384: the ``s`` family) and nothing finer: the image size (512 vs 1024)
    and the ``_1``/``_2`` memory attention modes add no parameters. An official file name
    (``efficienttam_ti_512x512.pt``) narrows the list when it agrees with the shapes; a name
    that contradicts them is ignored (shapes win). ``mobile`` is never returned: it is the
    ``ti_512x512`` file run with another attention mode. Values may be tensors or shapes.
    """
    by_shape = _variants_for(_evidence(state_dict))
    by_name = _variant_of_filename(filename)
    narrowed = [v for v in by_shape if v in by_name]
    return narrowed or by_shape


def _label(variants: list[str]) -> str:
    """``ViT-Tiny`` / ``ViT-Small`` for a list of variants of one family."""
    embed = get_config(variants[0]).encoder.embed_dim
    return {192: "ViT-Tiny", 384: "ViT-Small"}.get(embed, f"a ViT with embed {embed}")


def _family(variants: list[str]) -> str:
    return f"a {_label(variants)} checkpoint ({', '.join(variants)})"


# ------------------------------------------------------------------------- checking


def check_state_dict(
    expected: Mapping[str, torch.Size | tuple[int, ...]],
    state_dict: Mapping[str, torch.Tensor],
    *,
    path: str | os.PathLike[str] | None = None,
    variant: str | None = None,
) -> None:
    """Raise :class:`CheckpointError` unless ``state_dict`` has exactly ``expected``'s keys
    and shapes (pass ``{k: v.shape for k, v in model.state_dict().items()}``).

    The message lists up to ten missing keys, unexpected keys and shape mismatches with
    their counts, and says which variant the checkpoint looks like when the shapes fit
    another official variant (then ``reason`` is ``wrong-variant``).
    """
    exp = {k: tuple(v) for k, v in expected.items()}
    got = {k: _shape_of(v) for k, v in state_dict.items()}
    missing = [k for k in exp if k not in got]
    unexpected = [k for k in got if k not in exp]
    mismatched = [k for k in exp if k in got and exp[k] != got[k]]
    if not (missing or unexpected or mismatched):
        return

    found = infer_variants(got, filename=path)
    network = _variants_for(_evidence(exp))  # by shape: "mobile" is ti_512x512 here
    where = f"checkpoint {path}" if path is not None else "the checkpoint"
    target = f"the {variant} network" if variant else "the network"
    wrong = bool(found) and not set(found) & set(network)
    if wrong:
        is_what = _label(network) if network else "no official EfficientTAM variant"
        head = (
            f"{where} looks like {_family(found)}, but {target} is {is_what}; "
            "choose a matching variant."
        )
    else:
        head = f"{where} does not fit {target}:"
    lines = [head]
    lines += _listing("missing key", missing, None)
    lines += _listing("unexpected key", unexpected, None)
    lines += _listing(
        "shape mismatch", mismatched, lambda k: f"{k}: file {got[k]} vs network {exp[k]}"
    )
    raise CheckpointError(
        "\n".join(lines),
        path=path,
        reason="wrong-variant" if wrong else "mismatch",
        expected_variant=variant,
        found_variant=", ".join(found) if found else None,
        missing_keys=missing,
        unexpected_keys=unexpected,
    )


def _listing(what: str, keys: list[str], fmt: Any) -> list[str]:
    if not keys:
        return []
    shown = [fmt(k) if fmt else k for k in keys[:_LIST_LIMIT]]
    more = f" (first {_LIST_LIMIT})" if len(keys) > _LIST_LIMIT else ""
    plural = "es" if what.endswith("ch") else "s"
    head = f"  {len(keys)} {what}{plural if len(keys) != 1 else ''}{more}:"
    return [head, *(f"    {s}" for s in shown)]


# -------------------------------------------------------------------------- writing


def save_checkpoint(state_dict: Mapping[str, torch.Tensor], path: str | os.PathLike[str]) -> None:
    """Write ``{"model": state_dict}`` to ``path`` atomically.

    The file is written to a temporary name in the same folder, flushed to disk and renamed
    over ``path``, so a crash, a full disk or a cancelled save never leaves a partial
    checkpoint (an existing file at ``path`` stays as it was).
    """
    path = Path(path)
    bad = [k for k, v in state_dict.items() if not isinstance(v, torch.Tensor)]
    if bad or not all(isinstance(k, str) for k in state_dict):
        raise CheckpointError(
            f"cannot save {path}: only a mapping of names to tensors can be saved; "
            f"not tensors: {', '.join(map(str, bad[:_LIST_LIMIT]))}",
            path=path,
            reason="structure",
        )
    if path.is_dir():
        raise CheckpointError(
            f"cannot save checkpoint to {path}: it is a folder.", path=path, reason="directory"
        )
    folder = path.parent
    if not folder.is_dir():
        raise CheckpointError(
            f"cannot save checkpoint to {path}: the folder {folder} does not exist.",
            path=path,
            reason="write-failed",
        )
    tmp: Path | None = None
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        tmp = Path(name)
        with os.fdopen(fd, "wb") as f:
            torch.save({"model": dict(state_dict)}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
        _fsync_dir(folder)
    except OSError as exc:
        raise CheckpointError(
            f"cannot save checkpoint to {path}: {exc.strerror or exc}; nothing was written.",
            path=path,
            reason="write-failed",
        ) from exc
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable (POSIX); not possible on Windows, where it is skipped."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
