"""Client library for Huawei Cloud DCS "List instance restore records". Knows nothing of AWS."""

from .client import DcsRestoresClient
from .errors import (
    DcsAuthError,
    DcsBadRequestError,
    DcsError,
    DcsInvalidResponseError,
    DcsNotFoundError,
    DcsTimeoutError,
    DcsUnavailableError,
    InvalidQueryError,
)
from .models import InstanceRestoreInfo, InvalidRecord, RestoreRecord, RestoreResult, RestoreStatus
from .query import RestoreQuery
from .retry import Deadline, RetryPolicy
from .signing import Credentials

__all__ = [
    "Credentials",
    "DcsAuthError",
    "DcsBadRequestError",
    "DcsError",
    "DcsInvalidResponseError",
    "DcsNotFoundError",
    "DcsRestoresClient",
    "DcsTimeoutError",
    "DcsUnavailableError",
    "Deadline",
    "InstanceRestoreInfo",
    "InvalidQueryError",
    "InvalidRecord",
    "RestoreQuery",
    "RestoreRecord",
    "RestoreResult",
    "RestoreStatus",
    "RetryPolicy",
]
