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
import time
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from dcs_restores import Deadline

from ..budget import Budget, Timing, pause_before_retry
from .failed_restore import FailedRestore
from .outcome import Claim, Forwarded, ForwardingError, LedgerUnavailableError

if TYPE_CHECKING:
    from .ledger import Ledger
    from .publisher import QueuePublisher

logger = logging.getLogger(__name__)

WORKERS = 10  # ledger calls (and a standard queue's batches) in flight at once; the clients' pools match
CHUNK = 100  # restores claimed, sent and settled together: ten batches


@dataclass
class _Pace:
    """How long the steps have taken so far (the slowest seen), in seconds of the budget's clock.

    Until a step has been seen, it is taken to need the least time any AWS call is given.
    """

    ledger_wave: float | None = None  # one round of ``workers`` ledger calls at once
    send: float | None = None  # sending a chunk's batches

    def wave(self, timing: Timing) -> float:
        return timing.min_aws_call if self.ledger_wave is None else self.ledger_wave

    def sending(self, timing: Timing) -> float:
        return timing.min_aws_call if self.send is None else self.send

    def saw_waves(self, seconds: float, waves: int) -> None:
        if waves:
            self.ledger_wave = max(self.ledger_wave or 0.0, seconds / waves)


@dataclass
class _Tally:
    """Where each restore of one ``forward`` ended up."""

    sent: list[FailedRestore] = field(default_factory=list)  # queued (and marked, unless also unconfirmed)
    forwarded: list[FailedRestore] = field(default_factory=list)  # an earlier run forwarded it
    in_flight: list[FailedRestore] = field(default_factory=list)  # another run holds a live claim
    unsent: list[FailedRestore] = field(default_factory=list)  # claimed, not sent, given back
    unconfirmed: list[FailedRestore] = field(default_factory=list)  # sent, not marked
    untried: list[FailedRestore] = field(default_factory=list)  # never claimed
    stopped: str = "before the deadline"  # why the untried were not tried
    send_errors: Counter[str] = field(default_factory=Counter)  # AWS's codes for the sends that failed
    marked: list[FailedRestore] = field(default_factory=list)  # sent marked possible_duplicate
    maybe_sent: set[str] = field(default_factory=set)  # keys of restores SQS may already hold


