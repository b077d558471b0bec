"""The one place where exceptions become HTTP status codes and error bodies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dcs_restores import (
    DcsAuthError,
    DcsBadRequestError,
    DcsError,
    DcsInvalidResponseError,
    DcsNotFoundError,
    DcsTimeoutError,
    DcsUnavailableError,
    InvalidQueryError,
)

from .forwarding import ForwardingError
from .settings import ConfigurationError, SecretUnavailableError
from .triggers import UnknownEventError


@dataclass(frozen=True)
class ErrorResponse:
    status: int
    code: str
    message: str
    details: dict[str, Any]

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def bad_input(field: str, message: str) -> ErrorResponse:
    return ErrorResponse(400, "invalid_request", f"{field}: {message}", {"field": field})


_UPSTREAM: dict[type[DcsError], tuple[int, str, str]] = {  # most specific first
    DcsNotFoundError: (404, "instance_not_found", "DCS has no such instance in this project."),
    DcsAuthError: (502, "dcs_auth_failed", "DCS refused this function's credentials."),
    DcsBadRequestError: (502, "dcs_rejected", "DCS rejected the request."),
    DcsUnavailableError: (502, "dcs_unavailable", "DCS is unavailable; try again later."),
    DcsInvalidResponseError: (502, "dcs_invalid_response", "DCS answered with an unreadable body."),
    DcsTimeoutError: (504, "dcs_timeout", "DCS did not answer in time."),
}


def error_response(error: Exception) -> ErrorResponse:
    """Status and body for ``error``: no stack trace, secret or internal URL ever goes out."""
    if isinstance(error, InvalidQueryError):
        return bad_input(error.field, error.reason)
    if isinstance(error, UnknownEventError):
        return ErrorResponse(400, "unknown_event", str(error), {})
    if isinstance(error, DcsError):
        status, code, message = next(
            (value for kind, value in _UPSTREAM.items() if isinstance(error, kind)),
            (502, "dcs_error", "DCS failed."),
        )
        details = {"dcs_status": error.status, "dcs_request_id": error.request_id, "dcs_error_code": error.error_code}
        return ErrorResponse(status, code, message, {name: value for name, value in details.items() if value})
    if isinstance(error, ForwardingError):
        return ErrorResponse(503, "forwarding_failed", str(error), {"unsent_restore_ids": error.unsent})
    if isinstance(error, SecretUnavailableError):
        message = "The function's credentials could not be read; try again later."
        return ErrorResponse(503, "secret_unavailable", message, {"variable": error.variable})
    if isinstance(error, ConfigurationError):
        return ErrorResponse(500, "configuration_error", "The function is misconfigured.", {"variable": error.variable})
    return ErrorResponse(500, "internal_error", "Internal error.", {})
