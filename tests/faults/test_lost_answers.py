"""SQS stores a SendMessageBatch but its answer comes after the client's read timeout: moto's server over HTTP.

The function's own clients (``build_forwarder``, with their own timeouts) meet the late answer of
``tests.faults.aws_faults``: the batch is stored, and the client cannot know it. A standard queue then
holds those restores twice; what the function owes is to say so: the resent messages marked
``possible_duplicate``, the ``PossibleDuplicates`` metric, a warning naming the restore IDs. A FIFO
queue drops the resend (same deduplication ID, within 5 minutes).
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from aws_lambda_powertools import Metrics

from common.timing import Timing
from dcs_restores import RestoreQuery, RestoreRecord, RestoreStatus
from devkit.emulator import DEFAULT_INSTANCE_ID, DEFAULT_PROJECT_ID
from devkit.local import receive_all
from devkit.seed import generate_records
from restore_watch.budget import Budget
from restore_watch.container import build
from restore_watch.forwarding import FailedRestore, ForwardingError, build_forwarder
from restore_watch.payload import RestorePayload

from ..support import function_logs
from .conftest import Aws, failed_ids

FAILED = 30  # three batches of ten
QUERY = RestoreQuery.of(
    project_id=DEFAULT_PROJECT_ID,
    instance_id=DEFAULT_INSTANCE_ID,
    begin_time="20240101000000",
    end_time="20240131000000",
)
# The function's own timeouts: a late answer costs the read timeout (5 s), and no other call of a loaded
# machine's moto is taken for a late answer (which a shorter timeout did, once, on a machine 10 times oversubscribed).
TIMING = Timing()


@pytest.fixture
def records() -> list[dict[str, Any]]:
    return generate_records(FAILED * 100, failed_every=100)


@pytest.fixture
def metrics() -> Iterator[Metrics]:
    """The metrics the use case records (Powertools keeps one set per process: cleared before and after)."""
    metrics = Metrics(namespace="DcsRestoreWatch", service="dcs-restore-watch")
    metrics.clear_metrics()
    yield metrics
    metrics.clear_metrics()


def watch(metrics: Metrics, timing: Timing = TIMING) -> RestorePayload:
    """One invocation's watch of the window, in a new container (clients of the emulator and moto) using ``timing``."""
    return build(os.environ, metrics, timing).watch(QUERY, Budget.of(60.0, timing))


def counted(metrics: Metrics, name: str) -> float:
    values: list[float] = metrics.metric_set[name]["Value"]
    return sum(values)


def bodies(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [json.loads(message["Body"]) for message in messages]


def ledger_states(aws: Aws) -> Counter[str]:
    items = boto3.client("dynamodb").scan(TableName=aws.table_name, ConsistentRead=True)["Items"]
    return Counter(item["state"]["S"] for item in items)


def warned(lines: list[dict[str, Any]], message: str) -> list[str]:
    """The restore IDs named by the warnings that start with ``message``."""
    return sorted(
        restore_id
        for line in lines
        if line["level"] == "WARNING" and line["message"].startswith(message)
        for restore_id in line["restore_ids"]
    )


@pytest.fixture
def logged() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    with function_logs(logging.WARNING) as lines:
        yield lines


@pytest.mark.usefixtures("function_env")
def test_a_batch_stored_but_answered_late_is_resent_marked_counted_and_logged(
    aws: Aws, records: list[dict[str, Any]], metrics: Metrics, logged: Callable[[], list[dict[str, Any]]]
) -> None:
    # Given 30 failed restores, and SQS storing the first SendMessageBatch but answering it after the read timeout
    aws.faults.late["SendMessageBatch"] = 1
    # When they are watched
    payload = watch(metrics)
    # Then the late batch was stored twice: 40 messages for 30 restores, each forwarded once in the ledger
    assert aws.faults.injected["SendMessageBatch:answered late"] == 1
    messages = bodies(receive_all(aws.queue_url, visible_again=True))
    copies = Counter(body["restore_id"] for body in messages)
    assert len(messages) == 40
    assert sorted(copies) == failed_ids(records)
    twice = sorted(restore_id for restore_id, count in copies.items() if count == 2)
    assert len(twice) == 10
    assert ledger_states(aws) == {"forwarded": FAILED}
    # And of each doubled restore, the resent copy is marked possible_duplicate; nothing else is
    marked = sorted(body["restore_id"] for body in messages if body.get("possible_duplicate") is True)
    assert marked == twice
    # And the run says so: in its payload, in the PossibleDuplicates metric, and in warnings naming the restores
    assert (payload.forwarded.queued, payload.forwarded.possible_duplicates) == (FAILED, 10)
    assert counted(metrics, "PossibleDuplicates") == 10
    assert counted(metrics, "FailedForwarded") == FAILED
    assert warned(logged(), "SendMessageBatch answer lost") == twice
    assert warned(logged(), "failed restores queued marked possible_duplicate") == twice


@pytest.mark.usefixtures("function_env")
def test_on_a_fifo_queue_a_resend_after_a_late_answer_is_dropped_by_sqs(
    aws: Aws, records: list[dict[str, Any]], metrics: Metrics, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a FIFO queue whose first SendMessageBatch is stored but answered after the read timeout
    fifo = boto3.client("sqs").create_queue(QueueName=f"{aws.table_name}.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    monkeypatch.setenv("FAILED_RESTORES_QUEUE_URL", fifo)
    aws.faults.late["SendMessageBatch"] = 1
    # When the 30 failed restores are watched
    payload = watch(metrics)
    # Then SQS dropped the resend (same deduplication ID, within 5 minutes): each restore is queued once, unmarked
    assert aws.faults.injected["SendMessageBatch:answered late"] == 1
    messages = bodies(receive_all_fifo(fifo))
    assert sorted(body["restore_id"] for body in messages) == failed_ids(records)
    assert not any("possible_duplicate" in body for body in messages)
    assert (payload.forwarded.queued, payload.forwarded.possible_duplicates) == (FAILED, 0)
    assert counted(metrics, "PossibleDuplicates") == 0


def receive_all_fifo(queue_url: str) -> list[dict[str, Any]]:
    """Every message of a FIFO queue, deleted as read (one group stays locked while a message of it is in flight)."""
    sqs = boto3.client("sqs")
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        messages.extend(dict(message) for message in batch)
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(n), "ReceiptHandle": message["ReceiptHandle"]} for n, message in enumerate(batch)],
        )
    return messages


