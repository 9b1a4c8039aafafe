"""The `etam-plugin` command.

Each subcommand is a module in this package exposing ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``. Modules are found by scanning the
package so that subcommands can be added without touching a shared list; heavy imports
(torch, Qt, PyAV) happen inside ``run`` so ``etam-plugin --help`` stays fast.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import pkgutil
import signal
import sys
import threading
from collections.abc import Iterator, Sequence

from etam_plugin import __version__
from etam_plugin.errors import EtamError


def _subcommand_modules() -> list:
    modules = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "NAME") and hasattr(module, "run"):
            modules.append(module)
    return modules


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="etam-plugin",
        description="Rotoscoping and live object masking with EfficientTAM.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in _subcommand_modules():
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the program is, so it unwinds and cleans up exactly
    as on Ctrl-C (staged outputs and temporary folders removed)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _terminate(signum: int, _frame: object) -> None:
    raise Terminated(signum)


@contextlib.contextmanager
def _clean_exit_on_termination(command: str) -> Iterator[None]:
    """SIGTERM/SIGHUP act as Ctrl-C for the command-line jobs. The panel (Qt's loop) and
    the live bridge (its own clean stop) handle signals themselves."""
    if command in ("panel", "live") or threading.current_thread() is not threading.main_thread():
        yield
        return
    wanted = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous = {s: signal.signal(s, _terminate) for s in wanted}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code (0 only on success)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with _clean_exit_on_termination(args.command):
            return int(args._run(args) or 0)
    except EtamError as exc:
        print(f"etam-plugin {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except Terminated as exc:
        print(f"etam-plugin {args.command}: terminated ({exc})", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print(f"etam-plugin {args.command}: interrupted", file=sys.stderr)
        return 130
