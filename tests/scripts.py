"""Our console scripts as the running interpreter's environment installed them."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def console_script(name: str) -> str | None:
    """``name`` beside this interpreter (a virtual environment need not be on PATH: the
    README runs ``.venv/bin/python -m pytest``), else on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() else shutil.which(name)
