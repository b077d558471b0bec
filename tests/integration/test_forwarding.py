"""Forwarding failed restores: SQS and DynamoDB are moto; faults are injected around the real clients.

Where a test is about time, only the budget's clock stands in for it: it advances as the AWS
calls are made (each takes a set time, as if they ran one at a time), so what fits before the
deadline does not depend on how fast this machine runs moto.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError

from common.timing import Timing
from dcs_restores import RestoreRecord, RestoreStatus
from restore_watch.budget import Budget
from restore_watch.forwarding import (
    Claim,
    FailedRestore,
    FailedRestoreForwarder,
    ForwardingError,
    LedgerUnavailableError,
    NoLedger,
    TableLedger,
)
from restore_watch.forwarding.dynamodb import DynamoDbLedgerTable
from restore_watch.forwarding.failed_restore import marked_possible_duplicate
from restore_watch.forwarding.publisher import MAX_BATCH_BYTES, MAX_BATCH_ENTRIES, QueuePublisher

from ..support import AwsResources

SEEN_AT = datetime(2024, 1, 1, 6, 0, tzinfo=UTC)
TIMING = Timing()


def failed(restore_id: str, instance_id: str = "inst-1", remark: str = "", project_id: str = "proj") -> FailedRestore:
    record = RestoreRecord(
        restore_id=restore_id,
        restore_name=f"restore {restore_id}",
        backup_id="b-1",
        backup_name="backup",
        status=RestoreStatus.FAILED,
        progress=Decimal("40.00"),
        created_at=SEEN_AT,
        updated_at=SEEN_AT,
        error_code="dcs.08.0002",
        restore_remark=remark or None,
    )
    return FailedRestore(project_id, instance_id, record, SEEN_AT)


def budget(seconds: float = 120.0, clock: Callable[[], float] | None = None) -> Budget:
    """An invocation with ``seconds`` left, as Lambda's context would tell (the work ends a second earlier)."""
    return Budget.of(seconds, TIMING, clock=clock) if clock else Budget.of(seconds, TIMING)


class FlakySqs:
    """The real (moto) SQS client, with the failures AWS can answer: Failed entries or a failed call."""

    def __init__(self, fail_entries: int = 0, fail_calls: int = 0, fail_after_calls: int | None = None) -> None:
        self.real: Any = boto3.client("sqs")
        self.fail_entries = fail_entries
        self.fail_calls = fail_calls
        self.fail_after_calls = fail_after_calls
        self.calls: list[int] = []
        self.sent: list[dict[str, Any]] = []  # every entry of every call, as sent
        self.batches: list[list[dict[str, Any]]] = []
        self.lock = threading.Lock()  # batches of a standard queue go out at once

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        with self.lock:
            self.calls.append(len(Entries))
            self.sent.extend(Entries)
            self.batches.append(Entries)
            after = self.fail_after_calls
            fail = self.fail_calls > 0 or (after is not None and len(self.calls) > after)
            self.fail_calls -= fail
            refused, accepted = Entries[: self.fail_entries], Entries[self.fail_entries :]
            self.fail_entries = 0 if not fail else self.fail_entries
        if fail:
            raise self.real.exceptions.ClientError(
                {
                    "Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
                    "ResponseMetadata": {"HTTPStatusCode": 400},  # as botocore reads it: SQS processed nothing
                },
                "SendMessageBatch",
            )
        answer: dict[str, Any] = self.real.send_message_batch(QueueUrl=QueueUrl, Entries=accepted) if accepted else {}
        answer.setdefault("Successful", [])
        answer["Failed"] = [
            {"Id": entry["Id"], "SenderFault": False, "Code": "InternalError", "Message": "try again"}
            for entry in refused
        ]
        return answer


def forwarder(
    aws: AwsResources,
    sqs: Any = None,
    ledger: bool = True,
    *,
    dynamodb: Any = None,
    clock: Callable[[], float] | None = None,
    **options: Any,
) -> FailedRestoreForwarder:
    """The forwarder as ``build_forwarder`` makes it, on moto's clients (or the faulty ones given)."""
    publisher = QueuePublisher(sqs or boto3.client("sqs"), aws.queue_url, sleep=lambda _: None)
    table = DynamoDbLedgerTable(dynamodb or boto3.client("dynamodb"), aws.table_name, clock=clock or time.time)
    claims = TableLedger(table, sleep=options.pop("sleep", lambda _: None)) if ledger else NoLedger()
    return FailedRestoreForwarder(publisher, claims, **options)


def queued_ids(aws: AwsResources) -> list[str]:
    return sorted(json.loads(message["Body"])["restore_id"] for message in aws.messages())


def ledger_items(aws: AwsResources) -> list[dict[str, Any]]:
    """Every item of the ledger table, read back with a scan."""
    pages = boto3.client("dynamodb").get_paginator("scan").paginate(TableName=aws.table_name, ConsistentRead=True)
    return [item for page in pages for item in page["Items"]]


