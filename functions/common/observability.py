"""Logs, metrics and traces: one JSON log stream, one metrics set, X-Ray only on request.

Every module logs through ``logging.getLogger(__name__)``; ``logger`` (Powertools) lends its
JSON handler to the loggers of our packages (``OUR_LOGGERS``), so their lines carry the
invocation's keys and correlation ID like its own. One ``logger`` and one ``metrics`` serve
whichever function loads this module.

X-Ray subsegments go through Powertools Tracer only when ``XRAY_SDK_TRACING=true``.

The X-Ray SDK imports botocore when it loads: about 0.19 s, 40 % of the handler's cold import
(``python -X importtime -c "import restore_watch.app"``). Lambda's own active tracing
(``Tracing: Active`` in the template) records every invocation without it, so the SDK is
loaded only for those who want the finer subsegments.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

_Handler = TypeVar("_Handler", bound=Callable[..., Any])

logger = Logger()
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "DcsRestoreWatch"))

OUR_LOGGERS = frozenset({"common", "restore_watch", "discover_instances", "dcs_restores"})

for _name in OUR_LOGGERS:  # registered now, so that modules imported later log through them too
    logging.getLogger(_name)
copy_config_to_registered_loggers(source_logger=logger, include=set(OUR_LOGGERS))


def enabled() -> bool:
    return os.environ.get("XRAY_SDK_TRACING", "false").strip().lower() == "true"


@functools.cache
def _tracer() -> Tracer:
    from aws_lambda_powertools import Tracer  # loads the X-Ray SDK: only on request

    return Tracer()


def traced(handler: _Handler) -> _Handler:
    """The handler, wrapped by ``Tracer.capture_lambda_handler`` whenever tracing is enabled."""
    captured: list[Callable[..., Any]] = []

    @functools.wraps(handler)
    def run(*args: Any, **kwargs: Any) -> Any:
        if not enabled():
            return handler(*args, **kwargs)
        if not captured:
            captured.append(_tracer().capture_lambda_handler(handler))
        return captured[0](*args, **kwargs)

    return cast(_Handler, run)


@contextmanager
def subsegment(name: str, **annotations: str) -> Iterator[None]:
    if not enabled():
        yield
        return
    with _tracer().provider.in_subsegment(name) as segment:
        for key, value in annotations.items():
            segment.put_annotation(key, value)
        yield
