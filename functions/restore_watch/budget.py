"""One invocation's time, split into named parts; every component takes its part from here.

```
now ───────── DCS reads ─────────┬── forwarding reserve ──┬── response reserve ──┐ the answer is due
                                 dcs_reads                 work                   (Lambda's timeout,
                                                                                   or the HTTP API's 30 s)
```

DCS reads stop early enough to leave the forwarding reserve; forwarding stops at ``work``;
fitting and returning the payload has the response reserve. A ledger claim lasts as long as
the invocation may (plus a margin): a run that dies leaves nothing locked for longer.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from common.timing import Timing
from dcs_restores import Deadline


@dataclass(frozen=True)
class Budget:
    """The deadlines of one invocation."""

    timing: Timing
    invocation: Deadline  # Lambda ends the invocation here (the HTTP API may stop waiting sooner)
    work: Deadline  # forwarding and everything before it ends here
    dcs_reads: Deadline  # reading DCS ends here

    @classmethod
    def of(
        cls,
        remaining_seconds: float,
        timing: Timing,
        *,
        http: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> Budget:
        """The budget of an invocation with ``remaining_seconds`` left (as Lambda's context tells)."""
        now = clock()
        answer_by = min(remaining_seconds, timing.http_integration) if http else remaining_seconds
        work = Deadline(now + answer_by - timing.response_reserve, clock)
        return cls(timing, Deadline(now + remaining_seconds, clock), work, work.before(timing.forwarding_reserve))

    def lease(self) -> timedelta:
        """How long a claim taken now must hold: until the invocation can no longer be running, and a margin."""
        return timedelta(seconds=max(0.0, self.invocation.remaining()) + self.timing.lease_margin)


def shortest_time_limit(timing: Timing) -> int:
    """The fewest whole seconds an event's ``time_limit_seconds`` may give an invocation.

    Time to answer (the response reserve); before it, time to forward a failed restore (the
    forwarder claims one only with time left for the claim, a send, its mark and one more call:
    four AWS calls at their least); and before that, time for DCS to take as long as a request
    may to connect. With less, a failed restore in the window is never claimed and every retry
    fails the same way.
    """
    return math.ceil(timing.response_reserve + timing.forwarding_reserve + timing.dcs_connect_timeout)
