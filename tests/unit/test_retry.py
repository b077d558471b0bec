import random
from datetime import UTC, datetime

import pytest

from dcs_restores import Deadline, RetryPolicy
from dcs_restores.retry import parse_retry_after

NOW = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("3", 3.0),
        (" 0 ", 0.0),
        ("Mon, 01 Jan 2024 12:00:30 GMT", 30.0),
        ("Mon, 01 Jan 2024 11:00:00 GMT", 0.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("\u00b2", None),  # a digit to str.isdigit(), not to float()
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, lambda: NOW) == seconds


def test_backoff_grows_with_full_jitter_and_honours_retry_after() -> None:
    policy = RetryPolicy(base_delay=0.1, max_delay=1.0, max_retry_after=20.0, rng=random.Random(1))
    for attempt in range(8):
        assert 0 <= policy.delay(attempt) <= min(1.0, 0.1 * 2**attempt)
    assert policy.delay(0, retry_after=5.0) == 5.0
    assert policy.delay(0, retry_after=3600.0) == 20.0  # a server cannot park us for an hour


def test_at_least_one_attempt() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)


def test_deadline_counts_down_on_its_clock() -> None:
    now = [100.0]
    deadline = Deadline.after(5.0, clock=lambda: now[0])
    now[0] = 103.5
    assert deadline.remaining() == 1.5
    assert Deadline.never().remaining() == float("inf")
