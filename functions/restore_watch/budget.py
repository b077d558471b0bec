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
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from dcs_restores import Deadline

HTTP_INTEGRATION_SECONDS = 30.0  # an HTTP API gives up on its Lambda integration after 30 s
# The forwarder claims its first wave only with time for the claims, a send, their marks and one more call
# to spare, each at the least an AWS call is given (forwarding.forwarder, ``_claim``): DCS reads leave that.
FIRST_WAVE_CALLS = 4


@dataclass(frozen=True)
class Timing:
    """Every time setting of the function, in seconds (defaults fit the template's 120 s timeout)."""

    response_reserve: float = 1.0  # kept back from the work for fitting and returning the payload
    http_integration: float = HTTP_INTEGRATION_SECONDS
    min_dcs_request: float = 0.5  # no DCS request starts with less than this left
    dcs_connect_timeout: float = 3.05  # per DCS request (a deadline shortens both)
    dcs_read_timeout: float = 10.0
    min_aws_call: float = 1.0  # no SQS or DynamoDB call starts with less than this left
    lease_margin: float = 10.0  # a ledger claim outlives the invocation by this much
    # boto3 clients: connect and read timeouts per attempt, attempts per call. The attempts are
    # botocore's ``total_max_attempts``, which counts the first one; its ``max_attempts`` counts
    # only the retries (3 there made 4 attempts against an endpoint that never answered). They
    # are the ledger's (DynamoDB): SQS's client makes one attempt a call (see send_attempts).
    aws_connect_timeout: float = 2.0
    aws_read_timeout: float = 5.0
    aws_max_attempts: int = 3
    # Forwarding's own retries:
    # SendMessageBatch calls per batch, each one attempt: botocore would repeat a call whose answer was
    # lost unseen, so the publisher does, marking what SQS may already hold (entries reported Failed,
    # throttled or failed calls, answers lost).
    send_attempts: int = 6
    confirm_attempts: int = 5  # rounds of marking sent restores in the ledger, until the deadline
    retry_base_delay: float = 0.1  # jittered pause before retry n: up to this x 2**n

    @property
    def forwarding_reserve(self) -> float:
        """DCS reads end this long before the work does: a read that takes all its time still leaves the
        forwarder time to claim, send and mark a failed restore."""
        return FIRST_WAVE_CALLS * self.min_aws_call

    def aws_call_worst(self) -> float:
        """The longest one DynamoDB call may take: every attempt times out after connecting
        and reading as long as allowed, with botocore's longest backoff between (up to 2**n s
        before retry n when throttled). A server's ``x-amz-retry-after`` may add up to 5 s a retry.
        An SQS call is one attempt: ``aws_connect_timeout + aws_read_timeout``."""
        backoff = sum(min(2.0**retry, 20.0) for retry in range(self.aws_max_attempts - 1))
        return self.aws_max_attempts * (self.aws_connect_timeout + self.aws_read_timeout) + backoff


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


def pause_before_retry(attempt: int, deadline: Deadline, timing: Timing, sleep: Callable[[float], None]) -> bool:
    """Wait a jittered backoff before retry ``attempt`` (1 for the first); ``False``, without waiting,
    when the deadline would leave too little time for the call after it."""
    pause = random.uniform(0, timing.retry_base_delay * 2**attempt)  # noqa: S311 - jitter, not crypto  # nosec B311
    if pause >= deadline.remaining() - timing.min_aws_call:
        return False
    sleep(pause)
    return True


def shortest_time_limit(timing: Timing) -> int:
    """The fewest whole seconds an event's ``time_limit_seconds`` may give an invocation.

    Time to answer (the response reserve); before it, time to forward a failed restore (the
    forwarder claims one only with time left for the claim, a send, its mark and one more call:
    four AWS calls at their least); and before that, time for DCS to take as long as a request
    may to connect. With less, a failed restore in the window is never claimed and every retry
    fails the same way.
    """
    return math.ceil(timing.response_reserve + timing.forwarding_reserve + timing.dcs_connect_timeout)
