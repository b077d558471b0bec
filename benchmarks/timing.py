"""What every benchmark shares: a median timer and the table row."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Unit = Literal["s", "MiB", "MB"]  # seconds; bytes shown in MiB (memory) or in MB (sizes on disk)
MIB = 1024 * 1024
MB = 1000 * 1000


@dataclass(frozen=True)
class Row:
    """One comparison; ``ratio`` is ours / reference, so lower is better for us.

    ``ours`` and ``reference`` are seconds when ``unit`` is ``"s"``, else bytes. A row with no
    reference has no ratio.
    """

    benchmark: str
    ours: float
    reference: float | None
    note: str
    unit: Unit = "s"

    @property
    def ratio(self) -> float | None:
        return None if self.reference is None else self.ours / self.reference

    def show(self, value: float | None) -> str:
        """``value`` (``ours`` or ``reference``) as the table prints it."""
        if value is None:
            return "-"
        if self.unit == "MiB":
            return f"{value / MIB:.1f} MiB"
        if self.unit == "MB":
            return f"{value / MB:.1f} MB"
        return f"{value:.2f} s" if value >= 1 else f"{value * 1000:.1f} ms"


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


def goal_verdict(value: float, goal: float, shown: str) -> str:
    """The same for an absolute goal: ``shown`` is the goal as written, e.g. ``128 MiB``."""
    return f"target <= {shown}: {'met' if value <= goal else 'MISSED'}"
