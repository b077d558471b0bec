"""The HTTP API (payload v2) adapter: ``GET /instances/{instance_id}/restores`` and ``GET /openapi.json``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel

from dcs_restores.query import MAX_PAGE_SIZE, SAFE_ID_PATTERN, first_error

from .errors import ErrorResponse, bad_input, error_response
from .service import RestoreReport
from .triggers import build_query

API_TITLE = "dcs-restore-watch"
API_VERSION = "1.0.0"
TIME_HELP = "yyyyMMddHHmmss (UTC) or ISO 8601 with an offset"

resolver = APIGatewayHttpResolver(enable_validation=True)


class ErrorBody(BaseModel):
    error: dict[str, Any]


@resolver.get(
    "/instances/<instance_id>/restores",
    summary="List the restore records of a DCS instance in a time window",
    description="Reads the whole window unless offset or limit is given; forwards failed restores to SQS once.",
    responses={
        200: {"description": "The normalised payload"},
        400: {"description": "Bad input; error.details.field names it"},
        502: {"description": "DCS rejected the request, failed or answered garbage"},
        504: {"description": "DCS did not answer in time"},
    },
)
def list_restores(
    instance_id: Annotated[str, Path(pattern=SAFE_ID_PATTERN, description="DCS instance ID")],
    begin_time: Annotated[str, Query(description=TIME_HELP, max_length=40)],
    end_time: Annotated[str, Query(description=TIME_HELP, max_length=40)],
    offset: Annotated[int | None, Query(ge=0, le=1_000_000)] = None,
    limit: Annotated[int | None, Query(ge=1, le=MAX_PAGE_SIZE)] = None,
    project_id: Annotated[str | None, Query(pattern=SAFE_ID_PATTERN)] = None,
) -> dict[str, Any]:
    run: Callable[..., RestoreReport] = resolver.context["run"]
    query = build_query(
        resolver.context["settings"](), instance_id, project_id, begin_time, end_time, offset=offset, limit=limit
    )
    return run(query).payload()


@resolver.get("/openapi.json", include_in_schema=False)
def openapi_document() -> Response[str]:
    document = resolver.get_openapi_json_schema(title=API_TITLE, version=API_VERSION)
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=document)


@resolver.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
def _invalid_request(error: RequestValidationError) -> Response[dict[str, Any]]:
    return _json(bad_input(*first_error(error.errors(), "request", skip=("query", "path"))))


@resolver.exception_handler(Exception)  # type: ignore[untyped-decorator]
def _failure(error: Exception) -> Response[dict[str, Any]]:
    if isinstance(error, ServiceError):  # Powertools' own, e.g. 404 for an unknown route
        code = "not_found" if error.status_code == 404 else "error"
        return _json(ErrorResponse(error.status_code, code, str(error.msg), {}))
    return _json(error_response(error))


def _json(error: ErrorResponse) -> Response[dict[str, Any]]:
    return Response(status_code=error.status, content_type=content_types.APPLICATION_JSON, body=error.body())
