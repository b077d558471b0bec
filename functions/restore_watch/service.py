"""One instance, one window: read DCS, forward the failed restores, report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dcs_restores import DcsRestoresClient, Deadline, RestoreQuery, RestoreResult, RestoreStatus

from .budget import Budget, Timing
from .forwarding import FailedRestore, FailedRestoreForwarder, Forwarded


@dataclass(frozen=True)
class RestoreReport:
    query: RestoreQuery
    result: RestoreResult
    forwarded: Forwarded

    def payload(self) -> dict[str, Any]:
        """The normalised JSON payload every trigger returns, whole; ``shaping.fit`` sizes it for its caller."""
        result = self.result.model_dump(mode="json")
        return {
            "instance_id": self.query.instance_id,
            "project_id": self.query.project_id,
            "window": {
                "begin": self.query.begin_time.isoformat().replace("+00:00", "Z"),
                "end": self.query.end_time.isoformat().replace("+00:00", "Z"),
            },
            "total": result["total"],
            "records": result["records"],
            "records_included": "all",
            "counts": result["counts"],
            "invalid_records": result["invalid_records"],
            "invalid_records_omitted": 0,
            "truncated": result["truncated"],
            "forwarded": {"queued": self.forwarded.queued, "already_forwarded": self.forwarded.already_forwarded},
        }


FORWARDING_RESERVE_SECONDS = 3.0  # the end of the deadline is kept for forwarding, not for DCS reads


def watch(
    query: RestoreQuery,
    client: DcsRestoresClient,
    forwarder: Callable[[], FailedRestoreForwarder],
    deadline: Deadline,
    seen_at: datetime,
) -> RestoreReport:
    """Read the window and forward its failed restores; the forwarder is built only when needed."""
    result = client.list_restores(query, deadline.before(FORWARDING_RESERVE_SECONDS))
    failed = [
        FailedRestore(query.project_id, query.instance_id, record, seen_at)
        for record in result.records
        if record.status is RestoreStatus.FAILED
    ]
    budget = Budget(Timing(), deadline, deadline, deadline.before(FORWARDING_RESERVE_SECONDS))
    outcome = forwarder().forward(failed, budget) if failed else Forwarded(queued=0, already_forwarded=0)
    return RestoreReport(query, result, outcome)
