"""The Qt binding the panel runs on is sound (a broken release crashes the whole panel)."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QObject, Signal

pytestmark = pytest.mark.gui


class _Emitter(QObject):
    fired = Signal(object)


def test_signal_emit_keeps_reference_counts() -> None:
    """PySide6 6.12.0 drops a reference to ``True`` on each ``emit()``; after a few thousand
    signals Python aborts with "bool_dealloc". pyproject excludes that release."""
    emitter = _Emitter()
    received = []
    emitter.fired.connect(received.append)
    before = sys.getrefcount(True)
    for i in range(200):
        emitter.fired.emit(i)
    assert len(received) == 200
    assert sys.getrefcount(True) - before >= 0
