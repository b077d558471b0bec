"""Every error family's answer: status, code and details, whatever the order of the table."""

from __future__ import annotations

from http import HTTPStatus

import pytest

from common.errors import ConfigurationError, SecretUnavailableError
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
from restore_watch.errors import UnknownEventError, error_response
from restore_watch.forwarding import ForwardingError


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (InvalidQueryError("limit", "must be 1-1000"), HTTPStatus.BAD_REQUEST, "invalid_request"),
        (UnknownEventError("unknown event"), HTTPStatus.BAD_REQUEST, "unknown_event"),
        (ConfigurationError("DCS_ENDPOINT", "bad"), HTTPStatus.INTERNAL_SERVER_ERROR, "configuration_error"),
        (
            SecretUnavailableError("DCS_CREDENTIALS_SECRET", "down"),
            HTTPStatus.SERVICE_UNAVAILABLE,
            "secret_unavailable",
        ),
        (DcsNotFoundError("gone", status=404), HTTPStatus.NOT_FOUND, "instance_not_found"),
        (DcsBadRequestError("no", status=400), HTTPStatus.BAD_GATEWAY, "dcs_rejected"),
        (DcsAuthError("no", status=401), HTTPStatus.BAD_GATEWAY, "dcs_auth_failed"),
        (DcsUnavailableError("down", status=503), HTTPStatus.BAD_GATEWAY, "dcs_unavailable"),
        (DcsInvalidResponseError("junk", status=200), HTTPStatus.BAD_GATEWAY, "dcs_invalid_response"),
        (DcsTimeoutError("slow"), HTTPStatus.GATEWAY_TIMEOUT, "dcs_timeout"),
        (DcsError("other"), HTTPStatus.BAD_GATEWAY, "dcs_error"),
        (ForwardingError("1 could not be sent", unsent=["r-1"]), HTTPStatus.SERVICE_UNAVAILABLE, "forwarding_failed"),
        (RuntimeError("a bug"), HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error"),
    ],
)
def test_each_error_has_its_status_and_code(error: Exception, status: HTTPStatus, code: str) -> None:
    answer = error_response(error)
    assert (answer.status, answer.code) == (status, code)


def test_a_subclass_is_answered_by_its_own_entry_not_its_parents() -> None:
    # DcsNotFoundError is a DcsBadRequestError, SecretUnavailableError a ConfigurationError
    assert error_response(DcsNotFoundError("gone", status=404)).status == HTTPStatus.NOT_FOUND
    assert error_response(SecretUnavailableError("V", "down")).status == HTTPStatus.SERVICE_UNAVAILABLE


def test_a_kind_of_dcs_error_without_an_entry_is_still_a_dcs_failure() -> None:
    class DcsNewKindError(DcsUnavailableError):
        pass

    assert error_response(DcsNewKindError("down")).code == "dcs_unavailable"


def test_details_name_what_the_caller_can_act_on() -> None:
    assert error_response(InvalidQueryError("end_time", "is required")).details == {"field": "end_time"}
    assert error_response(SecretUnavailableError("DCS_CREDENTIALS_SECRET", "down")).details == {
        "variable": "DCS_CREDENTIALS_SECRET"
    }
    assert error_response(ForwardingError("x", unsent=["r-1", "r-2"])).details == {"unsent_restore_ids": ["r-1", "r-2"]}
    timeout = DcsTimeoutError("slow", status=None, request_id="req-9", error_code=None)
    assert error_response(timeout).details == {"dcs_request_id": "req-9"}


def test_bad_input_is_not_filed_under_dcs_failures() -> None:
    for error in (InvalidQueryError("f", "r"), UnknownEventError("u"), ConfigurationError("V", "r")):
        assert not isinstance(error, DcsError)


def test_upstream_and_internal_messages_are_ours_not_the_errors_text() -> None:
    # A DCS error's text may hold what DCS said; a bug's text anything at all
    assert error_response(DcsAuthError("DCS refused the credentials: AK XYZ is disabled")).message == (
        "DCS refused this function's credentials."
    )
    assert error_response(RuntimeError("https://internal/secret")).message == "Internal error."
    assert error_response(InvalidQueryError("limit", "must be 1-1000")).message == "limit: must be 1-1000"
