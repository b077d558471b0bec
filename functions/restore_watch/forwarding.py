"""Forward failed restores to SQS exactly once: claim in the ledger, send, then confirm.

The ledger (DynamoDB, one item per project/instance/restore) is what makes overlapping windows
and concurrent runs safe: a restore is sent only by the run that claimed it, and it counts as
forwarded only after SQS acknowledged it. A claim whose run died expires after a lease, so a
retry sends it again. AWS clients are passed in: this module never imports boto3.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict

from dcs_restores import Deadline, RestoreRecord

logger = logging.getLogger(__name__)

MAX_BATCH_ENTRIES = 10
MAX_BATCH_BYTES = 1024 * 1024  # SendMessageBatch: 1 MiB for the whole batch
MIN_CALL_SECONDS = 1.0  # no SQS or DynamoDB call starts with less than this left before the deadline
_Batch = list[tuple[dict[str, Any], "FailedRestore"]]


class ForwardingError(Exception):
    """Some failed restores could not be forwarded; the invocation must fail so Lambda retries it.

    ``unsent``: not sent (retry sends them); ``in_flight``: claimed by another invocation that has
    not finished; ``unconfirmed``: sent, but the ledger could not be marked.
    """

    def __init__(
        self,
        message: str,
        unsent: Sequence[str] = (),
        in_flight: Sequence[str] = (),
        unconfirmed: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.unsent = list(unsent)
        self.in_flight = list(in_flight)
        self.unconfirmed = list(unconfirmed)


class LedgerUnavailableError(ForwardingError):
    """The DynamoDB ledger could not be read or written."""


class Forwarded(BaseModel):
    model_config = ConfigDict(frozen=True)

    queued: int
    already_forwarded: int


ForwardOutcome = Forwarded


@dataclass(frozen=True)
class FailedRestore:
    project_id: str
    instance_id: str
    record: RestoreRecord
    seen_at: datetime

    @property
    def key(self) -> str:
        return f"{self.project_id}#{self.instance_id}#{self.record.restore_id}"

    def message_body(self) -> str:
        body = self.record.model_dump(mode="json")
        body.update(instance_id=self.instance_id, project_id=self.project_id, seen_at=self.seen_at.isoformat())
        return json.dumps(body, separators=(",", ":"))

    def attributes(self) -> dict[str, dict[str, str]]:
        values = {"instance_id": self.instance_id, "restore_id": self.record.restore_id}
        if self.record.error_code:
            values["error_code"] = self.record.error_code
        return {name: {"DataType": "String", "StringValue": value} for name, value in values.items()}


def aws_error_code(error: BaseException) -> str:
    """The AWS error code of a botocore ``ClientError`` (``""`` for anything else)."""
    response = getattr(error, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _describe(error: Exception) -> str:
    """AWS's error code, else the exception's name: never its text, which may hold an endpoint URL."""
    return aws_error_code(error) or type(error).__name__


class Claim(Enum):
    TAKEN = "taken"  # this invocation sends it
    FORWARDED = "forwarded"  # SQS acknowledged it before
    IN_FLIGHT = "in_flight"  # another invocation holds a live claim: it may still send it, or die


class Ledger:
    """Which failed restores were already forwarded, in a DynamoDB table keyed by ``pk``."""

    def __init__(
        self,
        dynamodb: Any,
        table: str,
        *,
        ttl: timedelta = timedelta(days=90),
        lease: timedelta = timedelta(minutes=5),  # longer than the function's timeout (120 s)
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._dynamodb = dynamodb
        self._table = table
        self._ttl = ttl
        self._lease = lease
        self._clock = clock

    def claim(self, restore: FailedRestore) -> Claim:
        """Take the right to send ``restore``, unless it was forwarded or another claim is live."""
        now = int(self._clock())
        try:
            self._dynamodb.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": restore.key},
                    "state": {"S": "sending"},
                    "lease_until": {"N": str(now + int(self._lease.total_seconds()))},
                    "expires_at": {"N": str(now + int(self._ttl.total_seconds()))},
                },
                ConditionExpression="attribute_not_exists(pk) OR (#state = :sending AND lease_until < :now)",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":sending": {"S": "sending"}, ":now": {"N": str(now)}},
            )
        except Exception as error:
            if aws_error_code(error) == "ConditionalCheckFailedException":
                return self._state(restore)
            raise LedgerUnavailableError(f"the ledger could not be written: {_describe(error)}") from error
        return Claim.TAKEN

    def _state(self, restore: FailedRestore) -> Claim:
        try:
            item = self._dynamodb.get_item(
                TableName=self._table, Key={"pk": {"S": restore.key}}, ConsistentRead=True
            ).get("Item", {})
        except Exception as error:
            raise LedgerUnavailableError(f"the ledger could not be read: {_describe(error)}") from error
        return Claim.FORWARDED if item.get("state", {}).get("S") == "forwarded" else Claim.IN_FLIGHT

    def confirm(self, restore: FailedRestore) -> None:
        now = int(self._clock())
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key={"pk": {"S": restore.key}},
                UpdateExpression="SET #state = :forwarded, forwarded_at = :now, expires_at = :expires",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":forwarded": {"S": "forwarded"},
                    ":now": {"N": str(now)},
                    ":expires": {"N": str(now + int(self._ttl.total_seconds()))},
                },
            )
        except Exception as error:
            # Sent but not marked: once the lease runs out a later run sends it again (at least once).
            raise LedgerUnavailableError(f"the ledger could not be marked: {_describe(error)}") from error

    def release(self, restore: FailedRestore) -> None:
        """Give a claim back after a failed send, so the retry can claim it at once."""
        try:
            self._dynamodb.delete_item(
                TableName=self._table,
                Key={"pk": {"S": restore.key}},
                ConditionExpression="#state = :sending",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":sending": {"S": "sending"}},
            )
        except Exception:  # the lease expires on its own; nothing is lost
            logger.warning("could not release a ledger claim", extra={"restore_id": restore.record.restore_id})


class QueuePublisher:
    """``SendMessageBatch`` in batches of at most 10 entries and 1 MiB; failed entries resent."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        *,
        max_attempts: int = 4,
        base_delay: float = 0.1,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._fifo = queue_url.endswith(".fifo")
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._sleep = sleep

    def send(
        self, restores: Sequence[FailedRestore], deadline: Deadline | None = None
    ) -> tuple[list[FailedRestore], list[FailedRestore]]:
        """Send all that the deadline leaves time for; return (acknowledged, unsent)."""
        deadline = deadline or Deadline.never()
        sent: list[FailedRestore] = []
        unsent: list[FailedRestore] = []
        for batch in _batches(restores, self._entry):
            acknowledged, failed = self._send_batch(batch, deadline)
            sent.extend(acknowledged)
            unsent.extend(failed)
        return sent, unsent

    def _entry(self, index: int, restore: FailedRestore) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "Id": str(index),
            "MessageBody": restore.message_body(),
            "MessageAttributes": restore.attributes(),
        }
        if self._fifo:
            entry["MessageGroupId"] = restore.instance_id
            entry["MessageDeduplicationId"] = _dedup_id(restore)
        return entry

    def _send_batch(self, batch: _Batch, deadline: Deadline) -> tuple[list[FailedRestore], list[FailedRestore]]:
        pending = {entry["Id"]: (entry, restore) for entry, restore in batch}
        acknowledged: list[FailedRestore] = []
        for attempt in range(self._max_attempts):
            if deadline.remaining() < MIN_CALL_SECONDS:
                break
            try:
                answer = self._sqs.send_message_batch(
                    QueueUrl=self._queue_url, Entries=[entry for entry, _ in pending.values()]
                )
            except Exception as error:  # throttled or unreachable: the whole batch is retried
                logger.warning("SendMessageBatch failed", extra={"code": _describe(error), "attempt": attempt + 1})
            else:
                for done in answer.get("Successful", []):
                    acknowledged.append(pending.pop(done["Id"])[1])
                failed = answer.get("Failed", [])
                if failed:
                    logger.warning("SQS refused entries", extra={"codes": sorted({f.get("Code", "") for f in failed})})
                if not pending:
                    break
            pause = random.uniform(0, self._base_delay * 2**attempt)  # noqa: S311 - jitter, not crypto  # nosec B311
            if attempt + 1 < self._max_attempts and pause < deadline.remaining() - MIN_CALL_SECONDS:
                self._sleep(pause)
        return acknowledged, [restore for _, restore in pending.values()]