def ledger_states(aws: AwsResources) -> dict[str, str]:
    """restore ID -> its state in the ledger."""
    return {item["pk"]["S"].rsplit("#", 1)[1]: item["state"]["S"] for item in ledger_items(aws)}


def queue_length(aws: AwsResources) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=aws.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def test_overlapping_runs_forward_each_failed_restore_once(aws: AwsResources) -> None:
    # Given two runs whose windows overlap on r-3 and r-4
    first = forwarder(aws).forward([failed(f"r-{n}") for n in range(1, 5)], budget())
    second = forwarder(aws).forward([failed(f"r-{n}") for n in range(3, 7)], budget())
    # Then each restore is in the queue once
    assert (first.queued, first.already_forwarded) == (4, 0)
    assert (second.queued, second.already_forwarded) == (2, 2)
    assert queued_ids(aws) == [f"r-{n}" for n in range(1, 7)]


def test_the_same_restore_id_on_another_instance_is_another_restore(aws: AwsResources) -> None:
    forwarder(aws).forward([failed("r-1", "inst-1")], budget())
    assert forwarder(aws).forward([failed("r-1", "inst-2")], budget()).queued == 1


def test_batches_hold_at_most_ten_entries(aws: AwsResources) -> None:
    sqs = FlakySqs()
    outcome = forwarder(aws, sqs).forward([failed(f"r-{n:02}") for n in range(23)], budget())
    assert outcome.queued == 23
    assert sorted(sqs.calls, reverse=True) == [MAX_BATCH_ENTRIES, MAX_BATCH_ENTRIES, 3]


def test_batches_stay_under_one_mebibyte(aws: AwsResources) -> None:
    # Given four messages of about 300 KiB each
    sqs = FlakySqs()
    big = [failed(f"r-{n}", remark="x" * 300_000) for n in range(4)]
    forwarder(aws, sqs).forward(big, budget())
    # Then no batch carries more than three of them
    assert sorted(sqs.calls, reverse=True) == [3, 1]
    assert len(queued_ids(aws)) == 4


def test_entries_reported_failed_are_resent(aws: AwsResources) -> None:
    sqs = FlakySqs(fail_entries=3)
    outcome = forwarder(aws, sqs).forward([failed(f"r-{n}") for n in range(5)], budget())
    assert outcome.queued == 5
    assert sqs.calls == [5, 3]
    assert queued_ids(aws) == [f"r-{n}" for n in range(5)]


def test_a_throttled_call_is_retried(aws: AwsResources) -> None:
    sqs = FlakySqs(fail_calls=2)
    outcome = forwarder(aws, sqs).forward([failed("r-1")], budget())
    assert (outcome.queued, outcome.possible_duplicates) == (1, 0)
    assert sqs.calls == [1, 1, 1]
    # A throttled call (a 4xx) stored nothing: the resend is no possible duplicate
    assert "possible_duplicate" not in aws.messages()[0]["Body"]


def test_a_run_that_fails_halfway_is_retried_without_loss_or_double(aws: AwsResources) -> None:
    # Given SQS that takes the first chunk (one batch of ten) and then refuses every call
    restores = [failed(f"r-{n:02}") for n in range(15)]
    with pytest.raises(ForwardingError) as raised:
        forwarder(aws, FlakySqs(fail_after_calls=1), chunk=10).forward(restores, budget())
    # Then the run fails, naming what it could not send and why
    assert raised.value.unsent == [f"r-{n}" for n in range(10, 15)]
    assert str(raised.value) == "10 failed restore(s) queued; 5 could not be sent (ThrottlingException)"
    # And the ledger kept no claim on the unsent five
    assert Counter(ledger_states(aws).values()) == {"forwarded": 10}
    # When Lambda retries the same event with SQS healthy again
    retry = forwarder(aws).forward(restores, budget())
    # Then only they go out, and the queue holds each once
    assert (retry.queued, retry.already_forwarded) == (5, 10)
    assert queued_ids(aws) == sorted(restore.restore_id for restore in restores)


def test_a_run_that_starts_while_another_is_sending_fails_and_its_retry_doubles_nothing(aws: AwsResources) -> None:
    # Given run A, which has claimed 30 restores and is inside its SQS call when run B starts on the same window
    restores = [failed(f"r-{n:02}") for n in range(30)]
    raised: list[ForwardingError] = []

    class SqsDuringWhichBRuns(FlakySqs):
        def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
            with self.lock:
                if not raised:
                    with pytest.raises(ForwardingError) as b_failed:
                        forwarder(aws).forward(restores, budget())
                    raised.append(b_failed.value)
            return super().send_message_batch(QueueUrl=QueueUrl, Entries=Entries)

    # When A finishes
    outcome = forwarder(aws, SqsDuringWhichBRuns()).forward(restores, budget())
    # Then B sent nothing and failed, so that Lambda retries it, naming the 30 still in flight
    assert raised[0].in_flight == [restore.restore_id for restore in restores]
    assert "30 are being forwarded by another invocation" in str(raised[0])
    assert (outcome.queued, outcome.already_forwarded) == (30, 0)
    # And B's retry finds them forwarded: the queue holds each restore once
    retry = forwarder(aws).forward(restores, budget())
    assert (retry.queued, retry.already_forwarded) == (0, 30)
    assert queued_ids(aws) == sorted(restore.restore_id for restore in restores)


