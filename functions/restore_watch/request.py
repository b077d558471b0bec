"""What a trigger asks of the watch, whichever trigger it is: one instance's window, and what the answer may hold."""

from __future__ import annotations

from dataclasses import dataclass

from dcs_restores import RestoreQuery

from .shaping import ResponseLimit


@dataclass(frozen=True)
class WatchRequest:
    """What an event asks for: one instance's window, and what the answer may hold."""

    query: RestoreQuery
    limit: ResponseLimit
    restore_id: str | None = None  # the restore whose record the payload carries
    time_limit: int | None = None  # seconds the invocation may take, when the event allows less than Lambda
    http: bool = False  # asked over the HTTP API, which stops waiting after its integration timeout

    def remaining(self, lambda_remaining: float) -> float:
        """The time this request may take, of what Lambda's context says is left."""
        return lambda_remaining if self.time_limit is None else min(lambda_remaining, self.time_limit)
