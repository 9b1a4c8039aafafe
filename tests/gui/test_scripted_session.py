"""The scripted editing session (tests/gui/scripted_session.py) for a short while: the real
window, real footage, the real network with seeded random weights, and a panel process
killed with SIGKILL. Run by hand for 10 minutes or more (its default); here ~60 s."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.gui, pytest.mark.slow]
SCRIPT = Path(__file__).with_name("scripted_session.py")


def test_a_scripted_session_loses_nothing(shaped_weights, media_dir, tmp_path):
    out = tmp_path / "session.json"
    # Up to 8 rounds (~35 s here when the machine is quiet), at least one on a slow one.
    args = [sys.executable, str(SCRIPT), "--duration", "60", "--rounds", "8"]
    args += ["--json", str(out)]
    done = subprocess.run(
        [*args, "--weights", str(shaped_weights)],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert out.is_file(), done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["failures"] == [], result
    assert done.returncode == 0, done.stderr[-3000:]
    counts = result["counts"]
    for what in ("clicks", "tracks", "undo_redo_checks", "exports", "errors"):
        assert counts.get(what, 0) >= 1, (what, counts)
    assert counts.get("exports_reusing_the_matte", 0) >= 1  # the second timeline format
    assert result["recovery_after_sigkill"]["offered"]
    assert result["busy_appears_ms_max"] < 100  # the bound
    assert result["first_click_ms"] > 0 and result["cached_click_ms"] > 0
    assert result["rss_mb"]["peak"] >= result["rss_mb"]["start"]
