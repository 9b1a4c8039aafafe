"""The manifest of an ONNX export folder: what the graphs are and how they fit together.

Written by ``etam_plugin.model.onnx_export`` (format ``etam-plugin-onnx``, version 1);
read here with the standard library only, so the runtime needs neither torch nor the model.
Errors are :class:`~etam_plugin.errors.OnnxError` (importing the error module is torch-free).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from etam_plugin.devices import ONNX_PRECISIONS
from etam_plugin.errors import OnnxError
from etam_plugin.model.onnx_format import FORMAT, FORMAT_VERSION, MANIFEST_FILE

PRECISIONS = ONNX_PRECISIONS


@dataclass(frozen=True)
class GraphInfo:
    """One graph: its file and the names of its inputs and outputs, in order."""

    name: str
    file: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class Manifest:
    """The parsed ``manifest.json`` of ``folder``; ``raw`` keeps every field."""

    folder: Path
    raw: Mapping
    variant: str
    image_size: int
    feature_size: int
    hidden_dim: int
    mem_dim: int
    mode: str
    pool_window: int
    num_layers: int
    num_heads: int
    kv_dim: int
    graphs: Mapping[str, GraphInfo]
    int8: Mapping[str, GraphInfo]

    @property
    def precisions(self) -> tuple[str, ...]:
        return ("fp32", "int8") if self.int8 else ("fp32",)

    def graph(self, name: str, precision: str = "fp32") -> GraphInfo:
        """The graph to run for ``name``: its int8 version where one exists and asked for."""
        if precision == "int8" and name in self.int8:
            return self.int8[name]
        try:
            return self.graphs[name]
        except KeyError:
            raise OnnxError(
                f"{self.folder} has no {name} graph (it has {', '.join(self.graphs)})",
                path=self.folder,
                reason="graph-missing",
            ) from None

    def path(self, name: str, precision: str = "fp32") -> Path:
        return self.folder / self.graph(name, precision).file


def _graphs(entries: Mapping, folder: Path) -> dict[str, GraphInfo]:
    graphs = {}
    for name, entry in entries.items():
        graphs[name] = GraphInfo(
            name=name,
            file=str(entry["file"]),
            inputs=tuple(t["name"] for t in entry["inputs"]),
            outputs=tuple(t["name"] for t in entry["outputs"]),
        )
        if not (folder / graphs[name].file).is_file():
            raise OnnxError(
                f"{folder}: the manifest lists {graphs[name].file}, which is missing",
                path=folder / graphs[name].file,
                reason="graph-missing",
            )
    return graphs


def read_manifest(folder: str | Path) -> Manifest:
    """Reads and checks ``folder/manifest.json`` (every listed graph file must exist)."""
    folder = Path(folder)
    path = folder / MANIFEST_FILE
    if not folder.is_dir():
        raise OnnxError(f"no ONNX export folder at {folder}", path=folder, reason="missing")
    if not path.is_file():
        raise OnnxError(
            f"{folder} is not an ONNX export (no {MANIFEST_FILE}); make one with "
            "'etam-plugin export-onnx'",
            path=folder,
            reason="not-an-export",
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise OnnxError(f"cannot read {path}: {exc}", path=path, reason="unreadable") from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise OnnxError(
            f"{path} is not an etam-plugin ONNX manifest", path=path, reason="not-an-export"
        )
    if raw.get("format_version") != FORMAT_VERSION:
        raise OnnxError(
            f"{path} has format version {raw.get('format_version')}; this etam-plugin reads "
            f"version {FORMAT_VERSION}: export the model again",
            path=path,
            reason="version",
        )
    try:
        attn = raw["attention"]
        return Manifest(
            folder=folder,
            raw=raw,
            variant=str(raw["variant"]),
            image_size=int(raw["image_size"]),
            feature_size=int(raw["feature_size"]),
            hidden_dim=int(raw["hidden_dim"]),
            mem_dim=int(raw["mem_dim"]),
            mode=str(attn["mode"]),
            pool_window=int(attn["pool_window"]),
            num_layers=int(attn["num_layers"]),
            num_heads=int(attn["num_heads"]),
            kv_dim=int(attn["kv_dim"]),
            graphs=_graphs(raw["graphs"], folder),
            int8=_graphs(raw.get("int8") or {}, folder),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise OnnxError(
            f"{path} is incomplete or malformed ({type(exc).__name__}: {exc})",
            path=path,
            reason="unreadable",
        ) from exc
