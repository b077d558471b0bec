"""The ledger, as the forwarder sees it: where a run takes the right to send a chunk, and settles it.

``Ledger`` is what the forwarder asks of one. ``NoLedger``: every restore is sent as it is, and only a
FIFO queue's deduplication keeps it once. ``TableLedger``: claims in a table (``LedgerTable``; the
DynamoDB one is in ``dynamodb``), a wave at a time, paced so that every claim taken can be settled
before the deadline. Nothing here imports boto3 or botocore.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Protocol

from .backoff import pause_before_retry
from .errors import LedgerUnavailableError
from .failed_restore import FailedRestore
from .outcome import Claim
from .progress import Run, WorkBudget

logger = logging.getLogger(__name__)

# What a claim of a chunk came to: the restores this run now holds, in how many waves of ledger calls, and
# whether every restore of the chunk was tried.
Claimed = tuple[list[FailedRestore], int, bool]


class Ledger(Protocol):
    """What the forwarder asks of a ledger, a chunk at a time."""

    def claim(self, chunk: Sequence[FailedRestore], budget: WorkBudget, run: Run) -> Claimed:
        """What claiming ``chunk`` came to; what this run does not hold goes to ``run.tally``.
        ``LedgerUnavailableError`` once nothing is held."""
        ...

    def settle(
        self, sent: list[FailedRestore], unsent: list[FailedRestore], budget: WorkBudget, run: Run
    ) -> list[FailedRestore]:
        """Record what SQS acknowledged and give back what it did not; return the sent ones left unrecorded."""
        ...

    def release(self, restores: list[FailedRestore], budget: WorkBudget, run: Run) -> None:
        """Give back the claims on ``restores``: the retry may take them at once."""
        ...

    def close(self) -> None: ...


class NoLedger:
    """No ledger: this run holds every restore at once, and there is nothing to record or give back."""

    def claim(self, chunk: Sequence[FailedRestore], budget: WorkBudget, run: Run) -> Claimed:
        return list(chunk), 0, True

    def settle(
        self, sent: list[FailedRestore], unsent: list[FailedRestore], budget: WorkBudget, run: Run
    ) -> list[FailedRestore]:
        return []

    def release(self, restores: list[FailedRestore], budget: WorkBudget, run: Run) -> None:
        return None

    def close(self) -> None:
        return None


class LedgerTable(Protocol):
    """One item per restore; every call is one request."""

    def claim(self, restore: FailedRestore, lease: timedelta) -> Claim: ...

    def confirm(self, restore: FailedRestore) -> None: ...

    def release(self, restore: FailedRestore, *, maybe_sent: bool = False) -> bool: ...

    def close(self) -> None: ...


class TableLedger:
    """Claims in ``table``, in waves of ``run.workers`` calls at once, within the budget.

    ``sleep``: the pause between rounds of marking sent restores.
    """

    def __init__(self, table: LedgerTable, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self._table = table
        self._sleep = sleep

    def close(self) -> None:
        self._table.close()

    def claim(self, chunk: Sequence[FailedRestore], budget: WorkBudget, run: Run) -> Claimed:
        """Claims go in waves of ``workers`` at once. A wave starts only while there is time for it,
        for sending, and for settling every wave taken (a confirm or release costs what a claim
        does). The others go to ``tally``. If the ledger fails, the claims taken are released.
        """
        table, pace, tally = self._table, run.pace, run.tally
        timing, work = budget.timing, budget.work
        lease = budget.lease()  # every claim of this run ends together, a margin after the invocation
        taken: list[FailedRestore] = []
        waves = 0
        for start in range(0, len(chunk), run.workers):
            wave = chunk[start : start + run.workers]
            began = work.remaining()
            if began < pace.wave(timing) * (waves + 2) + pace.sending(timing) + timing.min_aws_call:
                tally.untried.extend(chunk[start:])
                return taken, waves, False
            results = list(run.pool.map(lambda restore: _try_claim(table, restore, lease), wave))
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
                self.release(taken, budget, run)  # what this run cannot send: the retry can
                tally.untried.extend([*taken, *chunk[start + len(wave) :]])
                raise failure
        return taken, waves, True

    def settle(
        self, sent: list[FailedRestore], unsent: list[FailedRestore], budget: WorkBudget, run: Run
    ) -> list[FailedRestore]:
        """Mark what SQS acknowledged, then release what it did not; return the sent ones left unmarked.

        Marking comes first and is retried until the deadline: a sent restore left unmarked is
        sent again by a later run once its lease runs out, so giving up early would turn a blip
        into a duplicate. A release the deadline leaves no time for only makes the retry wait
        for the lease.
        """
        table, timing, work = self._table, budget.timing, budget.work

        def confirmed(restore: FailedRestore) -> bool:
            if work.remaining() < timing.min_aws_call:
                return False
            try:
                table.confirm(restore)
            except LedgerUnavailableError as error:
                logger.warning("could not mark a forwarded restore", extra={"reason": str(error)})
                return False
            return True

        unconfirmed = sent
        for attempt in range(timing.confirm_attempts):
            if attempt and not pause_before_retry(attempt, work, timing, self._sleep):
                break
            began = work.remaining()
            done = list(run.pool.map(confirmed, unconfirmed))
            if attempt == 0:
                run.pace.saw_waves(began - work.remaining(), -(-len(unconfirmed) // run.workers))
            unconfirmed = [restore for restore, ok in zip(unconfirmed, done, strict=True) if not ok]
            if not unconfirmed:
                break
        self.release(unsent, budget, run)
        return unconfirmed

    def release(self, restores: list[FailedRestore], budget: WorkBudget, run: Run) -> None:
        """Give the claims back at once; one there is no time left for lapses with its lease.

        A claim on a restore SQS may already hold (``tally.maybe_sent``, by key) is lapsed, not deleted:
        the retry takes it over and marks its message.
        """
        if not restores:
            return
        table, work, least = self._table, budget.work, budget.timing.min_aws_call
        maybe_sent = run.tally.maybe_sent

        def release(restore: FailedRestore) -> None:
            if work.remaining() < least or not table.release(restore, maybe_sent=restore.key in maybe_sent):
                logger.warning("a claim is left to lapse", extra={"restore_id": restore.restore_id})

        list(run.pool.map(release, restores))


def _try_claim(table: LedgerTable, restore: FailedRestore, lease: timedelta) -> Claim | LedgerUnavailableError:
    try:
        return table.claim(restore, lease)
    except LedgerUnavailableError as error:
        return error
