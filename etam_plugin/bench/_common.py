"""Argument helpers shared by the benchmarks that work on frames of a chosen size."""

from __future__ import annotations


def parse_size(text: str, minimum: int = 16) -> tuple[int, int]:
    """``"1920x1080"`` → (1920, 1080); a clear exit for anything else."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SystemExit(f"--size must look like 1920x1080, got {text!r}") from None
    if w < minimum or h < minimum:
        raise SystemExit(f"--size must be at least {minimum}x{minimum}")
    return w, h
