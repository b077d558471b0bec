"""The forwarder: claim in the ledger, send to SQS, confirm, a chunk at a time, within the budget.

The ledger (see ``ledger``) is what makes overlapping windows and concurrent runs safe: a restore
is sent only by the run that claimed it, and it counts as forwarded only after SQS acknowledged
it. Restores go in chunks of ``CHUNK``: the chunk's claims in waves of ``WORKERS`` calls at once,
its batches sent, then what SQS acknowledged confirmed and what it did not released, before the
next chunk starts; between chunks this run holds no claim. A wave of claims starts only while
there is time for it, for sending, and for settling every claim taken (each step as long as it
has taken so far), with the least time for one more call to spare. What is left is named in
``ForwardingError`` for the retry.

Where SQS may already hold a restore (a send whose answer was lost, or a lapsed claim taken
over: its run may have sent it), its message goes out marked ``possible_duplicate`` and is
counted; a claim given back on such a restore is lapsed rather than deleted, so that the retry
that takes it over marks it too.

Nothing here imports boto3 or botocore: ``build_forwarder`` does, when it is first called.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

from common.timing import Timing

from .errors import ForwardingError, LedgerUnavailableError
from .failed_restore import FailedRestore
from .ledger import Ledger, NoLedger, TableLedger
from .outcome import Forwarded
from .progress import Pace, Run, Tally, WorkBudget

if TYPE_CHECKING:
    from .publisher import QueuePublisher

logger = logging.getLogger(__name__)

WORKERS = 10  # ledger calls (and a standard queue's batches) in flight at once; the clients' pools match
CHUNK = 100  # restores claimed, sent and settled together: ten batches


class Forwarder(Protocol):
    """What the watch asks of forwarding."""

    def forward(self, restores: Sequence[FailedRestore], budget: WorkBudget) -> Forwarded: ...

    def close(self) -> None: ...


class FailedRestoreForwarder:
    """Sends each failed restore once: through the ledger's claims, or as-is with ``NoLedger`` (FIFO dedup only)."""

    def __init__(
        self,
        publisher: QueuePublisher,
        ledger: Ledger,
        *,
        workers: int = WORKERS,
        chunk: int = CHUNK,
    ) -> None:
        self._publisher = publisher
        self._ledger = ledger
        self._workers = workers
        self._chunk = chunk

    def close(self) -> None:
        """Close the AWS clients: their pooled connections go."""
        self._publisher.close()
        self._ledger.close()

    def forward(self, restores: Sequence[FailedRestore], budget: WorkBudget) -> Forwarded:
        """Send what this run may send before ``budget.work``; raise ``ForwardingError`` if anything is left."""
        tally = Tally()
        pool = ThreadPoolExecutor(self._workers, thread_name_prefix="forwarding")
        run = Run(Pace(), tally, pool, self._workers)
        try:
            for start in range(0, len(restores), self._chunk):
                rest = restores[start + self._chunk :]
                try:
                    go_on = self._forward_chunk(restores[start : start + self._chunk], budget, run)
                except LedgerUnavailableError as error:
                    tally.untried.extend(rest)
                    tally.stopped = "after the ledger failed"
                    raise _left_for_retry(tally, LedgerUnavailableError, str(error)) from error
                if not go_on:
                    tally.untried.extend(rest)
                    break
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        if tally.unsent or tally.in_flight or tally.unconfirmed or tally.untried:
            raise _left_for_retry(tally, ForwardingError)
        return Forwarded(
            queued=len(tally.sent), already_forwarded=len(tally.forwarded), possible_duplicates=len(tally.marked)
        )

    def _forward_chunk(self, chunk: Sequence[FailedRestore], budget: WorkBudget, run: Run) -> bool:
        """Claim, send and settle one chunk; ``False`` when the rest is better left to the retry.

        That is when the deadline stopped claiming, or when SQS or the ledger failed (the rest
        would meet the same failure, and every restore sent and left unmarked is a duplicate
        later).
        """
        timing, work, pace, tally = budget.timing, budget.work, run.pace, run.tally
        taken, waves, complete = self._ledger.claim(chunk, budget, run)
        # Marking (or releasing) takes as many waves as claiming did, and no call starts with less than min_aws_call.
        settling = waves * pace.wave(timing) + timing.min_aws_call
        began = work.remaining()
        ran_long = began < pace.sending(timing) + settling
        if ran_long:  # claiming took longer than it had before: give it all back
            sent, unsent = list[FailedRestore](), taken
        else:
            try:
                sending = self._publisher.send(
                    taken, work.before(settling), timing, run.pool, sent_before=frozenset(tally.maybe_sent)
                )
            except BaseException:  # re-raised, once no claim of this chunk is left to block the retry
                self._ledger.release(taken, budget, run)
                raise
            sent, unsent = sending.sent, sending.unsent
            tally.send_errors.update(sending.errors)
            tally.maybe_sent.update(restore.key for restore in sending.maybe_sent)
            tally.marked.extend(sending.marked)
            if sending.marked:
                logger.warning(
                    "failed restores queued marked possible_duplicate: SQS may hold them twice",
                    extra={"restore_ids": _ids(sending.marked)},
                )
            if taken:
                pace.send = max(pace.send or 0.0, began - work.remaining())
        unconfirmed = self._ledger.settle(sent, unsent, budget, run)
        tally.sent.extend(sent)
        tally.unsent.extend(unsent)
        tally.unconfirmed.extend(unconfirmed)
        if not complete or ran_long:
            return False
        if unsent or unconfirmed:
            tally.stopped = "after a failure"
            return False
        return True


