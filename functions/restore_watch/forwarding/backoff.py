"""The pause before forwarding retries an AWS call: jittered, exponential, and never past the deadline."""

from __future__ import annotations

import random
from collections.abc import Callable

from common.timing import Timing
from dcs_restores import Deadline


def pause_before_retry(attempt: int, deadline: Deadline, timing: Timing, sleep: Callable[[float], None]) -> bool:
    """Wait a jittered backoff before retry ``attempt`` (1 for the first); ``False``, without waiting,
    when the deadline would leave too little time for the call after it."""
    pause = random.uniform(0, timing.retry_base_delay * 2**attempt)  # noqa: S311 - jitter, not crypto  # nosec B311
    if pause >= deadline.remaining() - timing.min_aws_call:
        return False
    sleep(pause)
    return True