@pytest.mark.usefixtures("function_env")
def test_a_run_that_cannot_resend_after_a_late_answer_tells_the_ledger_and_its_retry_marks_them(
    aws: Aws, records: list[dict[str, Any]], metrics: Metrics
) -> None:
    # Given a run that may make one call per batch, and SQS storing its first batch but answering late
    aws.faults.late["SendMessageBatch"] = 1
    with pytest.raises(ForwardingError) as raised:
        watch(metrics, Timing(send_attempts=1))
    # Then the run fails, naming the ten whose answer was lost as unsent, and saying they may be queued already
    assert len(raised.value.unsent) == 10
    assert "10 of them may be in the queue already" in str(raised.value)
    assert raised.value.queued == 20
    # And the ledger keeps their claims, lapsed: the retry may take them at once, and knows SQS may hold them
    assert ledger_states(aws) == {"forwarded": 20, "sending": 10}
    # When Lambda retries the event
    metrics.clear_metrics()
    retry = watch(metrics)
    # Then the retry sends the ten marked possible_duplicate, and counts them
    assert (retry.forwarded.queued, retry.forwarded.already_forwarded, retry.forwarded.possible_duplicates) == (
        10,
        20,
        10,
    )
    assert counted(metrics, "PossibleDuplicates") == 10
    messages = bodies(receive_all(aws.queue_url, visible_again=True))
    assert len(messages) == 40
    marked = sorted(body["restore_id"] for body in messages if body.get("possible_duplicate") is True)
    assert marked == sorted(raised.value.unsent)
    assert ledger_states(aws) == {"forwarded": FAILED}


@pytest.mark.parametrize(("code", "maybe_stored"), [("InternalError", True), ("ThrottlingException", False)])
def test_a_resend_is_marked_after_a_5xx_and_not_after_a_4xx(aws: Aws, code: str, maybe_stored: bool) -> None:
    # Given SQS failing one SendMessageBatch: a 500 (it may have stored the batch) or a 400 (it processed nothing)
    aws.faults.script.append(("SendMessageBatch", code))
    forwarder = build_forwarder(aws.queue_url, aws.table_name, timedelta(days=1), TIMING)
    restore = FailedRestore(
        "proj", "inst", RestoreRecord(restore_id="r-1", status=RestoreStatus.FAILED), datetime.now(UTC)
    )
    # When a failed restore is forwarded
    outcome = forwarder.forward([restore], Budget.of(60.0, TIMING))
    # Then the resend is marked, and counted, only where the failed call may have been stored
    assert aws.faults.injected[f"SendMessageBatch:{code}"] == 1
    [message] = bodies(receive_all(aws.queue_url, visible_again=True))
    assert message.get("possible_duplicate", False) is maybe_stored
    assert outcome.possible_duplicates == int(maybe_stored)
