"""Lambda entry point of the sweep's discovery step: Powertools around a thin dispatch."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from common import snapstart
from common.errors import NAMED_ERRORS
from common.observability import logger, metrics

from . import priming
from .discovery import instance_discovery
from .scope import scope_of

snapstart.register(priming.before_snapshot, priming.after_restore)  # run by Lambda for SnapStart versions only


@logger.inject_lambda_context(correlation_id_path="correlation_id || scheduled_time")
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        discovery = instance_discovery()
        scope = scope_of(event, discovery.settings)
        return discovery.page(scope, discovery.deadline(context.get_remaining_time_in_millis() / 1000))
    except NAMED_ERRORS as error:  # their messages hold no secret, URL or payload: see common.errors
        logger.error("invocation failed", extra={"error": type(error).__name__, "reason": str(error)})
        raise
