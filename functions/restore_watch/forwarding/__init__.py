"""Forward failed restores to SQS exactly once: claim in the ledger, send, then confirm.

``failed_restore`` (what is sent), ``outcome`` (what is reported), ``ledger`` (DynamoDB),
``publisher`` (SQS) and ``forwarder`` (the three together, within the invocation's budget).
The ledger and the publisher import botocore, so they load only with ``build_forwarder``: the
handler's cold start imports what the service names, and nothing of boto3.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .failed_restore import FailedRestore
from .forwarder import FailedRestoreForwarder, build_forwarder
from .outcome import Claim, Forwarded, ForwardingError, LedgerUnavailableError, aws_error_code

if TYPE_CHECKING:
    from .ledger import Ledger
    from .publisher import MAX_BATCH_BYTES, MAX_BATCH_ENTRIES, QueuePublisher

__all__ = [
    "MAX_BATCH_BYTES",
    "MAX_BATCH_ENTRIES",
    "Claim",
    "FailedRestore",
    "FailedRestoreForwarder",
    "Forwarded",
    "ForwardingError",
    "Ledger",
    "LedgerUnavailableError",
    "QueuePublisher",
    "aws_error_code",
    "build_forwarder",
]

_LAZY = {
    "Ledger": "ledger",
    "QueuePublisher": "publisher",
    "MAX_BATCH_ENTRIES": "publisher",
    "MAX_BATCH_BYTES": "publisher",
}


def __getattr__(name: str) -> Any:
    """The parts that import botocore, loaded when first asked for."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{_LAZY[name]}", __name__), name)