def test_a_claim_left_by_a_crashed_run_is_not_lost(aws: AwsResources) -> None:
    # Given a run that claimed r-1 for 130 s and died before sending it
    claimed_at = 1_000_000.0
    ledger = DynamoDbLedgerTable(boto3.client("dynamodb"), aws.table_name, clock=lambda: claimed_at)
    assert ledger.claim(failed("r-1"), timedelta(seconds=130)) is Claim.TAKEN
    # When Lambda retries within the lease
    with pytest.raises(ForwardingError) as raised:
        forwarder(aws, clock=lambda: claimed_at + 60).forward([failed("r-1")], budget())
    # Then the retry fails rather than calling it forwarded
    assert raised.value.in_flight == ["r-1"]
    # And once the lease has run out, a retry sends it, marked: the run that died may have sent it first
    retry = forwarder(aws, clock=lambda: claimed_at + 131).forward([failed("r-1")], budget())
    assert (retry.queued, retry.possible_duplicates) == (1, 1)
    assert queued_ids(aws) == ["r-1"]
    assert json.loads(aws.messages()[0]["Body"])["possible_duplicate"] is True


def test_a_claim_lasts_as_long_as_the_invocation_may_and_a_margin(aws: AwsResources) -> None:
    # Given an invocation with 30 s left, whose ledger reads the time as 1,000,000
    leases: list[int] = []

    class SqsThatReadsTheLedger(FlakySqs):
        def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
            leases.extend(int(item["lease_until"]["N"]) for item in ledger_items(aws))
            return super().send_message_batch(QueueUrl=QueueUrl, Entries=Entries)

    frozen = budget(30.0, clock=lambda: 0.0)  # the budget's clock stands still: 30 s stay left
    forwarder(aws, SqsThatReadsTheLedger(), clock=lambda: 1_000_000.0).forward([failed("r-1")], frozen)
    # Then while it was sending, its claim ran until the invocation's end plus the lease margin
    assert leases == [1_000_000 + 30 + int(TIMING.lease_margin)]


