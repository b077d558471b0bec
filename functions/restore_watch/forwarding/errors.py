"""Forwarding's errors: some failed restores were left for the retry, and which.

Nothing here imports boto3 or botocore: the watch's handler and its error table import these at cold start.
"""

from __future__ import annotations

from collections.abc import Sequence


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
