"""One exception family for everything DCS can refuse or fail at, and the error for bad input.

Each error carries the HTTP status and the DCS request ID when there was a response, so an
operator can quote them to the vendor. Messages never hold credentials or signatures.
"""

from __future__ import annotations


class DcsError(Exception):
    """Base of every error raised by :mod:`dcs_restores`."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        error_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.request_id = request_id
        self.error_code = error_code

    def __str__(self) -> str:
        context = [
            f"{name}={value}"
            for name, value in (
                ("status", self.status),
                ("error_code", self.error_code),
                ("request_id", self.request_id),
            )
            if value is not None
        ]
        return f"{self.message} ({', '.join(context)})" if context else self.message


class DcsBadRequestError(DcsError):
    """DCS rejected the request (400, or another 4xx that is not about authentication)."""


class DcsNotFoundError(DcsBadRequestError):
    """DCS has no such instance (404 with a DCS error code; the API gateway's own 404 is a bad request)."""


class DcsAuthError(DcsError):
    """DCS refused our credentials or signature (401/403)."""


class DcsUnavailableError(DcsError):
    """DCS kept answering 429/5xx, or could not be reached, until retries or the deadline ran out."""


class DcsTimeoutError(DcsError):
    """DCS did not answer in time, or the caller's deadline left no time for another request."""


class DcsInvalidResponseError(DcsError):
    """DCS answered with a body that is not JSON or not the documented shape."""


class InvalidQueryError(ValueError):
    """A query input is invalid; raised before any request is sent. ``field`` names the input.

    Bad input, not a DCS failure: deliberately outside the :class:`DcsError` family.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
