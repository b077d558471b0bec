"""Every time setting of the functions, in seconds: what DCS requests, AWS calls and forwarding may take.

``restore_watch.budget`` splits one invocation's time into named parts with these; the discovery
reads DCS with the same request timeouts.
"""

from __future__ import annotations

from dataclasses import dataclass

HTTP_INTEGRATION_SECONDS = 30.0  # an HTTP API gives up on its Lambda integration after 30 s
# The forwarder claims its first wave only with time for the claims, a send, their marks and one more call
# to spare, each at the least an AWS call is given (forwarding.ledger, ``TableLedger.claim``): DCS reads leave that.
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