class FailedRestoreForwarder:
    """Sends each failed restore once: through the ledger when there is one, else as-is (FIFO dedup only)."""

    def __init__(
        self,
        publisher: QueuePublisher,
        ledger: Ledger | None,
        *,
        workers: int = WORKERS,
        chunk: int = CHUNK,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._publisher = publisher
        self._ledger = ledger
        self._workers = workers
        self._chunk = chunk
        self._sleep = sleep

    def close(self) -> None:
        """Close the AWS clients: their pooled connections go."""
        self._publisher.close()
        if self._ledger is not None:
            self._ledger.close()

    def forward(self, restores: Sequence[FailedRestore], budget: Budget) -> Forwarded:
        """Send what this run may send before ``budget.work``; raise ``ForwardingError`` if anything is left."""
        pace = _Pace()
        tally = _Tally()
        pool = ThreadPoolExecutor(self._workers, thread_name_prefix="forwarding")
        try:
            for start in range(0, len(restores), self._chunk):
                rest = restores[start + self._chunk :]
                try:
                    go_on = self._forward_chunk(restores[start : start + self._chunk], budget, pace, tally, pool)
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

    def _forward_chunk(
        self, chunk: Sequence[FailedRestore], budget: Budget, pace: _Pace, tally: _Tally, pool: Executor
    ) -> bool:
        """Claim, send and settle one chunk; ``False`` when the rest is better left to the retry.

        That is when the deadline stopped claiming, or when SQS or the ledger failed (the rest
        would meet the same failure, and every restore sent and left unmarked is a duplicate
        later).
        """
        timing, work = budget.timing, budget.work
        taken, waves, complete = self._claim(chunk, budget, pace, tally, pool)
        # Marking (or releasing) takes as many waves as claiming did, and no call starts with less than min_aws_call.
        settling = waves * pace.wave(timing) + timing.min_aws_call
        began = work.remaining()
        ran_long = began < pace.sending(timing) + settling
        if ran_long:  # claiming took longer than it had before: give it all back
            sent, unsent = list[FailedRestore](), taken
        else:
            try:
                sending = self._publisher.send(
                    taken, work.before(settling), timing, pool, sent_before=frozenset(tally.maybe_sent)
                )
            except BaseException:  # re-raised, once no claim of this chunk is left to block the retry
                self._release(taken, work, timing, pool, tally.maybe_sent)
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
        unconfirmed = self._settle(sent, unsent, work, timing, pace, pool, tally.maybe_sent)
        tally.sent.extend(sent)
        tally.unsent.extend(unsent)
        tally.unconfirmed.extend(unconfirmed)
        if not complete or ran_long:
            return False
        if unsent or unconfirmed:
            tally.stopped = "after a failure"
            return False
        return True

    def _claim(
        self, chunk: Sequence[FailedRestore], budget: Budget, pace: _Pace, tally: _Tally, pool: Executor
    ) -> tuple[list[FailedRestore], int, bool]:
        """(the restores of ``chunk`` this run now holds, in how many waves, whether all were tried).

        Claims go in waves of ``workers`` at once. A wave starts only while there is time for it,
        for sending, and for settling every wave taken (a confirm or release costs what a claim
        does). The others go to ``tally``. If the ledger fails, the claims taken are released.
        """
        ledger = self._ledger
        if ledger is None:
            return list(chunk), 0, True
        timing, work = budget.timing, budget.work
        lease = budget.lease()  # every claim of this run ends together, a margin after the invocation
        taken: list[FailedRestore] = []
        waves = 0
        for start in range(0, len(chunk), self._workers):
            wave = chunk[start : start + self._workers]
            began = work.remaining()
            if began < pace.wave(timing) * (waves + 2) + pace.sending(timing) + timing.min_aws_call:
                tally.untried.extend(chunk[start:])
                return taken, waves, False
            results = list(pool.map(lambda restore: _try_claim(ledger, restore, lease), wave))
            waves += 1
            pace.saw_waves(began - work.remaining(), 1)
            failure: LedgerUnavailableError | None = None
            for restore, result in zip(wave, results, strict=True):
                if result is Claim.TAKEN:
                    taken.append(restore)
                elif result is Claim.TAKEN_OVER:  # the run that held it may have sent it
                    taken.append(restore)
                    tally.maybe_sent.add(restore.key)
                elif result is Claim.FORWARDED:
                    tally.forwarded.append(restore)
                elif result is Claim.IN_FLIGHT:
                    tally.in_flight.append(restore)
                else:
                    tally.untried.append(restore)
                    failure = result
            if failure is not None:
                self._release(taken, work, timing, pool, tally.maybe_sent)  # what this run cannot send: the retry can
                tally.untried.extend([*taken, *chunk[start + len(wave) :]])
                raise failure
        return taken, waves, True

    def _settle(
        self,
        sent: list[FailedRestore],
        unsent: list[FailedRestore],
        work: Deadline,
        timing: Timing,
        pace: _Pace,
        pool: Executor,
        maybe_sent: Collection[str],
    ) -> list[FailedRestore]:
        """Mark what SQS acknowledged, then release what it did not; return the sent ones left unmarked.

        Marking comes first and is retried until the deadline: a sent restore left unmarked is
        sent again by a later run once its lease runs out, so giving up early would turn a blip
        into a duplicate. A release the deadline leaves no time for only makes the retry wait
        for the lease.
        """
        ledger = self._ledger
        if ledger is None:
            return []

        def confirmed(restore: FailedRestore) -> bool:
            if work.remaining() < timing.min_aws_call:
                return False
            try:
                ledger.confirm(restore)
            except LedgerUnavailableError as error:
                logger.warning("could not mark a forwarded restore", extra={"reason": str(error)})
                return False
            return True

        unconfirmed = sent
        for attempt in range(timing.confirm_attempts):
            if attempt and not pause_before_retry(attempt, work, timing, self._sleep):
                break
            began = work.remaining()
            done = list(pool.map(confirmed, unconfirmed))
            if attempt == 0:
                pace.saw_waves(began - work.remaining(), -(-len(unconfirmed) // self._workers))
            unconfirmed = [restore for restore, ok in zip(unconfirmed, done, strict=True) if not ok]
            if not unconfirmed:
                break
        self._release(unsent, work, timing, pool, maybe_sent)
        return unconfirmed

    def _release(
        self,
        restores: list[FailedRestore],
        work: Deadline,
        timing: Timing,
        pool: Executor,
        maybe_sent: Collection[str],
    ) -> None:
        """Give the claims back at once; one there is no time left for lapses with its lease.

        A claim on a restore SQS may already hold (``maybe_sent``, by key) is lapsed, not deleted:
        the retry takes it over and marks its message.
        """
        ledger = self._ledger
        if ledger is None or not restores:
            return

        def release(restore: FailedRestore) -> None:
            if work.remaining() < timing.min_aws_call or not ledger.release(
                restore, maybe_sent=restore.key in maybe_sent
            ):
                logger.warning("a claim is left to lapse", extra={"restore_id": restore.restore_id})

        list(pool.map(release, restores))


def _try_claim(ledger: Ledger, restore: FailedRestore, lease: timedelta) -> Claim | LedgerUnavailableError:
    try:
        return ledger.claim(restore, lease)
    except LedgerUnavailableError as error:
        return error


def _left_for_retry(tally: _Tally, kind: type[ForwardingError], cause: str = "") -> ForwardingError:
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

    from .ledger import Ledger
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
    ledger = Ledger(dynamodb, ledger_table, ttl=ledger_ttl) if ledger_table else None
    return FailedRestoreForwarder(publisher, ledger)