class ConfirmFails:
    """The real (moto) DynamoDB client, whose UpdateItem (the confirm) fails ``times`` times (always by default)."""

    def __init__(self, times: int = -1) -> None:
        self.real: Any = boto3.client("dynamodb")
        self.times = times
        self.calls = 0
        self.lock = threading.Lock()  # confirms go out at once

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def update_item(self, **request: Any) -> Any:
        with self.lock:
            self.calls += 1
            fail = self.times != 0
            self.times -= fail
        if not fail:
            return self.real.update_item(**request)
        raise self.real.exceptions.ClientError(
            {"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "UpdateItem"
        )


def test_a_failing_confirm_is_retried_then_reported_for_every_sent_restore(aws: AwsResources) -> None:
    dynamodb, pauses = ConfirmFails(), list[float]()
    restores = [failed(f"r-{n}") for n in range(3)]
    with pytest.raises(ForwardingError) as raised:
        forwarder(aws, dynamodb=dynamodb, sleep=pauses.append).forward(restores, budget())
    # All three were sent (none is "unsent"), marking was tried in every round for each, and all three are named
    assert raised.value.unsent == []
    assert raised.value.unconfirmed == ["r-0", "r-1", "r-2"]
    assert dynamodb.calls == 3 * TIMING.confirm_attempts
    assert len(pauses) == TIMING.confirm_attempts - 1
    assert queued_ids(aws) == ["r-0", "r-1", "r-2"]


def test_a_confirm_that_fails_for_a_moment_is_retried_and_nothing_is_left_claimed(aws: AwsResources) -> None:
    # Given a ledger whose first two marks fail (a blip that would otherwise leave a live claim behind)
    outcome = forwarder(aws, dynamodb=ConfirmFails(times=2)).forward([failed("r-0"), failed("r-1")], budget())
    # Then both are queued and marked: a second run counts them as forwarded instead of failing on in-flight claims
    assert outcome.queued == 2
    assert forwarder(aws).forward([failed("r-0"), failed("r-1")], budget()).already_forwarded == 2
    assert queued_ids(aws) == ["r-0", "r-1"]


def test_marking_gives_up_rather_than_outlive_the_deadline(aws: AwsResources) -> None:
    # Given 6 s of work left, a ledger that cannot mark, and a pause between marks that takes 5.5 s
    now = [0.0]
    pauses: list[float] = []

    def pause(seconds: float) -> None:
        pauses.append(seconds)
        now[0] += 5.5

    dynamodb = ConfirmFails()
    with pytest.raises(ForwardingError) as raised:
        forwarder(aws, dynamodb=dynamodb, sleep=pause).forward([failed("r-0")], budget(7.0, clock=lambda: now[0]))
    # Then it marked once, paused once, and tried no mark with less than a second left
    assert raised.value.unconfirmed == ["r-0"]
    assert (dynamodb.calls, len(pauses)) == (1, 1)


class Clocked:
    """A real (moto) client on the budget's clock: each call it makes takes ``seconds`` there.

    Calls are timed as if made one after another, even when they go out at once: what fits before
    the deadline is then never more than it would be.
    """

    def __init__(self, client: Any, seconds: float, clock: ClockOfCalls) -> None:
        self.real = client
        self.seconds = seconds
        self.clock = clock
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        def call(**request: Any) -> Any:
            self.clock.advance(self.seconds)
            self.calls.append(name)
            return getattr(self.real, name)(**request)

        return call


class ClockOfCalls:
    """The budget's clock: time passes only as AWS calls are made."""

    def __init__(self) -> None:
        self.now = 0.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


def test_claiming_stops_while_there_is_time_to_send_and_mark_what_was_taken(aws: AwsResources) -> None:
    # Given 10 s of work left, one ledger call at a time, each taking 1 s
    clock = ClockOfCalls()
    dynamodb = Clocked(boto3.client("dynamodb"), 1.0, clock)
    run = budget(11.0, clock)
    with pytest.raises(ForwardingError) as raised:
        forwarder(aws, dynamodb=dynamodb, workers=1).forward([failed(f"r-{n}") for n in range(8)], run)
    # Then claiming stopped with 6 s left: a second to send, a second for each of the 4 marks, and a second to spare
    assert dynamodb.calls == ["put_item"] * 4 + ["update_item"] * 4
    assert run.work.remaining() == 2.0
    assert queued_ids(aws) == ["r-0", "r-1", "r-2", "r-3"]
    # And the rest is named for the retry, which sends it
    assert raised.value.unsent == ["r-4", "r-5", "r-6", "r-7"]
    assert "4 were not claimed before the deadline" in str(raised.value)
    forwarder(aws, dynamodb=dynamodb, workers=1).forward([failed(f"r-{n}") for n in range(8)], budget(60.0, clock))
    assert queued_ids(aws) == [f"r-{n}" for n in range(8)]


def test_nothing_is_sent_marked_or_released_with_less_than_a_second_left(aws: AwsResources) -> None:
    # Given 5 s of work left, and a ledger so slow that the one claim takes all of it
    clock = ClockOfCalls()
    dynamodb = Clocked(boto3.client("dynamodb"), 5.0, clock)
    run = budget(6.0, clock)
    with pytest.raises(ForwardingError) as raised:
        forwarder(aws, dynamodb=dynamodb).forward([failed("r-0")], run)
    # Then nothing was sent, and no release was tried past the deadline: the claim is left to lapse with its lease
    assert dynamodb.calls == ["put_item"]
    assert raised.value.unsent == ["r-0"]
    assert queued_ids(aws) == []
    assert run.work.remaining() >= 0


def test_with_too_little_time_for_a_claim_and_its_mark_nothing_is_claimed(aws: AwsResources) -> None:
    clock = ClockOfCalls()
    dynamodb = Clocked(boto3.client("dynamodb"), 0.0, clock)
    with pytest.raises(ForwardingError) as raised:
        forwarder(aws, dynamodb=dynamodb).forward([failed("r-0")], budget(2.5, clock))
    assert dynamodb.calls == []
    assert raised.value.unsent == ["r-0"]
    assert "1 were not claimed before the deadline" in str(raised.value)


@pytest.mark.long
def test_ten_thousand_failed_restores_with_60_seconds_left_end_before_the_deadline(aws: AwsResources) -> None:
    # Given 10,000 failed restores (ten pages of 1,000), 60 s left, DynamoDB calls of 50 ms and SQS calls of 100 ms
    clock = ClockOfCalls()
    dynamodb = Clocked(boto3.client("dynamodb"), 0.05, clock)
    sqs = Clocked(boto3.client("sqs"), 0.1, clock)
    restores = [failed(f"r-{n:05}") for n in range(10_000)]
    run = budget(60.0, clock)
    # When they are forwarded
    with pytest.raises(ForwardingError) as raised:
        forwarder(aws, sqs, dynamodb=dynamodb).forward(restores, run)
    # Then the run ended before the deadline, having queued some of them
    assert run.work.remaining() >= 0
    queued = raised.value.queued
    assert queued > 0
    # And every restore is either queued and marked, or unclaimed and named for the retry: none is left sending
    states = ledger_states(aws)
    assert Counter(states.values()) == {"forwarded": queued}
    assert queue_length(aws) == queued
    assert sorted(raised.value.unsent) == sorted({restore.restore_id for restore in restores} - set(states))
    assert (raised.value.in_flight, raised.value.unconfirmed) == ([], [])


@pytest.mark.parametrize("seconds_left", [6.0, 10.0, 20.0])
def test_slow_sends_leave_the_time_to_mark_what_was_sent(aws: AwsResources, seconds_left: float) -> None:
    # Given a FIFO queue (its batches go one after another) whose SendMessageBatch takes 2.5 s, a quick ledger
    fifo = AwsResources.create(fifo=True)
    clock = ClockOfCalls()
    sqs = Clocked(boto3.client("sqs"), 2.5, clock)
    dynamodb = Clocked(boto3.client("dynamodb"), 0.002, clock)
    restores = [failed(f"r-{n:03}") for n in range(100)]
    run = budget(seconds_left, clock)
    # When a chunk of 100 is forwarded with little time left
    with pytest.raises(ForwardingError) as raised:
        forwarder(fifo, sqs, dynamodb=dynamodb).forward(restores, run)
    # Then what was sent was marked before the deadline, and the rest was given back: nothing is left sending
    assert run.work.remaining() >= 0
    assert raised.value.unconfirmed == []
    assert Counter(ledger_states(aws).values()) == {"forwarded": raised.value.queued}
    assert queue_length(fifo) == raised.value.queued


class ClaimsLandTwice:
    """The real (moto) DynamoDB client, where a PutItem lands but its answer is lost, so it is made again,
    as botocore's retry does after a read timeout."""

    def __init__(self) -> None:
        self.real: Any = boto3.client("dynamodb")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def put_item(self, **request: Any) -> Any:
        self.real.put_item(**request)  # the first attempt: written, but its answer never arrives
        return self.real.put_item(**request)


def test_a_claim_retried_after_its_first_attempt_landed_is_still_this_runs(aws: AwsResources) -> None:
    # Given a ledger whose every claim is written once, then retried against its own item
    outcome = forwarder(aws, dynamodb=ClaimsLandTwice()).forward([failed("r-1"), failed("r-2")], budget())
    # Then the run recognises its own claims: both are sent and marked, none is taken for another run's
    assert (outcome.queued, outcome.already_forwarded) == (2, 0)
    assert queued_ids(aws) == ["r-1", "r-2"]
    assert ledger_states(aws) == {"r-1": "forwarded", "r-2": "forwarded"}
    # And since what the first attempt replaced was lost with its answer (a lapsed claim, perhaps), both are marked
    assert outcome.possible_duplicates == 2


def test_any_free_text_field_is_cut_when_it_alone_would_pass_the_limit(aws: AwsResources) -> None:
    # Given a failed restore whose backup ID alone is 1.1 MB, and whose remark is long too
    restore = failed("r-1", remark="y" * 5_000)
    huge = restore.record.model_copy(update={"backup_id": "b" * 1_100_000})
    outcome = forwarder(aws).forward([FailedRestore("proj", "inst-1", huge, SEEN_AT)], budget())
    # Then it is queued with only what had to go cut (the backup ID; the remark fits), within SQS's limit
    assert outcome.queued == 1
    [message] = aws.messages()
    body = json.loads(message["Body"])
    assert body["cut_fields"] == ["backup_id"]
    assert body["restore_remark"] == "y" * 5_000
    assert len(message["Body"].encode()) < 1_048_576


def test_a_failed_restore_too_large_for_one_message_is_forwarded_cut_down_and_says_so(aws: AwsResources) -> None:
    # Given a failed restore whose remark alone is 2 MB, between two ordinary ones
    restores = [failed("r-1"), failed("r-2", remark="x" * 2_000_000), failed("r-3")]
    # When they are forwarded
    outcome = forwarder(aws).forward(restores, budget())
    # Then all three are queued: the large one with its remark cut, saying which field was cut
    assert outcome.queued == 3
    bodies = {body["restore_id"]: body for body in (json.loads(message["Body"]) for message in aws.messages())}
    assert sorted(bodies) == ["r-1", "r-2", "r-3"]
    assert bodies["r-2"]["cut_fields"] == ["restore_remark"]
    assert bodies["r-2"]["restore_remark"] == "x" * 1024
    assert "cut_fields" not in bodies["r-1"]
    assert ledger_states(aws) == dict.fromkeys(["r-1", "r-2", "r-3"], "forwarded")


def test_whatever_is_raised_between_claim_and_send_no_claim_is_left_sending(aws: AwsResources) -> None:
    # Given an SQS client that fails in a way nobody planned for
    class BrokenSqs:
        def send_message_batch(self, **_: Any) -> Any:
            raise RuntimeError("not an AWS error")

    # When three claimed restores meet it, Then the error surfaces and every claim was given back
    with pytest.raises(RuntimeError):
        forwarder(aws, BrokenSqs()).forward([failed(f"r-{n}") for n in range(3)], budget())
    assert ledger_states(aws) == {}
    # And the retry, with SQS working, sends them at once instead of waiting for leases to lapse
    assert forwarder(aws).forward([failed(f"r-{n}") for n in range(3)], budget()).queued == 3


def test_an_unavailable_ledger_fails_the_run_before_anything_is_sent(aws: AwsResources) -> None:
    class BrokenDynamoDb:
        def __getattr__(self, name: str) -> Any:
            def fail(**_: Any) -> None:
                raise boto3.client("dynamodb").exceptions.ClientError(
                    {"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, name
                )

            return fail

    with pytest.raises(LedgerUnavailableError, match="ServiceUnavailable") as raised:
        forwarder(aws, dynamodb=BrokenDynamoDb()).forward([failed("r-1")], budget())
    assert raised.value.unsent == ["r-1"]
    assert aws.messages() == []


class ClaimsFailAfter:
    """The real (moto) DynamoDB client, whose PutItem (the claim) fails once ``claims`` have been taken."""

    def __init__(self, claims: int) -> None:
        self.real: Any = boto3.client("dynamodb")
        self.claims = claims
        self.lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def put_item(self, **request: Any) -> Any:
        with self.lock:
            self.claims -= 1
            fail = self.claims < 0
        if fail:
            raise self.real.exceptions.ClientError(
                {"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "PutItem"
            )
        return self.real.put_item(**request)


def test_claims_taken_before_the_ledger_failed_are_given_back(aws: AwsResources) -> None:
    # Given a ledger that fails part-way through claiming 25 restores, after 12 claims were taken
    restores = [failed(f"r-{n:02}") for n in range(25)]
    with pytest.raises(LedgerUnavailableError) as raised:
        forwarder(aws, dynamodb=ClaimsFailAfter(12)).forward(restores, budget())
    # Then nothing was sent, all 25 are named for the retry, and the 12 claims were given back
    assert aws.messages() == []
    assert sorted(raised.value.unsent) == [restore.restore_id for restore in restores]
    assert ledger_items(aws) == []
    # And the retry sends all 25 at once, rather than failing on claims left in flight
    assert forwarder(aws).forward(restores, budget()).queued == 25


def test_without_a_ledger_everything_is_sent(aws: AwsResources) -> None:
    forwarder(aws, ledger=False).forward([failed("r-1")], budget())
    assert forwarder(aws, ledger=False).forward([failed("r-1")], budget()).queued == 1
    assert queued_ids(aws) == ["r-1", "r-1"]


def fifo_messages(queue_url: str) -> list[dict[str, Any]]:
    answer = boto3.client("sqs").receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
    )
    return [dict(message) for message in answer["Messages"]]


def fifo_forwarder(queue_url: str) -> FailedRestoreForwarder:
    return FailedRestoreForwarder(QueuePublisher(boto3.client("sqs"), queue_url), NoLedger())


def test_fifo_queues_get_group_and_deduplication_ids(aws: AwsResources) -> None:
    # Given a FIFO queue and no ledger
    fifo = AwsResources.create(fifo=True)
    # When the same failed restore is sent twice, and the same restore ID comes from another instance
    fifo_forwarder(fifo.queue_url).forward([failed("r-1"), failed("r-2")], budget())
    fifo_forwarder(fifo.queue_url).forward([failed("r-1"), failed("r-1", instance_id="inst-2")], budget())
    # Then FIFO deduplication keeps one of the repeated restore, grouped by instance, and the other instance's too
    messages = fifo_messages(fifo.queue_url)
    bodies = sorted((json.loads(m["Body"])["instance_id"], json.loads(m["Body"])["restore_id"]) for m in messages)
    assert bodies == [("inst-1", "r-1"), ("inst-1", "r-2"), ("inst-2", "r-1")]
    assert {message["Attributes"]["MessageGroupId"] for message in messages} == {"inst-1", "inst-2"}
    assert len({message["Attributes"]["MessageDeduplicationId"] for message in messages}) == 3


def test_the_same_instance_and_restore_id_in_another_project_is_not_deduplicated(aws: AwsResources) -> None:
    # Given a FIFO queue, and one instance ID and restore ID seen in two projects
    fifo = AwsResources.create(fifo=True)
    # When both are sent
    fifo_forwarder(fifo.queue_url).forward([failed("r-1", project_id="proj-a")], budget())
    fifo_forwarder(fifo.queue_url).forward([failed("r-1", project_id="proj-b")], budget())
    # Then both are in the queue, under deduplication IDs of their own
    messages = fifo_messages(fifo.queue_url)
    assert sorted(json.loads(message["Body"])["project_id"] for message in messages) == ["proj-a", "proj-b"]
    assert len({message["Attributes"]["MessageDeduplicationId"] for message in messages}) == 2


def test_a_lapsed_claim_is_taken_over(aws: AwsResources) -> None:
    # Given a run that claimed r-1 for 130 s and died before sending
    now = [1_000_000.0]
    ledger = DynamoDbLedgerTable(boto3.client("dynamodb"), aws.table_name, clock=lambda: now[0])
    lease = timedelta(seconds=130)
    assert ledger.claim(failed("r-1"), lease) is Claim.TAKEN
    assert ledger.claim(failed("r-1"), lease) is Claim.IN_FLIGHT
    # When the lease has run out
    now[0] += 131
    # Then another run may claim and send it, knowing that the run before may have sent it
    assert ledger.claim(failed("r-1"), lease) is Claim.TAKEN_OVER


def test_a_forwarded_restore_is_never_claimed_again(aws: AwsResources) -> None:
    now = [1_000_000.0]
    ledger = DynamoDbLedgerTable(boto3.client("dynamodb"), aws.table_name, clock=lambda: now[0])
    assert ledger.claim(failed("r-1"), timedelta(seconds=130)) is Claim.TAKEN
    ledger.confirm(failed("r-1"))
    now[0] += 24 * 3600
    assert ledger.claim(failed("r-1"), timedelta(seconds=130)) is Claim.FORWARDED
    item = boto3.client("dynamodb").get_item(TableName=aws.table_name, Key={"pk": {"S": "proj#inst-1#r-1"}})["Item"]
    assert item["state"]["S"] == "forwarded"
    assert int(item["expires_at"]["N"]) > now[0] + 80 * 24 * 3600  # TTL: 90 days after forwarding


def test_a_forwarded_restore_is_not_sent_again_by_a_retry_long_after(aws: AwsResources) -> None:
    # Given a restore forwarded by one run
    now = [1_000_000.0]
    assert forwarder(aws, clock=lambda: now[0]).forward([failed("r-1")], budget()).queued == 1
    # When a retry comes a day later, when every lease has long run out
    now[0] += 24 * 3600
    retry = forwarder(aws, clock=lambda: now[0]).forward([failed("r-1")], budget())
    # Then it counts the restore as forwarded, and the queue holds it once
    assert (retry.queued, retry.already_forwarded) == (0, 1)
    assert queued_ids(aws) == ["r-1"]
    assert ledger_states(aws) == {"r-1": "forwarded"}


class AnswerLostOnce(FlakySqs):
    """The real (moto) SQS on the budget's clock, each call taking ``seconds``, whose first SendMessageBatch is
    stored but answered after botocore's read timeout."""

    def __init__(self, clock: ClockOfCalls, seconds: float) -> None:
        super().__init__()
        self.clock, self.seconds = clock, seconds

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        self.clock.advance(self.seconds)
        answer = super().send_message_batch(QueueUrl=QueueUrl, Entries=Entries)
        if len(self.calls) == 1:
            raise ReadTimeoutError(endpoint_url=QueueUrl)
        return answer


@pytest.mark.parametrize(("seconds", "marked"), [(10.0, False), (290.0, True)])
def test_a_fifo_resend_is_marked_only_once_sqs_may_no_longer_drop_it(
    aws: AwsResources, seconds: float, marked: bool
) -> None:
    # Given a FIFO queue whose first SendMessageBatch is stored but its answer lost, each call taking ``seconds``
    fifo = AwsResources.create(fifo=True)
    clock = ClockOfCalls()
    sqs = AnswerLostOnce(clock, seconds)
    # When a failed restore is forwarded
    outcome = forwarder(fifo, sqs, ledger=False).forward([failed("r-1")], budget(900.0, clock))
    # Then the resend went 10 s after the first try began, which SQS drops if it stored the first (same
    # deduplication ID, within 5 minutes), unmarked; or 290 s after, too close to those 5 minutes: marked
    first, resent = (json.loads(entry["MessageBody"]) for entry in sqs.sent)
    assert "possible_duplicate" not in first
    assert resent.get("possible_duplicate", False) is marked
    assert outcome.possible_duplicates == int(marked)


def test_a_batch_leaves_room_for_marking_every_entry_possible_duplicate(aws: AwsResources) -> None:
    # Given restores so large that three fit one batch as first sent, but not as sent again marked
    trial = FlakySqs()
    forwarder(aws, trial, ledger=False).forward([failed("r-9", remark="x" * 300_000)], budget())
    [entry] = trial.sent
    size, mark = entry_bytes(entry), entry_bytes(marked(entry)) - entry_bytes(entry)
    third = MAX_BATCH_BYTES // 3
    remark = 300_000 + third - size  # an entry grows with its remark, byte for byte: this one is a third of 1 MiB
    assert 3 * third <= MAX_BATCH_BYTES < 3 * (third + mark)
    sqs = FlakySqs()
    # When they are forwarded
    forwarder(aws, sqs, ledger=False).forward([failed(f"r-{n}", remark="x" * remark) for n in range(3)], budget())
    # Then no batch would pass 1 MiB if all its entries had to go again marked
    assert sorted(sqs.calls, reverse=True) == [2, 1]
    assert all(sum(entry_bytes(marked(entry)) for entry in batch) <= MAX_BATCH_BYTES for batch in sqs.batches)


def entry_bytes(entry: dict[str, Any]) -> int:
    return len(json.dumps(entry).encode())


def marked(entry: dict[str, Any]) -> dict[str, Any]:
    return {**entry, "MessageBody": marked_possible_duplicate(entry["MessageBody"])}


def test_the_ledger_keeps_claims_and_marks_for_its_ttl_from_when_each_is_written(aws: AwsResources) -> None:
    # Given a ledger that keeps items a week, on a clock at 1,000,000
    now = [1_000_000.0]
    ledger = DynamoDbLedgerTable(boto3.client("dynamodb"), aws.table_name, ttl=timedelta(days=7), clock=lambda: now[0])
    week = 7 * 24 * 3600

    def expires_at() -> int:
        [item] = ledger_items(aws)
        return int(item["expires_at"]["N"])

    # When it claims r-1, Then the item expires a week from the claim
    assert ledger.claim(failed("r-1"), timedelta(seconds=130)) is Claim.TAKEN
    assert expires_at() == 1_000_000 + week
    # And when it marks r-1 forwarded a minute later, a week from the mark
    now[0] += 60
    ledger.confirm(failed("r-1"))
    assert expires_at() == 1_000_060 + week


@pytest.mark.parametrize("maybe_sent", [False, True])
def test_a_run_whose_lease_lapsed_cannot_give_back_the_claim_another_run_took_since(
    aws: AwsResources, maybe_sent: bool
) -> None:
    # Given run A, which claimed r-1 for 10 s and outlived its lease, and run B, which took the claim over since
    now = [1_000_000.0]
    run_a = DynamoDbLedgerTable(boto3.client("dynamodb"), aws.table_name, clock=lambda: now[0])
    run_b = DynamoDbLedgerTable(boto3.client("dynamodb"), aws.table_name, clock=lambda: now[0])
    assert run_a.claim(failed("r-1"), timedelta(seconds=10)) is Claim.TAKEN
    now[0] += 11
    assert run_b.claim(failed("r-1"), timedelta(seconds=130)) is Claim.TAKEN_OVER
    [taken] = ledger_items(aws)
    # When A gives its claim back (as unsent, or as maybe sent)
    assert run_a.release(failed("r-1"), maybe_sent=maybe_sent)
    # Then B's claim is untouched: still B's, for B's lease, and a third run finds r-1 in flight
    assert ledger_items(aws) == [taken]
    assert int(taken["lease_until"]["N"]) == 1_000_011 + 130
    third = DynamoDbLedgerTable(boto3.client("dynamodb"), aws.table_name, clock=lambda: now[0])
    assert third.claim(failed("r-1"), timedelta(seconds=130)) is Claim.IN_FLIGHT


@pytest.mark.parametrize(("work_seconds", "claimed"), [(11.0, 4), (12.0, 5)])
def test_a_wave_of_claims_starts_only_with_time_to_claim_send_and_settle_it(
    aws: AwsResources, work_seconds: float, claimed: int
) -> None:
    # Given one ledger call at a time, each taking 1 s, an instant SQS, and ``work_seconds`` of work left.
    # Before its wave k (k waves taken), a claim needs 1 s for itself, 1 s for each of the k + 1 marks it
    # leaves, 1 s to send (no send seen yet) and 1 s to spare: k + 4 s, while 11 - k s are left (12 - k).
    clock = ClockOfCalls()
    dynamodb = Clocked(boto3.client("dynamodb"), 1.0, clock)
    run = budget(work_seconds + TIMING.response_reserve, clock)
    restores = [failed(f"r-{n}") for n in range(8)]
    with pytest.raises(ForwardingError) as raised:
        forwarder(aws, dynamodb=dynamodb, workers=1).forward(restores, run)
    # Then the last wave started had just the time it needed (11 s: the fourth, 7 s left; 12 s: the fifth, 8 s
    # left), the next did not start, and every claim taken was sent and marked
    assert dynamodb.calls == ["put_item"] * claimed + ["update_item"] * claimed
    assert queued_ids(aws) == [f"r-{n}" for n in range(claimed)]
    assert raised.value.unsent == [f"r-{n}" for n in range(claimed, 8)]
    assert run.work.remaining() == work_seconds - 2 * claimed


@pytest.mark.long
def test_a_thousand_failed_restores_take_exactly_one_hundred_batches(aws: AwsResources) -> None:
    sqs = FlakySqs()
    outcome = forwarder(aws, sqs, ledger=False).forward([failed(f"r-{n:04}") for n in range(1000)], budget())
    assert outcome.queued == 1000
    assert sqs.calls == [10] * 100


@pytest.mark.parametrize("calls_take", [0.0, 1.0])
def test_a_dcs_read_that_takes_all_its_time_still_leaves_the_forwarder_time_to_queue_a_failed_restore(
    aws: AwsResources, calls_take: float
) -> None:
    # Given an invocation whose DCS reads took every second they were given
    clock = ClockOfCalls()
    run = budget(60.0, clock)
    clock.advance(run.dcs_reads.remaining())
    assert run.dcs_reads.remaining() == 0.0
    # When its failed restore is forwarded, each ledger call taking no time or the least any call is given
    dynamodb = Clocked(boto3.client("dynamodb"), calls_take, clock)
    outcome = forwarder(aws, dynamodb=dynamodb, workers=1).forward([failed("r-1")], run)
    # Then it is claimed, queued and marked within the forwarding reserve
    assert outcome.queued == 1
    assert dynamodb.calls == ["put_item", "update_item"]
    assert queued_ids(aws) == ["r-1"]
