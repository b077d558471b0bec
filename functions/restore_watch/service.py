"""The use case: watch one instance over one window, and answer with a payload that fits.

Read the window from DCS, forward its failed restores, record metrics and the log line, then
fit the payload to what the caller can receive. Trigger adapters hand it a ``WatchRequest``;
whoever builds it (``container``, for a Lambda container; a test) hands it its clients.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from common.connection import DcsConnection
from common.observability import subsegment
from common.timing import Timing
from dcs_restores import RestoreQuery, RestoreResult, RestoreStatus

from .budget import Budget
from .forwarding import FailedRestore, Forwarded, Forwarder, ForwardingError
from .payload import RestorePayload
from .request import WatchRequest
from .settings import Settings
from .shaping import Encoding, Fitted, fit

logger = logging.getLogger(__name__)


class RestoreWatch:
    """Watches one instance's window with the clients it is given: DCS's, the forwarder, the metrics."""

    def __init__(
        self, settings: Settings, dcs: DcsConnection, forwarder: Forwarder, metrics: Metrics, timing: Timing
    ) -> None:
        self.settings = settings
        self.dcs = dcs
        self.forwarder = forwarder
        self._metrics = metrics
        self._timing = timing

    def disconnect(self) -> None:
        """Close the DCS client and the forwarder's AWS clients: the next ones connect, and read credentials, anew."""
        self.dcs.close()
        self.forwarder.close()

    def budget(self, request: WatchRequest, lambda_remaining: float) -> Budget:
        """The invocation's time, from what Lambda's context says is left and what the request allows."""
        return Budget.of(request.remaining(lambda_remaining), self._timing, http=request.http)

    def answer(self, request: WatchRequest, budget: Budget, encoding: Encoding) -> Fitted:
        """Watch the request's window and fit the payload to its limit as ``encoding`` writes it.

        ``request.restore_id``: a restore whose record the payload carries as ``restore``.
        """
        query, limit = request.query, request.limit
        whole = self.watch(query, budget, request.restore_id)
        fitted = fit(whole, limit, encoding)
        payload = fitted.payload
        if (
            payload.records_included is not limit.records
            or payload.invalid_records_omitted > whole.invalid_records_omitted
            or (payload.restore is not None and payload.restore.cut_fields)
        ):
            self._count("ResponsesReduced", 1)
            logger.warning(
                "payload reduced to fit the response limit",
                extra={
                    "instance_id": query.instance_id,
                    "max_bytes": limit.max_bytes,
                    "records_included": payload.records_included.value,
                    "invalid_records_omitted": payload.invalid_records_omitted,
                    "restore_cut_fields": payload.restore.cut_fields if payload.restore else [],
                },
            )
        return fitted

    def watch(self, query: RestoreQuery, budget: Budget, restore_id: str | None = None) -> RestorePayload:
        """Read the window and forward its failed restores: the whole payload, before fitting."""
        seen_at = datetime.now(UTC)
        with subsegment("watch", instance_id=query.instance_id):
            result = self._read(query, budget)
            self._record_read(result)
            failed = [
                FailedRestore(query.project_id, query.instance_id, record, seen_at)
                for record in result.records
                if record.status is RestoreStatus.FAILED
            ]
            forwarded = self._forward(failed, budget)
        logger.info(
            "restores watched",
            extra={
                "instance_id": query.instance_id,
                "counts": {status.value: count for status, count in result.counts.items()},
                "invalid": result.invalid_total,
                "queued": forwarded.queued,
                "already_forwarded": forwarded.already_forwarded,
                "truncated": result.truncated,
            },
        )
        return RestorePayload.whole(query, result, forwarded, restore_id)

    def _forward(self, failed: list[FailedRestore], budget: Budget) -> Forwarded:
        try:
            # Asked only when there is something to forward: a container's forwarder, and boto3, are built then.
            forwarded = self.forwarder.forward(failed, budget) if failed else Forwarded(queued=0, already_forwarded=0)
        except ForwardingError as error:
            self._count("FailedForwarded", error.queued)  # what was queued before it failed is queued
            self._count("PossibleDuplicates", error.possible_duplicates)
            raise
        self._count("FailedForwarded", forwarded.queued)
        self._count("AlreadyForwarded", forwarded.already_forwarded)
        self._count("PossibleDuplicates", forwarded.possible_duplicates)
        return forwarded

    def _read(self, query: RestoreQuery, budget: Budget) -> RestoreResult:
        with self.dcs.calls(self._metrics) as client:
            started = time.perf_counter()  # once the client is built: reading the secret is not DCS's latency
            try:
                return client.list_restores(query, budget.dcs_reads)
            finally:
                elapsed = (time.perf_counter() - started) * 1000
                self._metrics.add_metric(name="DcsLatency", unit=MetricUnit.Milliseconds, value=elapsed)

    def _record_read(self, result: RestoreResult) -> None:
        for status in RestoreStatus:
            self._count(f"Records{status.value.capitalize()}", result.counts[status])
        self._count("InvalidRecords", result.invalid_total)

    def _count(self, name: str, value: int) -> None:
        self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
