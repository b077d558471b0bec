"""Forward failed restores to SQS exactly once: claim in the ledger, send, then confirm.

``failed_restore`` (what is sent), ``outcome`` (what is reported), ``errors`` (what is left for the
retry), ``ledger`` (claims and their pace; ``NoLedger`` without one), ``dynamodb`` (the ledger's
table), ``publisher`` (SQS) and ``forwarder`` (the three together, within the invocation's budget).
The DynamoDB table and the publisher import botocore, so they are not imported here:
``build_forwarder`` loads them, and the handler's cold start imports nothing of boto3.
"""

from __future__ import annotations

from .errors import ForwardingError, LedgerUnavailableError
from .failed_restore import FailedRestore
from .forwarder import FailedRestoreForwarder, Forwarder, ForwarderOnFirstUse, build_forwarder
from .ledger import Ledger, NoLedger, TableLedger
from .outcome import Claim, Forwarded

__all__ = [
    "Claim",
    "FailedRestore",
    "FailedRestoreForwarder",
    "Forwarded",
    "Forwarder",
    "ForwarderOnFirstUse",
    "ForwardingError",
    "Ledger",
    "LedgerUnavailableError",
    "NoLedger",
    "TableLedger",
    "build_forwarder",
]
