"""The least time a workflow's step may give a watch: enough to read, forward a failed restore and answer.

The handler runs end to end: DCS is the loopback emulator, SQS and DynamoDB are moto's.
"""

from __future__ import annotations

import pytest

from dcs_restores import DcsTimeoutError, InvalidQueryError
from devkit.emulator import Emulator
from devkit.invoke import LocalContext
from restore_watch.app import lambda_handler
from restore_watch.triggers import MIN_TIME_LIMIT_SECONDS

from ..support import AwsResources, load_event


def all_of_lambda_s_time() -> LocalContext:
    """A fresh invocation's context with the template's whole timeout left: only the event limits the watch."""
    return LocalContext(remaining_ms=120_000)


@pytest.mark.parametrize("dcs_latency", [0.0, 1.0], ids=["dcs-at-once", "dcs-a-second-late"])
def test_the_shortest_time_limit_queues_every_failed_restore_of_the_window(
    function_env: dict[str, str], emulator: Emulator, aws: AwsResources, dcs_latency: float
) -> None:
    # Given a window with failed restores, DCS answering at once or a second late
    emulator.faults.latency = dcs_latency
    event = {**load_event("direct-invoke.json"), "time_limit_seconds": MIN_TIME_LIMIT_SECONDS}

    # When a workflow's step gives the watch the least time it may
    payload = lambda_handler(event, all_of_lambda_s_time())

    # Then every failed restore of the window was claimed, queued and marked
    failed = payload["counts"]["failed"]
    assert failed > 0
    assert payload["forwarded"] == {"queued": failed, "already_forwarded": 0, "possible_duplicates": 0}
    assert len(aws.messages()) == failed


def test_a_time_limit_below_the_shortest_is_refused_by_name_before_dcs_is_asked(
    function_env: dict[str, str], emulator: Emulator
) -> None:
    event = {**load_event("direct-invoke.json"), "time_limit_seconds": MIN_TIME_LIMIT_SECONDS - 1}
    with pytest.raises(InvalidQueryError) as refused:
        lambda_handler(event, all_of_lambda_s_time())
    assert refused.value.field == "time_limit_seconds"
    assert f"greater than or equal to {MIN_TIME_LIMIT_SECONDS}" in str(refused.value)
    assert emulator.restore_requests() == []


def test_a_time_limit_ends_the_watch_with_a_named_error_before_lambda_s_time(
    function_env: dict[str, str], emulator: Emulator
) -> None:
    # Given DCS slower than the whole time a workflow's step allows, with all of Lambda's time left
    emulator.faults.latency = float(MIN_TIME_LIMIT_SECONDS)
    event = {**load_event("direct-invoke.json"), "time_limit_seconds": MIN_TIME_LIMIT_SECONDS}

    # Then the watch gives up on DCS within the step's time, with a retryable named error
    with pytest.raises(DcsTimeoutError):
        lambda_handler(event, all_of_lambda_s_time())
