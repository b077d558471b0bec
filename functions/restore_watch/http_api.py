"""The HTTP API (payload v2) adapter: ``GET /instances/{instance_id}/restores`` and ``GET /openapi.json``."""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel, ConfigDict

from dcs_restores import MAX_OFFSET, MAX_PAGE_SIZE, SAFE_ID_PATTERN, InvalidQueryError, first_error

from .container import restore_watch
from .errors import NAMED_ERRORS, ErrorResponse, error_response
from .payload import RecordSelection, RestorePayload
from .shaping import HTTP_BODY
from .triggers import request_from_http

API_TITLE = "dcs-restore-watch"
API_VERSION = "1.0.0"
TIME_HELP = "yyyyMMddHHmmss (UTC) or ISO 8601 with an offset"
EXAMPLE_INSTANCE_ID = "a1b2c3d4-0000-1111-2222-333344445555"

resolver = APIGatewayHttpResolver(enable_validation=True)
logger = logging.getLogger(__name__)


# Error bodies as the OpenAPI document promises them; errors.ErrorResponse builds them.
class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, Any]


class ErrorBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    error: ErrorDetail


def _answer(description: str, model: type[BaseModel] = ErrorBody) -> OpenAPIResponse:
    return {"description": description, "content": {content_types.APPLICATION_JSON: {"model": model}}}


@resolver.get(
    "/instances/<instance_id>/restores",
    summary="List the restore records of a DCS instance in a time window",
    description="Reads the whole window unless offset or limit is given; forwards failed restores to SQS once.",
    responses={
        200: _answer("The normalised payload", RestorePayload),
        400: _answer("Bad input; error.details.field names it"),
        404: _answer("DCS has no such instance, or no such route"),
        500: _answer("The function is misconfigured; error.details.variable names the setting"),
        502: _answer("DCS rejected the request, failed or answered garbage"),
        503: _answer("Some failed restores could not be queued; error.details.unsent_restore_ids names them"),
        504: _answer("DCS did not answer in time"),
    },
)
def list_restores(
    instance_id: Annotated[
        str, Path(pattern=SAFE_ID_PATTERN, description="DCS instance ID", examples=[EXAMPLE_INSTANCE_ID])
    ],
    begin_time: Annotated[str, Query(description=TIME_HELP, max_length=40, examples=["20240101000000"])],
    end_time: Annotated[str, Query(description=TIME_HELP, max_length=40, examples=["2024-01-01T06:00:00Z"])],
    offset: Annotated[int | None, Query(ge=0, le=MAX_OFFSET)] = None,
    limit: Annotated[int | None, Query(ge=1, le=MAX_PAGE_SIZE)] = None,
    project_id: Annotated[str | None, Query(pattern=SAFE_ID_PATTERN)] = None,
    records: Annotated[
        RecordSelection, Query(description="Records to return: all, only the failed ones, or none (counts only)")
    ] = RecordSelection.ALL,
    restore_id: Annotated[
        str | None, Query(pattern=SAFE_ID_PATTERN, description="A restore whose record the answer carries as `restore`")
    ] = None,
) -> dict[str, Any]:
    watch = restore_watch()
    request = request_from_http(
        watch.settings,
        instance_id,
        begin_time,
        end_time,
        project_id=project_id,
        offset=offset,
        limit=limit,
        records=records,
        restore_id=restore_id,
    )
    budget = watch.budget(request, resolver.lambda_context.get_remaining_time_in_millis() / 1000)
    return watch.answer(request, budget, HTTP_BODY).to_json()


@resolver.get("/openapi.json", include_in_schema=False)
def openapi_document() -> Response[str]:
    document = json.loads(resolver.get_openapi_json_schema(title=API_TITLE, version=API_VERSION))
    # Powertools documents a 422 for validation errors; this API answers those with 400 instead.
    for path in document["paths"].values():
        for operation in path.values():
            operation["responses"].pop("422", None)
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        document.get("components", {}).get("schemas", {}).pop(unused, None)
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=json.dumps(document))


@resolver.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
def _invalid_request(error: RequestValidationError) -> Response[dict[str, Any]]:
    return _answer_failure(InvalidQueryError(*first_error(error.errors(), "request", skip=("query", "path"))))


@resolver.exception_handler(Exception)  # type: ignore[untyped-decorator]
def _failure(error: Exception) -> Response[dict[str, Any]]:
    return _answer_failure(error)


def _answer_failure(error: Exception) -> Response[dict[str, Any]]:
    """The HTTP path's outermost boundary: every error becomes a JSON answer and a log line.

    A known error is logged by name (a warning for the caller's, an error for ours or a peer's);
    anything else, a bug, with its stack trace, and answered with a bare 500.
    """
    if isinstance(error, ServiceError):  # Powertools' own, e.g. 404 for an unknown route
        code = "not_found" if error.status_code == 404 else "error"
        return _json(ErrorResponse(HTTPStatus(error.status_code), code, str(error.msg), {}))
    answer = error_response(error)
    if not isinstance(error, NAMED_ERRORS):
        logger.exception("invocation failed", extra={"error": type(error).__name__})
    else:
        level = logging.ERROR if answer.status >= HTTPStatus.INTERNAL_SERVER_ERROR else logging.WARNING
        logger.log(level, "invocation failed", extra={"error": type(error).__name__, "reason": str(error)})
    return _json(answer)


def _json(error: ErrorResponse) -> Response[dict[str, Any]]:
    return Response(status_code=error.status, content_type=content_types.APPLICATION_JSON, body=error.body())
