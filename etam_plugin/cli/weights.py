"""`etam-plugin weights list|download VARIANT|path VARIANT`: the official weights on disk."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from etam_plugin.model.config import VARIANTS

if TYPE_CHECKING:
    from etam_plugin.weights import WeightsInfo

NAME = "weights"
HELP = "List, download or locate the official EfficientTAM weights."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    listing = sub.add_parser("list", help="variants, their files, and which are on this computer")
    listing.add_argument("--json", action="store_true", help="print the table as JSON")
    download = sub.add_parser("download", help="fetch a variant's weights (with progress)")
    download.add_argument("variant", choices=VARIANTS, metavar="VARIANT", help=_variants_help())
    path = sub.add_parser("path", help="print where a variant's weights are (no download)")
    path.add_argument("variant", choices=VARIANTS, metavar="VARIANT", help=_variants_help())


def _variants_help() -> str:
    return f"one of {', '.join(VARIANTS)}"


def run(args: argparse.Namespace) -> int:
    from etam_plugin import weights

    if args.action == "list":
        rows = weights.list_weights()
        if args.json:
            print(json.dumps([_row_dict(r) for r in rows], indent=2))
        else:
            print(_table(rows, weights.weights_dir()))
        return 0
    if args.action == "download":
        path = weights.download_weights(args.variant, progress=True)
        print(path)
        return 0
    print(weights.require_weights(args.variant))  # or the offline instructions, exit 2
    return 0


def _row_dict(row: WeightsInfo) -> dict[str, object]:
    return {
        "variant": row.variant,
        "image_size": row.image_size,
        "attention": row.attention,
        "file": row.filename,
        "local_path": str(row.local_path) if row.local_path else None,
    }


def _table(rows: list[WeightsInfo], folder: Path) -> str:
    header = ("variant", "size", "attention", "file", "on this computer")
    body = [
        (
            r.variant,
            f"{r.image_size}²",
            r.attention,
            r.filename,
            str(r.local_path) if r.local_path else "not downloaded",
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header) - 1)]
    lines = []
    for line in [header, *body]:
        cells = [cell.ljust(w) for cell, w in zip(line[:-1], widths, strict=True)]
        lines.append("  ".join([*cells, line[-1]]))
    lines.append(f"\nPut files by hand in {folder} (or set ETAM_WEIGHTS_DIR).")
    return "\n".join(lines)
