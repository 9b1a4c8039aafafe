"""`etam-plugin bench NAME`: run one of the benchmarks in ``etam_plugin.bench``."""

from __future__ import annotations

import argparse
import importlib
import pkgutil

import etam_plugin.bench as bench_pkg

NAME = "bench"
HELP = "Measure speed and memory (prints a table; --json writes the numbers)."


def _benchmarks() -> list:
    found = []
    for info in sorted(pkgutil.iter_modules(bench_pkg.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{bench_pkg.__name__}.{info.name}")
        if hasattr(module, "NAME") and hasattr(module, "run"):
            found.append(module)
    return found


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="benchmark", metavar="BENCHMARK")
    sub.required = True
    for module in _benchmarks():
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_bench_run=module.run)


def run(args: argparse.Namespace) -> int:
    return int(args._bench_run(args) or 0)
