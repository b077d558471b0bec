"""What forwarding reports: its outcome, its errors, and what the ledger says of a restore.

Nothing here imports boto3 or botocore: the service and the handler import these at cold start.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

from pydantic import BaseModel, ConfigDict, Field


class Forwarded(BaseModel):
    """What one invocation forwarded of a window's failed restores."""

    model_config = ConfigDict(frozen=True)

    queued: int = Field(ge=0, description="Failed restores this invocation sent to SQS (and marked in the ledger).")
    already_forwarded: int = Field(ge=0, description="Failed restores an earlier invocation had already forwarded.")
    possible_duplicates: int = Field(
        0,
        ge=0,
        description=(
            "Of those queued, how many went out marked possible_duplicate: SQS may already hold them, from a send"
            " whose answer was lost (a consumer de-duplicates on instance_id and restore_id)."
        ),
    )


class ForwardingError(Exception):
    """Some failed restores could not be forwarded; the invocation must fail so Lambda retries it.

    ``unsent``: not sent (the retry sends them); ``in_flight``: claimed by another invocation that
    has not finished; ``unconfirmed``: sent, but the ledger could not be marked (a later run sends
    them again once their lease has run out). ``queued``: how many this invocation did send, and
    ``possible_duplicates`` how many of those went out marked ``possible_duplicate``.
    """

    def __init__(
        self,
        message: str,
        unsent: Sequence[str] = (),
        in_flight: Sequence[str] = (),
        unconfirmed: Sequence[str] = (),
        *,
        queued: int = 0,
        possible_duplicates: int = 0,
    ) -> None:
        super().__init__(message)
        self.unsent = list(unsent)
        self.in_flight = list(in_flight)
        self.unconfirmed = list(unconfirmed)
        self.queued = queued
        self.possible_duplicates = possible_duplicates


class LedgerUnavailableError(ForwardingError):
    """The DynamoDB ledger could not be read or written."""


class Claim(Enum):
    """What a claim in the ledger found."""

    TAKEN = "taken"  # this invocation sends it
    TAKEN_OVER = "taken_over"  # this invocation sends it, in place of a lapsed claim whose run may have sent it
    FORWARDED = "forwarded"  # SQS acknowledged it before
    IN_FLIGHT = "in_flight"  # another invocation holds a live claim: it may still send it, or die
