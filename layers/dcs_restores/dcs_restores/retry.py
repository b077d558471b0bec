"""Deadlines and backoff: how long the client may still spend, and how long to wait between tries."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


class Deadline:
    """A point in monotonic time after which no new work may start.

    Build it from a Lambda context with ``Deadline.after(context.get_remaining_time_in_millis() / 1000)``.
    """

    def __init__(self, at: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._at = at
        self._clock = clock

    @classmethod
    def after(cls, seconds: float, clock: Callable[[], float] = time.monotonic) -> Deadline:
        return cls(clock() + seconds, clock)

    @classmethod
    def never(cls) -> Deadline:
        return cls(math.inf)

    def remaining(self) -> float:
        return self._at - self._clock()

    def before(self, seconds: float) -> Deadline:
        """The same deadline, ``seconds`` earlier: time kept back for work after this part."""
        return Deadline(self._at - seconds, self._clock)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, at least as long as the server's ``Retry-After``."""

    max_attempts: int = 4
    base_delay: float = 0.2
    max_delay: float = 5.0
    max_retry_after: float = 60.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (0-based)."""
        backoff = self.rng.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))
        if retry_after is None:
            return backoff
        return max(backoff, min(retry_after, self.max_retry_after))


def parse_retry_after(value: str | None, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP date. ``None`` when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():  # "²".isdigit() is true too
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now()).total_seconds())
