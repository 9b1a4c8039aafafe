"""Exponential backoff for reconnecting to OBS and reopening a camera.

Retrying at once in a loop would burn the CPU the tracker needs and flood the logs; waiting
too long after the device comes back makes the stream look dead. Doubling from a short
first delay up to a cap, with a little jitter so two bridges do not retry in lockstep,
gives both.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays ``initial, initial·factor, …`` capped at ``maximum``, each ±``jitter`` (fraction).

    ``next_delay()`` returns the delay before the next attempt; ``reset()`` after a success.
    """

    initial: float = 0.5
    factor: float = 2.0
    maximum: float = 8.0
    jitter: float = 0.1
    attempts: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        if not (self.initial > 0 and self.factor >= 1 and self.maximum >= self.initial):
            raise ValueError(
                f"backoff needs initial > 0, factor >= 1, maximum >= initial; got {self}"
            )
        if not 0 <= self.jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), got {self.jitter}")

    def next_delay(self) -> float:
        base = min(self.maximum, self.initial * self.factor**self.attempts)
        self.attempts += 1
        if self.jitter:
            base *= 1.0 + self._rng.uniform(-self.jitter, self.jitter)
        return base

    def reset(self) -> None:
        self.attempts = 0
