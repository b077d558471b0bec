"""Forward failed restores to SQS exactly once: claim in the ledger, send, then confirm.

``failed_restore`` (what is sent), ``outcome`` (what is reported), ``ledger`` (DynamoDB),
``publisher`` (SQS) and ``forwarder`` (the three together, within the invocation's budget).
The ledger and the publisher import botocore, so they are not imported here: ``build_forwarder``
loads them, and the handler's cold start imports nothing of boto3.
"""

from __future__ import annotations

from .failed_restore import FailedRestore
from .forwarder import FailedRestoreForwarder, build_forwarder
from .outcome import Claim, Forwarded, ForwardingError, LedgerUnavailableError

__all__ = [
    "Claim",
    "FailedRestore",
    "FailedRestoreForwarder",
    "Forwarded",
    "ForwardingError",
    "LedgerUnavailableError",
    "build_forwarder",
]
