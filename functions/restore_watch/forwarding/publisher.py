"""The SQS publisher: ``SendMessageBatch`` in batches of at most 10 entries and 1 MiB, failed entries resent.

botocore never retries ``SendMessageBatch`` (its client makes one attempt a call): a call whose
answer was lost may have been stored, and botocore would send it again unseen. The publisher
retries instead, and knows which failures may have been stored (see ``maybe_stored_by``): their
entries go out again marked ``possible_duplicate``, and are counted. On a FIFO queue a resend
within SQS's deduplication interval is dropped by SQS if the first was stored, so it is not marked.

Imported only when the forwarder is built: it needs botocore.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from concurrent.futures import Executor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ProxyConnectionError,
)

from common.aws_errors import aws_error_code, describe
from common.errors import ConfigurationError
from common.timing import Timing
from dcs_restores import Deadline

from .backoff import pause_before_retry
from .failed_restore import FailedRestore, marked_possible_duplicate

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

logger = logging.getLogger(__name__)

MAX_BATCH_ENTRIES = 10
MAX_BATCH_BYTES = 1024 * 1024  # SendMessageBatch: 1 MiB for the whole batch
# SQS drops a FIFO message whose deduplication ID it took in the last 5 minutes; a resend this soon after
# the first attempt began is dropped if that attempt was stored (the margin is for SQS's clock and ours).
FIFO_SAFE_RESEND_SECONDS = 300.0 - 20.0
_Batch = list[tuple["SendMessageBatchRequestEntryTypeDef", FailedRestore]]


class QueuePublisher:
    """Sends failed restores to one queue; a FIFO queue gets group and deduplication IDs, in order."""

    def __init__(self, sqs: SQSClient, queue_url: str, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._fifo = queue_url.endswith(".fifo")
        self._sleep = sleep

    def close(self) -> None:
        self._sqs.close()

    def send(
        self,
        restores: Sequence[FailedRestore],
        deadline: Deadline,
        timing: Timing,
        pool: Executor | None = None,
        *,
        sent_before: Collection[str] = (),
    ) -> Sending:
        """Send all that ``deadline`` leaves time for: what SQS acknowledged, what not, and why not.

        Batches go out at once on ``pool`` for a standard queue, one after another for a FIFO queue
        (whose order within an instance's group is kept). ``sent_before``: the keys of restores an
        earlier run may have sent; their messages are marked ``possible_duplicate`` from the first send.
        """
        batches = list(_batches(restores, self._entry))
        slowest = _SlowestCall(timing.min_aws_call)
        if pool is None or self._fifo:
            results = [self._send_batch(batch, deadline, timing, slowest, sent_before) for batch in batches]
        else:
            futures = [
                pool.submit(self._send_batch, batch, deadline, timing, slowest, sent_before) for batch in batches
            ]
            wait(futures)  # all of them, even when one fails: nothing is still in flight when claims are given back
            results = [future.result() for future in futures]
        return Sending(
            sent=[restore for result in results for restore in result.sent],
            unsent=[restore for result in results for restore in result.unsent],
            errors=sum((result.errors for result in results), Counter[str]()),
            marked=[restore for result in results for restore in result.marked],
            maybe_sent=[restore for result in results for restore in result.maybe_sent],
        )

    def _entry(self, index: int, restore: FailedRestore) -> SendMessageBatchRequestEntryTypeDef:
        entry: SendMessageBatchRequestEntryTypeDef = {
            "Id": str(index),
            "MessageBody": restore.message_body(),
            "MessageAttributes": restore.attributes(),  # type: ignore[typeddict-item]  # DataType is a plain str
        }
        if self._fifo:
            entry["MessageGroupId"] = restore.message_group_id
            entry["MessageDeduplicationId"] = restore.deduplication_id
        return entry

    def _send_batch(
        self, batch: _Batch, deadline: Deadline, timing: Timing, slowest: _SlowestCall, sent_before: Collection[str]
    ) -> Sending:
        pending = {entry["Id"]: (entry, restore) for entry, restore in batch}
        acknowledged: dict[str, FailedRestore] = {}  # by entry ID
        errors = Counter[str]()
        marked = {entry["Id"] for entry, restore in batch if restore.key in sent_before}  # sent marked
        maybe_stored: set[str] = set()  # entries a call carried whose answer was lost
        lost_since: float | None = None  # ``deadline.remaining()`` when the first such call began
        for attempt in range(timing.send_attempts):
            if attempt and not pause_before_retry(attempt, deadline, timing, self._sleep):
                break
            began = deadline.remaining()
            if began < slowest.seconds:  # a call may take as long as the slowest so far: no time for it
                break
            if lost_since is not None and (not self._fifo or lost_since - began > FIFO_SAFE_RESEND_SECONDS):
                marked |= maybe_stored  # SQS may hold them already, and will not drop a second copy
            try:
                answer = self._sqs.send_message_batch(
                    QueueUrl=self._queue_url,
                    Entries=[_marked(entry) if key in marked else entry for key, (entry, _) in pending.items()],
                )
            except (ClientError, BotoCoreError) as error:  # the whole batch is retried
                if aws_error_code(error) in _NO_SUCH_QUEUE:  # no retry will find it: the setting is wrong
                    raise ConfigurationError(
                        "FAILED_RESTORES_QUEUE_URL", "names no queue this function can reach"
                    ) from None
                errors[describe(error)] += 1
                restore_ids = [restore.restore_id for _, restore in pending.values()]
                if maybe_stored_by(error):
                    maybe_stored.update(pending)
                    lost_since = began if lost_since is None else lost_since
                    logger.warning(
                        "SendMessageBatch answer lost: SQS may have stored these failed restores",
                        extra={"code": describe(error), "attempt": attempt + 1, "restore_ids": restore_ids},
                    )
                else:
                    logger.warning(
                        "SendMessageBatch failed",
                        extra={"code": describe(error), "attempt": attempt + 1, "restore_ids": restore_ids},
                    )
                continue
            finally:
                slowest.saw(began - deadline.remaining())
            for done in answer.get("Successful", []):
                acknowledged[done["Id"]] = pending.pop(done["Id"])[1]
            failed = answer.get("Failed", [])
            if failed:
                refused = {f["Id"]: f.get("Code", "") for f in failed if f.get("Id") in pending}
                errors.update(refused.values())
                logger.warning(
                    "SQS refused entries",
                    extra={"refused": {pending[entry][1].restore_id: code for entry, code in refused.items()}},
                )
            if not pending:
                break
        return Sending(
            list(acknowledged.values()),
            [restore for _, restore in pending.values()],
            errors,
            marked=[restore for key, restore in acknowledged.items() if key in marked],
            maybe_sent=[restore for key, (_, restore) in pending.items() if key in maybe_stored],
        )


@dataclass(frozen=True)
class Sending:
    """What one ``send`` came to: acknowledged, not sent, and the AWS error codes met on the way."""

    sent: list[FailedRestore]
    unsent: list[FailedRestore]
    errors: Counter[str] = field(default_factory=Counter)
    marked: list[FailedRestore] = field(default_factory=list)  # sent, and marked possible_duplicate
    maybe_sent: list[FailedRestore] = field(default_factory=list)  # unsent, but a call whose answer was lost had them


def maybe_stored_by(error: ClientError | BotoCoreError) -> bool:
    """Whether SQS may have stored what a call that failed with ``error`` carried.

    Not when SQS answered 4xx (throttled, refused: nothing was processed), nor when the request
    never left (no connection, no credentials, bad parameters). Anything else may have reached
    SQS and been stored before the answer was lost: a read timeout, a connection closed or reset
    once the request was on its way, a 5xx, an answer that could not be read.
    """
    if isinstance(error, ClientError):
        return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500)) >= 500
    return not isinstance(error, _NEVER_SENT)


# botocore's errors raised before a request leaves: no connection to the endpoint (refused, no such
# host, connect timeout), none to the proxy, no credentials to sign with, parameters it refused.
_NEVER_SENT = (
    EndpointConnectionError,
    ConnectTimeoutError,
    ProxyConnectionError,
    NoCredentialsError,
    ParamValidationError,
)


def _marked(entry: SendMessageBatchRequestEntryTypeDef) -> SendMessageBatchRequestEntryTypeDef:
    return {**entry, "MessageBody": marked_possible_duplicate(entry["MessageBody"])}


# What SQS answers when the queue URL names no queue (the JSON protocol's code, then the query protocol's).
_NO_SUCH_QUEUE = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})


class _SlowestCall:
    """The longest a ``SendMessageBatch`` has taken in one ``send`` (at least the least any call is given)."""

    def __init__(self, least: float) -> None:
        self.seconds = least
        self._lock = threading.Lock()  # batches of a standard queue are sent from several threads

    def saw(self, seconds: float) -> None:
        with self._lock:
            self.seconds = max(self.seconds, seconds)


def _batches(
    restores: Iterable[FailedRestore], entry_for: Callable[[int, FailedRestore], SendMessageBatchRequestEntryTypeDef]
) -> Iterator[_Batch]:
    batch: _Batch = []
    size = 0
    for index, restore in enumerate(restores):
        entry = entry_for(index, restore)
        entry_size = len(json.dumps(_marked(entry)).encode())  # as it is sent again if its answer is lost
        if batch and (len(batch) == MAX_BATCH_ENTRIES or size + entry_size > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append((entry, restore))
        size += entry_size
    if batch:
        yield batch
