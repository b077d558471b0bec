"""How one ``forward`` is going: its budget, how long its steps take, and where each restore ended up.

The forwarder and the ledger share it: the ledger's claims and marks are paced by the sends, and the
sends by the claims.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from common.timing import Timing
from dcs_restores import Deadline

from .failed_restore import FailedRestore


class WorkBudget(Protocol):
    """What forwarding reads of an invocation's budget (``restore_watch.budget.Budget``)."""

    @property
    def timing(self) -> Timing: ...

    @property
    def work(self) -> Deadline: ...  # forwarding ends here

    def lease(self) -> timedelta:
        """How long a claim taken now must hold."""
        ...


@dataclass
class Pace:
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
class Tally:
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


@dataclass(frozen=True)
class Run:
    """One ``forward``: its pace, its tally, and the threads its AWS calls go out on (``workers`` at once)."""

    pace: Pace
    tally: Tally
    pool: Executor
    workers: int
