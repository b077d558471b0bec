"""Client library for Huawei Cloud DCS "List instance restore records" and "List instances". Knows nothing of AWS.

What this module exports is the whole public surface: nothing else is imported from outside.
"""

from .client import DEFAULT_MAX_PAGE_BYTES, DcsRestoresClient
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
from .instances import MAX_TAG_FILTERS, DcsInstance, InstanceList, InstanceQuery, InvalidInstance
from .models import InstanceRestoreInfo, InvalidRecord, RestoreRecord, RestoreResult, RestoreStatus
from .priming import prime
from .progress import PageListener, reporting_pages
from .query import MAX_OFFSET, MAX_PAGE_SIZE, SAFE_ID_PATTERN, RestoreQuery, SafeId, first_error
from .regions import REGIONS, region_endpoint
from .retry import Deadline, RetryPolicy
from .signing import Credentials
from .window import TimeWindow, UtcTime

__all__ = [
    "DEFAULT_MAX_PAGE_BYTES",
    "MAX_OFFSET",
    "MAX_PAGE_SIZE",
    "MAX_TAG_FILTERS",
    "REGIONS",
    "SAFE_ID_PATTERN",
    "Credentials",
    "DcsAuthError",
    "DcsBadRequestError",
    "DcsError",
    "DcsInstance",
    "DcsInvalidResponseError",
    "DcsNotFoundError",
    "DcsRestoresClient",
    "DcsTimeoutError",
    "DcsUnavailableError",
    "Deadline",
    "InstanceList",
    "InstanceQuery",
    "InstanceRestoreInfo",
    "InvalidInstance",
    "InvalidQueryError",
    "InvalidRecord",
    "PageListener",
    "RestoreQuery",
    "RestoreRecord",
    "RestoreResult",
    "RestoreStatus",
    "RetryPolicy",
    "SafeId",
    "TimeWindow",
    "UtcTime",
    "first_error",
    "prime",
    "region_endpoint",
    "reporting_pages",
]
