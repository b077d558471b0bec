"""What a Lambda container builds once: the use case with its clients, from the environment, on first use."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Mapping
from datetime import timedelta

from aws_lambda_powertools import Metrics

from common import observability
from common.connection import DcsConnection
from common.timing import Timing

from .forwarding import ForwarderOnFirstUse, build_forwarder
from .service import RestoreWatch
from .settings import Settings

logger = logging.getLogger(__name__)


def build(environ: Mapping[str, str], metrics: Metrics, timing: Timing | None = None) -> RestoreWatch:
    """The use case as a container runs it: the DCS client and the forwarder are built when first needed."""
    settings = Settings.from_env(environ)
    timing = timing or Timing()
    if settings.restore_ledger_table is None:
        logger.warning("RESTORE_LEDGER_TABLE is not set: failed restores are deduplicated by FIFO queues only")
    forwarder = ForwarderOnFirstUse(
        lambda: build_forwarder(
            settings.failed_restores_queue_url,
            settings.restore_ledger_table,
            timedelta(days=settings.ledger_ttl_days),
            timing,
        )
    )
    dcs = DcsConnection(settings, timing, max_records=settings.max_records)
    return RestoreWatch(settings, dcs, forwarder, metrics, timing)


@functools.cache
def restore_watch() -> RestoreWatch:
    """This container's use case, built on first use from the environment (not cached if that fails)."""
    return build(os.environ, observability.metrics)
