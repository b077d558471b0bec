"""Forwarding failed restores: SQS and DynamoDB are moto; faults are injected around the real clients."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest

from dcs_restores import Deadline, RestoreRecord, RestoreStatus
from restore_watch.forwarding import (
    MAX_BATCH_ENTRIES,
    Claim,
    FailedRestore,
    FailedRestoreForwarder,
    ForwardingError,
    Ledger,
    LedgerUnavailableError,
    QueuePublisher,
)

from ..support import AwsResources

SEEN_AT = datetime(2024, 1, 1, 6, 0, tzinfo=UTC)


def failed(restore_id: str, instance_id: str = "inst-1", remark: str = "") -> FailedRestore:
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
    return FailedRestore("proj", instance_id, record, SEEN_AT)


class FlakySqs:
    """The real (moto) SQS client, with the failures AWS can answer: Failed entries or a failed call."""

    def __init__(self, fail_entries: int = 0, fail_calls: int = 0, fail_after_calls: int | None = None) -> None:
        self.real: Any = boto3.client("sqs")
        self.fail_entries = fail_entries
        self.fail_calls = fail_calls
        self.fail_after_calls = fail_after_calls
        self.calls: list[int] = []

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        self.calls.append(len(Entries))
        if self.fail_calls > 0 or (self.fail_after_calls is not None and len(self.calls) > self.fail_after_calls):
            self.fail_calls -= 1
            raise self.real.exceptions.ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "SendMessageBatch"
            )
        refused, accepted = Entries[: self.fail_entries], Entries[self.fail_entries :]
        self.fail_entries = 0
        answer: dict[str, Any] = self.real.send_message_batch(QueueUrl=QueueUrl, Entries=accepted) if accepted else {}
        answer.setdefault("Successful", [])
        answer["Failed"] = [
            {"Id": entry["Id"], "SenderFault": False, "Code": "InternalError", "Message": "try again"}
            for entry in refused
        ]
        return answer


def forwarder(aws: AwsResources, sqs: Any = None, ledger: bool = True) -> FailedRestoreForwarder:
    publisher = QueuePublisher(sqs or boto3.client("sqs"), aws.queue_url, sleep=lambda _: None)
    return FailedRestoreForwarder(publisher, Ledger(boto3.client("dynamodb"), aws.table_name) if ledger else None)


def queued_ids(aws: AwsResources) -> list[str]:
    return sorted(json.loads(message["Body"])["restore_id"] for message in aws.messages())


def test_overlapping_runs_forward_each_failed_restore_once(aws: AwsResources) -> None:
    # Given two runs whose windows overlap on r-3 and r-4
    first = forwarder(aws).forward([failed(f"r-{n}") for n in range(1, 5)])
    second = forwarder(aws).forward([failed(f"r-{n}") for n in range(3, 7)])
    # Then each restore is in the queue once
    assert (first.queued, first.already_forwarded) == (4, 0)
    assert (second.queued, second.already_forwarded) == (2, 2)
    assert queued_ids(aws) == [f"r-{n}" for n in range(1, 7)]


def test_the_same_restore_id_on_another_instance_is_another_restore(aws: AwsResources) -> None:
    forwarder(aws).forward([failed("r-1", "inst-1")])
    assert forwarder(aws).forward([failed("r-1", "inst-2")]).queued == 1


def test_batches_hold_at_most_ten_entries(aws: AwsResources) -> None:
    sqs = FlakySqs()
    outcome = forwarder(aws, sqs).forward([failed(f"r-{n:02}") for n in range(23)])
    assert outcome.queued == 23
    assert sqs.calls == [MAX_BATCH_ENTRIES, MAX_BATCH_ENTRIES, 3]


def test_batches_stay_under_one_mebibyte(aws: AwsResources) -> None:
    # Given four messages of about 300 KiB each
    sqs = FlakySqs()
    big = [failed(f"r-{n}", remark="x" * 300_000) for n in range(4)]
    forwarder(aws, sqs).forward(big)
    # Then no batch carries more than three of them
    assert sqs.calls == [3, 1]
    assert len(queued_ids(aws)) == 4


def test_entries_reported_failed_are_resent(aws: AwsResources) -> None:
    sqs = FlakySqs(fail_entries=3)
    outcome = forwarder(aws, sqs).forward([failed(f"r-{n}") for n in range(5)])
    assert outcome.queued == 5
    assert sqs.calls == [5, 3]
    assert queued_ids(aws) == [f"r-{n}" for n in range(5)]


def test_a_throttled_call_is_retried(aws: AwsResources) -> None:
    sqs = FlakySqs(fail_calls=2)
    assert forwarder(aws, sqs).forward([failed("r-1")]).queued == 1
    assert sqs.calls == [1, 1, 1]


def test_a_run_that_fails_halfway_is_retried_without_loss_or_double(aws: AwsResources) -> None:
    # Given SQS that takes the first batch and then refuses every call
    restores = [failed(f"r-{n:02}") for n in range(15)]
    with pytest.raises(ForwardingError) as raised:
        forwarder(aws, FlakySqs(fail_after_calls=1)).forward(restores)
    # Then the run fails, naming what it could not send
    assert len(raised.value.unsent) == 5
    assert str(raised.value) == "10 failed restore(s) queued; 5 could not be sent"
    # When Lambda retries the same event with SQS healthy again
    # Then the ledger kept no mark for the unsent five: only they go out, and the queue holds each once
    dynamodb = boto3.client("dynamodb")
    for restore_id in raised.value.unsent:
        assert "Item" not in dynamodb.get_item(TableName=aws.table_name, Key={"pk": {"S": f"proj#inst-1#{restore_id}"}})
    retry = forwarder(aws).forward(restores)
    assert (retry.queued, retry.already_forwarded) == (5, 10)
    assert queued_ids(aws) == sorted(restore.record.restore_id for restore in restores)


def test_a_run_that_starts_while_another_is_sending_fails_and_its_retry_doubles_nothing(aws: AwsResources) -> None:
    # Given run A, which has claimed 30 restores and is inside its SQS call when run B starts on the same window
    restores = [failed(f"r-{n:02}") for n in range(30)]
    raised: list[ForwardingError] = []

    class SqsDuringWhichBRuns(FlakySqs):
        def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
            if not raised:
                with pytest.raises(ForwardingError) as b_failed:
                    forwarder(aws).forward(restores)
                raised.append(b_failed.value)
            return super().send_message_batch(QueueUrl=QueueUrl, Entries=Entries)

    # When A finishes
    outcome = forwarder(aws, SqsDuringWhichBRuns()).forward(restores)
    # Then B sent nothing and failed, so that Lambda retries it, naming the 30 still in flight
    assert raised[0].in_flight == [restore.record.restore_id for restore in restores]
    assert "30 are being forwarded by another invocation" in str(raised[0])
    assert (outcome.queued, outcome.already_forwarded) == (30, 0)
    # And B's retry finds them forwarded: the queue holds each restore once
    retry = forwarder(aws).forward(restores)
    assert (retry.queued, retry.already_forwarded) == (0, 30)
    assert queued_ids(aws) == sorted(restore.record.restore_id for restore in restores)


def test_a_claim_left_by_a_crashed_run_is_not_lost(aws: AwsResources) -> None:
    # Given a run that claimed r-1 and died before sending it
    now = [1_000_000.0]
    ledger = Ledger(boto3.client("dynamodb"), aws.table_name, clock=lambda: now[0])
    assert ledger.claim(failed("r-1")) is Claim.TAKEN
    publisher = QueuePublisher(boto3.client("sqs"), aws.queue_url, sleep=lambda _: None)
    # When Lambda retries within the lease, Then the retry fails rather than calling it forwarded
    with pytest.raises(ForwardingError) as raised:
        FailedRestoreForwarder(publisher, ledger).forward([failed("r-1")])
    assert raised.value.in_flight == ["r-1"]
    # And once the lease has run out, a retry sends it
    now[0] += 6 * 60
    assert FailedRestoreForwarder(publisher, ledger).forward([failed("r-1")]).queued == 1
    assert queued_ids(aws) == ["r-1"]


class ConfirmFails:
    """The real (moto) DynamoDB client, whose UpdateItem (the confirm) fails ``times`` times (always by default)."""

    def __init__(self, times: int = -1) -> None:
        self.real: Any = boto3.client("dynamodb")
        self.times = times
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def update_item(self, **request: Any) -> Any:
        self.calls += 1
        if self.times == 0:
            return self.real.update_item(**request)
        self.times -= 1
        raise self.real.exceptions.ClientError(
            {"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "UpdateItem"
        )


def confirm_forwarder(aws: AwsResources, dynamodb: ConfirmFails, pauses: list[float]) -> FailedRestoreForwarder:
    publisher = QueuePublisher(boto3.client("sqs"), aws.queue_url, sleep=lambda _: None)
    return FailedRestoreForwarder(publisher, Ledger(dynamodb, aws.table_name), sleep=pauses.append)


def test_a_failing_confirm_is_retried_then_reported_for_every_sent_restore(aws: AwsResources) -> None:
    dynamodb, pauses = ConfirmFails(), list[float]()
    restores = [failed(f"r-{n}") for n in range(3)]
    with pytest.raises(ForwardingError) as raised:
        confirm_forwarder(aws, dynamodb, pauses).forward(restores)
    # All three were sent (none is "unsent"), marking was tried 5 times each, and all three are named as unmarked
    assert raised.value.unsent == []
    assert raised.value.unconfirmed == ["r-0", "r-1", "r-2"]
    assert dynamodb.calls == 3 * 5
    assert len(pauses) == 4
    assert queued_ids(aws) == ["r-0", "r-1", "r-2"]


def test_a_confirm_that_fails_for_a_moment_is_retried_and_nothing_is_left_claimed(aws: AwsResources) -> None:
    # Given a ledger whose first two marks fail (a blip that would otherwise leave a live claim behind)
    dynamodb, pauses = ConfirmFails(times=2), list[float]()
    outcome = confirm_forwarder(aws, dynamodb, pauses).forward([failed("r-0"), failed("r-1")])
    # Then both are queued and marked: a second run counts them as forwarded instead of failing on in-flight claims
    assert outcome.queued == 2
    assert (
        confirm_forwarder(aws, ConfirmFails(times=0), []).forward([failed("r-0"), failed("r-1")]).already_forwarded == 2
    )
    assert queued_ids(aws) == ["r-0", "r-1"]


def test_marking_gives_up_rather_than_outlive_the_deadline(aws: AwsResources) -> None:
    # Given a deadline 3 s away, and a pause between marks that takes 5 s
    now = [0.0]
    pauses: list[float] = []

    def pause(seconds: float) -> None:
        pauses.append(seconds)
        now[0] += 5.0

    dynamodb = ConfirmFails()
    publisher = QueuePublisher(boto3.client("sqs"), aws.queue_url, sleep=lambda _: None)
    forwarder = FailedRestoreForwarder(publisher, Ledger(dynamodb, aws.table_name), sleep=pause)
    with pytest.raises(ForwardingError) as raised:
        forwarder.forward([failed("r-0")], Deadline.after(3.0, clock=lambda: now[0]))
    # Then it marked once, paused once, and tried no mark past the deadline
    assert raised.value.unconfirmed == ["r-0"]
    assert (dynamodb.calls, len(pauses)) == (1, 1)


class SlowDynamoDb:
    """The real (moto) DynamoDB client, on a clock where each call takes a second."""

    def __init__(self) -> None:
        self.real: Any = boto3.client("dynamodb")
        self.now = 0.0
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        def call(**request: Any) -> Any:
            self.now += 1.0
            self.calls.append(name)
            return getattr(self.real, name)(**request)

        return call


def test_claiming_stops_while_there_is_time_to_send_and_mark_what_was_taken(aws: AwsResources) -> None:
    # Given a deadline 10 s away, a ledger call that takes 1 s, and 2 s kept back
    dynamodb = SlowDynamoDb()
    deadline = Deadline.after(10.0, clock=lambda: dynamodb.now)
    publisher = QueuePublisher(boto3.client("sqs"), aws.queue_url, sleep=lambda _: None)
    forwarder = FailedRestoreForwarder(publisher, Ledger(dynamodb, aws.table_name), claim_reserve=2.0)
    with pytest.raises(ForwardingError) as raised:
        forwarder.forward([failed(f"r-{n}") for n in range(8)], deadline)
    # Then claiming stopped with 6 s left, the 2 s plus a second (and a fifth) to mark each of the 4 taken
    assert dynamodb.calls == ["put_item"] * 4 + ["update_item"] * 4
    assert queued_ids(aws) == ["r-0", "r-1", "r-2", "r-3"]
    # And the rest is named for the retry, which sends it
    assert raised.value.unsent == ["r-4", "r-5", "r-6", "r-7"]
    assert "4 were not claimed before the deadline" in str(raised.value)
    forwarder.forward([failed(f"r-{n}") for n in range(8)], Deadline.after(60.0, clock=lambda: dynamodb.now))
    assert queued_ids(aws) == [f"r-{n}" for n in range(8)]


def test_nothing_is_sent_or_marked_with_less_than_a_second_left(aws: AwsResources) -> None:
    # Given a run whose deadline passes while it claims (each ledger call takes a second)
    dynamodb = SlowDynamoDb()
    deadline = Deadline.after(1.5, clock=lambda: dynamodb.now)
    publisher = QueuePublisher(boto3.client("sqs"), aws.queue_url, sleep=lambda _: None)
    forwarder = FailedRestoreForwarder(publisher, Ledger(dynamodb, aws.table_name), claim_reserve=0.0)
    with pytest.raises(ForwardingError) as raised:
        forwarder.forward([failed("r-0")], deadline)
    # Then the one claim was given back, nothing was sent, and no mark was tried past the deadline
    assert dynamodb.calls == ["put_item", "delete_item"]
    assert raised.value.unsent == ["r-0"]
    assert queued_ids(aws) == []


def test_without_a_ledger_everything_is_sent(aws: AwsResources) -> None:
    forwarder(aws, ledger=False).forward([failed("r-1")])
    assert forwarder(aws, ledger=False).forward([failed("r-1")]).queued == 1
    assert queued_ids(aws) == ["r-1", "r-1"]


def test_fifo_queues_get_group_and_deduplication_ids(aws: AwsResources) -> None:
    # Given a FIFO queue and no ledger
    fifo = AwsResources.create(fifo=True)
    publisher = QueuePublisher(boto3.client("sqs"), fifo.queue_url)
    # When the same failed restore is sent twice, and the same restore ID comes from another instance
    FailedRestoreForwarder(publisher, None).forward([failed("r-1"), failed("r-2")])
    FailedRestoreForwarder(publisher, None).forward([failed("r-1"), failed("r-1", instance_id="inst-2")])
    # Then FIFO deduplication keeps one of the repeated restore, grouped by instance, and the other instance's too
    messages = boto3.client("sqs").receive_message(
        QueueUrl=fifo.queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
    )["Messages"]
    bodies = sorted((json.loads(m["Body"])["instance_id"], json.loads(m["Body"])["restore_id"]) for m in messages)
    assert bodies == [("inst-1", "r-1"), ("inst-1", "r-2"), ("inst-2", "r-1")]
    assert {message["Attributes"]["MessageGroupId"] for message in messages} == {"inst-1", "inst-2"}
    assert len({message["Attributes"]["MessageDeduplicationId"] for message in messages}) == 3


class BrokenDynamoDb:
    def __getattr__(self, name: str) -> Any:
        def fail(**_: Any) -> None:
            raise boto3.client("dynamodb").exceptions.ClientError(
                {"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, name
            )

        return fail


def test_an_unavailable_ledger_fails_the_run_before_anything_is_sent(aws: AwsResources) -> None:
    publisher = QueuePublisher(boto3.client("sqs"), aws.queue_url)
    with pytest.raises(LedgerUnavailableError, match="ServiceUnavailable"):
        FailedRestoreForwarder(publisher, Ledger(BrokenDynamoDb(), aws.table_name)).forward([failed("r-1")])
    assert aws.messages() == []


def test_a_lapsed_claim_is_taken_over(aws: AwsResources) -> None:
    # Given a run that claimed r-1 and died before sending (its lease is 5 minutes)
    now = [1_000_000.0]
    ledger = Ledger(boto3.client("dynamodb"), aws.table_name, clock=lambda: now[0])
    assert ledger.claim(failed("r-1")) is Claim.TAKEN
    assert ledger.claim(failed("r-1")) is Claim.IN_FLIGHT
    # When the lease has run out
    now[0] += 6 * 60
    # Then another run may claim and send it
    assert ledger.claim(failed("r-1")) is Claim.TAKEN


def test_a_forwarded_restore_is_never_claimed_again(aws: AwsResources) -> None:
    now = [1_000_000.0]
    ledger = Ledger(boto3.client("dynamodb"), aws.table_name, clock=lambda: now[0])
    assert ledger.claim(failed("r-1")) is Claim.TAKEN
    ledger.confirm(failed("r-1"))
    now[0] += 24 * 3600
    assert ledger.claim(failed("r-1")) is Claim.FORWARDED
    item = boto3.client("dynamodb").get_item(TableName=aws.table_name, Key={"pk": {"S": "proj#inst-1#r-1"}})["Item"]
    assert item["state"]["S"] == "forwarded"
    assert int(item["expires_at"]["N"]) > now[0] + 80 * 24 * 3600  # TTL: 90 days after forwarding


@pytest.mark.long
def test_a_thousand_failed_restores_take_exactly_one_hundred_batches(aws: AwsResources) -> None:
    sqs = FlakySqs()
    outcome = forwarder(aws, sqs, ledger=False).forward([failed(f"r-{n:04}") for n in range(1000)])
    assert outcome.queued == 1000
    assert sqs.calls == [10] * 100