def _dedup_id(restore: FailedRestore) -> str:
    # FIFO deduplication spans the whole queue: the same restore ID on two instances must not collide.
    return hashlib.sha256(restore.key.encode()).hexdigest()


def _batches(
    restores: Iterable[FailedRestore], entry_for: Callable[[int, FailedRestore], dict[str, Any]]
) -> Iterable[_Batch]:
    batch: _Batch = []
    size = 0
    for index, restore in enumerate(restores):
        entry = entry_for(index, restore)
        entry_size = len(json.dumps(entry).encode())
        if batch and (len(batch) == MAX_BATCH_ENTRIES or size + entry_size > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append((entry, restore))
        size += entry_size
    if batch:
        yield batch


class FailedRestoreForwarder:
    """Sends each failed restore once: through the ledger when there is one, else as-is (FIFO dedup only)."""

    def __init__(
        self,
        publisher: QueuePublisher,
        ledger: Ledger | None,
        claim_reserve: float = 2.0,
        *,
        confirm_attempts: int = 5,
        confirm_delay: float = 0.1,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._publisher = publisher
        self._ledger = ledger
        self._claim_reserve = claim_reserve  # seconds kept for sending and marking what was claimed
        self._confirm_attempts = confirm_attempts
        self._confirm_delay = confirm_delay
        self._sleep = sleep

    def forward(self, restores: Sequence[FailedRestore], deadline: Deadline | None = None) -> ForwardOutcome:
        """Send what this run may send; raise ``ForwardingError`` if anything is left for a retry."""
        deadline = deadline or Deadline.never()
        claims = self._claim(restores, deadline)
        claimed = claims.get(Claim.TAKEN, [])
        sent, unsent = self._publisher.send(claimed, deadline)
        unconfirmed = self._settle(sent, unsent, deadline)
        left = {
            "could not be sent": unsent,
            "are being forwarded by another invocation": claims.get(Claim.IN_FLIGHT, []),
            "were not claimed before the deadline": claims.get(None, []),
            "were sent but could not be marked in the ledger": unconfirmed,
        }
        if any(left.values()):
            summary = "; ".join(f"{len(items)} {what}" for what, items in left.items() if items)
            raise ForwardingError(
                f"{len(sent)} failed restore(s) queued; {summary}",
                unsent=_ids([*unsent, *claims.get(None, [])]),
                in_flight=_ids(claims.get(Claim.IN_FLIGHT, [])),
                unconfirmed=_ids(unconfirmed),
            )
        return Forwarded(queued=len(sent), already_forwarded=len(claims.get(Claim.FORWARDED, [])))

    def _claim(self, restores: Sequence[FailedRestore], deadline: Deadline) -> dict[Claim | None, list[FailedRestore]]:
        """Restores by what the ledger said of them; ``None`` for those the deadline left unclaimed.

        Claiming stops while there is still time to send and mark what was taken: the reserve
        grows with each claim by what a claim took (a mark costs about as much; a send a tenth).
        """
        claims: dict[Claim | None, list[FailedRestore]] = {}
        if self._ledger is None:
            return {Claim.TAKEN: list(restores)}
        started = deadline.remaining()
        try:
            for index, restore in enumerate(restores):
                per_claim = (started - deadline.remaining()) / index if index else 0.0
                taken = len(claims.get(Claim.TAKEN, []))
                if deadline.remaining() < self._claim_reserve + 1.2 * per_claim * taken:
                    claims[None] = list(restores[index:])
                    break
                claims.setdefault(self._ledger.claim(restore), []).append(restore)
        except LedgerUnavailableError:
            for restore in claims.get(Claim.TAKEN, []):  # give back what this run cannot send, so the retry can
                self._ledger.release(restore)
            raise
        return claims

    def _settle(
        self, sent: list[FailedRestore], unsent: list[FailedRestore], deadline: Deadline
    ) -> list[FailedRestore]:
        """Mark what SQS acknowledged, release what it did not; return the sent ones left unmarked.

        Marking is retried until the deadline: a sent restore left unmarked is sent again by a
        later run once its lease runs out, so giving up early would turn a blip into a duplicate.
        """
        ledger = self._ledger
        if ledger is None:
            return []
        for restore in unsent:
            ledger.release(restore)
        unconfirmed = sent
        for attempt in range(self._confirm_attempts):
            if attempt:
                pause = random.uniform(0, self._confirm_delay * 2**attempt)  # noqa: S311 - jitter, not crypto  # nosec B311
                if pause >= deadline.remaining() - MIN_CALL_SECONDS:
                    break
                self._sleep(pause)
            unconfirmed = [restore for restore in unconfirmed if not _confirmed(ledger, restore, deadline)]
            if not unconfirmed:
                break
        return unconfirmed


def _confirmed(ledger: Ledger, restore: FailedRestore, deadline: Deadline) -> bool:
    if deadline.remaining() < MIN_CALL_SECONDS:
        return False
    try:
        ledger.confirm(restore)
    except LedgerUnavailableError as error:
        logger.warning("could not mark a forwarded restore", extra={"reason": str(error)})
        return False
    return True


def _ids(restores: Iterable[FailedRestore]) -> list[str]:
    return [restore.record.restore_id for restore in restores]
