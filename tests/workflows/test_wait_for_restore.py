"""statemachines/wait_for_restore.asl.json, as shipped, on moto's interpreter against the emulator.

Each poll is a real watch (the handler, DCS at the loopback emulator, SQS and DynamoDB in moto);
the emulator moves the restore through its statuses one read at a time; the Wait states are
recorded, not slept through.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import pytest
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

from dcs_restores import RestoreRecord, RetryPolicy
from dcs_restores.models import describe_error
from devkit.emulator import DEFAULT_INSTANCE_ID, PROGRESS_ERROR_CODE, Emulator, Scripted
from devkit.seed import generate_records
from devkit.workflows import LocalWorkflows
from tests.support import AwsResources

from . import stated
from .conftest import InterpreterTime, run

# Restores started in the last two hours (all succeeded, as stored): inside the default lookback (PT24H) of any poll.
RECORDS = generate_records(6, start=datetime.now(UTC) - timedelta(hours=2), step=timedelta(minutes=10), failed_every=0)
WATCHED = RECORDS[0]["restore_id"]


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    server = Emulator(RECORDS)
    server.start()
    yield server
    server.stop()


def wait_for(workflows: LocalWorkflows, restore_id: str = WATCHED, **options: Any) -> Any:
    return run(workflows.wait_for_restore, {"instance_id": DEFAULT_INSTANCE_ID, "restore_id": restore_id, **options})


def queued_restore_ids(aws: AwsResources) -> list[str]:
    return sorted(json.loads(message["Body"])["restore_id"] for message in aws.messages())


def test_a_restore_that_fails_fails_the_execution_with_its_dcs_error_and_is_queued_once(
    workflows: LocalWorkflows, emulator: Emulator, aws: AwsResources, interpreter_time: InterpreterTime
) -> None:
    # Given a restore that DCS shows waiting, then restoring, then failed
    emulator.progress(WATCHED, ["waiting", "restoring", "failed"])

    # When the workflow waits for it, polling every 30 s (the default)
    done = wait_for(workflows)

    # Then it polled three times, waited twice, and failed with RestoreFailed and the DCS code and message
    assert (done.status, done.error) == ("FAILED", "RestoreFailed")
    assert done.cause == (
        f"restore {WATCHED} of instance {DEFAULT_INSTANCE_ID} failed: "
        f"DCS error {PROGRESS_ERROR_CODE}: {describe_error(PROGRESS_ERROR_CODE)}"
    )
    assert interpreter_time.waits == [30, 30]
    assert len(emulator.restore_requests()) == 3
    # And the failed restore was forwarded once, as any watch forwards it
    assert queued_restore_ids(aws) == [WATCHED]


def test_a_restore_that_succeeds_is_the_output(
    workflows: LocalWorkflows, emulator: Emulator, aws: AwsResources, interpreter_time: InterpreterTime
) -> None:
    # Given a restore still restoring at the first poll, done at the second
    emulator.progress(WATCHED, ["restoring", "succeed"])

    # When the workflow waits for it with a poll interval of its own
    done = wait_for(workflows, poll_seconds=5)

    # Then the output is the normalised record, as the watch reports it
    expected = RestoreRecord.model_validate({**RECORDS[0], "status": "succeed"})
    assert done.status == "SUCCEEDED"
    assert done.output == {**expected.model_dump(mode="json"), "cut_fields": []}
    assert interpreter_time.waits == [5]
    assert aws.messages() == []


def test_a_restore_dcs_never_lists_is_not_found_once_the_maximum_wait_is_reached(
    workflows: LocalWorkflows, emulator: Emulator, interpreter_time: InterpreterTime
) -> None:
    # When the workflow waits for a restore DCS does not list, for at most 90 s at 30 s a poll
    done = wait_for(workflows, restore_id="not-a-listed-restore", max_wait_seconds=90)

    # Then it polled at 0, 30, 60 and 90 s and failed with RestoreNotFound
    assert (done.status, done.error) == ("FAILED", "RestoreNotFound")
    assert done.cause == (
        f"DCS did not list restore not-a-listed-restore of instance {DEFAULT_INSTANCE_ID} "
        "in 4 polls and 90 seconds waited (lookback PT24H)"
    )
    assert interpreter_time.waits == [30, 30, 30]
    assert len(emulator.restore_requests()) == 4


def test_a_restore_listed_then_no_longer_listed_is_not_found_at_once(
    workflows: LocalWorkflows, emulator: Emulator, interpreter_time: InterpreterTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a restore DCS lists as restoring, and from the first wait on lists no more (its records renamed)
    emulator.progress(WATCHED, ["restoring"])

    def wait_then_forget(_self: Any, env: Any, wait_seconds: int) -> None:  # moto passes them by name
        interpreter_time.waits.append(wait_seconds)
        emulator.faults.drift = {index: {"restore_id": f"another-{index}"} for index in range(len(RECORDS))}

    monkeypatch.setattr(WaitFunction, "_wait_interval", wait_then_forget)

    # When the workflow waits for it
    done = wait_for(workflows)

    # Then the poll after the wait ends it: not found, saying it was listed before, not that it had not finished
    assert (done.status, done.error) == ("FAILED", "RestoreNotFound")
    assert done.cause == (
        f"restore {WATCHED} of instance {DEFAULT_INSTANCE_ID} was listed, then not: poll 2 did not find it, "
        "after 30 seconds waited (lookback PT24H, started_at null)"
    )
    assert interpreter_time.waits == [30]
    assert len(emulator.restore_requests()) == 2


def test_a_restore_dcs_lists_both_succeeded_and_failed_fails_as_invalid_at_once(
    workflows: LocalWorkflows, emulator: Emulator, aws: AwsResources, interpreter_time: InterpreterTime
) -> None:
    # Given DCS listing the restore twice: succeeded, and failed
    emulator.add_records([{**RECORDS[0], "status": "failed", "error_code": PROGRESS_ERROR_CODE}])

    # When the workflow waits for it
    done = wait_for(workflows)

    # Then the first poll ends it with RestoreInvalid and the invalid record's reason, not as never listed
    assert (done.status, done.error) == ("FAILED", "RestoreInvalid")
    assert done.cause == (
        f"DCS listed restore {WATCHED} of instance {DEFAULT_INSTANCE_ID} only as an invalid record: "
        "status: DCS reported this restore both succeed and failed"
    )
    assert interpreter_time.waits == []
    assert len(emulator.restore_requests()) == 1
    # And a restore whose outcome cannot be told is not forwarded as failed
    assert aws.messages() == []


def test_a_restore_still_running_at_the_maximum_wait_times_out(
    workflows: LocalWorkflows, emulator: Emulator, interpreter_time: InterpreterTime
) -> None:
    # Given a restore that never finishes
    emulator.progress(WATCHED, ["waiting", "restoring"])

    # When the workflow waits for it for at most 60 s
    done = wait_for(workflows, poll_seconds=20, max_wait_seconds=60)

    # Then it gave up after 60 s with RestoreWaitTimedOut, not RestoreNotFound: DCS did list it
    assert (done.status, done.error) == ("FAILED", "RestoreWaitTimedOut")
    assert done.cause == (
        f"restore {WATCHED} of instance {DEFAULT_INSTANCE_ID} had not finished after 4 polls and 60 seconds waited"
    )
    assert interpreter_time.waits == [20, 20, 20]


def test_polling_back_to_back_is_bounded_by_max_polls(
    workflows: LocalWorkflows, emulator: Emulator, interpreter_time: InterpreterTime
) -> None:
    # Given a restore that never finishes, polled with no wait at all: the time waited never grows
    emulator.progress(WATCHED, ["restoring"])

    # When the workflow may poll five times
    done = wait_for(workflows, poll_seconds=0, max_polls=5)

    # Then it polled five times and timed out
    assert (done.status, done.error) == ("FAILED", "RestoreWaitTimedOut")
    assert len(emulator.restore_requests()) == 5
    assert interpreter_time.waits == [0, 0, 0, 0]


def test_a_poll_that_meets_an_unavailable_dcs_is_retried_by_the_state_machine(
    workflows: LocalWorkflows, emulator: Emulator, interpreter_time: InterpreterTime
) -> None:
    # Given DCS unavailable for the whole first poll (the client's own four attempts)
    emulator.script(*[Scripted(status=503)] * 4)

    # When the workflow waits for a restore that has succeeded
    done = wait_for(workflows)

    # Then the state machine retried the poll once, after at most its first backoff, and succeeded
    assert done.status == "SUCCEEDED"
    assert done.output["restore_id"] == WATCHED
    [backoff] = interpreter_time.retries
    assert 0 <= backoff <= 2
    assert len(emulator.restore_requests()) == 5


def test_a_poll_is_retried_as_often_as_the_docs_say(
    workflows: LocalWorkflows, emulator: Emulator, interpreter_time: InterpreterTime
) -> None:
    # Given DCS unavailable for the first poll and for every retry of it the docs state but the last
    attempts = stated.retry_attempts()
    emulator.script(*[Scripted(status=503)] * (RetryPolicy().max_attempts * attempts))  # each try: the client's own

    # When the workflow waits for a restore that has succeeded
    done = wait_for(workflows)

    # Then the state machine retried the poll that often, and the last try found the restore
    assert done.status == "SUCCEEDED"
    assert done.output["restore_id"] == WATCHED
    assert len(interpreter_time.retries) == attempts


@pytest.mark.parametrize(
    "options",
    [{"poll_seconds": "30"}, {"poll_seconds": -1}, {"max_wait_seconds": None}, {"max_polls": 0}, {"max_polls": 1001}],
    ids=["text", "negative", "null", "no-polls", "too-many-polls"],
)
def test_bad_wait_settings_fail_with_invalid_query_error_before_any_poll(
    workflows: LocalWorkflows, emulator: Emulator, options: dict[str, Any]
) -> None:
    done = wait_for(workflows, **options)
    assert (done.status, done.error) == ("FAILED", "InvalidQueryError")
    assert emulator.restore_requests() == []


def test_a_bad_instance_fails_with_the_watch_s_named_error_without_retries(
    workflows: LocalWorkflows, emulator: Emulator, interpreter_time: InterpreterTime
) -> None:
    done = run(workflows.wait_for_restore, {"instance_id": "../etc", "restore_id": WATCHED})
    assert (done.status, done.error) == ("FAILED", "InvalidQueryError")
    assert "instance_id" in (done.cause or "")
    assert interpreter_time.retries == []
    assert emulator.restore_requests() == []


@pytest.mark.parametrize(
    "given",
    [{"restore_id": WATCHED}, {"instance_id": DEFAULT_INSTANCE_ID}, {"instance_id": 7, "restore_id": WATCHED}],
    ids=["no-instance", "no-restore", "instance-not-text"],
)
def test_a_missing_instance_or_restore_fails_with_invalid_query_error_before_any_poll(
    workflows: LocalWorkflows, emulator: Emulator, given: dict[str, Any]
) -> None:
    done = run(workflows.wait_for_restore, given)
    assert (done.status, done.error) == ("FAILED", "InvalidQueryError")
    assert emulator.restore_requests() == []


def test_a_fractional_poll_interval_is_waited_in_whole_seconds(
    workflows: LocalWorkflows, emulator: Emulator, interpreter_time: InterpreterTime
) -> None:
    emulator.progress(WATCHED, ["restoring", "succeed"])
    done = wait_for(workflows, poll_seconds=1.6)
    assert done.status == "SUCCEEDED"
    assert interpreter_time.waits == [2]


def test_started_at_fixes_where_every_poll_s_window_begins(workflows: LocalWorkflows, emulator: Emulator) -> None:
    # Given a restore that started three hours ago, polled with a lookback far too short to reach it
    started_at = datetime.now(UTC) - timedelta(hours=3)
    emulator.progress(WATCHED, ["restoring", "succeed"])

    # When the workflow waits for it from its start time
    done = wait_for(workflows, started_at=started_at.isoformat(), lookback="PT1M")

    # Then every poll read from the restore's start (the lookback unused), and found it
    assert done.status == "SUCCEEDED"
    begins = {dict(parse_qsl(request.query))["begin_time"] for request in emulator.restore_requests()}
    assert begins == {started_at.astimezone(UTC).strftime("%Y%m%d%H%M%S")}
