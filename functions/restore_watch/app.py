"""Lambda entry point: Powertools around a thin dispatch to the trigger's adapter and the use case."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from common import snapstart
from common.observability import logger, metrics, traced

from . import priming
from .container import restore_watch
from .errors import NAMED_ERRORS
from .shaping import LAMBDA_RESULT
from .triggers import is_http_event, request_from_event

# The request's own ID over HTTP; else the ID a workflow passes, a schedule's time, a rule's event ID.
CORRELATION_ID_PATH = "requestContext.requestId || correlation_id || scheduled_time || id"

snapstart.register(priming.before_snapshot, priming.after_restore)  # run by Lambda for SnapStart versions only


@logger.inject_lambda_context(correlation_id_path=CORRELATION_ID_PATH)
@traced
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if is_http_event(event):
        from . import http_api  # the event handler and its OpenAPI machinery: only for HTTP events

        return http_api.resolver.resolve(event, context)
    try:
        watch = restore_watch()
        request = request_from_event(event, watch.settings)
        budget = watch.budget(request, context.get_remaining_time_in_millis() / 1000)
        return watch.answer(request, budget, LAMBDA_RESULT).to_json()
    except NAMED_ERRORS as error:  # their messages hold no secret, URL or payload: see errors.NAMED_ERRORS
        logger.error("invocation failed", extra={"error": type(error).__name__, "reason": str(error)})
        raise
