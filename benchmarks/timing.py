"""What every benchmark shares: a median timer and the table row."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """One comparison; ``ratio`` is ours / reference, so lower is better for us."""

    benchmark: str
    ours: float  # seconds
    reference: float  # seconds
    note: str

    @property
    def ratio(self) -> float:
        return self.ours / self.reference


def median_seconds(*works: Callable[[], object], repeats: int, warmup: int = 1) -> list[float]:
    """Median wall time of each of ``works`` over ``repeats`` rounds, after ``warmup`` untimed calls.

    The works take turns within each round, so a noisy neighbour slows them all alike.
    """
    for work in works:
        for _ in range(warmup):
            work()
    times: list[list[float]] = [[] for _ in works]
    for _ in range(repeats):
        for work, spent in zip(works, times, strict=True):
            start = time.perf_counter()
            work()
            spent.append(time.perf_counter() - start)
    return [statistics.median(spent) for spent in times]


def verdict(ratio: float, target: float) -> str:
    return f"target <= {target}x: {'met' if ratio <= target else 'MISSED'}"
