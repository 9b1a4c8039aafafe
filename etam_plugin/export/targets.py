"""Where an output may go, checked before any long work starts.

Two rules, so that a run neither fails at its end nor destroys what is not its own:
- an output never resolves to an input (the clip, the timeline, the prompts file, the
  checkpoint), whether through a relative path, a symbolic link or a hard link;
- a folder output replaces only what it writes: a sequence, which replaces its whole folder
  atomically, refuses a folder holding anything it would not write itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from etam_plugin.errors import ExportError

Owns = Callable[[str], bool]
"""Whether a file name inside an output folder is one this output writes."""


def absolute(path: str | Path) -> Path:
    return Path(path).expanduser().absolute()


def same_file(a: Path, b: Path) -> bool:
    """The same file or folder: by inode when both exist (hard and symbolic links
    included), else by resolved path."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return absolute(a).resolve() == absolute(b).resolve()


def refuse_inputs(output: Path, inputs: Mapping[str, Path], what: str) -> None:
    """``output`` must be none of ``inputs`` (name → path)."""
    for name, path in inputs.items():
        if same_file(output, path):
            raise ExportError(
                f"{what} {output} is the {name} this run reads ({path}): choose another name",
                path=output,
            )


def refuse_inputs_inside(folder: Path, inputs: Mapping[str, Path], what: str) -> None:
    """No input may lie inside ``folder`` (an output folder that will be replaced)."""
    root = absolute(folder).resolve()
    for name, path in inputs.items():
        if root in absolute(path).resolve().parents:
            raise ExportError(
                f"{what} {folder} holds the {name} this run reads ({path}): "
                "write the output somewhere else",
                path=folder,
            )


def _writable(folder: Path, what: str, target: Path) -> None:
    if not os.access(folder, os.W_OK | os.X_OK):
        read_only = hasattr(os, "statvfs") and os.statvfs(folder).f_flag & os.ST_RDONLY
        why = "Read-only file system" if read_only else "Permission denied"
        raise ExportError(f"{what}: the folder {folder} is not writable ({why})", path=target)


def file_target(path: str | Path, what: str, *, make_parents: bool = False) -> Path:
    """A file output: not a folder, in an existing, writable folder (``make_parents``:
    missing folders will be made, so the nearest existing one must be writable)."""
    target = absolute(path)
    if target.is_dir():
        raise ExportError(f"{what} {target} is a folder: give a file name", path=target)
    if make_parents and not target.parent.exists():
        folder_target(target.parent, what, make_parents=True)
        return target
    if target.parent.exists() and not target.parent.is_dir():
        raise ExportError(f"{what}: {target.parent} is not a folder", path=target)
    if not target.parent.is_dir():
        raise ExportError(f"{what}: output folder does not exist: {target.parent}", path=target)
    _writable(target.parent, what, target)
    return target


def folder_target(
    path: str | Path, what: str, *, owns: Owns | None = None, make_parents: bool = False
) -> Path:
    """A folder output. ``owns`` given: the folder is replaced whole, so it must be new,
    empty or hold only files ``owns`` accepts (an earlier output of the same name).
    ``make_parents``: missing parent folders will be created (else the parent must exist)."""
    target = absolute(path)
    if target.exists() and not target.is_dir():
        raise ExportError(f"{what} {target} is a file, not a folder", path=target)
    if target.is_dir():
        if owns is not None:
            foreign(target, owns, what)
        _writable(target, what, target)
        if owns is None:
            return target
    existing = target.parent
    while make_parents and not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        if existing.exists():
            raise ExportError(f"{what}: {existing} is not a folder", path=target)
        raise ExportError(f"{what}: output folder does not exist: {existing}", path=target)
    _writable(existing, what, target)
    return target


def foreign(folder: Path, owns: Owns, what: str) -> None:
    """Refuses ``folder`` if it holds anything ``owns`` does not accept."""
    others = sorted(e.name for e in folder.iterdir() if not owns(e.name))
    if others:
        shown = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
        raise ExportError(
            f"{what} {folder} already holds files this export does not write ({shown}); "
            "the export replaces its whole folder, so give a new or empty folder",
            path=folder,
        )


def distinct(outputs: Iterable[tuple[str, Path]]) -> None:
    """Two outputs of one run must not be the same path."""
    seen: dict[Path, str] = {}
    for what, path in outputs:
        key = absolute(path).resolve()
        if key in seen:
            raise ExportError(f"{what} and {seen[key]} are the same path: {path}", path=path)
        seen[key] = what
