"""The function's errors, and the one table that turns any of them into an HTTP status and body.

Families: bad input (``InvalidQueryError`` from the layer, ``UnknownEventError``), settings
(``ConfigurationError``, every function's: ``common.errors``), DCS (``DcsError`` and its kinds, from
the layer) and forwarding (``ForwardingError``, forwarding's own). The table is looked up along the
error's class hierarchy, so the most specific entry wins whatever its place.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from common.errors import RETRYABLE_ERRORS, ConfigurationError, SecretUnavailableError
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

from .forwarding.errors import ForwardingError


class UnknownEventError(ValueError):
    """The event has none of the shapes this function accepts; nothing was sent to DCS."""


@dataclass(frozen=True)
class ErrorResponse:
    status: HTTPStatus
    code: str
    message: str
    details: dict[str, Any]

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


@dataclass(frozen=True)
class _Answer:
    status: HTTPStatus
    code: str
    message: str | None = None  # None: the error's own message, which is ours and safe to show


_ANSWERS: dict[type[Exception], _Answer] = {
    InvalidQueryError: _Answer(HTTPStatus.BAD_REQUEST, "invalid_request"),
    UnknownEventError: _Answer(HTTPStatus.BAD_REQUEST, "unknown_event"),
    ConfigurationError: _Answer(
        HTTPStatus.INTERNAL_SERVER_ERROR, "configuration_error", "The function is misconfigured."
    ),
    SecretUnavailableError: _Answer(
        HTTPStatus.SERVICE_UNAVAILABLE,
        "secret_unavailable",
        "The function's credentials could not be read; try again later.",
    ),
    DcsError: _Answer(HTTPStatus.BAD_GATEWAY, "dcs_error", "DCS failed."),
    DcsNotFoundError: _Answer(HTTPStatus.NOT_FOUND, "instance_not_found", "DCS has no such instance in this project."),
    DcsAuthError: _Answer(HTTPStatus.BAD_GATEWAY, "dcs_auth_failed", "DCS refused this function's credentials."),
    DcsBadRequestError: _Answer(HTTPStatus.BAD_GATEWAY, "dcs_rejected", "DCS rejected the request."),
    DcsUnavailableError: _Answer(HTTPStatus.BAD_GATEWAY, "dcs_unavailable", "DCS is unavailable; try again later."),
    DcsInvalidResponseError: _Answer(
        HTTPStatus.BAD_GATEWAY, "dcs_invalid_response", "DCS answered with an unreadable body."
    ),
    DcsTimeoutError: _Answer(HTTPStatus.GATEWAY_TIMEOUT, "dcs_timeout", "DCS did not answer in time."),
    ForwardingError: _Answer(HTTPStatus.SERVICE_UNAVAILABLE, "forwarding_failed"),
}
_INTERNAL = _Answer(HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", "Internal error.")

# The errors this function names. Their messages are ours, or DCS's own words and request ID:
# no secret, URL or payload, so they may be logged (the table above decides what a caller is told).
NAMED_ERRORS: tuple[type[Exception], ...] = tuple(_ANSWERS)
# What a workflow retries where it calls the watch: what may pass for every function, and forwarding's failures.
WATCH_RETRYABLE_ERRORS: tuple[type[Exception], ...] = (*RETRYABLE_ERRORS, ForwardingError)


def error_response(error: Exception) -> ErrorResponse:
    """Status and body for ``error``: no stack trace, secret or internal URL ever goes out."""
    answer = next((_ANSWERS[kind] for kind in type(error).__mro__ if kind in _ANSWERS), _INTERNAL)
    return ErrorResponse(answer.status, answer.code, answer.message or str(error), _details(error))


def _details(error: Exception) -> dict[str, Any]:
    """What each family can tell a caller about itself (the families do not overlap)."""
    if isinstance(error, InvalidQueryError):
        return {"field": error.field}
    if isinstance(error, ConfigurationError):
        return {"variable": error.variable}
    if isinstance(error, ForwardingError):
        return {"unsent_restore_ids": error.unsent}
    if isinstance(error, DcsError):
        details = {"dcs_status": error.status, "dcs_request_id": error.request_id, "dcs_error_code": error.error_code}
        return {name: value for name, value in details.items() if value}
    return {}
