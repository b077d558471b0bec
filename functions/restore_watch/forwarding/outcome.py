"""What forwarding reports: its outcome, and what the ledger says of a restore.

Nothing here imports boto3 or botocore: the service and the handler import these at cold start.
"""

from __future__ import annotations

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


class Claim(Enum):
    """What a claim in the ledger found."""

    TAKEN = "taken"  # this invocation sends it
    TAKEN_OVER = "taken_over"  # this invocation sends it, in place of a lapsed claim whose run may have sent it
    FORWARDED = "forwarded"  # SQS acknowledged it before
    IN_FLIGHT = "in_flight"  # another invocation holds a live claim: it may still send it, or die
