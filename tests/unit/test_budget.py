"""The invocation's time, split into its named parts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from common.timing import Timing
from restore_watch.budget import Budget

TIMING = Timing(response_reserve=1.0, min_aws_call=1.0, http_integration=30.0, lease_margin=10.0)  # forwarding: 4 s


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_dcs_reads_leave_the_forwarding_reserve_and_the_work_leaves_the_response_reserve() -> None:
    # Given an invocation with 120 s left
    clock = Clock()
    budget = Budget.of(120.0, TIMING, clock=clock)
    # Then DCS reads end 5 s early, forwarding 1 s early, and the invocation when Lambda ends it
    assert budget.dcs_reads.remaining() == pytest.approx(115.0)
    assert budget.work.remaining() == pytest.approx(119.0)
    assert budget.invocation.remaining() == pytest.approx(120.0)
    # And every part runs down with the clock
    clock.now += 50.0
    assert budget.dcs_reads.remaining() == pytest.approx(65.0)


def test_an_http_request_is_answered_before_the_integration_gives_up() -> None:
    # Given an HTTP request with Lambda's full 120 s left
    budget = Budget.of(120.0, TIMING, http=True, clock=Clock())
    # Then the work fits the HTTP API's 30 s, while the invocation itself may run on
    assert budget.work.remaining() == pytest.approx(29.0)
    assert budget.dcs_reads.remaining() == pytest.approx(25.0)
    assert budget.invocation.remaining() == pytest.approx(120.0)


def test_a_short_invocation_keeps_its_own_end() -> None:
    budget = Budget.of(10.0, TIMING, http=True, clock=Clock())
    assert budget.work.remaining() == pytest.approx(9.0)


def test_a_claim_lasts_as_long_as_the_invocation_may_run_and_a_margin() -> None:
    # Given an invocation with 60 s left (over HTTP: Lambda does not stop it when the HTTP API gives up)
    clock = Clock()
    budget = Budget.of(60.0, TIMING, http=True, clock=clock)
    assert budget.lease() == timedelta(seconds=70)
    # When 45 s have passed, Then a claim taken now needs 15 s and the margin
    clock.now += 45.0
    assert budget.lease() == timedelta(seconds=25)
    # And past the end, only the margin
    clock.now += 100.0
    assert budget.lease() == timedelta(seconds=10)