def _left_for_retry(tally: Tally, kind: type[ForwardingError], cause: str = "") -> ForwardingError:
    left = {
        f"could not be sent{_codes(tally.send_errors)}": tally.unsent,
        "are being forwarded by another invocation": tally.in_flight,
        f"were not claimed {tally.stopped}": tally.untried,
        "were sent but could not be marked in the ledger": tally.unconfirmed,
    }
    summary = "; ".join(f"{len(items)} {what}" for what, items in left.items() if items)
    maybe_queued = sum(restore.key in tally.maybe_sent for restore in tally.unsent)
    if maybe_queued:
        summary += f" ({maybe_queued} of them may be in the queue already: a send's answer was lost)"
    return kind(
        "; ".join(part for part in (cause, f"{len(tally.sent)} failed restore(s) queued", summary) if part),
        unsent=_ids([*tally.unsent, *tally.untried]),
        in_flight=_ids(tally.in_flight),
        unconfirmed=_ids(tally.unconfirmed),
        queued=len(tally.sent),
        possible_duplicates=len(tally.marked),
    )


def _codes(errors: Counter[str]) -> str:
    return f" ({', '.join(sorted(errors))})" if errors else ""


def _ids(restores: Sequence[FailedRestore]) -> list[str]:
    return [restore.restore_id for restore in restores]


def build_forwarder(
    queue_url: str, ledger_table: str | None, ledger_ttl: timedelta, timing: Timing
) -> FailedRestoreForwarder:
    """The forwarder with its boto3 clients, configured from ``timing``; boto3 is imported here, not before.

    The ledger's calls may be repeated unseen (each is conditional on this run's claim token, or
    sets what it set), so botocore retries them. A ``SendMessageBatch`` repeated after its answer
    was lost is a second message that no ledger sees: botocore makes one attempt, and the
    publisher retries, knowing which attempts SQS may have stored.
    """
    import boto3  # here, not at the top: kept off the cold-start path
    from botocore.config import Config

    from .dynamodb import DynamoDbLedgerTable
    from .publisher import QueuePublisher

    def config(attempts: int) -> Config:
        return Config(
            retries={"mode": "standard", "total_max_attempts": attempts},
            connect_timeout=timing.aws_connect_timeout,
            read_timeout=timing.aws_read_timeout,
            max_pool_connections=WORKERS,
        )

    session = boto3.session.Session()
    publisher = QueuePublisher(session.client("sqs", config=config(1)), queue_url)
    dynamodb = session.client("dynamodb", config=config(timing.aws_max_attempts))
    ledger = TableLedger(DynamoDbLedgerTable(dynamodb, ledger_table, ttl=ledger_ttl)) if ledger_table else NoLedger()
    return FailedRestoreForwarder(publisher, ledger)


class ForwarderOnFirstUse:
    """A forwarder built by ``build`` when first asked to forward: boto3 is imported only when there is
    something to forward. ``close`` drops it; the next forward builds another."""

    def __init__(self, build: Callable[[], FailedRestoreForwarder]) -> None:
        self._build = build
        self._forwarder: FailedRestoreForwarder | None = None

    @property
    def built(self) -> bool:
        return self._forwarder is not None

    def forward(self, restores: Sequence[FailedRestore], budget: WorkBudget) -> Forwarded:
        if self._forwarder is None:
            self._forwarder = self._build()
        return self._forwarder.forward(restores, budget)

    def close(self) -> None:
        forwarder, self._forwarder = self._forwarder, None
        if forwarder is not None:
            forwarder.close()
