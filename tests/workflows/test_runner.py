"""``devkit.workflows``: an execution is read once its end is there whole, never half of it.

moto's interpreter sets an execution's status first, and its output (or its error and cause) a
moment later; on a busy machine a reader that stopped at the status read null. Here that moment
is held open until the runner has been answered the status alone: the peer's timing is what is
changed, the runner is the real one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.backend.execution import Execution
from moto.stepfunctions.responses import StepFunctionResponse

from dcs_restores import RestoreRecord
from devkit.emulator import DEFAULT_INSTANCE_ID, PROGRESS_ERROR_CODE, Emulator
from devkit.seed import generate_records
from devkit.workflows import Finished, LocalWorkflows, state_input
from restore_watch.payload import FollowedRestore

from .conftest import EXECUTION_DEADLINE, run

RECORDS = generate_records(3, start=datetime.now(UTC) - timedelta(hours=1), failed_every=0)
WATCHED = RECORDS[0]["restore_id"]
ENDED = ("SUCCEEDED", "FAILED")


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    server = Emulator(RECORDS)
    server.start()
    yield server
    server.stop()


class Calls:
    """How many times moto answered one Step Functions action; waits for more."""

    def __init__(self) -> None:
        self._count = 0
        self._changed = threading.Condition()

    def answered(self) -> None:
        with self._changed:
            self._count += 1
            self._changed.notify_all()

    def now(self) -> int:
        with self._changed:
            return self._count

    def await_more(self, than: int) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self._count > than, timeout=EXECUTION_DEADLINE)


def count_answers(monkeypatch: pytest.MonkeyPatch, action: str) -> Calls:
    """Count moto's answers to ``action`` (each counted once it was answered in full)."""
    calls = Calls()
    answer: Callable[[Any], Any] = getattr(StepFunctionResponse, action)

    def counted(self: Any) -> Any:
        result = answer(self)
        calls.answered()
        return result

    monkeypatch.setattr(StepFunctionResponse, action, counted)
    return calls


@dataclass
class HeldEnds:
    """The fields of an ended execution moto set only after the runner had been answered its status alone."""

    held: list[str] = field(default_factory=list)


@pytest.fixture
def held_ends(monkeypatch: pytest.MonkeyPatch) -> HeldEnds:
    """moto's interpreter paused between setting an ended status and its output, or its error and cause."""
    describes = count_answers(monkeypatch, "describe_execution")
    ends = HeldEnds()
    set_field = Execution.__setattr__

    def set_after_the_status_was_read(execution: Any, name: str, value: Any) -> None:
        status = getattr(execution, "exec_status", None)
        if name in ("output", "error") and value is not None and status is not None and status.value in ENDED:
            # Two more answers: the second one began after the status was set, and showed it without this field.
            seen = describes.now()
            if describes.await_more(seen) and describes.await_more(seen + 1):
                ends.held.append(name)
        set_field(execution, name, value)

    monkeypatch.setattr(Execution, "__setattr__", set_after_the_status_was_read)
    return ends


def test_a_succeeded_execution_is_read_with_its_output(
    workflows: LocalWorkflows, emulator: Emulator, held_ends: HeldEnds
) -> None:
    # Given a restore that has succeeded, and moto slow to set an execution's output after its status
    done = run(workflows.wait_for_restore, {"instance_id": DEFAULT_INSTANCE_ID, "restore_id": WATCHED})

    # Then the runner waited for the output
    assert done.status == "SUCCEEDED"
    assert done.output == FollowedRestore.of(RestoreRecord.model_validate(RECORDS[0])).model_dump(mode="json")
    # And it had been answered the status without it: the race was there
    assert held_ends.held == ["output"]


def test_a_failed_execution_is_read_with_its_error_and_cause(
    workflows: LocalWorkflows, emulator: Emulator, held_ends: HeldEnds
) -> None:
    # Given a restore DCS does not list, waited for with no time to wait, and moto slow to set the error
    done = run(
        workflows.wait_for_restore,
        {"instance_id": DEFAULT_INSTANCE_ID, "restore_id": "not-listed", "max_wait_seconds": 0},
    )

    # Then the runner waited for the error and the cause
    assert (done.status, done.error) == ("FAILED", "RestoreNotFound")
    assert done.cause is not None
    assert done.cause.startswith("DCS did not list restore not-listed")
    # And it had been answered the status without them: the race was there
    assert held_ends.held == ["error"]


def test_a_state_s_input_is_read_once_the_history_holds_the_execution_s_end(
    workflows: LocalWorkflows, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an execution held in its first Wait, whose restore will then have failed
    emulator.progress(WATCHED, ["restoring", "failed"])
    waiting, release = threading.Event(), threading.Event()

    def held_wait(_self: Any, env: Any, wait_seconds: int) -> None:  # moto passes them by name
        waiting.set()
        release.wait(EXECUTION_DEADLINE)

    monkeypatch.setattr(WaitFunction, "_wait_interval", held_wait)
    histories = count_answers(monkeypatch, "get_execution_history")
    with ThreadPoolExecutor(2) as pool:  # the execution awaited, and its history read meanwhile
        execution = pool.submit(
            run, workflows.wait_for_restore, {"instance_id": DEFAULT_INSTANCE_ID, "restore_id": WATCHED}
        )
        assert waiting.wait(EXECUTION_DEADLINE)
        arn = _only_execution_arn(workflows)

        # When its Fail state's input is asked for, as if its status had already said FAILED
        told_failed = Finished(arn=arn, status="FAILED", output=None, error="RestoreFailed", cause=None)
        reading = pool.submit(state_input, told_failed, "Restore failed", within=EXECUTION_DEADLINE)
        # ... and the history was read while the execution was still held
        assert histories.await_more(0)
        release.set()
        done = execution.result()

        # Then the input is the one that state was entered with, once it was
        given = reading.result()
    assert (done.status, done.error) == ("FAILED", "RestoreFailed")
    assert given["poll"]["restore"]["status"] == "failed"
    assert given["poll"]["restore"]["error_code"] == PROGRESS_ERROR_CODE


def _only_execution_arn(workflows: LocalWorkflows) -> str:
    import boto3

    [execution] = boto3.client("stepfunctions").list_executions(stateMachineArn=workflows.wait_for_restore)[
        "executions"
    ]
    arn: str = execution["executionArn"]
    return arn
