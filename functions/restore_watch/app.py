"""Lambda entry point: Powertools around a thin dispatch. The work is in the modules beside it."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from dcs_restores import DcsAuthError, DcsError, Deadline, InvalidQueryError, RestoreQuery, RestoreStatus

from . import tracing
from .errors import error_response
from .forwarding import ForwardingError
from .runtime import Runtime
from .service import RestoreReport, watch
from .settings import ConfigurationError, Settings
from .shaping import HTTP_BODY, LAMBDA_RESULT, Encoding, ResponseLimit, fit
from .triggers import UnknownEventError, is_http_event, request_from_event

logger = Logger()
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "DcsRestoreWatch"))

RESPONSE_SECONDS = 1.0  # kept back from the work for shaping and returning the response
HTTP_INTEGRATION_SECONDS = 30.0  # an HTTP API gives up on its integration after 30 s

_runtime: Runtime | None = None


class InstancesFailedError(Exception):
    """Some instances of a multi-instance schedule failed; the others were watched and forwarded."""

    def __init__(self, failures: dict[str, Exception]) -> None:
        details = "; ".join(f"{instance}: {type(error).__name__}" for instance, error in failures.items())
        super().__init__(f"{len(failures)} instance(s) failed: {details}")
        self.failures = failures


def runtime() -> Runtime:
    """Built once per container; dropped after an auth failure so a rotated secret is re-read."""
    global _runtime
    if _runtime is None:
        _runtime = Runtime.from_env(os.environ)
    return _runtime


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracing.traced
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    seconds_left = context.get_remaining_time_in_millis() / 1000 - RESPONSE_SECONDS
    if is_http_event(event):
        from . import http_api  # the event handler and its OpenAPI machinery: only for HTTP events

        deadline = Deadline.after(min(seconds_left, HTTP_INTEGRATION_SECONDS - RESPONSE_SECONDS))
        http_api.resolver.append_context(  # type: ignore[no-untyped-call]
            settings=_settings, answer=lambda query, limit: _fitted_payload(query, deadline, limit, HTTP_BODY)
        )
        return http_api.resolver.resolve(event, context)
    deadline = Deadline.after(seconds_left)
    try:
        request = request_from_event(event, runtime().settings)
        if not request.as_reports:
            return _fitted_payload(request.queries[0], deadline, request.limit, LAMBDA_RESULT)
        return _watch_each(request.queries, deadline, request.limit)
    except NAMED_ERRORS as error:  # their messages are ours: no secret, URL or payload in them
        logger.error("invocation failed", extra={"error": type(error).__name__, "reason": str(error)})
        raise


NAMED_ERRORS = (
    DcsError,
    ForwardingError,
    ConfigurationError,
    InvalidQueryError,
    UnknownEventError,
    InstancesFailedError,
)


def _watch_each(queries: list[RestoreQuery], deadline: Deadline, limit: ResponseLimit) -> dict[str, Any]:
    """Several instances, one by one: each gets its report; any failure fails the invoke at the end."""
    reports: list[dict[str, Any]] = []
    failures: dict[str, Exception] = {}
    for query in queries:
        try:
            reports.append(_fitted_payload(query, deadline, limit, LAMBDA_RESULT))
        except (DcsError, ForwardingError) as error:
            failures[query.instance_id] = error
            reports.append({"instance_id": query.instance_id, "error": error_response(error).body()["error"]})
    logger.info("instances watched", extra={"reports": len(reports), "failed": sorted(failures)})
    if failures:
        raise InstancesFailedError(failures)
    return {"reports": reports}


def _settings() -> Settings:
    return runtime().settings


def _fitted_payload(
    query: RestoreQuery, deadline: Deadline, limit: ResponseLimit, encoding: Encoding
) -> dict[str, Any]:
    """The report's payload, fitted to what the caller can receive."""
    report = _watch(query, deadline)
    payload = fit(report.payload(), limit, encoding)
    if payload["records_included"] != limit.records or payload["invalid_records_omitted"]:
        metrics.add_metric(name="ResponsesReduced", unit=MetricUnit.Count, value=1)
        logger.warning(
            "payload reduced to fit the response limit",
            extra={
                "instance_id": query.instance_id,
                "max_bytes": limit.max_bytes,
                "records_included": payload["records_included"],
                "invalid_records_omitted": payload["invalid_records_omitted"],
            },
        )
    return payload


def _watch(query: RestoreQuery, deadline: Deadline) -> RestoreReport:
    global _runtime
    current = runtime()
    started = datetime.now(UTC)
    try:
        with tracing.subsegment("watch", instance_id=query.instance_id):
            report = watch(query, current.client, lambda: current.forwarder, deadline, started)
    except DcsError as error:
        metrics.add_metric(name=f"DcsErrors{type(error).__name__.removeprefix('Dcs')}", unit=MetricUnit.Count, value=1)
        if isinstance(error, DcsAuthError):  # the next invocation re-reads the secret, maybe rotated
            current.client.close()
            _runtime = None
        raise
    finally:
        elapsed = (datetime.now(UTC) - started).total_seconds() * 1000
        metrics.add_metric(name="DcsLatency", unit=MetricUnit.Milliseconds, value=elapsed)
    _record(report)
    return report


def _record(report: RestoreReport) -> None:
    for status in RestoreStatus:
        metrics.add_metric(
            name=f"Records{status.value.capitalize()}", unit=MetricUnit.Count, value=report.result.counts[status]
        )
    metrics.add_metric(name="InvalidRecords", unit=MetricUnit.Count, value=len(report.result.invalid_records))
    metrics.add_metric(name="FailedForwarded", unit=MetricUnit.Count, value=report.forwarded.queued)
    metrics.add_metric(name="AlreadyForwarded", unit=MetricUnit.Count, value=report.forwarded.already_forwarded)
    logger.info(
        "restores watched",
        extra={
            "instance_id": report.query.instance_id,
            "counts": {status.value: count for status, count in report.result.counts.items()},
            "invalid": len(report.result.invalid_records),
            "queued": report.forwarded.queued,
            "already_forwarded": report.forwarded.already_forwarded,
            "truncated": report.result.truncated,
        },
    )
